//! Namespaces, cached in memory and written through to the store.

use std::collections::BTreeMap;
use std::sync::RwLock;

use keel_core::Namespace;
use keel_core::namespace::{DEFAULT_NAMESPACE, DEFAULT_RETENTION};

use crate::{Engine, Error, Result};

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
        let mut by_name = self
            .inner
            .namespaces
            .by_name
            .write()
            .expect("namespace lock poisoned");
        for namespace in namespaces {
            by_name.insert(namespace.name.clone(), namespace);
        }
        Ok(())
    }

    pub fn namespace(&self, name: &str) -> Result<Namespace> {
        let by_name = self
            .inner
            .namespaces
            .by_name
            .read()
            .expect("namespace lock poisoned");
        by_name
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NamespaceNotFound(name.to_owned()))
    }

    pub fn namespaces(&self) -> Vec<Namespace> {
        let by_name = self
            .inner
            .namespaces
            .by_name
            .read()
            .expect("namespace lock poisoned");
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
        };
        self.inner.store.create_namespace(namespace.clone()).await?;
        self.cache_namespace(namespace.clone());
        self.announce_namespaces().await;
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
        self.announce_namespaces().await;
        Ok(namespace)
    }

    fn cache_namespace(&self, namespace: Namespace) {
        let mut by_name = self
            .inner
            .namespaces
            .by_name
            .write()
            .expect("namespace lock poisoned");
        by_name.insert(namespace.name.clone(), namespace);
    }
}
