//! Starting and terminating workflow executions.

use super::prelude::*;
use super::requests::client_signal;
use keel_core::StartParams;
use keel_core::reuse::ConflictPolicy;

pub(crate) async fn start_workflow_execution(
    frontend: &Frontend,
    request: Request<ws::StartWorkflowExecutionRequest>,
) -> Reply<ws::StartWorkflowExecutionResponse> {
    let r = request.into_inner();
    frontend.check_size("Input", r.input.as_ref())?;
    frontend.check_memo(r.memo.as_ref())?;
    let namespace = engine_result(frontend.engine.namespace(&r.namespace))?;
    let eager = r.request_eager_execution;
    let identity = r.identity.clone();
    let start = start_request(r, &namespace)?;
    let key = keel_core::ExecutionKey {
        namespace: start.namespace.clone(),
        workflow_id: start.workflow_id.clone(),
        run_id: String::new(),
    };
    let result = engine_result(frontend.engine.start_workflow(start).await)?;
    // Eager start: the starter's own worker gets the first workflow task in the answer.
    let eager_workflow_task = if eager && result.started {
        let key = keel_core::ExecutionKey {
            run_id: result.run_id.clone(),
            ..key
        };
        engine_result(
            frontend
                .engine
                .take_first_workflow_task(&key, &identity)
                .await,
        )?
        .map(super::workflow_tasks::poll_workflow_response)
    } else {
        None
    };
    Ok(Response::new(ws::StartWorkflowExecutionResponse {
        run_id: result.run_id,
        started: result.started,
        status: enums::WorkflowExecutionStatus::Running as i32,
        eager_workflow_task,
        ..Default::default()
    }))
}

/// Signals the workflow id's running run, or starts a run with the signal as its first
/// news. The conflict policy defaults to using the running run, as in Temporal.
pub(crate) async fn signal_with_start_workflow_execution(
    frontend: &Frontend,
    request: Request<ws::SignalWithStartWorkflowExecutionRequest>,
) -> Reply<ws::SignalWithStartWorkflowExecutionResponse> {
    let r = request.into_inner();
    frontend.check_size("Input", r.input.as_ref())?;
    frontend.check_size("SignalInput", r.signal_input.as_ref())?;
    frontend.check_memo(r.memo.as_ref())?;
    let conflict_policy = match enums::WorkflowIdConflictPolicy::try_from(
        r.workflow_id_conflict_policy,
    ) {
        Ok(enums::WorkflowIdConflictPolicy::Fail) => {
            return Err(Status::invalid_argument(
                "SignalWithStart does not support WorkflowIdConflictPolicy FAIL: the running workflow is signaled instead",
            ));
        }
        Ok(enums::WorkflowIdConflictPolicy::TerminateExisting) => {
            enums::WorkflowIdConflictPolicy::TerminateExisting
        }
        _ => enums::WorkflowIdConflictPolicy::UseExisting,
    };
    let signal = client_signal(
        &r.signal_name,
        r.signal_input.as_ref(),
        r.header.as_ref(),
        &r.identity,
        &r.request_id,
    )?;
    let namespace = engine_result(frontend.engine.namespace(&r.namespace))?;
    let mut start = start_request(
        ws::StartWorkflowExecutionRequest {
            namespace: r.namespace,
            workflow_id: r.workflow_id,
            workflow_type: r.workflow_type,
            task_queue: r.task_queue,
            input: r.input,
            workflow_execution_timeout: r.workflow_execution_timeout,
            workflow_run_timeout: r.workflow_run_timeout,
            workflow_task_timeout: r.workflow_task_timeout,
            identity: r.identity,
            request_id: r.request_id,
            workflow_id_reuse_policy: r.workflow_id_reuse_policy,
            workflow_id_conflict_policy: conflict_policy as i32,
            retry_policy: r.retry_policy,
            cron_schedule: r.cron_schedule,
            memo: r.memo,
            search_attributes: r.search_attributes,
            header: r.header,
            workflow_start_delay: r.workflow_start_delay,
            ..Default::default()
        },
        &namespace,
    )?;
    start.signal = Some(signal);
    let result = engine_result(frontend.engine.start_workflow(start).await)?;
    Ok(Response::new(
        ws::SignalWithStartWorkflowExecutionResponse {
            run_id: result.run_id,
            started: result.started,
            ..Default::default()
        },
    ))
}

pub(crate) fn start_request(
    r: ws::StartWorkflowExecutionRequest,
    namespace: &keel_core::Namespace,
) -> Result<StartRequest, Status> {
    let start_delay = from_duration(r.workflow_start_delay.as_ref(), "WorkflowStartDelay")?;
    let continued_failure = r.continued_failure.as_ref().map(failure);
    let last_completion_result = payloads(r.last_completion_result.as_ref());
    let params = StartParams {
        workflow_type: workflow_type_name(r.workflow_type.as_ref()),
        task_queue: queue_name(r.task_queue.as_ref()),
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
        search_attributes: search_attributes(r.search_attributes.as_ref(), namespace)?,
        header: header(r.header.as_ref()),
        retry_policy: retry_policy(r.retry_policy.as_ref())?,
        cron_schedule: r.cron_schedule,
        // Chosen by the engine.
        next_run_id: String::new(),
        parent: None,
    };
    Ok(StartRequest {
        namespace: r.namespace,
        workflow_id: r.workflow_id,
        params,
        reuse_policy: reuse_policy(r.workflow_id_reuse_policy),
        conflict_policy: conflict_policy(r.workflow_id_conflict_policy),
        signal: None,
        start_delay,
        continued_failure,
        last_completion_result,
    })
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
            .terminate(&key, &r.reason, payloads(r.details.as_ref()), &r.identity)
            .await,
    )?;
    Ok(Response::new(
        ws::TerminateWorkflowExecutionResponse::default(),
    ))
}

fn conflict_policy(value: i32) -> ConflictPolicy {
    match enums::WorkflowIdConflictPolicy::try_from(value) {
        Ok(enums::WorkflowIdConflictPolicy::UseExisting) => ConflictPolicy::UseExisting,
        Ok(enums::WorkflowIdConflictPolicy::TerminateExisting) => ConflictPolicy::TerminateExisting,
        _ => ConflictPolicy::Fail,
    }
}
