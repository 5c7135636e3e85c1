//! Ended activity attempts, kept beside the history.

use super::fixtures::{at, create_run, new_namespace, ok, run_key, task_retried, update_write};
use crate::Store;

/// Ended activity attempts are kept with the write that ended them, read back per run in
/// order of activity and attempt, and go with their run when it is deleted.
pub async fn activity_attempts(store: &dyn Store) {
    use keel_core::attempts::EndedAttempt;
    let ns = new_namespace(store, "attempts").await;
    let mut retried = create_run(store, run_key(&ns, "retried", "run-1"), "t", "q", at(1)).await;
    let neighbour = create_run(store, run_key(&ns, "neighbour", "run-1"), "t", "q", at(2)).await;
    let attempt = |scheduled_event_id: i64, attempt: i32| EndedAttempt {
        scheduled_event_id,
        attempt,
        scheduled_time: at(attempt as i64),
        started_time: (attempt % 2 == 1).then(|| at(attempt as i64 + 1)),
        worker: format!("worker-{attempt}"),
        end_time: at(attempt as i64 + 2),
        retry_time: at(attempt as i64 + 3),
        failure: keel_core::Failure {
            message: format!("attempt {attempt} failed"),
            source: "conformance".into(),
            info: keel_core::FailureInfo::Application {
                failure_type: "Boom".into(),
                non_retryable: false,
                next_retry_delay: None,
            },
            cause: None,
            original: None,
        },
    };
    for batch in [vec![attempt(9, 2), attempt(5, 1)], vec![attempt(5, 2)]] {
        let (next, events) = task_retried(&retried.execution, at(10));
        let mut write = update_write(&retried.execution, &next, &events);
        write.attempts = batch;
        ok(
            store.commit(vec![write]).await,
            "a write with ended attempts",
        );
        retried.execution = next;
        retried.events.extend(events);
    }
    let read = ok(store.attempts(retried.key()).await, "attempts()");
    assert_eq!(
        read,
        vec![attempt(5, 1), attempt(5, 2), attempt(9, 2)],
        "store conformance: a run's attempts, by activity and attempt, as written"
    );
    assert_eq!(
        ok(store.attempts(neighbour.key()).await, "attempts()"),
        Vec::new()
    );
    ok(
        store.delete_execution(retried.key()).await,
        "delete_execution()",
    );
    assert_eq!(
        ok(store.attempts(retried.key()).await, "attempts()"),
        Vec::new(),
        "store conformance: a deleted run's attempts go with it"
    );
}
