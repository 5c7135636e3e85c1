//! Signals and cancellation requests from clients.

use super::prelude::*;
use keel_core::{CancelRequest, Signal};

const MAX_NAME_LENGTH: usize = 1000;

pub(crate) async fn signal_workflow_execution(
    frontend: &Frontend,
    request: Request<ws::SignalWorkflowExecutionRequest>,
) -> Reply<ws::SignalWorkflowExecutionResponse> {
    let r = request.into_inner();
    frontend.check_size("Input", r.input.as_ref())?;
    let signal = client_signal(
        &r.signal_name,
        r.input.as_ref(),
        r.header.as_ref(),
        &r.identity,
        &r.request_id,
    )?;
    let key = frontend
        .resolve(&r.namespace, r.workflow_execution.as_ref())
        .await?;
    engine_result(frontend.engine.signal(&key, signal).await)?;
    Ok(Response::new(ws::SignalWorkflowExecutionResponse::default()))
}

pub(crate) async fn request_cancel_workflow_execution(
    frontend: &Frontend,
    request: Request<ws::RequestCancelWorkflowExecutionRequest>,
) -> Reply<ws::RequestCancelWorkflowExecutionResponse> {
    let r = request.into_inner();
    let key = frontend
        .resolve(&r.namespace, r.workflow_execution.as_ref())
        .await?;
    let cancel = CancelRequest {
        reason: r.reason,
        identity: r.identity,
        external: None,
    };
    engine_result(frontend.engine.request_cancel(&key, cancel).await)?;
    Ok(Response::new(
        ws::RequestCancelWorkflowExecutionResponse::default(),
    ))
}

/// A signal as a client sends it (SignalWorkflowExecution, SignalWithStart).
pub(crate) fn client_signal(
    name: &str,
    input: Option<&common::Payloads>,
    signal_header: Option<&common::Header>,
    identity: &str,
    request_id: &str,
) -> Result<Signal, Status> {
    if name.is_empty() {
        return Err(Status::invalid_argument(
            "SignalName is not set on request.",
        ));
    }
    if name.len() > MAX_NAME_LENGTH {
        return Err(Status::invalid_argument("SignalName exceeds length limit."));
    }
    Ok(Signal {
        name: name.to_owned(),
        input: payloads(input),
        header: header(signal_header),
        identity: identity.to_owned(),
        request_id: request_id.to_owned(),
        external: None,
    })
}
