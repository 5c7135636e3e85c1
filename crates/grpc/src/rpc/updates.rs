//! Workflow updates: UpdateWorkflowExecution and PollWorkflowExecutionUpdate from clients,
//! and the protocol messages that carry updates to workers and their answers back.

use super::prelude::*;
use keel_core::updates::UpdateMessage;
use keel_engine::{UpdateStatus, UpdateWaitStage};
use prost::Message as _;
use temporalio_protos::temporal::api::failure::v1 as failure;
use temporalio_protos::temporal::api::protocol::v1 as protocol;
use temporalio_protos::temporal::api::update::v1 as update;

const REQUEST_TYPE: &str = "type.googleapis.com/temporal.api.update.v1.Request";
const ACCEPTANCE_TYPE: &str = "type.googleapis.com/temporal.api.update.v1.Acceptance";
const REJECTION_TYPE: &str = "type.googleapis.com/temporal.api.update.v1.Rejection";
const RESPONSE_TYPE: &str = "type.googleapis.com/temporal.api.update.v1.Response";

pub(crate) async fn update_workflow_execution(
    frontend: &Frontend,
    request: Request<ws::UpdateWorkflowExecutionRequest>,
) -> Reply<ws::UpdateWorkflowExecutionResponse> {
    let (deadline, client_deadline) = frontend.update_wait_deadline(&request);
    let r = request.into_inner();
    let update_request = r
        .request
        .ok_or_else(|| Status::invalid_argument("Request is not set on request."))?;
    let update_id = update_request
        .meta
        .as_ref()
        .map(|m| m.update_id.clone())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Status::invalid_argument("Update ID is not set on request."))?;
    if update_request
        .input
        .as_ref()
        .is_none_or(|input| input.name.is_empty())
    {
        return Err(Status::invalid_argument(
            "Update name is not set on request.",
        ));
    }
    let wanted = wait_stage(r.wait_policy.as_ref());
    if wanted == UpdateWaitStage::Admitted {
        return Err(Status::permission_denied(
            "UpdateWorkflowExecution issued asynchronously and waiting on update admitted is not supported.",
        ));
    }
    let key = frontend
        .resolve(&r.namespace, r.workflow_execution.as_ref())
        .await?;
    // An update meant for a chain of runs reaches its runs only (Temporal: not found).
    if !r.first_execution_run_id.is_empty() {
        let execution = engine_result(frontend.engine.describe(&key).await)?;
        if execution.started.first_execution_run_id != r.first_execution_run_id {
            return Err(to_status(keel_engine::Error::NotFound(
                "workflow execution not found".into(),
            )));
        }
    }
    let status = engine_result(
        frontend
            .engine
            .update_workflow(&key, &update_id, encode(&update_request), wanted, deadline)
            .await,
    )?;
    check_reached(&status, wanted, client_deadline)?;
    Ok(Response::new(ws::UpdateWorkflowExecutionResponse {
        update_ref: Some(update::UpdateRef {
            workflow_execution: Some(workflow_execution(&key)),
            update_id,
        }),
        outcome: outcome(&status)?,
        stage: stage(&status) as i32,
        ..Default::default()
    }))
}

pub(crate) async fn poll_workflow_execution_update(
    frontend: &Frontend,
    request: Request<ws::PollWorkflowExecutionUpdateRequest>,
) -> Reply<ws::PollWorkflowExecutionUpdateResponse> {
    let (deadline, client_deadline) = frontend.update_wait_deadline(&request);
    let r = request.into_inner();
    let update_ref = r
        .update_ref
        .ok_or_else(|| Status::invalid_argument("UpdateRef is not set on request."))?;
    let key = frontend
        .resolve(&r.namespace, update_ref.workflow_execution.as_ref())
        .await?;
    let wanted = wait_stage(r.wait_policy.as_ref());
    let status = engine_result(
        frontend
            .engine
            .poll_update(&key, &update_ref.update_id, wanted, deadline)
            .await,
    )?;
    check_reached(&status, wanted, client_deadline)?;
    Ok(Response::new(ws::PollWorkflowExecutionUpdateResponse {
        outcome: outcome(&status)?,
        stage: stage(&status) as i32,
        update_ref: Some(update::UpdateRef {
            workflow_execution: Some(workflow_execution(&key)),
            update_id: update_ref.update_id,
        }),
    }))
}

/// A wait that ended at the client's own deadline short of the stage it wanted is
/// DEADLINE_EXCEEDED (the SDKs raise their RPC-timeout error), as on Temporal.
fn check_reached(
    status: &UpdateStatus,
    wanted: UpdateWaitStage,
    client_deadline: bool,
) -> Result<(), Status> {
    let reached = status.stage >= wanted || status.outcome.is_some() || status.aborted;
    if client_deadline && !reached {
        return Err(Status::deadline_exceeded(
            "the update did not reach the stage waited for before the request's deadline",
        ));
    }
    Ok(())
}

/// Unspecified waits for acceptance, the earliest point a caller learns the validator's say.
fn wait_stage(policy: Option<&update::WaitPolicy>) -> UpdateWaitStage {
    use enums::UpdateWorkflowExecutionLifecycleStage as Stage;
    match policy.map(|p| Stage::try_from(p.lifecycle_stage)) {
        Some(Ok(Stage::Admitted)) => UpdateWaitStage::Admitted,
        Some(Ok(Stage::Completed)) => UpdateWaitStage::Completed,
        _ => UpdateWaitStage::Accepted,
    }
}

fn stage(status: &UpdateStatus) -> enums::UpdateWorkflowExecutionLifecycleStage {
    use enums::UpdateWorkflowExecutionLifecycleStage as Stage;
    match status.stage {
        UpdateWaitStage::Admitted => Stage::Admitted,
        UpdateWaitStage::Accepted => Stage::Accepted,
        UpdateWaitStage::Completed => Stage::Completed,
    }
}

fn outcome(status: &UpdateStatus) -> Result<Option<update::Outcome>, Status> {
    if status.aborted {
        return Ok(Some(update::Outcome {
            value: Some(update::outcome::Value::Failure(failure::Failure {
                message: "Workflow Update failed because the Workflow completed before the Update completed.".into(),
                source: "Server".into(),
                failure_info: Some(failure::failure::FailureInfo::ApplicationFailureInfo(
                    failure::ApplicationFailureInfo {
                        r#type: "AcceptedUpdateCompletedWorkflow".into(),
                        non_retryable: true,
                        ..Default::default()
                    },
                )),
                ..Default::default()
            })),
        }));
    }
    status
        .outcome
        .as_ref()
        .map(|blob| {
            update::Outcome::decode(&blob.0[..]).map_err(|e| {
                Status::internal(format!("stored update outcome does not decode: {e}"))
            })
        })
        .transpose()
}

/// The protocol messages that carry admitted updates to a worker.
pub(crate) fn update_messages(
    updates: &[keel_core::updates::AdmittedUpdate],
    follow_event_id: i64,
) -> Vec<protocol::Message> {
    updates
        .iter()
        .map(|update| protocol::Message {
            id: format!("{}/request", update.update_id),
            protocol_instance_id: update.update_id.clone(),
            body: Some(prost_wkt_types::Any {
                type_url: REQUEST_TYPE.into(),
                value: update.request.0.clone(),
            }),
            sequencing_id: Some(protocol::message::SequencingId::EventId(follow_event_id)),
        })
        .collect()
}

/// A worker's protocol messages, as the core understands them.
pub(crate) fn worker_messages(
    messages: &[protocol::Message],
) -> Result<Vec<(String, UpdateMessage)>, Status> {
    messages.iter().map(worker_message).collect()
}

fn worker_message(message: &protocol::Message) -> Result<(String, UpdateMessage), Status> {
    let body = message
        .body
        .as_ref()
        .ok_or_else(|| Status::invalid_argument(format!("message '{}' has no body", message.id)))?;
    let bad = |e: prost::DecodeError| {
        Status::invalid_argument(format!("message '{}' does not decode: {e}", message.id))
    };
    let update_id = message.protocol_instance_id.clone();
    let parsed = match body.type_url.as_str() {
        ACCEPTANCE_TYPE => {
            let acceptance = update::Acceptance::decode(&body.value[..]).map_err(bad)?;
            UpdateMessage::Accept {
                update_id,
                message_id: acceptance.accepted_request_message_id,
                sequencing_event_id: acceptance.accepted_request_sequencing_event_id,
                request: encode(&acceptance.accepted_request.unwrap_or_default()),
            }
        }
        REJECTION_TYPE => {
            let rejection = update::Rejection::decode(&body.value[..]).map_err(bad)?;
            UpdateMessage::Reject {
                update_id,
                outcome: encode(&update::Outcome {
                    value: rejection.failure.map(update::outcome::Value::Failure),
                }),
            }
        }
        RESPONSE_TYPE => {
            let response = update::Response::decode(&body.value[..]).map_err(bad)?;
            UpdateMessage::Respond {
                update_id,
                identity: response.meta.map(|m| m.identity).unwrap_or_default(),
                outcome: encode(&response.outcome.unwrap_or_default()),
            }
        }
        other => {
            return Err(Status::invalid_argument(format!(
                "message '{}' has a body of unknown type '{other}'",
                message.id
            )));
        }
    };
    Ok((message.id.clone(), parsed))
}
