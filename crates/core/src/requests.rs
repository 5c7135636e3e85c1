//! What others ask of a run: signals and cancellation, from clients or from other
//! workflows, and the requests a workflow sends to other executions.
//!
//! A request a workflow sends is first recorded (its initiated event and a pending entry in
//! the state) and only then delivered by the engine, which reports back with
//! [`Execution::resolve_external_request`]. Delivery may be repeated after a crash, so the
//! receiving side is idempotent: a signal carries a request id the receiver remembers, and
//! a second cancellation request changes nothing.

use serde::{Deserialize, Serialize};

use crate::Rejection;
use crate::event::{EventKind, ExternalCancel, ExternalSignal};
use crate::execution::Execution;
use crate::transition::{Outcome, Tx};
use crate::types::{Blob, BlobMap, ExecutionKey, Time};

/// A signal as it arrives at the run it is for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Signal {
    pub name: String,
    pub input: Option<Blob>,
    pub header: BlobMap,
    pub identity: String,
    /// Deduplicates retries of the same signal; empty means never deduplicated.
    pub request_id: String,
    /// The workflow that sent it, if a workflow did.
    pub external: Option<ExecutionKey>,
}

/// A request to cancel a run, as it arrives there.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CancelRequest {
    pub reason: String,
    pub identity: String,
    /// The workflow that asked and the event in its history that did, if a workflow did.
    pub external: Option<(ExecutionKey, i64)>,
}

/// A request this run sent to another execution and is waiting to hear the fate of.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ExternalRequest {
    Signal(ExternalSignal),
    Cancel(ExternalCancel),
}

impl ExternalRequest {
    pub fn target(&self) -> &ExecutionKey {
        match self {
            ExternalRequest::Signal(signal) => &signal.target,
            ExternalRequest::Cancel(cancel) => &cancel.target,
        }
    }

    pub fn child_workflow_only(&self) -> bool {
        match self {
            ExternalRequest::Signal(signal) => signal.child_workflow_only,
            ExternalRequest::Cancel(cancel) => cancel.child_workflow_only,
        }
    }
}

/// What became of a request sent to another execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExternalOutcome {
    /// The target run (named by its run id) recorded it.
    Delivered { run_id: String },
    /// It could not be delivered; one of the causes below.
    Failed { cause: i32 },
}

/// Temporal's codes for why a signal or cancellation request to another execution failed
/// (the same numbers in both of its enums).
pub mod external_failed_cause {
    pub const EXECUTION_NOT_FOUND: i32 = 1;
    pub const NAMESPACE_NOT_FOUND: i32 = 2;
}

/// The message Temporal gives for anything sent to a closed run.
pub(crate) fn already_completed() -> Rejection {
    Rejection::NotFound("workflow execution already completed".into())
}

impl Execution {
    /// Records a signal for the workflow to handle. A retried signal (same non-empty request
    /// id) is accepted again without being recorded twice.
    pub fn signal(&mut self, signal: Signal, now: Time) -> Result<Outcome, Rejection> {
        if !self.is_running() {
            return Err(already_completed());
        }
        if !signal.request_id.is_empty() && self.signal_request_ids.contains(&signal.request_id) {
            return Ok(Outcome::default());
        }
        let mut tx = Tx::new(self, now);
        tx.signal(signal);
        Ok(tx.finish())
    }

    /// Asks the workflow to cancel itself. Asking again changes nothing, as in Temporal.
    pub fn request_cancel(
        &mut self,
        request: CancelRequest,
        now: Time,
    ) -> Result<Outcome, Rejection> {
        if !self.is_running() {
            return Err(already_completed());
        }
        if self.cancel_requested {
            return Ok(Outcome::default());
        }
        let mut tx = Tx::new(self, now);
        tx.ex.cancel_requested = true;
        let (external, external_initiated_event_id) = match request.external {
            Some((key, initiated_event_id)) => (Some(key), initiated_event_id),
            None => (None, 0),
        };
        tx.add_workflow_event(EventKind::WorkflowExecutionCancelRequested {
            cause: request.reason,
            identity: request.identity,
            external_initiated_event_id,
            external,
        });
        Ok(tx.finish())
    }

    /// The engine's report on a request this run sent: the workflow is told with an event.
    /// A request already resolved (a repeated delivery) is refused with NotFound.
    pub fn resolve_external_request(
        &mut self,
        initiated_event_id: i64,
        outcome: ExternalOutcome,
        now: Time,
    ) -> Result<Outcome, Rejection> {
        if !self.is_running() {
            return Err(already_completed());
        }
        let Some(request) = self.external_requests.get(&initiated_event_id).cloned() else {
            return Err(Rejection::NotFound(format!(
                "no pending external request was initiated by event {initiated_event_id}"
            )));
        };
        let mut tx = Tx::new(self, now);
        tx.ex.external_requests.remove(&initiated_event_id);
        let kind = match (request, outcome) {
            (ExternalRequest::Signal(signal), ExternalOutcome::Delivered { run_id }) => {
                EventKind::ExternalWorkflowExecutionSignaled {
                    initiated_event_id,
                    target: ExecutionKey {
                        run_id,
                        ..signal.target
                    },
                    control: signal.control,
                }
            }
            (ExternalRequest::Signal(signal), ExternalOutcome::Failed { cause }) => {
                EventKind::SignalExternalWorkflowExecutionFailed {
                    cause,
                    initiated_event_id,
                    target: signal.target,
                    control: signal.control,
                }
            }
            (ExternalRequest::Cancel(cancel), ExternalOutcome::Delivered { run_id }) => {
                EventKind::ExternalWorkflowExecutionCancelRequested {
                    initiated_event_id,
                    target: ExecutionKey {
                        run_id,
                        ..cancel.target
                    },
                }
            }
            (ExternalRequest::Cancel(cancel), ExternalOutcome::Failed { cause }) => {
                EventKind::RequestCancelExternalWorkflowExecutionFailed {
                    cause,
                    initiated_event_id,
                    target: cancel.target,
                    control: cancel.control,
                }
            }
        };
        tx.add_workflow_event(kind);
        Ok(tx.finish())
    }
}

impl Tx<'_> {
    pub(crate) fn signal(&mut self, signal: Signal) {
        if !signal.request_id.is_empty() {
            self.ex.signal_request_ids.insert(signal.request_id);
        }
        self.add_workflow_event(EventKind::WorkflowExecutionSignaled {
            signal_name: signal.name,
            input: signal.input,
            identity: signal.identity,
            header: signal.header,
            external: signal.external,
        });
    }
}
