//! Scenario tests of the core state machine, I/O-free, through one small harness: an
//! execution, a fake clock, and the history the accepted transitions wrote.

use std::time::Duration;

use keel_core::command::{
    ContinueAsNewSpec, ExternalCancelSpec, ExternalSignalSpec, ExternalTarget,
};
use keel_core::event::{ChildInitiated, ChildOutcome, EventKind, ParentClosePolicy};
use keel_core::requests::external_failed_cause;
use keel_core::reuse::{ConflictPolicy, CurrentRun, ReusePolicy, StartDecision, decide_start};
use keel_core::transition::failed_cause;
use keel_core::updates::UpdateMessage;
use keel_core::{
    ActivityState, Blob, CancelRequest, Command, Completion, CompletionResult, Deadline, Effect,
    Event, Execution, ExecutionKey, ExternalOutcome, Failure, FailureInfo, Outcome, ParentStart,
    QueueKind, Rejection, RetryPolicy, RetryState, ScheduleActivity, Signal, StartParams, Status,
    Stickiness, TaskQueue, TaskRef, Time, TimeoutType,
};

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

const T0: i64 = 1_700_000_000_000_000_000;
const WORKER: &str = "worker";

/// A workflow task a worker holds: what its token names.
#[derive(Clone, Copy, Debug, PartialEq)]
struct WfTask {
    scheduled: i64,
    started: i64,
    attempt: i32,
}

/// An activity attempt a worker holds.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ActTask {
    scheduled: i64,
    attempt: i32,
}

/// One run, a fake clock, and everything the accepted transitions produced. Every input goes
/// through [`Harness::apply`], which works on a copy and keeps it only when accepted, as the
/// engine does, and checks that a rejection changed nothing.
struct Harness {
    ex: Execution,
    now: Time,
    events: Vec<Event>,
    /// Effects of the last accepted transition.
    effects: Vec<Effect>,
    /// Every ended attempt the transitions reported, in order.
    attempts: Vec<keel_core::attempts::EndedAttempt>,
}

impl Harness {
    fn start() -> Harness {
        Harness::start_with(params())
    }

    fn start_with(params: StartParams) -> Harness {
        let now = Time(T0);
        let (ex, outcome) = Execution::start(key(), params, now).expect("start accepted");
        assert_eq!(ex.version, 1);
        let mut h = Harness {
            ex,
            now,
            events: Vec::new(),
            effects: Vec::new(),
            attempts: Vec::new(),
        };
        h.record(outcome);
        h
    }

    fn apply<T>(
        &mut self,
        input: impl FnOnce(&mut Execution, Time) -> Result<(Outcome, T), Rejection>,
    ) -> Result<T, Rejection> {
        let mut copy = self.ex.clone();
        match input(&mut copy, self.now) {
            Ok((outcome, value)) if outcome == Outcome::default() && copy == self.ex => {
                // Accepted without changing anything (a repeated request).
                self.effects.clear();
                Ok(value)
            }
            Ok((outcome, value)) => {
                assert_eq!(
                    copy.version,
                    self.ex.version + 1,
                    "one transition, one version"
                );
                self.ex = copy;
                self.record(outcome);
                Ok(value)
            }
            Err(rejection) => {
                assert_eq!(copy, self.ex, "a rejection must leave no trace");
                Err(rejection)
            }
        }
    }

    fn record(&mut self, outcome: Outcome) {
        for event in outcome.events {
            assert_eq!(event.id, self.events.len() as i64 + 1, "ids are contiguous");
            assert!(
                self.events.last().is_none_or(|e| !e.kind.is_close()),
                "{} appended after the run closed",
                event.kind.name()
            );
            self.events.push(event);
        }
        assert_eq!(self.ex.next_event_id, self.events.len() as i64 + 1);
        self.effects = outcome.effects;
        self.attempts.extend(outcome.attempts);
    }

    fn take_workflow_task(&mut self) -> WfTask {
        let task = self
            .ex
            .workflow_task
            .clone()
            .expect("a workflow task is pending");
        assert!(task.started.is_none(), "the workflow task is already taken");
        let (scheduled, attempt) = (task.scheduled_event_id, task.attempt);
        self.apply(|ex, now| unit(ex.start_workflow_task(scheduled, attempt, WORKER, "req", now)))
            .expect("workflow task start accepted");
        self.running_workflow_task()
    }

    fn running_workflow_task(&self) -> WfTask {
        let task = self.ex.workflow_task.as_ref().expect("a workflow task");
        WfTask {
            scheduled: task.scheduled_event_id,
            started: task.started.as_ref().expect("started").event_id,
            attempt: task.attempt,
        }
    }

    fn complete(&mut self, commands: Vec<Command>) -> CompletionResult {
        self.complete_with(Completion {
            commands,
            ..completion()
        })
    }

    fn complete_with(&mut self, completion: Completion) -> CompletionResult {
        let task = self.running_workflow_task();
        self.respond(task, completion).expect("completion accepted")
    }

    fn respond(
        &mut self,
        task: WfTask,
        completion: Completion,
    ) -> Result<CompletionResult, Rejection> {
        self.apply(|ex, now| {
            ex.complete_workflow_task(task.scheduled, task.started, task.attempt, completion, now)
        })
    }

    fn fail_workflow_task(&mut self, cause: i32) {
        let task = self.running_workflow_task();
        self.apply(|ex, now| {
            unit(ex.fail_workflow_task(
                task.scheduled,
                task.started,
                task.attempt,
                cause,
                Some(app_failure("workflow panicked", "Panic", false)),
                WORKER,
                now,
            ))
        })
        .expect("workflow task failure accepted");
    }

    fn take_activity(&mut self, activity_id: &str) -> ActTask {
        let activity = self
            .ex
            .activity_by_id(activity_id)
            .expect("pending activity");
        let task = ActTask {
            scheduled: activity.scheduled_event_id,
            attempt: activity.attempt,
        };
        self.apply(|ex, now| {
            unit(ex.start_activity(task.scheduled, task.attempt, WORKER, "act-req", now))
        })
        .expect("activity start accepted");
        task
    }

    fn complete_activity(&mut self, task: ActTask, result: &str) {
        self.apply(|ex, now| {
            unit(ex.complete_activity(task.scheduled, task.attempt, blob(result), WORKER, now))
        })
        .expect("activity completion accepted");
    }

    fn fail_activity(&mut self, task: ActTask, failure: Failure) {
        self.apply(|ex, now| {
            unit(ex.fail_activity(task.scheduled, task.attempt, failure, None, WORKER, now))
        })
        .expect("activity failure accepted");
    }

    fn heartbeat(&mut self, task: ActTask, details: &str) -> bool {
        self.apply(|ex, now| {
            ex.heartbeat_activity(task.scheduled, task.attempt, blob(details), now)
        })
        .expect("heartbeat accepted")
    }

    /// Moves the clock and fires whatever came due, as the engine's timer wheel does.
    fn advance(&mut self, by: Duration) {
        self.now = self.now.plus(by);
        let mut copy = self.ex.clone();
        match copy.fire_deadlines(self.now) {
            Some(outcome) => {
                assert_eq!(copy.version, self.ex.version + 1);
                self.ex = copy;
                self.record(outcome);
            }
            None => {
                assert_eq!(copy, self.ex, "nothing due, nothing changed");
                self.effects.clear();
            }
        }
    }

    fn history(&self) -> Vec<&'static str> {
        self.events.iter().map(|e| e.kind.name()).collect()
    }

    /// Names of the events after `id`.
    fn history_after(&self, id: i64) -> Vec<&'static str> {
        self.history()[id as usize..].to_vec()
    }

    fn last_id(&self) -> i64 {
        self.events.len() as i64
    }

    fn event(&self, id: i64) -> &EventKind {
        &self.events[id as usize - 1].kind
    }

    /// The id of the last event with this name.
    fn last(&self, name: &str) -> i64 {
        self.events
            .iter()
            .rev()
            .find(|e| e.kind.name() == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.history()))
            .id
    }
}

fn unit(result: Result<Outcome, Rejection>) -> Result<(Outcome, ()), Rejection> {
    result.map(|outcome| (outcome, ()))
}

fn key() -> ExecutionKey {
    ExecutionKey {
        namespace: "default".into(),
        workflow_id: "wf-1".into(),
        run_id: "run-1".into(),
    }
}

fn params() -> StartParams {
    StartParams {
        workflow_type: "Greeter".into(),
        task_queue: "tq".into(),
        identity: "client".into(),
        request_id: "start-req".into(),
        ..Default::default()
    }
}

fn completion() -> Completion {
    Completion {
        identity: WORKER.into(),
        ..Default::default()
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn blob(s: &str) -> Option<Blob> {
    Some(Blob(s.as_bytes().to_vec()))
}

fn app_failure(message: &str, failure_type: &str, non_retryable: bool) -> Failure {
    Failure {
        message: message.into(),
        source: "TestSdk".into(),
        info: FailureInfo::Application {
            failure_type: failure_type.into(),
            non_retryable,
            next_retry_delay: None,
        },
        cause: None,
        original: Some(Blob(message.as_bytes().to_vec())),
    }
}

fn spec(activity_id: &str) -> ScheduleActivity {
    ScheduleActivity {
        activity_id: activity_id.into(),
        activity_type: "Greet".into(),
        start_to_close_timeout: secs(10),
        ..Default::default()
    }
}

fn schedule(spec: ScheduleActivity) -> Command {
    Command::ScheduleActivity(spec)
}

fn activity(activity_id: &str) -> Command {
    schedule(spec(activity_id))
}

fn timer(timer_id: &str, after: Duration) -> Command {
    Command::StartTimer {
        timer_id: timer_id.into(),
        start_to_fire_timeout: after,
    }
}

fn complete_workflow() -> Command {
    Command::CompleteWorkflow {
        result: blob("done"),
    }
}

fn policy(maximum_attempts: i32, non_retryable: &[&str]) -> Option<RetryPolicy> {
    Some(RetryPolicy {
        initial_interval: Duration::ZERO,
        backoff_coefficient: 0.0,
        maximum_interval: Duration::ZERO,
        maximum_attempts,
        non_retryable_error_types: non_retryable.iter().map(|s| s.to_string()).collect(),
    })
}

fn normal_queue() -> TaskQueue {
    TaskQueue::normal("tq")
}

fn not_found<T: std::fmt::Debug>(result: Result<T, Rejection>) {
    match result {
        Err(Rejection::NotFound(_)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

fn timeout_type_of(failure: &Failure) -> TimeoutType {
    match &failure.info {
        FailureInfo::Timeout { timeout_type, .. } => *timeout_type,
        other => panic!("expected a timeout failure, got {other:?}"),
    }
}

/// The retry deadline of an activity, if it is backing off.
fn retry_deadline(ex: &Execution, scheduled: i64) -> Option<(Time, i32)> {
    ex.deadlines().into_iter().find_map(|(at, d)| match d {
        Deadline::ActivityRetry {
            scheduled_event_id,
            attempt,
        } if scheduled_event_id == scheduled => Some((at, attempt)),
        _ => None,
    })
}

/// Starts a run and completes its first workflow task with `commands`.
fn started_with(commands: Vec<Command>) -> Harness {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete(commands);
    h
}

// ---------------------------------------------------------------------------------------------
// Activities
// ---------------------------------------------------------------------------------------------

#[test]
fn what_a_run_is_on_follows_its_activities_timers_and_finally_waits_for_input() {
    use keel_core::overview::Doing;
    let mut h = Harness::start();
    assert_eq!(h.ex.doing(), Some(Doing::Deciding));
    h.take_workflow_task();
    h.complete(vec![activity("a1"), activity("a2")]);
    let on_activity = |attempt, backing_off| Doing::Activity {
        activity_type: spec("a1").activity_type,
        attempt,
        backing_off,
        others: 1,
    };
    assert_eq!(h.ex.doing(), Some(on_activity(1, false)));
    let first = h.take_activity("a1");
    h.fail_activity(first, app_failure("boom", "Flaky", false));
    assert_eq!(h.ex.doing(), Some(on_activity(2, true)));
    h.advance(secs(1));
    let second = h.take_activity("a1");
    h.complete_activity(second, "ok");
    let other = h.take_activity("a2");
    h.complete_activity(other, "ok");
    assert_eq!(
        h.ex.doing(),
        Some(Doing::Deciding),
        "the results go to the workflow"
    );
    h.take_workflow_task();
    h.complete(vec![timer("t1", secs(60)), timer("t2", secs(5))]);
    assert_eq!(
        h.ex.doing(),
        Some(Doing::Timer {
            fires_at: h.now.plus(secs(5)),
            others: 1
        })
    );
    h.advance(secs(5));
    h.take_workflow_task();
    h.complete(vec![Command::CancelTimer {
        timer_id: "t1".into(),
    }]);
    assert_eq!(
        h.ex.doing(),
        Some(Doing::WaitingForInput),
        "nothing it scheduled is open: only a signal, update or cancellation moves it"
    );
}

#[test]
fn one_activity_writes_started_and_completed_together() {
    let mut h = Harness::start();
    assert_eq!(
        h.history(),
        ["WorkflowExecutionStarted", "WorkflowTaskScheduled"]
    );
    assert_eq!(
        h.effects,
        [Effect::DispatchWorkflowTask(TaskRef {
            queue: normal_queue(),
            scheduled_event_id: 2,
            attempt: 1
        })]
    );
    let wft = h.take_workflow_task();
    assert_eq!(
        wft,
        WfTask {
            scheduled: 2,
            started: 3,
            attempt: 1
        }
    );
    h.complete(vec![activity("a1")]);
    assert_eq!(
        h.history_after(2),
        [
            "WorkflowTaskStarted",
            "WorkflowTaskCompleted",
            "ActivityTaskScheduled"
        ]
    );
    match h.event(5) {
        EventKind::ActivityTaskScheduled(s) => {
            assert_eq!(s.activity_id, "a1");
            assert_eq!(s.task_queue, "tq", "defaults to the workflow's queue");
            assert_eq!(s.workflow_task_completed_event_id, 4);
            assert_eq!(s.start_to_close_timeout, secs(10));
            assert_eq!(s.retry_policy, keel_core::default_retry_policy(None));
            assert_eq!(s.retry_policy.initial_interval, secs(1));
            assert_eq!(s.retry_policy.backoff_coefficient, 2.0);
            assert_eq!(s.retry_policy.maximum_interval, secs(100));
            assert_eq!(s.retry_policy.maximum_attempts, 0);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.effects,
        [Effect::DispatchActivityTask(TaskRef {
            queue: normal_queue(),
            scheduled_event_id: 5,
            attempt: 1
        })]
    );

    let a1 = h.take_activity("a1");
    assert_eq!(h.last_id(), 5, "taking an attempt writes nothing");
    assert!(h.effects.is_empty());
    h.advance(secs(3));
    h.complete_activity(a1, "hello");
    assert_eq!(
        h.history_after(5),
        [
            "ActivityTaskStarted",
            "ActivityTaskCompleted",
            "WorkflowTaskScheduled"
        ]
    );
    assert_eq!(
        h.event(6),
        &EventKind::ActivityTaskStarted {
            scheduled_event_id: 5,
            identity: WORKER.into(),
            request_id: "act-req".into(),
            attempt: 1,
            last_failure: None,
        }
    );
    assert_eq!(
        h.event(7),
        &EventKind::ActivityTaskCompleted {
            result: blob("hello"),
            scheduled_event_id: 5,
            started_event_id: 6,
            identity: WORKER.into(),
        }
    );
    assert_eq!(
        h.effects,
        [Effect::DispatchWorkflowTask(TaskRef {
            queue: normal_queue(),
            scheduled_event_id: 8,
            attempt: 1
        })]
    );

    h.take_workflow_task();
    h.complete(vec![complete_workflow()]);
    assert_eq!(
        h.history_after(8),
        [
            "WorkflowTaskStarted",
            "WorkflowTaskCompleted",
            "WorkflowExecutionCompleted"
        ]
    );
    assert_eq!(
        h.event(11),
        &EventKind::WorkflowExecutionCompleted {
            result: blob("done"),
            workflow_task_completed_event_id: 10,
            new_execution_run_id: String::new(),
        }
    );
    assert_eq!(h.ex.status, Status::Completed);
    assert_eq!(h.ex.close_time, Some(h.now));
    assert!(h.ex.deadlines().is_empty());
    assert!(h.effects.is_empty());
}

/// Temporal writes an attempt's ActivityTaskStarted with the time the attempt started,
/// although the event is appended only when the attempt ends (`addTransientActivityStartedEvent`
/// overwrites the event time with `ActivityInfo.StartedTime`).
#[test]

fn activity_started_event_carries_the_attempt_start_time() {
    let mut h = started_with(vec![activity("a1")]);
    h.advance(secs(1));
    let started_at = h.now;
    let a1 = h.take_activity("a1");
    h.advance(secs(3));
    h.complete_activity(a1, "hello");
    let started = &h.events[h.last("ActivityTaskStarted") as usize - 1];
    assert_eq!(started.time, started_at);
}

#[test]
fn activity_failing_twice_then_succeeding_writes_only_the_last_attempt() {
    let mut h = started_with(vec![activity("a1")]);
    let scheduled = h.last("ActivityTaskScheduled");
    let first = app_failure("boom 1", "Flaky", false);
    let second = app_failure("boom 2", "Flaky", false);

    let attempt1 = h.take_activity("a1");
    assert_eq!(attempt1.attempt, 1);
    h.fail_activity(attempt1, first.clone());
    assert_eq!(h.last_id(), scheduled, "a retried failure writes nothing");
    assert!(
        h.effects.is_empty(),
        "nothing to dispatch while backing off"
    );
    let activity = &h.ex.activities[&scheduled];
    assert_eq!(activity.state, ActivityState::Backoff);
    assert_eq!(activity.last_failure.as_ref(), Some(&first));
    assert_eq!(
        retry_deadline(&h.ex, scheduled),
        Some((h.now.plus(secs(1)), 2)),
        "first backoff is the initial interval"
    );
    not_found(h.apply(|ex, now| unit(ex.start_activity(scheduled, 2, WORKER, "r", now))));

    h.advance(millis(999));
    assert!(h.effects.is_empty());
    h.advance(millis(1));
    assert_eq!(
        h.effects,
        [Effect::DispatchActivityTask(TaskRef {
            queue: normal_queue(),
            scheduled_event_id: scheduled,
            attempt: 2
        })]
    );
    assert_eq!(h.last_id(), scheduled, "a retry writes nothing");

    let attempt2 = h.take_activity("a1");
    assert_eq!(attempt2.attempt, 2);
    not_found(h.apply(|ex, now| unit(ex.complete_activity(scheduled, 1, None, WORKER, now))));
    h.fail_activity(attempt2, second.clone());
    assert_eq!(
        retry_deadline(&h.ex, scheduled),
        Some((h.now.plus(secs(2)), 3)),
        "second backoff doubles"
    );
    h.advance(millis(1999));
    assert!(h.effects.is_empty());
    h.advance(millis(1));
    assert_eq!(h.effects.len(), 1);

    let attempt3 = h.take_activity("a1");
    assert_eq!(attempt3.attempt, 3);
    h.complete_activity(attempt3, "third time lucky");
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskCompleted",
            "WorkflowTaskScheduled"
        ]
    );
    let started = h.last("ActivityTaskStarted");
    assert_eq!(
        h.event(started),
        &EventKind::ActivityTaskStarted {
            scheduled_event_id: scheduled,
            identity: WORKER.into(),
            request_id: "act-req".into(),
            attempt: 3,
            last_failure: Some(second),
        }
    );
    match h.event(started + 1) {
        EventKind::ActivityTaskCompleted {
            started_event_id, ..
        } => assert_eq!(*started_event_id, started),
        other => panic!("{other:?}"),
    }
    // The two earlier attempts are reported beside the history, each with its times, its
    // worker, its failure and the end of its backoff.
    let summary: Vec<_> = h
        .attempts
        .iter()
        .map(|a| {
            (
                a.scheduled_event_id,
                a.attempt,
                a.started_time.is_some(),
                a.worker.as_str(),
                a.failure.message.as_str(),
                a.retry_time > a.end_time,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (scheduled, 1, true, WORKER, "boom 1", true),
            (scheduled, 2, true, WORKER, "boom 2", true),
        ]
    );
    assert!(h.attempts[0].end_time < h.attempts[1].scheduled_time);
    assert_eq!(h.attempts[0].retry_time, h.attempts[1].scheduled_time);
    assert!(h.ex.activities.is_empty());
}

#[test]
fn backoff_follows_the_policy_and_is_capped() {
    let policy = RetryPolicy {
        initial_interval: secs(1),
        backoff_coefficient: 2.0,
        maximum_interval: secs(5),
        maximum_attempts: 0,
        non_retryable_error_types: vec![],
    };
    let delays: Vec<_> = (1..=5).map(|a| keel_core::backoff(&policy, a)).collect();
    assert_eq!(delays, [secs(1), secs(2), secs(4), secs(5), secs(5)]);
    let default = keel_core::default_retry_policy(None);
    assert_eq!(keel_core::backoff(&default, 1), secs(1));
    assert_eq!(keel_core::backoff(&default, 2), secs(2));
    assert_eq!(keel_core::backoff(&default, 30), secs(100));
}

#[test]
fn application_requested_retry_delay_wins() {
    let mut h = started_with(vec![activity("a1")]);
    let scheduled = h.last("ActivityTaskScheduled");
    let a1 = h.take_activity("a1");
    let mut failure = app_failure("later", "Busy", false);
    failure.info = FailureInfo::Application {
        failure_type: "Busy".into(),
        non_retryable: false,
        next_retry_delay: Some(secs(7)),
    };
    h.fail_activity(a1, failure);
    assert_eq!(
        retry_deadline(&h.ex, scheduled),
        Some((h.now.plus(secs(7)), 2))
    );
}

#[test]
fn start_to_close_timeout_is_retried() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        start_to_close_timeout: secs(5),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    let a1 = h.take_activity("a1");
    h.advance(millis(4999));
    assert!(matches!(
        h.ex.activities[&scheduled].state,
        ActivityState::Started { .. }
    ));
    h.advance(millis(1));
    assert_eq!(h.last_id(), scheduled, "a retried timeout writes nothing");
    let activity = &h.ex.activities[&scheduled];
    assert_eq!(activity.attempt, 2);
    assert_eq!(activity.state, ActivityState::Backoff);
    assert_eq!(
        retry_deadline(&h.ex, scheduled),
        Some((h.now.plus(secs(1)), 2))
    );
    // The worker that lost the attempt can no longer report on it.
    not_found(
        h.apply(|ex, now| unit(ex.complete_activity(a1.scheduled, a1.attempt, None, WORKER, now))),
    );

    h.advance(secs(1));
    let a1 = h.take_activity("a1");
    assert_eq!(a1.attempt, 2);
    h.complete_activity(a1, "ok");
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskCompleted",
            "WorkflowTaskScheduled"
        ]
    );
    match h.event(scheduled + 1) {
        EventKind::ActivityTaskStarted {
            attempt,
            last_failure: Some(failure),
            ..
        } => {
            assert_eq!(*attempt, 2);
            assert_eq!(timeout_type_of(failure), TimeoutType::StartToClose);
            assert_eq!(failure.source, "Server");
            assert_eq!(failure.message, "activity StartToClose timeout");
            assert_eq!(failure.cause, None);
        }
        other => panic!("{other:?}"),
    }
}

/// Temporal keeps the bare timeout as an attempt's last failure and attaches the previous
/// failure as cause only on the final ActivityTaskTimedOut event; a timed-out attempt's last
/// failure must not nest all earlier ones.
#[test]
fn repeated_timeouts_do_not_nest_last_failures() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        start_to_close_timeout: secs(1),
        retry_policy: policy(4, &[]),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    for attempt in 1..=3 {
        let a = h.take_activity("a1");
        assert_eq!(a.attempt, attempt);
        h.advance(secs(1)); // start-to-close
        let last = h.ex.activities[&scheduled].last_failure.clone().unwrap();
        assert_eq!(timeout_type_of(&last), TimeoutType::StartToClose);
        assert_eq!(last.cause, None, "attempt {attempt}'s last failure nests");
        h.advance(secs(10)); // any backoff
    }
    h.take_activity("a1");
    h.advance(secs(1));
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskTimedOut",
            "WorkflowTaskScheduled"
        ]
    );
    match h.event(scheduled + 2) {
        EventKind::ActivityTaskTimedOut {
            failure,
            retry_state,
            ..
        } => {
            assert_eq!(*retry_state, RetryState::MaximumAttemptsReached);
            let cause = failure.cause.as_deref().expect("the previous failure");
            assert_eq!(timeout_type_of(cause), TimeoutType::StartToClose);
            assert_eq!(cause.cause, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_retryable_failures_are_not_retried() {
    let mut h = started_with(vec![
        schedule(ScheduleActivity {
            retry_policy: policy(0, &["Fatal"]),
            ..spec("by-type")
        }),
        activity("by-flag"),
    ]);
    let by_type = h.ex.activity_by_id("by-type").unwrap().scheduled_event_id;
    let by_flag = h.ex.activity_by_id("by-flag").unwrap().scheduled_event_id;
    let a = h.take_activity("by-type");
    let b = h.take_activity("by-flag");
    let listed = app_failure("no way", "Fatal", false);
    let flagged = app_failure("never", "Whatever", true);

    let before = h.last_id();
    h.fail_activity(a, listed.clone());
    assert_eq!(
        h.history_after(before),
        [
            "ActivityTaskStarted",
            "ActivityTaskFailed",
            "WorkflowTaskScheduled"
        ]
    );
    assert_eq!(
        h.event(before + 1),
        &EventKind::ActivityTaskStarted {
            scheduled_event_id: by_type,
            identity: WORKER.into(),
            request_id: "act-req".into(),
            attempt: 1,
            last_failure: None,
        }
    );
    assert_eq!(
        h.event(before + 2),
        &EventKind::ActivityTaskFailed {
            failure: listed,
            scheduled_event_id: by_type,
            started_event_id: before + 1,
            identity: WORKER.into(),
            retry_state: RetryState::NonRetryableFailure,
        }
    );

    let before = h.last_id();
    h.fail_activity(b, flagged.clone());
    assert_eq!(
        h.history_after(before),
        ["ActivityTaskStarted", "ActivityTaskFailed"],
        "a workflow task is already pending"
    );
    assert_eq!(
        h.event(before + 2),
        &EventKind::ActivityTaskFailed {
            failure: flagged,
            scheduled_event_id: by_flag,
            started_event_id: before + 1,
            identity: WORKER.into(),
            retry_state: RetryState::NonRetryableFailure,
        }
    );
    assert!(h.ex.activities.is_empty());
}

#[test]
fn maximum_attempts_reached() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        retry_policy: policy(2, &[]),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    let first = app_failure("boom 1", "Flaky", false);
    let second = app_failure("boom 2", "Flaky", false);
    let a = h.take_activity("a1");
    h.fail_activity(a, first.clone());
    assert_eq!(h.last_id(), scheduled);
    h.advance(secs(1));
    let a = h.take_activity("a1");
    assert_eq!(a.attempt, 2);
    h.fail_activity(a, second.clone());
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskFailed",
            "WorkflowTaskScheduled"
        ]
    );
    match (h.event(scheduled + 1), h.event(scheduled + 2)) {
        (
            EventKind::ActivityTaskStarted {
                attempt,
                last_failure,
                ..
            },
            EventKind::ActivityTaskFailed {
                failure,
                retry_state,
                started_event_id,
                ..
            },
        ) => {
            assert_eq!(*attempt, 2);
            assert_eq!(last_failure.as_ref(), Some(&first));
            assert_eq!(failure, &second);
            assert_eq!(*retry_state, RetryState::MaximumAttemptsReached);
            assert_eq!(*started_event_id, scheduled + 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn failure_whose_retry_would_pass_schedule_to_close_ends_with_timeout() {
    // Start-to-close defaults to schedule-to-close (3s).
    let mut h = started_with(vec![schedule(ScheduleActivity {
        start_to_close_timeout: Duration::ZERO,
        schedule_to_close_timeout: secs(3),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    match h.event(scheduled) {
        EventKind::ActivityTaskScheduled(s) => {
            assert_eq!(s.schedule_to_close_timeout, secs(3));
            assert_eq!(s.start_to_close_timeout, secs(3));
            assert_eq!(s.schedule_to_start_timeout, secs(3));
        }
        other => panic!("{other:?}"),
    }
    h.advance(millis(500));
    let a = h.take_activity("a1");
    h.fail_activity(a, app_failure("boom 1", "Flaky", false)); // retry at 1.5s < 3s
    assert_eq!(h.last_id(), scheduled);
    h.advance(secs(1));
    let a = h.take_activity("a1");
    h.advance(millis(500));
    h.fail_activity(a, app_failure("boom 2", "Flaky", false)); // 2s + 2s > 3s
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskFailed",
            "WorkflowTaskScheduled"
        ]
    );
    match h.event(scheduled + 2) {
        EventKind::ActivityTaskFailed { retry_state, .. } => {
            assert_eq!(*retry_state, RetryState::Timeout)
        }
        other => panic!("{other:?}"),
    }
}

/// Temporal reports a timed-out attempt that has no time left for a retry as a
/// schedule-to-close timeout with RetryState Timeout.
#[test]
fn timeout_whose_retry_would_pass_schedule_to_close_ends_with_timeout() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        start_to_close_timeout: secs(4),
        schedule_to_close_timeout: secs(10),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    h.take_activity("a1");
    h.advance(secs(4)); // attempt 1 times out; retry at 5s
    assert_eq!(h.last_id(), scheduled);
    h.advance(secs(1));
    h.take_activity("a1");
    h.advance(secs(4)); // attempt 2 times out at 9s; 9s + 2s > 10s
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskTimedOut",
            "WorkflowTaskScheduled"
        ]
    );
    match h.event(scheduled + 2) {
        EventKind::ActivityTaskTimedOut {
            failure,
            retry_state,
            started_event_id,
            ..
        } => {
            assert_eq!(*retry_state, RetryState::Timeout);
            assert_eq!(*started_event_id, scheduled + 1);
            assert_eq!(timeout_type_of(failure), TimeoutType::ScheduleToClose);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn schedule_to_close_expiry_ends_a_retrying_activity() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        start_to_close_timeout: secs(2),
        schedule_to_close_timeout: secs(5),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    h.take_activity("a1");
    h.advance(secs(2)); // start-to-close; retry at 3s
    h.advance(secs(1));
    h.advance(millis(500));
    h.take_activity("a1"); // its start-to-close would be at 5.5s
    h.advance(millis(1499));
    assert_eq!(h.last_id(), scheduled);
    h.advance(millis(1)); // 5s: schedule-to-close
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskTimedOut",
            "WorkflowTaskScheduled"
        ]
    );
    match (h.event(scheduled + 1), h.event(scheduled + 2)) {
        (
            EventKind::ActivityTaskStarted { attempt, .. },
            EventKind::ActivityTaskTimedOut {
                failure,
                retry_state,
                ..
            },
        ) => {
            assert_eq!(*attempt, 2);
            assert_eq!(timeout_type_of(failure), TimeoutType::ScheduleToClose);
            // Temporal: schedule-to-close timeouts are not retryable.
            assert_eq!(*retry_state, RetryState::NonRetryableFailure);
            let cause = failure.cause.as_deref().expect("attempt 1's failure");
            assert_eq!(timeout_type_of(cause), TimeoutType::StartToClose);
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ex.activities.is_empty());
}

#[test]
fn schedule_to_start_timeout_without_a_worker() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        schedule_to_start_timeout: secs(3),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    h.advance(secs(3));
    assert_eq!(
        h.history_after(scheduled),
        ["ActivityTaskTimedOut", "WorkflowTaskScheduled"],
        "no attempt started, so no started event"
    );
    match h.event(scheduled + 1) {
        EventKind::ActivityTaskTimedOut {
            failure,
            started_event_id,
            ..
        } => {
            assert_eq!(*started_event_id, 0);
            assert_eq!(timeout_type_of(failure), TimeoutType::ScheduleToStart);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn heartbeat_timeout_carries_the_last_heartbeat_details() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        heartbeat_timeout: secs(2),
        retry_policy: policy(2, &[]),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    let a = h.take_activity("a1");
    h.advance(secs(1));
    assert!(!h.heartbeat(a, "step 1"), "no cancellation requested");
    h.advance(millis(1999));
    assert_eq!(
        h.ex.activities[&scheduled].attempt, 1,
        "the heartbeat pushed it back"
    );
    h.advance(millis(1)); // 3s: heartbeat timeout, retried
    let activity = &h.ex.activities[&scheduled];
    assert_eq!(activity.attempt, 2);
    let last = activity.last_failure.as_ref().unwrap();
    assert_eq!(timeout_type_of(last), TimeoutType::Heartbeat);
    assert_eq!(
        activity.heartbeat_details,
        blob("step 1"),
        "kept for the next attempt"
    );

    h.advance(secs(1));
    let a = h.take_activity("a1");
    h.advance(secs(1));
    h.heartbeat(a, "step 2");
    h.advance(secs(2));
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskTimedOut",
            "WorkflowTaskScheduled"
        ]
    );
    match h.event(scheduled + 2) {
        EventKind::ActivityTaskTimedOut {
            failure,
            retry_state,
            started_event_id,
            ..
        } => {
            assert_eq!(*retry_state, RetryState::MaximumAttemptsReached);
            assert_eq!(*started_event_id, scheduled + 1);
            assert_eq!(
                failure.info,
                FailureInfo::Timeout {
                    timeout_type: TimeoutType::Heartbeat,
                    last_heartbeat_details: blob("step 2"),
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn request_cancel_of_a_not_started_activity_cancels_at_once() {
    let mut h = started_with(vec![activity("a1"), timer("t", secs(1))]);
    let scheduled = h.ex.activity_by_id("a1").unwrap().scheduled_event_id;
    h.advance(secs(1));
    h.take_workflow_task();
    h.complete(vec![Command::RequestCancelActivity {
        scheduled_event_id: scheduled,
    }]);
    let completed = h.last("WorkflowTaskCompleted");
    assert_eq!(
        h.history_after(completed - 1),
        [
            "WorkflowTaskCompleted",
            "ActivityTaskCancelRequested",
            "ActivityTaskCanceled",
            "WorkflowTaskScheduled"
        ]
    );
    assert_eq!(
        h.event(completed + 1),
        &EventKind::ActivityTaskCancelRequested {
            scheduled_event_id: scheduled,
            workflow_task_completed_event_id: completed,
        }
    );
    match h.event(completed + 2) {
        EventKind::ActivityTaskCanceled {
            latest_cancel_requested_event_id,
            scheduled_event_id,
            started_event_id,
            identity,
            ..
        } => {
            assert_eq!(*latest_cancel_requested_event_id, completed + 1);
            assert_eq!(*scheduled_event_id, scheduled);
            assert_eq!(*started_event_id, 0);
            assert_eq!(identity, WORKER);
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ex.activities.is_empty());
    not_found(h.apply(|ex, now| unit(ex.start_activity(scheduled, 1, WORKER, "r", now))));
}

#[test]
fn request_cancel_of_a_running_activity_waits_for_the_worker() {
    let mut h = started_with(vec![activity("a1"), timer("t", secs(1))]);
    let scheduled = h.ex.activity_by_id("a1").unwrap().scheduled_event_id;
    let a = h.take_activity("a1");
    h.advance(secs(1));
    h.take_workflow_task();
    h.complete(vec![Command::RequestCancelActivity {
        scheduled_event_id: scheduled,
    }]);
    let requested = h.last("ActivityTaskCancelRequested");
    assert_eq!(
        h.last_id(),
        requested,
        "no workflow task until the worker answers"
    );
    assert!(h.heartbeat(a, "stopping"), "the heartbeat tells the worker");
    h.apply(|ex, now| unit(ex.cancel_activity(a.scheduled, a.attempt, blob("bye"), WORKER, now)))
        .unwrap();
    assert_eq!(
        h.history_after(requested),
        [
            "ActivityTaskStarted",
            "ActivityTaskCanceled",
            "WorkflowTaskScheduled"
        ]
    );
    assert_eq!(
        h.event(requested + 2),
        &EventKind::ActivityTaskCanceled {
            details: blob("bye"),
            latest_cancel_requested_event_id: requested,
            scheduled_event_id: scheduled,
            started_event_id: requested + 1,
            identity: WORKER.into(),
        }
    );
}

#[test]
fn cancelled_running_activity_that_fails_is_not_retried() {
    let mut h = started_with(vec![activity("a1"), timer("t", secs(1))]);
    let scheduled = h.ex.activity_by_id("a1").unwrap().scheduled_event_id;
    let a = h.take_activity("a1");
    h.advance(secs(1));
    h.take_workflow_task();
    h.complete(vec![Command::RequestCancelActivity {
        scheduled_event_id: scheduled,
    }]);
    let requested = h.last("ActivityTaskCancelRequested");
    h.fail_activity(a, app_failure("boom", "Flaky", false));
    match h.event(requested + 2) {
        EventKind::ActivityTaskFailed { retry_state, .. } => {
            assert_eq!(*retry_state, RetryState::CancelRequested)
        }
        other => panic!("{other:?}"),
    }
}

/// Two RequestCancelActivity commands for one activity no worker holds: the first cancels it
/// at once, so the second names an activity that no longer exists when it is applied.
#[test]
fn cancelling_the_same_unstarted_activity_twice_fails_the_task() {
    let mut h = started_with(vec![activity("a1"), timer("t", secs(1))]);
    let scheduled = h.ex.activity_by_id("a1").unwrap().scheduled_event_id;
    h.advance(secs(1));
    h.take_workflow_task();
    let before = h.last_id();
    let result = h.complete(vec![
        Command::RequestCancelActivity {
            scheduled_event_id: scheduled,
        },
        Command::RequestCancelActivity {
            scheduled_event_id: scheduled,
        },
    ]);
    assert!(result.command_error.is_some());
    // The retry is transient: not in history until it completes.
    assert_eq!(h.history_after(before), ["WorkflowTaskFailed"]);
    assert!(h.ex.workflow_task.as_ref().unwrap().transient);
    match h.event(before + 1) {
        EventKind::WorkflowTaskFailed { cause, .. } => {
            assert_eq!(*cause, failed_cause::BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES)
        }
        other => panic!("{other:?}"),
    }
    assert!(
        h.ex.activities.contains_key(&scheduled),
        "nothing was applied"
    );
}

// ---------------------------------------------------------------------------------------------
// Buffering
// ---------------------------------------------------------------------------------------------

/// WT1 schedules activity a1 and timer t (1s) and forces a new task; a1 is taken, then WT2.
fn with_events_buffered() -> Harness {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete_with(Completion {
        commands: vec![activity("a1"), timer("t", secs(1))],
        force_create_new_workflow_task: true,
        ..completion()
    });
    assert_eq!(
        h.history_after(3),
        [
            "WorkflowTaskCompleted",
            "ActivityTaskScheduled",
            "TimerStarted",
            "WorkflowTaskScheduled"
        ]
    );
    let a = h.take_activity("a1");
    let wft = h.take_workflow_task();
    assert_eq!(
        wft,
        WfTask {
            scheduled: 7,
            started: 8,
            attempt: 1
        }
    );
    h.advance(secs(1));
    h.complete_activity(a, "hi");
    assert_eq!(h.last_id(), 8, "events wait while the workflow task runs");
    assert_eq!(h.ex.buffered.len(), 3);
    h
}

#[test]
fn events_arriving_during_a_workflow_task_follow_its_completion() {
    let mut h = with_events_buffered();
    let result = h.complete(vec![]);
    assert_eq!(result.command_error, None);
    assert_eq!(
        h.history_after(8),
        [
            "WorkflowTaskCompleted",
            "TimerFired",
            "ActivityTaskStarted",
            "ActivityTaskCompleted",
            "WorkflowTaskScheduled"
        ]
    );
    assert_eq!(
        h.event(10),
        &EventKind::TimerFired {
            timer_id: "t".into(),
            started_event_id: 6,
        }
    );
    match (h.event(11), h.event(12)) {
        (
            EventKind::ActivityTaskStarted {
                scheduled_event_id, ..
            },
            EventKind::ActivityTaskCompleted {
                scheduled_event_id: completed_scheduled,
                started_event_id,
                ..
            },
        ) => {
            assert_eq!(*scheduled_event_id, 5);
            assert_eq!(*completed_scheduled, 5);
            assert_eq!(*started_event_id, 11, "refers to the flushed started event");
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ex.buffered.is_empty());
    assert_eq!(h.ex.workflow_task.as_ref().unwrap().scheduled_event_id, 13);
}

#[test]
fn closing_while_events_are_buffered_is_refused() {
    let mut h = with_events_buffered();
    let result = h.complete(vec![complete_workflow()]);
    assert!(result.command_error.is_some());
    assert_eq!(
        h.history_after(8),
        [
            "WorkflowTaskFailed",
            "TimerFired",
            "ActivityTaskStarted",
            "ActivityTaskCompleted",
            "WorkflowTaskScheduled"
        ]
    );
    match h.event(9) {
        EventKind::WorkflowTaskFailed {
            scheduled_event_id,
            started_event_id,
            cause,
            failure,
            identity,
            ..
        } => {
            assert_eq!((*scheduled_event_id, *started_event_id), (7, 8));
            assert_eq!(*cause, failed_cause::UNHANDLED_COMMAND);
            assert!(failure.is_some());
            assert_eq!(identity, WORKER);
        }
        other => panic!("{other:?}"),
    }
    match h.event(12) {
        EventKind::ActivityTaskCompleted {
            started_event_id, ..
        } => assert_eq!(*started_event_id, 11),
        other => panic!("{other:?}"),
    }
    match h.event(13) {
        EventKind::WorkflowTaskScheduled {
            attempt,
            task_queue,
            ..
        } => {
            assert_eq!(*attempt, 2);
            assert_eq!(task_queue, &normal_queue());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.ex.status, Status::Running);
    // The workflow sees the events and may close now.
    h.take_workflow_task();
    h.complete(vec![complete_workflow()]);
    assert_eq!(h.ex.status, Status::Completed);
    assert_eq!(h.history().last(), Some(&"WorkflowExecutionCompleted"));
}

/// Temporal (`AddActivityTaskCancelRequestedEvent`): an activity whose completion is buffered
/// may still be cancel-requested; the request is recorded and the completion follows.
#[test]

fn cancel_request_racing_a_buffered_completion_is_recorded() {
    let mut h = with_events_buffered();
    let result = h.complete(vec![Command::RequestCancelActivity {
        scheduled_event_id: 5,
    }]);
    assert_eq!(result.command_error, None);
    assert_eq!(
        h.history_after(8),
        [
            "WorkflowTaskCompleted",
            "ActivityTaskCancelRequested",
            "TimerFired",
            "ActivityTaskStarted",
            "ActivityTaskCompleted",
            "WorkflowTaskScheduled"
        ]
    );
}

/// Temporal (`AddTimerCanceledEvent` / `checkAndClearTimerFiredEvent`): canceling a timer whose
/// TimerFired is buffered drops the buffered event and records the cancellation.
#[test]

fn cancel_timer_racing_a_buffered_fire_wins() {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete_with(Completion {
        commands: vec![timer("t", secs(1))],
        force_create_new_workflow_task: true,
        ..completion()
    });
    let started = h.last("TimerStarted");
    h.take_workflow_task();
    h.advance(secs(1)); // t fires while the task runs: buffered
    assert_eq!(h.ex.buffered.len(), 1);
    let before = h.last_id();
    let result = h.complete(vec![Command::CancelTimer {
        timer_id: "t".into(),
    }]);
    assert_eq!(result.command_error, None);
    assert_eq!(
        h.history_after(before),
        ["WorkflowTaskCompleted", "TimerCanceled"]
    );
    match h.event(before + 2) {
        EventKind::TimerCanceled {
            started_event_id, ..
        } => assert_eq!(*started_event_id, started),
        other => panic!("{other:?}"),
    }
}

/// Temporal (`IsRetryable`): a timeout whose `TemporalTimeout:<type>` is listed in the
/// policy's non-retryable error types is not retried.
#[test]
fn listed_timeout_types_are_not_retried() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        start_to_close_timeout: secs(2),
        retry_policy: policy(0, &["TemporalTimeout:StartToClose"]),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    h.take_activity("a1");
    h.advance(secs(2));
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskTimedOut",
            "WorkflowTaskScheduled"
        ]
    );
}

/// Temporal (`IsRetryable`): canceled and terminated failures are never retried.
#[test]
fn canceled_failures_are_not_retried() {
    let mut h = started_with(vec![activity("a1")]);
    let scheduled = h.last("ActivityTaskScheduled");
    let a = h.take_activity("a1");
    let mut failure = app_failure("stopped", "", false);
    failure.info = FailureInfo::Canceled;
    h.fail_activity(a, failure);
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskFailed",
            "WorkflowTaskScheduled"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------------------------

#[test]
fn timers_start_fire_and_cancel() {
    let mut h = started_with(vec![timer("t1", secs(5)), timer("t2", secs(10))]);
    assert_eq!(
        h.history_after(3),
        ["WorkflowTaskCompleted", "TimerStarted", "TimerStarted"]
    );
    assert_eq!(
        h.event(5),
        &EventKind::TimerStarted {
            timer_id: "t1".into(),
            start_to_fire_timeout: secs(5),
            workflow_task_completed_event_id: 4,
        }
    );
    h.advance(millis(4999));
    assert_eq!(h.last_id(), 6);
    h.advance(millis(1));
    assert_eq!(h.history_after(6), ["TimerFired", "WorkflowTaskScheduled"]);
    assert_eq!(
        h.event(7),
        &EventKind::TimerFired {
            timer_id: "t1".into(),
            started_event_id: 5,
        }
    );

    h.take_workflow_task();
    h.complete(vec![Command::CancelTimer {
        timer_id: "t2".into(),
    }]);
    assert_eq!(
        h.history_after(9),
        ["WorkflowTaskCompleted", "TimerCanceled"],
        "canceling needs no new workflow task"
    );
    assert_eq!(
        h.event(11),
        &EventKind::TimerCanceled {
            timer_id: "t2".into(),
            started_event_id: 6,
            workflow_task_completed_event_id: 10,
            identity: WORKER.into(),
        }
    );
    assert!(h.ex.timers.is_empty());
    assert!(h.ex.deadlines().is_empty());
    h.advance(secs(60));
    assert_eq!(h.last_id(), 11, "a canceled timer never fires");
}

/// Temporal writes the identity of the worker that completed the workflow task on the
/// TimerCanceled and immediate ActivityTaskCanceled events, not whoever took a task last.
#[test]
fn cancel_events_carry_the_completing_workers_identity() {
    let mut h = started_with(vec![activity("a1"), activity("a2"), timer("t", secs(5))]);
    let a1 = h.ex.activity_by_id("a1").unwrap().scheduled_event_id;
    h.advance(secs(5));
    h.take_workflow_task();
    // Another worker takes an activity while the workflow task runs.
    let a2 = h.ex.activity_by_id("a2").unwrap().scheduled_event_id;
    h.apply(|ex, now| unit(ex.start_activity(a2, 1, "activity-worker", "r", now)))
        .unwrap();
    h.complete_with(Completion {
        commands: vec![
            Command::RequestCancelActivity {
                scheduled_event_id: a1,
            },
            timer("t2", secs(5)),
            Command::CancelTimer {
                timer_id: "t2".into(),
            },
        ],
        identity: "workflow-worker".into(),
        ..Default::default()
    });
    match h.event(h.last("ActivityTaskCanceled")) {
        EventKind::ActivityTaskCanceled { identity, .. } => assert_eq!(identity, "workflow-worker"),
        other => panic!("{other:?}"),
    }
    match h.event(h.last("TimerCanceled")) {
        EventKind::TimerCanceled { identity, .. } => assert_eq!(identity, "workflow-worker"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_timer_may_be_restarted_under_its_id_after_it_fired() {
    let mut h = started_with(vec![timer("t", secs(1))]);
    h.advance(secs(1));
    h.take_workflow_task();
    let result = h.complete(vec![timer("t", secs(1))]);
    assert_eq!(result.command_error, None);
    h.advance(secs(1));
    assert_eq!(
        h.history().iter().filter(|n| **n == "TimerFired").count(),
        2
    );
}

// ---------------------------------------------------------------------------------------------
// Workflow timeouts and termination
// ---------------------------------------------------------------------------------------------

#[test]
fn run_timeout_closes_the_run_and_nothing_follows() {
    let mut h = Harness::start_with(StartParams {
        workflow_run_timeout: secs(60),
        ..params()
    });
    match h.event(1) {
        EventKind::WorkflowExecutionStarted(s) => {
            assert_eq!(s.workflow_run_timeout, secs(60));
            assert_eq!(s.workflow_task_timeout, secs(10));
        }
        other => panic!("{other:?}"),
    }
    h.take_workflow_task();
    h.complete(vec![activity("a1"), timer("t", secs(120))]);
    let a = h.take_activity("a1");
    h.advance(millis(59_999));
    assert_eq!(h.ex.status, Status::Running);
    let before = h.last_id();
    h.advance(millis(1));
    assert_eq!(h.history_after(before), ["WorkflowExecutionTimedOut"]);
    assert_eq!(
        h.event(before + 1),
        &EventKind::WorkflowExecutionTimedOut {
            new_execution_run_id: String::new(),
            retry_state: RetryState::RetryPolicyNotSet,
        }
    );
    assert_eq!(h.ex.status, Status::TimedOut);
    assert!(h.ex.deadlines().is_empty());
    assert!(h.effects.is_empty());
    h.advance(secs(120));
    assert_eq!(h.last_id(), before + 1);
    not_found(
        h.apply(|ex, now| unit(ex.complete_activity(a.scheduled, a.attempt, None, WORKER, now))),
    );
    not_found(h.apply(|ex, now| unit(ex.terminate("late", None, "admin", now))));
}

#[test]
fn execution_timeout_ends_with_retry_state_timeout() {
    // Temporal: when the execution expiration is reached the run cannot be retried, and the
    // WorkflowExecutionTimedOut event carries RETRY_STATE_TIMEOUT.
    let mut h = Harness::start_with(StartParams {
        workflow_execution_timeout: secs(30),
        ..params()
    });
    match h.event(1) {
        EventKind::WorkflowExecutionStarted(s) => {
            assert_eq!(
                s.workflow_run_timeout,
                secs(30),
                "defaults to the execution timeout"
            );
            assert_eq!(s.execution_expiration_time, Some(Time(T0).plus(secs(30))));
        }
        other => panic!("{other:?}"),
    }
    h.advance(secs(30));
    assert_eq!(
        h.history(),
        [
            "WorkflowExecutionStarted",
            "WorkflowTaskScheduled",
            "WorkflowExecutionTimedOut"
        ]
    );
    assert_eq!(
        h.event(3),
        &EventKind::WorkflowExecutionTimedOut {
            retry_state: RetryState::Timeout,
            new_execution_run_id: String::new(),
        }
    );
}

#[test]
fn terminate_flushes_buffered_events_then_closes() {
    let mut h = with_events_buffered();
    let wft = h.running_workflow_task();
    h.apply(|ex, now| unit(ex.terminate("enough", blob("why"), "admin", now)))
        .unwrap();
    assert_eq!(
        h.history_after(8),
        [
            "TimerFired",
            "ActivityTaskStarted",
            "ActivityTaskCompleted",
            "WorkflowExecutionTerminated"
        ]
    );
    assert_eq!(
        h.event(12),
        &EventKind::WorkflowExecutionTerminated {
            reason: "enough".into(),
            details: blob("why"),
            identity: "admin".into(),
        }
    );
    assert_eq!(h.ex.status, Status::Terminated);
    assert!(h.ex.deadlines().is_empty());
    assert!(h.ex.workflow_task.is_none() && h.ex.activities.is_empty() && h.ex.timers.is_empty());
    not_found(h.apply(|ex, now| unit(ex.terminate("again", None, "admin", now))));
    not_found(h.respond(wft, completion()));
}

// ---------------------------------------------------------------------------------------------
// Workflow tasks
// ---------------------------------------------------------------------------------------------

#[test]
fn workflow_task_timeout_schedules_attempt_two_on_the_normal_queue() {
    let mut h = Harness::start_with(StartParams {
        workflow_task_timeout: secs(5),
        ..params()
    });
    let first = h.take_workflow_task();
    h.advance(millis(4999));
    assert_eq!(h.last_id(), 3);
    h.advance(millis(1));
    // As Temporal: the retry is transient, so nothing but the timeout is written yet.
    assert_eq!(h.history_after(3), ["WorkflowTaskTimedOut"]);
    assert_eq!(
        h.event(4),
        &EventKind::WorkflowTaskTimedOut {
            scheduled_event_id: 2,
            started_event_id: 3,
            timeout_type: TimeoutType::StartToClose,
        }
    );
    let pending = h.ex.workflow_task.clone().unwrap();
    assert!(pending.transient);
    assert_eq!((pending.scheduled_event_id, pending.attempt), (5, 2));
    assert_eq!(pending.task_queue, normal_queue());
    assert_eq!(
        h.effects,
        [Effect::DispatchWorkflowTask(TaskRef {
            queue: normal_queue(),
            scheduled_event_id: 5,
            attempt: 2
        })]
    );
    not_found(h.respond(first, completion()));
    let second = h.take_workflow_task();
    assert_eq!(
        (second.scheduled, second.started, second.attempt),
        (5, 6, 2)
    );
    assert_eq!(h.last_id(), 4, "taking a transient task writes nothing");
    let shown: Vec<&str> =
        h.ex.transient_events()
            .iter()
            .map(|e| e.kind.name())
            .collect();
    assert_eq!(
        shown,
        ["WorkflowTaskScheduled", "WorkflowTaskStarted"],
        "the worker is shown them"
    );
    h.fail_workflow_task(failed_cause::UNHANDLED_COMMAND);
    assert_eq!(
        h.last_id(),
        4,
        "a transient attempt's failure writes nothing"
    );
    let pending = h.ex.workflow_task.clone().unwrap();
    assert_eq!(
        (
            pending.scheduled_event_id,
            pending.attempt,
            pending.transient
        ),
        (5, 3, true)
    );
    h.take_workflow_task();
    h.complete(vec![complete_workflow()]);
    assert_eq!(
        h.history_after(4),
        [
            "WorkflowTaskScheduled",
            "WorkflowTaskStarted",
            "WorkflowTaskCompleted",
            "WorkflowExecutionCompleted"
        ]
    );
    match h.event(5) {
        EventKind::WorkflowTaskScheduled { attempt, .. } => assert_eq!(*attempt, 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_transient_task_gives_way_to_new_events() {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete(vec![timer("t1", secs(1)), timer("t2", secs(2))]);
    h.advance(secs(1));
    h.take_workflow_task();
    h.fail_workflow_task(failed_cause::UNHANDLED_COMMAND);
    let failed_at = h.last_id();
    let transient = h.ex.workflow_task.clone().unwrap();
    assert!(transient.transient);
    assert_eq!(transient.scheduled_event_id, failed_at + 1);
    // The second timer fires before any worker takes the transient task: the fire takes
    // its reserved id and an ordinary task follows.
    h.advance(secs(1));
    assert_eq!(
        h.history_after(failed_at),
        ["TimerFired", "WorkflowTaskScheduled"]
    );
    let task = h.ex.workflow_task.clone().unwrap();
    assert!(!task.transient);
    assert_eq!((task.scheduled_event_id, task.attempt), (failed_at + 2, 1));
    // The transient task, still in a queue somewhere, is stale.
    not_found(h.apply(|ex, now| {
        unit(ex.start_workflow_task(
            transient.scheduled_event_id,
            transient.attempt,
            WORKER,
            "req",
            now,
        ))
    }));
    h.take_workflow_task();
    h.complete(vec![complete_workflow()]);
    assert_eq!(h.ex.status, Status::Completed);
}

fn sticky() -> Stickiness {
    Stickiness {
        queue: "sticky-1".into(),
        schedule_to_start_timeout: secs(5),
    }
}

fn sticky_queue() -> TaskQueue {
    TaskQueue {
        name: "sticky-1".into(),
        kind: QueueKind::Sticky,
        normal_name: "tq".into(),
    }
}

/// A run whose worker asked for stickiness and whose next task is on the sticky queue.
fn with_sticky_task() -> Harness {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete_with(Completion {
        commands: vec![timer("t", secs(1))],
        stickiness: Some(sticky()),
        ..completion()
    });
    h.advance(secs(1));
    match h.event(h.last_id()) {
        EventKind::WorkflowTaskScheduled {
            task_queue,
            attempt,
            ..
        } => {
            assert_eq!(task_queue, &sticky_queue());
            assert_eq!(*attempt, 1);
        }
        other => panic!("{other:?}"),
    }
    h
}

#[test]
fn task_failing_on_a_sticky_queue_retries_attempt_one_on_the_normal_queue() {
    let mut h = with_sticky_task();
    h.take_workflow_task();
    let before = h.last_id();
    h.fail_workflow_task(14);
    assert_eq!(
        h.history_after(before),
        ["WorkflowTaskFailed", "WorkflowTaskScheduled"]
    );
    assert_eq!(
        h.event(before + 2),
        &EventKind::WorkflowTaskScheduled {
            task_queue: normal_queue(),
            start_to_close_timeout: secs(10),
            attempt: 1,
        }
    );
    assert_eq!(h.ex.stickiness, None);
}

#[test]
fn task_timing_out_on_a_sticky_queue_retries_attempt_one_on_the_normal_queue() {
    let mut h = with_sticky_task();
    h.take_workflow_task();
    h.advance(secs(10));
    let last = h.last_id();
    assert_eq!(
        h.history_after(last - 2),
        ["WorkflowTaskTimedOut", "WorkflowTaskScheduled"]
    );
    match h.event(last) {
        EventKind::WorkflowTaskScheduled {
            task_queue,
            attempt,
            ..
        } => {
            assert_eq!(task_queue, &normal_queue());
            assert_eq!(*attempt, 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sticky_task_not_taken_in_time_moves_to_the_normal_queue() {
    let mut h = with_sticky_task();
    let scheduled = h.last_id();
    h.advance(millis(4999));
    assert_eq!(h.last_id(), scheduled);
    h.advance(millis(1));
    assert_eq!(
        h.history_after(scheduled),
        ["WorkflowTaskTimedOut", "WorkflowTaskScheduled"]
    );
    assert_eq!(
        h.event(scheduled + 1),
        &EventKind::WorkflowTaskTimedOut {
            scheduled_event_id: scheduled,
            started_event_id: 0,
            timeout_type: TimeoutType::ScheduleToStart,
        }
    );
    match h.event(scheduled + 2) {
        EventKind::WorkflowTaskScheduled {
            task_queue,
            attempt,
            ..
        } => {
            assert_eq!(task_queue, &normal_queue());
            assert_eq!(*attempt, 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn clearing_stickiness_redispatches_the_pending_task_without_events() {
    let mut h = with_sticky_task();
    let scheduled = h.last_id();
    h.apply(|ex, now| Ok((ex.clear_stickiness(now), ())))
        .unwrap();
    assert_eq!(h.last_id(), scheduled);
    assert_eq!(
        h.effects,
        [Effect::DispatchWorkflowTask(TaskRef {
            queue: normal_queue(),
            scheduled_event_id: scheduled,
            attempt: 1
        })]
    );
    assert!(
        h.ex.deadlines().is_empty(),
        "no sticky schedule-to-start any more"
    );
    let task = h.take_workflow_task();
    assert_eq!(task.scheduled, scheduled);
}

#[test]
fn bad_commands_fail_the_task_and_the_run_continues() {
    let no_timeouts = ScheduleActivity {
        start_to_close_timeout: Duration::ZERO,
        ..spec("a1")
    };
    let cases: Vec<(&str, Vec<Command>, i32, &str)> = vec![
        (
            "duplicate activity id",
            vec![activity("a1"), activity("a1")],
            failed_cause::SCHEDULE_ACTIVITY_DUPLICATE_ID,
            "already in use",
        ),
        (
            "missing timeouts",
            vec![schedule(no_timeouts)],
            failed_cause::BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            "StartToClose or ScheduleToCloseTimeout",
        ),
        (
            "missing activity type",
            vec![schedule(ScheduleActivity {
                activity_type: String::new(),
                ..spec("a1")
            })],
            failed_cause::BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            "ActivityType",
        ),
        (
            "bad retry policy",
            vec![schedule(ScheduleActivity {
                retry_policy: Some(RetryPolicy {
                    backoff_coefficient: 0.5,
                    ..keel_core::default_retry_policy(None)
                }),
                ..spec("a1")
            })],
            failed_cause::BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            "BackoffCoefficient",
        ),
        (
            "cancel unknown timer",
            vec![Command::CancelTimer {
                timer_id: "nope".into(),
            }],
            failed_cause::BAD_CANCEL_TIMER_ATTRIBUTES,
            "nope",
        ),
        (
            "duplicate timer id",
            vec![timer("t", secs(1)), timer("t", secs(2))],
            failed_cause::START_TIMER_DUPLICATE_ID,
            "already in use",
        ),
        (
            "zero timer",
            vec![timer("t", Duration::ZERO)],
            failed_cause::BAD_START_TIMER_ATTRIBUTES,
            "StartToFireTimeout",
        ),
        (
            "cancel unknown activity",
            vec![Command::RequestCancelActivity {
                scheduled_event_id: 99,
            }],
            failed_cause::BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES,
            "99",
        ),
        (
            "command after complete",
            vec![complete_workflow(), timer("t", secs(1))],
            failed_cause::BAD_COMPLETE_WORKFLOW_EXECUTION_ATTRIBUTES,
            "last command",
        ),
        (
            "command after fail",
            vec![
                Command::FailWorkflow {
                    failure: app_failure("bye", "Bye", false),
                },
                activity("a1"),
            ],
            failed_cause::BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES,
            "last command",
        ),
        (
            "marker without a name",
            vec![Command::RecordMarker {
                marker_name: String::new(),
                details: Default::default(),
                header: None,
                failure: None,
            }],
            failed_cause::BAD_RECORD_MARKER_ATTRIBUTES,
            "MarkerName",
        ),
    ];
    for (name, commands, expected_cause, expected_message) in cases {
        let mut h = Harness::start();
        h.take_workflow_task();
        // A valid command before the bad one must not be applied either.
        let mut all = vec![timer("ok", secs(1))];
        all.extend(commands);
        let result = h.complete(all);
        let message = result
            .command_error
            .unwrap_or_else(|| panic!("{name}: accepted"));
        assert!(
            message.contains(expected_message),
            "{name}: message {message:?}"
        );
        assert_eq!(
            h.history(),
            [
                "WorkflowExecutionStarted",
                "WorkflowTaskScheduled",
                "WorkflowTaskStarted",
                "WorkflowTaskFailed",
            ],
            "{name}: the retry is transient"
        );
        match h.event(4) {
            EventKind::WorkflowTaskFailed {
                scheduled_event_id,
                started_event_id,
                cause,
                failure,
                ..
            } => {
                assert_eq!((*scheduled_event_id, *started_event_id), (2, 3), "{name}");
                assert_eq!(*cause, expected_cause, "{name}");
                assert_eq!(failure.as_ref().unwrap().message, message, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(
            h.ex.timers.is_empty() && h.ex.activities.is_empty(),
            "{name}"
        );
        assert_eq!(h.ex.status, Status::Running, "{name}");
        // The run goes on: the next attempt may close it.
        let retry = h.take_workflow_task();
        assert_eq!(retry.attempt, 2, "{name}");
        assert_eq!(h.complete(vec![complete_workflow()]).command_error, None);
        assert_eq!(h.ex.status, Status::Completed, "{name}");
    }
}

#[test]
fn a_duplicate_of_a_pending_activity_id_is_refused() {
    let mut h = started_with(vec![activity("a1"), timer("t", secs(1))]);
    h.advance(secs(1));
    h.take_workflow_task();
    let result = h.complete(vec![activity("a1")]);
    assert!(result.command_error.unwrap().contains("'a1'"));
    assert_eq!(h.ex.activities.len(), 1);
}

#[test]
fn unsupported_commands_fail_the_task() {
    let mut h = Harness::start();
    h.take_workflow_task();
    let result = h.complete(vec![Command::Unsupported {
        name: "StartChildWorkflowExecution".into(),
    }]);
    assert!(
        result
            .command_error
            .unwrap()
            .contains("StartChildWorkflowExecution")
    );
    assert_eq!(h.history()[3], "WorkflowTaskFailed");
    assert_eq!(h.ex.status, Status::Running);
}

#[test]
fn markers_search_attributes_and_memo_are_recorded() {
    let mut h = Harness::start();
    h.take_workflow_task();
    let details: keel_core::BlobMap = [("data".to_string(), Blob(b"1".to_vec()))].into();
    let attributes: keel_core::search::SearchAttributes = [(
        "Color".to_string(),
        keel_core::search::SearchAttribute {
            payload: Blob(b"red".to_vec()),
            value: Some(keel_core::search::SearchValue::Keyword("red".into())),
        },
    )]
    .into();
    h.complete(vec![
        Command::RecordMarker {
            marker_name: "Version".into(),
            details: details.clone(),
            header: None,
            failure: None,
        },
        Command::UpsertSearchAttributes {
            search_attributes: attributes.clone(),
        },
        Command::ModifyProperties {
            upserted_memo: details.clone(),
        },
    ]);
    assert_eq!(
        h.history_after(3),
        [
            "WorkflowTaskCompleted",
            "MarkerRecorded",
            "UpsertWorkflowSearchAttributes",
            "WorkflowPropertiesModified"
        ]
    );
    assert_eq!(h.ex.search_attributes, attributes);
    assert_eq!(h.ex.memo, details);
    assert!(
        h.ex.workflow_task.is_none(),
        "nothing for the workflow to react to"
    );
}

#[test]
fn stale_tokens_and_wrong_attempts_are_not_found() {
    let mut h = Harness::start();
    // Taking a task that does not exist, or with the wrong attempt.
    not_found(h.apply(|ex, now| unit(ex.start_workflow_task(2, 2, WORKER, "r", now))));
    not_found(h.apply(|ex, now| unit(ex.start_workflow_task(1, 1, WORKER, "r", now))));
    // Completing a task that is not started.
    not_found(h.respond(
        WfTask {
            scheduled: 2,
            started: 3,
            attempt: 1,
        },
        completion(),
    ));
    let task = h.take_workflow_task();
    // Taking it twice.
    not_found(h.apply(|ex, now| unit(ex.start_workflow_task(2, 1, WORKER, "r2", now))));
    for wrong in [
        WfTask { attempt: 2, ..task },
        WfTask { started: 4, ..task },
        WfTask {
            scheduled: 1,
            ..task
        },
    ] {
        not_found(h.respond(wrong, completion()));
        not_found(h.apply(|ex, now| {
            unit(ex.fail_workflow_task(
                wrong.scheduled,
                wrong.started,
                wrong.attempt,
                1,
                None,
                WORKER,
                now,
            ))
        }));
    }
    h.respond(
        task,
        Completion {
            commands: vec![activity("a1")],
            ..completion()
        },
    )
    .unwrap();
    // The same token again, now that the task is done.
    not_found(h.respond(task, completion()));

    let scheduled = h.last("ActivityTaskScheduled");
    not_found(h.apply(|ex, now| unit(ex.start_activity(scheduled, 2, WORKER, "r", now))));
    not_found(h.apply(|ex, now| unit(ex.start_activity(scheduled + 1, 1, WORKER, "r", now))));
    not_found(h.apply(|ex, now| unit(ex.complete_activity(scheduled, 1, None, WORKER, now))));
    not_found(h.apply(|ex, now| ex.heartbeat_activity(scheduled, 1, None, now)));
    let a = h.take_activity("a1");
    not_found(h.apply(|ex, now| unit(ex.start_activity(scheduled, 1, WORKER, "again", now))));
    not_found(h.apply(|ex, now| unit(ex.complete_activity(scheduled, 2, None, WORKER, now))));
    // Confirming a cancellation nobody requested (Temporal refuses it too).
    assert!(
        h.apply(|ex, now| unit(ex.cancel_activity(scheduled, 1, None, WORKER, now)))
            .is_err()
    );
    h.complete_activity(a, "done");
    not_found(h.apply(|ex, now| unit(ex.complete_activity(scheduled, 1, None, WORKER, now))));
    not_found(h.apply(|ex, now| {
        unit(ex.fail_activity(
            scheduled,
            1,
            app_failure("x", "X", false),
            None,
            WORKER,
            now,
        ))
    }));
    not_found(h.apply(|ex, now| ex.heartbeat_activity(scheduled, 1, None, now)));
}

#[test]
fn a_closed_run_refuses_everything() {
    let mut h = started_with(vec![activity("a1")]);
    let a = h.take_activity("a1");
    h.complete_activity(a, "x");
    let task = h.take_workflow_task();
    h.complete(vec![complete_workflow()]);
    assert_eq!(h.ex.status, Status::Completed);
    let closed = h.last_id();
    not_found(h.apply(|ex, now| unit(ex.start_workflow_task(task.scheduled, 1, WORKER, "r", now))));
    not_found(h.respond(task, completion()));
    not_found(h.apply(|ex, now| {
        unit(ex.fail_workflow_task(task.scheduled, task.started, 1, 1, None, WORKER, now))
    }));
    not_found(h.apply(|ex, now| unit(ex.start_activity(a.scheduled, 1, WORKER, "r", now))));
    not_found(h.apply(|ex, now| unit(ex.complete_activity(a.scheduled, 1, None, WORKER, now))));
    not_found(h.apply(|ex, now| ex.heartbeat_activity(a.scheduled, 1, None, now)));
    not_found(h.apply(|ex, now| unit(ex.terminate("x", None, "admin", now))));
    h.advance(secs(3600));
    assert_eq!(h.last_id(), closed);
}

#[test]
fn return_new_workflow_task_hands_back_a_started_task() {
    let mut h = Harness::start();
    h.take_workflow_task();
    let result = h.complete_with(Completion {
        commands: vec![timer("t", secs(1))],
        force_create_new_workflow_task: true,
        return_new_workflow_task: true,
        ..completion()
    });
    assert_eq!(
        h.history_after(3),
        [
            "WorkflowTaskCompleted",
            "TimerStarted",
            "WorkflowTaskScheduled",
            "WorkflowTaskStarted"
        ]
    );
    assert_eq!(
        result.new_task_started,
        Some(TaskRef {
            queue: normal_queue(),
            scheduled_event_id: 6,
            attempt: 1
        })
    );
    match h.event(7) {
        EventKind::WorkflowTaskStarted {
            scheduled_event_id,
            identity,
            ..
        } => {
            assert_eq!(*scheduled_event_id, 6);
            assert_eq!(identity, WORKER);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !h.effects
            .iter()
            .any(|e| matches!(e, Effect::DispatchWorkflowTask(_))),
        "a task handed back is not also dispatched"
    );
    let handed = WfTask {
        scheduled: 6,
        started: 7,
        attempt: 1,
    };
    assert_eq!(h.running_workflow_task(), handed);
    h.respond(
        handed,
        Completion {
            commands: vec![complete_workflow()],
            ..completion()
        },
    )
    .unwrap();
    assert_eq!(h.ex.status, Status::Completed);
}

#[test]
fn return_new_workflow_task_without_new_work_returns_nothing() {
    let mut h = Harness::start();
    h.take_workflow_task();
    let result = h.complete_with(Completion {
        commands: vec![timer("t", secs(1))],
        return_new_workflow_task: true,
        ..completion()
    });
    assert_eq!(result.new_task_started, None);
    assert!(h.ex.workflow_task.is_none());
}

#[test]
fn start_validates_and_defaults() {
    let refused = |params: StartParams| Execution::start(key(), params, Time(T0)).unwrap_err();
    assert!(matches!(
        refused(StartParams {
            workflow_type: String::new(),
            ..params()
        }),
        Rejection::InvalidArgument(_)
    ));
    assert!(matches!(
        refused(StartParams {
            task_queue: String::new(),
            ..params()
        }),
        Rejection::InvalidArgument(_)
    ));
    assert!(matches!(
        refused(StartParams {
            cron_schedule: "every now and then".into(),
            ..params()
        }),
        Rejection::InvalidArgument(message) if message.contains("invalid cron schedule")
    ));
    let h = Harness::start_with(StartParams {
        workflow_run_timeout: secs(3),
        ..params()
    });
    match h.event(1) {
        EventKind::WorkflowExecutionStarted(s) => {
            assert_eq!(
                s.workflow_task_timeout,
                secs(3),
                "capped by the run timeout"
            );
            assert_eq!(s.original_execution_run_id, "run-1");
            assert_eq!(s.attempt, 1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.ex.start_request_id, "start-req");
}

// ---------------------------------------------------------------------------------------------
// Starts: id reuse and conflicts
// ---------------------------------------------------------------------------------------------

fn current(status: Status) -> CurrentRun {
    CurrentRun {
        run_id: "run-1".into(),
        status,
        start_request_id: "first".into(),
    }
}

#[test]
fn decide_start_without_a_current_run_starts() {
    for reuse in ALL_REUSE {
        for conflict in ALL_CONFLICT {
            assert_eq!(
                decide_start("wf", "req", None, reuse, conflict),
                StartDecision::Start
            );
        }
    }
}

const ALL_REUSE: [ReusePolicy; 4] = [
    ReusePolicy::AllowDuplicate,
    ReusePolicy::AllowDuplicateFailedOnly,
    ReusePolicy::RejectDuplicate,
    ReusePolicy::TerminateIfRunning,
];
const ALL_CONFLICT: [ConflictPolicy; 3] = [
    ConflictPolicy::Fail,
    ConflictPolicy::UseExisting,
    ConflictPolicy::TerminateExisting,
];
const CLOSED: [Status; 5] = [
    Status::Completed,
    Status::Failed,
    Status::Canceled,
    Status::Terminated,
    Status::TimedOut,
];

#[test]
fn decide_start_dedups_a_retried_request_whatever_the_policy() {
    for status in CLOSED.iter().chain([&Status::Running]) {
        for reuse in ALL_REUSE {
            for conflict in ALL_CONFLICT {
                assert_eq!(
                    decide_start("wf", "first", Some(&current(*status)), reuse, conflict),
                    StartDecision::Existing {
                        run_id: "run-1".into(),
                        started: true
                    },
                    "{status:?} {reuse:?} {conflict:?}"
                );
            }
        }
    }
    // An empty request id never matches.
    let mut run = current(Status::Running);
    run.start_request_id = String::new();
    assert!(matches!(
        decide_start(
            "wf",
            "",
            Some(&run),
            ReusePolicy::AllowDuplicate,
            ConflictPolicy::Fail
        ),
        StartDecision::AlreadyStarted { .. }
    ));
}

#[test]
fn decide_start_while_running_follows_the_conflict_policy() {
    let running = current(Status::Running);
    for reuse in [
        ReusePolicy::AllowDuplicate,
        ReusePolicy::AllowDuplicateFailedOnly,
        ReusePolicy::RejectDuplicate,
    ] {
        match decide_start("wf", "second", Some(&running), reuse, ConflictPolicy::Fail) {
            StartDecision::AlreadyStarted {
                run_id,
                start_request_id,
                message,
            } => {
                assert_eq!(run_id, "run-1");
                assert_eq!(start_request_id, "first");
                assert!(message.contains("already running"), "{message}");
                assert!(message.contains("wf") && message.contains("run-1"));
            }
            other => panic!("{reuse:?}: {other:?}"),
        }
        assert_eq!(
            decide_start(
                "wf",
                "second",
                Some(&running),
                reuse,
                ConflictPolicy::UseExisting
            ),
            StartDecision::Existing {
                run_id: "run-1".into(),
                started: false
            }
        );
        assert_eq!(
            decide_start(
                "wf",
                "second",
                Some(&running),
                reuse,
                ConflictPolicy::TerminateExisting
            ),
            StartDecision::TerminateAndStart {
                run_id: "run-1".into()
            }
        );
    }
    // The legacy reuse policy terminates whatever the conflict policy says.
    for conflict in ALL_CONFLICT {
        assert_eq!(
            decide_start(
                "wf",
                "second",
                Some(&running),
                ReusePolicy::TerminateIfRunning,
                conflict
            ),
            StartDecision::TerminateAndStart {
                run_id: "run-1".into()
            }
        );
    }
}

#[test]
fn decide_start_after_close_follows_the_reuse_policy() {
    for status in CLOSED {
        let closed = current(status);
        for conflict in ALL_CONFLICT {
            let decide = |reuse| decide_start("wf", "second", Some(&closed), reuse, conflict);
            assert_eq!(decide(ReusePolicy::AllowDuplicate), StartDecision::Start);
            assert_eq!(
                decide(ReusePolicy::TerminateIfRunning),
                StartDecision::Start
            );
            match decide(ReusePolicy::RejectDuplicate) {
                StartDecision::AlreadyStarted { message, .. } => {
                    assert!(message.contains("reject duplicate"), "{message}")
                }
                other => panic!("{status:?}: {other:?}"),
            }
            match (status, decide(ReusePolicy::AllowDuplicateFailedOnly)) {
                (Status::Completed, StartDecision::AlreadyStarted { message, .. }) => {
                    assert!(message.contains("successfully"), "{message}")
                }
                (Status::Completed, other) => panic!("{other:?}"),
                (_, decision) => assert_eq!(decision, StartDecision::Start, "{status:?}"),
            }
        }
    }
}

fn retrying(maximum_attempts: i32) -> StartParams {
    StartParams {
        retry_policy: Some(RetryPolicy {
            initial_interval: secs(1),
            backoff_coefficient: 2.0,
            maximum_interval: Duration::ZERO,
            maximum_attempts,
            non_retryable_error_types: vec!["Fatal".into()],
        }),
        next_run_id: "run-2".into(),
        ..params()
    }
}

fn retry_effect(h: &Harness) -> keel_core::NextRun {
    match &h.effects[..] {
        [Effect::StartNextRun(retry)] => (**retry).clone(),
        other => panic!("expected one StartNextRun effect, got {other:?}"),
    }
}

#[test]
fn a_failed_run_with_a_retry_policy_continues_in_a_new_run_after_a_backoff() {
    let mut h = Harness::start_with(retrying(3));
    h.take_workflow_task();
    let failure = app_failure("boom", "Oops", false);
    h.complete(vec![Command::FailWorkflow {
        failure: failure.clone(),
    }]);
    match &h.events.last().unwrap().kind {
        EventKind::WorkflowExecutionFailed {
            retry_state,
            new_execution_run_id,
            ..
        } => {
            assert_eq!(*retry_state, RetryState::InProgress);
            assert_eq!(new_execution_run_id, "run-2");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.ex.status, Status::Failed);
    let retry = retry_effect(&h);
    assert_eq!(
        retry.backoff,
        secs(1),
        "first retry waits the initial interval"
    );
    assert_eq!(retry.started.continued_failure.as_ref(), Some(&failure));

    let (next, outcome) = Execution::start_next_run(&h.ex, &retry, "run-3".into(), h.now);
    assert_eq!(next.key.run_id, "run-2");
    assert_eq!(next.key.workflow_id, h.ex.key.workflow_id);
    assert_eq!(next.next_run_id, "run-3");
    assert_eq!(
        outcome.events.len(),
        1,
        "no workflow task before the backoff"
    );
    match &outcome.events[0].kind {
        EventKind::WorkflowExecutionStarted(started) => {
            assert_eq!(started.attempt, 2);
            assert_eq!(started.continued_execution_run_id, h.ex.key.run_id);
            assert_eq!(started.initiator, Some(keel_core::Initiator::Retry));
            assert_eq!(started.continued_failure.as_ref(), Some(&failure));
            assert_eq!(started.first_workflow_task_backoff, secs(1));
            assert_eq!(
                started.first_execution_run_id,
                h.ex.started.first_execution_run_id
            );
        }
        other => panic!("{other:?}"),
    }
    let mut next_run = Harness {
        ex: next,
        now: h.now,
        events: Vec::new(),
        effects: Vec::new(),
        attempts: Vec::new(),
    };
    next_run.record(outcome);
    assert_eq!(next_run.ex.deadlines()[0].1, Deadline::FirstWorkflowTask);
    next_run.advance(secs(1));
    assert_eq!(
        next_run.history(),
        ["WorkflowExecutionStarted", "WorkflowTaskScheduled"]
    );

    // The second run fails too; its backoff doubles; the third is the last allowed attempt.
    next_run.take_workflow_task();
    next_run.complete(vec![Command::FailWorkflow {
        failure: failure.clone(),
    }]);
    let retry = retry_effect(&next_run);
    assert_eq!(retry.backoff, secs(2));
    let (third, outcome) =
        Execution::start_next_run(&next_run.ex, &retry, "run-4".into(), next_run.now);
    let mut third_run = Harness {
        ex: third,
        now: next_run.now,
        events: Vec::new(),
        effects: Vec::new(),
        attempts: Vec::new(),
    };
    third_run.record(outcome);
    third_run.advance(secs(2));
    third_run.take_workflow_task();
    third_run.complete(vec![Command::FailWorkflow { failure }]);
    assert!(third_run.effects.is_empty(), "no fourth attempt");
    match &third_run.events.last().unwrap().kind {
        EventKind::WorkflowExecutionFailed {
            retry_state,
            new_execution_run_id,
            ..
        } => {
            assert_eq!(*retry_state, RetryState::MaximumAttemptsReached);
            assert!(new_execution_run_id.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_retryable_workflow_failures_end_the_chain() {
    let mut h = Harness::start_with(retrying(0));
    h.take_workflow_task();
    h.complete(vec![Command::FailWorkflow {
        failure: app_failure("bad", "Fatal", false),
    }]);
    assert!(h.effects.is_empty());
    match &h.events.last().unwrap().kind {
        EventKind::WorkflowExecutionFailed { retry_state, .. } => {
            assert_eq!(*retry_state, RetryState::NonRetryableFailure)
        }
        other => panic!("{other:?}"),
    }
    let mut h = Harness::start_with(retrying(0));
    h.take_workflow_task();
    h.complete(vec![Command::FailWorkflow {
        failure: app_failure("bad", "Oops", true),
    }]);
    assert!(
        h.effects.is_empty(),
        "a failure marked non-retryable is not retried"
    );
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete(vec![Command::FailWorkflow {
        failure: app_failure("bad", "Oops", false),
    }]);
    assert!(h.effects.is_empty(), "no policy, no retry");
}

#[test]
fn a_run_timeout_is_retried_but_the_execution_timeout_is_not() {
    let mut h = Harness::start_with(StartParams {
        workflow_run_timeout: secs(10),
        workflow_execution_timeout: secs(30),
        ..retrying(0)
    });
    h.take_workflow_task();
    h.complete(vec![timer("t", secs(60))]);
    h.advance(secs(10));
    match &h.events.last().unwrap().kind {
        EventKind::WorkflowExecutionTimedOut {
            retry_state,
            new_execution_run_id,
        } => {
            assert_eq!(*retry_state, RetryState::InProgress);
            assert_eq!(new_execution_run_id, "run-2");
        }
        other => panic!("{other:?}"),
    }
    let retry = retry_effect(&h);
    assert_eq!(retry.started.continued_failure, None);
    let (next, outcome) = Execution::start_next_run(&h.ex, &retry, "run-3".into(), h.now);
    assert_eq!(
        next.execution_expiration, h.ex.execution_expiration,
        "the execution timeout spans the chain"
    );
    assert_eq!(
        next.run_expiration,
        Some(h.now.plus(secs(11))),
        "the run timeout starts after the backoff"
    );
    let mut next_run = Harness {
        ex: next,
        now: h.now,
        events: Vec::new(),
        effects: Vec::new(),
        attempts: Vec::new(),
    };
    next_run.record(outcome);
    next_run.advance(secs(1));
    next_run.take_workflow_task();
    next_run.complete(vec![timer("t", secs(60))]);
    next_run.advance(secs(10));
    let retry = retry_effect(&next_run);
    let (last, outcome) =
        Execution::start_next_run(&next_run.ex, &retry, "run-4".into(), next_run.now);
    let mut last_run = Harness {
        ex: last,
        now: next_run.now,
        events: Vec::new(),
        effects: Vec::new(),
        attempts: Vec::new(),
    };
    last_run.record(outcome);
    last_run.advance(secs(2));
    last_run.take_workflow_task();
    last_run.complete(vec![timer("t", secs(60))]);
    last_run.advance(secs(10));
    match &last_run.events.last().unwrap().kind {
        EventKind::WorkflowExecutionTimedOut {
            retry_state,
            new_execution_run_id,
        } => {
            assert_eq!(
                *retry_state,
                RetryState::Timeout,
                "30 s of execution time are used up"
            );
            assert!(new_execution_run_id.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(last_run.effects.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Signals and cancellation requests
// ---------------------------------------------------------------------------------------------

fn signal(name: &str, request_id: &str) -> Signal {
    Signal {
        name: name.into(),
        input: blob(name),
        identity: "client".into(),
        request_id: request_id.into(),
        ..Signal::default()
    }
}

fn cancel_request() -> CancelRequest {
    CancelRequest {
        reason: "no longer needed".into(),
        identity: "client".into(),
        external: None,
    }
}

fn other_workflow() -> ExecutionKey {
    ExecutionKey {
        namespace: "default".into(),
        workflow_id: "other".into(),
        run_id: String::new(),
    }
}

fn signal_other(name: &str) -> Command {
    Command::SignalExternal(
        ExternalTarget {
            workflow_id: "other".into(),
            control: "ctl".into(),
            ..ExternalTarget::default()
        },
        ExternalSignalSpec {
            signal_name: name.into(),
            ..ExternalSignalSpec::default()
        },
    )
}

#[test]
fn a_signal_to_an_idle_workflow_schedules_a_task_to_handle_it() {
    let mut h = started_with(vec![]);
    let before = h.last_id();
    h.apply(|ex, now| unit(ex.signal(signal("go", "r1"), now)))
        .unwrap();
    assert_eq!(
        h.history_after(before),
        ["WorkflowExecutionSignaled", "WorkflowTaskScheduled"]
    );
    match h.event(before + 1) {
        EventKind::WorkflowExecutionSignaled {
            signal_name,
            input,
            identity,
            external,
            ..
        } => {
            assert_eq!(signal_name, "go");
            assert_eq!(*input, blob("go"));
            assert_eq!(identity, "client");
            assert_eq!(*external, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(h.effects[..], [Effect::DispatchWorkflowTask(_)]));
    // A second signal before the task is taken joins the same task.
    h.apply(|ex, now| unit(ex.signal(signal("again", "r2"), now)))
        .unwrap();
    assert_eq!(h.history_after(before + 2), ["WorkflowExecutionSignaled"]);
    assert!(h.effects.is_empty());
}

#[test]
fn a_retried_signal_is_recorded_once() {
    let mut h = started_with(vec![]);
    h.apply(|ex, now| unit(ex.signal(signal("go", "same"), now)))
        .unwrap();
    let length = h.last_id();
    h.apply(|ex, now| unit(ex.signal(signal("go", "same"), now)))
        .expect("a retry is accepted");
    assert_eq!(h.last_id(), length, "and not recorded again");
    // Without a request id every signal counts.
    h.apply(|ex, now| unit(ex.signal(signal("go", ""), now)))
        .unwrap();
    h.apply(|ex, now| unit(ex.signal(signal("go", ""), now)))
        .unwrap();
    assert_eq!(h.last_id(), length + 2);
}

#[test]
fn a_signal_during_a_workflow_task_waits_for_its_completion() {
    let mut h = started_with(vec![]);
    h.apply(|ex, now| unit(ex.signal(signal("first", ""), now)))
        .unwrap();
    h.take_workflow_task();
    h.apply(|ex, now| unit(ex.signal(signal("second", ""), now)))
        .unwrap();
    let completed = h.last_id() + 1;
    // The workflow has not seen "second": it may not close yet.
    let refused = h.complete(vec![complete_workflow()]);
    assert_eq!(
        h.event(completed).name(),
        "WorkflowTaskFailed",
        "{refused:?}"
    );
    assert_eq!(
        h.history_after(completed),
        ["WorkflowExecutionSignaled", "WorkflowTaskScheduled"]
    );
    h.take_workflow_task();
    h.complete(vec![complete_workflow()]);
    assert_eq!(h.ex.status, Status::Completed);
}

#[test]
fn signals_and_cancel_requests_to_a_closed_run_are_not_found() {
    let mut h = started_with(vec![complete_workflow()]);
    not_found(h.apply(|ex, now| unit(ex.signal(signal("late", ""), now))));
    not_found(h.apply(|ex, now| unit(ex.request_cancel(cancel_request(), now))));
}

#[test]
fn a_cancel_request_is_recorded_once_and_the_workflow_may_close_as_canceled() {
    let mut h = started_with(vec![timer("t", secs(60))]);
    let before = h.last_id();
    h.apply(|ex, now| unit(ex.request_cancel(cancel_request(), now)))
        .unwrap();
    assert_eq!(
        h.history_after(before),
        ["WorkflowExecutionCancelRequested", "WorkflowTaskScheduled"]
    );
    h.apply(|ex, now| unit(ex.request_cancel(cancel_request(), now)))
        .expect("asking again is accepted");
    assert_eq!(h.last_id(), before + 2, "and changes nothing");
    h.take_workflow_task();
    h.complete(vec![
        Command::CancelTimer {
            timer_id: "t".into(),
        },
        Command::CancelWorkflow {
            details: blob("cleaned up"),
        },
    ]);
    assert_eq!(h.ex.status, Status::Canceled);
    assert_eq!(
        h.history_after(before + 3),
        [
            "WorkflowTaskCompleted",
            "TimerCanceled",
            "WorkflowExecutionCanceled"
        ]
    );
    assert!(h.ex.deadlines().is_empty());
}

#[test]
fn signal_with_start_records_the_signal_before_the_first_task() {
    let (ex, outcome) =
        Execution::start_with_signal(key(), params(), Some(signal("hello", "req")), Time(T0))
            .unwrap();
    let names: Vec<_> = outcome.events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        names,
        [
            "WorkflowExecutionStarted",
            "WorkflowExecutionSignaled",
            "WorkflowTaskScheduled"
        ]
    );
    assert_eq!(ex.workflow_task.as_ref().unwrap().scheduled_event_id, 3);
    assert!(ex.signal_request_ids.contains("req"));
}

#[test]
fn a_signal_to_another_workflow_is_initiated_then_resolved_once() {
    let mut h = started_with(vec![signal_other("ping")]);
    let initiated = h.last("SignalExternalWorkflowExecutionInitiated");
    match h.event(initiated) {
        EventKind::SignalExternalWorkflowExecutionInitiated(signal) => {
            assert_eq!(signal.target, other_workflow(), "own namespace filled in");
            assert_eq!(signal.signal_name, "ping");
            assert_eq!(signal.control, "ctl");
        }
        other => panic!("{other:?}"),
    }
    assert!(h.effects.contains(&Effect::DeliverExternalRequest {
        initiated_event_id: initiated
    }));
    assert_eq!(h.ex.external_requests.len(), 1);
    let delivered = ExternalOutcome::Delivered {
        run_id: "target-run".into(),
    };
    h.apply(|ex, now| unit(ex.resolve_external_request(initiated, delivered.clone(), now)))
        .unwrap();
    assert_eq!(
        h.history_after(initiated),
        ["ExternalWorkflowExecutionSignaled", "WorkflowTaskScheduled"]
    );
    match h.event(initiated + 1) {
        EventKind::ExternalWorkflowExecutionSignaled {
            initiated_event_id,
            target,
            control,
        } => {
            assert_eq!(*initiated_event_id, initiated);
            assert_eq!(target.run_id, "target-run");
            assert_eq!(control, "ctl");
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ex.external_requests.is_empty());
    // A second report of the same delivery (after a crash) is refused and changes nothing.
    not_found(h.apply(|ex, now| unit(ex.resolve_external_request(initiated, delivered, now))));
}

#[test]
fn an_undeliverable_cancel_request_is_reported_to_the_workflow() {
    let mut h = started_with(vec![Command::RequestCancelExternal(
        ExternalTarget {
            namespace: "elsewhere".into(),
            workflow_id: "missing".into(),
            ..ExternalTarget::default()
        },
        ExternalCancelSpec::default(),
    )]);
    let initiated = h.last("RequestCancelExternalWorkflowExecutionInitiated");
    let failed = ExternalOutcome::Failed {
        cause: external_failed_cause::NAMESPACE_NOT_FOUND,
    };
    h.apply(|ex, now| unit(ex.resolve_external_request(initiated, failed, now)))
        .unwrap();
    match h.event(initiated + 1) {
        EventKind::RequestCancelExternalWorkflowExecutionFailed { cause, target, .. } => {
            assert_eq!(*cause, external_failed_cause::NAMESPACE_NOT_FOUND);
            assert_eq!(target.namespace, "elsewhere");
            assert_eq!(target.workflow_id, "missing");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn requests_to_other_workflows_need_a_workflow_id_and_a_signal_name() {
    let mut h = Harness::start();
    let task = h.take_workflow_task();
    let mut nameless = signal_other("");
    let result = h
        .respond(
            task,
            Completion {
                commands: vec![nameless.clone()],
                ..completion()
            },
        )
        .unwrap();
    assert!(result.command_error.unwrap().contains("SignalName"));
    let failed = h.last("WorkflowTaskFailed");
    match h.event(failed) {
        EventKind::WorkflowTaskFailed { cause, .. } => {
            assert_eq!(
                *cause,
                failed_cause::BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES
            )
        }
        other => panic!("{other:?}"),
    }
    if let Command::SignalExternal(target, spec) = &mut nameless {
        target.workflow_id.clear();
        spec.signal_name = "x".into();
    }
    let task = h.take_workflow_task();
    let result = h
        .respond(
            task,
            Completion {
                commands: vec![nameless],
                ..completion()
            },
        )
        .unwrap();
    assert!(result.command_error.unwrap().contains("WorkflowId"));
    assert!(h.ex.external_requests.is_empty());
}

#[test]
fn requests_not_yet_delivered_die_with_the_run() {
    let h = started_with(vec![signal_other("ping"), complete_workflow()]);
    assert_eq!(h.ex.status, Status::Completed);
    assert!(h.ex.external_requests.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Chains: continue-as-new and cron
// ---------------------------------------------------------------------------------------------

fn next_run_effect(h: &Harness) -> keel_core::NextRun {
    h.effects
        .iter()
        .find_map(|effect| match effect {
            Effect::StartNextRun(next) => Some((**next).clone()),
            _ => None,
        })
        .expect("a next run follows")
}

/// The next run of `h`'s chain, as the engine would create it.
fn follow(h: &Harness, next_run_id: &str) -> Harness {
    let next = next_run_effect(h);
    let (ex, outcome) = Execution::start_next_run(&h.ex, &next, next_run_id.into(), h.now);
    let mut run = Harness {
        ex,
        now: h.now,
        events: Vec::new(),
        effects: Vec::new(),
        attempts: Vec::new(),
    };
    run.record(outcome);
    run
}

fn started_event(h: &Harness) -> &keel_core::WorkflowStarted {
    match h.event(1) {
        EventKind::WorkflowExecutionStarted(started) => started,
        other => panic!("{other:?}"),
    }
}

#[test]
fn continue_as_new_closes_the_run_and_starts_the_next_with_new_input() {
    let mut h = Harness::start_with(StartParams {
        workflow_execution_timeout: secs(3600),
        workflow_run_timeout: secs(60),
        next_run_id: "run-2".into(),
        ..params()
    });
    h.take_workflow_task();
    h.complete(vec![Command::ContinueAsNew(Box::new(ContinueAsNewSpec {
        input: blob("round 2"),
        ..ContinueAsNewSpec::default()
    }))]);
    assert_eq!(h.ex.status, Status::ContinuedAsNew);
    match &h.events.last().unwrap().kind {
        EventKind::WorkflowExecutionContinuedAsNew(event) => {
            assert_eq!(event.new_execution_run_id, "run-2");
            assert_eq!(event.workflow_type, "Greeter");
            assert_eq!(event.input, blob("round 2"));
            assert_eq!(event.workflow_run_timeout, secs(60));
        }
        other => panic!("{other:?}"),
    }
    let next = follow(&h, "run-3");
    assert_eq!(next.ex.key.run_id, "run-2");
    assert_eq!(
        next.history(),
        ["WorkflowExecutionStarted", "WorkflowTaskScheduled"]
    );
    let started = started_event(&next);
    assert_eq!(started.input, blob("round 2"));
    assert_eq!(started.attempt, 1);
    assert_eq!(started.initiator, Some(keel_core::Initiator::Workflow));
    assert_eq!(started.continued_execution_run_id, h.ex.key.run_id);
    assert_eq!(
        started.first_execution_run_id,
        h.ex.started.first_execution_run_id
    );
    // The execution timeout spans the chain; the run timeout starts anew.
    assert_eq!(next.ex.execution_expiration, h.ex.execution_expiration);
    assert_eq!(next.ex.run_expiration, Some(h.now.plus(secs(60))));
}

#[test]
fn continue_as_new_must_be_the_last_command_and_wait_for_unseen_events() {
    let mut h = Harness::start_with(StartParams {
        next_run_id: "run-2".into(),
        ..params()
    });
    let task = h.take_workflow_task();
    let result = h
        .respond(
            task,
            Completion {
                commands: vec![Command::ContinueAsNew(Box::default()), timer("t", secs(1))],
                ..completion()
            },
        )
        .unwrap();
    assert!(result.command_error.is_some());
    assert!(h.ex.is_running());
    h.take_workflow_task();
    h.apply(|ex, now| unit(ex.signal(signal("late", ""), now)))
        .unwrap();
    h.complete(vec![Command::ContinueAsNew(Box::default())]);
    assert!(h.ex.is_running(), "the workflow must see the signal first");
}

#[test]
fn a_cron_workflow_waits_for_each_fire_and_hands_on_its_result() {
    // T0 is 22:13:20 UTC; "*/5 * * * *" fires at 22:15:00, 100 s later.
    let mut h = Harness::start_with(StartParams {
        cron_schedule: "*/5 * * * *".into(),
        next_run_id: "run-2".into(),
        ..params()
    });
    assert_eq!(
        h.history(),
        ["WorkflowExecutionStarted"],
        "no task before the first fire"
    );
    assert_eq!(started_event(&h).first_workflow_task_backoff, secs(100));
    // A signal during the wait is recorded but brings no early task.
    h.apply(|ex, now| unit(ex.signal(signal("early", ""), now)))
        .unwrap();
    assert_eq!(h.history_after(1), ["WorkflowExecutionSignaled"]);
    h.advance(secs(100));
    assert_eq!(h.history_after(2), ["WorkflowTaskScheduled"]);
    h.take_workflow_task();
    h.complete(vec![Command::CompleteWorkflow {
        result: blob("first"),
    }]);
    assert_eq!(h.ex.status, Status::Completed);
    match &h.events.last().unwrap().kind {
        EventKind::WorkflowExecutionCompleted {
            new_execution_run_id,
            ..
        } => assert_eq!(new_execution_run_id, "run-2"),
        other => panic!("{other:?}"),
    }
    let mut second = follow(&h, "run-3");
    assert_eq!(second.history(), ["WorkflowExecutionStarted"]);
    let started = started_event(&second);
    assert_eq!(started.initiator, Some(keel_core::Initiator::CronSchedule));
    assert_eq!(started.last_completion_result, blob("first"));
    assert_eq!(started.first_workflow_task_backoff, secs(300));
    assert_eq!(started.cron_schedule, "*/5 * * * *");
    // A failing cron run without a retry policy is followed by the next fire too, which
    // still knows the last good result.
    second.advance(secs(300));
    second.take_workflow_task();
    second.complete(vec![Command::FailWorkflow {
        failure: app_failure("bad luck", "Oops", false),
    }]);
    assert_eq!(second.ex.status, Status::Failed);
    let third = follow(&second, "run-4");
    let started = started_event(&third);
    assert_eq!(started.last_completion_result, blob("first"));
    assert!(started.continued_failure.is_some());
}

// ---------------------------------------------------------------------------------------------
// Child workflows
// ---------------------------------------------------------------------------------------------

fn child_command(workflow_id: &str, policy: ParentClosePolicy) -> Command {
    Command::StartChild(Box::new(ChildInitiated {
        namespace: String::new(),
        workflow_id: workflow_id.into(),
        workflow_type: "Kid".into(),
        task_queue: String::new(),
        input: None,
        workflow_execution_timeout: Duration::ZERO,
        workflow_run_timeout: Duration::ZERO,
        workflow_task_timeout: Duration::ZERO,
        parent_close_policy: policy,
        control: String::new(),
        workflow_task_completed_event_id: 0,
        workflow_id_reuse_policy: ReusePolicy::AllowDuplicate,
        retry_policy: None,
        cron_schedule: String::new(),
        header: Default::default(),
        memo: Default::default(),
        search_attributes: Default::default(),
    }))
}

#[test]
fn a_child_started_and_closed_while_the_parent_works_refers_to_the_right_events() {
    let mut h = started_with(vec![child_command("kid", ParentClosePolicy::Terminate)]);
    let initiated = h.last("StartChildWorkflowExecutionInitiated");
    assert!(h.effects.contains(&Effect::StartChild {
        initiated_event_id: initiated
    }));
    match h.event(initiated) {
        EventKind::StartChildWorkflowExecutionInitiated(child) => {
            assert_eq!(child.namespace, "default", "the parent's namespace");
            assert_eq!(child.task_queue, "tq", "the parent's queue");
        }
        other => panic!("{other:?}"),
    }
    // Both news arrive while a workflow task runs: buffered, then numbered on flush.
    h.apply(|ex, now| unit(ex.signal(signal("wake", ""), now)))
        .unwrap();
    h.take_workflow_task();
    h.apply(|ex, now| unit(ex.child_started(initiated, "kid-run", now)))
        .unwrap();
    let done = ChildOutcome::Completed { result: blob("ok") };
    h.apply(|ex, now| unit(ex.child_closed(initiated, "kid-run", done.clone(), now)))
        .unwrap();
    not_found(h.apply(|ex, now| unit(ex.child_started(initiated, "kid-run", now))));
    not_found(h.apply(|ex, now| unit(ex.child_closed(initiated, "kid-run", done, now))));
    h.complete(vec![]);
    let started = h.last("ChildWorkflowExecutionStarted");
    match h.event(h.last("ChildWorkflowExecutionCompleted")) {
        EventKind::ChildWorkflowExecutionClosed {
            initiated_event_id,
            started_event_id,
            execution,
            ..
        } => {
            assert_eq!(*initiated_event_id, initiated);
            assert_eq!(*started_event_id, started);
            assert_eq!(execution.run_id, "kid-run");
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ex.children.is_empty());
}

#[test]
fn a_closing_parent_hands_running_children_to_their_policies() {
    let mut h = started_with(vec![
        child_command("terminated", ParentClosePolicy::Terminate),
        child_command("cancelled", ParentClosePolicy::RequestCancel),
        child_command("abandoned", ParentClosePolicy::Abandon),
    ]);
    let first = h.last("StartChildWorkflowExecutionInitiated") - 2;
    h.apply(|ex, now| unit(ex.child_started(first, "t-run", now)))
        .unwrap();
    h.take_workflow_task();
    h.complete(vec![complete_workflow()]);
    let actions = h
        .effects
        .iter()
        .find_map(|effect| match effect {
            Effect::ApplyParentClosePolicies(actions) => Some(actions.clone()),
            _ => None,
        })
        .expect("policies to apply");
    let named: Vec<(&str, &str, ParentClosePolicy)> = actions
        .iter()
        .map(|a| {
            (
                a.child.workflow_id.as_str(),
                a.child.run_id.as_str(),
                a.policy,
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            ("terminated", "t-run", ParentClosePolicy::Terminate),
            ("cancelled", "", ParentClosePolicy::RequestCancel)
        ]
    );
}

#[test]
fn a_child_tells_its_parent_only_when_its_chain_ends() {
    let parent_key = ExecutionKey {
        namespace: "default".into(),
        workflow_id: "parent".into(),
        run_id: "parent-run".into(),
    };
    let mut h = Harness::start_with(StartParams {
        next_run_id: "run-2".into(),
        parent: Some(ParentStart {
            parent: keel_core::children::Parent {
                key: parent_key.clone(),
                initiated_event_id: 5,
                close_policy: ParentClosePolicy::Terminate,
            },
            root: parent_key.clone(),
        }),
        ..params()
    });
    h.take_workflow_task();
    h.complete(vec![Command::ContinueAsNew(Box::default())]);
    assert!(
        !h.effects
            .iter()
            .any(|e| matches!(e, Effect::NotifyParent(_))),
        "the next run carries on"
    );
    let mut next = follow(&h, "run-3");
    assert_eq!(
        next.ex.parent, h.ex.parent,
        "the parent link passes down the chain"
    );
    next.take_workflow_task();
    next.complete(vec![complete_workflow()]);
    let notice = next
        .effects
        .iter()
        .find_map(|effect| match effect {
            Effect::NotifyParent(notice) => Some(notice.clone()),
            _ => None,
        })
        .expect("the parent is told");
    assert_eq!(notice.parent, parent_key);
    assert_eq!(notice.initiated_event_id, 5);
    assert_eq!(
        notice.child.run_id, "run-1",
        "named by the chain's first run"
    );
    assert!(matches!(notice.outcome, ChildOutcome::Completed { .. }));
}

// ---------------------------------------------------------------------------------------------
// Updates
// ---------------------------------------------------------------------------------------------

fn accept(update_id: &str) -> (String, UpdateMessage) {
    (
        format!("{update_id}/accept"),
        UpdateMessage::Accept {
            update_id: update_id.into(),
            message_id: format!("{update_id}/request"),
            sequencing_event_id: 1,
            request: Blob(b"request".to_vec()),
        },
    )
}

fn respond(update_id: &str) -> (String, UpdateMessage) {
    (
        format!("{update_id}/respond"),
        UpdateMessage::Respond {
            update_id: update_id.into(),
            identity: WORKER.into(),
            outcome: Blob(b"outcome".to_vec()),
        },
    )
}

#[test]
fn an_update_is_carried_to_the_worker_then_accepted_and_completed_in_history() {
    let mut h = started_with(vec![]);
    h.apply(|ex, now| unit(ex.admit_update("u1", Blob(b"request".to_vec()), now)))
        .unwrap();
    assert_eq!(h.ex.admitted_updates().len(), 1);
    // Admitting the same id again changes nothing.
    h.apply(|ex, now| unit(ex.admit_update("u1", Blob(b"other".to_vec()), now)))
        .unwrap();
    h.take_workflow_task();
    let result = h.complete_with(Completion {
        messages: vec![accept("u1"), respond("u1")],
        ..completion()
    });
    assert!(result.rejected_updates.is_empty());
    let accepted = h.last("WorkflowExecutionUpdateAccepted");
    match h.event(h.last("WorkflowExecutionUpdateCompleted")) {
        EventKind::WorkflowExecutionUpdateCompleted {
            update_id,
            accepted_event_id,
            ..
        } => {
            assert_eq!(update_id, "u1");
            assert_eq!(*accepted_event_id, accepted);
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ex.admitted_updates().is_empty());
    assert!(
        h.ex.workflow_task.is_none(),
        "nothing left for the workflow to do"
    );
}

#[test]
fn a_rejected_update_leaves_no_update_events_and_its_outcome_goes_to_the_caller() {
    let mut h = started_with(vec![]);
    h.apply(|ex, now| unit(ex.admit_update("u1", Blob(b"request".to_vec()), now)))
        .unwrap();
    h.take_workflow_task();
    let result = h.complete_with(Completion {
        messages: vec![(
            "u1/reject".into(),
            UpdateMessage::Reject {
                update_id: "u1".into(),
                outcome: Blob(b"refused".to_vec()),
            },
        )],
        ..completion()
    });
    assert_eq!(
        result.rejected_updates,
        [("u1".to_owned(), Blob(b"refused".to_vec()))]
    );
    assert!(
        !h.history()
            .iter()
            .any(|name| name.starts_with("WorkflowExecutionUpdate"))
    );
    assert!(h.ex.updates.is_empty(), "the id may be used again");
}

#[test]
fn update_messages_must_follow_the_update_lifecycle() {
    let mut h = started_with(vec![]);
    h.apply(|ex, now| unit(ex.admit_update("u1", Blob(b"request".to_vec()), now)))
        .unwrap();
    let task = h.take_workflow_task();
    let refused = h
        .respond(
            task,
            Completion {
                messages: vec![respond("u1")],
                ..completion()
            },
        )
        .unwrap();
    assert!(refused.command_error.unwrap().contains("admitted"));
    match h.event(h.last("WorkflowTaskFailed")) {
        EventKind::WorkflowTaskFailed { cause, .. } => {
            assert_eq!(*cause, failed_cause::BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE)
        }
        other => panic!("{other:?}"),
    }
    let task = h.take_workflow_task();
    let unknown = h
        .respond(
            task,
            Completion {
                messages: vec![accept("nobody")],
                ..completion()
            },
        )
        .unwrap();
    assert!(unknown.command_error.unwrap().contains("not known"));
}

#[test]
fn an_update_arriving_during_a_workflow_task_keeps_the_workflow_from_closing_unseen() {
    let mut h = started_with(vec![]);
    h.apply(|ex, now| unit(ex.signal(signal("wake", ""), now)))
        .unwrap();
    h.take_workflow_task();
    h.apply(|ex, now| unit(ex.admit_update("late", Blob(b"request".to_vec()), now)))
        .unwrap();
    let refused = h.complete(vec![complete_workflow()]);
    assert!(refused.command_error.unwrap().contains("unhandled updates"));
    match h.event(h.last("WorkflowTaskFailed")) {
        EventKind::WorkflowTaskFailed { cause, .. } => {
            assert_eq!(*cause, failed_cause::UNHANDLED_UPDATE)
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ex.is_running());
}

fn reset_to(h: &Harness, point: i64) -> Result<(Execution, Outcome), Rejection> {
    h.ex.reset(
        &h.events,
        keel_core::reset::ResetRequest {
            workflow_task_finish_event_id: point,
            reason: "try again".into(),
            request_id: "reset-1".into(),
            new_run_id: "run-2".into(),
            next_run_id: "run-3".into(),
            reapply_signals: true,
        },
        h.now,
    )
}

#[test]
fn a_reset_copies_history_to_the_point_and_reapplies_later_signals() {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete(vec![activity("a")]); // 4 completed, 5 scheduled
    h.apply(|ex, now| unit(ex.signal(signal("go", "r1"), now)))
        .unwrap(); // 6 signaled, 7 task scheduled
    let task = h.take_activity("a");
    h.fail_activity(task, app_failure("boom", "Boom", true));
    h.take_workflow_task();
    h.complete(vec![Command::FailWorkflow {
        failure: app_failure("activity failed", "Boom", true),
    }]);
    assert_eq!(h.ex.status, Status::Failed);

    let (run, outcome) = reset_to(&h, 4).unwrap();
    let names: Vec<&str> = outcome.events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        names,
        [
            "WorkflowExecutionStarted",
            "WorkflowTaskScheduled",
            "WorkflowTaskStarted",
            "WorkflowTaskFailed",
            "WorkflowExecutionSignaled",
            "WorkflowTaskScheduled"
        ]
    );
    let ids: Vec<i64> = outcome.events.iter().map(|e| e.id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
    assert_eq!(outcome.events[..3], h.events[..3], "copied as they were");
    match &outcome.events[3].kind {
        EventKind::WorkflowTaskFailed {
            scheduled_event_id,
            started_event_id,
            cause,
            failure,
            base_run_id,
            new_run_id,
            ..
        } => {
            assert_eq!((*scheduled_event_id, *started_event_id), (2, 3));
            assert_eq!(*cause, keel_core::reset::RESET_WORKFLOW_CAUSE);
            assert_eq!(failure.as_ref().unwrap().message, "try again");
            assert_eq!(base_run_id, &h.ex.key.run_id);
            assert_eq!(new_run_id, "run-2");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run.key.run_id, "run-2");
    assert_eq!(run.status, Status::Running);
    assert_eq!(run.next_event_id, 7);
    assert!(run.activities.is_empty());
    assert_eq!(run.workflow_task.as_ref().unwrap().scheduled_event_id, 6);
    assert!(
        outcome
            .effects
            .iter()
            .any(|e| matches!(e, Effect::DispatchWorkflowTask(t) if t.scheduled_event_id == 6))
    );

    // After the activity closed there is nothing in flight either.
    let (_, outcome) = reset_to(&h, h.last("WorkflowTaskCompleted")).unwrap();
    assert_eq!(
        outcome.events.last().unwrap().kind.name(),
        "WorkflowTaskScheduled"
    );
}

#[test]
fn a_reset_refuses_points_that_are_not_workflow_tasks_and_takes_over_open_activities() {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete(vec![activity("a")]); // 4 completed, 5 activity scheduled
    h.apply(|ex, now| unit(ex.signal(signal("go", "r1"), now)))
        .unwrap(); // 6 signaled, 7 scheduled
    h.take_workflow_task(); // 8 started
    h.complete(vec![]); // 9 completed
    let refused = |point: i64| match reset_to(&h, point) {
        Err(Rejection::InvalidArgument(message)) => message,
        other => panic!("reset to {point}: {other:?}"),
    };
    assert!(refused(5).contains("event 5 is a ActivityTaskScheduled"));
    assert!(refused(99).contains("no event 99"));
    assert!(reset_to(&h, 4).is_ok());

    // At event 9 the activity is still open: the new run schedules it afresh.
    let (run, outcome) = reset_to(&h, 9).unwrap();
    let activity = &run.activities[&5];
    assert_eq!(activity.attempt, 1);
    assert_eq!(activity.scheduled.activity_id, "a");
    assert!(
        outcome
            .effects
            .iter()
            .any(|e| matches!(e, Effect::DispatchActivityTask(t) if t.scheduled_event_id == 5)),
        "{:?}",
        outcome.effects
    );
}

#[test]
fn a_reset_keeps_open_timers_and_refuses_open_children() {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete(vec![timer("t", Duration::from_secs(60))]); // 4 completed, 5 timer started
    let fire_time = h.ex.timers["t"].fire_time;
    h.apply(|ex, now| unit(ex.signal(signal("go", "r1"), now)))
        .unwrap(); // 6 signaled, 7 scheduled
    h.take_workflow_task(); // 8 started
    h.complete(vec![]); // 9 completed
    h.advance(Duration::from_secs(5));
    let (run, _) = reset_to(&h, 9).unwrap();
    assert_eq!(
        run.timers["t"].fire_time, fire_time,
        "the timer keeps its fire time"
    );
    assert_eq!(run.timers["t"].started_event_id, 5);

    // A child started before the point and still open there is not taken over.
    h.apply(|ex, now| unit(ex.signal(signal("again", "r2"), now)))
        .unwrap(); // 10 signaled, 11 scheduled
    h.take_workflow_task(); // 12 started
    h.complete(vec![child_command("kid", ParentClosePolicy::Abandon)]); // 13, 14 initiated
    h.apply(|ex, now| unit(ex.signal(signal("more", "r3"), now)))
        .unwrap(); // 15 signaled, 16 scheduled
    h.take_workflow_task(); // 17 started
    h.complete(vec![]); // 18 completed
    match reset_to(&h, 18) {
        Err(Rejection::InvalidArgument(message)) => assert!(
            message.contains("the StartChildWorkflowExecutionInitiated at event 14 is still open"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(reset_to(&h, 13).is_ok(), "before the child began");
}

#[test]
fn reset_points_name_the_first_last_and_last_failed_workflow_task() {
    use keel_core::reset::ResetPoint;
    let mut h = Harness::start();
    assert_eq!(
        ResetPoint::LastTask.find(&h.events),
        Err("the execution has no completed workflow task to reset to")
    );
    h.take_workflow_task();
    h.complete(vec![activity("a")]); // 4 completed, 5 scheduled
    assert_eq!(
        ResetPoint::LastFailedTask.find(&h.events),
        Err("the execution has no failed task run to reset to")
    );
    let task = h.take_activity("a");
    h.fail_activity(task, app_failure("boom", "Boom", true));
    h.take_workflow_task();
    h.complete(vec![activity("b")]);
    let last = h.last("WorkflowTaskCompleted");
    assert!(last > 4);
    assert_eq!(ResetPoint::FirstTask.find(&h.events), Ok(4));
    assert_eq!(ResetPoint::LastTask.find(&h.events), Ok(last));
    assert_eq!(
        ResetPoint::LastFailedTask.find(&h.events),
        Ok(4),
        "the task that scheduled the failed activity"
    );
    assert_eq!(ResetPoint::Event(7).find(&h.events), Ok(7));
    for name in ResetPoint::NAMES {
        assert!(ResetPoint::named(name).is_some(), "{name}");
    }
    assert_eq!(ResetPoint::named("latest"), None);
}
