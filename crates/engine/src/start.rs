//! Starting workflows: id reuse and conflict policies, request-id idempotency.

use std::hash::{Hash, Hasher};

use keel_core::reuse::{ConflictPolicy, ReusePolicy, StartDecision, decide_start};
use keel_core::{Execution, ExecutionKey, Signal, StartParams};
use keel_store::{CurrentRunChange, Write};

use crate::{Engine, Error, Result};

#[derive(Clone, Debug, Default)]
pub struct StartRequest {
    pub namespace: String,
    pub workflow_id: String,
    pub params: StartParams,
    pub reuse_policy: ReusePolicy,
    pub conflict_policy: ConflictPolicy,
    /// SignalWithStart's signal: sent to the running run, or recorded in the new one.
    pub signal: Option<Signal>,
    /// How long a new run waits before its first workflow task (WorkflowStartDelay).
    pub start_delay: std::time::Duration,
    /// The failure of the run the new one follows (a schedule's last failed run).
    pub continued_failure: Option<keel_core::Failure>,
    /// The last completed run's result (a schedule's).
    pub last_completion_result: Option<keel_core::Blob>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartResult {
    pub run_id: String,
    /// False when an existing run was returned instead (conflict policy UseExisting).
    pub started: bool,
}

/// Starts of one workflow id are serialised so the current-run check and the write agree.
/// A fixed set of stripes keeps this bounded.
pub(crate) struct StartLocks {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl Default for StartLocks {
    fn default() -> StartLocks {
        StartLocks {
            stripes: (0..64).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }
}

impl StartLocks {
    pub(crate) fn stripe(&self, namespace: &str, workflow_id: &str) -> &tokio::sync::Mutex<()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (namespace, workflow_id).hash(&mut hasher);
        &self.stripes[(hasher.finish() % self.stripes.len() as u64) as usize]
    }
}

impl Engine {
    pub async fn start_workflow(&self, request: StartRequest) -> Result<StartResult> {
        self.namespace(&request.namespace)?;
        request.params.validate(&request.workflow_id)?;
        // Another node may start or close a run of the same id between our read of the
        // current run and our commit; the commit's check refuses it, and we decide again.
        let mut attempt = 1;
        loop {
            match self.try_start_workflow(request.clone()).await {
                Err(Error::Conflict(_)) if attempt < 8 => attempt += 1,
                other => return other,
            }
        }
    }

    async fn try_start_workflow(&self, request: StartRequest) -> Result<StartResult> {
        let _serialised = self
            .inner
            .start_locks
            .stripe(&request.namespace, &request.workflow_id)
            .lock()
            .await;
        let current = self
            .inner
            .store
            .current_run(&request.namespace, &request.workflow_id)
            .await?;
        if let Some(signal) = &request.signal
            && let Some(running) = current.as_ref().filter(|c| c.status.is_running())
            && request.conflict_policy != ConflictPolicy::TerminateExisting
        {
            let key = ExecutionKey {
                namespace: request.namespace.clone(),
                workflow_id: request.workflow_id.clone(),
                run_id: running.run_id.clone(),
            };
            return match self.signal(&key, signal.clone()).await {
                Ok(()) => Ok(StartResult {
                    run_id: key.run_id,
                    started: false,
                }),
                // It closed meanwhile: decide again.
                Err(Error::NotFound(message)) => Err(Error::Conflict(message)),
                Err(error) => Err(error),
            };
        }
        let decision = decide_start(
            &request.workflow_id,
            &request.params.request_id,
            current.as_ref(),
            request.reuse_policy,
            request.conflict_policy,
        );
        match decision {
            StartDecision::Existing { run_id, started } => {
                return Ok(StartResult { run_id, started });
            }
            StartDecision::AlreadyStarted {
                run_id,
                start_request_id,
                message,
            } => {
                return Err(Error::AlreadyStarted {
                    message,
                    start_request_id,
                    run_id,
                });
            }
            StartDecision::TerminateAndStart { run_id } => {
                let key = ExecutionKey {
                    namespace: request.namespace.clone(),
                    workflow_id: request.workflow_id.clone(),
                    run_id,
                };
                let identity = request.params.identity.clone();
                let terminated = self
                    .update(&key, |execution, now| {
                        let outcome = execution.terminate(
                            "TerminateIfRunning WorkflowIdReusePolicy",
                            None,
                            &identity,
                            now,
                        )?;
                        Ok((outcome, ()))
                    })
                    .await;
                match terminated {
                    Ok(()) | Err(Error::NotFound(_)) => {}
                    Err(error) => return Err(error),
                }
            }
            StartDecision::Start => {}
        }
        let key = ExecutionKey {
            namespace: request.namespace,
            workflow_id: request.workflow_id,
            run_id: uuid::Uuid::new_v4().to_string(),
        };
        let mut params = request.params;
        params.next_run_id = uuid::Uuid::new_v4().to_string();
        let (execution, outcome) = Execution::start_with(
            key.clone(),
            params,
            keel_core::StartOptions {
                signal: request.signal,
                start_delay: request.start_delay,
                continued_failure: request.continued_failure,
                last_completion_result: request.last_completion_result,
            },
            self.now(),
        )?;
        let write = Write {
            execution: execution.clone(),
            expected_version: None,
            events: outcome.events.clone(),
            make_current: CurrentRunChange::replacing(current.map(|c| c.run_id)),
            attempts: Vec::new(),
            notice: self.notice_of_commit(None, &execution, &outcome.effects),
        };
        self.inner.store.commit(vec![write]).await?;
        // Cached before its first task is dispatched, so the worker taking it finds it.
        self.inner.executions.insert(execution.clone());
        self.after_commit(None, &execution, &outcome.events, outcome.effects);
        Ok(StartResult {
            run_id: key.run_id,
            started: true,
        })
    }

    /// The run a request names: the given run id, or the workflow id's current run.
    pub async fn resolve(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<ExecutionKey> {
        self.namespace(namespace)?;
        if workflow_id.is_empty() {
            return Err(Error::InvalidArgument(
                "WorkflowId is not set on request.".into(),
            ));
        }
        if !run_id.is_empty() {
            if uuid::Uuid::parse_str(run_id).is_err() {
                return Err(Error::InvalidArgument(format!(
                    "Invalid RunId: '{run_id}' is not a UUID."
                )));
            }
            return Ok(ExecutionKey {
                namespace: namespace.to_owned(),
                workflow_id: workflow_id.to_owned(),
                run_id: run_id.to_owned(),
            });
        }
        let current = self.inner.store.current_run(namespace, workflow_id).await?;
        let current = current.ok_or_else(|| {
            Error::NotFound(format!(
                "workflow execution not found: workflow id '{workflow_id}'"
            ))
        })?;
        Ok(ExecutionKey {
            namespace: namespace.to_owned(),
            workflow_id: workflow_id.to_owned(),
            run_id: current.run_id,
        })
    }

    pub async fn terminate(
        &self,
        key: &ExecutionKey,
        reason: &str,
        details: Option<keel_core::Blob>,
        identity: &str,
    ) -> Result<()> {
        self.update(key, |execution, now| {
            Ok((
                execution.terminate(reason, details.clone(), identity, now)?,
                (),
            ))
        })
        .await
    }
}
