//! Durability: a sample written before reopening a store and checked after.

use std::collections::BTreeMap;

use keel_core::{Execution, Namespace};

use super::fixtures::{
    Run, advance, assert_stored, at, create_run, create_write, filter, namespace_named,
    new_namespace, ok, run_key, sort_summaries, started, task_retried, terminated,
};
use crate::{CurrentRunChange, ExecutionSummary, Store};

/// What [`write_sample`] committed, for [`check_sample`] to find again.
#[derive(Clone, Debug)]
pub struct Sample {
    namespace: Namespace,
    runs: Vec<Run>,
    current: BTreeMap<String, String>,
}

/// Commits a namespace (updated after its creation) and runs in several states: one running
/// with a longer history, one terminated and replaced by a newer current run.
pub async fn write_sample(store: &dyn Store) -> Sample {
    let name = new_namespace(store, "durable").await;
    let mut namespace = namespace_named(&name);
    namespace.description = "updated before reopening".into();
    ok(
        store.update_namespace(namespace.clone()).await,
        "update_namespace",
    );
    let mut running = create_run(store, run_key(&name, "sample-a", "run-1"), "a", "q", at(1)).await;
    for round in 0..2 {
        let retried = task_retried(&running.execution, at(2 + round));
        advance(store, &mut running, retried).await;
    }
    let mut closed = create_run(store, run_key(&name, "sample-b", "run-1"), "b", "q", at(5)).await;
    let done = terminated(&closed.execution, "replaced", at(6));
    advance(store, &mut closed, done).await;
    let (newer, newer_events) = started(run_key(&name, "sample-b", "run-2"), "b", "q", at(7));
    ok(
        store
            .commit(vec![create_write(
                &newer,
                &newer_events,
                CurrentRunChange::After("run-1".into()),
            )])
            .await,
        "creating a second run",
    );
    let newer = Run {
        execution: newer,
        events: newer_events,
    };
    Sample {
        namespace,
        runs: vec![running, closed, newer],
        current: BTreeMap::from([
            ("sample-a".to_owned(), "run-1".to_owned()),
            ("sample-b".to_owned(), "run-2".to_owned()),
        ]),
    }
}

/// Checks that everything [`write_sample`] committed is there, unchanged.
pub async fn check_sample(store: &dyn Store, sample: &Sample) {
    let namespaces = ok(store.namespaces().await, "namespaces()");
    assert!(
        namespaces.contains(&sample.namespace),
        "store conformance: the committed namespace {:?} is missing or changed",
        sample.namespace.name
    );
    for run in &sample.runs {
        assert_stored(store, run, "a committed run").await;
    }
    let ns = &sample.namespace.name;
    for (workflow_id, run_id) in &sample.current {
        assert_eq!(
            ok(store.current_run(ns, workflow_id).await, "current_run()").map(|c| c.run_id),
            Some(run_id.clone()),
            "store conformance: the committed current run of {workflow_id:?}"
        );
    }
    let mut want: Vec<ExecutionSummary> = sample
        .runs
        .iter()
        .map(|run| ExecutionSummary::of(&run.execution))
        .collect();
    sort_summaries(&mut want, false);
    assert_eq!(
        ok(
            store.list_executions(ns, &filter(""), 1000, &[]).await,
            "list_executions"
        )
        .executions,
        want,
        "store conformance: list_executions must show the committed runs"
    );
    let mut running: Vec<Execution> = ok(store.running_executions().await, "running_executions()")
        .into_iter()
        .filter(|execution| &execution.key.namespace == ns)
        .collect();
    running.sort_by(|a, b| a.key.cmp(&b.key));
    let mut want_running: Vec<Execution> = sample
        .runs
        .iter()
        .filter(|run| run.execution.is_running())
        .map(|run| run.execution.clone())
        .collect();
    want_running.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        running, want_running,
        "store conformance: running_executions() must show the committed running runs"
    );
}
