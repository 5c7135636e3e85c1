//! Resetting a run: a new run of its workflow id picks up its history at one of its
//! workflow tasks (`Execution::reset`), and the run that was current, if it still runs, is
//! terminated in the same commit.

use keel_core::reset::{ResetRequest, ResetRun};
use keel_core::{ExecutionKey, Outcome, Status};
use keel_store::{CurrentRunChange, Write};

use crate::{Engine, Error, Result};

#[derive(Clone, Debug)]
pub struct ResetWorkflow {
    /// The run to reset (the base run).
    pub key: ExecutionKey,
    pub workflow_task_finish_event_id: i64,
    pub reason: String,
    pub request_id: String,
    pub reapply_signals: bool,
}

impl Engine {
    /// Resets a run; answers the new run's id.
    pub async fn reset_workflow(&self, request: ResetWorkflow) -> Result<String> {
        self.namespace(&request.key.namespace)?;
        let mut attempt = 1;
        loop {
            match self.try_reset_workflow(&request).await {
                Err(Error::Conflict(_)) if attempt < 8 => attempt += 1,
                other => return other,
            }
        }
    }

    async fn try_reset_workflow(&self, request: &ResetWorkflow) -> Result<String> {
        let key = &request.key;
        // Starts of the same workflow id wait, so the current run stays what we read.
        let _serialised = self
            .inner
            .start_locks
            .stripe(&key.namespace, &key.workflow_id)
            .lock()
            .await;
        let current = self
            .inner
            .store
            .current_run(&key.namespace, &key.workflow_id)
            .await?;
        // A retried reset (same request id) answers with the run the first one made.
        if let Some(current) = &current
            && current.start_request_id == request.request_id
        {
            return Ok(current.run_id.clone());
        }
        let base = self.inner.store.execution(key).await?.ok_or_else(|| {
            Error::NotFound(format!(
                "workflow execution not found: workflow id '{}', run id '{}'",
                key.workflow_id, key.run_id
            ))
        })?;
        let history = self.inner.store.history(key, 1, usize::MAX).await?;
        if history.len() as i64 != base.next_event_id - 1 {
            return Err(Error::Conflict("the run changed while it was read".into()));
        }
        let new_run_id = uuid::Uuid::new_v4().to_string();
        let (run, outcome) = base.reset(
            &history,
            ResetRequest {
                workflow_task_finish_event_id: request.workflow_task_finish_event_id,
                reason: request.reason.clone(),
                request_id: request.request_id.clone(),
                new_run_id: new_run_id.clone(),
                next_run_id: uuid::Uuid::new_v4().to_string(),
                reapply_signals: request.reapply_signals,
            },
            self.now(),
        )?;
        match current {
            Some(current) if current.status == Status::Running => {
                let current_key = ExecutionKey {
                    run_id: current.run_id,
                    ..key.clone()
                };
                let replacement = ResetRun {
                    execution: run,
                    outcome,
                };
                let replaced = self
                    .update(&current_key, |execution, now| {
                        // The base run moved on since its history was read: read it again.
                        if execution.key == base.key && execution.version != base.version {
                            return Ok((Outcome::default(), false));
                        }
                        let outcome = execution.terminate_for_reset(replacement.clone(), now)?;
                        Ok((outcome, true))
                    })
                    .await;
                match replaced {
                    Ok(true) => Ok(new_run_id),
                    // Moved on, or closed meanwhile: decide again.
                    Ok(false) | Err(Error::NotFound(_)) => {
                        Err(Error::Conflict("the current run changed".into()))
                    }
                    Err(error) => Err(error),
                }
            }
            current => {
                let write = Write {
                    execution: run.clone(),
                    expected_version: None,
                    events: outcome.events.clone(),
                    make_current: CurrentRunChange::replacing(current.map(|c| c.run_id)),
                    attempts: Vec::new(),
                    notice: self.notice_of_commit(None, &run, &outcome.effects),
                };
                self.inner.store.commit(vec![write]).await?;
                // Cached before its first task is dispatched, so the worker taking it finds it.
                self.inner.executions.insert(run.clone());
                self.after_commit(None, &run, &outcome.events, outcome.effects);
                Ok(new_run_id)
            }
        }
    }
}
