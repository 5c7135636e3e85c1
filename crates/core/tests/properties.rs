//! Property tests: random sequences of inputs applied through the public API, the way the
//! engine applies them (to a copy, kept only when accepted), with the history invariants
//! checked after every step.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

use keel_core::event::EventKind;
use keel_core::{
    ActivityState, Blob, Command, Completion, Event, Execution, ExecutionKey, Failure, FailureInfo,
    Outcome, Rejection, RetryPolicy, ScheduleActivity, StartParams, Stickiness, Time, TimeoutType,
};

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Cmd {
    Activity {
        id: u8,
        schedule_to_close: u64,
        schedule_to_start: u64,
        start_to_close: u64,
        heartbeat: u64,
        policy: Option<(u64, u8, i32)>,
    },
    Timer {
        id: u8,
        secs: u64,
    },
    /// Picks one of the pending timers (or names none).
    CancelTimer {
        pick: u8,
    },
    /// Picks one of the pending activities (or names none).
    CancelActivity {
        pick: u8,
    },
    Marker {
        named: bool,
    },
    Complete,
    Fail,
}

#[derive(Clone, Debug)]
enum Action {
    TakeWorkflowTask,
    CompleteWorkflowTask {
        commands: Vec<Cmd>,
        sticky: Option<u64>,
        force: bool,
        return_new: bool,
    },
    FailWorkflowTask,
    TakeActivity(u8),
    CompleteActivity(u8),
    FailActivity {
        pick: u8,
        kind: u8,
        delay: Option<u64>,
    },
    HeartbeatActivity(u8),
    ConfirmCancel(u8),
    Advance(u64),
    Terminate,
    ClearStickiness,
    /// Replays a token seen earlier.
    Replay(u16),
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        24 => (
            0u8..8,
            prop_oneof![Just(0u64), 2u64..40],
            prop_oneof![3 => Just(0u64), 1 => 1u64..10],
            prop_oneof![1 => Just(0u64), 3 => 1u64..8],
            prop_oneof![3 => Just(0u64), 1 => 1u64..4],
            proptest::option::of((0u64..3, 0u8..4, 0i32..4)),
        )
            .prop_map(
                |(id, schedule_to_close, schedule_to_start, start_to_close, heartbeat, policy)| {
                    Cmd::Activity {
                        id,
                        schedule_to_close,
                        schedule_to_start,
                        start_to_close,
                        heartbeat,
                        policy,
                    }
                }
            ),
        18 => (0u8..6, 0u64..20).prop_map(|(id, secs)| Cmd::Timer { id, secs }),
        4 => any::<u8>().prop_map(|pick| Cmd::CancelTimer { pick }),
        6 => any::<u8>().prop_map(|pick| Cmd::CancelActivity { pick }),
        4 => proptest::bool::weighted(0.9).prop_map(|named| Cmd::Marker { named }),
        1 => Just(Cmd::Complete),
        1 => Just(Cmd::Fail),
    ]
}

/// Weighted so that most runs live long (terminating is rare) and get busy.
fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        100 => Just(Action::TakeWorkflowTask),
        100 => (
            proptest::collection::vec(cmd(), 0..4),
            proptest::option::weighted(0.3, 0u64..4),
            proptest::bool::weighted(0.3),
            proptest::bool::weighted(0.2),
        )
            .prop_map(|(commands, sticky, force, return_new)| Action::CompleteWorkflowTask {
                commands,
                sticky,
                force,
                return_new,
            }),
        10 => Just(Action::FailWorkflowTask),
        80 => any::<u8>().prop_map(Action::TakeActivity),
        50 => any::<u8>().prop_map(Action::CompleteActivity),
        50 => (any::<u8>(), 0u8..4, proptest::option::weighted(0.2, 0u64..3))
            .prop_map(|(pick, kind, delay)| Action::FailActivity { pick, kind, delay }),
        30 => any::<u8>().prop_map(Action::HeartbeatActivity),
        10 => any::<u8>().prop_map(Action::ConfirmCancel),
        80 => prop_oneof![5 => 0u64..2_000, 3 => 2_000u64..8_000, 1 => 8_000u64..60_000]
            .prop_map(Action::Advance),
        1 => Just(Action::Terminate),
        5 => Just(Action::ClearStickiness),
        20 => any::<u16>().prop_map(Action::Replay),
    ]
}

fn start_params() -> impl Strategy<Value = StartParams> {
    (
        prop_oneof![2 => Just(0u64), 1 => 20u64..300],
        prop_oneof![3 => Just(0u64), 1 => 20u64..300],
        prop_oneof![1 => Just(0u64), 1 => 1u64..15],
    )
        .prop_map(|(run, execution, task)| StartParams {
            workflow_type: "Prop".into(),
            task_queue: "tq".into(),
            identity: "client".into(),
            request_id: "req".into(),
            workflow_run_timeout: Duration::from_secs(run),
            workflow_execution_timeout: Duration::from_secs(execution),
            workflow_task_timeout: Duration::from_secs(task),
            ..Default::default()
        })
}

// ---------------------------------------------------------------------------------------------
// The model: what the history written so far says
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Token {
    Workflow {
        scheduled: i64,
        started: i64,
        attempt: i32,
    },
    Activity {
        scheduled: i64,
        attempt: i32,
    },
}

struct Run {
    ex: Execution,
    now: Time,
    start: Time,
    events: Vec<Event>,
    tokens: Vec<Token>,
    closed: bool,
    /// The workflow task the history says is pending: scheduled id, started id.
    open_task: Option<(i64, Option<i64>)>,
    activities_scheduled: BTreeSet<i64>,
    activity_started: HashMap<i64, i64>,
    activity_terminal: HashMap<i64, usize>,
    cancel_requested: HashMap<i64, i64>,
    /// TimerStarted id -> timer id.
    timers_started: HashMap<i64, String>,
    timer_closed: HashMap<i64, usize>,
    completed_tasks: BTreeSet<i64>,
}

const START: i64 = 1_000_000_000_000;

impl Run {
    fn new(params: StartParams) -> Run {
        let start = Time(START);
        let key = ExecutionKey {
            namespace: "default".into(),
            workflow_id: "prop".into(),
            run_id: "run".into(),
        };
        let (ex, outcome) = Execution::start(key, params, start).expect("start");
        let mut run = Run {
            ex,
            now: start,
            start,
            events: Vec::new(),
            tokens: Vec::new(),
            closed: false,
            open_task: None,
            activities_scheduled: BTreeSet::new(),
            activity_started: HashMap::new(),
            activity_terminal: HashMap::new(),
            cancel_requested: HashMap::new(),
            timers_started: HashMap::new(),
            timer_closed: HashMap::new(),
            completed_tasks: BTreeSet::new(),
        };
        run.record(outcome);
        run.check_state();
        run
    }

    /// Applies an input to a copy; keeps the copy only when accepted, as the engine does.
    fn apply<T>(
        &mut self,
        input: impl FnOnce(&mut Execution, Time) -> Result<(Outcome, T), Rejection>,
    ) -> Result<T, Rejection> {
        let mut copy = self.ex.clone();
        let result = input(&mut copy, self.now);
        match result {
            Ok((outcome, value)) => {
                assert!(!self.closed, "a closed run accepted an input: {outcome:?}");
                assert_eq!(
                    copy.version,
                    self.ex.version + 1,
                    "one version per transition"
                );
                self.ex = copy;
                self.record(outcome);
                Ok(value)
            }
            Err(rejection) => {
                assert_eq!(copy, self.ex, "rejection {rejection:?} left a trace");
                if self.closed {
                    assert!(
                        matches!(rejection, Rejection::NotFound(_)),
                        "closed run: {rejection:?}"
                    );
                }
                Err(rejection)
            }
        }
    }

    fn record(&mut self, outcome: Outcome) {
        for event in outcome.events {
            self.check_event(&event);
            self.events.push(event);
        }
        assert_eq!(self.ex.next_event_id, self.events.len() as i64 + 1);
    }

    fn check_event(&mut self, event: &Event) {
        let id = event.id;
        assert_eq!(id, self.events.len() as i64 + 1, "ids contiguous from 1");
        assert!(
            !self.closed,
            "{} (id {id}) appended after the close event",
            event.kind.name()
        );
        assert!(event.time >= self.start && event.time <= self.now);
        match &event.kind {
            EventKind::WorkflowExecutionStarted(_) => assert_eq!(id, 1),
            EventKind::WorkflowTaskScheduled { attempt, .. } => {
                assert!(*attempt >= 1);
                assert_eq!(
                    self.open_task, None,
                    "a second workflow task scheduled (id {id})"
                );
                self.open_task = Some((id, None));
            }
            EventKind::WorkflowTaskStarted {
                scheduled_event_id, ..
            } => {
                assert_eq!(self.open_task, Some((*scheduled_event_id, None)));
                self.open_task = Some((*scheduled_event_id, Some(id)));
            }
            EventKind::WorkflowTaskCompleted {
                scheduled_event_id,
                started_event_id,
                ..
            }
            | EventKind::WorkflowTaskFailed {
                scheduled_event_id,
                started_event_id,
                ..
            } => {
                assert_eq!(
                    self.open_task,
                    Some((*scheduled_event_id, Some(*started_event_id)))
                );
                self.open_task = None;
                if matches!(event.kind, EventKind::WorkflowTaskCompleted { .. }) {
                    self.completed_tasks.insert(id);
                }
            }
            EventKind::WorkflowTaskTimedOut {
                scheduled_event_id,
                started_event_id,
                timeout_type,
            } => {
                let started = match timeout_type {
                    TimeoutType::ScheduleToStart => {
                        assert_eq!(*started_event_id, 0);
                        None
                    }
                    _ => Some(*started_event_id),
                };
                assert_eq!(self.open_task, Some((*scheduled_event_id, started)));
                self.open_task = None;
            }
            EventKind::ActivityTaskScheduled(s) => {
                assert!(
                    self.completed_tasks
                        .contains(&s.workflow_task_completed_event_id)
                );
                self.activities_scheduled.insert(id);
            }
            EventKind::ActivityTaskStarted {
                scheduled_event_id,
                attempt,
                ..
            } => {
                let scheduled = *scheduled_event_id;
                assert!(self.activities_scheduled.contains(&scheduled));
                assert!(*attempt >= 1);
                assert!(
                    self.activity_started.insert(scheduled, id).is_none(),
                    "two started events for activity {scheduled}"
                );
                assert!(!self.activity_terminal.contains_key(&scheduled));
            }
            EventKind::ActivityTaskCompleted {
                scheduled_event_id,
                started_event_id,
                ..
            }
            | EventKind::ActivityTaskFailed {
                scheduled_event_id,
                started_event_id,
                ..
            }
            | EventKind::ActivityTaskTimedOut {
                scheduled_event_id,
                started_event_id,
                ..
            }
            | EventKind::ActivityTaskCanceled {
                scheduled_event_id,
                started_event_id,
                ..
            } => {
                let scheduled = *scheduled_event_id;
                assert!(self.activities_scheduled.contains(&scheduled));
                let count = self.activity_terminal.entry(scheduled).or_default();
                *count += 1;
                assert_eq!(*count, 1, "activity {scheduled} ended twice");
                assert_eq!(
                    *started_event_id,
                    self.activity_started.get(&scheduled).copied().unwrap_or(0),
                    "{} refers to the wrong started event",
                    event.kind.name()
                );
                if let EventKind::ActivityTaskCanceled {
                    latest_cancel_requested_event_id,
                    ..
                } = &event.kind
                {
                    assert_eq!(
                        Some(latest_cancel_requested_event_id),
                        self.cancel_requested.get(&scheduled),
                        "canceled without a request"
                    );
                }
            }
            EventKind::ActivityTaskCancelRequested {
                scheduled_event_id,
                workflow_task_completed_event_id,
            } => {
                assert!(self.activities_scheduled.contains(scheduled_event_id));
                assert!(!self.activity_terminal.contains_key(scheduled_event_id));
                assert!(
                    self.completed_tasks
                        .contains(workflow_task_completed_event_id)
                );
                self.cancel_requested.insert(*scheduled_event_id, id);
            }
            EventKind::TimerStarted {
                timer_id,
                workflow_task_completed_event_id,
                ..
            } => {
                assert!(
                    self.completed_tasks
                        .contains(workflow_task_completed_event_id)
                );
                self.timers_started.insert(id, timer_id.clone());
            }
            EventKind::TimerFired {
                timer_id,
                started_event_id,
            }
            | EventKind::TimerCanceled {
                timer_id,
                started_event_id,
                ..
            } => {
                assert_eq!(self.timers_started.get(started_event_id), Some(timer_id));
                let count = self.timer_closed.entry(*started_event_id).or_default();
                *count += 1;
                assert_eq!(*count, 1, "timer {timer_id} ended twice");
            }
            EventKind::WorkflowExecutionCompleted {
                workflow_task_completed_event_id,
                ..
            }
            | EventKind::WorkflowExecutionFailed {
                workflow_task_completed_event_id,
                ..
            } => {
                assert!(
                    self.completed_tasks
                        .contains(workflow_task_completed_event_id)
                );
            }
            _ => {}
        }
        if event.kind.is_close() {
            self.closed = true;
            self.open_task = None;
        }
    }

    fn open_timer_ids(&self) -> BTreeSet<String> {
        self.timers_started
            .iter()
            .filter(|(started, _)| !self.timer_closed.contains_key(started))
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Invariants between the state and the history, after every step.
    fn check_state(&self) {
        let ex = &self.ex;
        assert_eq!(ex.next_event_id, self.events.len() as i64 + 1);
        assert_eq!(ex.is_running(), !self.closed);
        for (at, deadline) in ex.deadlines() {
            assert!(at >= self.start, "{deadline:?} at {at:?} before the start");
        }
        if self.closed {
            assert!(ex.deadlines().is_empty(), "a closed run has clocks");
            assert!(ex.workflow_task.is_none());
            assert!(ex.activities.is_empty() && ex.timers.is_empty() && ex.buffered.is_empty());
            assert!(ex.close_time.is_some());
            return;
        }
        let task = ex
            .workflow_task
            .as_ref()
            .map(|t| (t.scheduled_event_id, t.started.as_ref().map(|s| s.event_id)));
        if ex.workflow_task.as_ref().is_some_and(|t| t.transient) {
            // A transient task is not in history; it holds the next ids in reserve.
            let (scheduled, started) = task.expect("checked");
            assert_eq!(
                scheduled, ex.next_event_id,
                "a transient task's ids are the next ones"
            );
            assert!(started.is_none_or(|s| s == scheduled + 1));
            assert_eq!(self.open_task, None, "a transient task has no events");
        } else {
            assert_eq!(
                task, self.open_task,
                "state and history disagree on the task"
            );
        }
        if !ex.buffered.is_empty() {
            assert!(
                matches!(task, Some((_, Some(_)))),
                "buffering without a running task"
            );
        }
        let pending: BTreeSet<i64> = self
            .activities_scheduled
            .iter()
            .filter(|s| !self.activity_terminal.contains_key(s))
            .copied()
            .collect();
        let in_state: BTreeSet<i64> = ex.activities.keys().copied().collect();
        let open_timers = self.open_timer_ids();
        let timers: BTreeSet<String> = ex.timers.keys().cloned().collect();
        if ex.buffered.is_empty() {
            assert_eq!(in_state, pending);
            assert_eq!(timers, open_timers);
        } else {
            assert!(in_state.is_subset(&pending));
            assert!(timers.is_subset(&open_timers));
        }
        for activity in ex.activities.values() {
            assert!(
                !self
                    .activity_started
                    .contains_key(&activity.scheduled_event_id)
            );
        }
    }

    // -----------------------------------------------------------------------------------------
    // Actions
    // -----------------------------------------------------------------------------------------

    fn step(&mut self, action: &Action) {
        // A worker answering a task polls it first: when there is nothing to answer but
        // something to take, take it (so fewer steps are wasted on certain refusals).
        match action {
            Action::CompleteWorkflowTask { .. } | Action::FailWorkflowTask
                if self
                    .ex
                    .workflow_task
                    .as_ref()
                    .is_some_and(|t| t.started.is_none()) =>
            {
                self.step(&Action::TakeWorkflowTask)
            }
            Action::CompleteActivity(pick) | Action::FailActivity { pick, .. }
                if !self.ex.activities.values().any(|a| is_started(&a.state)) =>
            {
                self.step(&Action::TakeActivity(*pick))
            }
            _ => {}
        }
        let version = self.ex.version;
        let events = self.events.len();
        match action {
            Action::TakeWorkflowTask => {
                let (scheduled, attempt) = match &self.ex.workflow_task {
                    Some(t) => (t.scheduled_event_id, t.attempt),
                    None => (self.ex.next_event_id, 1),
                };
                let expected = self
                    .ex
                    .workflow_task
                    .as_ref()
                    .is_some_and(|t| t.started.is_none())
                    && !self.closed;
                let result = self.apply(|ex, now| {
                    unit(ex.start_workflow_task(scheduled, attempt, "w", "r", now))
                });
                assert_eq!(result.is_ok(), expected, "{result:?}");
                if result.is_ok() {
                    self.tokens.push(Token::Workflow {
                        scheduled,
                        started: self.ex.next_event_id - 1,
                        attempt,
                    });
                }
            }
            Action::CompleteWorkflowTask {
                commands,
                sticky,
                force,
                return_new,
            } => {
                let token = self.current_workflow_token();
                let valid = self.running_task_is(token);
                let completion = Completion {
                    commands: commands.iter().map(|c| self.command(c)).collect(),
                    identity: "w".into(),
                    stickiness: sticky.map(|secs| Stickiness {
                        queue: "sticky".into(),
                        schedule_to_start_timeout: Duration::from_secs(secs),
                    }),
                    force_create_new_workflow_task: *force,
                    return_new_workflow_task: *return_new,
                    ..Default::default()
                };
                let result = self.apply(|ex, now| {
                    ex.complete_workflow_task(token.0, token.1, token.2, completion, now)
                });
                assert_eq!(result.is_ok(), valid, "{result:?}");
                if let Ok(result) = result
                    && let Some(task) = result.new_task_started
                {
                    let started = self.ex.workflow_task.as_ref().unwrap().started.as_ref();
                    self.tokens.push(Token::Workflow {
                        scheduled: task.scheduled_event_id,
                        started: started.unwrap().event_id,
                        attempt: task.attempt,
                    });
                }
            }
            Action::FailWorkflowTask => {
                let token = self.current_workflow_token();
                let valid = self.running_task_is(token);
                let result = self.apply(|ex, now| {
                    unit(ex.fail_workflow_task(token.0, token.1, token.2, 14, None, "w", now))
                });
                assert_eq!(result.is_ok(), valid, "{result:?}");
            }
            Action::TakeActivity(pick) => {
                let token = self.pick_activity(*pick, |s| *s == ActivityState::Scheduled);
                let valid = self.activity_in(token, |s| *s == ActivityState::Scheduled);
                let result =
                    self.apply(|ex, now| unit(ex.start_activity(token.0, token.1, "w", "r", now)));
                assert_eq!(result.is_ok(), valid, "{result:?}");
                if result.is_ok() {
                    self.tokens.push(Token::Activity {
                        scheduled: token.0,
                        attempt: token.1,
                    });
                }
            }
            Action::CompleteActivity(pick) => {
                let token = self.pick_activity(*pick, is_started);
                let valid = self.activity_in(token, is_started);
                let result = self.apply(|ex, now| {
                    unit(ex.complete_activity(token.0, token.1, blob("ok"), "w", now))
                });
                assert_eq!(result.is_ok(), valid, "{result:?}");
            }
            Action::FailActivity { pick, kind, delay } => {
                let token = self.pick_activity(*pick, is_started);
                let valid = self.activity_in(token, is_started);
                let failure = failure(*kind, *delay);
                let result = self.apply(|ex, now| {
                    unit(ex.fail_activity(token.0, token.1, failure, blob("hb"), "w", now))
                });
                assert_eq!(result.is_ok(), valid, "{result:?}");
            }
            Action::HeartbeatActivity(pick) => {
                let token = self.pick_activity(*pick, is_started);
                let valid = self.activity_in(token, is_started);
                let result =
                    self.apply(|ex, now| ex.heartbeat_activity(token.0, token.1, blob("hb"), now));
                assert_eq!(result.is_ok(), valid, "{result:?}");
            }
            Action::ConfirmCancel(pick) => {
                let token = self.pick_activity(*pick, is_started);
                let valid = self.activity_in(token, is_started)
                    && self
                        .ex
                        .activities
                        .get(&token.0)
                        .is_some_and(|a| a.cancel_requested);
                let result = self
                    .apply(|ex, now| unit(ex.cancel_activity(token.0, token.1, None, "w", now)));
                assert_eq!(result.is_ok(), valid, "{result:?}");
            }
            Action::Advance(ms) => {
                self.now = self.now.plus(Duration::from_millis(*ms));
                let due = self
                    .ex
                    .deadlines()
                    .first()
                    .is_some_and(|(at, _)| *at <= self.now);
                let mut copy = self.ex.clone();
                match copy.fire_deadlines(self.now) {
                    Some(outcome) => {
                        assert!(due && !self.closed);
                        assert_eq!(copy.version, version + 1);
                        self.ex = copy;
                        self.record(outcome);
                    }
                    None => {
                        assert!(!due);
                        assert_eq!(copy, self.ex);
                    }
                }
            }
            Action::Terminate => {
                let running = !self.closed;
                let result = self.apply(|ex, now| unit(ex.terminate("t", None, "admin", now)));
                assert_eq!(result.is_ok(), running);
                if running {
                    assert!(self.closed);
                    assert_eq!(
                        self.events.last().unwrap().kind.name(),
                        "WorkflowExecutionTerminated"
                    );
                }
            }
            Action::ClearStickiness => {
                let mut copy = self.ex.clone();
                let outcome = copy.clear_stickiness(self.now);
                assert!(
                    outcome.events.is_empty(),
                    "clearing stickiness writes nothing"
                );
                assert_eq!(copy.version, version + 1);
                assert_eq!(copy.stickiness, None);
                if self.closed {
                    assert!(outcome.effects.is_empty());
                }
                self.ex = copy;
                self.record(outcome);
            }
            Action::Replay(index) => {
                if self.tokens.is_empty() {
                    return;
                }
                let token = self.tokens[*index as usize % self.tokens.len()];
                match token {
                    Token::Workflow {
                        scheduled,
                        started,
                        attempt,
                    } => {
                        let valid = self.running_task_is((scheduled, started, attempt));
                        let result = self.apply(|ex, now| {
                            ex.complete_workflow_task(
                                scheduled,
                                started,
                                attempt,
                                Completion::default(),
                                now,
                            )
                        });
                        assert_eq!(result.is_ok(), valid, "{result:?}");
                        if !valid {
                            assert!(matches!(result, Err(Rejection::NotFound(_))));
                        }
                    }
                    Token::Activity { scheduled, attempt } => {
                        let valid = self.activity_in((scheduled, attempt), is_started);
                        let result = self.apply(|ex, now| {
                            unit(ex.complete_activity(scheduled, attempt, None, "w", now))
                        });
                        assert_eq!(result.is_ok(), valid, "{result:?}");
                        if !valid {
                            assert!(matches!(result, Err(Rejection::NotFound(_))));
                        }
                    }
                }
            }
        }
        // A step that was refused changed nothing.
        if self.ex.version == version {
            assert_eq!(self.events.len(), events);
        }
        self.check_state();
    }

    fn current_workflow_token(&self) -> (i64, i64, i32) {
        match &self.ex.workflow_task {
            Some(task) => (
                task.scheduled_event_id,
                task.started.as_ref().map_or(0, |s| s.event_id),
                task.attempt,
            ),
            None => (self.ex.next_event_id, self.ex.next_event_id + 1, 1),
        }
    }

    fn running_task_is(&self, (scheduled, started, attempt): (i64, i64, i32)) -> bool {
        !self.closed
            && self.ex.workflow_task.as_ref().is_some_and(|t| {
                t.scheduled_event_id == scheduled
                    && t.attempt == attempt
                    && t.started.as_ref().is_some_and(|s| s.event_id == started)
            })
    }

    /// One of the activities in a state (by `pick`), or a token naming none.
    fn pick_activity(&self, pick: u8, state: impl Fn(&ActivityState) -> bool) -> (i64, i32) {
        let candidates: Vec<_> = self
            .ex
            .activities
            .values()
            .filter(|a| state(&a.state))
            .collect();
        if candidates.is_empty() {
            // Mostly a made-up token, sometimes a real activity in the wrong state.
            return match self.ex.activities.values().next() {
                Some(a) if pick.is_multiple_of(2) => (a.scheduled_event_id, a.attempt),
                _ => (999_999, 1),
            };
        }
        let a = candidates[pick as usize % candidates.len()];
        (a.scheduled_event_id, a.attempt)
    }

    fn activity_in(
        &self,
        (scheduled, attempt): (i64, i32),
        state: impl Fn(&ActivityState) -> bool,
    ) -> bool {
        !self.closed
            && self
                .ex
                .activities
                .get(&scheduled)
                .is_some_and(|a| a.attempt == attempt && state(&a.state))
    }

    fn command(&self, cmd: &Cmd) -> Command {
        let secs = Duration::from_secs;
        match cmd {
            Cmd::Activity {
                id,
                schedule_to_close,
                schedule_to_start,
                start_to_close,
                heartbeat,
                policy,
            } => Command::ScheduleActivity(ScheduleActivity {
                activity_id: format!("a{id}"),
                activity_type: "Act".into(),
                schedule_to_close_timeout: secs(*schedule_to_close),
                schedule_to_start_timeout: secs(*schedule_to_start),
                start_to_close_timeout: secs(*start_to_close),
                heartbeat_timeout: secs(*heartbeat),
                retry_policy: policy.map(|(initial, coefficient, maximum_attempts)| RetryPolicy {
                    initial_interval: secs(initial),
                    backoff_coefficient: f64::from(coefficient),
                    maximum_interval: Duration::ZERO,
                    maximum_attempts,
                    non_retryable_error_types: vec!["Fatal".into()],
                }),
                ..Default::default()
            }),
            Cmd::Timer { id, secs: after } => Command::StartTimer {
                timer_id: format!("t{id}"),
                start_to_fire_timeout: secs(*after),
            },
            Cmd::CancelTimer { pick } => {
                let ids: Vec<&String> = self.ex.timers.keys().collect();
                Command::CancelTimer {
                    timer_id: if ids.is_empty() || pick.is_multiple_of(8) {
                        format!("t{}", pick % 8)
                    } else {
                        ids[*pick as usize % ids.len()].clone()
                    },
                }
            }
            Cmd::CancelActivity { pick } => {
                let ids: Vec<i64> = self.ex.activities.keys().copied().collect();
                Command::RequestCancelActivity {
                    scheduled_event_id: if ids.is_empty() {
                        1
                    } else {
                        ids[*pick as usize % ids.len()]
                    },
                }
            }
            Cmd::Marker { named } => Command::RecordMarker {
                marker_name: if *named { "m".into() } else { String::new() },
                details: BTreeMap::new(),
                header: None,
                failure: None,
            },
            Cmd::Complete => Command::CompleteWorkflow { result: blob("r") },
            Cmd::Fail => Command::FailWorkflow {
                failure: failure(0, None),
            },
        }
    }
}

fn is_started(state: &ActivityState) -> bool {
    matches!(state, ActivityState::Started { .. })
}

fn unit(result: Result<Outcome, Rejection>) -> Result<(Outcome, ()), Rejection> {
    result.map(|outcome| (outcome, ()))
}

fn blob(s: &str) -> Option<Blob> {
    Some(Blob(s.as_bytes().to_vec()))
}

fn failure(kind: u8, delay: Option<u64>) -> Failure {
    let info = match kind {
        0 => FailureInfo::Application {
            failure_type: "Flaky".into(),
            non_retryable: false,
            next_retry_delay: delay.map(Duration::from_secs),
        },
        1 => FailureInfo::Application {
            failure_type: "Fatal".into(),
            non_retryable: false,
            next_retry_delay: None,
        },
        2 => FailureInfo::Application {
            failure_type: "Flaky".into(),
            non_retryable: true,
            next_retry_delay: None,
        },
        _ => FailureInfo::Other,
    };
    Failure {
        message: "boom".into(),
        source: "Prop".into(),
        info,
        cause: None,
        original: None,
    }
}

fn run(params: StartParams, actions: &[Action]) {
    let mut run = Run::new(params);
    for action in actions {
        run.step(action);
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    })]

    #[test]
    fn random_inputs_keep_history_well_formed(
        params in start_params(),
        actions in proptest::collection::vec(action(), 1..60),
    ) {
        run(params, &actions);
    }
}

/// Runs that mostly do the useful thing (take and complete what is pending) go deeper than
/// uniformly random ones: many activities, retries and timers in one history.
#[test]
fn long_busy_runs_keep_history_well_formed() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let actions = proptest::collection::vec(action(), 200..300);
    for _ in 0..16 {
        let params = start_params().new_tree(&mut runner).unwrap().current();
        let actions = actions.new_tree(&mut runner).unwrap().current();
        run(params, &actions);
    }
}
