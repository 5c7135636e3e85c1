//! Runs: creating and reading them, the current run of a workflow id, compare-and-set
//! on the version, refused writes that leave no trace, atomic batches, deletion.

use keel_core::reuse::CurrentRun;
use keel_core::{Event, Execution, Status};

use crate::CurrentRunChange;

use super::fixtures::{
    Run, Stored, advance, assert_stored, at, create_run, create_write, filter, new_namespace, ok,
    refused, refused_any, run_key, started, stored, task_retried, terminated, update_write,
};
use crate::Store;

/// The first run of a workflow id: committed, read back unchanged, made current; a second
/// create of it, or another run expecting no current run, is refused and writes nothing.
pub async fn create_and_read(store: &dyn Store) {
    let ns = new_namespace(store, "create").await;
    let key = run_key(&ns, "order-1", "run-1");
    assert_eq!(
        stored(store, &key).await,
        Stored::default(),
        "store conformance: a run never written must have no state, no history and no current run"
    );
    let (execution, events) = started(key.clone(), "order", "orders", at(1));
    ok(
        store
            .commit(vec![create_write(
                &execution,
                &events,
                CurrentRunChange::First,
            )])
            .await,
        "creating the first run of a workflow id with make_current: First",
    );
    assert_eq!(
        ok(store.execution(&key).await, "execution()"),
        Some(execution.clone()),
        "store conformance: execution() must return the state exactly as committed"
    );
    assert_eq!(
        ok(store.history(&key, 1, usize::MAX).await, "history()"),
        events,
        "store conformance: history() must return the committed events exactly"
    );
    assert!(
        !execution.start_request_id.is_empty(),
        "suite bug: no request id"
    );
    assert_eq!(
        ok(store.current_run(&ns, "order-1").await, "current_run()"),
        Some(CurrentRun {
            run_id: "run-1".into(),
            status: Status::Running,
            start_request_id: execution.start_request_id.clone(),
        }),
        "store conformance: a run created with make_current must be the workflow id's current run, \
         with its status and start request id"
    );

    let after = stored(store, &key).await;
    refused(
        store
            .commit(vec![create_write(
                &execution,
                &events,
                CurrentRunChange::Keep,
            )])
            .await,
        &["AlreadyExists"],
        "creating (expected_version: None) a run that exists already",
    );
    assert_eq!(
        stored(store, &key).await,
        after,
        "store conformance: a refused create must change nothing"
    );

    let other = run_key(&ns, "order-1", "run-2");
    let (execution2, events2) = started(other.clone(), "order", "orders", at(2));
    refused(
        store
            .commit(vec![create_write(
                &execution2,
                &events2,
                CurrentRunChange::First,
            )])
            .await,
        &["Conflict"],
        "creating a run with make_current: First while the workflow id has a current run",
    );
    assert_eq!(
        stored(store, &other).await,
        Stored {
            current: after.current.clone(),
            ..Stored::default()
        },
        "store conformance: a create refused for its make_current must write neither the run nor \
         its events nor a current-run change"
    );
    assert_eq!(
        stored(store, &key).await,
        after,
        "store conformance: a refused create must leave the other runs of its workflow id alone"
    );
}

/// A second run of a workflow id takes over from the first when it names it as the current
/// run; a stale expectation is refused and writes nothing.
pub async fn new_run_replaces_current(store: &dyn Store) {
    let ns = new_namespace(store, "handover").await;
    let mut first = create_run(store, run_key(&ns, "wf", "run-1"), "flow", "q", at(1)).await;
    let done = terminated(&first.execution, "make room", at(2));
    advance(store, &mut first, done).await;
    assert_eq!(
        ok(store.current_run(&ns, "wf").await, "current_run()"),
        Some(CurrentRun {
            run_id: "run-1".into(),
            status: Status::Terminated,
            start_request_id: first.execution.start_request_id.clone(),
        }),
        "store conformance: current_run() must show the current run's latest status"
    );

    let second_key = run_key(&ns, "wf", "run-2");
    let (second, second_events) = started(second_key.clone(), "flow", "q", at(3));
    ok(
        store
            .commit(vec![create_write(
                &second,
                &second_events,
                CurrentRunChange::After("run-1".into()),
            )])
            .await,
        "creating a second run with make_current: After(<current run id>)",
    );
    let current = Some(CurrentRun {
        run_id: "run-2".into(),
        status: Status::Running,
        start_request_id: second.start_request_id.clone(),
    });
    assert_eq!(
        ok(store.current_run(&ns, "wf").await, "current_run()"),
        current,
        "store conformance: the new run must become the workflow id's current run"
    );
    assert_stored(store, &first, "the previous run after a new run took over").await;
    assert_stored(
        store,
        &Run {
            execution: second,
            events: second_events,
        },
        "the new run",
    )
    .await;

    let third_key = run_key(&ns, "wf", "run-3");
    let (third, third_events) = started(third_key.clone(), "flow", "q", at(4));
    for (expected_current, what) in [
        (Some("run-1".to_owned()), "a stale current run id"),
        (None, "no current run"),
        (
            Some("never-existed".to_owned()),
            "a run id that never existed",
        ),
    ] {
        refused(
            store
                .commit(vec![create_write(
                    &third,
                    &third_events,
                    CurrentRunChange::replacing(expected_current),
                )])
                .await,
            &["Conflict"],
            &format!("creating a run whose make_current expects {what}"),
        );
        assert_eq!(
            stored(store, &third_key).await,
            Stored {
                current: current.clone(),
                ..Stored::default()
            },
            "store conformance: a create refused for a stale make_current ({what}) must write neither \
             the run nor its events nor a current-run change"
        );
    }
}

/// Compare-and-set on the version: the version read is accepted, any other is refused with
/// Conflict and nothing is written.
pub async fn version_check(store: &dyn Store) {
    let ns = new_namespace(store, "version").await;
    let mut run = create_run(store, run_key(&ns, "wf", "run-1"), "flow", "q", at(1)).await;
    let first_read = run.clone();
    let retried = task_retried(&run.execution, at(2));
    advance(store, &mut run, retried).await;
    assert_stored(store, &run, "a run after an update with the right version").await;

    let before = stored(store, run.key()).await;
    let (stale, stale_events) = terminated(&first_read.execution, "stale writer", at(3));
    refused(
        store
            .commit(vec![update_write(
                &first_read.execution,
                &stale,
                &stale_events,
            )])
            .await,
        &["Conflict"],
        "an update whose expected_version is stale",
    );
    assert_eq!(
        stored(store, run.key()).await,
        before,
        "store conformance: an update refused for a stale version must change nothing: not the \
         state, not the history, not the current run"
    );

    let (next, events) = terminated(&run.execution, "too far ahead", at(3));
    let mut ahead = update_write(&run.execution, &next, &events);
    ahead.expected_version = Some(run.execution.version + 1);
    refused(
        store.commit(vec![ahead]).await,
        &["Conflict"],
        "an update whose expected_version is ahead of the stored one",
    );
    assert_eq!(
        stored(store, run.key()).await,
        before,
        "store conformance: an update refused for a version ahead must change nothing"
    );

    let ghost_key = run_key(&ns, "ghost", "run-1");
    let (ghost, _) = started(ghost_key.clone(), "flow", "q", at(1));
    let (ghost_next, ghost_events) = terminated(&ghost, "never stored", at(2));
    refused(
        store
            .commit(vec![update_write(&ghost, &ghost_next, &ghost_events)])
            .await,
        &["Conflict", "NotFound"],
        "an update of a run that does not exist",
    );
    assert_eq!(
        stored(store, &ghost_key).await,
        Stored::default(),
        "store conformance: an update of a missing run must not create it"
    );

    let done = terminated(&run.execution, "done", at(4));
    advance(store, &mut run, done).await;
    assert_stored(store, &run, "a run terminated with the right version").await;
    assert_eq!(
        ok(store.current_run(&ns, "wf").await, "current_run()").map(|current| current.status),
        Some(Status::Terminated),
        "store conformance: current_run() must follow the current run's status"
    );
}

/// An event id that exists already, or twice in one write, fails the write and writes
/// nothing.
pub async fn duplicate_events(store: &dyn Store) {
    let ns = new_namespace(store, "events").await;
    let mut run = create_run(store, run_key(&ns, "wf", "run-1"), "flow", "q", at(1)).await;
    let before = stored(store, run.key()).await;

    let (next, mut events) = task_retried(&run.execution, at(2));
    events.push(Event {
        id: 2,
        ..events[0].clone()
    });
    refused_any(
        store
            .commit(vec![update_write(&run.execution, &next, &events)])
            .await,
        "an update carrying an event id that is already in the history",
    );
    assert_eq!(
        stored(store, run.key()).await,
        before,
        "store conformance: an update refused for a duplicate event id must change nothing"
    );

    let (next, mut events) = task_retried(&run.execution, at(2));
    events[1].id = events[0].id;
    refused_any(
        store
            .commit(vec![update_write(&run.execution, &next, &events)])
            .await,
        "an update carrying the same event id twice",
    );
    assert_eq!(
        stored(store, run.key()).await,
        before,
        "store conformance: an update refused for a repeated event id must change nothing"
    );

    let other_key = run_key(&ns, "dup-create", "run-1");
    let (other, mut other_events) = started(other_key.clone(), "flow", "q", at(1));
    other_events[1].id = other_events[0].id;
    refused_any(
        store
            .commit(vec![create_write(
                &other,
                &other_events,
                CurrentRunChange::First,
            )])
            .await,
        "a create carrying the same event id twice",
    );
    assert_eq!(
        stored(store, &other_key).await,
        Stored::default(),
        "store conformance: a create refused for a repeated event id must write neither the run \
         nor its events nor its current run"
    );

    let retried = task_retried(&run.execution, at(3));
    advance(store, &mut run, retried).await;
    assert_stored(store, &run, "a run updated after refused duplicates").await;
}

/// A commit of several writes is all or nothing, and applies its writes in order.
pub async fn atomic_batches(store: &dyn Store) {
    let ns = new_namespace(store, "batch").await;
    ok(store.commit(Vec::new()).await, "an empty commit");
    let mut existing =
        create_run(store, run_key(&ns, "existing", "run-1"), "flow", "q", at(1)).await;
    let existing_before = stored(store, existing.key()).await;

    let a_key = run_key(&ns, "batch-a", "run-a");
    let (a, a_events) = started(a_key.clone(), "flow", "q", at(2));
    let (stale, stale_events) = terminated(&existing.execution, "stale", at(2));
    let mut bad = update_write(&existing.execution, &stale, &stale_events);
    bad.expected_version = Some(existing.execution.version + 5);
    refused(
        store
            .commit(vec![
                create_write(&a, &a_events, CurrentRunChange::First),
                bad,
            ])
            .await,
        &["Conflict"],
        "a commit whose second write has a stale version",
    );
    assert_eq!(
        stored(store, &a_key).await,
        Stored::default(),
        "store conformance: a refused commit must write none of its writes: the first write's run, \
         events and current run must not exist"
    );
    assert_eq!(
        stored(store, existing.key()).await,
        existing_before,
        "store conformance: a refused commit must not change the run its bad write named"
    );

    let (retried, retried_events) = task_retried(&existing.execution, at(3));
    let b_key = run_key(&ns, "batch-b", "run-b");
    let (b, mut b_events) = started(b_key.clone(), "flow", "q", at(3));
    b_events[1].id = b_events[0].id;
    refused_any(
        store
            .commit(vec![
                update_write(&existing.execution, &retried, &retried_events),
                create_write(&b, &b_events, CurrentRunChange::First),
            ])
            .await,
        "a commit whose second write repeats an event id",
    );
    assert_eq!(
        stored(store, existing.key()).await,
        existing_before,
        "store conformance: a refused commit must undo its first write (an update)"
    );
    assert_eq!(
        stored(store, &b_key).await,
        Stored::default(),
        "store conformance: a refused commit must not write its bad write"
    );

    let c_key = run_key(&ns, "batch-c", "run-c");
    let d_key = run_key(&ns, "batch-d", "run-d");
    let (c, c_events) = started(c_key.clone(), "flow", "q", at(4));
    let (d, d_events) = started(d_key.clone(), "flow", "q", at(4));
    ok(
        store
            .commit(vec![
                create_write(&c, &c_events, CurrentRunChange::First),
                update_write(&existing.execution, &retried, &retried_events),
                create_write(&d, &d_events, CurrentRunChange::First),
            ])
            .await,
        "a commit of two creates and an update",
    );
    existing.execution = retried;
    existing.events.extend(retried_events);
    for run in [
        Run {
            execution: c,
            events: c_events,
        },
        Run {
            execution: d,
            events: d_events,
        },
        existing,
    ] {
        assert_stored(store, &run, "a run written by a multi-write commit").await;
        assert_eq!(
            ok(
                store.current_run(&ns, &run.key().workflow_id).await,
                "current_run()"
            )
            .map(|current| current.run_id),
            Some(run.key().run_id.clone()),
            "store conformance: every create of a multi-write commit must set its current run"
        );
    }

    let e_key = run_key(&ns, "batch-e", "run-e");
    let (e, e_events) = started(e_key, "flow", "q", at(5));
    let (e_next, e_next_events) = task_retried(&e, at(6));
    ok(
        store
            .commit(vec![
                create_write(&e, &e_events, CurrentRunChange::First),
                update_write(&e, &e_next, &e_next_events),
            ])
            .await,
        "a commit that creates a run and then updates it",
    );
    assert_stored(
        store,
        &Run {
            execution: e_next,
            events: [e_events, e_next_events].concat(),
        },
        "a run created and updated in one commit (writes apply in order)",
    )
    .await;
}

/// `running_executions()` returns every running run in its latest state, and nothing else.
pub async fn running_executions(store: &dyn Store) {
    let ns = new_namespace(store, "running").await;
    let mut runs = Vec::new();
    for i in 0..4 {
        let key = run_key(&ns, &format!("wf-{i}"), &format!("run-{i}"));
        runs.push(create_run(store, key, "flow", "q", at(i)).await);
    }
    let retried = task_retried(&runs[0].execution, at(10));
    advance(store, &mut runs[0], retried).await;
    for i in [1, 3] {
        let done = terminated(&runs[i].execution, "closed", at(10));
        advance(store, &mut runs[i], done).await;
    }
    let running = ok(store.running_executions().await, "running_executions()");
    for execution in &running {
        assert!(
            execution.is_running(),
            "store conformance: running_executions() returned {:?} with status {:?}",
            execution.key,
            execution.status
        );
    }
    let mut ours: Vec<Execution> = running
        .into_iter()
        .filter(|execution| execution.key.namespace == ns)
        .collect();
    ours.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        ours,
        vec![runs[0].execution.clone(), runs[2].execution.clone()],
        "store conformance: running_executions() must return exactly the running runs, each in \
         its latest committed state"
    );
}

/// Deleting a run removes its state, its history and (when it is the current run) the
/// workflow id's current run, and nothing of its neighbours; a new run may then take the id.
pub async fn deletion(store: &dyn Store) {
    let ns = new_namespace(store, "delete").await;
    let gone = run_key(&ns, "doomed", "run-1");
    let kept = run_key(&ns, "neighbour", "run-1");
    create_run(store, gone.clone(), "t", "q", at(1)).await;
    let neighbour = create_run(store, kept.clone(), "t", "q", at(2)).await;
    ok(store.delete_execution(&gone).await, "delete_execution()");
    assert_eq!(
        stored(store, &gone).await,
        Stored::default(),
        "store conformance: a deleted run must leave no state, history or current run"
    );
    assert_stored(
        store,
        &neighbour,
        "after deleting another workflow id's run",
    )
    .await;
    refused(
        store.delete_execution(&gone).await,
        &["NotFound"],
        "deleting a run that does not exist",
    );
    assert_eq!(
        ok(
            store.count_executions(&ns, &filter("")).await,
            "count after delete"
        ),
        1,
        "store conformance: a deleted run must not be listed"
    );
    create_run(store, run_key(&ns, "doomed", "run-2"), "t", "q", at(3)).await;
}
