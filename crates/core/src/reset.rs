//! Reset: a new run of a workflow that picks up a run's history at one of its workflow
//! tasks, so the workflow code decides again from there (after a bug fix, or once what made
//! an activity fail is mended).
//!
//! The new run's history is the base run's events up to that workflow task's started
//! event, then a WorkflowTaskFailed with cause RESET_WORKFLOW (naming both runs), then the
//! signals the base run received after the reset point (so no signal is lost), then a new
//! workflow task. A worker replays the copied events and carries on from the failed task.
//!
//! Activities and timers the copied events leave open are taken over by the new run: each
//! activity is scheduled afresh (attempt 1, on its queue now), each timer keeps its original
//! fire time. A point where a child workflow, a request to another workflow or an update is
//! still open is refused: those belong to other executions' histories too.

use std::collections::{BTreeMap, BTreeSet};

use crate::Rejection;
use crate::event::{Event, EventKind, WorkflowStarted};
use crate::execution::{Activity, Execution, Timer};
use crate::start::NewRun;
use crate::transition::TaskRef;
use crate::transition::{Outcome, Tx};
use crate::types::TaskQueue;
use crate::types::{ExecutionKey, Failure, FailureInfo, Time};

/// Temporal's WorkflowTaskFailedCause RESET_WORKFLOW.
pub const RESET_WORKFLOW_CAUSE: i32 = 20;
/// The identity Temporal writes on the events a reset itself records.
pub const RESET_IDENTITY: &str = "history-service";

/// Where an operator asks a reset to go back to. Each names a workflow task's completion
/// (or failure), which is what a reset point is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetPoint {
    /// The completed workflow task that scheduled the last activity to fail or time out,
    /// or else the last workflow task that failed or timed out.
    LastFailedTask,
    LastTask,
    FirstTask,
    /// A workflow task's completed, failed or timed-out event, by id.
    Event(i64),
}

impl ResetPoint {
    /// The names [`ResetPoint::named`] knows, as REST, the CLI and the UI spell them.
    pub const NAMES: [&str; 3] = ["last_failed_task", "last_task", "first_task"];

    pub fn named(name: &str) -> Option<ResetPoint> {
        Some(match name {
            "last_failed_task" => ResetPoint::LastFailedTask,
            "last_task" => ResetPoint::LastTask,
            "first_task" => ResetPoint::FirstTask,
            _ => return None,
        })
    }

    /// The event id this point is in `history`, or why the history has none.
    pub fn find(&self, history: &[Event]) -> Result<i64, &'static str> {
        let finishes = |event: &&Event| {
            matches!(
                event.kind,
                EventKind::WorkflowTaskCompleted { .. }
                    | EventKind::WorkflowTaskFailed { .. }
                    | EventKind::WorkflowTaskTimedOut { .. }
            )
        };
        let found = match self {
            ResetPoint::Event(id) => Some(*id),
            ResetPoint::FirstTask => history.iter().find(finishes).map(|event| event.id),
            ResetPoint::LastTask => history.iter().rev().find(finishes).map(|event| event.id),
            ResetPoint::LastFailedTask => last_failed_task(history),
        };
        found.ok_or(match self {
            ResetPoint::LastFailedTask => "the execution has no failed task run to reset to",
            _ => "the execution has no completed workflow task to reset to",
        })
    }
}

fn last_failed_task(history: &[Event]) -> Option<i64> {
    for event in history.iter().rev() {
        match &event.kind {
            EventKind::ActivityTaskFailed {
                scheduled_event_id, ..
            }
            | EventKind::ActivityTaskTimedOut {
                scheduled_event_id, ..
            } => {
                let scheduled = history.iter().find(|e| e.id == *scheduled_event_id)?;
                if let EventKind::ActivityTaskScheduled(scheduled) = &scheduled.kind {
                    return Some(scheduled.workflow_task_completed_event_id);
                }
            }
            EventKind::WorkflowTaskFailed { .. } | EventKind::WorkflowTaskTimedOut { .. } => {
                return Some(event.id);
            }
            _ => {}
        }
    }
    None
}

/// What a reset asks for, with the ids the engine chose.
#[derive(Clone, Debug)]
pub struct ResetRequest {
    /// A WorkflowTaskCompleted, WorkflowTaskFailed, WorkflowTaskTimedOut or
    /// WorkflowTaskStarted event of the base run.
    pub workflow_task_finish_event_id: i64,
    pub reason: String,
    pub request_id: String,
    pub new_run_id: String,
    /// The id a successor of the new run would get.
    pub next_run_id: String,
    /// Copy the signals received after the reset point into the new run.
    pub reapply_signals: bool,
}

impl Execution {
    /// The new run a reset of this run (whose whole history is `history`) starts, with its
    /// events. This run is left as it is: closing it, when it still runs, is the caller's.
    pub fn reset(
        &self,
        history: &[Event],
        request: ResetRequest,
        now: Time,
    ) -> Result<(Execution, Outcome), Rejection> {
        let started_event_id = reset_point(history, request.workflow_task_finish_event_id)?;
        let prefix = &history[..started_event_id as usize];
        let open = open_work(prefix, request.workflow_task_finish_event_id)?;
        let EventKind::WorkflowExecutionStarted(started) = &prefix[0].kind else {
            return Err(Rejection::InvalidArgument(
                "the run's history does not begin with its start".into(),
            ));
        };
        let started: WorkflowStarted = (**started).clone();
        let key = ExecutionKey {
            run_id: request.new_run_id.clone(),
            ..self.key.clone()
        };
        let run_timeout = started.workflow_run_timeout;
        let mut run = Execution::new_run(
            key,
            started,
            now,
            NewRun {
                start_request_id: request.request_id.clone(),
                run_expiration: (!run_timeout.is_zero()).then(|| now.plus(run_timeout)),
                execution_expiration: self.execution_expiration,
                next_run_id: request.next_run_id.clone(),
                first_workflow_task_at: None,
            },
        );
        run.parent = self.parent.clone();
        let mut outcome = Outcome::default();
        for event in prefix {
            replay(&mut run, event);
            run.history_size_bytes += event.stored_size();
            outcome.events.push(event.clone());
        }
        run.next_event_id = started_event_id + 1;

        take_over(&mut run, prefix, &open, now);
        let mut tx = Tx::new(&mut run, now);
        for &scheduled_event_id in &open.activities {
            let activity = &tx.ex.activities[&scheduled_event_id];
            tx.out
                .effects
                .push(crate::transition::Effect::DispatchActivityTask(TaskRef {
                    queue: TaskQueue::normal(activity.scheduled.task_queue.clone()),
                    scheduled_event_id,
                    attempt: 1,
                }));
        }
        tx.append(EventKind::WorkflowTaskFailed {
            scheduled_event_id: started_event_id - 1,
            started_event_id,
            cause: RESET_WORKFLOW_CAUSE,
            failure: Some(Failure {
                message: request.reason.clone(),
                source: String::new(),
                info: FailureInfo::Reset,
                cause: None,
                original: None,
            }),
            identity: RESET_IDENTITY.into(),
            base_run_id: self.key.run_id.clone(),
            new_run_id: request.new_run_id.clone(),
        });
        if request.reapply_signals {
            for event in &history[started_event_id as usize..] {
                if let EventKind::WorkflowExecutionSignaled { .. } = &event.kind {
                    tx.append(event.kind.clone());
                }
            }
        }
        tx.schedule_workflow_task();
        let Outcome {
            events, effects, ..
        } = tx.finish();
        outcome.events.extend(events);
        outcome.effects = effects;
        Ok((run, outcome))
    }

    /// Terminates this run because a reset replaces it with `replacement`, which the engine
    /// creates in the same commit.
    pub fn terminate_for_reset(
        &mut self,
        replacement: ResetRun,
        now: Time,
    ) -> Result<Outcome, Rejection> {
        let reason = format!("reset to run {}", replacement.execution.key.run_id);
        let mut outcome = self.terminate(&reason, None, RESET_IDENTITY, now)?;
        outcome
            .effects
            .push(crate::transition::Effect::StartResetRun(Box::new(
                replacement,
            )));
        Ok(outcome)
    }
}

/// The run a reset creates, and its first events and effects.
#[derive(Clone, Debug, PartialEq)]
pub struct ResetRun {
    pub execution: Execution,
    pub outcome: Outcome,
}

/// The started event of the workflow task `event_id` names: the last event kept.
fn reset_point(history: &[Event], event_id: i64) -> Result<i64, Rejection> {
    let event = usize::try_from(event_id - 1)
        .ok()
        .and_then(|index| history.get(index))
        .filter(|event| event.id == event_id)
        .ok_or_else(|| {
            Rejection::InvalidArgument(format!(
                "the run has no event {event_id} to reset to (its history has {} events)",
                history.len()
            ))
        })?;
    let started_event_id = match &event.kind {
        EventKind::WorkflowTaskCompleted {
            started_event_id, ..
        }
        | EventKind::WorkflowTaskFailed {
            started_event_id, ..
        }
        | EventKind::WorkflowTaskTimedOut {
            started_event_id, ..
        } => *started_event_id,
        EventKind::WorkflowTaskStarted { .. } => event_id,
        other => {
            return Err(Rejection::InvalidArgument(format!(
                "event {event_id} is a {}; a reset point is a WorkflowTaskCompleted, \
                 WorkflowTaskFailed, WorkflowTaskTimedOut or WorkflowTaskStarted event",
                other.name()
            )));
        }
    };
    if started_event_id < 3 {
        return Err(Rejection::InvalidArgument(format!(
            "the workflow task of event {event_id} never started; pick one that did"
        )));
    }
    Ok(started_event_id)
}

/// What the copied events leave open.
struct OpenWork {
    /// Scheduled event ids.
    activities: BTreeSet<i64>,
    /// Timer ids.
    timers: BTreeSet<String>,
}

/// The activities and timers open at the reset point; refuses a point where a child,
/// a request to another workflow or an update is open.
fn open_work(prefix: &[Event], point: i64) -> Result<OpenWork, Rejection> {
    let mut activities = BTreeSet::new();
    let mut timers = BTreeMap::new();
    let mut others = BTreeMap::new();
    for event in prefix {
        if let Some(scheduled_event_id) = event.kind.closed_activity() {
            activities.remove(&scheduled_event_id);
        }
        match &event.kind {
            EventKind::ActivityTaskScheduled(_) => {
                activities.insert(event.id);
            }
            EventKind::TimerStarted { timer_id, .. } => {
                timers.insert(timer_id.clone(), event.id);
            }
            EventKind::TimerFired { timer_id, .. } | EventKind::TimerCanceled { timer_id, .. } => {
                timers.remove(timer_id);
            }
            EventKind::StartChildWorkflowExecutionInitiated(_)
            | EventKind::SignalExternalWorkflowExecutionInitiated(_)
            | EventKind::RequestCancelExternalWorkflowExecutionInitiated(_) => {
                others.insert(event.id, event.kind.name());
            }
            EventKind::StartChildWorkflowExecutionFailed {
                initiated_event_id, ..
            }
            | EventKind::ChildWorkflowExecutionClosed {
                initiated_event_id, ..
            }
            | EventKind::ExternalWorkflowExecutionSignaled {
                initiated_event_id, ..
            }
            | EventKind::SignalExternalWorkflowExecutionFailed {
                initiated_event_id, ..
            }
            | EventKind::ExternalWorkflowExecutionCancelRequested {
                initiated_event_id, ..
            }
            | EventKind::RequestCancelExternalWorkflowExecutionFailed {
                initiated_event_id, ..
            } => {
                others.remove(initiated_event_id);
            }
            EventKind::WorkflowExecutionUpdateAccepted { .. } => {
                others.insert(event.id, event.kind.name());
            }
            EventKind::WorkflowExecutionUpdateCompleted {
                accepted_event_id, ..
            } => {
                others.remove(accepted_event_id);
            }
            _ => {}
        }
    }
    match others.iter().next() {
        None => Ok(OpenWork {
            activities,
            timers: timers.into_keys().collect(),
        }),
        Some((id, name)) => Err(Rejection::InvalidArgument(format!(
            "cannot reset to event {point}: the {name} at event {id} is still open there, and \
             a reset run does not take over children, requests to other workflows or updates; \
             pick a workflow task before it began or after it ended"
        ))),
    }
}

/// Puts the open activities and timers into the new run.
fn take_over(run: &mut Execution, prefix: &[Event], open: &OpenWork, now: Time) {
    for event in prefix {
        match &event.kind {
            EventKind::ActivityTaskScheduled(scheduled) if open.activities.contains(&event.id) => {
                run.activities.insert(
                    event.id,
                    Activity::scheduled(event.id, (**scheduled).clone(), now),
                );
            }
            EventKind::ActivityTaskCancelRequested {
                scheduled_event_id, ..
            } => {
                if let Some(activity) = run.activities.get_mut(scheduled_event_id) {
                    activity.cancel_requested = true;
                    activity.cancel_requested_event_id = event.id;
                }
            }
            EventKind::TimerStarted {
                timer_id,
                start_to_fire_timeout,
                ..
            } if open.timers.contains(timer_id) => {
                run.timers.insert(
                    timer_id.clone(),
                    Timer {
                        started_event_id: event.id,
                        fire_time: event.time.plus(*start_to_fire_timeout),
                    },
                );
            }
            _ => {}
        }
    }
}

/// What a copied event leaves in the new run's state. Work in flight is refused before, so
/// only the run-wide values remain.
fn replay(run: &mut Execution, event: &Event) {
    match &event.kind {
        EventKind::UpsertWorkflowSearchAttributes {
            search_attributes, ..
        } => crate::search::merge(&mut run.search_attributes, search_attributes),
        EventKind::WorkflowPropertiesModified { upserted_memo, .. } => {
            crate::commands::merge(&mut run.memo, upserted_memo)
        }
        EventKind::WorkflowExecutionCancelRequested { .. } => run.cancel_requested = true,
        EventKind::WorkflowTaskStarted { identity, .. } => {
            run.last_worker_identity = identity.clone();
        }
        _ => {}
    }
}
