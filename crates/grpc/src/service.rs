//! WorkflowService and OperatorService: validate, translate, call the engine.

use std::time::{Duration, Instant};

use keel_core::reuse::{ConflictPolicy, ReusePolicy};
use keel_core::{Completion, StartParams, Stickiness};
use keel_engine::{
    ActivityOutcome, ActivityTarget, Engine, HistoryRequest, StartRequest, TaskKind,
};
use temporalio_protos::temporal::api::common::v1 as common;
use temporalio_protos::temporal::api::enums::v1 as enums;
use temporalio_protos::temporal::api::taskqueue::v1 as taskqueue;
use tonic::{Request, Response, Status};

use crate::commands::commands;
use crate::convert::*;
use crate::describe::{CLUSTER_NAME, describe_execution, describe_namespace, execution_info};
use crate::error::to_status;
use crate::history::to_history;
use crate::proto::operatorservice::operator_service_server::OperatorService;
use crate::proto::workflowservice::workflow_service_server::WorkflowService;
use temporalio_protos::temporal::api::workflowservice::v1 as ws;

type Reply<T> = Result<Response<T>, Status>;

#[derive(Clone)]
pub struct Frontend {
    engine: Engine,
}

impl Frontend {
    pub fn new(engine: Engine) -> Frontend {
        Frontend { engine }
    }

    /// When a long poll must answer: the engine's limit, or a little before the client's
    /// own gRPC deadline so the client gets an empty answer rather than DEADLINE_EXCEEDED.
    fn poll_deadline<T>(&self, request: &Request<T>) -> Instant {
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

fn engine_result<T>(result: keel_engine::Result<T>) -> Result<T, Status> {
    result.map_err(to_status)
}

fn reuse_policy(value: i32) -> ReusePolicy {
    match enums::WorkflowIdReusePolicy::try_from(value) {
        Ok(enums::WorkflowIdReusePolicy::AllowDuplicateFailedOnly) => {
            ReusePolicy::AllowDuplicateFailedOnly
        }
        Ok(enums::WorkflowIdReusePolicy::RejectDuplicate) => ReusePolicy::RejectDuplicate,
        Ok(enums::WorkflowIdReusePolicy::TerminateIfRunning) => ReusePolicy::TerminateIfRunning,
        _ => ReusePolicy::AllowDuplicate,
    }
}

fn conflict_policy(value: i32) -> ConflictPolicy {
    match enums::WorkflowIdConflictPolicy::try_from(value) {
        Ok(enums::WorkflowIdConflictPolicy::UseExisting) => ConflictPolicy::UseExisting,
        Ok(enums::WorkflowIdConflictPolicy::TerminateExisting) => ConflictPolicy::TerminateExisting,
        _ => ConflictPolicy::Fail,
    }
}

fn execution_ids(execution: Option<&common::WorkflowExecution>) -> (&str, &str) {
    execution.map_or(("", ""), |e| (e.workflow_id.as_str(), e.run_id.as_str()))
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

fn poll_workflow_response(
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
        ..Default::default()
    }
}

#[tonic::async_trait]
impl WorkflowService for Frontend {
    async fn get_system_info(
        &self,
        _: Request<ws::GetSystemInfoRequest>,
    ) -> Reply<ws::GetSystemInfoResponse> {
        // Only what Keel really does is advertised: SDKs change behaviour on these flags.
        let capabilities = ws::get_system_info_response::Capabilities {
            signal_and_query_header: false,
            internal_error_differentiation: true,
            activity_failure_include_heartbeat: true,
            supports_schedules: false,
            encoded_failure_attributes: true,
            build_id_based_versioning: false,
            upsert_memo: true,
            eager_workflow_start: false,
            sdk_metadata: true,
            count_group_by_execution_status: false,
            nexus: false,
            ..Default::default()
        };
        Ok(Response::new(ws::GetSystemInfoResponse {
            server_version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Some(capabilities),
        }))
    }

    async fn get_cluster_info(
        &self,
        _: Request<ws::GetClusterInfoRequest>,
    ) -> Reply<ws::GetClusterInfoResponse> {
        Ok(Response::new(ws::GetClusterInfoResponse {
            server_version: env!("CARGO_PKG_VERSION").into(),
            cluster_name: CLUSTER_NAME.into(),
            cluster_id: "keel".into(),
            history_shard_count: 1,
            persistence_store: "sqlite".into(),
            visibility_store: "sqlite".into(),
            ..Default::default()
        }))
    }

    async fn describe_namespace(
        &self,
        request: Request<ws::DescribeNamespaceRequest>,
    ) -> Reply<ws::DescribeNamespaceResponse> {
        let request = request.into_inner();
        let namespace = if request.namespace.is_empty() {
            self.engine
                .namespaces()
                .into_iter()
                .find(|ns| ns.id == request.id)
                .ok_or_else(|| {
                    to_status(keel_engine::Error::NamespaceNotFound(request.id.clone()))
                })?
        } else {
            engine_result(self.engine.namespace(&request.namespace))?
        };
        Ok(Response::new(describe_namespace(&namespace)))
    }

    async fn list_namespaces(
        &self,
        _: Request<ws::ListNamespacesRequest>,
    ) -> Reply<ws::ListNamespacesResponse> {
        let namespaces = self
            .engine
            .namespaces()
            .iter()
            .map(describe_namespace)
            .collect();
        Ok(Response::new(ws::ListNamespacesResponse {
            namespaces,
            next_page_token: Vec::new(),
        }))
    }

    async fn register_namespace(
        &self,
        request: Request<ws::RegisterNamespaceRequest>,
    ) -> Reply<ws::RegisterNamespaceResponse> {
        let request = request.into_inner();
        let retention = from_duration(
            request.workflow_execution_retention_period.as_ref(),
            "WorkflowExecutionRetentionPeriod",
        )?;
        engine_result(
            self.engine
                .register_namespace(
                    &request.namespace,
                    request.description,
                    request.owner_email,
                    Some(retention),
                    request.data.into_iter().collect(),
                )
                .await,
        )?;
        Ok(Response::new(ws::RegisterNamespaceResponse {}))
    }

    async fn update_namespace(
        &self,
        request: Request<ws::UpdateNamespaceRequest>,
    ) -> Reply<ws::UpdateNamespaceResponse> {
        let request = request.into_inner();
        let retention = match request
            .config
            .as_ref()
            .and_then(|c| c.workflow_execution_retention_ttl.as_ref())
        {
            Some(ttl) => Some(from_duration(Some(ttl), "WorkflowExecutionRetentionTtl")?),
            None => None,
        };
        let info = request.update_info.clone();
        let namespace = engine_result(
            self.engine
                .update_namespace(&request.namespace, |ns| {
                    if let Some(info) = info {
                        if !info.description.is_empty() {
                            ns.description = info.description;
                        }
                        if !info.owner_email.is_empty() {
                            ns.owner_email = info.owner_email;
                        }
                        ns.data.extend(info.data);
                    }
                    if let Some(retention) = retention.filter(|r| !r.is_zero()) {
                        ns.retention = retention;
                    }
                })
                .await,
        )?;
        let described = describe_namespace(&namespace);
        Ok(Response::new(ws::UpdateNamespaceResponse {
            namespace_info: described.namespace_info,
            config: described.config,
            replication_config: described.replication_config,
            failover_version: 0,
            is_global_namespace: false,
        }))
    }

    async fn start_workflow_execution(
        &self,
        request: Request<ws::StartWorkflowExecutionRequest>,
    ) -> Reply<ws::StartWorkflowExecutionResponse> {
        let r = request.into_inner();
        if r.workflow_start_delay
            .as_ref()
            .is_some_and(|d| d.seconds > 0 || d.nanos > 0)
        {
            return Err(Status::unimplemented(
                "WorkflowStartDelay is not supported by this server yet",
            ));
        }
        let params = StartParams {
            workflow_type: r
                .workflow_type
                .as_ref()
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            task_queue: r
                .task_queue
                .as_ref()
                .map(|q| q.name.clone())
                .unwrap_or_default(),
            input: payloads(r.input.as_ref()),
            workflow_execution_timeout: from_duration(
                r.workflow_execution_timeout.as_ref(),
                "WorkflowExecutionTimeout",
            )?,
            workflow_run_timeout: from_duration(
                r.workflow_run_timeout.as_ref(),
                "WorkflowRunTimeout",
            )?,
            workflow_task_timeout: from_duration(
                r.workflow_task_timeout.as_ref(),
                "WorkflowTaskTimeout",
            )?,
            identity: r.identity,
            request_id: r.request_id,
            memo: memo(r.memo.as_ref()),
            search_attributes: search_attributes(r.search_attributes.as_ref()),
            header: header(r.header.as_ref()),
            retry_policy: retry_policy(r.retry_policy.as_ref())?,
            cron_schedule: r.cron_schedule,
            // Chosen by the engine.
            next_run_id: String::new(),
        };
        let result = engine_result(
            self.engine
                .start_workflow(StartRequest {
                    namespace: r.namespace,
                    workflow_id: r.workflow_id,
                    params,
                    reuse_policy: reuse_policy(r.workflow_id_reuse_policy),
                    conflict_policy: conflict_policy(r.workflow_id_conflict_policy),
                })
                .await,
        )?;
        Ok(Response::new(ws::StartWorkflowExecutionResponse {
            run_id: result.run_id,
            started: result.started,
            status: enums::WorkflowExecutionStatus::Running as i32,
            ..Default::default()
        }))
    }

    async fn poll_workflow_task_queue(
        &self,
        request: Request<ws::PollWorkflowTaskQueueRequest>,
    ) -> Reply<ws::PollWorkflowTaskQueueResponse> {
        let deadline = self.poll_deadline(&request);
        let r = request.into_inner();
        let queue = task_queue_name(r.task_queue.as_ref())?;
        let polled = engine_result(
            self.engine
                .poll_workflow_task(&r.namespace, queue, &r.identity, deadline)
                .await,
        )?;
        // An empty poll must be exactly the default message: SDKs treat it as "no task".
        Ok(Response::new(
            polled.map(poll_workflow_response).unwrap_or_default(),
        ))
    }

    async fn respond_workflow_task_completed(
        &self,
        request: Request<ws::RespondWorkflowTaskCompletedRequest>,
    ) -> Reply<ws::RespondWorkflowTaskCompletedResponse> {
        let r = request.into_inner();
        if !r.messages.is_empty() {
            return Err(Status::unimplemented(
                "workflow updates (protocol messages) are not supported by this server yet",
            ));
        }
        if !r.query_results.is_empty() {
            return Err(Status::unimplemented(
                "queries are not supported by this server yet",
            ));
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
            commands: commands(&r.commands)?,
            identity: r.identity,
            binary_checksum: r.binary_checksum,
            sdk_metadata: r.sdk_metadata.as_ref().map(encode),
            metering_metadata: r.metering_metadata.as_ref().map(encode),
            stickiness,
            force_create_new_workflow_task: r.force_create_new_workflow_task,
            return_new_workflow_task: r.return_new_workflow_task,
        };
        let completed = engine_result(
            self.engine
                .complete_workflow_task(&r.task_token, completion)
                .await,
        )?;
        Ok(Response::new(ws::RespondWorkflowTaskCompletedResponse {
            workflow_task: completed.new_task.map(poll_workflow_response),
            ..Default::default()
        }))
    }

    async fn respond_workflow_task_failed(
        &self,
        request: Request<ws::RespondWorkflowTaskFailedRequest>,
    ) -> Reply<ws::RespondWorkflowTaskFailedResponse> {
        let r = request.into_inner();
        let failure = r.failure.as_ref().map(failure);
        engine_result(
            self.engine
                .fail_workflow_task(&r.task_token, r.cause, failure, &r.identity)
                .await,
        )?;
        Ok(Response::new(ws::RespondWorkflowTaskFailedResponse {}))
    }

    async fn poll_activity_task_queue(
        &self,
        request: Request<ws::PollActivityTaskQueueRequest>,
    ) -> Reply<ws::PollActivityTaskQueueResponse> {
        let deadline = self.poll_deadline(&request);
        let r = request.into_inner();
        let queue = task_queue_name(r.task_queue.as_ref())?;
        let polled = engine_result(
            self.engine
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

    async fn record_activity_task_heartbeat(
        &self,
        request: Request<ws::RecordActivityTaskHeartbeatRequest>,
    ) -> Reply<ws::RecordActivityTaskHeartbeatResponse> {
        let r = request.into_inner();
        let cancel_requested = engine_result(
            self.engine
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

    async fn record_activity_task_heartbeat_by_id(
        &self,
        request: Request<ws::RecordActivityTaskHeartbeatByIdRequest>,
    ) -> Reply<ws::RecordActivityTaskHeartbeatByIdResponse> {
        let r = request.into_inner();
        let target = by_id(r.namespace, r.workflow_id, r.run_id, r.activity_id);
        let cancel_requested = engine_result(
            self.engine
                .heartbeat_activity(target, payloads(r.details.as_ref()))
                .await,
        )?;
        Ok(Response::new(ws::RecordActivityTaskHeartbeatByIdResponse {
            cancel_requested,
            ..Default::default()
        }))
    }

    async fn respond_activity_task_completed(
        &self,
        request: Request<ws::RespondActivityTaskCompletedRequest>,
    ) -> Reply<ws::RespondActivityTaskCompletedResponse> {
        let r = request.into_inner();
        let outcome = ActivityOutcome::Completed(payloads(r.result.as_ref()));
        engine_result(
            self.engine
                .finish_activity(ActivityTarget::Token(r.task_token), outcome, &r.identity)
                .await,
        )?;
        Ok(Response::new(
            ws::RespondActivityTaskCompletedResponse::default(),
        ))
    }

    async fn respond_activity_task_completed_by_id(
        &self,
        request: Request<ws::RespondActivityTaskCompletedByIdRequest>,
    ) -> Reply<ws::RespondActivityTaskCompletedByIdResponse> {
        let r = request.into_inner();
        let target = by_id(r.namespace, r.workflow_id, r.run_id, r.activity_id);
        let outcome = ActivityOutcome::Completed(payloads(r.result.as_ref()));
        engine_result(
            self.engine
                .finish_activity(target, outcome, &r.identity)
                .await,
        )?;
        Ok(Response::new(
            ws::RespondActivityTaskCompletedByIdResponse {},
        ))
    }

    async fn respond_activity_task_failed(
        &self,
        request: Request<ws::RespondActivityTaskFailedRequest>,
    ) -> Reply<ws::RespondActivityTaskFailedResponse> {
        let r = request.into_inner();
        let failure = r
            .failure
            .as_ref()
            .map(failure)
            .ok_or_else(|| Status::invalid_argument("Failure is not set on request."))?;
        let outcome = ActivityOutcome::Failed {
            failure,
            last_heartbeat_details: payloads(r.last_heartbeat_details.as_ref()),
        };
        engine_result(
            self.engine
                .finish_activity(ActivityTarget::Token(r.task_token), outcome, &r.identity)
                .await,
        )?;
        Ok(Response::new(
            ws::RespondActivityTaskFailedResponse::default(),
        ))
    }

    async fn respond_activity_task_failed_by_id(
        &self,
        request: Request<ws::RespondActivityTaskFailedByIdRequest>,
    ) -> Reply<ws::RespondActivityTaskFailedByIdResponse> {
        let r = request.into_inner();
        let failure = r
            .failure
            .as_ref()
            .map(failure)
            .ok_or_else(|| Status::invalid_argument("Failure is not set on request."))?;
        let target = by_id(r.namespace, r.workflow_id, r.run_id, r.activity_id);
        let outcome = ActivityOutcome::Failed {
            failure,
            last_heartbeat_details: payloads(r.last_heartbeat_details.as_ref()),
        };
        engine_result(
            self.engine
                .finish_activity(target, outcome, &r.identity)
                .await,
        )?;
        Ok(Response::new(
            ws::RespondActivityTaskFailedByIdResponse::default(),
        ))
    }

    async fn respond_activity_task_canceled(
        &self,
        request: Request<ws::RespondActivityTaskCanceledRequest>,
    ) -> Reply<ws::RespondActivityTaskCanceledResponse> {
        let r = request.into_inner();
        let outcome = ActivityOutcome::Canceled(payloads(r.details.as_ref()));
        engine_result(
            self.engine
                .finish_activity(ActivityTarget::Token(r.task_token), outcome, &r.identity)
                .await,
        )?;
        Ok(Response::new(ws::RespondActivityTaskCanceledResponse {}))
    }

    async fn respond_activity_task_canceled_by_id(
        &self,
        request: Request<ws::RespondActivityTaskCanceledByIdRequest>,
    ) -> Reply<ws::RespondActivityTaskCanceledByIdResponse> {
        let r = request.into_inner();
        let target = by_id(r.namespace, r.workflow_id, r.run_id, r.activity_id);
        let outcome = ActivityOutcome::Canceled(payloads(r.details.as_ref()));
        engine_result(
            self.engine
                .finish_activity(target, outcome, &r.identity)
                .await,
        )?;
        Ok(Response::new(
            ws::RespondActivityTaskCanceledByIdResponse {},
        ))
    }

    async fn get_workflow_execution_history(
        &self,
        request: Request<ws::GetWorkflowExecutionHistoryRequest>,
    ) -> Reply<ws::GetWorkflowExecutionHistoryResponse> {
        let deadline = self.poll_deadline(&request);
        let r = request.into_inner();
        let (workflow_id, run_id) = execution_ids(r.execution.as_ref());
        let key = engine_result(self.engine.resolve(&r.namespace, workflow_id, run_id).await)?;
        let close_event_only =
            r.history_event_filter_type == enums::HistoryEventFilterType::CloseEvent as i32;
        let page = engine_result(
            self.engine
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

    async fn describe_workflow_execution(
        &self,
        request: Request<ws::DescribeWorkflowExecutionRequest>,
    ) -> Reply<ws::DescribeWorkflowExecutionResponse> {
        let r = request.into_inner();
        let (workflow_id, run_id) = execution_ids(r.execution.as_ref());
        let key = engine_result(self.engine.resolve(&r.namespace, workflow_id, run_id).await)?;
        let execution = engine_result(self.engine.describe(&key).await)?;
        Ok(Response::new(describe_execution(&execution)))
    }

    async fn list_workflow_executions(
        &self,
        request: Request<ws::ListWorkflowExecutionsRequest>,
    ) -> Reply<ws::ListWorkflowExecutionsResponse> {
        let r = request.into_inner();
        let page_size = usize::try_from(r.page_size.max(0)).unwrap_or(0);
        let page = engine_result(
            self.engine
                .list_executions(&r.namespace, &r.query, page_size, &r.next_page_token)
                .await,
        )?;
        Ok(Response::new(ws::ListWorkflowExecutionsResponse {
            executions: page.executions.iter().map(execution_info).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn count_workflow_executions(
        &self,
        request: Request<ws::CountWorkflowExecutionsRequest>,
    ) -> Reply<ws::CountWorkflowExecutionsResponse> {
        let r = request.into_inner();
        let count = engine_result(self.engine.count_executions(&r.namespace, &r.query).await)?;
        Ok(Response::new(ws::CountWorkflowExecutionsResponse {
            count,
            groups: Vec::new(),
        }))
    }

    async fn describe_task_queue(
        &self,
        request: Request<ws::DescribeTaskQueueRequest>,
    ) -> Reply<ws::DescribeTaskQueueResponse> {
        let r = request.into_inner();
        let queue = task_queue_name(r.task_queue.as_ref())?;
        let kind = if r.task_queue_type == enums::TaskQueueType::Activity as i32 {
            TaskKind::Activity
        } else {
            TaskKind::Workflow
        };
        let (pollers, backlog) =
            engine_result(self.engine.describe_task_queue(&r.namespace, queue, kind))?;
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

    async fn terminate_workflow_execution(
        &self,
        request: Request<ws::TerminateWorkflowExecutionRequest>,
    ) -> Reply<ws::TerminateWorkflowExecutionResponse> {
        let r = request.into_inner();
        let (workflow_id, run_id) = execution_ids(r.workflow_execution.as_ref());
        let key = engine_result(self.engine.resolve(&r.namespace, workflow_id, run_id).await)?;
        engine_result(self.engine.terminate(&key, &r.reason, &r.identity).await)?;
        Ok(Response::new(
            ws::TerminateWorkflowExecutionResponse::default(),
        ))
    }

    async fn shutdown_worker(
        &self,
        request: Request<ws::ShutdownWorkerRequest>,
    ) -> Reply<ws::ShutdownWorkerResponse> {
        let r = request.into_inner();
        engine_result(
            self.engine
                .shutdown_worker(&r.namespace, &r.sticky_task_queue)
                .await,
        )?;
        Ok(Response::new(ws::ShutdownWorkerResponse::default()))
    }
}

/// OperatorService: nothing is served yet beyond what the generated defaults answer
/// (Unimplemented); search attribute management comes with typed search attributes.
#[derive(Clone)]
pub struct Operator;

#[tonic::async_trait]
impl OperatorService for Operator {}
