//! Signals and cancellation requests: from clients, and from one workflow to another.
//!
//! A request a workflow sends is committed first (initiated event, pending entry in its
//! state); delivering it is an effect of that commit, carried out here: record it on the
//! target, then report the outcome back to the sender. After a crash, `recover` delivers
//! what is still pending again; the target side is idempotent (signals by request id,
//! cancellation by nature), and the second report is refused by the sender's state.

use keel_core::requests::external_failed_cause;
use keel_core::{CancelRequest, ExecutionKey, ExternalOutcome, ExternalRequest, Signal};

use crate::{Engine, Error, Result};

impl Engine {
    pub async fn signal(&self, key: &ExecutionKey, signal: Signal) -> Result<()> {
        self.update(key, |execution, now| {
            Ok((execution.signal(signal.clone(), now)?, ()))
        })
        .await
    }

    pub async fn request_cancel(&self, key: &ExecutionKey, request: CancelRequest) -> Result<()> {
        self.update(key, |execution, now| {
            Ok((execution.request_cancel(request.clone(), now)?, ()))
        })
        .await
    }

    /// Delivers the request `source` initiated with event `initiated_event_id`, and records
    /// its outcome there. Runs in the background; a store outage is waited out.
    pub(crate) fn deliver_external_request(&self, source: ExecutionKey, initiated_event_id: i64) {
        // Ends early when the sender closed or the request was resolved elsewhere.
        self.in_background("delivering a request to another workflow", move |engine| {
            let source = source.clone();
            async move { engine.try_deliver(&source, initiated_event_id).await }
        });
    }

    async fn try_deliver(&self, source: &ExecutionKey, initiated_event_id: i64) -> Result<()> {
        let execution = self.snapshot(source).await?;
        let Some(request) = execution
            .external_requests
            .get(&initiated_event_id)
            .cloned()
        else {
            return Err(Error::NotFound("request already resolved".into()));
        };
        let outcome = self.carry_out(source, initiated_event_id, &request).await?;
        self.update(source, |execution, now| {
            Ok((
                execution.resolve_external_request(initiated_event_id, outcome.clone(), now)?,
                (),
            ))
        })
        .await
    }

    /// Records the request on its target. Errors only when it is worth trying again.
    async fn carry_out(
        &self,
        source: &ExecutionKey,
        initiated_event_id: i64,
        request: &ExternalRequest,
    ) -> Result<ExternalOutcome> {
        let target = request.target();
        let failed = |cause| Ok(ExternalOutcome::Failed { cause });
        if self.namespace(&target.namespace).is_err() {
            return failed(external_failed_cause::NAMESPACE_NOT_FOUND);
        }
        let key = match self
            .resolve(&target.namespace, &target.workflow_id, &target.run_id)
            .await
        {
            Ok(key) => key,
            Err(Error::NotFound(_) | Error::InvalidArgument(_)) => {
                return failed(external_failed_cause::EXECUTION_NOT_FOUND);
            }
            Err(error) => return Err(error),
        };
        let delivered = match request {
            ExternalRequest::Signal(signal) => {
                let signal = Signal {
                    name: signal.signal_name.clone(),
                    input: signal.input.clone(),
                    header: signal.header.clone(),
                    identity: String::new(),
                    // The same on every delivery, so the target records it once.
                    request_id: format!("{}:{}", source.run_id, initiated_event_id),
                    external: Some(source.clone()),
                };
                self.signal(&key, signal).await
            }
            ExternalRequest::Cancel(cancel) => {
                let request = CancelRequest {
                    reason: cancel.reason.clone(),
                    identity: String::new(),
                    external: Some((source.clone(), initiated_event_id)),
                };
                self.request_cancel(&key, request).await
            }
        };
        match delivered {
            Ok(()) => Ok(ExternalOutcome::Delivered { run_id: key.run_id }),
            Err(Error::NotFound(_)) => failed(external_failed_cause::EXECUTION_NOT_FOUND),
            Err(error) => Err(error),
        }
    }
}
