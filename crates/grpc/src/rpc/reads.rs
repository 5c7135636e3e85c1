//! Reads: history, describe, list and count, task queues.

use super::prelude::*;
use crate::describe::{describe_execution, execution_info};
use crate::history::to_history;

pub(crate) async fn get_workflow_execution_history(
    frontend: &Frontend,
    request: Request<ws::GetWorkflowExecutionHistoryRequest>,
) -> Reply<ws::GetWorkflowExecutionHistoryResponse> {
    let deadline = frontend.poll_deadline(&request);
    let r = request.into_inner();
    let key = frontend.resolve(&r.namespace, r.execution.as_ref()).await?;
    let close_event_only =
        r.history_event_filter_type == enums::HistoryEventFilterType::CloseEvent as i32;
    let page = engine_result(
        frontend
            .engine
            .history(HistoryRequest {
                key,
                page_token: r.next_page_token,
                page_size: usize::try_from(r.maximum_page_size.max(0)).unwrap_or(0),
                wait_new_event: r.wait_new_event,
                close_event_only,
                deadline,
            })
            .await,
    )?;
    Ok(Response::new(ws::GetWorkflowExecutionHistoryResponse {
        history: Some(to_history(&page.events)),
        next_page_token: page.next_page_token,
        archived: false,
        ..Default::default()
    }))
}

pub(crate) async fn describe_workflow_execution(
    frontend: &Frontend,
    request: Request<ws::DescribeWorkflowExecutionRequest>,
) -> Reply<ws::DescribeWorkflowExecutionResponse> {
    let r = request.into_inner();
    let key = frontend.resolve(&r.namespace, r.execution.as_ref()).await?;
    let execution = engine_result(frontend.engine.describe(&key).await)?;
    Ok(Response::new(describe_execution(&execution)))
}

pub(crate) async fn list_workflow_executions(
    frontend: &Frontend,
    request: Request<ws::ListWorkflowExecutionsRequest>,
) -> Reply<ws::ListWorkflowExecutionsResponse> {
    let r = request.into_inner();
    let page_size = usize::try_from(r.page_size.max(0)).unwrap_or(0);
    let page = engine_result(
        frontend
            .engine
            .list_executions(&r.namespace, &r.query, page_size, &r.next_page_token)
            .await,
    )?;
    Ok(Response::new(ws::ListWorkflowExecutionsResponse {
        executions: page.executions.iter().map(execution_info).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub(crate) async fn count_workflow_executions(
    frontend: &Frontend,
    request: Request<ws::CountWorkflowExecutionsRequest>,
) -> Reply<ws::CountWorkflowExecutionsResponse> {
    let r = request.into_inner();
    let count = engine_result(
        frontend
            .engine
            .count_executions(&r.namespace, &r.query)
            .await,
    )?;
    Ok(Response::new(ws::CountWorkflowExecutionsResponse {
        count,
        groups: Vec::new(),
    }))
}

pub(crate) async fn describe_task_queue(
    frontend: &Frontend,
    request: Request<ws::DescribeTaskQueueRequest>,
) -> Reply<ws::DescribeTaskQueueResponse> {
    let r = request.into_inner();
    let queue = task_queue_name(r.task_queue.as_ref())?;
    let kind = if r.task_queue_type == enums::TaskQueueType::Activity as i32 {
        TaskKind::Activity
    } else {
        TaskKind::Workflow
    };
    let (pollers, backlog) = engine_result(frontend.engine.describe_task_queue(
        &r.namespace,
        queue,
        kind,
    ))?;
    Ok(Response::new(ws::DescribeTaskQueueResponse {
        pollers: pollers
            .into_iter()
            .map(|p| taskqueue::PollerInfo {
                last_access_time: Some(timestamp(p.last_access_time)),
                identity: p.identity,
                ..Default::default()
            })
            .collect(),
        task_queue_status: Some(taskqueue::TaskQueueStatus {
            backlog_count_hint: backlog as i64,
            ..Default::default()
        }),
        ..Default::default()
    }))
}
