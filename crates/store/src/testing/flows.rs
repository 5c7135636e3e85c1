//! Flows: revisions made only by changes, kept after deletion, and per namespace.

use keel_core::Time;

use super::fixtures::new_namespace;
use crate::{Error, Store};

/// Saving a changed flow makes the next revision and an unchanged save none; deleting a
/// flow hides it from lists and "latest" but keeps its revisions; saving it again
/// restores it; namespaces do not see each other's flows.
pub async fn flows(store: &dyn Store) {
    let ns = new_namespace(store, "flows").await;
    let other = new_namespace(store, "flows-other").await;
    let (first, new) = store
        .save_flow(&ns, "orders", "id: orders\n", Time(10))
        .await
        .unwrap();
    assert!(new);
    assert_eq!(
        (first.revision, first.source.as_str(), first.created),
        (1, "id: orders\n", Time(10))
    );
    let (same, new) = store
        .save_flow(&ns, "orders", "id: orders\n", Time(20))
        .await
        .unwrap();
    assert!(!new, "an unchanged save makes no revision");
    assert_eq!(same, first);
    let (second, new) = store
        .save_flow(&ns, "orders", "id: orders\n# v2\n", Time(30))
        .await
        .unwrap();
    assert!(new);
    assert_eq!(second.revision, 2);
    store
        .save_flow(&ns, "billing", "id: billing\n", Time(40))
        .await
        .unwrap();
    store
        .save_flow(&other, "orders", "id: orders\n# elsewhere\n", Time(50))
        .await
        .unwrap();

    assert_eq!(
        store.flow_revision(&ns, "orders", None).await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        store.flow_revision(&ns, "orders", Some(1)).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.flow_revision(&ns, "orders", Some(3)).await.unwrap(),
        None
    );
    assert_eq!(
        store.flow_revision(&ns, "missing", None).await.unwrap(),
        None
    );
    assert_eq!(
        store.flow_revisions(&ns, "orders").await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    let listed: Vec<(String, i64)> = store
        .flows(Some(&ns))
        .await
        .unwrap()
        .into_iter()
        .map(|flow| (flow.flow_id, flow.revision))
        .collect();
    assert_eq!(
        listed,
        [("billing".to_owned(), 1), ("orders".to_owned(), 2)]
    );
    assert_eq!(store.flows(Some(&other)).await.unwrap().len(), 1);

    store.delete_flow(&ns, "orders").await.unwrap();
    assert!(matches!(
        store.delete_flow(&ns, "orders").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        store.delete_flow(&ns, "missing").await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(
        store.flow_revision(&ns, "orders", None).await.unwrap(),
        None
    );
    assert_eq!(
        store.flow_revision(&ns, "orders", Some(2)).await.unwrap(),
        Some(second.clone()),
        "a deleted flow's executions still read their revision"
    );
    assert_eq!(store.flows(Some(&ns)).await.unwrap().len(), 1);
    let (restored, new) = store
        .save_flow(&ns, "orders", "id: orders\n# v2\n", Time(60))
        .await
        .unwrap();
    assert!(
        !new,
        "saving the same document again restores it without a revision"
    );
    assert_eq!(restored.revision, 2);
    assert_eq!(store.flows(Some(&ns)).await.unwrap().len(), 2);
    let (third, _) = store
        .save_flow(&ns, "orders", "id: orders\n# v3\n", Time(70))
        .await
        .unwrap();
    assert_eq!(third.revision, 3);
}
