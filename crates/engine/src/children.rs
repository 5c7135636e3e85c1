//! Child workflows: starting them for their parent, telling the parent how they ended, and
//! applying parent close policies.
//!
//! Each is an effect of a commit, carried out in the background and retried while the store
//! is away. What a crash interrupts is picked up by `recover`: a parent re-starts children
//! it initiated (the start is idempotent: its request id is the parent's run and initiating
//! event) and asks after started children that may have ended meanwhile; a child whose
//! parent closed applies the parent's close policy to itself.

use keel_core::ParentStart;
use keel_core::children::{ClosePolicyAction, ParentNotice, start_child_failed_cause};
use keel_core::event::{ChildOutcome, ParentClosePolicy};
use keel_core::reuse::ConflictPolicy;
use keel_core::{CancelRequest, Execution, ExecutionKey, StartParams};

use crate::start::StartRequest;
use crate::{Engine, Error, Result};

const POLICY_REASON: &str = "by parent close policy";

impl Engine {
    pub(crate) fn start_child(&self, parent: ExecutionKey, initiated_event_id: i64) {
        self.in_background("starting a child workflow", move |engine| {
            let parent = parent.clone();
            async move { engine.try_start_child(&parent, initiated_event_id).await }
        });
    }

    async fn try_start_child(&self, parent: &ExecutionKey, initiated_event_id: i64) -> Result<()> {
        let execution = self.snapshot(parent).await?;
        let Some(child) = execution
            .children
            .get(&initiated_event_id)
            .filter(|child| child.started.is_none())
        else {
            return Err(Error::NotFound("child already started".into()));
        };
        let spec = child.initiated.clone();
        if self.namespace(&spec.namespace).is_err() {
            return self
                .child_start_failed(
                    parent,
                    initiated_event_id,
                    start_child_failed_cause::NAMESPACE_NOT_FOUND,
                )
                .await;
        }
        let root = execution
            .started
            .parent
            .as_ref()
            .map_or_else(|| parent.clone(), |p| p.root.clone());
        let request = StartRequest {
            namespace: spec.namespace,
            workflow_id: spec.workflow_id,
            params: StartParams {
                workflow_type: spec.workflow_type,
                task_queue: spec.task_queue,
                input: spec.input,
                workflow_execution_timeout: spec.workflow_execution_timeout,
                workflow_run_timeout: spec.workflow_run_timeout,
                workflow_task_timeout: spec.workflow_task_timeout,
                identity: String::new(),
                // The same on every attempt, so a repeated start finds the run it made.
                request_id: format!("{}:{}", parent.run_id, initiated_event_id),
                memo: spec.memo,
                search_attributes: spec.search_attributes,
                header: spec.header,
                retry_policy: spec.retry_policy,
                cron_schedule: spec.cron_schedule,
                next_run_id: String::new(),
                parent: Some(ParentStart {
                    parent: keel_core::children::Parent {
                        key: parent.clone(),
                        initiated_event_id,
                        close_policy: spec.parent_close_policy,
                    },
                    root,
                }),
            },
            reuse_policy: spec.workflow_id_reuse_policy,
            conflict_policy: ConflictPolicy::Fail,
            signal: None,
            start_delay: std::time::Duration::ZERO,
            continued_failure: None,
            last_completion_result: None,
        };
        match self.start_workflow(request).await {
            Ok(started) => {
                self.update(parent, |execution, now| {
                    Ok((
                        execution.child_started(initiated_event_id, &started.run_id, now)?,
                        (),
                    ))
                })
                .await
            }
            Err(Error::AlreadyStarted { .. }) => {
                self.child_start_failed(
                    parent,
                    initiated_event_id,
                    start_child_failed_cause::WORKFLOW_ALREADY_EXISTS,
                )
                .await
            }
            Err(error) => Err(error),
        }
    }

    async fn child_start_failed(
        &self,
        parent: &ExecutionKey,
        initiated_event_id: i64,
        cause: i32,
    ) -> Result<()> {
        self.update(parent, |execution, now| {
            Ok((
                execution.child_start_failed(initiated_event_id, cause, now)?,
                (),
            ))
        })
        .await
    }

    pub(crate) fn notify_parent(&self, notice: ParentNotice) {
        self.in_background("telling a parent its child closed", move |engine| {
            let notice = notice.clone();
            async move {
                engine
                    .update(&notice.parent, |execution, now| {
                        Ok((
                            execution.child_closed(
                                notice.initiated_event_id,
                                &notice.child.run_id,
                                notice.outcome.clone(),
                                now,
                            )?,
                            (),
                        ))
                    })
                    .await
            }
        });
    }

    pub(crate) fn apply_parent_close_policies(
        &self,
        parent: ExecutionKey,
        actions: Vec<ClosePolicyAction>,
    ) {
        for action in actions {
            let parent = parent.clone();
            self.in_background("applying a parent close policy", move |engine| {
                let (parent, action) = (parent.clone(), action.clone());
                async move {
                    engine
                        .apply_close_policy(
                            &parent,
                            &action.child.namespace,
                            &action.child.workflow_id,
                            action.policy,
                        )
                        .await
                }
            });
        }
    }

    /// Terminates or asks to cancel the current run of the child `workflow_id`, if it still
    /// belongs to `parent`.
    async fn apply_close_policy(
        &self,
        parent: &ExecutionKey,
        namespace: &str,
        workflow_id: &str,
        policy: ParentClosePolicy,
    ) -> Result<()> {
        let key = self.resolve(namespace, workflow_id, "").await?;
        let child = self.snapshot(&key).await?;
        if !child.is_running() || child.parent.as_ref().is_none_or(|p| p.key != *parent) {
            return Ok(());
        }
        match policy {
            ParentClosePolicy::Abandon => Ok(()),
            ParentClosePolicy::Terminate => self.terminate(&key, POLICY_REASON, None, "keel").await,
            ParentClosePolicy::RequestCancel => {
                let request = CancelRequest {
                    reason: POLICY_REASON.into(),
                    identity: "keel".into(),
                    external: Some((parent.clone(), 0)),
                };
                self.request_cancel(&key, request).await
            }
        }
    }

    /// After a restart: carries on with what a crash may have interrupted for this run's
    /// children and parent.
    pub(crate) fn recover_family(&self, execution: &Execution) {
        for (&initiated_event_id, child) in &execution.children {
            match &child.started {
                None => self.start_child(execution.key.clone(), initiated_event_id),
                Some(_) => {
                    let parent = execution.key.clone();
                    let namespace = child.initiated.namespace.clone();
                    let workflow_id = child.initiated.workflow_id.clone();
                    self.in_background("asking after a child", move |engine| {
                        let (parent, namespace, workflow_id) =
                            (parent.clone(), namespace.clone(), workflow_id.clone());
                        async move {
                            engine
                                .ask_after_child(
                                    &parent,
                                    initiated_event_id,
                                    &namespace,
                                    &workflow_id,
                                )
                                .await
                        }
                    });
                }
            }
        }
        if let Some(parent) = &execution.parent
            && parent.close_policy != ParentClosePolicy::Abandon
        {
            let child = execution.key.clone();
            let parent = parent.clone();
            self.in_background("checking a child's parent", move |engine| {
                let (child, parent) = (child.clone(), parent.clone());
                async move {
                    if engine.snapshot(&parent.key).await?.is_running() {
                        return Ok(());
                    }
                    engine
                        .apply_close_policy(
                            &parent.key,
                            &child.namespace,
                            &child.workflow_id,
                            parent.close_policy,
                        )
                        .await
                }
            });
        }
    }

    /// A started child whose chain ended while its notice was lost: tell the parent now.
    async fn ask_after_child(
        &self,
        parent: &ExecutionKey,
        initiated_event_id: i64,
        namespace: &str,
        workflow_id: &str,
    ) -> Result<()> {
        let key = self.resolve(namespace, workflow_id, "").await?;
        let child = self.snapshot(&key).await?;
        let ours = child
            .parent
            .as_ref()
            .is_some_and(|p| p.key == *parent && p.initiated_event_id == initiated_event_id);
        if child.is_running() || !ours {
            return Ok(());
        }
        let last = self
            .inner
            .store
            .history(&key, child.next_event_id - 1, 1)
            .await?;
        let Some(outcome) = last
            .first()
            .and_then(|event| ChildOutcome::of_close(&event.kind))
        else {
            return Ok(());
        };
        self.notify_parent(ParentNotice {
            parent: parent.clone(),
            initiated_event_id,
            child: ExecutionKey {
                run_id: child.started.first_execution_run_id.clone(),
                ..key
            },
            workflow_type: child.started.workflow_type.clone(),
            outcome,
        });
        Ok(())
    }
}
