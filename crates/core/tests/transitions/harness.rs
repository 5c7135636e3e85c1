//! The harness every scenario goes through, and the builders of inputs that several areas
//! share. Helpers that only one area needs live in that area's module.

use std::time::Duration;

use keel_core::event::{ChildInitiated, EventKind, ParentClosePolicy};
use keel_core::reuse::ReusePolicy;
use keel_core::{
    Blob, Command, Completion, CompletionResult, Effect, Event, Execution, ExecutionKey, Failure,
    FailureInfo, Outcome, Rejection, ScheduleActivity, Signal, StartParams, TaskQueue, Time,
};

pub(crate) const T0: i64 = 1_700_000_000_000_000_000;

pub(crate) const WORKER: &str = "worker";

/// A workflow task a worker holds: what its token names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct WfTask {
    pub(crate) scheduled: i64,
    pub(crate) started: i64,
    pub(crate) attempt: i32,
}

/// An activity attempt a worker holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ActTask {
    pub(crate) scheduled: i64,
    pub(crate) attempt: i32,
}

/// One run, a fake clock, and everything the accepted transitions produced. Every input goes
/// through [`Harness::apply`], which works on a copy and keeps it only when accepted, as the
/// engine does, and checks that a rejection changed nothing.
pub(crate) struct Harness {
    pub(crate) ex: Execution,
    pub(crate) now: Time,
    pub(crate) events: Vec<Event>,
    /// Effects of the last accepted transition.
    pub(crate) effects: Vec<Effect>,
    /// Every ended attempt the transitions reported, in order.
    pub(crate) attempts: Vec<keel_core::attempts::EndedAttempt>,
}

impl Harness {
    pub(crate) fn start() -> Harness {
        Harness::start_with(params())
    }

    pub(crate) fn start_with(params: StartParams) -> Harness {
        Harness::start_delayed(params, None, Duration::ZERO)
    }

    /// A start with SignalWithStart's signal and a start delay.
    pub(crate) fn start_delayed(
        params: StartParams,
        signal: Option<Signal>,
        delay: Duration,
    ) -> Harness {
        let now = Time(T0);
        let options = keel_core::StartOptions {
            signal,
            start_delay: delay,
            ..Default::default()
        };
        let (ex, outcome) =
            Execution::start_with(key(), params, options, now).expect("start accepted");
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

    pub(crate) fn apply<T>(
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

    pub(crate) fn record(&mut self, outcome: Outcome) {
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

    pub(crate) fn take_workflow_task(&mut self) -> WfTask {
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

    pub(crate) fn running_workflow_task(&self) -> WfTask {
        let task = self.ex.workflow_task.as_ref().expect("a workflow task");
        WfTask {
            scheduled: task.scheduled_event_id,
            started: task.started.as_ref().expect("started").event_id,
            attempt: task.attempt,
        }
    }

    pub(crate) fn complete(&mut self, commands: Vec<Command>) -> CompletionResult {
        self.complete_with(Completion {
            commands,
            ..completion()
        })
    }

    pub(crate) fn complete_with(&mut self, completion: Completion) -> CompletionResult {
        let task = self.running_workflow_task();
        self.respond(task, completion).expect("completion accepted")
    }

    pub(crate) fn respond(
        &mut self,
        task: WfTask,
        completion: Completion,
    ) -> Result<CompletionResult, Rejection> {
        self.apply(|ex, now| {
            ex.complete_workflow_task(task.scheduled, task.started, task.attempt, completion, now)
        })
    }

    pub(crate) fn fail_workflow_task(&mut self, cause: i32) {
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

    pub(crate) fn take_activity(&mut self, activity_id: &str) -> ActTask {
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

    pub(crate) fn complete_activity(&mut self, task: ActTask, result: &str) {
        self.apply(|ex, now| {
            unit(ex.complete_activity(task.scheduled, task.attempt, blob(result), WORKER, now))
        })
        .expect("activity completion accepted");
    }

    pub(crate) fn fail_activity(&mut self, task: ActTask, failure: Failure) {
        self.apply(|ex, now| {
            unit(ex.fail_activity(task.scheduled, task.attempt, failure, None, WORKER, now))
        })
        .expect("activity failure accepted");
    }

    pub(crate) fn heartbeat(&mut self, task: ActTask, details: &str) -> bool {
        self.apply(|ex, now| {
            ex.heartbeat_activity(task.scheduled, task.attempt, blob(details), now)
        })
        .expect("heartbeat accepted")
    }

    /// Moves the clock and fires whatever came due, as the engine's timer wheel does.
    pub(crate) fn advance(&mut self, by: Duration) {
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

    pub(crate) fn history(&self) -> Vec<&'static str> {
        self.events.iter().map(|e| e.kind.name()).collect()
    }

    /// Names of the events after `id`.
    pub(crate) fn history_after(&self, id: i64) -> Vec<&'static str> {
        self.history()[id as usize..].to_vec()
    }

    pub(crate) fn last_id(&self) -> i64 {
        self.events.len() as i64
    }

    pub(crate) fn event(&self, id: i64) -> &EventKind {
        &self.events[id as usize - 1].kind
    }

    /// The id of the last event with this name.
    pub(crate) fn last(&self, name: &str) -> i64 {
        self.events
            .iter()
            .rev()
            .find(|e| e.kind.name() == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.history()))
            .id
    }
}

pub(crate) fn unit(result: Result<Outcome, Rejection>) -> Result<(Outcome, ()), Rejection> {
    result.map(|outcome| (outcome, ()))
}

pub(crate) fn key() -> ExecutionKey {
    ExecutionKey {
        namespace: "default".into(),
        workflow_id: "wf-1".into(),
        run_id: "run-1".into(),
    }
}

pub(crate) fn params() -> StartParams {
    StartParams {
        workflow_type: "Greeter".into(),
        task_queue: "tq".into(),
        identity: "client".into(),
        request_id: "start-req".into(),
        ..Default::default()
    }
}

pub(crate) fn completion() -> Completion {
    Completion {
        identity: WORKER.into(),
        ..Default::default()
    }
}

/// The run's WorkflowExecutionStarted event.
pub(crate) fn started_event(h: &Harness) -> &keel_core::WorkflowStarted {
    match h.event(1) {
        EventKind::WorkflowExecutionStarted(started) => started,
        other => panic!("{other:?}"),
    }
}

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub(crate) fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) fn blob(s: &str) -> Option<Blob> {
    Some(Blob(s.as_bytes().to_vec()))
}

pub(crate) fn app_failure(message: &str, failure_type: &str, non_retryable: bool) -> Failure {
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

pub(crate) fn spec(activity_id: &str) -> ScheduleActivity {
    ScheduleActivity {
        activity_id: activity_id.into(),
        activity_type: "Greet".into(),
        start_to_close_timeout: secs(10),
        ..Default::default()
    }
}

pub(crate) fn schedule(spec: ScheduleActivity) -> Command {
    Command::ScheduleActivity(spec)
}

pub(crate) fn activity(activity_id: &str) -> Command {
    schedule(spec(activity_id))
}

pub(crate) fn timer(timer_id: &str, after: Duration) -> Command {
    Command::StartTimer {
        timer_id: timer_id.into(),
        start_to_fire_timeout: after,
    }
}

pub(crate) fn complete_workflow() -> Command {
    Command::CompleteWorkflow {
        result: blob("done"),
    }
}

pub(crate) fn normal_queue() -> TaskQueue {
    TaskQueue::normal("tq")
}

pub(crate) fn not_found<T: std::fmt::Debug>(result: Result<T, Rejection>) {
    match result {
        Err(Rejection::NotFound(_)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

/// Starts a run and completes its first workflow task with `commands`.
pub(crate) fn started_with(commands: Vec<Command>) -> Harness {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete(commands);
    h
}

/// WT1 schedules activity a1 and timer t (1s) and forces a new task; a1 is taken, then WT2.
pub(crate) fn with_events_buffered() -> Harness {
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

pub(crate) fn signal(name: &str, request_id: &str) -> Signal {
    Signal {
        name: name.into(),
        input: blob(name),
        identity: "client".into(),
        request_id: request_id.into(),
        ..Signal::default()
    }
}

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
pub(crate) fn follow(h: &Harness, next_run_id: &str) -> Harness {
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

pub(crate) fn child_command(workflow_id: &str, policy: ParentClosePolicy) -> Command {
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
