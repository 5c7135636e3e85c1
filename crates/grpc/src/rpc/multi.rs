//! ExecuteMultiOperation: update-with-start. The start (or the running workflow its
//! conflict policy attaches to) and then the update, answered together; a failure of
//! either is reported per operation, the way the SDKs unwrap it.

use prost::Message as _;
use temporalio_protos::google::rpc::Status as RpcStatus;
use temporalio_protos::temporal::api::errordetails::v1 as details;
use tonic::Code;
use tonic::metadata::MetadataMap;
use ws::execute_multi_operation_request::operation::Operation as Op;
use ws::execute_multi_operation_response::response::Response as Answer;

use super::prelude::*;

pub(crate) async fn execute_multi_operation(
    frontend: &Frontend,
    request: Request<ws::ExecuteMultiOperationRequest>,
) -> Reply<ws::ExecuteMultiOperationResponse> {
    let metadata = request.metadata().clone();
    let r = request.into_inner();
    let (mut start, mut update) = match r
        .operations
        .into_iter()
        .map(|operation| operation.operation)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [
            Some(Op::StartWorkflow(start)),
            Some(Op::UpdateWorkflow(update)),
        ] => (start.clone(), update.clone()),
        _ => {
            return Err(Status::invalid_argument(
                "ExecuteMultiOperation takes exactly [StartWorkflow, UpdateWorkflow], in this order",
            ));
        }
    };
    for namespace in [&mut start.namespace, &mut update.namespace] {
        if namespace.is_empty() {
            namespace.clone_from(&r.namespace);
        }
    }
    let update_target = update
        .workflow_execution
        .get_or_insert_with(Default::default);
    if update_target.workflow_id.is_empty() {
        update_target.workflow_id.clone_from(&start.workflow_id);
    }
    if update_target.workflow_id != start.workflow_id || update.namespace != start.namespace {
        return Err(Status::invalid_argument(
            "the operations of a multi-operation must name the same workflow id and namespace",
        ));
    }
    if let Some(problem) = start_problem(&start) {
        return Err(per_operation(Status::invalid_argument(problem), 0));
    }
    if let Some(problem) = update_problem(&update) {
        return Err(per_operation(Status::invalid_argument(problem), 1));
    }

    let started = super::start::start_workflow_execution(frontend, with_metadata(&metadata, start))
        .await
        .map_err(|status| per_operation(status, 0))?
        .into_inner();
    update
        .workflow_execution
        .get_or_insert_with(Default::default)
        .run_id
        .clone_from(&started.run_id);
    let updated =
        super::updates::update_workflow_execution(frontend, with_metadata(&metadata, update))
            .await
            .map_err(|status| per_operation(status, 1))?
            .into_inner();
    Ok(Response::new(ws::ExecuteMultiOperationResponse {
        responses: vec![
            ws::execute_multi_operation_response::Response {
                response: Some(Answer::StartWorkflow(started)),
            },
            ws::execute_multi_operation_response::Response {
                response: Some(Answer::UpdateWorkflow(updated)),
            },
        ],
    }))
}

/// What Temporal refuses in the start of an update-with-start.
fn start_problem(start: &ws::StartWorkflowExecutionRequest) -> Option<&'static str> {
    if !start.cron_schedule.is_empty() {
        return Some("CronSchedule is not allowed in an update-with-start");
    }
    if start.request_eager_execution {
        return Some("RequestEagerExecution is not allowed in an update-with-start");
    }
    if start
        .workflow_start_delay
        .as_ref()
        .is_some_and(|delay| delay.seconds != 0 || delay.nanos != 0)
    {
        return Some("WorkflowStartDelay is not allowed in an update-with-start");
    }
    None
}

/// What Temporal refuses in the update of an update-with-start: it goes to the run the
/// start names, so it names no run itself.
fn update_problem(update: &ws::UpdateWorkflowExecutionRequest) -> Option<&'static str> {
    if !update.first_execution_run_id.is_empty() {
        return Some("FirstExecutionRunId is not allowed in an update-with-start");
    }
    if update
        .workflow_execution
        .as_ref()
        .is_some_and(|execution| !execution.run_id.is_empty())
    {
        return Some("RunId is not allowed in an update-with-start");
    }
    None
}

/// One operation's request, with the caller's metadata (its deadline among it).
fn with_metadata<T>(metadata: &MetadataMap, message: T) -> Request<T> {
    let mut request = Request::new(message);
    *request.metadata_mut() = metadata.clone();
    request
}

/// The error of operation `failed` (of the two) as Temporal reports a multi-operation's:
/// the same code and message, with a MultiOperationExecutionFailure holding the failed
/// operation's own status and details and, for the other, Aborted.
fn per_operation(status: Status, failed: usize) -> Status {
    let own_details = RpcStatus::decode(status.details())
        .map(|rpc| rpc.details)
        .unwrap_or_default();
    let statuses = (0..2)
        .map(|index| {
            if index == failed {
                details::multi_operation_execution_failure::OperationStatus {
                    code: status.code() as i32,
                    message: status.message().to_owned(),
                    details: own_details.clone(),
                }
            } else {
                details::multi_operation_execution_failure::OperationStatus {
                    code: Code::Aborted as i32,
                    message: "Operation was aborted.".into(),
                    details: vec![any(
                        "temporal.api.failure.v1.MultiOperationExecutionAborted",
                        &temporalio_protos::temporal::api::failure::v1::MultiOperationExecutionAborted {},
                    )],
                }
            }
        })
        .collect();
    let message = format!(
        "Update-with-Start could not be executed: {}",
        status.message()
    );
    let rpc = RpcStatus {
        code: status.code() as i32,
        message: message.clone(),
        details: vec![any(
            "temporal.api.errordetails.v1.MultiOperationExecutionFailure",
            &details::MultiOperationExecutionFailure { statuses },
        )],
    };
    Status::with_details(status.code(), message, rpc.encode_to_vec().into())
}

fn any<M: prost::Message>(type_name: &str, message: &M) -> prost_wkt_types::Any {
    prost_wkt_types::Any {
        type_url: format!("type.googleapis.com/{type_name}"),
        value: message.encode_to_vec(),
    }
}
