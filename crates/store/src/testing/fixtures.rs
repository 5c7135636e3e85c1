//! What every check builds on: unique names, runs made by the real core, writes, and
//! assertions that name the rule a store broke.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keel_core::reuse::CurrentRun;
use keel_core::search::{SearchAttribute, SearchAttributeType, SearchAttributes, SearchValue};
use keel_core::visibility::{Filter, parse_filter};
use keel_core::{Blob, BlobMap, Event, Execution, ExecutionKey, Namespace, StartParams, Time};

use crate::{CurrentRunChange, Error, ExecutionSummary, Result, Store, Write};

/// 2024-01-01T00:00:00Z; the suite's times are whole seconds after it.
const EPOCH_2024: i64 = 1_704_067_200_000_000_000;

pub(super) fn at(seconds: i64) -> Time {
    Time(EPOCH_2024 + seconds * 1_000_000_000)
}

/// A name no other check (or earlier run of the suite on the same store) uses.
pub(super) fn unique(label: &str) -> String {
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

pub(super) fn namespace_named(name: &str) -> Namespace {
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

pub(super) async fn new_namespace(store: &dyn Store, label: &str) -> String {
    let name = unique(label);
    ok(
        store.create_namespace(namespace_named(&name)).await,
        "create_namespace of a new name",
    );
    name
}

pub(super) fn run_key(namespace: &str, workflow_id: &str, run_id: &str) -> ExecutionKey {
    ExecutionKey {
        namespace: namespace.to_owned(),
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
    }
}

/// A run as the engine keeps it: its latest state and its whole history.
#[derive(Clone, Debug)]
pub(super) struct Run {
    pub(super) execution: Execution,
    pub(super) events: Vec<Event>,
}

impl Run {
    pub(super) fn key(&self) -> &ExecutionKey {
        &self.execution.key
    }
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

pub(super) fn filter(query: &str) -> Filter {
    parse_filter(query, &suite_attribute)
        .unwrap_or_else(|e| panic!("suite bug: the filter {query:?} does not parse: {e}"))
}

pub(super) fn typed(name: &str, value: SearchValue) -> (String, SearchAttribute) {
    (
        name.to_owned(),
        SearchAttribute {
            payload: Blob(format!("{value:?}").into_bytes()),
            value: Some(value),
        },
    )
}

pub(super) fn keyword(name: &str, value: &str) -> (String, SearchAttribute) {
    typed(name, SearchValue::Keyword(value.to_owned()))
}

/// A new run and its first events, as [`Execution::start`] makes them.
pub(super) fn started(
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
pub(super) fn task_retried(execution: &Execution, now: Time) -> (Execution, Vec<Event>) {
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
pub(super) fn completed_with(
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
pub(super) fn terminated(
    execution: &Execution,
    reason: &str,
    now: Time,
) -> (Execution, Vec<Event>) {
    let mut next = execution.clone();
    let outcome = next
        .terminate(reason, None, "conformance", now)
        .expect("suite bug: the core refused to terminate");
    (next, outcome.events)
}

pub(super) fn create_write(
    execution: &Execution,
    events: &[Event],
    make_current: CurrentRunChange,
) -> Write {
    Write {
        execution: execution.clone(),
        expected_version: None,
        events: events.to_vec(),
        make_current,
        attempts: Vec::new(),
        notice: None,
    }
}

/// Commits `next` over `read`, the state it was computed from.
pub(super) fn update_write(read: &Execution, next: &Execution, events: &[Event]) -> Write {
    Write {
        execution: next.clone(),
        expected_version: Some(read.version),
        events: events.to_vec(),
        make_current: CurrentRunChange::Keep,
        attempts: Vec::new(),
        notice: None,
    }
}

/// Creates a run as the first (current) run of its workflow id.
pub(super) async fn create_run(
    store: &dyn Store,
    key: ExecutionKey,
    workflow_type: &str,
    task_queue: &str,
    now: Time,
) -> Run {
    let (execution, events) = started(key, workflow_type, task_queue, now);
    ok(
        store
            .commit(vec![create_write(
                &execution,
                &events,
                CurrentRunChange::First,
            )])
            .await,
        "creating the first run of a workflow id",
    );
    Run { execution, events }
}

/// Commits a transition of `run` and keeps it.
pub(super) async fn advance(
    store: &dyn Store,
    run: &mut Run,
    (next, events): (Execution, Vec<Event>),
) {
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
pub(super) struct Stored {
    pub(super) execution: Option<Execution>,
    pub(super) history: Vec<Event>,
    /// The current run of the run's workflow id.
    pub(super) current: Option<CurrentRun>,
}

pub(super) async fn stored(store: &dyn Store, key: &ExecutionKey) -> Stored {
    Stored {
        execution: ok(store.execution(key).await, "execution()"),
        history: ok(store.history(key, 1, usize::MAX).await, "history()"),
        current: ok(
            store.current_run(&key.namespace, &key.workflow_id).await,
            "current_run()",
        ),
    }
}

pub(super) async fn assert_stored(store: &dyn Store, run: &Run, what: &str) {
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
pub(super) fn sort_summaries(summaries: &mut [ExecutionSummary], oldest_first: bool) {
    summaries.sort_by(|a, b| {
        let order = (a.start_time, &a.key.run_id).cmp(&(b.start_time, &b.key.run_id));
        if oldest_first { order } else { order.reverse() }
    });
}

pub(super) fn kind(error: &Error) -> &'static str {
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
pub(super) fn ok<T>(result: Result<T>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("store conformance: {what} must succeed, but failed: {error:?}"),
    }
}

/// The error's message, when `result` is one of the `wanted` errors.
#[track_caller]
pub(super) fn refused<T: Debug>(result: Result<T>, wanted: &[&str], what: &str) -> String {
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
pub(super) fn refused_any<T: Debug>(result: Result<T>, what: &str) {
    refused(
        result,
        &["Conflict", "AlreadyExists", "InvalidArgument", "NotFound"],
        what,
    );
}
