//! Namespaces: created once per name, updated, listed.

use std::time::Duration;

use keel_core::Namespace;

use super::fixtures::{namespace_named, ok, refused, unique};
use crate::Store;

/// Namespaces: create, refuse a duplicate, update, refuse an unknown update, list sorted.
pub async fn namespaces(store: &dyn Store) {
    let prefix = unique("ns");
    let [zeta, alpha, mid] = ["zeta", "alpha", "mid"].map(|s| format!("{prefix}-{s}"));
    for name in [&zeta, &alpha, &mid] {
        ok(
            store.create_namespace(namespace_named(name)).await,
            "create_namespace of a new name",
        );
    }
    let mut duplicate = namespace_named(&alpha);
    duplicate.description = "a second namespace with the same name".into();
    refused(
        store.create_namespace(duplicate).await,
        &["AlreadyExists"],
        "create_namespace of an existing name",
    );

    let mut updated = namespace_named(&alpha);
    updated.description = "updated".into();
    updated.owner_email = "new-owner@example.com".into();
    updated.retention = Duration::from_secs(7 * 24 * 3600);
    updated.data.insert("added".into(), "by update".into());
    ok(
        store.update_namespace(updated.clone()).await,
        "update_namespace of an existing namespace",
    );
    let unknown = format!("{prefix}-unknown");
    refused(
        store.update_namespace(namespace_named(&unknown)).await,
        &["NotFound"],
        "update_namespace of an unknown namespace",
    );

    let listed = ok(store.namespaces().await, "namespaces()");
    let names: Vec<&str> = listed.iter().map(|ns| ns.name.as_str()).collect();
    assert!(
        names.windows(2).all(|pair| pair[0] < pair[1]),
        "store conformance: namespaces() must be sorted by name in byte order, without duplicates; got {names:?}"
    );
    let ours: Vec<Namespace> = listed
        .into_iter()
        .filter(|ns| ns.name.starts_with(&format!("{prefix}-")))
        .collect();
    assert_eq!(
        ours,
        vec![updated, namespace_named(&mid), namespace_named(&zeta)],
        "store conformance: namespaces() must return each namespace as last written; the refused \
         duplicate and the update of an unknown name must change and create nothing"
    );
}
