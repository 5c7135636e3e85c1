//! Workflow task commands: validated all together first, then applied in order.

use std::collections::HashSet;
use std::time::Duration;

use crate::command::{Command, ExternalTarget, ScheduleActivity};
use crate::event::{ActivityScheduled, EventKind, ExternalCancel, ExternalSignal};
use crate::execution::{Activity, ActivityState, Execution, Timer};
use crate::requests::ExternalRequest;
use crate::transition::{Effect, TaskRef, Tx, failed_cause};
use crate::types::{ExecutionKey, RetryPolicy, Status, TaskQueue};

const MAX_ID_LENGTH: usize = 1000;

/// Checks every command against the state as it will be when each is applied. The whole
/// completion is refused on the first bad command, as Temporal does.
pub(crate) fn validate(ex: &Execution, commands: &[Command]) -> Result<(), (i32, String)> {
    let mut activity_ids: HashSet<&str> = ex
        .activities
        .values()
        .map(|a| a.scheduled.activity_id.as_str())
        .collect();
    let mut timer_ids: HashSet<&str> = ex.timers.keys().map(String::as_str).collect();
    // A timer whose fire is still buffered may be canceled: the cancel wins, as in Temporal.
    let mut cancellable_timers: HashSet<&str> = timer_ids.clone();
    cancellable_timers.extend(ex.buffered.iter().filter_map(|(_, kind)| match kind {
        EventKind::TimerFired { timer_id, .. } => Some(timer_id.as_str()),
        _ => None,
    }));
    // Activities an earlier command of this completion cancels at once (no worker held them).
    let mut canceled: HashSet<i64> = HashSet::new();
    for (index, command) in commands.iter().enumerate() {
        if command.closes_workflow() && index + 1 != commands.len() {
            let cause = match command {
                Command::FailWorkflow { .. } => {
                    failed_cause::BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES
                }
                Command::CancelWorkflow { .. } => {
                    failed_cause::BAD_CANCEL_WORKFLOW_EXECUTION_ATTRIBUTES
                }
                Command::ContinueAsNew(_) => failed_cause::BAD_CONTINUE_AS_NEW_ATTRIBUTES,
                _ => failed_cause::BAD_COMPLETE_WORKFLOW_EXECUTION_ATTRIBUTES,
            };
            return Err((
                cause,
                "a command that closes the workflow must be the last command".into(),
            ));
        }
        match command {
            Command::ScheduleActivity(spec) => {
                let bad =
                    |message: String| (failed_cause::BAD_SCHEDULE_ACTIVITY_ATTRIBUTES, message);
                if spec.activity_id.is_empty() {
                    return Err(bad(
                        "ActivityId is not set on ScheduleActivityTaskCommand".into()
                    ));
                }
                if spec.activity_type.is_empty() {
                    return Err(bad(
                        "ActivityType is not set on ScheduleActivityTaskCommand".into(),
                    ));
                }
                if spec.activity_id.len() > MAX_ID_LENGTH
                    || spec.activity_type.len() > MAX_ID_LENGTH
                {
                    return Err(bad(format!(
                        "ActivityId and ActivityType are limited to {MAX_ID_LENGTH} bytes"
                    )));
                }
                if spec.schedule_to_close_timeout.is_zero() && spec.start_to_close_timeout.is_zero()
                {
                    return Err(bad(
                        "A valid StartToClose or ScheduleToCloseTimeout is not set on ScheduleActivityTaskCommand"
                            .into(),
                    ));
                }
                if let Some(policy) = &spec.retry_policy {
                    // As Temporal: unset fields take their defaults before the checks.
                    validate_retry_policy(&default_retry_policy(Some(policy.clone())))
                        .map_err(bad)?;
                }
                if !activity_ids.insert(&spec.activity_id) {
                    return Err((
                        failed_cause::SCHEDULE_ACTIVITY_DUPLICATE_ID,
                        format!("activity id '{}' is already in use", spec.activity_id),
                    ));
                }
            }
            Command::RequestCancelActivity { scheduled_event_id } => {
                let pending = ex
                    .activities
                    .get(scheduled_event_id)
                    .filter(|_| !canceled.contains(scheduled_event_id));
                let Some(activity) = pending else {
                    // Its outcome is buffered: the request is recorded and the outcome follows.
                    if has_buffered_outcome(ex, *scheduled_event_id)
                        && canceled.insert(*scheduled_event_id)
                    {
                        continue;
                    }
                    return Err((
                        failed_cause::BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES,
                        format!("no pending activity was scheduled by event {scheduled_event_id}"),
                    ));
                };
                // One no worker holds is canceled at once: later commands no longer see it.
                if !matches!(activity.state, ActivityState::Started { .. }) {
                    canceled.insert(*scheduled_event_id);
                    activity_ids.remove(activity.scheduled.activity_id.as_str());
                }
            }
            Command::StartTimer {
                timer_id,
                start_to_fire_timeout,
            } => {
                let bad = |message: String| (failed_cause::BAD_START_TIMER_ATTRIBUTES, message);
                if timer_id.is_empty() {
                    return Err(bad("TimerId is not set on StartTimerCommand".into()));
                }
                if start_to_fire_timeout.is_zero() {
                    return Err(bad("StartToFireTimeout must be greater than zero".into()));
                }
                cancellable_timers.insert(timer_id);
                if !timer_ids.insert(timer_id) {
                    return Err((
                        failed_cause::START_TIMER_DUPLICATE_ID,
                        format!("timer id '{timer_id}' is already in use"),
                    ));
                }
            }
            Command::CancelTimer { timer_id } => {
                timer_ids.remove(timer_id.as_str());
                if !cancellable_timers.remove(timer_id.as_str()) {
                    return Err((
                        failed_cause::BAD_CANCEL_TIMER_ATTRIBUTES,
                        format!("no pending timer has id '{timer_id}'"),
                    ));
                }
            }
            Command::RecordMarker { marker_name, .. } => {
                if marker_name.is_empty() {
                    return Err((
                        failed_cause::BAD_RECORD_MARKER_ATTRIBUTES,
                        "MarkerName is not set on RecordMarkerCommand".into(),
                    ));
                }
            }
            Command::ContinueAsNew(spec) => {
                let bad = |message: String| (failed_cause::BAD_CONTINUE_AS_NEW_ATTRIBUTES, message);
                if spec.workflow_type.len() > MAX_ID_LENGTH || spec.task_queue.len() > MAX_ID_LENGTH
                {
                    return Err(bad(format!(
                        "WorkflowType and TaskQueue are limited to {MAX_ID_LENGTH} bytes"
                    )));
                }
                if let Some(policy) = &spec.retry_policy {
                    validate_retry_policy(&default_retry_policy(Some(policy.clone())))
                        .map_err(bad)?;
                }
            }
            Command::StartChild(child) => {
                let bad =
                    |message: String| (failed_cause::BAD_START_CHILD_EXECUTION_ATTRIBUTES, message);
                if child.workflow_id.is_empty() {
                    return Err(bad(
                        "WorkflowId is not set on StartChildWorkflowExecutionCommand".into(),
                    ));
                }
                if child.workflow_type.is_empty() {
                    return Err(bad(
                        "WorkflowType is not set on StartChildWorkflowExecutionCommand".into(),
                    ));
                }
                if [
                    &child.workflow_id,
                    &child.workflow_type,
                    &child.task_queue,
                    &child.namespace,
                ]
                .iter()
                .any(|field| field.len() > MAX_ID_LENGTH)
                {
                    return Err(bad(format!(
                        "Namespace, WorkflowId, WorkflowType and TaskQueue are limited to {MAX_ID_LENGTH} bytes"
                    )));
                }
                if let Some(policy) = &child.retry_policy {
                    validate_retry_policy(&default_retry_policy(Some(policy.clone())))
                        .map_err(bad)?;
                }
                if !child.cron_schedule.is_empty() {
                    crate::cron::CronSchedule::parse(&child.cron_schedule).map_err(bad)?;
                }
            }
            Command::SignalExternal(target, spec) => {
                let cause = failed_cause::BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES;
                validate_target(target, "SignalExternalWorkflowExecutionCommand")
                    .map_err(|message| (cause, message))?;
                if spec.signal_name.is_empty() {
                    return Err((
                        cause,
                        "SignalName is not set on SignalExternalWorkflowExecutionCommand".into(),
                    ));
                }
            }
            Command::RequestCancelExternal(target, _) => {
                validate_target(target, "RequestCancelExternalWorkflowExecutionCommand").map_err(
                    |message| {
                        (
                            failed_cause::BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
                            message,
                        )
                    },
                )?;
            }
            Command::Invalid { cause, message } => return Err((*cause, message.clone())),
            Command::Unsupported { name } => {
                return Err((
                    failed_cause::FEATURE_DISABLED,
                    format!("command {name} is not supported by this server"),
                ));
            }
            Command::CompleteWorkflow { .. }
            | Command::FailWorkflow { .. }
            | Command::CancelWorkflow { .. }
            | Command::ProtocolMessage { .. }
            | Command::UpsertSearchAttributes { .. }
            | Command::ModifyProperties { .. } => {}
        }
    }
    Ok(())
}

fn validate_target(target: &ExternalTarget, command: &str) -> Result<(), String> {
    if target.workflow_id.is_empty() {
        return Err(format!("WorkflowId is not set on {command}"));
    }
    if target.workflow_id.len() > MAX_ID_LENGTH
        || target.namespace.len() > MAX_ID_LENGTH
        || target.run_id.len() > MAX_ID_LENGTH
    {
        return Err(format!(
            "Namespace, WorkflowId and RunId on {command} are limited to {MAX_ID_LENGTH} bytes"
        ));
    }
    Ok(())
}

fn has_buffered_outcome(ex: &Execution, scheduled: i64) -> bool {
    ex.buffered
        .iter()
        .any(|(_, kind)| kind.closed_activity() == Some(scheduled))
}

pub(crate) fn validate_retry_policy(policy: &RetryPolicy) -> Result<(), String> {
    if policy.backoff_coefficient < 1.0 {
        return Err("BackoffCoefficient cannot be less than 1".into());
    }
    if policy.maximum_attempts < 0 {
        return Err("MaximumAttempts cannot be negative".into());
    }
    if !policy.maximum_interval.is_zero() && policy.maximum_interval < policy.initial_interval {
        return Err("MaximumInterval cannot be less than InitialInterval".into());
    }
    Ok(())
}

/// Fills in what the worker left unset, the way Temporal does.
pub fn default_retry_policy(policy: Option<RetryPolicy>) -> RetryPolicy {
    let mut policy = policy.unwrap_or(RetryPolicy {
        initial_interval: Duration::ZERO,
        backoff_coefficient: 0.0,
        maximum_interval: Duration::ZERO,
        maximum_attempts: 0,
        non_retryable_error_types: Vec::new(),
    });
    if policy.initial_interval.is_zero() {
        policy.initial_interval = Duration::from_secs(1);
    }
    if policy.backoff_coefficient == 0.0 {
        policy.backoff_coefficient = 2.0;
    }
    if policy.maximum_interval.is_zero() {
        policy.maximum_interval = policy.initial_interval * 100;
    }
    policy
}

/// Applies one validated command; returns whether the workflow needs a new task to see a
/// result it produced at once. `identity` is the worker completing the workflow task.
pub(crate) fn apply(
    tx: &mut Tx<'_>,
    command: Command,
    completed_event_id: i64,
    identity: &str,
) -> bool {
    match command {
        Command::ScheduleActivity(spec) => {
            schedule_activity(tx, spec, completed_event_id);
            false
        }
        Command::RequestCancelActivity { scheduled_event_id } => {
            crate::activity::request_cancel(tx, scheduled_event_id, completed_event_id, identity)
        }
        Command::StartTimer {
            timer_id,
            start_to_fire_timeout,
        } => {
            let started_event_id = tx.append(EventKind::TimerStarted {
                timer_id: timer_id.clone(),
                start_to_fire_timeout,
                workflow_task_completed_event_id: completed_event_id,
            });
            let fire_time = tx.now.plus(start_to_fire_timeout);
            tx.ex.timers.insert(
                timer_id,
                Timer {
                    started_event_id,
                    fire_time,
                },
            );
            false
        }
        Command::CancelTimer { timer_id } => {
            let started_event_id = match tx.ex.timers.remove(&timer_id) {
                Some(timer) => timer.started_event_id,
                // It fired while this task ran: the buffered fire is dropped, the cancel wins.
                None => match take_buffered_fire(tx, &timer_id) {
                    Some(started_event_id) => started_event_id,
                    // Validation refuses cancelling a timer that is neither pending nor
                    // buffered as fired; were one to get here, it would change nothing.
                    None => return false,
                },
            };
            tx.append(EventKind::TimerCanceled {
                timer_id,
                started_event_id,
                workflow_task_completed_event_id: completed_event_id,
                identity: identity.to_owned(),
            });
            false
        }
        Command::CompleteWorkflow { result } => {
            let new_execution_run_id = tx.follow_completed_run(result.clone());
            tx.close(
                Status::Completed,
                EventKind::WorkflowExecutionCompleted {
                    result,
                    workflow_task_completed_event_id: completed_event_id,
                    new_execution_run_id,
                },
            );
            false
        }
        Command::ContinueAsNew(spec) => {
            tx.continue_as_new(*spec, completed_event_id);
            false
        }
        Command::StartChild(child) => {
            tx.start_child(*child, completed_event_id);
            false
        }
        Command::FailWorkflow { failure } => {
            let (retry_state, new_execution_run_id) = tx.follow_failed_run(Some(&failure));
            tx.close(
                Status::Failed,
                EventKind::WorkflowExecutionFailed {
                    failure,
                    retry_state,
                    workflow_task_completed_event_id: completed_event_id,
                    new_execution_run_id,
                },
            );
            false
        }
        Command::CancelWorkflow { details } => {
            tx.close(
                Status::Canceled,
                EventKind::WorkflowExecutionCanceled {
                    details,
                    workflow_task_completed_event_id: completed_event_id,
                },
            );
            false
        }
        Command::SignalExternal(target, spec) => {
            let (target, control, child_workflow_only) = external_target(tx, target);
            let signal = ExternalSignal {
                target,
                signal_name: spec.signal_name,
                input: spec.input,
                header: spec.header,
                control,
                child_workflow_only,
                workflow_task_completed_event_id: completed_event_id,
            };
            let initiated = tx.append(EventKind::SignalExternalWorkflowExecutionInitiated(
                Box::new(signal.clone()),
            ));
            send_external_request(tx, initiated, ExternalRequest::Signal(signal));
            false
        }
        Command::RequestCancelExternal(target, spec) => {
            let (target, control, child_workflow_only) = external_target(tx, target);
            let cancel = ExternalCancel {
                target,
                control,
                child_workflow_only,
                reason: spec.reason,
                workflow_task_completed_event_id: completed_event_id,
            };
            let initiated = tx.append(EventKind::RequestCancelExternalWorkflowExecutionInitiated(
                Box::new(cancel.clone()),
            ));
            send_external_request(tx, initiated, ExternalRequest::Cancel(cancel));
            false
        }
        Command::RecordMarker {
            marker_name,
            details,
            header,
            failure,
        } => {
            tx.append(EventKind::MarkerRecorded {
                marker_name,
                details,
                workflow_task_completed_event_id: completed_event_id,
                header,
                failure,
            });
            false
        }
        Command::UpsertSearchAttributes { search_attributes } => {
            crate::search::merge(&mut tx.ex.search_attributes, &search_attributes);
            tx.append(EventKind::UpsertWorkflowSearchAttributes {
                workflow_task_completed_event_id: completed_event_id,
                search_attributes,
            });
            false
        }
        Command::ModifyProperties { upserted_memo } => {
            merge(&mut tx.ex.memo, &upserted_memo);
            tx.append(EventKind::WorkflowPropertiesModified {
                workflow_task_completed_event_id: completed_event_id,
                upserted_memo,
            });
            false
        }
        Command::Unsupported { .. } | Command::Invalid { .. } => {
            unreachable!("refused by validate")
        }
        Command::ProtocolMessage { .. } => unreachable!("applied with the completion's messages"),
    }
}

/// The execution a command names, with the sender's namespace filled in.
/// Removes the buffered fire of `timer_id`, answering its timer's started event id.
fn take_buffered_fire(tx: &mut Tx<'_>, timer_id: &str) -> Option<i64> {
    let position = tx.ex.buffered.iter().position(
        |(_, kind)| matches!(kind, EventKind::TimerFired { timer_id: id, .. } if id == timer_id),
    )?;
    match tx.ex.buffered.remove(position).1 {
        EventKind::TimerFired {
            started_event_id, ..
        } => Some(started_event_id),
        _ => None,
    }
}

fn external_target(tx: &Tx<'_>, target: ExternalTarget) -> (ExecutionKey, String, bool) {
    let namespace = if target.namespace.is_empty() {
        tx.ex.key.namespace.clone()
    } else {
        target.namespace
    };
    let key = ExecutionKey {
        namespace,
        workflow_id: target.workflow_id,
        run_id: target.run_id,
    };
    (key, target.control, target.child_workflow_only)
}

fn send_external_request(tx: &mut Tx<'_>, initiated_event_id: i64, request: ExternalRequest) {
    tx.ex.external_requests.insert(initiated_event_id, request);
    tx.out
        .effects
        .push(Effect::DeliverExternalRequest { initiated_event_id });
}

/// Upserts fields; an empty value removes the field, as Temporal's upserts do.
pub(crate) fn merge(into: &mut crate::types::BlobMap, from: &crate::types::BlobMap) {
    for (name, value) in from {
        if value.is_empty() {
            into.remove(name);
        } else {
            into.insert(name.clone(), value.clone());
        }
    }
}

fn schedule_activity(tx: &mut Tx<'_>, spec: ScheduleActivity, completed_event_id: i64) {
    let run_timeout = tx.ex.started.workflow_run_timeout;
    let cap = |timeout: Duration| {
        if run_timeout.is_zero() || timeout.is_zero() {
            timeout.max(run_timeout)
        } else {
            timeout.min(run_timeout)
        }
    };
    // Temporal's rules: schedule-to-close defaults to the run timeout; the other clocks
    // default to schedule-to-close and never exceed it.
    let schedule_to_close = cap(spec.schedule_to_close_timeout);
    let within = |timeout: Duration| {
        if timeout.is_zero() {
            schedule_to_close
        } else if schedule_to_close.is_zero() {
            timeout
        } else {
            timeout.min(schedule_to_close)
        }
    };
    let start_to_close = within(spec.start_to_close_timeout);
    let schedule_to_start = within(spec.schedule_to_start_timeout);
    let heartbeat = if start_to_close.is_zero() {
        spec.heartbeat_timeout
    } else {
        spec.heartbeat_timeout.min(start_to_close)
    };
    let task_queue = if spec.task_queue.is_empty() {
        tx.ex.started.task_queue.clone()
    } else {
        spec.task_queue
    };
    let scheduled = ActivityScheduled {
        activity_id: spec.activity_id,
        activity_type: spec.activity_type,
        task_queue: task_queue.clone(),
        header: spec.header,
        input: spec.input,
        schedule_to_close_timeout: schedule_to_close,
        schedule_to_start_timeout: schedule_to_start,
        start_to_close_timeout: start_to_close,
        heartbeat_timeout: heartbeat,
        workflow_task_completed_event_id: completed_event_id,
        retry_policy: default_retry_policy(spec.retry_policy),
    };
    let scheduled_event_id = tx.append(EventKind::ActivityTaskScheduled(Box::new(
        scheduled.clone(),
    )));
    tx.ex.activities.insert(
        scheduled_event_id,
        Activity::scheduled(scheduled_event_id, scheduled, tx.now),
    );
    tx.out.effects.push(Effect::DispatchActivityTask(TaskRef {
        queue: TaskQueue::normal(task_queue),
        scheduled_event_id,
        attempt: 1,
    }));
}
