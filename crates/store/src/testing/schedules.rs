//! Schedules: created once per id, replaced by version, listed, deleted.

use std::time::Duration;

use keel_core::search::SearchAttributes;
use keel_core::{Blob, BlobMap, StartParams};

use super::fixtures::{at, new_namespace, ok, refused};
use crate::Store;

/// Schedules: created once per id, replaced only by a writer holding the stored version,
/// listed per namespace in id order, deleted for good.
pub async fn schedules(store: &dyn Store) {
    let ns = new_namespace(store, "schedules").await;
    let other = new_namespace(store, "schedules-other").await;
    let schedule = |namespace: &str, id: &str| {
        let definition = keel_core::schedule::Definition {
            spec: keel_core::schedule::Spec {
                intervals: vec![keel_core::schedule::spec::Interval {
                    every: Duration::from_secs(60),
                    phase: Duration::ZERO,
                }],
                ..Default::default()
            },
            raw_spec: Blob(b"spec".to_vec()),
            action: keel_core::schedule::StartWorkflow {
                workflow_id: format!("{id}-workflow"),
                params: StartParams {
                    workflow_type: "report".into(),
                    task_queue: "q".into(),
                    ..StartParams::default()
                },
                raw: Blob(b"action".to_vec()),
            },
            policies: Default::default(),
            state: Default::default(),
        };
        keel_core::schedule::Schedule::new(
            namespace.to_owned(),
            id.to_owned(),
            definition,
            BlobMap::new(),
            SearchAttributes::new(),
            at(1),
        )
        .expect("suite bug: a valid schedule")
    };
    let b = schedule(&ns, "b");
    for created in [
        schedule(&ns, "c"),
        b.clone(),
        schedule(&ns, "a"),
        schedule(&other, "a"),
    ] {
        ok(store.create_schedule(&created).await, "create_schedule");
    }
    refused(
        store.create_schedule(&schedule(&ns, "b")).await,
        &["AlreadyExists"],
        "creating a schedule whose id is taken",
    );
    assert_eq!(
        ok(store.schedule(&ns, "b").await, "schedule"),
        Some(b.clone()),
        "store conformance: a schedule must read back as written"
    );
    let ids: Vec<String> = ok(store.schedules(Some(&ns)).await, "schedules")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        ids,
        ["a", "b", "c"],
        "store conformance: schedules of one namespace, by id"
    );

    let mut changed = b.clone();
    changed.version += 1;
    changed.action_count = 7;
    ok(
        store.update_schedule(&changed, b.version).await,
        "update_schedule",
    );
    refused(
        store.update_schedule(&changed, b.version).await,
        &["Conflict"],
        "updating a schedule with a stale version",
    );
    assert_eq!(
        ok(store.schedule(&ns, "b").await, "schedule").map(|s| s.action_count),
        Some(7)
    );
    ok(store.delete_schedule(&ns, "b").await, "delete_schedule");
    refused(
        store.delete_schedule(&ns, "b").await,
        &["NotFound"],
        "deleting it twice",
    );
    refused(
        store.update_schedule(&changed, changed.version).await,
        &["NotFound"],
        "updating a deleted schedule",
    );
    assert_eq!(ok(store.schedule(&ns, "b").await, "schedule"), None);
    assert_eq!(
        ok(store.schedules(Some(&other)).await, "schedules").len(),
        1,
        "store conformance: another namespace's schedules are its own"
    );
}
