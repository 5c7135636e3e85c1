//! The JSON the REST API answers with. These are the API's shapes (docs/rest-api.md), built
//! here from engine types so that domain types never become wire types by accident.

use std::time::Duration;

use crate::payloads as json;
use keel_core::attempts::EndedAttempt;
use keel_core::overview::{ChildRunState, Doing, Phase, TaskRun, TaskRunState};
use keel_core::search::SearchAttributes;
use keel_core::{ActivityState, BlobMap, Execution, Failure, Status, Time};
use keel_engine::ExecutionSummary;
use keel_engine::operators::{PendingCause, PendingReason, RunOverview};
use serde_json::{Value, json};

pub fn time(time: Time) -> Value {
    let seconds = time.0.div_euclid(1_000_000_000);
    let nanos = time.0.rem_euclid(1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(seconds, nanos) {
        Some(time) => Value::String(time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        None => Value::Null,
    }
}

pub fn opt_time(value: Option<Time>) -> Value {
    value.map_or(Value::Null, time)
}

pub fn millis(duration: Duration) -> Value {
    json!(duration.as_secs_f64() * 1000.0)
}

pub fn opt_millis(duration: Option<Duration>) -> Value {
    duration.map_or(Value::Null, millis)
}

pub fn status(status: Status) -> &'static str {
    match status {
        Status::Running => "running",
        Status::Completed => "completed",
        Status::Failed => "failed",
        Status::Canceled => "canceled",
        Status::Terminated => "terminated",
        Status::ContinuedAsNew => "continued_as_new",
        Status::TimedOut => "timed_out",
    }
}

/// Temporal's status of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Running,
    Completed,
    Failed,
    Canceled,
    Terminated,
    ContinuedAsNew,
    TimedOut,
}

impl From<Status> for ExecutionStatus {
    fn from(status: Status) -> ExecutionStatus {
        match status {
            Status::Running => ExecutionStatus::Running,
            Status::Completed => ExecutionStatus::Completed,
            Status::Failed => ExecutionStatus::Failed,
            Status::Canceled => ExecutionStatus::Canceled,
            Status::Terminated => ExecutionStatus::Terminated,
            Status::ContinuedAsNew => ExecutionStatus::ContinuedAsNew,
            Status::TimedOut => ExecutionStatus::TimedOut,
        }
    }
}

/// The status a REST name stands for (both spellings of cancelled are taken).
pub fn parse_status(name: &str) -> Option<Status> {
    Some(match name.to_ascii_lowercase().as_str() {
        "running" => Status::Running,
        "completed" => Status::Completed,
        "failed" => Status::Failed,
        "canceled" | "cancelled" => Status::Canceled,
        "terminated" => Status::Terminated,
        "continued_as_new" => Status::ContinuedAsNew,
        "timed_out" => Status::TimedOut,
        _ => return None,
    })
}

pub fn phase(phase: Phase) -> &'static str {
    match phase {
        Phase::Pending => "pending",
        Phase::Running => "running",
        Phase::Completed => "completed",
        Phase::Failed => "failed",
        Phase::Cancelled => "cancelled",
    }
}

pub fn summary(summary: &ExecutionSummary) -> Value {
    json!({
        "namespace": summary.key.namespace,
        "workflow_id": summary.key.workflow_id,
        "run_id": summary.key.run_id,
        "workflow_type": summary.workflow_type,
        "task_queue": summary.task_queue,
        "status": status(summary.status),
        "phase": phase(summary.phase),
        "start_time": time(summary.start_time),
        "close_time": opt_time(summary.close_time),
        "duration_ms": opt_millis(summary.close_time.map(|close| summary.start_time.until(close))),
        "history_length": summary.history_length,
        "parent": summary.parent.as_ref().map(|parent| json!({
            "workflow_id": parent.workflow_id,
            "run_id": parent.run_id,
        })),
        "worker": (!summary.worker.is_empty()).then_some(&summary.worker),
        "doing": summary.doing.as_ref().map(doing),
    })
}

/// What a running run is on now, as its card shows it.
pub fn doing(doing: &Doing) -> Value {
    match doing {
        Doing::Activity {
            activity_type,
            attempt,
            backing_off,
            others,
        } => json!({
            "kind": "activity",
            "name": activity_type,
            "attempt": attempt,
            "backing_off": backing_off,
            "others": others,
        }),
        Doing::Child {
            workflow_type,
            others,
        } => json!({"kind": "child", "name": workflow_type, "others": others}),
        Doing::Timer { fires_at, others } => {
            json!({"kind": "timer", "fires_at": time(*fires_at), "others": others})
        }
        Doing::Deciding => json!({"kind": "workflow_task"}),
        Doing::WaitingForInput => json!({"kind": "waiting_for_input"}),
    }
}

pub fn detail(run: &RunOverview) -> Value {
    let execution = &run.execution;
    let overview = &run.overview;
    let mut detail = summary(&ExecutionSummary::of(execution));
    let fields = detail.as_object_mut().expect("a summary is an object");
    let pending_activities: Vec<Value> = overview
        .task_runs
        .iter()
        .filter(|task_run| !task_run.state.is_closed())
        .map(task_run)
        .collect();
    let workflow_task = execution.workflow_task.as_ref().map(|task| {
        json!({
            "state": if task.started.is_some() { "started" } else { "scheduled" },
            "attempt": task.attempt,
            "task_queue": task.task_queue.name,
            "scheduled_time": time(task.scheduled_time),
            "started_time": opt_time(task.started.as_ref().map(|started| started.time)),
            "worker": task.started.as_ref().map(|started| &started.identity),
        })
    });
    let timers: Vec<Value> = execution
        .timers
        .iter()
        .map(|(timer_id, timer)| json!({"timer_id": timer_id, "fires_at": time(timer.fire_time)}))
        .collect();
    let extra = json!({
        "started_time": opt_time(execution.first_task_started_time),
        "queue_wait_ms": opt_millis(execution.queue_wait()),
        "input": json::payloads(overview.input.as_ref()),
        "output": json::payloads(overview.output.as_ref()),
        "error": overview.error.as_ref().map(failure),
        "memo": memo(&execution.memo),
        "search_attributes": search_attributes(&execution.search_attributes),
        "cancel_requested": execution.cancel_requested,
        "task_runs": overview.task_runs.iter().map(task_run).collect::<Vec<_>>(),
        "children": overview.children.iter().map(|child| json!({
            "workflow_id": child.workflow_id,
            "run_id": child.run_id,
            "workflow_type": child.workflow_type,
            "state": child_state(child.state),
        })).collect::<Vec<_>>(),
        "pending": {
            "workflow_task": workflow_task,
            "activities": pending_activities,
            "timers": timers,
        },
        "pending_reason": run.pending.as_ref().map(pending_reason),
    });
    if let Value::Object(extra) = extra {
        fields.extend(extra);
    }
    detail
}

/// What a running run is doing now: its workflow task and open activities, each
/// `scheduled`, `started` or `backing_off`.
pub fn current_work(execution: &Execution) -> Value {
    let workflow_task = execution.workflow_task.as_ref().map(|task| {
        if task.started.is_some() {
            "started"
        } else {
            "scheduled"
        }
    });
    let activities: Vec<Value> = execution
        .activities
        .values()
        .map(|activity| {
            let (state, worker) = match &activity.state {
                ActivityState::Backoff => ("backing_off", None),
                ActivityState::Scheduled => ("scheduled", None),
                ActivityState::Started { identity, .. } => ("started", Some(identity)),
            };
            json!({
                "activity_id": activity.scheduled.activity_id,
                "activity_type": activity.scheduled.activity_type,
                "state": state,
                "attempt": activity.attempt,
                "worker": worker,
            })
        })
        .collect();
    json!({"workflow_task": workflow_task, "activities": activities})
}

pub fn failure(failure: &Failure) -> Value {
    json::failure(failure)
}

pub fn memo(memo: &BlobMap) -> Value {
    Value::Object(
        memo.iter()
            .map(|(name, blob)| (name.clone(), json::payload(blob)))
            .collect(),
    )
}

pub fn search_attributes(attributes: &SearchAttributes) -> Value {
    Value::Object(
        attributes
            .iter()
            .map(|(name, attribute)| (name.clone(), json::payload(&attribute.payload)))
            .collect(),
    )
}

pub fn task_run(run: &TaskRun) -> Value {
    json!({
        "scheduled_event_id": run.scheduled_event_id,
        "activity_id": run.activity_id,
        "activity_type": run.activity_type,
        "task_queue": run.task_queue,
        "state": task_run_state(run.state),
        "attempt": run.attempt,
        "scheduled_time": time(run.scheduled_time),
        "started_time": opt_time(run.started_time),
        "close_time": opt_time(run.close_time),
        "duration_ms": opt_millis(run.started_time.zip(run.close_time).map(|(start, close)| start.until(close))),
        "worker": (!run.worker.is_empty()).then_some(&run.worker),
        "input": json::payloads(run.input.as_ref()),
        "output": json::payloads(run.output.as_ref()),
        "error": run.error.as_ref().map(failure),
        "last_failure": run.last_failure.as_ref().map(failure),
        "earlier_attempts": run.earlier_attempts.iter().map(ended_attempt).collect::<Vec<_>>(),
    })
}

/// An attempt of an activity that ended and was retried.
fn ended_attempt(attempt: &EndedAttempt) -> Value {
    json!({
        "attempt": attempt.attempt,
        "scheduled_time": time(attempt.scheduled_time),
        "started_time": opt_time(attempt.started_time),
        "end_time": time(attempt.end_time),
        "retry_time": time(attempt.retry_time),
        "worker": (!attempt.worker.is_empty()).then_some(&attempt.worker),
        "failure": failure(&attempt.failure),
    })
}

fn task_run_state(state: TaskRunState) -> &'static str {
    match state {
        TaskRunState::Scheduled => "scheduled",
        TaskRunState::Running => "running",
        TaskRunState::BackingOff => "backing_off",
        TaskRunState::Completed => "completed",
        TaskRunState::Failed => "failed",
        TaskRunState::TimedOut => "timed_out",
        TaskRunState::Canceled => "canceled",
    }
}

fn child_state(state: ChildRunState) -> &'static str {
    match state {
        ChildRunState::Starting => "starting",
        ChildRunState::StartFailed => "start_failed",
        ChildRunState::Running => "running",
        ChildRunState::Completed => "completed",
        ChildRunState::Failed => "failed",
        ChildRunState::Canceled => "canceled",
        ChildRunState::TimedOut => "timed_out",
        ChildRunState::Terminated => "terminated",
    }
}

pub fn pending_reason(reason: &PendingReason) -> Value {
    let (code, similar_queue) = match &reason.cause {
        PendingCause::NoWorker => ("no_worker", None),
        PendingCause::QueueTypo { similar_queue } => ("queue_typo", Some(similar_queue)),
        PendingCause::WorkersBusy => ("workers_busy", None),
    };
    json!({
        "code": code,
        "message": reason.message,
        "task_queue": reason.task_queue,
        "waiting_since": time(reason.since),
        "similar_queue": similar_queue,
        "last_worker": reason.last_worker.as_ref().map(|worker| json!({
            "identity": worker.identity,
            "last_seen": time(worker.last_access_time),
        })),
    })
}
