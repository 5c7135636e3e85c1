//! Acting on clocks that ran out: workflow timeouts, workflow task timeouts, activity
//! timeouts and retries, user timers.

use crate::event::EventKind;
use crate::execution::{Deadline, Execution};
use crate::transition::{Outcome, Tx};
use crate::types::{QueueKind, RetryState, Status, Time, TimeoutType};

impl Execution {
    /// Applies every deadline due at `now`, earliest first. Returns `None` when nothing was
    /// due, so the caller can skip a write.
    pub fn fire_deadlines(&mut self, now: Time) -> Option<Outcome> {
        let due: Vec<Deadline> = self
            .deadlines()
            .into_iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, deadline)| deadline)
            .collect();
        if due.is_empty() {
            return None;
        }
        let mut tx = Tx::new(self, now);
        for deadline in due {
            if !tx.ex.is_running() {
                break;
            }
            fire(&mut tx, deadline);
        }
        Some(tx.finish())
    }
}

fn fire(tx: &mut Tx<'_>, deadline: Deadline) {
    match deadline {
        Deadline::RunTimeout | Deadline::ExecutionTimeout => {
            // As Temporal: past the execution expiration no retry is possible at all.
            let expired = tx.ex.execution_expiration.is_some_and(|at| at <= tx.now);
            let (retry_state, new_execution_run_id) = if expired {
                (RetryState::Timeout, String::new())
            } else {
                tx.follow_failed_run(None)
            };
            tx.close(
                Status::TimedOut,
                EventKind::WorkflowExecutionTimedOut {
                    retry_state,
                    new_execution_run_id,
                },
            );
        }
        Deadline::FirstWorkflowTask => {
            tx.ex.first_workflow_task_at = None;
            tx.schedule_workflow_task();
        }
        Deadline::WorkflowTaskStartToClose {
            scheduled_event_id,
            attempt,
        } => {
            let Some(task) = tx.ex.workflow_task.clone() else {
                return;
            };
            let Some(started) = task.started else { return };
            if task.scheduled_event_id != scheduled_event_id || task.attempt != attempt {
                return;
            }
            // A transient attempt's timeout leaves no trace in history, as in Temporal.
            if !task.transient {
                tx.append(EventKind::WorkflowTaskTimedOut {
                    scheduled_event_id,
                    started_event_id: started.event_id,
                    timeout_type: TimeoutType::StartToClose,
                });
            }
            tx.retry_workflow_task(tx.next_attempt_after_failure(attempt));
        }
        Deadline::WorkflowTaskScheduleToStart {
            scheduled_event_id,
            attempt,
        } => {
            let Some(task) = tx.ex.workflow_task.clone() else {
                return;
            };
            if task.scheduled_event_id != scheduled_event_id
                || task.attempt != attempt
                || task.started.is_some()
                || task.task_queue.kind != QueueKind::Sticky
            {
                return;
            }
            // The sticky worker did not take it in time: the normal queue gets a fresh task
            // of the same attempt.
            tx.append(EventKind::WorkflowTaskTimedOut {
                scheduled_event_id,
                started_event_id: 0,
                timeout_type: TimeoutType::ScheduleToStart,
            });
            tx.retry_workflow_task(attempt);
        }
        Deadline::ActivityTimeout {
            scheduled_event_id,
            attempt,
            timeout_type,
        } => {
            crate::activity::time_out(tx, scheduled_event_id, attempt, timeout_type);
        }
        Deadline::ActivityRetry {
            scheduled_event_id,
            attempt,
        } => {
            crate::activity::retry_now(tx, scheduled_event_id, attempt);
        }
        Deadline::Timer { timer_id } => {
            if let Some(timer) = tx.ex.timers.remove(&timer_id) {
                tx.add_workflow_event(EventKind::TimerFired {
                    timer_id,
                    started_event_id: timer.started_event_id,
                });
            }
        }
    }
}
