//! Workflow tasks: long polls, completions, failures, worker shutdown.

use super::prelude::*;
use keel_core::{Completion, Stickiness};

use crate::commands::commands;
use crate::rpc::updates::{update_messages, worker_messages};
use crate::rpc::workflow_queries::{query_answer, to_workflow_query};
use keel_wire::history::to_history;

pub(crate) async fn poll_workflow_task_queue(
    frontend: &Frontend,
    request: Request<ws::PollWorkflowTaskQueueRequest>,
) -> Reply<ws::PollWorkflowTaskQueueResponse> {
    let deadline = frontend.poll_deadline(&request);
    let r = request.into_inner();
    let queue = task_queue_name(r.task_queue.as_ref())?;
    let polled = engine_result(
        frontend
            .engine
            .poll_workflow_task(&r.namespace, queue, &r.identity, deadline)
            .await,
    )?;
    // An empty poll must be exactly the default message: SDKs treat it as "no task".
    Ok(Response::new(
        polled.map(poll_workflow_response).unwrap_or_default(),
    ))
}

pub(crate) async fn respond_workflow_task_completed(
    frontend: &Frontend,
    request: Request<ws::RespondWorkflowTaskCompletedRequest>,
) -> Reply<ws::RespondWorkflowTaskCompletedResponse> {
    let r = request.into_inner();
    for command in &r.commands {
        frontend.check_size(
            "A command's attributes",
            command.attributes.as_ref().map(|_| command),
        )?;
    }
    let stickiness = match &r.sticky_attributes {
        Some(sticky) => match sticky
            .worker_task_queue
            .as_ref()
            .filter(|q| !q.name.is_empty())
        {
            Some(queue) => Some(Stickiness {
                queue: queue.name.clone(),
                schedule_to_start_timeout: from_duration(
                    sticky.schedule_to_start_timeout.as_ref(),
                    "StickyAttributes.ScheduleToStartTimeout",
                )?,
            }),
            None => None,
        },
        None => None,
    };
    let completion = Completion {
        commands: commands(
            &r.commands,
            &engine_result(frontend.engine.namespace(&r.namespace))?,
        )?,
        identity: r.identity,
        binary_checksum: r.binary_checksum,
        sdk_metadata: r.sdk_metadata.as_ref().map(encode),
        metering_metadata: r.metering_metadata.as_ref().map(encode),
        stickiness,
        force_create_new_workflow_task: r.force_create_new_workflow_task,
        return_new_workflow_task: r.return_new_workflow_task,
        messages: worker_messages(&r.messages)?,
    };
    let answers = r
        .query_results
        .iter()
        .map(|(id, result)| {
            let answer = query_answer(
                result.result_type,
                result.answer.as_ref(),
                &result.error_message,
                result.failure.as_ref(),
            );
            (id.clone(), answer)
        })
        .collect();
    let completed = engine_result(
        frontend
            .engine
            .complete_workflow_task(&r.task_token, completion, answers)
            .await,
    )?;
    Ok(Response::new(ws::RespondWorkflowTaskCompletedResponse {
        workflow_task: completed.new_task.map(poll_workflow_response),
        ..Default::default()
    }))
}

pub(crate) async fn respond_workflow_task_failed(
    frontend: &Frontend,
    request: Request<ws::RespondWorkflowTaskFailedRequest>,
) -> Reply<ws::RespondWorkflowTaskFailedResponse> {
    let r = request.into_inner();
    let failure = r.failure.as_ref().map(failure);
    engine_result(
        frontend
            .engine
            .fail_workflow_task(&r.task_token, r.cause, failure, &r.identity)
            .await,
    )?;
    Ok(Response::new(ws::RespondWorkflowTaskFailedResponse {}))
}

pub(crate) async fn shutdown_worker(
    frontend: &Frontend,
    request: Request<ws::ShutdownWorkerRequest>,
) -> Reply<ws::ShutdownWorkerResponse> {
    let r = request.into_inner();
    engine_result(
        frontend
            .engine
            .shutdown_worker(&r.namespace, &r.identity, &r.sticky_task_queue)
            .await,
    )?;
    Ok(Response::new(ws::ShutdownWorkerResponse::default()))
}

pub(crate) fn poll_workflow_response(
    task: keel_engine::PolledWorkflowTask,
) -> ws::PollWorkflowTaskQueueResponse {
    ws::PollWorkflowTaskQueueResponse {
        task_token: task.token,
        workflow_execution: Some(workflow_execution(&task.key)),
        workflow_type: Some(common::WorkflowType {
            name: task.workflow_type,
        }),
        previous_started_event_id: task.previous_started_event_id,
        started_event_id: task.started_event_id,
        attempt: task.attempt,
        history: Some(to_history(&task.history)),
        workflow_execution_task_queue: Some(normal_task_queue(&task.task_queue)),
        scheduled_time: Some(timestamp(task.scheduled_time)),
        started_time: Some(timestamp(task.started_time)),
        query: task.query.as_ref().map(to_workflow_query),
        messages: update_messages(&task.updates, task.updates_follow_event_id),
        queries: task
            .queries
            .iter()
            .map(|(id, query)| (id.clone(), to_workflow_query(query)))
            .collect(),
        ..Default::default()
    }
}
