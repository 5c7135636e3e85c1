//! Workflow updates: a client's request the workflow's code validates and answers, with
//! the answer recorded in history.
//!
//! An update is admitted into the run's state, carried to the worker with the next workflow
//! task (as a protocol message), and then accepted (an `WorkflowExecutionUpdateAccepted`
//! event) or rejected by the workflow's validator (nothing written), and once accepted,
//! completed with its outcome (`WorkflowExecutionUpdateCompleted`). Requests and outcomes
//! are opaque: the frontend encodes them.

use serde::{Deserialize, Serialize};

use crate::Rejection;
use crate::event::EventKind;
use crate::execution::Execution;
use crate::transition::{Outcome, Tx, failed_cause};
use crate::types::{Blob, Time};

/// Where an update stands in its run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum UpdateStage {
    /// Waits for the worker. `delivered_with` is the workflow task that carried it last.
    Admitted {
        request: Blob,
        delivered_with: Option<i64>,
    },
    Accepted {
        accepted_event_id: i64,
    },
    Completed {
        completed_event_id: i64,
    },
}

/// What a worker says about an update in a workflow task completion.
#[derive(Clone, Debug, PartialEq)]
pub enum UpdateMessage {
    Accept {
        update_id: String,
        message_id: String,
        sequencing_event_id: i64,
        request: Blob,
    },
    /// `outcome` is what the client is told (the validator's failure).
    Reject { update_id: String, outcome: Blob },
    Respond {
        update_id: String,
        identity: String,
        outcome: Blob,
    },
}

impl UpdateMessage {
    fn update_id(&self) -> &str {
        match self {
            UpdateMessage::Accept { update_id, .. }
            | UpdateMessage::Reject { update_id, .. }
            | UpdateMessage::Respond { update_id, .. } => update_id,
        }
    }
}

/// Temporal's limit on updates per run, counting completed ones.
pub const MAX_UPDATES_PER_RUN: usize = 2000;

impl Execution {
    /// Admits an update; one already known (the same id) is left as it is.
    pub fn admit_update(
        &mut self,
        update_id: &str,
        request: Blob,
        now: Time,
    ) -> Result<Outcome, Rejection> {
        if !self.is_running() {
            return Err(crate::requests::already_completed());
        }
        if self.updates.contains_key(update_id) {
            return Ok(Outcome::default());
        }
        if self.updates.len() >= MAX_UPDATES_PER_RUN {
            return Err(Rejection::InvalidArgument(format!(
                "the workflow has had {MAX_UPDATES_PER_RUN} updates, the most a run may have; continue as new to accept more"
            )));
        }
        let mut tx = Tx::new(self, now);
        tx.ex.updates.insert(
            update_id.to_owned(),
            UpdateStage::Admitted {
                request,
                delivered_with: None,
            },
        );
        tx.schedule_workflow_task();
        Ok(tx.finish())
    }

    /// Updates a workflow task must carry to the worker: every admitted one, by id.
    pub fn admitted_updates(&self) -> Vec<AdmittedUpdate> {
        self.updates
            .iter()
            .filter_map(|(id, stage)| match stage {
                UpdateStage::Admitted { request, .. } => Some(AdmittedUpdate {
                    update_id: id.clone(),
                    request: request.clone(),
                }),
                _ => None,
            })
            .collect()
    }
}

/// An update a worker has not accepted or rejected yet: what the next workflow task
/// carries to it.
#[derive(Clone, Debug, PartialEq)]
pub struct AdmittedUpdate {
    pub update_id: String,
    /// The client's encoded request.
    pub request: Blob,
}

impl Tx<'_> {
    /// The workflow task `scheduled_event_id` is handed out with every admitted update.
    pub(crate) fn deliver_updates(&mut self, scheduled_event_id: i64) {
        for stage in self.ex.updates.values_mut() {
            if let UpdateStage::Admitted { delivered_with, .. } = stage {
                *delivered_with = Some(scheduled_event_id);
            }
        }
    }

    /// Updates admitted while the last task ran, which the worker has not seen.
    pub(crate) fn undelivered_updates(&self) -> bool {
        self.ex.updates.values().any(|stage| {
            matches!(
                stage,
                UpdateStage::Admitted {
                    delivered_with: None,
                    ..
                }
            )
        })
    }

    /// Applies one message; answers the outcome of a rejection for the caller to pass on.
    pub(crate) fn apply_update_message(
        &mut self,
        message: UpdateMessage,
    ) -> Option<(String, Blob)> {
        match message {
            UpdateMessage::Accept {
                update_id,
                message_id,
                sequencing_event_id,
                request,
            } => {
                let accepted_event_id = self.append(EventKind::WorkflowExecutionUpdateAccepted {
                    update_id: update_id.clone(),
                    accepted_request_message_id: message_id,
                    accepted_request_sequencing_event_id: sequencing_event_id,
                    accepted_request: request,
                });
                self.ex
                    .updates
                    .insert(update_id, UpdateStage::Accepted { accepted_event_id });
                None
            }
            UpdateMessage::Reject { update_id, outcome } => {
                self.ex.updates.remove(&update_id);
                Some((update_id, outcome))
            }
            UpdateMessage::Respond {
                update_id,
                identity,
                outcome,
            } => {
                let accepted_event_id = match self.ex.updates.get(&update_id) {
                    Some(UpdateStage::Accepted { accepted_event_id }) => *accepted_event_id,
                    _ => 0,
                };
                let completed_event_id = self.append(EventKind::WorkflowExecutionUpdateCompleted {
                    update_id: update_id.clone(),
                    identity,
                    accepted_event_id,
                    outcome,
                });
                self.ex
                    .updates
                    .insert(update_id, UpdateStage::Completed { completed_event_id });
                None
            }
        }
    }
}

/// Checks a completion's messages against the run's updates, in order.
pub(crate) fn validate_messages(
    ex: &Execution,
    messages: &[(String, UpdateMessage)],
) -> Result<(), (i32, String)> {
    let mut stages: std::collections::HashMap<&str, &'static str> = ex
        .updates
        .iter()
        .map(|(id, stage)| {
            let name = match stage {
                UpdateStage::Admitted { .. } => "admitted",
                UpdateStage::Accepted { .. } => "accepted",
                UpdateStage::Completed { .. } => "completed",
            };
            (id.as_str(), name)
        })
        .collect();
    let bad = |message: String| Err((failed_cause::BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE, message));
    for (_, message) in messages {
        let id = message.update_id();
        let stage = stages.get(id).copied();
        let next = match (message, stage) {
            (UpdateMessage::Accept { .. } | UpdateMessage::Reject { .. }, Some("admitted")) => {
                if matches!(message, UpdateMessage::Accept { .. }) {
                    "accepted"
                } else {
                    "rejected"
                }
            }
            (UpdateMessage::Respond { .. }, Some("accepted")) => "completed",
            (_, None) => return bad(format!("update '{id}' is not known to this run")),
            (_, Some(stage)) => {
                return bad(format!(
                    "update '{id}' is {stage}; the message does not apply to it"
                ));
            }
        };
        stages.insert(id, next);
    }
    Ok(())
}
