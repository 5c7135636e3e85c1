//! What operators filter on, and the log lines workers append to a run.

use super::fixtures::{
    advance, at, create_run, filter, new_namespace, ok, refused, run_key, task_retried, terminated,
};
use crate::Store;

/// What operators filter on (phase, worker, parent) follows each write; log lines append
/// in order per run, page by number, and go with their run when it is deleted.
pub async fn operator_views(store: &dyn Store) {
    let ns = new_namespace(store, "operators").await;
    let waiting = create_run(store, run_key(&ns, "waiting", "run-1"), "t", "q", at(1)).await;
    let mut worked = create_run(store, run_key(&ns, "worked", "run-1"), "t", "q", at(2)).await;
    let retried = task_retried(&worked.execution, at(3));
    advance(store, &mut worked, retried).await;
    let mut closed = create_run(store, run_key(&ns, "closed", "run-1"), "t", "q", at(4)).await;
    let done = terminated(&closed.execution, "done", at(5));
    advance(store, &mut closed, done).await;
    let ns = ns.as_str();
    let listed = |query: &'static str| async move {
        let page = ok(
            store.list_executions(ns, &filter(query), 10, &[]).await,
            "list_executions()",
        );
        let mut ids: Vec<String> = page
            .executions
            .iter()
            .map(|s| s.key.workflow_id.clone())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        listed("ExecutionPhase = 'Pending'").await,
        ["waiting", "worked"],
        "store conformance: runs whose workflow task waits in a queue are Pending"
    );
    assert_eq!(listed("ExecutionPhase = 'Failed'").await, ["closed"]);
    assert_eq!(
        listed("WorkerIdentity = 'worker'").await,
        ["worked"],
        "store conformance: the worker column follows the run's last worker"
    );
    assert_eq!(
        listed("ParentWorkflowId = 'nobody'").await,
        Vec::<String>::new()
    );
    let summary = &ok(
        store
            .list_executions(ns, &filter("WorkflowId = 'worked'"), 10, &[])
            .await,
        "list_executions()",
    )
    .executions[0];
    assert_eq!(summary.phase, keel_core::overview::Phase::Pending);
    assert_eq!(summary.worker, "worker");

    let line = |message: &str| crate::LogLine {
        seq: 0,
        time: at(6),
        level: "info".into(),
        message: message.into(),
        task_run: "act-1".into(),
        worker: "w".into(),
    };
    let key = &waiting.execution.key;
    ok(
        store.append_logs(key, vec![line("one"), line("two")]).await,
        "append_logs()",
    );
    ok(
        store
            .append_logs(&worked.execution.key, vec![line("elsewhere")])
            .await,
        "append_logs()",
    );
    ok(
        store.append_logs(key, vec![line("three")]).await,
        "append_logs()",
    );
    let lines = ok(store.logs(key, 0, 10).await, "logs()");
    let messages: Vec<&str> = lines.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(
        messages,
        ["one", "two", "three"],
        "store conformance: a run's log lines come back in the order appended, and only its own"
    );
    assert!(lines.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    assert_eq!(lines[0].task_run, "act-1");
    assert_eq!(lines[0].time, at(6));
    let rest = ok(
        store.logs(key, lines[0].seq, 1).await,
        "logs() after a line",
    );
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].message, "two");
    refused(
        store
            .append_logs(&run_key(ns, "nobody", "run-1"), vec![line("lost")])
            .await,
        &["NotFound"],
        "appending to a run that does not exist",
    );
    ok(store.delete_execution(key).await, "delete_execution()");
    let recreated = create_run(store, key.clone(), "t", "q", at(7)).await;
    assert!(
        ok(store.logs(&recreated.execution.key, 0, 10).await, "logs()").is_empty(),
        "store conformance: a deleted run's log lines go with it"
    );
}
