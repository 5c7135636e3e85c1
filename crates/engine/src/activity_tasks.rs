//! Activity tasks: long polls, completions (by token or by id), heartbeats.

use std::time::{Duration, Instant};

use keel_core::{
    ActivityState, Blob, BlobMap, ExecutionKey, Failure, RetryPolicy, TaskToken, Time,
};

use crate::matching::{QueuedTask, TaskKind};
use crate::{Engine, Error, Result};

/// An activity attempt handed to a worker.
#[derive(Clone, Debug)]
pub struct PolledActivityTask {
    pub key: ExecutionKey,
    pub token: Vec<u8>,
    pub workflow_type: String,
    pub activity_id: String,
    pub activity_type: String,
    pub input: Option<Blob>,
    pub header: BlobMap,
    pub scheduled_time: Time,
    pub current_attempt_scheduled_time: Time,
    pub started_time: Time,
    pub attempt: i32,
    pub schedule_to_close_timeout: Duration,
    pub start_to_close_timeout: Duration,
    pub heartbeat_timeout: Duration,
    /// What the previous attempt reported in its last heartbeat.
    pub heartbeat_details: Option<Blob>,
    pub retry_policy: RetryPolicy,
}

/// Names an activity attempt: by the token the worker got, or by workflow and activity id.
#[derive(Clone, Debug)]
pub enum ActivityTarget {
    Token(Vec<u8>),
    Id {
        namespace: String,
        workflow_id: String,
        run_id: String,
        activity_id: String,
    },
}

#[derive(Clone, Debug)]
pub enum ActivityOutcome {
    Completed(Option<Blob>),
    Failed {
        failure: Failure,
        last_heartbeat_details: Option<Blob>,
    },
    Canceled(Option<Blob>),
}

impl Engine {
    pub async fn poll_activity_task(
        &self,
        namespace: &str,
        queue: &str,
        identity: &str,
        deadline: Instant,
    ) -> Result<Option<PolledActivityTask>> {
        self.poll(
            namespace,
            queue,
            TaskKind::Activity,
            identity,
            deadline,
            |engine, task, identity| async move { engine.start_activity_task(task, &identity).await },
        )
        .await
    }

    async fn start_activity_task(
        &self,
        queued: QueuedTask,
        identity: &str,
    ) -> Result<PolledActivityTask> {
        let QueuedTask { key, task, .. } = queued;
        let request_id = uuid::Uuid::new_v4().to_string();
        let (scheduled_event_id, attempt) = (task.scheduled_event_id, task.attempt);
        self.update(&key, |execution, now| {
            let outcome = execution.start_activity(
                scheduled_event_id,
                attempt,
                identity,
                &request_id,
                now,
            )?;
            let activity = &execution.activities[&scheduled_event_id];
            let spec = &activity.scheduled;
            let token = TaskToken::Activity {
                key: key.clone(),
                scheduled_event_id,
                attempt,
            };
            let polled = PolledActivityTask {
                key: key.clone(),
                token: token.encode(),
                workflow_type: execution.workflow_type().to_owned(),
                activity_id: spec.activity_id.clone(),
                activity_type: spec.activity_type.clone(),
                input: spec.input.clone(),
                header: spec.header.clone(),
                scheduled_time: activity.first_scheduled_time,
                current_attempt_scheduled_time: activity.attempt_scheduled_time,
                started_time: now,
                attempt,
                schedule_to_close_timeout: spec.schedule_to_close_timeout,
                start_to_close_timeout: spec.start_to_close_timeout,
                heartbeat_timeout: spec.heartbeat_timeout,
                heartbeat_details: activity.heartbeat_details.clone(),
                retry_policy: spec.retry_policy.clone(),
            };
            Ok((outcome, polled))
        })
        .await
    }

    /// Which run and attempt a target names.
    async fn resolve_activity(&self, target: &ActivityTarget) -> Result<(ExecutionKey, i64, i32)> {
        match target {
            ActivityTarget::Token(token) => {
                match TaskToken::decode(token)
                    .map_err(|e| Error::InvalidArgument(format!("invalid task token: {e}")))?
                {
                    TaskToken::Activity {
                        key,
                        scheduled_event_id,
                        attempt,
                    } => {
                        self.namespace(&key.namespace)?;
                        Ok((key, scheduled_event_id, attempt))
                    }
                    TaskToken::Workflow { .. } | TaskToken::Query { .. } => {
                        Err(Error::InvalidArgument(
                            "invalid task token: a workflow task token was given for an activity task"
                                .into(),
                        ))
                    }
                }
            }
            ActivityTarget::Id {
                namespace,
                workflow_id,
                run_id,
                activity_id,
            } => {
                if activity_id.is_empty() {
                    return Err(Error::InvalidArgument(
                        "ActivityId is not set on request.".into(),
                    ));
                }
                let key = self.resolve(namespace, workflow_id, run_id).await?;
                let execution = self.snapshot(&key).await?;
                let activity = execution.activity_by_id(activity_id).ok_or_else(|| {
                    Error::NotFound(format!("activity '{activity_id}' is not pending"))
                })?;
                if !matches!(activity.state, ActivityState::Started { .. }) {
                    return Err(Error::NotFound(format!(
                        "activity '{activity_id}' has not been started by a worker"
                    )));
                }
                Ok((key, activity.scheduled_event_id, activity.attempt))
            }
        }
    }

    pub async fn finish_activity(
        &self,
        target: ActivityTarget,
        outcome: ActivityOutcome,
        identity: &str,
    ) -> Result<()> {
        let (key, scheduled_event_id, attempt) = self.resolve_activity(&target).await?;
        self.update(&key, |execution, now| {
            let outcome = match outcome.clone() {
                ActivityOutcome::Completed(result) => execution.complete_activity(
                    scheduled_event_id,
                    attempt,
                    result,
                    identity,
                    now,
                )?,
                ActivityOutcome::Failed {
                    failure,
                    last_heartbeat_details,
                } => execution.fail_activity(
                    scheduled_event_id,
                    attempt,
                    failure,
                    last_heartbeat_details,
                    identity,
                    now,
                )?,
                ActivityOutcome::Canceled(details) => execution.cancel_activity(
                    scheduled_event_id,
                    attempt,
                    details,
                    identity,
                    now,
                )?,
            };
            Ok((outcome, ()))
        })
        .await
    }

    /// Records a heartbeat; answers whether the workflow asked to cancel the activity.
    pub async fn heartbeat_activity(
        &self,
        target: ActivityTarget,
        details: Option<Blob>,
    ) -> Result<bool> {
        let (key, scheduled_event_id, attempt) = self.resolve_activity(&target).await?;
        self.update(&key, |execution, now| {
            execution.heartbeat_activity(scheduled_event_id, attempt, details.clone(), now)
        })
        .await
    }
}
