//! ResetWorkflowExecution.

use keel_engine::ResetWorkflow;

use super::prelude::*;

pub(crate) async fn reset_workflow_execution(
    frontend: &Frontend,
    request: Request<ws::ResetWorkflowExecutionRequest>,
) -> Reply<ws::ResetWorkflowExecutionResponse> {
    let r = request.into_inner();
    let key = frontend
        .resolve(&r.namespace, r.workflow_execution.as_ref())
        .await?;
    if r.workflow_task_finish_event_id <= 0 {
        return Err(Status::invalid_argument(
            "WorkflowTaskFinishEventId must name the workflow task event to reset to",
        ));
    }
    let signal = enums::ResetReapplyExcludeType::Signal as i32;
    let reapply_signals = r.reset_reapply_type != enums::ResetReapplyType::None as i32
        && !r.reset_reapply_exclude_types.contains(&signal);
    let request_id = if r.request_id.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        r.request_id
    };
    let run_id = engine_result(
        frontend
            .engine
            .reset_workflow(ResetWorkflow {
                key,
                workflow_task_finish_event_id: r.workflow_task_finish_event_id,
                reason: r.reason,
                request_id,
                reapply_signals,
            })
            .await,
    )?;
    Ok(Response::new(ws::ResetWorkflowExecutionResponse { run_id }))
}
