//! Workflow updates as clients see them: admit, then wait for the stage they asked for.
//!
//! The stages live in the run's state (`Execution::updates`) and its history, so waiting is
//! watching the run: every commit wakes the waiters, who read where their update stands.
//! A rejection removes the update from the state and writes nothing, so its outcome is
//! handed to the waiters in memory (`Rejections`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use keel_core::updates::UpdateStage;
use keel_core::{Blob, EventKind, ExecutionKey};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::{Engine, Error, Result};

/// The lifecycle stages a caller may wait for, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum UpdateWaitStage {
    Admitted,
    Accepted,
    Completed,
}

/// Where an update stood when the wait ended.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateStatus {
    pub stage: UpdateWaitStage,
    /// Set once completed (or rejected): the outcome, as the frontend encoded it.
    pub outcome: Option<Blob>,
    /// The run closed before the update completed.
    pub aborted: bool,
}

/// Outcomes of rejected updates, kept briefly for their waiters.
#[derive(Default)]
pub(crate) struct Rejections {
    outcomes: Mutex<HashMap<(ExecutionKey, String), (Instant, Blob)>>,
    arrived: Notify,
}

const REJECTIONS_KEPT: Duration = Duration::from_secs(300);

impl Rejections {
    pub(crate) fn record(&self, key: &ExecutionKey, rejected: Vec<(String, Blob)>) {
        if rejected.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut outcomes = self.outcomes.lock();
        outcomes.retain(|_, (at, _)| now.duration_since(*at) < REJECTIONS_KEPT);
        for (update_id, outcome) in rejected {
            outcomes.insert((key.clone(), update_id), (now, outcome));
        }
        drop(outcomes);
        self.arrived.notify_waiters();
    }

    fn get(&self, key: &ExecutionKey, update_id: &str) -> Option<Blob> {
        let outcomes = self.outcomes.lock();
        outcomes
            .get(&(key.clone(), update_id.to_owned()))
            .map(|(_, outcome)| outcome.clone())
    }
}

impl Engine {
    /// Admits an update to the run and waits (until `deadline`) for it to reach `wait_for`.
    pub async fn update_workflow(
        &self,
        key: &ExecutionKey,
        update_id: &str,
        request: Blob,
        wait_for: UpdateWaitStage,
        deadline: Instant,
    ) -> Result<UpdateStatus> {
        self.namespace(&key.namespace)?;
        self.update(key, |execution, now| {
            Ok((execution.admit_update(update_id, request.clone(), now)?, ()))
        })
        .await?;
        self.wait_for_update(key, update_id, wait_for, deadline, true)
            .await
    }

    /// Waits (until `deadline`) for a known update to reach `wait_for`.
    pub async fn poll_update(
        &self,
        key: &ExecutionKey,
        update_id: &str,
        wait_for: UpdateWaitStage,
        deadline: Instant,
    ) -> Result<UpdateStatus> {
        self.namespace(&key.namespace)?;
        self.wait_for_update(key, update_id, wait_for, deadline, false)
            .await
    }

    async fn wait_for_update(
        &self,
        key: &ExecutionKey,
        update_id: &str,
        wait_for: UpdateWaitStage,
        deadline: Instant,
        admitted_here: bool,
    ) -> Result<UpdateStatus> {
        let rejections = &self.inner.update_rejections;
        let mut seen = admitted_here;
        loop {
            // Listen before looking, so a change between the look and the wait is not missed.
            let mut progress = self.inner.executions.subscribe(key, (0, false));
            let rejected = rejections.arrived.notified();
            tokio::pin!(rejected);
            rejected.as_mut().enable();
            if let Some(outcome) = rejections.get(key, update_id) {
                return Ok(completed(outcome));
            }
            let execution = self.snapshot(key).await?;
            let reached = match execution.updates.get(update_id) {
                Some(UpdateStage::Completed { completed_event_id }) => {
                    let outcome = self.update_outcome(key, *completed_event_id).await?;
                    return Ok(completed(outcome));
                }
                // The run continued as new before taking the update: its caller sends it
                // again (the SDKs retry UNAVAILABLE), and the next run takes it.
                Some(UpdateStage::Admitted { .. })
                    if execution.status == keel_core::Status::ContinuedAsNew =>
                {
                    return Err(Error::Unavailable(format!(
                        "workflow execution '{}' continued as new before update '{update_id}' was accepted; send it again",
                        key.workflow_id
                    )));
                }
                Some(_) if !execution.is_running() => {
                    return Ok(UpdateStatus {
                        stage: UpdateWaitStage::Completed,
                        outcome: None,
                        aborted: true,
                    });
                }
                Some(UpdateStage::Accepted { .. }) => UpdateWaitStage::Accepted,
                Some(UpdateStage::Admitted { .. }) => UpdateWaitStage::Admitted,
                // Gone after being seen: rejected, its outcome on the way.
                None if seen && execution.is_running() => UpdateWaitStage::Admitted,
                None => {
                    return Err(Error::NotFound(format!(
                        "update '{update_id}' not found in workflow execution '{}'",
                        key.workflow_id
                    )));
                }
            };
            seen = true;
            if reached >= wait_for {
                return Ok(UpdateStatus {
                    stage: reached,
                    outcome: None,
                    aborted: false,
                });
            }
            tokio::select! {
                _ = progress.changed() => {}
                _ = &mut rejected => {}
                _ = tokio::time::sleep_until(deadline.into()) => {
                    return Ok(UpdateStatus { stage: reached, outcome: None, aborted: false });
                }
            }
        }
    }

    async fn update_outcome(&self, key: &ExecutionKey, completed_event_id: i64) -> Result<Blob> {
        let events = self.inner.store.history(key, completed_event_id, 1).await?;
        match events.into_iter().next().map(|event| event.kind) {
            Some(EventKind::WorkflowExecutionUpdateCompleted { outcome, .. }) => Ok(outcome),
            _ => Err(Error::Unavailable(format!(
                "event {completed_event_id} is not the update's completion"
            ))),
        }
    }
}

fn completed(outcome: Blob) -> UpdateStatus {
    UpdateStatus {
        stage: UpdateWaitStage::Completed,
        outcome: Some(outcome),
        aborted: false,
    }
}
