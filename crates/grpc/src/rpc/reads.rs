//! Reads: history, describe, list and count, task queues.

use keel_core::visibility::{CompareOp, Condition, Field, Filter, Value};

use super::prelude::*;
use crate::describe::{describe_execution, execution_info};
use keel_wire::history::to_history;

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
    let filter = engine_result(frontend.engine.parse_query(&r.namespace, &r.query))?;
    let (executions, next_page_token) = listing(
        frontend,
        &r.namespace,
        &filter,
        r.page_size,
        &r.next_page_token,
    )
    .await?;
    Ok(Response::new(ws::ListWorkflowExecutionsResponse {
        executions,
        next_page_token,
    }))
}

pub(crate) async fn count_workflow_executions(
    frontend: &Frontend,
    request: Request<ws::CountWorkflowExecutionsRequest>,
) -> Reply<ws::CountWorkflowExecutionsResponse> {
    let r = request.into_inner();
    let (filter, by_status) =
        engine_result(frontend.engine.parse_count_query(&r.namespace, &r.query))?;
    if !by_status {
        let count = engine_result(
            frontend
                .engine
                .count_executions(&r.namespace, &filter)
                .await,
        )?;
        return Ok(Response::new(ws::CountWorkflowExecutionsResponse {
            count,
            groups: Vec::new(),
        }));
    }
    let groups = engine_result(
        frontend
            .engine
            .count_executions_by_status(&r.namespace, &filter)
            .await,
    )?;
    Ok(Response::new(ws::CountWorkflowExecutionsResponse {
        count: groups.iter().map(|(_, count)| count).sum(),
        groups: groups
            .into_iter()
            .map(
                |(status, count)| ws::count_workflow_executions_response::AggregationGroup {
                    group_values: vec![keyword_payload(status)],
                    count,
                },
            )
            .collect(),
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

pub(crate) async fn get_workflow_execution_history_reverse(
    frontend: &Frontend,
    request: Request<ws::GetWorkflowExecutionHistoryReverseRequest>,
) -> Reply<ws::GetWorkflowExecutionHistoryReverseResponse> {
    let r = request.into_inner();
    let key = frontend.resolve(&r.namespace, r.execution.as_ref()).await?;
    let page_size = usize::try_from(r.maximum_page_size.max(0)).unwrap_or(0);
    let page = engine_result(
        frontend
            .engine
            .history_reverse(&key, &r.next_page_token, page_size)
            .await,
    )?;
    Ok(Response::new(
        ws::GetWorkflowExecutionHistoryReverseResponse {
            history: Some(to_history(&page.events)),
            next_page_token: page.next_page_token,
        },
    ))
}

pub(crate) async fn delete_workflow_execution(
    frontend: &Frontend,
    request: Request<ws::DeleteWorkflowExecutionRequest>,
) -> Reply<ws::DeleteWorkflowExecutionResponse> {
    let r = request.into_inner();
    let key = frontend
        .resolve(&r.namespace, r.workflow_execution.as_ref())
        .await?;
    engine_result(frontend.engine.delete_execution(&key, "").await)?;
    Ok(Response::new(ws::DeleteWorkflowExecutionResponse {}))
}

/// ListOpenWorkflowExecutions, the older listing call: its filters as a typed condition.
pub(crate) async fn list_open_workflow_executions(
    frontend: &Frontend,
    request: Request<ws::ListOpenWorkflowExecutionsRequest>,
) -> Reply<ws::ListOpenWorkflowExecutionsResponse> {
    use ws::list_open_workflow_executions_request::Filters;
    let r = request.into_inner();
    let mut conditions = vec![Condition::status_in(&[keel_core::Status::Running])];
    conditions.extend(time_range(Field::StartTime, r.start_time_filter.as_ref())?);
    match &r.filters {
        Some(Filters::ExecutionFilter(filter)) => conditions.extend(execution_filter(filter)),
        Some(Filters::TypeFilter(filter)) => {
            conditions.push(Condition::equals(Field::WorkflowType, &filter.name));
        }
        None => {}
    }
    let (executions, next_page_token) = listing(
        frontend,
        &r.namespace,
        &Filter::all_of(conditions),
        r.maximum_page_size,
        &r.next_page_token,
    )
    .await?;
    Ok(Response::new(ws::ListOpenWorkflowExecutionsResponse {
        executions,
        next_page_token,
    }))
}

/// ListClosedWorkflowExecutions, the older listing call: its filters as a typed condition.
pub(crate) async fn list_closed_workflow_executions(
    frontend: &Frontend,
    request: Request<ws::ListClosedWorkflowExecutionsRequest>,
) -> Reply<ws::ListClosedWorkflowExecutionsResponse> {
    use ws::list_closed_workflow_executions_request::Filters;
    let r = request.into_inner();
    let mut conditions = vec![Condition::compare(
        Field::ExecutionStatus,
        CompareOp::Ne,
        Value::Int(keel_core::Status::Running.code().into()),
    )];
    conditions.extend(time_range(Field::CloseTime, r.start_time_filter.as_ref())?);
    match &r.filters {
        Some(Filters::ExecutionFilter(filter)) => conditions.extend(execution_filter(filter)),
        Some(Filters::TypeFilter(filter)) => {
            conditions.push(Condition::equals(Field::WorkflowType, &filter.name));
        }
        Some(Filters::StatusFilter(filter)) => {
            let status = enums::WorkflowExecutionStatus::try_from(filter.status)
                .ok()
                .and_then(|s| keel_core::Status::from_code(s as i32))
                .ok_or_else(|| Status::invalid_argument("StatusFilter has an unknown status"))?;
            conditions.push(Condition::status_in(&[status]));
        }
        None => {}
    }
    let (executions, next_page_token) = listing(
        frontend,
        &r.namespace,
        &Filter::all_of(conditions),
        r.maximum_page_size,
        &r.next_page_token,
    )
    .await?;
    Ok(Response::new(ws::ListClosedWorkflowExecutionsResponse {
        executions,
        next_page_token,
    }))
}

/// ScanWorkflowExecutions: a listing in no particular order, as List answers it.
pub(crate) async fn scan_workflow_executions(
    frontend: &Frontend,
    request: Request<ws::ScanWorkflowExecutionsRequest>,
) -> Reply<ws::ScanWorkflowExecutionsResponse> {
    let r = request.into_inner();
    let filter = engine_result(frontend.engine.parse_query(&r.namespace, &r.query))?;
    let (executions, next_page_token) = listing(
        frontend,
        &r.namespace,
        &filter,
        r.page_size,
        &r.next_page_token,
    )
    .await?;
    Ok(Response::new(ws::ScanWorkflowExecutionsResponse {
        executions,
        next_page_token,
    }))
}

/// One page of executions matching a filter, in Temporal's form, and the token of the next
/// page: what every listing call answers.
async fn listing(
    frontend: &Frontend,
    namespace: &str,
    filter: &Filter,
    page_size: i32,
    token: &[u8],
) -> Result<
    (
        Vec<temporalio_protos::temporal::api::workflow::v1::WorkflowExecutionInfo>,
        Vec<u8>,
    ),
    Status,
> {
    let page_size = usize::try_from(page_size.max(0)).unwrap_or(0);
    let page = engine_result(
        frontend
            .engine
            .list_executions(namespace, filter, page_size, token)
            .await,
    )?;
    Ok((
        page.executions.iter().map(execution_info).collect(),
        page.next_page_token,
    ))
}

fn execution_filter(
    filter: &temporalio_protos::temporal::api::filter::v1::WorkflowExecutionFilter,
) -> Vec<Condition> {
    let mut conditions = vec![Condition::equals(Field::WorkflowId, &filter.workflow_id)];
    if !filter.run_id.is_empty() {
        conditions.push(Condition::equals(Field::RunId, &filter.run_id));
    }
    conditions
}

fn time_range(
    field: Field,
    filter: Option<&temporalio_protos::temporal::api::filter::v1::StartTimeFilter>,
) -> Result<Vec<Condition>, Status> {
    let Some(filter) = filter else {
        return Ok(Vec::new());
    };
    let nanos = |t: &prost_wkt_types::Timestamp| {
        t.seconds
            .checked_mul(1_000_000_000)
            .and_then(|ns| ns.checked_add(i64::from(t.nanos.max(0))))
            .map(keel_core::Time)
            .ok_or_else(|| Status::invalid_argument("StartTimeFilter has an invalid time"))
    };
    let mut conditions = Vec::new();
    if let Some(earliest) = filter
        .earliest_time
        .as_ref()
        .filter(|t| t.seconds > 0 || t.nanos > 0)
    {
        conditions.push(Condition::time(
            field.clone(),
            CompareOp::Ge,
            nanos(earliest)?,
        ));
    }
    if let Some(latest) = filter
        .latest_time
        .as_ref()
        .filter(|t| t.seconds > 0 || t.nanos > 0)
    {
        conditions.push(Condition::time(field, CompareOp::Le, nanos(latest)?));
    }
    Ok(conditions)
}

/// A Keyword search attribute value as Temporal sends it in a count's group.
fn keyword_payload(value: &str) -> common::Payload {
    common::Payload {
        metadata: [
            ("encoding".to_owned(), b"json/plain".to_vec()),
            ("type".to_owned(), b"Keyword".to_vec()),
        ]
        .into(),
        data: serde_json::to_vec(value).expect("a string serializes"),
        ..Default::default()
    }
}
