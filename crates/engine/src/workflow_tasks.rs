//! Workflow tasks: long polls, completions, failures, and sticky queues.

use std::time::Instant;

use keel_core::{Completion, Event, ExecutionKey, QueueKind, TaskRef, TaskToken, Time};

use crate::matching::{QueuedTask, TaskKind};
use crate::workflow_queries::{QueryAnswer, WorkflowQuery};
use crate::{Engine, Error, Result};

/// A workflow task handed to a worker.
#[derive(Clone, Debug)]
pub struct PolledWorkflowTask {
    pub key: ExecutionKey,
    pub token: Vec<u8>,
    pub workflow_type: String,
    /// The workflow's normal queue.
    pub task_queue: String,
    pub previous_started_event_id: i64,
    pub started_event_id: i64,
    pub attempt: i32,
    /// Full history, or for a sticky worker only what it has not seen.
    pub history: Vec<Event>,
    pub scheduled_time: Time,
    pub started_time: Time,
    /// Set for a query task: the question, outside any workflow task.
    pub query: Option<WorkflowQuery>,
    /// Queries riding along with this workflow task, by id.
    pub queries: Vec<(String, WorkflowQuery)>,
    /// Updates for the worker (encoded requests, by update id), and the event they follow.
    pub updates: Vec<keel_core::updates::AdmittedUpdate>,
    pub updates_follow_event_id: i64,
}

#[derive(Clone, Debug, Default)]
pub struct WorkflowTaskCompleted {
    /// The next task, already started, when the worker asked for it.
    pub new_task: Option<PolledWorkflowTask>,
}

/// What `start_workflow_task` learns from the state right after the task started.
struct StartedInfo {
    workflow_type: String,
    task_queue: String,
    previous_started_event_id: i64,
    started_event_id: i64,
    scheduled_time: Time,
    started_time: Time,
    /// A transient task's unwritten events, which end the history the worker is sent.
    transient_events: Vec<Event>,
    updates: Vec<keel_core::updates::AdmittedUpdate>,
}

impl Engine {
    /// Waits for a workflow task on `queue` until `deadline`; `None` when none came.
    pub async fn poll_workflow_task(
        &self,
        namespace: &str,
        queue: &str,
        identity: &str,
        deadline: Instant,
    ) -> Result<Option<PolledWorkflowTask>> {
        self.poll(
            namespace,
            queue,
            TaskKind::Workflow,
            identity,
            deadline,
            |engine, task, identity| async move { engine.start_workflow_task(task, &identity).await },
        )
        .await
    }

    /// Eager start: the new run's first workflow task, taken at once for the starter's own
    /// worker (`identity`), to be answered with the start as Temporal does when asked to.
    /// `None` when there is no such task to take (a delayed start, or a poller was first).
    pub async fn take_first_workflow_task(
        &self,
        key: &ExecutionKey,
        identity: &str,
    ) -> Result<Option<PolledWorkflowTask>> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let taken = self
            .update(key, |execution, now| {
                let Some(task) = execution
                    .workflow_task
                    .as_ref()
                    .filter(|task| task.started.is_none() && task.attempt == 1)
                else {
                    return Ok((keel_core::Outcome::default(), None));
                };
                let task = TaskRef {
                    queue: task.task_queue.clone(),
                    scheduled_event_id: task.scheduled_event_id,
                    attempt: task.attempt,
                };
                let outcome = execution.start_workflow_task(
                    task.scheduled_event_id,
                    task.attempt,
                    identity,
                    &request_id,
                    now,
                )?;
                Ok((outcome, Some((task, started_info(execution)))))
            })
            .await;
        match taken {
            Ok(Some((task, info))) => Ok(Some(
                self.polled_workflow_task(key.clone(), &task, info).await?,
            )),
            Ok(None) => Ok(None),
            // Taken by a poller meanwhile: the worker gets it that way.
            Err(Error::NotFound(_) | Error::FailedPrecondition(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn start_workflow_task(
        &self,
        queued: QueuedTask,
        identity: &str,
    ) -> Result<PolledWorkflowTask> {
        let QueuedTask { key, task, query } = queued;
        if let Some(query_id) = query {
            return self.polled_query_task(key, &task, &query_id).await;
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let info = self
            .update(&key, |execution, now| {
                let outcome = execution.start_workflow_task(
                    task.scheduled_event_id,
                    task.attempt,
                    identity,
                    &request_id,
                    now,
                )?;
                Ok((outcome, started_info(execution)))
            })
            .await?;
        self.polled_workflow_task(key, &task, info).await
    }

    async fn polled_workflow_task(
        &self,
        key: ExecutionKey,
        task: &TaskRef,
        info: StartedInfo,
    ) -> Result<PolledWorkflowTask> {
        // A sticky worker has the run cached up to its previous task.
        let first_event_id =
            if task.queue.kind == QueueKind::Sticky && info.previous_started_event_id > 0 {
                info.previous_started_event_id + 1
            } else {
                1
            };
        // Up to this task's started event; later events (a timeout, say) are not its own.
        // A transient task's own events are not stored: they are added at the end.
        let last_event_id = info
            .transient_events
            .first()
            .map_or(info.started_event_id, |e| e.id - 1);
        let mut history =
            match self
                .inner
                .executions
                .tail_events(&key, first_event_id, last_event_id)
            {
                Some(events) => events,
                None => {
                    let count = usize::try_from(last_event_id - first_event_id + 1).unwrap_or(0);
                    self.inner
                        .store
                        .history(&key, first_event_id, count)
                        .await?
                }
            };
        history.extend(info.transient_events);
        let token = TaskToken::Workflow {
            key: key.clone(),
            scheduled_event_id: task.scheduled_event_id,
            started_event_id: info.started_event_id,
            attempt: task.attempt,
        };
        let queries = self.attach_queries(&key);
        Ok(PolledWorkflowTask {
            key,
            token: token.encode(),
            workflow_type: info.workflow_type,
            task_queue: info.task_queue,
            previous_started_event_id: info.previous_started_event_id,
            started_event_id: info.started_event_id,
            attempt: task.attempt,
            history,
            scheduled_time: info.scheduled_time,
            started_time: info.started_time,
            query: None,
            queries,
            updates: info.updates,
            updates_follow_event_id: task.scheduled_event_id,
        })
    }

    pub async fn complete_workflow_task(
        &self,
        token: &[u8],
        completion: Completion,
        query_answers: Vec<(String, QueryAnswer)>,
    ) -> Result<WorkflowTaskCompleted> {
        let (key, scheduled_event_id, started_event_id, attempt) = workflow_token(token)?;
        self.namespace(&key.namespace)?;
        self.answer_attached_queries(&key, query_answers);
        let identity = completion.identity.clone();
        let (mut result, info) = self
            .update(&key, |execution, now| {
                let (outcome, result) = execution.complete_workflow_task(
                    scheduled_event_id,
                    started_event_id,
                    attempt,
                    completion.clone(),
                    now,
                )?;
                let info = result
                    .new_task_started
                    .as_ref()
                    .map(|_| started_info(execution));
                Ok((outcome, (result, info)))
            })
            .await?;
        self.inner
            .update_rejections
            .record(&key, std::mem::take(&mut result.rejected_updates));
        if let Some(message) = result.command_error {
            return Err(Error::InvalidArgument(message));
        }
        let new_task = match (result.new_task_started, info) {
            (Some(task), Some(info)) => Some(self.polled_workflow_task(key, &task, info).await?),
            _ => None,
        };
        tracing::trace!(%identity, "workflow task completed");
        Ok(WorkflowTaskCompleted { new_task })
    }

    pub async fn fail_workflow_task(
        &self,
        token: &[u8],
        cause: i32,
        failure: Option<keel_core::Failure>,
        identity: &str,
    ) -> Result<()> {
        let (key, scheduled_event_id, started_event_id, attempt) = workflow_token(token)?;
        self.namespace(&key.namespace)?;
        self.detach_queries(&key);
        self.update(&key, |execution, now| {
            let outcome = execution.fail_workflow_task(
                scheduled_event_id,
                started_event_id,
                attempt,
                cause,
                failure.clone(),
                identity,
                now,
            )?;
            Ok((outcome, ()))
        })
        .await
    }

    /// A worker is shutting down: it stops counting as a poller, and its sticky queue will
    /// not be polled again.
    pub async fn shutdown_worker(
        &self,
        namespace: &str,
        identity: &str,
        sticky_queue: &str,
    ) -> Result<()> {
        self.namespace(namespace)?;
        if !identity.is_empty() {
            self.inner.matching.forget_worker(namespace, identity);
        }
        if sticky_queue.is_empty() {
            return Ok(());
        }
        let mut keys = self
            .inner
            .executions
            .sticky_executions(namespace, sticky_queue);
        keys.extend(
            self.inner
                .matching
                .retire_sticky(namespace, sticky_queue)
                .into_iter()
                .map(|task| task.key),
        );
        keys.sort();
        keys.dedup();
        for key in keys {
            self.clear_stickiness(&key).await;
        }
        Ok(())
    }
}

fn started_info(execution: &keel_core::Execution) -> StartedInfo {
    let task = execution
        .workflow_task
        .as_ref()
        .expect("a workflow task was just started");
    let started = task
        .started
        .as_ref()
        .expect("a workflow task was just started");
    StartedInfo {
        workflow_type: execution.workflow_type().to_owned(),
        task_queue: execution.task_queue().to_owned(),
        previous_started_event_id: execution.previous_started_event_id,
        started_event_id: started.event_id,
        scheduled_time: task.scheduled_time,
        started_time: started.time,
        transient_events: execution.transient_events(),
        updates: execution.admitted_updates(),
    }
}

fn workflow_token(token: &[u8]) -> Result<(ExecutionKey, i64, i64, i32)> {
    match TaskToken::decode(token)
        .map_err(|e| Error::InvalidArgument(format!("invalid task token: {e}")))?
    {
        TaskToken::Workflow {
            key,
            scheduled_event_id,
            started_event_id,
            attempt,
        } => Ok((key, scheduled_event_id, started_event_id, attempt)),
        TaskToken::Activity { .. } => Err(Error::InvalidArgument(
            "invalid task token: an activity task token was given for a workflow task".into(),
        )),
        TaskToken::Query { .. } => Err(Error::InvalidArgument(
            "invalid task token: a query task is answered with RespondQueryTaskCompleted".into(),
        )),
    }
}
