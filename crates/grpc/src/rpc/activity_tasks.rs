//! Activity tasks: long polls, heartbeats, completions, failures and cancellations, by
//! task token or by id.

use super::prelude::*;

pub(crate) async fn poll_activity_task_queue(
    frontend: &Frontend,
    request: Request<ws::PollActivityTaskQueueRequest>,
) -> Reply<ws::PollActivityTaskQueueResponse> {
    let deadline = frontend.poll_deadline(&request);
    let r = request.into_inner();
    let queue = task_queue_name(r.task_queue.as_ref())?;
    let polled = engine_result(
        frontend
            .engine
            .poll_activity_task(&r.namespace, queue, &r.identity, deadline)
            .await,
    )?;
    let Some(task) = polled else {
        return Ok(Response::new(Default::default()));
    };
    Ok(Response::new(ws::PollActivityTaskQueueResponse {
        task_token: task.token,
        workflow_namespace: task.key.namespace.clone(),
        workflow_type: Some(common::WorkflowType {
            name: task.workflow_type,
        }),
        workflow_execution: Some(workflow_execution(&task.key)),
        activity_type: Some(common::ActivityType {
            name: task.activity_type,
        }),
        activity_id: task.activity_id,
        header: Some(to_header(&task.header)),
        input: to_payloads(&task.input),
        heartbeat_details: to_payloads(&task.heartbeat_details),
        scheduled_time: Some(timestamp(task.scheduled_time)),
        current_attempt_scheduled_time: Some(timestamp(task.current_attempt_scheduled_time)),
        started_time: Some(timestamp(task.started_time)),
        attempt: task.attempt,
        schedule_to_close_timeout: opt_duration(task.schedule_to_close_timeout),
        start_to_close_timeout: opt_duration(task.start_to_close_timeout),
        heartbeat_timeout: opt_duration(task.heartbeat_timeout),
        retry_policy: Some(to_retry_policy(&task.retry_policy)),
        ..Default::default()
    }))
}

pub(crate) async fn record_activity_task_heartbeat(
    frontend: &Frontend,
    request: Request<ws::RecordActivityTaskHeartbeatRequest>,
) -> Reply<ws::RecordActivityTaskHeartbeatResponse> {
    let r = request.into_inner();
    let cancel_requested = engine_result(
        frontend
            .engine
            .heartbeat_activity(
                ActivityTarget::Token(r.task_token),
                payloads(r.details.as_ref()),
            )
            .await,
    )?;
    Ok(Response::new(ws::RecordActivityTaskHeartbeatResponse {
        cancel_requested,
        ..Default::default()
    }))
}

pub(crate) async fn record_activity_task_heartbeat_by_id(
    frontend: &Frontend,
    request: Request<ws::RecordActivityTaskHeartbeatByIdRequest>,
) -> Reply<ws::RecordActivityTaskHeartbeatByIdResponse> {
    let r = request.into_inner();
    let target = by_id(r.namespace, r.workflow_id, r.run_id, r.activity_id);
    let cancel_requested = engine_result(
        frontend
            .engine
            .heartbeat_activity(target, payloads(r.details.as_ref()))
            .await,
    )?;
    Ok(Response::new(ws::RecordActivityTaskHeartbeatByIdResponse {
        cancel_requested,
        ..Default::default()
    }))
}

pub(crate) async fn respond_activity_task_completed(
    frontend: &Frontend,
    request: Request<ws::RespondActivityTaskCompletedRequest>,
) -> Reply<ws::RespondActivityTaskCompletedResponse> {
    let r = request.into_inner();
    frontend.check_size("Result", r.result.as_ref())?;
    let outcome = ActivityOutcome::Completed(payloads(r.result.as_ref()));
    engine_result(
        frontend
            .engine
            .finish_activity(ActivityTarget::Token(r.task_token), outcome, &r.identity)
            .await,
    )?;
    Ok(Response::new(
        ws::RespondActivityTaskCompletedResponse::default(),
    ))
}

pub(crate) async fn respond_activity_task_completed_by_id(
    frontend: &Frontend,
    request: Request<ws::RespondActivityTaskCompletedByIdRequest>,
) -> Reply<ws::RespondActivityTaskCompletedByIdResponse> {
    let r = request.into_inner();
    frontend.check_size("Result", r.result.as_ref())?;
    let target = by_id(r.namespace, r.workflow_id, r.run_id, r.activity_id);
    let outcome = ActivityOutcome::Completed(payloads(r.result.as_ref()));
    engine_result(
        frontend
            .engine
            .finish_activity(target, outcome, &r.identity)
            .await,
    )?;
    Ok(Response::new(
        ws::RespondActivityTaskCompletedByIdResponse {},
    ))
}

pub(crate) async fn respond_activity_task_failed(
    frontend: &Frontend,
    request: Request<ws::RespondActivityTaskFailedRequest>,
) -> Reply<ws::RespondActivityTaskFailedResponse> {
    let r = request.into_inner();
    let failure = required_failure(r.failure.as_ref())?;
    let outcome = ActivityOutcome::Failed {
        failure,
        last_heartbeat_details: payloads(r.last_heartbeat_details.as_ref()),
    };
    engine_result(
        frontend
            .engine
            .finish_activity(ActivityTarget::Token(r.task_token), outcome, &r.identity)
            .await,
    )?;
    Ok(Response::new(
        ws::RespondActivityTaskFailedResponse::default(),
    ))
}

pub(crate) async fn respond_activity_task_failed_by_id(
    frontend: &Frontend,
    request: Request<ws::RespondActivityTaskFailedByIdRequest>,
) -> Reply<ws::RespondActivityTaskFailedByIdResponse> {
    let r = request.into_inner();
    let failure = required_failure(r.failure.as_ref())?;
    let target = by_id(r.namespace, r.workflow_id, r.run_id, r.activity_id);
    let outcome = ActivityOutcome::Failed {
        failure,
        last_heartbeat_details: payloads(r.last_heartbeat_details.as_ref()),
    };
    engine_result(
        frontend
            .engine
            .finish_activity(target, outcome, &r.identity)
            .await,
    )?;
    Ok(Response::new(
        ws::RespondActivityTaskFailedByIdResponse::default(),
    ))
}

pub(crate) async fn respond_activity_task_canceled(
    frontend: &Frontend,
    request: Request<ws::RespondActivityTaskCanceledRequest>,
) -> Reply<ws::RespondActivityTaskCanceledResponse> {
    let r = request.into_inner();
    let outcome = ActivityOutcome::Canceled(payloads(r.details.as_ref()));
    engine_result(
        frontend
            .engine
            .finish_activity(ActivityTarget::Token(r.task_token), outcome, &r.identity)
            .await,
    )?;
    Ok(Response::new(ws::RespondActivityTaskCanceledResponse {}))
}

pub(crate) async fn respond_activity_task_canceled_by_id(
    frontend: &Frontend,
    request: Request<ws::RespondActivityTaskCanceledByIdRequest>,
) -> Reply<ws::RespondActivityTaskCanceledByIdResponse> {
    let r = request.into_inner();
    let target = by_id(r.namespace, r.workflow_id, r.run_id, r.activity_id);
    let outcome = ActivityOutcome::Canceled(payloads(r.details.as_ref()));
    engine_result(
        frontend
            .engine
            .finish_activity(target, outcome, &r.identity)
            .await,
    )?;
    Ok(Response::new(
        ws::RespondActivityTaskCanceledByIdResponse {},
    ))
}

/// The target of the `…ById` calls.
fn by_id(
    namespace: String,
    workflow_id: String,
    run_id: String,
    activity_id: String,
) -> ActivityTarget {
    ActivityTarget::Id {
        namespace,
        workflow_id,
        run_id,
        activity_id,
    }
}
