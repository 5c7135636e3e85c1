//! Which history events a run's log shows as milestones, at which level and in which
//! words: the rules every view of a log (REST, its streams, the CLI and the UI through them)
//! shares. A milestone is derived from history on every read; it is not stored.

use std::collections::HashMap;

use crate::event::{ChildOutcome, Event, EventKind};

/// How much a log line matters, in the words log readers use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// One history event as a log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Milestone {
    pub level: Level,
    pub message: String,
    /// The activity id of the task run it belongs to; `None` for the run as a whole.
    pub task_run: Option<String>,
    /// The worker the event names, if any.
    pub worker: Option<String>,
}

/// Turns a run's history into milestones, in order, remembering activity ids by the event
/// that scheduled them (later events name an activity only by that event).
#[derive(Default)]
pub struct Milestones {
    activity_ids: HashMap<i64, String>,
}

impl Milestones {
    /// The milestone `event` is, if it is one; events must come in history order.
    pub fn of(&mut self, event: &Event) -> Option<Milestone> {
        let (level, message, task_run, worker) = self.describe(event)?;
        Some(Milestone {
            level,
            message,
            task_run,
            worker,
        })
    }

    fn activity(&self, scheduled_event_id: i64) -> String {
        self.activity_ids
            .get(&scheduled_event_id)
            .cloned()
            .unwrap_or_else(|| format!("#{scheduled_event_id}"))
    }

    fn describe(
        &mut self,
        event: &Event,
    ) -> Option<(Level, String, Option<String>, Option<String>)> {
        let worker = |identity: &str| (!identity.is_empty()).then(|| identity.to_owned());
        Some(match &event.kind {
            EventKind::WorkflowExecutionStarted(started) => (
                Level::Info,
                format!(
                    "execution of {} started on task queue '{}'",
                    started.workflow_type, started.task_queue
                ),
                None,
                None,
            ),
            EventKind::ActivityTaskScheduled(scheduled) => {
                self.activity_ids
                    .insert(event.id, scheduled.activity_id.clone());
                (
                    Level::Info,
                    format!(
                        "task run {} ({}) scheduled on task queue '{}'",
                        scheduled.activity_id, scheduled.activity_type, scheduled.task_queue
                    ),
                    Some(scheduled.activity_id.clone()),
                    None,
                )
            }
            EventKind::ActivityTaskStarted {
                scheduled_event_id,
                identity,
                attempt,
                ..
            } => {
                let id = self.activity(*scheduled_event_id);
                (
                    Level::Info,
                    format!("task run {id} started (attempt {attempt})"),
                    Some(id),
                    worker(identity),
                )
            }
            EventKind::ActivityTaskCompleted {
                scheduled_event_id,
                identity,
                ..
            } => {
                let id = self.activity(*scheduled_event_id);
                (
                    Level::Info,
                    format!("task run {id} completed"),
                    Some(id),
                    worker(identity),
                )
            }
            EventKind::ActivityTaskFailed {
                scheduled_event_id,
                failure,
                identity,
                ..
            } => {
                let id = self.activity(*scheduled_event_id);
                let message = format!("task run {id} failed: {}", failure.message);
                (Level::Error, message, Some(id), worker(identity))
            }
            EventKind::ActivityTaskTimedOut {
                scheduled_event_id,
                failure,
                ..
            } => {
                let id = self.activity(*scheduled_event_id);
                (
                    Level::Error,
                    format!("task run {id} timed out: {}", failure.message),
                    Some(id),
                    None,
                )
            }
            EventKind::ActivityTaskCanceled {
                scheduled_event_id, ..
            } => {
                let id = self.activity(*scheduled_event_id);
                (
                    Level::Warn,
                    format!("task run {id} cancelled"),
                    Some(id),
                    None,
                )
            }
            EventKind::WorkflowTaskFailed {
                failure, identity, ..
            } => (
                Level::Error,
                format!(
                    "workflow task failed: {}",
                    failure
                        .as_ref()
                        .map_or("no reason given", |f| f.message.as_str())
                ),
                None,
                worker(identity),
            ),
            EventKind::WorkflowTaskTimedOut { .. } => (
                Level::Warn,
                "workflow task timed out".to_owned(),
                None,
                None,
            ),
            EventKind::TimerStarted {
                timer_id,
                start_to_fire_timeout,
                ..
            } => (
                Level::Info,
                format!("timer {timer_id} started for {:?}", start_to_fire_timeout),
                None,
                None,
            ),
            EventKind::TimerFired { timer_id, .. } => {
                (Level::Info, format!("timer {timer_id} fired"), None, None)
            }
            EventKind::WorkflowExecutionSignaled {
                signal_name,
                identity,
                ..
            } => (
                Level::Info,
                format!("signal '{signal_name}' received"),
                None,
                worker(identity),
            ),
            EventKind::WorkflowExecutionCancelRequested { cause, .. } => (
                Level::Warn,
                format!(
                    "cancellation requested{}",
                    if cause.is_empty() {
                        String::new()
                    } else {
                        format!(": {cause}")
                    }
                ),
                None,
                None,
            ),
            EventKind::ChildWorkflowExecutionStarted {
                execution,
                workflow_type,
                ..
            } => (
                Level::Info,
                format!("child {} ({workflow_type}) started", execution.workflow_id),
                None,
                None,
            ),
            EventKind::ChildWorkflowExecutionClosed {
                execution, outcome, ..
            } => {
                let level = if matches!(outcome, ChildOutcome::Completed { .. }) {
                    Level::Info
                } else {
                    Level::Warn
                };
                let how = outcome
                    .event_name()
                    .trim_start_matches("ChildWorkflowExecution")
                    .to_lowercase();
                (
                    level,
                    format!("child {} {how}", execution.workflow_id),
                    None,
                    None,
                )
            }
            EventKind::WorkflowExecutionCompleted { .. } => {
                (Level::Info, "execution completed".to_owned(), None, None)
            }
            EventKind::WorkflowExecutionFailed { failure, .. } => (
                Level::Error,
                format!("execution failed: {}", failure.message),
                None,
                None,
            ),
            EventKind::WorkflowExecutionTimedOut { .. } => {
                (Level::Error, "execution timed out".to_owned(), None, None)
            }
            EventKind::WorkflowExecutionTerminated { reason, .. } => (
                Level::Error,
                format!("execution terminated: {reason}"),
                None,
                None,
            ),
            EventKind::WorkflowExecutionCanceled { .. } => {
                (Level::Warn, "execution cancelled".to_owned(), None, None)
            }
            EventKind::WorkflowExecutionContinuedAsNew(next) => (
                Level::Info,
                format!(
                    "execution continued as new run {}",
                    next.new_execution_run_id
                ),
                None,
                None,
            ),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Time;

    fn event(id: i64, kind: EventKind) -> Event {
        Event {
            id,
            time: Time(id),
            kind,
        }
    }

    #[test]
    fn failures_are_errors_timeouts_and_cancellations_warnings_and_the_rest_is_left_out() {
        let mut milestones = Milestones::default();
        let failed = milestones
            .of(&event(
                9,
                EventKind::WorkflowExecutionTerminated {
                    reason: "stuck".into(),
                    identity: "ops".into(),
                    details: None,
                },
            ))
            .unwrap();
        assert_eq!(failed.level, Level::Error);
        assert_eq!(failed.message, "execution terminated: stuck");
        let timed_out = milestones
            .of(&event(
                4,
                EventKind::WorkflowTaskTimedOut {
                    scheduled_event_id: 2,
                    started_event_id: 3,
                    timeout_type: crate::TimeoutType::StartToClose,
                },
            ))
            .unwrap();
        assert_eq!(timed_out.level, Level::Warn);
        let fired = milestones
            .of(&event(
                6,
                EventKind::TimerFired {
                    timer_id: "t".into(),
                    started_event_id: 5,
                },
            ))
            .unwrap();
        assert_eq!(
            (fired.level, fired.message.as_str()),
            (Level::Info, "timer t fired")
        );
        assert_eq!(
            milestones.of(&event(
                7,
                EventKind::WorkflowTaskScheduled {
                    task_queue: crate::TaskQueue::normal("q"),
                    start_to_close_timeout: std::time::Duration::from_secs(10),
                    attempt: 1,
                }
            )),
            None,
            "bookkeeping is not a milestone"
        );
    }
}
