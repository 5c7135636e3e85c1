//! WorkflowService and OperatorService: each RPC is routed to its handler in `rpc/`; the
//! helpers every handler shares live here.

use std::time::{Duration, Instant};

use keel_core::ExecutionKey;
use keel_engine::Engine;
use temporalio_protos::temporal::api::common::v1 as common;
use temporalio_protos::temporal::api::operatorservice::v1 as os;
use temporalio_protos::temporal::api::workflowservice::v1 as ws;
use tonic::{Request, Response, Status};

use crate::error::to_status;
use crate::proto::operatorservice::operator_service_server::OperatorService;
use crate::proto::workflowservice::workflow_service_server::WorkflowService;
use crate::rpc;

pub(crate) type Reply<T> = Result<Response<T>, Status>;

#[derive(Clone)]
pub struct Frontend {
    pub(crate) engine: Engine,
}

impl Frontend {
    pub fn new(engine: Engine) -> Frontend {
        Frontend { engine }
    }

    /// When a long poll must answer: the engine's limit, or a little before the client's
    /// own gRPC deadline so the client gets an empty answer rather than DEADLINE_EXCEEDED.
    pub(crate) fn poll_deadline<T>(&self, request: &Request<T>) -> Instant {
        let mut wait = self.engine.long_poll_timeout();
        if let Some(client) = request
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout)
        {
            wait = wait.min(client.saturating_sub(Duration::from_millis(500)));
        }
        Instant::now() + wait
    }

    /// When a wait for an update's stage must answer. An answer short of the stage makes the
    /// SDKs ask again, so a client with its own gRPC deadline (a short RPC timeout) is
    /// answered at that deadline with DEADLINE_EXCEEDED, as Temporal does, rather than
    /// early and empty; otherwise the engine's long-poll limit ends the wait. Answers the
    /// deadline, and whether it is the client's.
    pub(crate) fn update_wait_deadline<T>(&self, request: &Request<T>) -> (Instant, bool) {
        let ours = self.engine.long_poll_timeout();
        match request
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout)
        {
            // Answer a little before the client stops listening, so it hears why.
            Some(client) if client <= ours => (
                Instant::now() + client.saturating_sub(Duration::from_millis(50)),
                true,
            ),
            _ => (Instant::now() + ours, false),
        }
    }

    /// Refuses a payload over the size limit, naming the field.
    pub(crate) fn check_size<M: prost::Message>(
        &self,
        field: &str,
        value: Option<&M>,
    ) -> Result<(), Status> {
        let limit = self.engine.limits().max_payload_bytes;
        check_size(field, value.map_or(0, |v| v.encoded_len()), limit)
    }

    pub(crate) fn check_memo(&self, memo: Option<&common::Memo>) -> Result<(), Status> {
        let limit = self.engine.limits().max_memo_bytes;
        check_size("Memo", memo.map_or(0, prost::Message::encoded_len), limit)
    }

    /// The run a request names: its run id, or the workflow id's current run.
    pub(crate) async fn resolve(
        &self,
        namespace: &str,
        execution: Option<&common::WorkflowExecution>,
    ) -> Result<ExecutionKey, Status> {
        let (workflow_id, run_id) =
            execution.map_or(("", ""), |e| (e.workflow_id.as_str(), e.run_id.as_str()));
        engine_result(self.engine.resolve(namespace, workflow_id, run_id).await)
    }
}

fn check_size(field: &str, size: usize, limit: usize) -> Result<(), Status> {
    if size > limit {
        return Err(Status::invalid_argument(format!(
            "{field} is {size} bytes, over the limit of {limit} bytes (blob data size exceeds limit)"
        )));
    }
    Ok(())
}

/// gRPC's timeout header: digits followed by a unit (H, M, S, m, u, n).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

pub(crate) fn engine_result<T>(result: keel_engine::Result<T>) -> Result<T, Status> {
    result.map_err(to_status)
}

#[tonic::async_trait]
impl WorkflowService for Frontend {
    async fn get_system_info(
        &self,
        request: Request<ws::GetSystemInfoRequest>,
    ) -> Reply<ws::GetSystemInfoResponse> {
        rpc::system::get_system_info(self, request).await
    }

    async fn get_cluster_info(
        &self,
        request: Request<ws::GetClusterInfoRequest>,
    ) -> Reply<ws::GetClusterInfoResponse> {
        rpc::system::get_cluster_info(self, request).await
    }

    async fn describe_namespace(
        &self,
        request: Request<ws::DescribeNamespaceRequest>,
    ) -> Reply<ws::DescribeNamespaceResponse> {
        rpc::namespaces::describe_namespace(self, request).await
    }

    async fn list_namespaces(
        &self,
        request: Request<ws::ListNamespacesRequest>,
    ) -> Reply<ws::ListNamespacesResponse> {
        rpc::namespaces::list_namespaces(self, request).await
    }

    async fn register_namespace(
        &self,
        request: Request<ws::RegisterNamespaceRequest>,
    ) -> Reply<ws::RegisterNamespaceResponse> {
        rpc::namespaces::register_namespace(self, request).await
    }

    async fn update_namespace(
        &self,
        request: Request<ws::UpdateNamespaceRequest>,
    ) -> Reply<ws::UpdateNamespaceResponse> {
        rpc::namespaces::update_namespace(self, request).await
    }

    async fn start_workflow_execution(
        &self,
        request: Request<ws::StartWorkflowExecutionRequest>,
    ) -> Reply<ws::StartWorkflowExecutionResponse> {
        rpc::start::start_workflow_execution(self, request).await
    }

    async fn poll_workflow_task_queue(
        &self,
        request: Request<ws::PollWorkflowTaskQueueRequest>,
    ) -> Reply<ws::PollWorkflowTaskQueueResponse> {
        rpc::workflow_tasks::poll_workflow_task_queue(self, request).await
    }

    async fn respond_workflow_task_completed(
        &self,
        request: Request<ws::RespondWorkflowTaskCompletedRequest>,
    ) -> Reply<ws::RespondWorkflowTaskCompletedResponse> {
        rpc::workflow_tasks::respond_workflow_task_completed(self, request).await
    }

    async fn respond_workflow_task_failed(
        &self,
        request: Request<ws::RespondWorkflowTaskFailedRequest>,
    ) -> Reply<ws::RespondWorkflowTaskFailedResponse> {
        rpc::workflow_tasks::respond_workflow_task_failed(self, request).await
    }

    async fn poll_activity_task_queue(
        &self,
        request: Request<ws::PollActivityTaskQueueRequest>,
    ) -> Reply<ws::PollActivityTaskQueueResponse> {
        rpc::activity_tasks::poll_activity_task_queue(self, request).await
    }

    async fn record_activity_task_heartbeat(
        &self,
        request: Request<ws::RecordActivityTaskHeartbeatRequest>,
    ) -> Reply<ws::RecordActivityTaskHeartbeatResponse> {
        rpc::activity_tasks::record_activity_task_heartbeat(self, request).await
    }

    async fn record_activity_task_heartbeat_by_id(
        &self,
        request: Request<ws::RecordActivityTaskHeartbeatByIdRequest>,
    ) -> Reply<ws::RecordActivityTaskHeartbeatByIdResponse> {
        rpc::activity_tasks::record_activity_task_heartbeat_by_id(self, request).await
    }

    async fn respond_activity_task_completed(
        &self,
        request: Request<ws::RespondActivityTaskCompletedRequest>,
    ) -> Reply<ws::RespondActivityTaskCompletedResponse> {
        rpc::activity_tasks::respond_activity_task_completed(self, request).await
    }

    async fn respond_activity_task_completed_by_id(
        &self,
        request: Request<ws::RespondActivityTaskCompletedByIdRequest>,
    ) -> Reply<ws::RespondActivityTaskCompletedByIdResponse> {
        rpc::activity_tasks::respond_activity_task_completed_by_id(self, request).await
    }

    async fn respond_activity_task_failed(
        &self,
        request: Request<ws::RespondActivityTaskFailedRequest>,
    ) -> Reply<ws::RespondActivityTaskFailedResponse> {
        rpc::activity_tasks::respond_activity_task_failed(self, request).await
    }

    async fn respond_activity_task_failed_by_id(
        &self,
        request: Request<ws::RespondActivityTaskFailedByIdRequest>,
    ) -> Reply<ws::RespondActivityTaskFailedByIdResponse> {
        rpc::activity_tasks::respond_activity_task_failed_by_id(self, request).await
    }

    async fn respond_activity_task_canceled(
        &self,
        request: Request<ws::RespondActivityTaskCanceledRequest>,
    ) -> Reply<ws::RespondActivityTaskCanceledResponse> {
        rpc::activity_tasks::respond_activity_task_canceled(self, request).await
    }

    async fn respond_activity_task_canceled_by_id(
        &self,
        request: Request<ws::RespondActivityTaskCanceledByIdRequest>,
    ) -> Reply<ws::RespondActivityTaskCanceledByIdResponse> {
        rpc::activity_tasks::respond_activity_task_canceled_by_id(self, request).await
    }

    async fn get_workflow_execution_history(
        &self,
        request: Request<ws::GetWorkflowExecutionHistoryRequest>,
    ) -> Reply<ws::GetWorkflowExecutionHistoryResponse> {
        rpc::reads::get_workflow_execution_history(self, request).await
    }

    async fn describe_workflow_execution(
        &self,
        request: Request<ws::DescribeWorkflowExecutionRequest>,
    ) -> Reply<ws::DescribeWorkflowExecutionResponse> {
        rpc::reads::describe_workflow_execution(self, request).await
    }

    async fn list_workflow_executions(
        &self,
        request: Request<ws::ListWorkflowExecutionsRequest>,
    ) -> Reply<ws::ListWorkflowExecutionsResponse> {
        rpc::reads::list_workflow_executions(self, request).await
    }

    async fn count_workflow_executions(
        &self,
        request: Request<ws::CountWorkflowExecutionsRequest>,
    ) -> Reply<ws::CountWorkflowExecutionsResponse> {
        rpc::reads::count_workflow_executions(self, request).await
    }

    async fn describe_task_queue(
        &self,
        request: Request<ws::DescribeTaskQueueRequest>,
    ) -> Reply<ws::DescribeTaskQueueResponse> {
        rpc::reads::describe_task_queue(self, request).await
    }

    async fn create_schedule(
        &self,
        request: Request<ws::CreateScheduleRequest>,
    ) -> Reply<ws::CreateScheduleResponse> {
        rpc::schedules::create_schedule(self, request).await
    }

    async fn describe_schedule(
        &self,
        request: Request<ws::DescribeScheduleRequest>,
    ) -> Reply<ws::DescribeScheduleResponse> {
        rpc::schedules::describe_schedule(self, request).await
    }

    async fn update_schedule(
        &self,
        request: Request<ws::UpdateScheduleRequest>,
    ) -> Reply<ws::UpdateScheduleResponse> {
        rpc::schedules::update_schedule(self, request).await
    }

    async fn patch_schedule(
        &self,
        request: Request<ws::PatchScheduleRequest>,
    ) -> Reply<ws::PatchScheduleResponse> {
        rpc::schedules::patch_schedule(self, request).await
    }

    async fn delete_schedule(
        &self,
        request: Request<ws::DeleteScheduleRequest>,
    ) -> Reply<ws::DeleteScheduleResponse> {
        rpc::schedules::delete_schedule(self, request).await
    }

    async fn list_schedules(
        &self,
        request: Request<ws::ListSchedulesRequest>,
    ) -> Reply<ws::ListSchedulesResponse> {
        rpc::schedules::list_schedules(self, request).await
    }

    async fn execute_multi_operation(
        &self,
        request: Request<ws::ExecuteMultiOperationRequest>,
    ) -> Reply<ws::ExecuteMultiOperationResponse> {
        rpc::multi::execute_multi_operation(self, request).await
    }

    async fn count_schedules(
        &self,
        request: Request<ws::CountSchedulesRequest>,
    ) -> Reply<ws::CountSchedulesResponse> {
        rpc::schedules::count_schedules(self, request).await
    }

    async fn get_search_attributes(
        &self,
        request: Request<ws::GetSearchAttributesRequest>,
    ) -> Reply<ws::GetSearchAttributesResponse> {
        rpc::search_attributes::get_search_attributes(self, request).await
    }

    async fn list_schedule_matching_times(
        &self,
        request: Request<ws::ListScheduleMatchingTimesRequest>,
    ) -> Reply<ws::ListScheduleMatchingTimesResponse> {
        rpc::schedules::list_schedule_matching_times(self, request).await
    }

    async fn reset_workflow_execution(
        &self,
        request: Request<ws::ResetWorkflowExecutionRequest>,
    ) -> Reply<ws::ResetWorkflowExecutionResponse> {
        rpc::reset::reset_workflow_execution(self, request).await
    }

    async fn terminate_workflow_execution(
        &self,
        request: Request<ws::TerminateWorkflowExecutionRequest>,
    ) -> Reply<ws::TerminateWorkflowExecutionResponse> {
        rpc::start::terminate_workflow_execution(self, request).await
    }

    async fn signal_workflow_execution(
        &self,
        request: Request<ws::SignalWorkflowExecutionRequest>,
    ) -> Reply<ws::SignalWorkflowExecutionResponse> {
        rpc::requests::signal_workflow_execution(self, request).await
    }

    async fn signal_with_start_workflow_execution(
        &self,
        request: Request<ws::SignalWithStartWorkflowExecutionRequest>,
    ) -> Reply<ws::SignalWithStartWorkflowExecutionResponse> {
        rpc::start::signal_with_start_workflow_execution(self, request).await
    }

    async fn request_cancel_workflow_execution(
        &self,
        request: Request<ws::RequestCancelWorkflowExecutionRequest>,
    ) -> Reply<ws::RequestCancelWorkflowExecutionResponse> {
        rpc::requests::request_cancel_workflow_execution(self, request).await
    }

    async fn query_workflow(
        &self,
        request: Request<ws::QueryWorkflowRequest>,
    ) -> Reply<ws::QueryWorkflowResponse> {
        rpc::workflow_queries::query_workflow(self, request).await
    }

    async fn respond_query_task_completed(
        &self,
        request: Request<ws::RespondQueryTaskCompletedRequest>,
    ) -> Reply<ws::RespondQueryTaskCompletedResponse> {
        rpc::workflow_queries::respond_query_task_completed(self, request).await
    }

    async fn get_workflow_execution_history_reverse(
        &self,
        request: Request<ws::GetWorkflowExecutionHistoryReverseRequest>,
    ) -> Reply<ws::GetWorkflowExecutionHistoryReverseResponse> {
        rpc::reads::get_workflow_execution_history_reverse(self, request).await
    }

    async fn delete_workflow_execution(
        &self,
        request: Request<ws::DeleteWorkflowExecutionRequest>,
    ) -> Reply<ws::DeleteWorkflowExecutionResponse> {
        rpc::reads::delete_workflow_execution(self, request).await
    }

    async fn list_open_workflow_executions(
        &self,
        request: Request<ws::ListOpenWorkflowExecutionsRequest>,
    ) -> Reply<ws::ListOpenWorkflowExecutionsResponse> {
        rpc::reads::list_open_workflow_executions(self, request).await
    }

    async fn list_closed_workflow_executions(
        &self,
        request: Request<ws::ListClosedWorkflowExecutionsRequest>,
    ) -> Reply<ws::ListClosedWorkflowExecutionsResponse> {
        rpc::reads::list_closed_workflow_executions(self, request).await
    }

    async fn scan_workflow_executions(
        &self,
        request: Request<ws::ScanWorkflowExecutionsRequest>,
    ) -> Reply<ws::ScanWorkflowExecutionsResponse> {
        rpc::reads::scan_workflow_executions(self, request).await
    }

    async fn update_workflow_execution(
        &self,
        request: Request<ws::UpdateWorkflowExecutionRequest>,
    ) -> Reply<ws::UpdateWorkflowExecutionResponse> {
        rpc::updates::update_workflow_execution(self, request).await
    }

    async fn poll_workflow_execution_update(
        &self,
        request: Request<ws::PollWorkflowExecutionUpdateRequest>,
    ) -> Reply<ws::PollWorkflowExecutionUpdateResponse> {
        rpc::updates::poll_workflow_execution_update(self, request).await
    }

    async fn shutdown_worker(
        &self,
        request: Request<ws::ShutdownWorkerRequest>,
    ) -> Reply<ws::ShutdownWorkerResponse> {
        rpc::workflow_tasks::shutdown_worker(self, request).await
    }
}

/// OperatorService: search attributes; the rest answers Unimplemented.
#[tonic::async_trait]
impl OperatorService for Frontend {
    async fn add_search_attributes(
        &self,
        request: Request<os::AddSearchAttributesRequest>,
    ) -> Reply<os::AddSearchAttributesResponse> {
        rpc::search_attributes::add_search_attributes(self, request).await
    }

    async fn remove_search_attributes(
        &self,
        request: Request<os::RemoveSearchAttributesRequest>,
    ) -> Reply<os::RemoveSearchAttributesResponse> {
        rpc::search_attributes::remove_search_attributes(self, request).await
    }

    async fn list_search_attributes(
        &self,
        request: Request<os::ListSearchAttributesRequest>,
    ) -> Reply<os::ListSearchAttributesResponse> {
        rpc::search_attributes::list_search_attributes(self, request).await
    }
}
