//! The conformance suite every [`Store`] implementation must pass.
//!
//! A backend's tests call [`run_all`] with a store, [`concurrent_tasks`] with a shared
//! handle to it (on a multi-threaded runtime, to run in parallel), and [`write_sample`]
//! before / [`check_sample`] after reopening it (see `tests/conformance.rs` for SQLite).
//! Each check works in namespaces of its own with unique names and looks only at them, so
//! the checks are independent of each other and of whatever else the store holds; the store
//! need not be empty.
//!
//! Stores that several processes share also pass [`announcements`], given two handles on
//! one database. [`PostgresCluster`] starts a throwaway PostgreSQL for such tests.
//!
//! Test data comes from the real core ([`Execution::start`] and its transitions), so it is
//! exactly what the engine commits: a [`Write`]'s `execution.version` is the new version and
//! `expected_version` the version that was read. Every violation panics with a message that
//! starts with `store conformance:` and names the rule that was broken.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keel_core::reuse::CurrentRun;
use keel_core::search::{SearchAttribute, SearchAttributeType, SearchAttributes, SearchValue};
use keel_core::visibility::{Filter, parse_filter, parse_rfc3339_nanos};
use keel_core::{
    Blob, BlobMap, Event, Execution, ExecutionKey, Namespace, StartParams, Status, Time,
};

use crate::{Announcement, Error, ExecutionSummary, Page, Result, Store, Write};

mod postgres_cluster;

pub use postgres_cluster::PostgresCluster;

/// Every check below, in turn, on one store.
pub async fn run_all(store: &dyn Store) {
    namespaces(store).await;
    create_and_read(store).await;
    new_run_replaces_current(store).await;
    version_check(store).await;
    duplicate_events(store).await;
    atomic_batches(store).await;
    history_ranges(store).await;
    running_executions(store).await;
    list_filters(store).await;
    list_pagination(store).await;
    untranslatable_filters(store).await;
    schedules(store).await;
    planned_runs(store).await;
    activity_attempts(store).await;
    search_attribute_filters(store).await;
    namespace_isolation(store).await;
    concurrent_commits(store).await;
    operator_views(store).await;
    deletion(store).await;
}

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

// ------------------------------------------------------------------------------ checks

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
            .commit(vec![create_write(&execution, &events, Some(None))])
            .await,
        "creating the first run of a workflow id with make_current: Some(None)",
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
            .commit(vec![create_write(&execution, &events, None)])
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
            .commit(vec![create_write(&execution2, &events2, Some(None))])
            .await,
        &["Conflict"],
        "creating a run with make_current: Some(None) while the workflow id has a current run",
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
                Some(Some("run-1".into())),
            )])
            .await,
        "creating a second run with make_current: Some(Some(<current run id>))",
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
                    Some(expected_current),
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
            .commit(vec![create_write(&other, &other_events, Some(None))])
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
            .commit(vec![create_write(&a, &a_events, Some(None)), bad])
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
                create_write(&b, &b_events, Some(None)),
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
                create_write(&c, &c_events, Some(None)),
                update_write(&existing.execution, &retried, &retried_events),
                create_write(&d, &d_events, Some(None)),
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
                create_write(&e, &e_events, Some(None)),
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

/// History ranges: `first_event_id` and `max_events`, id order whatever the insertion
/// order, runs of one workflow id kept apart.
pub async fn history_ranges(store: &dyn Store) {
    let ns = new_namespace(store, "history").await;
    let key = run_key(&ns, "long", "run-1");
    let mut run = create_run(store, key.clone(), "flow", "q", at(1)).await;
    for round in 0..3 {
        let (next, events) = task_retried(&run.execution, at(10 + round));
        let mut written = events.clone();
        if round == 1 {
            // The store orders by id, not by insertion.
            written.reverse();
        }
        ok(
            store
                .commit(vec![update_write(&run.execution, &next, &written)])
                .await,
            "an update appending events",
        );
        run.execution = next;
        run.events.extend(events);
    }
    let all = run.events.clone();
    assert_eq!(
        all.iter().map(|event| event.id).collect::<Vec<_>>(),
        (1..=14).collect::<Vec<_>>(),
        "suite bug: unexpected event ids"
    );
    let cases: [(i64, usize, &[Event]); 10] = [
        (1, usize::MAX, &all),
        (1, 4, &all[..4]),
        (5, 3, &all[4..7]),
        (10, 100, &all[9..]),
        (14, 1, &all[13..]),
        (15, 10, &[]),
        (0, usize::MAX, &all),
        (-5, 2, &all[..2]),
        (3, 0, &[]),
        (2, 1, &all[1..2]),
    ];
    for (first_event_id, max_events, want) in cases {
        assert_eq!(
            ok(
                store.history(&key, first_event_id, max_events).await,
                "history()"
            ),
            want,
            "store conformance: history(first_event_id: {first_event_id}, max_events: {max_events}) \
             must return the events with ids >= first_event_id, in id order, at most max_events"
        );
    }

    let other_key = run_key(&ns, "long", "run-2");
    let (other, other_events) = started(other_key.clone(), "flow", "q", at(20));
    ok(
        store
            .commit(vec![create_write(&other, &other_events, None)])
            .await,
        "creating another run of the workflow id with make_current: None",
    );
    assert_eq!(
        ok(store.history(&other_key, 1, usize::MAX).await, "history()"),
        other_events,
        "store conformance: history() must return only the named run's events"
    );
    assert_eq!(
        ok(store.history(&key, 1, usize::MAX).await, "history()"),
        all,
        "store conformance: another run of the same workflow id must not change this run's history"
    );
    assert_eq!(
        ok(store.current_run(&ns, "long").await, "current_run()").map(|current| current.run_id),
        Some("run-1".to_owned()),
        "store conformance: a create with make_current: None must leave the current run alone"
    );
    assert_eq!(
        ok(
            store
                .history(&run_key(&ns, "long", "no-such-run"), 1, usize::MAX)
                .await,
            "history() of an unknown run"
        ),
        Vec::<Event>::new(),
        "store conformance: an unknown run has no events"
    );
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

/// `list_executions` and `count_executions` with filters and orderings.
pub async fn list_filters(store: &dyn Store) {
    for (text, seconds) in [
        ("2024-01-01T00:00:05Z", 5),
        ("2024-01-01T00:00:10Z", 10),
        ("2024-01-01T00:00:20Z", 20),
        ("2024-01-01T00:00:30Z", 30),
    ] {
        assert_eq!(
            parse_rfc3339_nanos(text),
            Ok(at(seconds).0),
            "suite bug: wrong timestamp"
        );
    }
    let ns = new_namespace(store, "list").await;
    // (workflow id, type, queue, start second, closes, retried)
    let specs = [
        ("wf-0", "alpha", "q1", 0, false, false),
        ("wf-1", "beta", "q1", 10, true, false),
        ("wf-2", "alpha", "q2", 20, false, true),
        ("wf-3", "beta", "q2", 30, false, false),
        ("wf-4", "alpha", "q1", 40, true, true),
        ("wf_5", "gamma", "q2", 50, false, false),
    ];
    let mut summaries = Vec::new();
    for (i, (workflow_id, workflow_type, queue, second, closes, retries)) in
        specs.into_iter().enumerate()
    {
        let key = run_key(&ns, workflow_id, &format!("run-{i}"));
        let mut run = create_run(store, key, workflow_type, queue, at(second)).await;
        if retries {
            let retried = task_retried(&run.execution, at(second + 1));
            advance(store, &mut run, retried).await;
        }
        if closes {
            let done = terminated(&run.execution, "closed", at(second + 5));
            advance(store, &mut run, done).await;
        }
        summaries.push(ExecutionSummary::of(&run.execution));
    }

    type Keep = fn(&ExecutionSummary) -> bool;
    let all: Keep = |_| true;
    let cases: [(&str, Keep, bool); 24] = [
        ("", all, false),
        ("   ", all, false),
        (
            "WorkflowType = 'alpha'",
            |s| s.workflow_type == "alpha",
            false,
        ),
        (
            "WorkflowType != 'alpha'",
            |s| s.workflow_type != "alpha",
            false,
        ),
        (
            "WorkflowType IN ('beta', 'gamma')",
            |s| s.workflow_type != "alpha",
            false,
        ),
        (
            "ExecutionStatus = 'Running'",
            |s| s.status == Status::Running,
            false,
        ),
        (
            "ExecutionStatus = 'Terminated'",
            |s| s.status == Status::Terminated,
            false,
        ),
        ("TaskQueue = 'q2'", |s| s.task_queue == "q2", false),
        (
            "WorkflowType = 'alpha' AND ExecutionStatus = 'Running'",
            |s| s.workflow_type == "alpha" && s.status == Status::Running,
            false,
        ),
        (
            "WorkflowType = 'beta' OR TaskQueue = 'q2'",
            |s| s.workflow_type == "beta" || s.task_queue == "q2",
            false,
        ),
        (
            "StartTime > '2024-01-01T00:00:20Z'",
            |s| s.start_time > at(20),
            false,
        ),
        (
            "StartTime >= '2024-01-01T00:00:20Z'",
            |s| s.start_time >= at(20),
            false,
        ),
        (
            "StartTime < '2024-01-01T00:00:20Z'",
            |s| s.start_time < at(20),
            false,
        ),
        (
            "StartTime <= 1704067220000000000",
            |s| s.start_time <= at(20),
            false,
        ),
        (
            "StartTime = '2024-01-01T00:00:30Z'",
            |s| s.start_time == at(30),
            false,
        ),
        (
            "StartTime BETWEEN '2024-01-01T00:00:10Z' AND '2024-01-01T00:00:30Z'",
            |s| s.start_time >= at(10) && s.start_time <= at(30),
            false,
        ),
        ("ORDER BY StartTime ASC", all, true),
        ("ORDER BY StartTime DESC", all, false),
        (
            "ExecutionStatus = 'Running' ORDER BY StartTime ASC",
            |s| s.status == Status::Running,
            true,
        ),
        (
            "TaskQueue = 'q1' AND StartTime > '2024-01-01T00:00:05Z' ORDER BY StartTime DESC",
            |s| s.task_queue == "q1" && s.start_time > at(5),
            false,
        ),
        ("CloseTime IS NULL", |s| s.close_time.is_none(), false),
        ("HistoryLength > 3", |s| s.history_length > 3, false),
        // Case-sensitive, and `_` is a literal, not a wildcard.
        (
            "WorkflowType STARTS_WITH 'al' OR WorkflowType STARTS_WITH 'Be' OR WorkflowId STARTS_WITH 'wf_'",
            |s| s.workflow_type == "alpha" || s.key.workflow_id == "wf_5",
            false,
        ),
        (
            "WorkflowId = 'x''; DROP TABLE executions; --'",
            |_| false,
            false,
        ),
    ];
    for (query, keep, oldest_first) in cases {
        let mut want: Vec<ExecutionSummary> =
            summaries.iter().filter(|s| keep(s)).cloned().collect();
        sort_summaries(&mut want, oldest_first);
        let page = ok(
            store.list_executions(&ns, &filter(query), 1000, &[]).await,
            &format!("list_executions({query:?})"),
        );
        assert_eq!(
            page.executions,
            want,
            "store conformance: list_executions({query:?}) must return exactly the matching runs' \
             summaries, {}",
            if oldest_first {
                "oldest first"
            } else {
                "newest first (StartTime DESC, then RunId DESC)"
            }
        );
        assert!(
            page.next_page_token.is_empty(),
            "store conformance: list_executions({query:?}) returned everything in one page, so the \
             page token must be empty"
        );
        assert_eq!(
            ok(
                store.count_executions(&ns, &filter(query)).await,
                &format!("count_executions({query:?})")
            ),
            want.len() as i64,
            "store conformance: count_executions({query:?}) must count the matching runs"
        );
    }
    assert_eq!(
        ok(
            store.count_executions(&ns, &filter("")).await,
            "count_executions"
        ),
        summaries.len() as i64,
        "store conformance: a query that looks like SQL injection must not change anything"
    );
}

/// Pagination: page tokens cover every row exactly once, in order; invalid tokens are
/// refused.
pub async fn list_pagination(store: &dyn Store) {
    let ns = new_namespace(store, "pages").await;
    let mut writes = Vec::new();
    let mut summaries = Vec::new();
    for i in 0..23 {
        // Run ids in neither insertion nor start-time order.
        let run_id = format!("run-{:02}", (i * 7) % 23);
        let key = run_key(&ns, &format!("page-{i:02}"), &run_id);
        let kind = if i % 2 == 0 { "even" } else { "odd" };
        // Three runs share each start time: ties are broken by run id.
        let (execution, events) = started(key, kind, "q", at(i / 3));
        summaries.push(ExecutionSummary::of(&execution));
        writes.push(create_write(&execution, &events, Some(None)));
    }
    ok(store.commit(writes).await, "a commit of 23 creates");

    type Keep = fn(&ExecutionSummary) -> bool;
    type Order = fn(&ExecutionSummary, &ExecutionSummary) -> std::cmp::Ordering;
    let newest_first: Order =
        |a, b| (b.start_time, &b.key.run_id).cmp(&(a.start_time, &a.key.run_id));
    let oldest_first: Order =
        |a, b| (a.start_time, &a.key.run_id).cmp(&(b.start_time, &b.key.run_id));
    let cases: [(&str, Keep, Order); 6] = [
        ("", |_| true, newest_first),
        ("ORDER BY StartTime ASC", |_| true, oldest_first),
        (
            "WorkflowType = 'even'",
            |s| s.workflow_type == "even",
            newest_first,
        ),
        (
            "WorkflowType = 'odd' ORDER BY StartTime ASC",
            |s| s.workflow_type == "odd",
            oldest_first,
        ),
        // Two values only, so nearly every row ties: the run id decides, in the direction
        // of the last key.
        (
            "ORDER BY WorkflowType",
            |_| true,
            |a, b| (&a.workflow_type, &a.key.run_id).cmp(&(&b.workflow_type, &b.key.run_id)),
        ),
        (
            "ORDER BY WorkflowType DESC",
            |_| true,
            |a, b| (&b.workflow_type, &b.key.run_id).cmp(&(&a.workflow_type, &a.key.run_id)),
        ),
    ];
    for (query, keep, order) in cases {
        let mut want: Vec<ExecutionSummary> =
            summaries.iter().filter(|s| keep(s)).cloned().collect();
        want.sort_by(order);
        assert_eq!(
            ok(
                store.list_executions(&ns, &filter(query), 1000, &[]).await,
                "list_executions"
            )
            .executions,
            want,
            "store conformance: list_executions({query:?}) must order by the query's keys, ties \
             broken by RunId in the direction of the last key"
        );
        for page_size in [1, 2, 5, 7, want.len() - 1, want.len(), want.len() + 1, 1000] {
            let mut got = Vec::new();
            let mut token = Vec::new();
            let mut pages = 0;
            loop {
                pages += 1;
                assert!(
                    pages <= want.len() + 2,
                    "store conformance: list_executions({query:?}, page size {page_size}) did not \
                     reach an empty page token after {pages} pages"
                );
                let page: Page = ok(
                    store
                        .list_executions(&ns, &filter(query), page_size, &token)
                        .await,
                    &format!("list_executions({query:?}, page size {page_size}) with a page token"),
                );
                assert!(
                    page.executions.len() <= page_size,
                    "store conformance: list_executions({query:?}, page size {page_size}) returned a \
                     page of {}",
                    page.executions.len()
                );
                got.extend(page.executions);
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
            assert_eq!(
                got, want,
                "store conformance: the pages of list_executions({query:?}, page size {page_size}) \
                 must together hold every matching run exactly once, in order"
            );
        }
    }
    for token in [b"garbage".to_vec(), vec![0xff; 12]] {
        let message = refused(
            store.list_executions(&ns, &filter(""), 5, &token).await,
            &["InvalidArgument"],
            &format!("list_executions with the invalid page token {token:?}"),
        );
        assert!(
            !message.trim().is_empty(),
            "store conformance: the refusal of an invalid page token must say why"
        );
    }
}

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

/// A filter the store cannot answer (an operator a search attribute's type does not have)
/// is refused with InvalidArgument naming the problem.
pub async fn untranslatable_filters(store: &dyn Store) {
    let ns = new_namespace(store, "badquery").await;
    create_run(store, run_key(&ns, "wf", "run-1"), "flow", "q", at(1)).await;
    let cases = [
        ("Tags > 'a'", "Tags"),
        ("Notes IN ('a')", "Notes"),
        ("Done BETWEEN false AND true", "Done"),
    ];
    for (query, problem) in cases {
        let listed = refused(
            store.list_executions(&ns, &filter(query), 10, &[]).await,
            &["InvalidArgument"],
            &format!("list_executions with the untranslatable filter {query:?}"),
        );
        let counted = refused(
            store.count_executions(&ns, &filter(query)).await,
            &["InvalidArgument"],
            &format!("count_executions with the untranslatable filter {query:?}"),
        );
        for message in [listed, counted] {
            assert!(
                message.contains(problem),
                "store conformance: the refusal of the filter {query:?} must name the problem \
                 ({problem}); it says {message:?}"
            );
        }
    }
}

/// Custom search attributes of every type filter as Temporal's do, follow upserts, and go
/// with a deleted run.
pub async fn search_attribute_filters(store: &dyn Store) {
    let ns = new_namespace(store, "search").await;
    let attributes = |color: &str, size: i64, tags: &[&str], notes: &str| {
        SearchAttributes::from([
            keyword("Color", color),
            typed("Size", SearchValue::Int(size)),
            typed(
                "Tags",
                SearchValue::KeywordList(tags.iter().map(|t| t.to_string()).collect()),
            ),
            typed("Notes", SearchValue::Text(notes.into())),
            typed("Weight", SearchValue::Double(size as f64 / 2.0)),
            typed("Done", SearchValue::Bool(size > 2)),
            typed("Due", SearchValue::Datetime(at(size).0)),
        ])
    };
    let red = started_with(
        run_key(&ns, "red", "run-1"),
        attributes("red", 3, &["a", "b"], "The quick brown fox"),
        at(1),
    );
    let blue = started_with(
        run_key(&ns, "blue", "run-1"),
        attributes("blue", 1, &["b"], "lazy dog"),
        at(2),
    );
    let bare = started_with(
        run_key(&ns, "bare", "run-1"),
        SearchAttributes::new(),
        at(3),
    );
    let writes =
        [&red, &blue, &bare].map(|(execution, events)| create_write(execution, events, Some(None)));
    ok(
        store.commit(writes.to_vec()).await,
        "creating runs with search attributes",
    );
    expect_matches(store, &ns, "Color = 'red'", &["red"]).await;
    expect_matches(store, &ns, "Color != 'red'", &["blue"]).await;
    expect_matches(
        store,
        &ns,
        "Color IN ('red', 'blue') AND Size >= 2",
        &["red"],
    )
    .await;
    expect_matches(store, &ns, "Color STARTS_WITH 'bl'", &["blue"]).await;
    expect_matches(store, &ns, "Size BETWEEN 1 AND 3", &["red", "blue"]).await;
    expect_matches(store, &ns, "Size IS NULL", &["bare"]).await;
    expect_matches(store, &ns, "Size IS NOT NULL", &["red", "blue"]).await;
    expect_matches(store, &ns, "Tags = 'b'", &["red", "blue"]).await;
    expect_matches(store, &ns, "Tags != 'a'", &["blue", "bare"]).await;
    expect_matches(store, &ns, "Tags IN ('a', 'z')", &["red"]).await;
    expect_matches(store, &ns, "Tags NOT IN ('b')", &["bare"]).await;
    expect_matches(store, &ns, "Notes = 'QUICK cat'", &["red"]).await;
    expect_matches(store, &ns, "Notes != 'dog'", &["red", "bare"]).await;
    expect_matches(store, &ns, "Weight > 1.0", &["red"]).await;
    expect_matches(store, &ns, "Done = true", &["red"]).await;
    expect_matches(store, &ns, "Due < '2024-01-01T00:00:02Z'", &["blue"]).await;
    // The listing returns what the run carries.
    let page = ok(
        store
            .list_executions(&ns, &filter("Color = 'red'"), 10, &[])
            .await,
        "list_executions",
    );
    assert_eq!(
        page.executions[0].search_attributes, red.0.search_attributes,
        "store conformance: a listed run must carry its search attributes"
    );

    // An upsert changes what filters see: blue becomes red-ish and loses its size.
    let (upserted, events) = search_attributes_upserted(
        &blue.0,
        SearchAttributes::from([
            keyword("Color", "purple"),
            (
                "Size".to_owned(),
                SearchAttribute {
                    payload: Blob(b"null".to_vec()),
                    value: None,
                },
            ),
        ]),
        at(4),
    );
    ok(
        store
            .commit(vec![update_write(&blue.0, &upserted, &events)])
            .await,
        "an upsert of search attributes",
    );
    expect_matches(store, &ns, "Color = 'purple'", &["blue"]).await;
    expect_matches(store, &ns, "Color = 'blue'", &[]).await;
    expect_matches(store, &ns, "Size IS NULL", &["blue", "bare"]).await;
    expect_matches(store, &ns, "Tags = 'b'", &["red", "blue"]).await;

    ok(store.delete_execution(&red.0.key).await, "deleting a run");
    expect_matches(store, &ns, "Tags = 'a'", &[]).await;
}

/// Namespaces keep executions apart even with equal workflow and run ids.
pub async fn namespace_isolation(store: &dyn Store) {
    let a = new_namespace(store, "iso-a").await;
    let b = new_namespace(store, "iso-b").await;
    let mut a_runs = Vec::new();
    let mut b_runs = Vec::new();
    for i in 0..3 {
        let (workflow_id, run_id) = (format!("shared-{i}"), format!("run-{i}"));
        a_runs.push(
            create_run(
                store,
                run_key(&a, &workflow_id, &run_id),
                "alpha",
                "qa",
                at(i),
            )
            .await,
        );
        if i < 2 {
            let mut run = create_run(
                store,
                run_key(&b, &workflow_id, &run_id),
                "beta",
                "qb",
                at(i),
            )
            .await;
            let retried = task_retried(&run.execution, at(10));
            advance(store, &mut run, retried).await;
            b_runs.push(run);
        }
    }
    for (ns, runs, other_type) in [(&a, &a_runs, "beta"), (&b, &b_runs, "alpha")] {
        let mut want: Vec<ExecutionSummary> = runs
            .iter()
            .map(|run| ExecutionSummary::of(&run.execution))
            .collect();
        sort_summaries(&mut want, false);
        for query in ["", "WorkflowType = 'alpha' OR WorkflowType = 'beta'"] {
            assert_eq!(
                ok(
                    store.list_executions(ns, &filter(query), 1000, &[]).await,
                    "list_executions"
                )
                .executions,
                want,
                "store conformance: list_executions({ns:?}, {query:?}) must return only that \
                 namespace's runs"
            );
            assert_eq!(
                ok(
                    store.count_executions(ns, &filter(query)).await,
                    "count_executions"
                ),
                want.len() as i64,
                "store conformance: count_executions({ns:?}, {query:?}) must count only that \
                 namespace's runs"
            );
        }
        assert_eq!(
            ok(
                store
                    .count_executions(ns, &filter(&format!("WorkflowType = '{other_type}'")))
                    .await,
                "count_executions"
            ),
            0,
            "store conformance: count_executions must not count another namespace's runs"
        );
        for run in runs.iter() {
            assert_stored(
                store,
                run,
                "a run whose ids are also used in another namespace",
            )
            .await;
            assert_eq!(
                ok(
                    store.current_run(ns, &run.key().workflow_id).await,
                    "current_run()"
                )
                .map(|current| current.start_request_id),
                Some(run.execution.start_request_id.clone()),
                "store conformance: each namespace has its own current runs"
            );
        }
    }
    let nowhere = unique("iso-none");
    let page = ok(
        store
            .list_executions(&nowhere, &filter(""), 1000, &[])
            .await,
        "list_executions of an unknown namespace",
    );
    assert!(
        page.executions.is_empty() && page.next_page_token.is_empty(),
        "store conformance: a namespace without runs lists nothing, got {:?}",
        page.executions
    );
    assert_eq!(
        ok(
            store.count_executions(&nowhere, &filter("")).await,
            "count_executions"
        ),
        0,
        "store conformance: a namespace without runs counts 0"
    );
}

/// Many commits in flight at once: independent ones all succeed; of competing ones exactly
/// one wins and the others are refused without a trace.
pub async fn concurrent_commits(store: &dyn Store) {
    let ns = new_namespace(store, "concurrent").await;
    let runs: Vec<Run> = (0..50)
        .map(|i| {
            let key = run_key(&ns, &format!("c-{i}"), &format!("run-{i}"));
            let (execution, events) = started(key, "concurrent", "q", at(i));
            Run { execution, events }
        })
        .collect();
    // Namespace writes go in among the commits: a store may write them another way.
    let prefix = unique("ns-concurrent");
    let namespaces: Vec<Namespace> = (0..10)
        .map(|i| namespace_named(&format!("{prefix}-{i:02}")))
        .collect();
    let mut calls = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        calls.push(store.commit(vec![create_write(&run.execution, &run.events, Some(None))]));
        if let Some(namespace) = namespaces.get(i) {
            calls.push(store.create_namespace(namespace.clone()));
        }
    }
    for result in join_all(calls).await {
        ok(
            result,
            "one of 50 concurrent creates of different workflow ids and 10 concurrent \
             create_namespace calls with different names",
        );
    }
    let listed = ok(store.namespaces().await, "namespaces()");
    let ours: Vec<Namespace> = listed
        .into_iter()
        .filter(|namespace| namespace.name.starts_with(&format!("{prefix}-")))
        .collect();
    assert_eq!(
        ours, namespaces,
        "store conformance: every namespace created concurrently must be there, once"
    );

    // Ten creates race for one namespace name.
    let name = format!("{prefix}-contested");
    let contenders: Vec<Namespace> = (0..10)
        .map(|i| Namespace {
            description: format!("contender {i}"),
            ..namespace_named(&name)
        })
        .collect();
    let results = join_all(
        contenders
            .iter()
            .map(|namespace| store.create_namespace(namespace.clone())),
    )
    .await;
    let winner = single_winner(
        results,
        "AlreadyExists",
        "10 concurrent create_namespace calls with one name",
    );
    let listed = ok(store.namespaces().await, "namespaces()");
    assert_eq!(
        listed
            .into_iter()
            .filter(|namespace| namespace.name == name)
            .collect::<Vec<_>>(),
        vec![contenders[winner].clone()],
        "store conformance: the namespace must be stored once, as its one successful create wrote it"
    );

    for run in &runs {
        assert_stored(store, run, "a run created concurrently with 49 others").await;
    }
    assert_eq!(
        ok(
            store.count_executions(&ns, &filter("")).await,
            "count_executions"
        ),
        50,
        "store conformance: every one of 50 concurrent creates must be counted"
    );
    let listed = ok(
        store.list_executions(&ns, &filter(""), 1000, &[]).await,
        "list_executions",
    );
    let keys: BTreeSet<ExecutionKey> = listed.executions.into_iter().map(|s| s.key).collect();
    assert_eq!(
        keys,
        runs.iter().map(|run| run.key().clone()).collect(),
        "store conformance: every one of 50 concurrent creates must be listed once"
    );

    // Twenty starts race for one workflow id, each expecting no current run.
    let contenders: Vec<Run> = (0..20)
        .map(|i| {
            let (execution, events) = started(
                run_key(&ns, "race", &format!("run-{i}")),
                "race",
                "q",
                at(i),
            );
            Run { execution, events }
        })
        .collect();
    let results = join_all(
        contenders
            .iter()
            .map(|run| store.commit(vec![create_write(&run.execution, &run.events, Some(None))])),
    )
    .await;
    let winner = single_winner(
        results,
        "Conflict",
        "20 concurrent creates of one workflow id",
    );
    let mut winner_run = contenders[winner].clone();
    assert_eq!(
        ok(store.current_run(&ns, "race").await, "current_run()").map(|c| c.run_id),
        Some(winner_run.key().run_id.clone()),
        "store conformance: the winning create must be the current run"
    );
    for (i, run) in contenders.iter().enumerate() {
        if i == winner {
            assert_stored(store, run, "the winning create").await;
        } else {
            let lost = stored(store, run.key()).await;
            assert!(
                lost.execution.is_none() && lost.history.is_empty(),
                "store conformance: a create that lost a race must leave no trace, found {lost:?}"
            );
        }
    }

    // Twenty updates race from one version.
    let transitions: Vec<(Execution, Vec<Event>)> = (0..20)
        .map(|i| terminated(&winner_run.execution, &format!("reason-{i}"), at(100)))
        .collect();
    let results = join_all(transitions.iter().map(|(next, events)| {
        store.commit(vec![update_write(&winner_run.execution, next, events)])
    }))
    .await;
    let winner = single_winner(
        results,
        "Conflict",
        "20 concurrent updates from one version",
    );
    winner_run.execution = transitions[winner].0.clone();
    winner_run.events.extend(transitions[winner].1.clone());
    assert_stored(store, &winner_run, "the winning update").await;

    // Good creates and stale updates interleaved: each is decided on its own.
    let before = stored(store, winner_run.key()).await;
    let goods: Vec<Run> = (0..25)
        .map(|i| {
            let key = run_key(&ns, &format!("mixed-{i}"), &format!("run-{i}"));
            let (execution, events) = started(key, "mixed", "q", at(i));
            Run { execution, events }
        })
        .collect();
    let (stale, stale_events) = terminated(&contenders[0].execution, "stale", at(200));
    let mut writes = Vec::new();
    for good in &goods {
        writes.push(create_write(&good.execution, &good.events, Some(None)));
        writes.push(update_write(
            &contenders[0].execution,
            &stale,
            &stale_events,
        ));
    }
    let results = join_all(writes.into_iter().map(|write| store.commit(vec![write]))).await;
    for (i, result) in results.into_iter().enumerate() {
        if i % 2 == 0 {
            ok(result, "a create committed alongside refused updates");
        } else {
            refused(
                result,
                &["Conflict"],
                "a stale update committed alongside good creates",
            );
        }
    }
    for good in &goods {
        assert_stored(store, good, "a create committed alongside refused updates").await;
    }
    assert_eq!(
        stored(store, winner_run.key()).await,
        before,
        "store conformance: refused concurrent updates must change nothing"
    );
}

/// Fifty tokio tasks each create, update and terminate a run of their own, in parallel on
/// a multi-threaded runtime: every commit succeeds and every result is visible.
pub async fn concurrent_tasks(store: Arc<dyn Store>) {
    let ns = new_namespace(&*store, "tasks").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let store = store.clone();
        let ns = ns.clone();
        tasks.spawn(async move {
            let key = run_key(&ns, &format!("task-{i}"), &format!("run-{i}"));
            let mut run = create_run(&*store, key.clone(), "task", "q", at(i)).await;
            // Workers append log lines while the run's commits go on.
            let line = crate::LogLine {
                seq: 0,
                time: at(50 + i),
                level: "info".into(),
                message: format!("line of task {i}"),
                task_run: String::new(),
                worker: "w".into(),
            };
            let (appended, ()) = tokio::join!(store.append_logs(&key, vec![line]), async {
                let retried = task_retried(&run.execution, at(100 + i));
                advance(&*store, &mut run, retried).await;
            });
            ok(appended, "append_logs() beside commits");
            let done = terminated(&run.execution, "finished", at(200 + i));
            advance(&*store, &mut run, done).await;
            run
        });
    }
    let mut runs = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(run) => runs.push(run),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("store conformance: a task did not finish: {error}"),
        }
    }
    for run in &runs {
        assert_stored(&*store, run, "a run written by one of 50 parallel tasks").await;
        let logs = ok(store.logs(&run.execution.key, 0, 10).await, "logs()");
        assert_eq!(
            logs.len(),
            1,
            "store conformance: the line appended beside commits"
        );
    }
    for (query, want) in [("", 50), ("ExecutionStatus = 'Terminated'", 50)] {
        assert_eq!(
            ok(
                store.count_executions(&ns, &filter(query)).await,
                "count_executions"
            ),
            want,
            "store conformance: count_executions({query:?}) after 50 parallel tasks"
        );
    }
    let running = ok(store.running_executions().await, "running_executions()");
    assert!(
        running
            .iter()
            .all(|execution| execution.key.namespace != ns),
        "store conformance: terminated runs must not be in running_executions()"
    );
}

/// For a store several processes share, given two handles on one database: a commit's
/// announcement reaches the other handle once the commit is done, in commit order, and never
/// when the commit is refused; [`Store::announce`] reaches it too; the sender never hears
/// its own; a message over [`Store::max_announcement_len`] is refused without committing.
pub async fn announcements(sender: &dyn Store, receiver: &dyn Store) {
    let mut heard = receiver
        .announcements()
        .expect("store conformance: a shared store must offer announcements");
    let mut echoed = sender
        .announcements()
        .expect("store conformance: a shared store must offer announcements");
    let ns = new_namespace(sender, "announce").await;
    let (first, first_events) = started(run_key(&ns, "wf", "run-1"), "flow", "q", at(1));
    let mut create = create_write(&first, &first_events, Some(None));
    create.announcement = Some(b"created".to_vec());
    ok(
        sender.commit(vec![create]).await,
        "a create with an announcement",
    );

    let (next, events) = terminated(&first, "done", at(2));
    let mut stale = update_write(&first, &next, &events);
    stale.expected_version = Some(first.version + 7);
    stale.announcement = Some(b"refused".to_vec());
    refused(
        sender.commit(vec![stale]).await,
        &["Conflict"],
        "a stale update with an announcement",
    );
    let mut update = update_write(&first, &next, &events);
    update.announcement = Some(b"updated".to_vec());
    ok(
        sender.commit(vec![update]).await,
        "an update with an announcement",
    );
    ok(sender.announce(b"direct".to_vec()).await, "announce()");
    let longest = vec![0xa5; sender.max_announcement_len()];
    ok(
        sender.announce(longest.clone()).await,
        "announce() of the longest message",
    );

    let (second, second_events) = started(run_key(&ns, "wf-2", "run-1"), "flow", "q", at(3));
    let mut too_long = create_write(&second, &second_events, Some(None));
    too_long.announcement = Some(vec![0; sender.max_announcement_len() + 1]);
    refused_any(
        sender.commit(vec![too_long]).await,
        "a commit whose announcement is over the limit",
    );
    assert_eq!(
        stored(sender, &second.key).await,
        Stored::default(),
        "store conformance: a commit refused for its announcement must write nothing"
    );

    let want = [
        b"created".to_vec(),
        b"updated".to_vec(),
        b"direct".to_vec(),
        longest,
    ];
    for wanted in want {
        let message = tokio::time::timeout(Duration::from_secs(10), heard.recv()).await;
        match message {
            Ok(Ok(Announcement::Message(message))) => assert!(
                message == wanted,
                "store conformance: announcements must arrive in commit order: wanted {:?}, got {:?}",
                String::from_utf8_lossy(&wanted[..wanted.len().min(16)]),
                String::from_utf8_lossy(&message[..message.len().min(16)])
            ),
            other => panic!(
                "store conformance: the other handle must hear {:?}, got {other:?}",
                String::from_utf8_lossy(&wanted[..wanted.len().min(16)])
            ),
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        heard.try_recv().is_err(),
        "store conformance: nothing else may be announced (a refused commit announces nothing)"
    );
    assert!(
        echoed.try_recv().is_err(),
        "store conformance: a handle must not hear its own announcements"
    );
}

// ------------------------------------------------------------------------- durability

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
                Some(Some("run-1".into())),
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

// ---------------------------------------------------------------------------- helpers

/// 2024-01-01T00:00:00Z; the suite's times are whole seconds after it.
const EPOCH_2024: i64 = 1_704_067_200_000_000_000;

fn at(seconds: i64) -> Time {
    Time(EPOCH_2024 + seconds * 1_000_000_000)
}

/// A name no other check (or earlier run of the suite on the same store) uses.
fn unique(label: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!(
        "conformance-{label}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn namespace_named(name: &str) -> Namespace {
    Namespace {
        name: name.to_owned(),
        id: format!("id-of-{name}"),
        description: "created by the store conformance suite".into(),
        owner_email: "owner@example.com".into(),
        retention: Duration::from_secs(24 * 3600),
        data: BTreeMap::from([("purpose".to_owned(), "conformance".to_owned())]),
        created: at(0),
        search_attributes: Default::default(),
    }
}

async fn new_namespace(store: &dyn Store, label: &str) -> String {
    let name = unique(label);
    ok(
        store.create_namespace(namespace_named(&name)).await,
        "create_namespace of a new name",
    );
    name
}

fn run_key(namespace: &str, workflow_id: &str, run_id: &str) -> ExecutionKey {
    ExecutionKey {
        namespace: namespace.to_owned(),
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
    }
}

/// A run as the engine keeps it: its latest state and its whole history.
#[derive(Clone, Debug)]
struct Run {
    execution: Execution,
    events: Vec<Event>,
}

impl Run {
    fn key(&self) -> &ExecutionKey {
        &self.execution.key
    }
}

/// Lists and counts with `query`, expecting exactly the workflow ids `want`.
async fn expect_matches(store: &dyn Store, ns: &str, query: &str, want: &[&str]) {
    let page = ok(
        store.list_executions(ns, &filter(query), 100, &[]).await,
        &format!("list_executions({query:?})"),
    );
    let mut got: Vec<&str> = page
        .executions
        .iter()
        .map(|s| s.key.workflow_id.as_str())
        .collect();
    got.sort();
    let mut want = want.to_vec();
    want.sort();
    assert_eq!(got, want, "store conformance: list_executions({query:?})");
    assert_eq!(
        ok(
            store.count_executions(ns, &filter(query)).await,
            "count_executions"
        ),
        want.len() as i64,
        "store conformance: count_executions({query:?})"
    );
}

/// The search attributes the suite's namespaces know, for parsing its filters.
fn suite_attribute(name: &str) -> Option<SearchAttributeType> {
    Some(match name {
        "CustomKeyword" | "Color" => SearchAttributeType::Keyword,
        "Size" => SearchAttributeType::Int,
        "Tags" => SearchAttributeType::KeywordList,
        "Notes" => SearchAttributeType::Text,
        "Weight" => SearchAttributeType::Double,
        "Done" => SearchAttributeType::Bool,
        "Due" => SearchAttributeType::Datetime,
        _ => return None,
    })
}

fn filter(query: &str) -> Filter {
    parse_filter(query, &suite_attribute)
        .unwrap_or_else(|e| panic!("suite bug: the filter {query:?} does not parse: {e}"))
}

fn typed(name: &str, value: SearchValue) -> (String, SearchAttribute) {
    (
        name.to_owned(),
        SearchAttribute {
            payload: Blob(format!("{value:?}").into_bytes()),
            value: Some(value),
        },
    )
}

fn keyword(name: &str, value: &str) -> (String, SearchAttribute) {
    typed(name, SearchValue::Keyword(value.to_owned()))
}

/// A new run with these search attributes.
fn started_with(
    key: ExecutionKey,
    search_attributes: SearchAttributes,
    now: Time,
) -> (Execution, Vec<Event>) {
    let params = StartParams {
        workflow_type: "searched".into(),
        task_queue: "q".into(),
        request_id: format!("request-{}-{}", key.workflow_id, key.run_id),
        search_attributes,
        ..StartParams::default()
    };
    let (execution, outcome) =
        Execution::start(key, params, now).expect("suite bug: the core refused a start");
    (execution, outcome.events)
}

/// The pending workflow task starts and completes with an upsert of search attributes.
fn search_attributes_upserted(
    execution: &Execution,
    upsert: SearchAttributes,
    now: Time,
) -> (Execution, Vec<Event>) {
    completed_with(
        execution,
        keel_core::Command::UpsertSearchAttributes {
            search_attributes: upsert,
        },
        now,
    )
}

/// A new run and its first events, as [`Execution::start`] makes them.
fn started(
    key: ExecutionKey,
    workflow_type: &str,
    task_queue: &str,
    now: Time,
) -> (Execution, Vec<Event>) {
    let params = StartParams {
        workflow_type: workflow_type.to_owned(),
        task_queue: task_queue.to_owned(),
        input: Some(Blob(b"input".to_vec())),
        identity: "conformance".into(),
        request_id: format!("request-{}-{}", key.workflow_id, key.run_id),
        memo: BlobMap::from([("note".to_owned(), Blob(key.run_id.as_bytes().to_vec()))]),
        search_attributes: SearchAttributes::from([keyword("CustomKeyword", workflow_type)]),
        ..StartParams::default()
    };
    let (execution, outcome) =
        Execution::start(key, params, now).expect("suite bug: the core refused a start");
    (execution, outcome.events)
}

/// A transition that keeps the run running and always writes events: the pending workflow
/// task starts and completes with a timer, and a new task is scheduled (four events). (A
/// failing task would not do: retries after the first failure are transient and write
/// nothing.)
fn task_retried(execution: &Execution, now: Time) -> (Execution, Vec<Event>) {
    completed_with(
        execution,
        keel_core::Command::StartTimer {
            timer_id: format!("timer-{}", execution.next_event_id),
            start_to_fire_timeout: std::time::Duration::from_secs(3600),
        },
        now,
    )
}

/// The pending workflow task starts and completes with `command`, and a new task is
/// scheduled.
fn completed_with(
    execution: &Execution,
    command: keel_core::Command,
    now: Time,
) -> (Execution, Vec<Event>) {
    let mut next = execution.clone();
    let task = next
        .workflow_task
        .clone()
        .expect("suite bug: no pending workflow task");
    let mut events = next
        .start_workflow_task(task.scheduled_event_id, task.attempt, "worker", "poll", now)
        .expect("suite bug: the core refused to start a workflow task")
        .events;
    let started_event_id = next
        .workflow_task
        .as_ref()
        .and_then(|t| t.started.as_ref())
        .expect("suite bug: the task did not start")
        .event_id;
    let completion = keel_core::Completion {
        commands: vec![command],
        identity: "worker".into(),
        force_create_new_workflow_task: true,
        ..Default::default()
    };
    let (outcome, _) = next
        .complete_workflow_task(
            task.scheduled_event_id,
            started_event_id,
            task.attempt,
            completion,
            now,
        )
        .expect("suite bug: the core refused to complete a workflow task");
    events.extend(outcome.events);
    (next, events)
}

/// Terminates the run (one event).
fn terminated(execution: &Execution, reason: &str, now: Time) -> (Execution, Vec<Event>) {
    let mut next = execution.clone();
    let outcome = next
        .terminate(reason, None, "conformance", now)
        .expect("suite bug: the core refused to terminate");
    (next, outcome.events)
}

fn create_write(
    execution: &Execution,
    events: &[Event],
    make_current: Option<Option<String>>,
) -> Write {
    Write {
        execution: execution.clone(),
        expected_version: None,
        events: events.to_vec(),
        make_current,
        attempts: Vec::new(),
        announcement: None,
    }
}

/// Commits `next` over `read`, the state it was computed from.
fn update_write(read: &Execution, next: &Execution, events: &[Event]) -> Write {
    Write {
        execution: next.clone(),
        expected_version: Some(read.version),
        events: events.to_vec(),
        make_current: None,
        attempts: Vec::new(),
        announcement: None,
    }
}

/// Creates a run as the first (current) run of its workflow id.
async fn create_run(
    store: &dyn Store,
    key: ExecutionKey,
    workflow_type: &str,
    task_queue: &str,
    now: Time,
) -> Run {
    let (execution, events) = started(key, workflow_type, task_queue, now);
    ok(
        store
            .commit(vec![create_write(&execution, &events, Some(None))])
            .await,
        "creating the first run of a workflow id",
    );
    Run { execution, events }
}

/// Commits a transition of `run` and keeps it.
async fn advance(store: &dyn Store, run: &mut Run, (next, events): (Execution, Vec<Event>)) {
    ok(
        store
            .commit(vec![update_write(&run.execution, &next, &events)])
            .await,
        "an update with the version that was read",
    );
    run.execution = next;
    run.events.extend(events);
}

/// Everything the store holds about one run.
#[derive(Debug, Default, PartialEq)]
struct Stored {
    execution: Option<Execution>,
    history: Vec<Event>,
    /// The current run of the run's workflow id.
    current: Option<CurrentRun>,
}

async fn stored(store: &dyn Store, key: &ExecutionKey) -> Stored {
    Stored {
        execution: ok(store.execution(key).await, "execution()"),
        history: ok(store.history(key, 1, usize::MAX).await, "history()"),
        current: ok(
            store.current_run(&key.namespace, &key.workflow_id).await,
            "current_run()",
        ),
    }
}

async fn assert_stored(store: &dyn Store, run: &Run, what: &str) {
    let key = run.key();
    assert_eq!(
        ok(store.execution(key).await, "execution()").as_ref(),
        Some(&run.execution),
        "store conformance: {what}: execution({key:?}) must return the last committed state"
    );
    assert_eq!(
        ok(store.history(key, 1, usize::MAX).await, "history()"),
        run.events,
        "store conformance: {what}: history({key:?}) must return every committed event, in order"
    );
}

/// Newest first (the default order) or oldest first; ties broken by run id the same way.
fn sort_summaries(summaries: &mut [ExecutionSummary], oldest_first: bool) {
    summaries.sort_by(|a, b| {
        let order = (a.start_time, &a.key.run_id).cmp(&(b.start_time, &b.key.run_id));
        if oldest_first { order } else { order.reverse() }
    });
}

fn kind(error: &Error) -> &'static str {
    match error {
        Error::NotFound(_) => "NotFound",
        Error::AlreadyExists(_) => "AlreadyExists",
        Error::Conflict(_) => "Conflict",
        Error::InvalidArgument(_) => "InvalidArgument",
        Error::Unavailable(_) => "Unavailable",
        Error::DataLoss(_) => "DataLoss",
    }
}

#[track_caller]
fn ok<T>(result: Result<T>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("store conformance: {what} must succeed, but failed: {error:?}"),
    }
}

/// The error's message, when `result` is one of the `wanted` errors.
#[track_caller]
fn refused<T: Debug>(result: Result<T>, wanted: &[&str], what: &str) -> String {
    match result {
        Err(error) if wanted.contains(&kind(&error)) => error.to_string(),
        other => panic!(
            "store conformance: {what} must fail with Error::{}, got {other:?}",
            wanted.join(" or Error::")
        ),
    }
}

/// Refused with any error except Unavailable (which would report the store as down).
#[track_caller]
fn refused_any<T: Debug>(result: Result<T>, what: &str) {
    refused(
        result,
        &["Conflict", "AlreadyExists", "InvalidArgument", "NotFound"],
        what,
    );
}

/// The index of the only success; every other result must be a `loser_error`.
#[track_caller]
fn single_winner(results: Vec<Result<()>>, loser_error: &str, what: &str) -> usize {
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "store conformance: of {what}, exactly one must succeed; these did: {winners:?}"
    );
    for result in results.into_iter().filter(|result| result.is_err()) {
        refused(result, &[loser_error], &format!("a loser of {what}"));
    }
    winners[0]
}

/// Polls all `futures` concurrently in the calling task and returns their outputs in order.
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|output| output.expect("every future finished"))
        .collect()
}
