//! What an operator sees of a run: its phase on the board, and an overview derived from its
//! state and history (its task runs, its children, its outcome). Derived, never stored: the
//! history stays the only truth.

use serde::{Deserialize, Serialize};

use crate::attempts::EndedAttempt;
use crate::event::{ChildOutcome, Event, EventKind};
use crate::execution::{ActivityState, Execution};
use crate::types::{Blob, Failure, Status, Time};

/// The column of the board an execution sits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Running, but its current task waits in a queue and no worker has taken it.
    Pending,
    Running,
    /// Completed, or continued as new.
    Completed,
    /// Failed, timed out or terminated.
    Failed,
    Cancelled,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Pending,
        Phase::Running,
        Phase::Completed,
        Phase::Failed,
        Phase::Cancelled,
    ];

    /// The number the store keeps; stable across versions.
    pub fn code(self) -> i32 {
        match self {
            Phase::Pending => 1,
            Phase::Running => 2,
            Phase::Completed => 3,
            Phase::Failed => 4,
            Phase::Cancelled => 5,
        }
    }

    /// The phase stored as `code`.
    pub fn from_code(code: i32) -> Option<Phase> {
        Phase::ALL.into_iter().find(|phase| phase.code() == code)
    }

    pub fn name(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Completed => "Completed",
            Phase::Failed => "Failed",
            Phase::Cancelled => "Cancelled",
        }
    }

    /// The phase named `name`, in any letter case.
    pub fn from_name(name: &str) -> Option<Phase> {
        Phase::ALL
            .into_iter()
            .find(|phase| phase.name().eq_ignore_ascii_case(name))
    }

    /// The phase of a closed run with this status.
    pub fn of_closed(status: Status) -> Phase {
        match status {
            Status::Running => Phase::Running,
            Status::Completed | Status::ContinuedAsNew => Phase::Completed,
            Status::Failed | Status::TimedOut | Status::Terminated => Phase::Failed,
            Status::Canceled => Phase::Cancelled,
        }
    }
}

/// What a running run is on now, as its card on the board says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Doing {
    /// Its oldest open activity; `others` more are open beside it.
    Activity {
        activity_type: String,
        attempt: i32,
        /// Waiting out a retry backoff rather than queued or running.
        backing_off: bool,
        others: usize,
    },
    /// Its oldest open child workflow.
    Child {
        workflow_type: String,
        others: usize,
    },
    /// Its soonest timer.
    Timer { fires_at: Time, others: usize },
    /// A workflow task is queued or with a worker: the workflow's code is deciding.
    Deciding,
    /// Its first workflow task waits for a start delay, a cron fire or a retry's backoff.
    Starting { at: Time },
    /// Nothing the run scheduled can move it on: only a signal, an update or a cancellation
    /// from outside can. A workflow blocked in a handler's wait for a person is here.
    WaitingForInput,
}

impl Execution {
    /// What the run is on now; `None` once it closed, or while it only waits for requests to
    /// other workflows to be delivered.
    pub fn doing(&self) -> Option<Doing> {
        if !self.is_running() {
            return None;
        }
        if let Some(at) = self.first_workflow_task_at {
            return Some(Doing::Starting { at });
        }
        if let Some((_, activity)) = self.activities.iter().next() {
            return Some(Doing::Activity {
                activity_type: activity.scheduled.activity_type.clone(),
                attempt: activity.attempt,
                backing_off: matches!(activity.state, ActivityState::Backoff),
                others: self.activities.len() - 1,
            });
        }
        if let Some((_, child)) = self.children.iter().next() {
            return Some(Doing::Child {
                workflow_type: child.initiated.workflow_type.clone(),
                others: self.children.len() - 1,
            });
        }
        if let Some(fires_at) = self.timers.values().map(|timer| timer.fire_time).min() {
            return Some(Doing::Timer {
                fires_at,
                others: self.timers.len() - 1,
            });
        }
        if self.workflow_task.is_some() {
            return Some(Doing::Deciding);
        }
        if !self.external_requests.is_empty() {
            return None;
        }
        Some(Doing::WaitingForInput)
    }

    /// Whether a board showing this run must be told of `after`: its status, its phase or
    /// what it is on changed.
    pub fn board_changed(&self, after: &Execution) -> bool {
        (self.status, self.phase(), self.doing()) != (after.status, after.phase(), after.doing())
    }

    pub fn phase(&self) -> Phase {
        let not_begun = self.first_workflow_task_at.is_some();
        if self.is_running() && (not_begun || self.waits_for_worker()) {
            Phase::Pending
        } else {
            Phase::of_closed(self.status)
        }
    }

    /// A task is on a queue and no worker has this run's work in hand: the run can only
    /// move once a worker polls.
    pub fn waits_for_worker(&self) -> bool {
        self.queued_tasks().next().is_some() && self.workers_in_flight().next().is_none()
    }

    /// From when the run's first workflow task was due to when a worker took it.
    pub fn queue_wait(&self) -> Option<std::time::Duration> {
        let first_task_due = self
            .start_time
            .plus(self.started.first_workflow_task_backoff);
        self.first_task_started_time
            .map(|started| first_task_due.until(started))
    }

    /// Where the oldest task this run waits on is queued, and since when.
    pub fn oldest_queued_task(&self) -> Option<QueuedTask<'_>> {
        self.queued_tasks().min_by_key(|task| task.since)
    }

    /// The tasks of this run that wait in a queue for a worker.
    pub fn queued_tasks(&self) -> impl Iterator<Item = QueuedTask<'_>> {
        let workflow_task = self
            .workflow_task
            .as_ref()
            .filter(|task| task.started.is_none())
            .map(|task| QueuedTask {
                task_queue: &task.task_queue.name,
                activity: false,
                since: task.scheduled_time,
            });
        let activities = self
            .activities
            .values()
            .filter(|activity| activity.state == ActivityState::Scheduled)
            .map(|activity| QueuedTask {
                task_queue: &activity.scheduled.task_queue,
                activity: true,
                since: activity.attempt_scheduled_time,
            });
        workflow_task.into_iter().chain(activities)
    }

    /// The workers holding this run's tasks now: the workflow task's, then the activities'.
    pub fn workers_in_flight(&self) -> impl Iterator<Item = &str> {
        let workflow_task = self
            .workflow_task
            .as_ref()
            .and_then(|task| task.started.as_ref())
            .map(|started| started.identity.as_str());
        let activities = self
            .activities
            .values()
            .filter_map(|activity| match &activity.state {
                ActivityState::Started { identity, .. } => Some(identity.as_str()),
                _ => None,
            });
        workflow_task.into_iter().chain(activities)
    }
}

/// A task on a queue, waiting for a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuedTask<'a> {
    pub task_queue: &'a str,
    /// An activity task; otherwise a workflow task.
    pub activity: bool,
    pub since: Time,
}

/// One activity of a run with its attempts, as far as they went.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRun {
    pub scheduled_event_id: i64,
    pub activity_id: String,
    pub activity_type: String,
    pub task_queue: String,
    pub state: TaskRunState,
    pub attempt: i32,
    pub scheduled_time: Time,
    /// The current (or last) attempt's start.
    pub started_time: Option<Time>,
    pub close_time: Option<Time>,
    pub worker: String,
    pub input: Option<Blob>,
    pub output: Option<Blob>,
    /// How the activity failed, for good.
    pub error: Option<Failure>,
    /// The failure of the previous attempt, while retrying.
    pub last_failure: Option<Failure>,
    /// The attempts before the current (or last) one, which the history does not keep.
    pub earlier_attempts: Vec<EndedAttempt>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskRunState {
    Scheduled,
    Running,
    BackingOff,
    Completed,
    Failed,
    TimedOut,
    Canceled,
}

impl TaskRunState {
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            TaskRunState::Completed
                | TaskRunState::Failed
                | TaskRunState::TimedOut
                | TaskRunState::Canceled
        )
    }
}

/// A child workflow a run started, as the run's history tells it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildRun {
    pub workflow_id: String,
    pub run_id: Option<String>,
    pub workflow_type: String,
    pub state: ChildRunState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildRunState {
    Starting,
    StartFailed,
    Running,
    Completed,
    Failed,
    Canceled,
    TimedOut,
    Terminated,
}

/// What an operator's detail view derives from one run's history (when a worker first took
/// it and its queue wait are in the state: [`Execution::first_task_started_time`],
/// [`Execution::queue_wait`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overview {
    pub input: Option<Blob>,
    pub output: Option<Blob>,
    pub error: Option<Failure>,
    pub task_runs: Vec<TaskRun>,
    pub children: Vec<ChildRun>,
}

impl Overview {
    /// Derives the overview of `execution` from its whole history, `events`, and the
    /// attempts of its activities that ended and were retried, `attempts`.
    pub fn derive(execution: &Execution, events: &[Event], attempts: &[EndedAttempt]) -> Overview {
        let mut overview = Overview {
            input: execution.started.input.clone(),
            ..Overview::default()
        };
        for event in events {
            overview.apply(event);
        }
        for attempt in attempts {
            if let Some(run) = overview
                .task_runs
                .iter_mut()
                .find(|run| run.scheduled_event_id == attempt.scheduled_event_id)
            {
                run.earlier_attempts.push(attempt.clone());
            }
        }
        // The state knows what the history does not say yet: attempts being retried or run.
        for activity in execution.activities.values() {
            let Some(run) = overview
                .task_runs
                .iter_mut()
                .find(|run| run.scheduled_event_id == activity.scheduled_event_id)
            else {
                continue;
            };
            run.attempt = activity.attempt;
            run.last_failure = activity.last_failure.clone();
            match &activity.state {
                ActivityState::Backoff => run.state = TaskRunState::BackingOff,
                ActivityState::Scheduled => run.state = TaskRunState::Scheduled,
                ActivityState::Started { time, identity, .. } => {
                    run.state = TaskRunState::Running;
                    run.started_time = Some(*time);
                    run.worker = identity.clone();
                }
            }
        }
        overview
    }

    fn apply(&mut self, event: &Event) {
        match &event.kind {
            EventKind::WorkflowExecutionCompleted { result, .. } => self.output = result.clone(),
            EventKind::WorkflowExecutionFailed { failure, .. } => {
                self.error = Some(failure.clone())
            }
            EventKind::ActivityTaskScheduled(scheduled) => self.task_runs.push(TaskRun {
                scheduled_event_id: event.id,
                activity_id: scheduled.activity_id.clone(),
                activity_type: scheduled.activity_type.clone(),
                task_queue: scheduled.task_queue.clone(),
                state: TaskRunState::Scheduled,
                attempt: 1,
                scheduled_time: event.time,
                started_time: None,
                close_time: None,
                worker: String::new(),
                input: scheduled.input.clone(),
                output: None,
                error: None,
                last_failure: None,
                earlier_attempts: Vec::new(),
            }),
            EventKind::ActivityTaskStarted {
                scheduled_event_id,
                identity,
                attempt,
                last_failure,
                ..
            } => {
                if let Some(run) = self.task_run(*scheduled_event_id) {
                    run.state = TaskRunState::Running;
                    run.started_time = Some(event.time);
                    run.worker = identity.clone();
                    run.attempt = *attempt;
                    run.last_failure = last_failure.clone();
                }
            }
            EventKind::ActivityTaskCompleted {
                scheduled_event_id,
                result,
                ..
            } => self.close_task_run(
                *scheduled_event_id,
                event.time,
                TaskRunState::Completed,
                |run| run.output = result.clone(),
            ),
            EventKind::ActivityTaskFailed {
                scheduled_event_id,
                failure,
                ..
            } => self.close_task_run(
                *scheduled_event_id,
                event.time,
                TaskRunState::Failed,
                |run| run.error = Some(failure.clone()),
            ),
            EventKind::ActivityTaskTimedOut {
                scheduled_event_id,
                failure,
                ..
            } => self.close_task_run(
                *scheduled_event_id,
                event.time,
                TaskRunState::TimedOut,
                |run| run.error = Some(failure.clone()),
            ),
            EventKind::ActivityTaskCanceled {
                scheduled_event_id, ..
            } => self.close_task_run(
                *scheduled_event_id,
                event.time,
                TaskRunState::Canceled,
                |_| {},
            ),
            EventKind::StartChildWorkflowExecutionInitiated(initiated) => {
                self.children.push(ChildRun {
                    workflow_id: initiated.workflow_id.clone(),
                    run_id: None,
                    workflow_type: initiated.workflow_type.clone(),
                    state: ChildRunState::Starting,
                })
            }
            EventKind::StartChildWorkflowExecutionFailed { workflow_id, .. } => self
                .child(workflow_id, |child| {
                    child.state = ChildRunState::StartFailed
                }),
            EventKind::ChildWorkflowExecutionStarted { execution, .. } => {
                self.child(&execution.workflow_id, |child| {
                    child.run_id = Some(execution.run_id.clone());
                    child.state = ChildRunState::Running;
                })
            }
            EventKind::ChildWorkflowExecutionClosed {
                execution, outcome, ..
            } => self.child(&execution.workflow_id, |child| {
                child.state = match outcome {
                    ChildOutcome::Completed { .. } => ChildRunState::Completed,
                    ChildOutcome::Failed { .. } => ChildRunState::Failed,
                    ChildOutcome::Canceled { .. } => ChildRunState::Canceled,
                    ChildOutcome::TimedOut { .. } => ChildRunState::TimedOut,
                    ChildOutcome::Terminated => ChildRunState::Terminated,
                }
            }),
            _ => {}
        }
    }

    fn task_run(&mut self, scheduled_event_id: i64) -> Option<&mut TaskRun> {
        self.task_runs
            .iter_mut()
            .find(|run| run.scheduled_event_id == scheduled_event_id)
    }

    fn close_task_run(
        &mut self,
        scheduled_event_id: i64,
        time: Time,
        state: TaskRunState,
        record: impl FnOnce(&mut TaskRun),
    ) {
        if let Some(run) = self.task_run(scheduled_event_id) {
            run.state = state;
            run.close_time = Some(time);
            record(run);
        }
    }

    /// The latest child started with this workflow id (a run may start one id again after
    /// the first closed).
    fn child(&mut self, workflow_id: &str, change: impl FnOnce(&mut ChildRun)) {
        if let Some(child) = self
            .children
            .iter_mut()
            .rev()
            .find(|child| child.workflow_id == workflow_id)
        {
            change(child);
        }
    }
}
