//! Planned runs: created once per id, updated and deleted by version.

use keel_core::{Blob, Time};

use super::fixtures::new_namespace;
use crate::{Error, Store};

/// Planned runs: create refuses a taken id, update and delete compare versions, and
/// namespaces do not see each other's plans.
pub async fn planned_runs(store: &dyn Store) {
    use keel_core::plan::{PlannedRun, PlannedStart};
    let ns = new_namespace(store, "plans").await;
    let other = new_namespace(store, "plans-other").await;
    let plan = |namespace: &str, id: &str, start_at: Option<Time>| PlannedRun {
        namespace: namespace.into(),
        id: id.into(),
        version: 1,
        what: PlannedStart {
            workflow_type: "Report".into(),
            task_queue: "reports".into(),
            workflow_id: id.into(),
            input: Some(Blob(vec![1, 2, 3])),
        },
        start_at,
        note: "a note".into(),
        request_id: format!("request-{id}"),
        create_time: Time(5),
        update_time: None,
        start_error: None,
    };
    let b = plan(&ns, "b", Some(Time(100)));
    store.create_plan(&b).await.unwrap();
    store.create_plan(&plan(&ns, "a", None)).await.unwrap();
    store.create_plan(&plan(&other, "a", None)).await.unwrap();
    assert!(matches!(
        store.create_plan(&plan(&ns, "b", None)).await,
        Err(Error::AlreadyExists(_))
    ));
    assert_eq!(store.plan(&ns, "b").await.unwrap(), Some(b.clone()));
    assert_eq!(store.plan(&ns, "missing").await.unwrap(), None);
    let ids = |plans: Vec<PlannedRun>| {
        plans
            .into_iter()
            .map(|p| (p.namespace, p.id))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.plans(Some(&ns)).await.unwrap()),
        vec![(ns.clone(), "a".to_owned()), (ns.clone(), "b".to_owned())]
    );

    let mut edited = b.clone();
    edited.version = 2;
    edited.start_at = None;
    store.update_plan(&edited, 1).await.unwrap();
    assert_eq!(store.plan(&ns, "b").await.unwrap(), Some(edited.clone()));
    // A writer that read version 1 is refused and changes nothing.
    let mut stale = b.clone();
    stale.version = 2;
    stale.note = "stale".into();
    assert!(matches!(
        store.update_plan(&stale, 1).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.delete_plan(&ns, "b", Some(1)).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(store.plan(&ns, "b").await.unwrap(), Some(edited));
    store.delete_plan(&ns, "b", Some(2)).await.unwrap();
    assert!(matches!(
        store.delete_plan(&ns, "b", None).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        store.update_plan(&stale, 2).await,
        Err(Error::NotFound(_))
    ));
    store.delete_plan(&ns, "a", None).await.unwrap();
    assert!(store.plans(Some(&ns)).await.unwrap().is_empty());
    assert_eq!(
        ids(store.plans(Some(&other)).await.unwrap()),
        vec![(other.clone(), "a".to_owned())]
    );
}
