//! Transitions: `(state, input, now) -> (new events, effects)`.
//!
//! Each public function either changes the execution and returns an [`Outcome`], or returns
//! a [`Rejection`]. Callers apply transitions to a copy and keep it only on success, so a
//! rejection never leaves a half-changed state behind.

use std::collections::HashMap;
use std::time::Duration;

use crate::Rejection;
use crate::command::Command;
use crate::event::{Event, EventKind, UNASSIGNED_EVENT_ID};
use crate::execution::{Execution, StartedTask, WorkflowTask};
use crate::types::{QueueKind, Status, Stickiness, TaskQueue, Time};

/// What a transition produced: events to append (already numbered) and work to hand out
/// once they are committed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub events: Vec<Event>,
    pub effects: Vec<Effect>,
    /// Activity attempts that ended and are retried, to keep beside the history.
    pub attempts: Vec<crate::attempts::EndedAttempt>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// A workflow task is ready on this queue.
    DispatchWorkflowTask(TaskRef),
    /// An activity attempt is ready on this queue.
    DispatchActivityTask(TaskRef),
    /// The run closed and the next run of its chain follows (a retry, a cron run, or
    /// continue-as-new): create it (`Execution::start_next_run`) in the same commit.
    StartNextRun(Box<crate::chain::NextRun>),
    /// A signal or cancellation request to another execution was initiated by this event:
    /// deliver it, then record the outcome with `Execution::resolve_external_request`.
    DeliverExternalRequest { initiated_event_id: i64 },
    /// A child workflow was initiated by this event: start it, then record the outcome
    /// with `Execution::child_started` or `Execution::child_start_failed`.
    StartChild { initiated_event_id: i64 },
    /// This child's chain ended: tell its parent (`Execution::child_closed`).
    NotifyParent(Box<crate::children::ParentNotice>),
    /// The run closed with children running: apply their parent close policies.
    ApplyParentClosePolicies(Vec<crate::children::ClosePolicyAction>),
    /// The run was closed by a reset: create the run that replaces it (made by
    /// `Execution::reset`) in the same commit.
    StartResetRun(Box<crate::reset::ResetRun>),
}

/// Names a dispatchable task of one execution.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TaskRef {
    pub queue: TaskQueue,
    pub scheduled_event_id: i64,
    pub attempt: i32,
}

/// Temporal's WorkflowTaskFailedCause codes the core itself produces.
pub mod failed_cause {
    pub const UNHANDLED_COMMAND: i32 = 1;
    pub const BAD_SCHEDULE_ACTIVITY_ATTRIBUTES: i32 = 2;
    pub const BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES: i32 = 3;
    pub const BAD_START_TIMER_ATTRIBUTES: i32 = 4;
    pub const BAD_CANCEL_TIMER_ATTRIBUTES: i32 = 5;
    pub const BAD_RECORD_MARKER_ATTRIBUTES: i32 = 6;
    pub const BAD_COMPLETE_WORKFLOW_EXECUTION_ATTRIBUTES: i32 = 7;
    pub const BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES: i32 = 8;
    pub const BAD_CANCEL_WORKFLOW_EXECUTION_ATTRIBUTES: i32 = 9;
    pub const BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES: i32 = 10;
    pub const BAD_CONTINUE_AS_NEW_ATTRIBUTES: i32 = 11;
    pub const START_TIMER_DUPLICATE_ID: i32 = 12;
    pub const BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES: i32 = 15;
    pub const BAD_SEARCH_ATTRIBUTES: i32 = 23;
    pub const BAD_START_CHILD_EXECUTION_ATTRIBUTES: i32 = 16;
    pub const BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE: i32 = 30;
    pub const UNHANDLED_UPDATE: i32 = 31;
    pub const SCHEDULE_ACTIVITY_DUPLICATE_ID: i32 = 22;
    /// Temporal's FEATURE_DISABLED: the command is one this server does not carry out.
    pub const FEATURE_DISABLED: i32 = 35;
}

/// An in-progress transition: the state being changed and what it has produced so far.
pub(crate) struct Tx<'a> {
    pub(crate) ex: &'a mut Execution,
    pub(crate) now: Time,
    pub(crate) out: Outcome,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(ex: &'a mut Execution, now: Time) -> Tx<'a> {
        Tx {
            ex,
            now,
            out: Outcome::default(),
        }
    }

    pub(crate) fn finish(self) -> Outcome {
        self.ex.version += 1;
        self.out
    }

    /// Appends an event to history and returns its id.
    pub(crate) fn append(&mut self, kind: EventKind) -> i64 {
        self.append_at(self.now, kind)
    }

    /// Appends an event that happened earlier than now (a buffered event, or an activity
    /// attempt's start, recorded when the attempt ends).
    pub(crate) fn append_at(&mut self, time: Time, kind: EventKind) -> i64 {
        let id = self.ex.next_event_id;
        self.ex.next_event_id += 1;
        let event = Event { id, time, kind };
        self.ex.history_size_bytes += event.stored_size();
        self.out.events.push(event);
        id
    }

    pub(crate) fn workflow_task_running(&self) -> bool {
        self.ex
            .workflow_task
            .as_ref()
            .is_some_and(|task| task.started.is_some())
    }

    /// Records something the workflow must react to: buffered while a workflow task runs,
    /// otherwise appended with a workflow task scheduled to handle it.
    pub(crate) fn add_workflow_event(&mut self, kind: EventKind) {
        if self.workflow_task_running() {
            self.ex.buffered.push((self.now, kind));
        } else {
            self.drop_pending_transient();
            self.append(kind);
            self.schedule_workflow_task();
        }
    }

    /// A transient workflow task no worker has taken gives way when something new happens:
    /// the new events take its reserved ids and an ordinary task follows them.
    pub(crate) fn drop_pending_transient(&mut self) {
        if self
            .ex
            .workflow_task
            .as_ref()
            .is_some_and(|t| t.transient && t.started.is_none())
        {
            self.ex.workflow_task = None;
        }
    }

    /// Writes the reserved events of a transient workflow task that is about to be recorded
    /// as completed or failed, so its outcome has something to refer to.
    fn materialize_transient(&mut self) {
        let Some(task) = self.ex.workflow_task.clone().filter(|t| t.transient) else {
            return;
        };
        debug_assert_eq!(
            self.ex.next_event_id, task.scheduled_event_id,
            "reserved ids are still free"
        );
        self.append_at(task.scheduled_time, task.scheduled_event());
        if let Some(started) = &task.started {
            self.append_at(started.time, task.started_event(started));
        }
        if let Some(task) = &mut self.ex.workflow_task {
            task.transient = false;
        }
    }

    /// Appends buffered events, giving completions the id of the started event that was
    /// buffered with them. Returns whether anything was flushed.
    pub(crate) fn flush_buffered(&mut self) -> bool {
        let buffered = std::mem::take(&mut self.ex.buffered);
        let flushed = !buffered.is_empty();
        let mut started_ids: HashMap<i64, i64> = HashMap::new();
        for (time, mut kind) in buffered {
            match &mut kind {
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
                } if *started_event_id == UNASSIGNED_EVENT_ID => {
                    *started_event_id = started_ids.get(scheduled_event_id).copied().unwrap_or(0);
                }
                EventKind::ChildWorkflowExecutionClosed {
                    initiated_event_id,
                    started_event_id,
                    ..
                } if *started_event_id == UNASSIGNED_EVENT_ID => {
                    *started_event_id = started_ids.get(initiated_event_id).copied().unwrap_or(0);
                }
                _ => {}
            }
            // Started events, by what they start: an activity's scheduled event, a child's
            // initiated event (their ids never collide).
            let starts = match &kind {
                EventKind::ActivityTaskStarted {
                    scheduled_event_id, ..
                } => Some(*scheduled_event_id),
                EventKind::ChildWorkflowExecutionStarted {
                    initiated_event_id, ..
                } => Some(*initiated_event_id),
                _ => None,
            };
            let child_started = matches!(kind, EventKind::ChildWorkflowExecutionStarted { .. });
            let id = self.append_at(time, kind);
            if let Some(started) = starts {
                started_ids.insert(started, id);
                if child_started
                    && let Some(child) = self.ex.children.get_mut(&started)
                    && let Some(run) = &mut child.started
                {
                    run.started_event_id = id;
                }
            }
        }
        flushed
    }

    /// Schedules a workflow task unless one is already pending, on the sticky queue when the
    /// run has one. A run still waiting out its first backoff (a retry, a cron run) gets its
    /// first task when the backoff ends, whatever arrives meanwhile, as in Temporal.
    pub(crate) fn schedule_workflow_task(&mut self) {
        if self.ex.workflow_task.is_some()
            || !self.ex.is_running()
            || self.ex.first_workflow_task_at.is_some()
        {
            return;
        }
        self.schedule_workflow_task_attempt(1, false);
    }

    pub(crate) fn schedule_workflow_task_attempt(&mut self, attempt: i32, transient: bool) {
        let normal = self.ex.started.task_queue.clone();
        let task_queue = match &self.ex.stickiness {
            Some(sticky) => TaskQueue {
                name: sticky.queue.clone(),
                kind: QueueKind::Sticky,
                normal_name: normal,
            },
            None => TaskQueue::normal(normal),
        };
        let start_to_close_timeout = self.ex.started.workflow_task_timeout;
        let task = WorkflowTask {
            scheduled_event_id: self.ex.next_event_id,
            attempt,
            task_queue: task_queue.clone(),
            start_to_close_timeout,
            scheduled_time: self.now,
            started: None,
            transient,
        };
        if !transient {
            self.append(task.scheduled_event());
        }
        let scheduled_event_id = task.scheduled_event_id;
        self.ex.workflow_task = Some(task);
        self.out.effects.push(Effect::DispatchWorkflowTask(TaskRef {
            queue: task_queue,
            scheduled_event_id,
            attempt,
        }));
    }

    /// Closes the run with `kind` as its last event. Pending work is dropped: nothing may
    /// follow a close event.
    pub(crate) fn close(&mut self, status: Status, kind: EventKind) {
        debug_assert!(kind.is_close());
        let outcome = crate::event::ChildOutcome::of_close(&kind);
        self.flush_buffered();
        self.append(kind);
        let ex = &mut *self.ex;
        ex.status = status;
        ex.close_time = Some(self.now);
        ex.workflow_task = None;
        ex.activities.clear();
        ex.timers.clear();
        ex.stickiness = None;
        // As in Temporal, requests to other executions not yet delivered die with the run.
        ex.external_requests.clear();
        self.close_family(outcome);
    }
}

/// What a worker sends with RespondWorkflowTaskCompleted, translated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Completion {
    pub commands: Vec<Command>,
    pub identity: String,
    pub binary_checksum: String,
    pub sdk_metadata: Option<crate::types::Blob>,
    pub metering_metadata: Option<crate::types::Blob>,
    pub stickiness: Option<Stickiness>,
    pub force_create_new_workflow_task: bool,
    pub return_new_workflow_task: bool,
    /// Protocol messages (updates), by message id, in the order sent.
    pub messages: Vec<(String, crate::updates::UpdateMessage)>,
}

/// The result of a workflow task completion beyond its events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompletionResult {
    /// A bad command failed the task instead; the worker is told why.
    pub command_error: Option<String>,
    /// The next workflow task, already started for this worker, when it asked for one.
    pub new_task_started: Option<TaskRef>,
    /// Updates the workflow's validators rejected, with the outcome for their callers.
    pub rejected_updates: Vec<(String, crate::types::Blob)>,
}

impl Execution {
    /// The workflow task named by a token, if it is the current one and running.
    fn running_workflow_task(
        &self,
        scheduled_event_id: i64,
        started_event_id: i64,
        attempt: i32,
    ) -> Result<&WorkflowTask, Rejection> {
        if !self.is_running() {
            return Err(Rejection::NotFound(
                "workflow execution already completed".into(),
            ));
        }
        match &self.workflow_task {
            Some(task)
                if task.scheduled_event_id == scheduled_event_id
                    && task.attempt == attempt
                    && task
                        .started
                        .as_ref()
                        .is_some_and(|s| s.event_id == started_event_id) =>
            {
                Ok(task)
            }
            _ => Err(Rejection::NotFound("workflow task not found".into())),
        }
    }

    /// A worker took the workflow task from a queue.
    pub fn start_workflow_task(
        &mut self,
        scheduled_event_id: i64,
        attempt: i32,
        identity: &str,
        request_id: &str,
        now: Time,
    ) -> Result<Outcome, Rejection> {
        if !self.is_running() {
            return Err(Rejection::NotFound(
                "workflow execution already completed".into(),
            ));
        }
        match &self.workflow_task {
            Some(task)
                if task.scheduled_event_id == scheduled_event_id
                    && task.attempt == attempt
                    && task.started.is_none() => {}
            _ => return Err(Rejection::NotFound("workflow task not found".into())),
        }
        let mut tx = Tx::new(self, now);
        tx.start_current_workflow_task(identity, request_id);
        Ok(tx.finish())
    }

    pub fn complete_workflow_task(
        &mut self,
        scheduled_event_id: i64,
        started_event_id: i64,
        attempt: i32,
        completion: Completion,
        now: Time,
    ) -> Result<(Outcome, CompletionResult), Rejection> {
        self.running_workflow_task(scheduled_event_id, started_event_id, attempt)?;
        let mut tx = Tx::new(self, now);
        let result = tx.complete_workflow_task(completion);
        Ok((tx.finish(), result))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn fail_workflow_task(
        &mut self,
        scheduled_event_id: i64,
        started_event_id: i64,
        attempt: i32,
        cause: i32,
        failure: Option<crate::types::Failure>,
        identity: &str,
        now: Time,
    ) -> Result<Outcome, Rejection> {
        let transient = self
            .running_workflow_task(scheduled_event_id, started_event_id, attempt)?
            .transient;
        let mut tx = Tx::new(self, now);
        // A transient attempt's failure leaves no trace in history, as in Temporal.
        if !transient {
            tx.append(EventKind::WorkflowTaskFailed {
                scheduled_event_id,
                started_event_id,
                cause,
                failure,
                identity: identity.to_owned(),
                base_run_id: String::new(),
                new_run_id: String::new(),
            });
        }
        tx.retry_workflow_task(tx.next_attempt_after_failure(attempt));
        Ok(tx.finish())
    }

    /// The worker holding this run's sticky queue went away: send pending and future
    /// workflow tasks to the normal queue, with full history.
    pub fn clear_stickiness(&mut self, now: Time) -> Outcome {
        let mut tx = Tx::new(self, now);
        tx.ex.stickiness = None;
        if let Some(task) = &mut tx.ex.workflow_task
            && task.started.is_none()
            && task.task_queue.kind == QueueKind::Sticky
        {
            task.task_queue = TaskQueue::normal(task.task_queue.normal_name.clone());
            let task_ref = TaskRef {
                queue: task.task_queue.clone(),
                scheduled_event_id: task.scheduled_event_id,
                attempt: task.attempt,
            };
            tx.out.effects.push(Effect::DispatchWorkflowTask(task_ref));
        }
        tx.finish()
    }

    pub fn terminate(
        &mut self,
        reason: &str,
        details: Option<crate::types::Blob>,
        identity: &str,
        now: Time,
    ) -> Result<Outcome, Rejection> {
        if !self.is_running() {
            return Err(crate::requests::already_completed());
        }
        let mut tx = Tx::new(self, now);
        tx.close(
            Status::Terminated,
            EventKind::WorkflowExecutionTerminated {
                reason: reason.to_owned(),
                details,
                identity: identity.to_owned(),
            },
        );
        Ok(tx.finish())
    }
}

impl Tx<'_> {
    pub(crate) fn start_current_workflow_task(&mut self, identity: &str, request_id: &str) {
        let scheduled_event_id = self
            .ex
            .workflow_task
            .as_ref()
            .map_or(0, |t| t.scheduled_event_id);
        let transient = self.ex.workflow_task.as_ref().is_some_and(|t| t.transient);
        let event_id = if transient {
            scheduled_event_id + 1
        } else {
            self.append(EventKind::WorkflowTaskStarted {
                scheduled_event_id,
                identity: identity.to_owned(),
                request_id: request_id.to_owned(),
                history_size_bytes: self.ex.history_size_bytes,
                suggest_continue_as_new: self.ex.should_continue_as_new(),
            })
        };
        let now = self.now;
        self.ex.last_worker_identity = identity.to_owned();
        self.ex.first_task_started_time.get_or_insert(now);
        self.deliver_updates(scheduled_event_id);
        if let Some(task) = &mut self.ex.workflow_task {
            task.started = Some(StartedTask {
                event_id,
                time: now,
                identity: identity.to_owned(),
                request_id: request_id.to_owned(),
            });
        }
    }

    /// A task that failed on a sticky queue starts over at attempt 1 on the normal queue (the
    /// sticky worker's cache was the likely culprit); on the normal queue attempts count up.
    pub(crate) fn next_attempt_after_failure(&self, attempt: i32) -> i32 {
        match &self.ex.workflow_task {
            Some(task) if task.task_queue.kind == QueueKind::Sticky => 1,
            _ => attempt + 1,
        }
    }

    /// After a failed or timed-out workflow task: flush what arrived meanwhile and try
    /// again on the normal queue, where the worker gets the full history.
    pub(crate) fn retry_workflow_task(&mut self, attempt: i32) {
        self.ex.workflow_task = None;
        self.ex.stickiness = None;
        let flushed = self.flush_buffered();
        // Retries stay out of history until one completes, unless there is news for the
        // workflow; a first attempt (after a sticky failure) is always written.
        self.schedule_workflow_task_attempt(attempt, attempt > 1 && !flushed);
    }

    fn complete_workflow_task(&mut self, completion: Completion) -> CompletionResult {
        let task = self
            .ex
            .workflow_task
            .clone()
            .expect("checked by the caller");
        let started = task.started.clone().expect("checked by the caller");
        let closes = completion.commands.iter().any(Command::closes_workflow);
        // A workflow may not close while events it has not seen are waiting.
        if closes && !self.ex.buffered.is_empty() {
            return self.reject_completion(
                &task,
                &started,
                failed_cause::UNHANDLED_COMMAND,
                "workflow has unhandled events; it must see them before it closes".into(),
                &completion.identity,
            );
        }
        // Nor while updates it has not been shown are waiting, unless it continues as new:
        // then, as on Temporal, their callers are told to send them again, and the next run
        // takes them.
        let continues = completion
            .commands
            .iter()
            .any(|command| matches!(command, Command::ContinueAsNew(_)));
        if closes && !continues && self.undelivered_updates() {
            return self.reject_completion(
                &task,
                &started,
                failed_cause::UNHANDLED_UPDATE,
                "workflow has unhandled updates; it must see them before it closes".into(),
                &completion.identity,
            );
        }
        let checked = crate::commands::validate(self.ex, &completion.commands)
            .and_then(|()| crate::updates::validate_messages(self.ex, &completion.messages))
            .and_then(|()| referenced_messages_exist(&completion));
        if let Err((cause, message)) = checked {
            return self.reject_completion(&task, &started, cause, message, &completion.identity);
        }
        self.materialize_transient();
        let completed_event_id = self.append(EventKind::WorkflowTaskCompleted {
            scheduled_event_id: task.scheduled_event_id,
            started_event_id: started.event_id,
            identity: completion.identity.clone(),
            binary_checksum: completion.binary_checksum.clone(),
            sdk_metadata: completion.sdk_metadata.clone(),
            metering_metadata: completion.metering_metadata.clone(),
        });
        self.ex.workflow_task = None;
        self.ex.previous_started_event_id = started.event_id;
        self.ex.stickiness = completion.stickiness.clone();
        let mut needs_workflow_task = completion.force_create_new_workflow_task;
        let mut messages = completion.messages;
        let mut result = CompletionResult::default();
        for command in completion.commands {
            if let Command::ProtocolMessage { message_id } = &command {
                // Validated: the message exists (a repeated reference finds nothing more).
                if let Some(position) = messages.iter().position(|(id, _)| id == message_id) {
                    let (_, message) = messages.remove(position);
                    result
                        .rejected_updates
                        .extend(self.apply_update_message(message));
                }
                continue;
            }
            needs_workflow_task |=
                crate::commands::apply(self, command, completed_event_id, &completion.identity);
            if !self.ex.is_running() {
                return result;
            }
        }
        // Messages no command placed come after the commands, in the order sent.
        for (_, message) in messages {
            result
                .rejected_updates
                .extend(self.apply_update_message(message));
        }
        needs_workflow_task |= self.flush_buffered();
        needs_workflow_task |= self.undelivered_updates();
        if needs_workflow_task {
            self.schedule_workflow_task();
            if completion.return_new_workflow_task
                && let Some(task) = &self.ex.workflow_task
            {
                let task_ref = TaskRef {
                    queue: task.task_queue.clone(),
                    scheduled_event_id: task.scheduled_event_id,
                    attempt: task.attempt,
                };
                // Handed straight back to this worker, so not dispatched to a queue.
                self.out.effects.retain(
                    |effect| !matches!(effect, Effect::DispatchWorkflowTask(r) if *r == task_ref),
                );
                self.start_current_workflow_task(&completion.identity, "");
                result.new_task_started = Some(task_ref);
            }
        }
        result
    }

    fn reject_completion(
        &mut self,
        task: &WorkflowTask,
        started: &StartedTask,
        cause: i32,
        message: String,
        identity: &str,
    ) -> CompletionResult {
        // The refusal is worth recording even for a transient attempt: it explains the retry.
        self.materialize_transient();
        self.append(EventKind::WorkflowTaskFailed {
            scheduled_event_id: task.scheduled_event_id,
            started_event_id: started.event_id,
            cause,
            failure: Some(crate::types::Failure {
                message: message.clone(),
                source: "Server".into(),
                info: crate::types::FailureInfo::Server {
                    non_retryable: false,
                },
                cause: None,
                original: None,
            }),
            identity: identity.to_owned(),
            base_run_id: String::new(),
            new_run_id: String::new(),
        });
        self.retry_workflow_task(self.next_attempt_after_failure(task.attempt));
        CompletionResult {
            command_error: Some(message),
            ..CompletionResult::default()
        }
    }
}

/// Every ProtocolMessage command names a message the completion carries.
fn referenced_messages_exist(completion: &Completion) -> Result<(), (i32, String)> {
    for command in &completion.commands {
        if let Command::ProtocolMessage { message_id } = command
            && !completion.messages.iter().any(|(id, _)| id == message_id)
        {
            return Err((
                failed_cause::BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE,
                format!("ProtocolMessageCommand names message '{message_id}', which was not sent"),
            ));
        }
    }
    Ok(())
}

pub(crate) fn default_workflow_task_timeout() -> Duration {
    Duration::from_secs(10)
}
