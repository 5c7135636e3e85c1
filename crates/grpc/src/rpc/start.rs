//! Starting and terminating workflow executions.

use super::prelude::*;
use keel_core::StartParams;
use keel_core::reuse::{ConflictPolicy, ReusePolicy};

pub(crate) async fn start_workflow_execution(
    frontend: &Frontend,
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
        workflow_run_timeout: from_duration(r.workflow_run_timeout.as_ref(), "WorkflowRunTimeout")?,
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
        frontend
            .engine
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

pub(crate) async fn terminate_workflow_execution(
    frontend: &Frontend,
    request: Request<ws::TerminateWorkflowExecutionRequest>,
) -> Reply<ws::TerminateWorkflowExecutionResponse> {
    let r = request.into_inner();
    let key = frontend
        .resolve(&r.namespace, r.workflow_execution.as_ref())
        .await?;
    engine_result(
        frontend
            .engine
            .terminate(&key, &r.reason, &r.identity)
            .await,
    )?;
    Ok(Response::new(
        ws::TerminateWorkflowExecutionResponse::default(),
    ))
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
