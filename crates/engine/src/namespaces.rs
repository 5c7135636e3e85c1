//! Namespaces, cached in memory and written through to the store.

use std::collections::BTreeMap;

use keel_core::Namespace;
use keel_core::namespace::{DEFAULT_NAMESPACE, DEFAULT_RETENTION};
use keel_core::search::{SearchAttributeType, is_reserved};
use parking_lot::RwLock;

use crate::{Engine, Error, Result};

/// How many custom search attributes a namespace may register.
const MAX_SEARCH_ATTRIBUTES: usize = 100;

#[derive(Default)]
pub(crate) struct Namespaces {
    by_name: RwLock<BTreeMap<String, Namespace>>,
}

impl Engine {
    pub(crate) async fn load_namespaces(&self) -> Result<()> {
        let mut namespaces = self.inner.store.namespaces().await?;
        if !namespaces.iter().any(|ns| ns.name == DEFAULT_NAMESPACE) {
            let default = Namespace {
                name: DEFAULT_NAMESPACE.into(),
                id: uuid::Uuid::new_v4().to_string(),
                description: "Default namespace".into(),
                owner_email: String::new(),
                retention: DEFAULT_RETENTION,
                data: BTreeMap::new(),
                created: self.now(),
                search_attributes: Default::default(),
            };
            match self.inner.store.create_namespace(default.clone()).await {
                Ok(()) => namespaces.push(default),
                // Another node starting at the same time created it first.
                Err(keel_store::Error::AlreadyExists(_)) => {
                    namespaces = self.inner.store.namespaces().await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
        let mut by_name = self.inner.namespaces.by_name.write();
        for namespace in namespaces {
            by_name.insert(namespace.name.clone(), namespace);
        }
        Ok(())
    }

    pub fn namespace(&self, name: &str) -> Result<Namespace> {
        let by_name = self.inner.namespaces.by_name.read();
        by_name
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NamespaceNotFound(name.to_owned()))
    }

    pub fn namespaces(&self) -> Vec<Namespace> {
        let by_name = self.inner.namespaces.by_name.read();
        by_name.values().cloned().collect()
    }

    pub async fn register_namespace(
        &self,
        name: &str,
        description: String,
        owner_email: String,
        retention: Option<std::time::Duration>,
        data: BTreeMap<String, String>,
    ) -> Result<Namespace> {
        Namespace::validate_name(name).map_err(Error::InvalidArgument)?;
        let namespace = Namespace {
            name: name.to_owned(),
            id: uuid::Uuid::new_v4().to_string(),
            description,
            owner_email,
            retention: retention
                .filter(|r| !r.is_zero())
                .unwrap_or(DEFAULT_RETENTION),
            data,
            created: self.now(),
            search_attributes: Default::default(),
        };
        self.inner
            .store
            .create_namespace(namespace.clone())
            .await
            .map_err(|error| match error {
                keel_store::Error::AlreadyExists(message) => Error::NamespaceAlreadyExists(message),
                other => other.into(),
            })?;
        self.cache_namespace(namespace.clone());
        self.notify_namespaces().await;
        Ok(namespace)
    }

    /// Replaces a namespace's settings with what `change` makes of them.
    pub async fn update_namespace(
        &self,
        name: &str,
        change: impl FnOnce(&mut Namespace),
    ) -> Result<Namespace> {
        let mut namespace = self.namespace(name)?;
        change(&mut namespace);
        namespace.name = name.to_owned();
        self.inner.store.update_namespace(namespace.clone()).await?;
        self.cache_namespace(namespace.clone());
        self.notify_namespaces().await;
        Ok(namespace)
    }

    /// Registers custom search attributes. Registering one again with its type changes
    /// nothing; another type, or a name the system reserves, is refused and nothing changes.
    pub async fn add_search_attributes(
        &self,
        name: &str,
        attributes: BTreeMap<String, SearchAttributeType>,
    ) -> Result<Namespace> {
        let namespace = self.namespace(name)?;
        for (attribute, kind) in &attributes {
            if attribute.trim().is_empty() {
                return Err(Error::InvalidArgument(
                    "a search attribute needs a name".into(),
                ));
            }
            if is_reserved(attribute) {
                return Err(Error::InvalidArgument(format!(
                    "Search attribute {attribute} is reserved by system."
                )));
            }
            if let Some(existing) = namespace.search_attributes.get(attribute)
                && existing != kind
            {
                return Err(Error::AlreadyExists(format!(
                    "search attribute {attribute} already exists and has different type {}",
                    existing.name()
                )));
            }
        }
        let total = namespace
            .search_attributes
            .keys()
            .chain(attributes.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if total > MAX_SEARCH_ATTRIBUTES {
            return Err(Error::InvalidArgument(format!(
                "namespace {name} may have at most {MAX_SEARCH_ATTRIBUTES} custom search attributes"
            )));
        }
        self.update_namespace(name, |namespace| {
            namespace.search_attributes.extend(attributes);
        })
        .await
    }

    /// Removes custom search attributes; names the namespace does not have are ignored, as
    /// in Temporal. Values executions hold stay stored but can no longer be filtered on.
    pub async fn remove_search_attributes(
        &self,
        name: &str,
        names: &[String],
    ) -> Result<Namespace> {
        if let Some(reserved) = names.iter().find(|n| is_reserved(n)) {
            return Err(Error::InvalidArgument(format!(
                "Unable to remove non-custom search attributes: {reserved}."
            )));
        }
        self.update_namespace(name, |namespace| {
            for attribute in names {
                namespace.search_attributes.remove(attribute);
            }
        })
        .await
    }

    fn cache_namespace(&self, namespace: Namespace) {
        let mut by_name = self.inner.namespaces.by_name.write();
        by_name.insert(namespace.name.clone(), namespace);
    }
}
