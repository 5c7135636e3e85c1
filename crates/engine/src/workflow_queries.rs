//! Queries: a client asks a workflow's code a question, a worker answers, nothing is
//! written to history.
//!
//! A query is held in memory while it waits (it is not durable: a client whose server dies
//! asks again). How it reaches a worker depends on the run, as in Temporal:
//!
//! - a workflow task is pending or running: the query rides along with the next workflow
//!   task handed out (`queries` on the task), and the worker answers with its completion;
//! - otherwise (idle or closed run): a query task of its own goes to the run's sticky queue
//!   with no history (that worker has the run cached), falling back to the normal queue with
//!   the full history if the sticky worker does not take it in time.
//!
//! Every commit re-checks the run's pending queries (`after_commit` → `flush_queries`): when
//! no workflow task is left to carry them, they become query tasks. Registration and that
//! check both happen under the execution's lock, so a query never falls between the two.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use keel_core::{
    Blob, BlobMap, Execution, ExecutionKey, QueueKind, Status, TaskQueue, TaskRef, TaskToken,
};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::matching::{QueueId, QueuedTask, TaskKind};
use crate::workflow_tasks::PolledWorkflowTask;
use crate::{Engine, Error, Result};

/// A question for the workflow's code; opaque to the engine.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorkflowQuery {
    pub query_type: String,
    pub args: Option<Blob>,
    pub header: BlobMap,
}

/// Temporal's QueryRejectCondition: when a closed run is not worth asking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RejectCondition {
    #[default]
    None,
    NotOpen,
    NotCompletedCleanly,
}

/// What the client is told.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryOutcome {
    Answered(Option<Blob>),
    /// The reject condition matched; the run's status says why.
    Rejected(Status),
}

/// What a worker answered.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum QueryAnswer {
    Answered(Option<Blob>),
    /// The workflow's handler failed (or has no handler for the query type).
    Failed {
        message: String,
        failure: Option<Blob>,
    },
}

#[derive(Default)]
pub(crate) struct Queries {
    pending: Mutex<HashMap<ExecutionKey, Vec<Pending>>>,
}

struct Pending {
    id: String,
    query: WorkflowQuery,
    answer: oneshot::Sender<QueryAnswer>,
    stage: Stage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Waits for the next workflow task to carry it.
    Waiting,
    /// Handed out with a workflow task that has not completed yet.
    Attached,
    /// A query task of its own, on a queue; `taken` once a worker has it.
    Task { taken: bool },
}

impl Queries {
    fn lock(&self) -> parking_lot::MutexGuard<'_, HashMap<ExecutionKey, Vec<Pending>>> {
        self.pending.lock()
    }

    fn register(&self, key: &ExecutionKey, pending: Pending) {
        self.lock().entry(key.clone()).or_default().push(pending);
    }

    fn remove(&self, key: &ExecutionKey, id: &str) {
        let mut pending = self.lock();
        if let Some(queries) = pending.get_mut(key) {
            queries.retain(|q| q.id != id);
            if queries.is_empty() {
                pending.remove(key);
            }
        }
    }

    /// Delivers an answer; false when nobody waits for it any more.
    fn answer(&self, key: &ExecutionKey, id: &str, answer: QueryAnswer) -> bool {
        let mut pending = self.lock();
        let Some(queries) = pending.get_mut(key) else {
            return false;
        };
        let Some(position) = queries.iter().position(|q| q.id == id) else {
            return false;
        };
        let query = queries.remove(position);
        if queries.is_empty() {
            pending.remove(key);
        }
        query.answer.send(answer).is_ok()
    }

    /// Every query not yet answered and not on a queue of its own, to ride along with the
    /// workflow task being handed out.
    fn attach(&self, key: &ExecutionKey) -> Vec<(String, WorkflowQuery)> {
        self.take_unplaced(key, Stage::Attached)
    }

    /// Queries a workflow task carried but its worker did not answer wait for the next one.
    fn detach(&self, key: &ExecutionKey) {
        if let Some(queries) = self.lock().get_mut(key) {
            for query in queries.iter_mut().filter(|q| q.stage == Stage::Attached) {
                query.stage = Stage::Waiting;
            }
        }
    }

    /// Queries no workflow task will carry become query tasks; answers their ids.
    fn to_tasks(&self, key: &ExecutionKey) -> Vec<String> {
        self.take_unplaced(key, Stage::Task { taken: false })
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }

    /// Moves every query that waits for a workflow task, or rides with one, to `stage`.
    fn take_unplaced(&self, key: &ExecutionKey, stage: Stage) -> Vec<(String, WorkflowQuery)> {
        let mut pending = self.lock();
        let Some(queries) = pending.get_mut(key) else {
            return Vec::new();
        };
        queries
            .iter_mut()
            .filter(|q| matches!(q.stage, Stage::Waiting | Stage::Attached))
            .map(|q| {
                q.stage = stage;
                (q.id.clone(), q.query.clone())
            })
            .collect()
    }

    /// Marks a query task taken by a worker; its question, unless nobody waits any more.
    fn take_task(&self, key: &ExecutionKey, id: &str) -> Option<WorkflowQuery> {
        let mut pending = self.lock();
        let query = pending.get_mut(key)?.iter_mut().find(|q| q.id == id)?;
        query.stage = Stage::Task { taken: true };
        Some(query.query.clone())
    }

    fn has_unplaced(&self, key: &ExecutionKey) -> bool {
        self.lock().get(key).is_some_and(|queries| {
            queries
                .iter()
                .any(|q| matches!(q.stage, Stage::Waiting | Stage::Attached))
        })
    }

    fn question(&self, key: &ExecutionKey, id: &str) -> Option<WorkflowQuery> {
        let pending = self.lock();
        let query = pending.get(key)?.iter().find(|q| q.id == id)?;
        Some(query.query.clone())
    }

    fn untaken_task(&self, key: &ExecutionKey, id: &str) -> bool {
        self.lock().get(key).is_some_and(|queries| {
            queries
                .iter()
                .any(|q| q.id == id && q.stage == Stage::Task { taken: false })
        })
    }
}

/// Forgets a query when its caller stops waiting (answered, timed out, or gone).
struct Registration<'a> {
    queries: &'a Queries,
    key: ExecutionKey,
    id: String,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.queries.remove(&self.key, &self.id);
    }
}

/// How long a query task waits on a sticky queue before it goes to the normal queue.
const DEFAULT_STICKY_QUERY_WAIT: Duration = Duration::from_secs(5);

impl Engine {
    /// Asks the run `key` a question and waits for a worker's answer until `deadline`.
    pub async fn query(
        &self,
        key: &ExecutionKey,
        query: WorkflowQuery,
        reject: RejectCondition,
        deadline: Instant,
    ) -> Result<QueryOutcome> {
        let id = uuid::Uuid::new_v4().to_string();
        let (answer, answered) = oneshot::channel();
        let queries = &self.inner.queries;
        let registered = self
            .with_execution(key, |execution| {
                if let Some(status) = rejected(execution, reject) {
                    return Err(status);
                }
                let waits_for_task = execution.is_running() && execution.workflow_task.is_some();
                let stage = if waits_for_task {
                    Stage::Waiting
                } else {
                    Stage::Task { taken: false }
                };
                queries.register(
                    key,
                    Pending {
                        id: id.clone(),
                        query: query.clone(),
                        answer,
                        stage,
                    },
                );
                Ok((!waits_for_task).then(|| query_queue(execution)))
            })
            .await?;
        let queue = match registered {
            Err(status) => return Ok(QueryOutcome::Rejected(status)),
            Ok(queue) => queue,
        };
        let _registration = Registration {
            queries,
            key: key.clone(),
            id: id.clone(),
        };
        if let Some((queue, sticky_wait)) = queue {
            self.dispatch_query_task(key, &id, queue, sticky_wait);
        }
        match tokio::time::timeout_at(deadline.into(), answered).await {
            Ok(Ok(QueryAnswer::Answered(result))) => Ok(QueryOutcome::Answered(result)),
            Ok(Ok(QueryAnswer::Failed { message, failure })) => {
                Err(Error::QueryFailed { message, failure })
            }
            Ok(Err(_)) => Err(Error::Unavailable("the query was dropped".into())),
            Err(_) => Err(Error::DeadlineExceeded(
                "no worker answered the query in time; is a worker polling the workflow's task queue?"
                    .into(),
            )),
        }
    }

    /// A worker's answer to a query task (RespondQueryTaskCompleted).
    pub async fn answer_query(&self, token: &[u8], answer: QueryAnswer) -> Result<()> {
        let (key, query_id) = match TaskToken::decode(token)
            .map_err(|e| Error::InvalidArgument(format!("invalid task token: {e}")))?
        {
            TaskToken::Query { key, query_id } => (key, query_id),
            _ => {
                return Err(Error::InvalidArgument(
                    "invalid task token: not a query task token".into(),
                ));
            }
        };
        self.namespace(&key.namespace)?;
        if self.inner.queries.answer(&key, &query_id, answer.clone())
            || self.answer_remote_query(&key, &query_id, &answer)
        {
            Ok(())
        } else {
            Err(Error::NotFound(
                "query not found: its caller is no longer waiting".into(),
            ))
        }
    }

    /// Answers that came with a workflow task completion; queries it carried but did not
    /// answer wait for the next carrier.
    pub(crate) fn answer_attached_queries(
        &self,
        key: &ExecutionKey,
        answers: Vec<(String, QueryAnswer)>,
    ) {
        for (id, answer) in answers {
            self.inner.queries.answer(key, &id, answer);
        }
        self.inner.queries.detach(key);
    }

    /// An answer another node's worker sent for a query held here.
    pub(crate) fn answer_held_query(&self, key: &ExecutionKey, id: &str, answer: QueryAnswer) {
        self.inner.queries.answer(key, id, answer);
    }

    pub(crate) fn has_unplaced_queries(&self, key: &ExecutionKey) -> bool {
        self.inner.queries.has_unplaced(key)
    }

    pub(crate) fn detach_queries(&self, key: &ExecutionKey) {
        self.inner.queries.detach(key);
    }

    pub(crate) fn attach_queries(&self, key: &ExecutionKey) -> Vec<(String, WorkflowQuery)> {
        self.inner.queries.attach(key)
    }

    /// Called after every commit, under the execution's lock: queries no workflow task will
    /// carry any more become query tasks.
    pub(crate) fn flush_queries(&self, execution: &Execution) {
        if execution.is_running() && execution.workflow_task.is_some() {
            return;
        }
        let ids = self.inner.queries.to_tasks(&execution.key);
        if ids.is_empty() {
            return;
        }
        let (queue, sticky_wait) = query_queue(execution);
        for id in ids {
            self.dispatch_query_task(&execution.key, &id, queue.clone(), sticky_wait);
        }
    }

    fn dispatch_query_task(
        &self,
        key: &ExecutionKey,
        id: &str,
        queue: TaskQueue,
        sticky_wait: Duration,
    ) {
        let task = QueuedTask {
            key: key.clone(),
            task: TaskRef {
                queue: queue.clone(),
                scheduled_event_id: 0,
                attempt: 0,
            },
            query: Some(id.to_owned()),
        };
        let queue_id = QueueId {
            namespace: key.namespace.clone(),
            name: queue.name.clone(),
            kind: TaskKind::Workflow,
        };
        if queue.kind == QueueKind::Sticky
            && self
                .inner
                .matching
                .is_retired_sticky(&key.namespace, &queue.name)
        {
            let normal = TaskQueue::normal(queue.normal_name);
            return self.dispatch_query_task(key, id, normal, sticky_wait);
        }
        // Queued on this node whether or not its workers poll the queue here, and offered to
        // the other nodes' workers too (the first answer wins).
        self.inner.matching.dispatch(queue_id, task);
        if self.inner.peers.is_some()
            && let Some(query) = self.inner.queries.question(key, id)
        {
            self.send_query(key, id, &query, &queue);
        }
        if queue.kind == QueueKind::Sticky {
            let engine = self.clone();
            let key = key.clone();
            let id = id.to_owned();
            tokio::spawn(async move {
                tokio::time::sleep(sticky_wait).await;
                if engine.inner.queries.untaken_task(&key, &id) {
                    let normal = TaskQueue::normal(queue.normal_name);
                    engine.dispatch_query_task(&key, &id, normal, sticky_wait);
                }
            });
        }
    }

    /// What a worker polling a workflow task queue is handed for a query task.
    pub(crate) async fn polled_query_task(
        &self,
        key: ExecutionKey,
        task: &TaskRef,
        query_id: &str,
    ) -> Result<PolledWorkflowTask> {
        let query = self
            .inner
            .queries
            .take_task(&key, query_id)
            .or_else(|| self.remote_query(&key, query_id));
        let Some(query) = query else {
            return Err(Error::NotFound("query no longer awaited".into()));
        };
        let execution = self.snapshot(&key).await?;
        // A sticky worker has the run cached; any other worker replays the whole history.
        let history = if task.queue.kind == QueueKind::Sticky {
            Vec::new()
        } else {
            let count = usize::try_from(execution.next_event_id - 1).unwrap_or(0);
            self.inner.store.history(&key, 1, count).await?
        };
        let token = TaskToken::Query {
            key: key.clone(),
            query_id: query_id.to_owned(),
        };
        let now = self.now();
        Ok(PolledWorkflowTask {
            key,
            token: token.encode(),
            workflow_type: execution.workflow_type().to_owned(),
            task_queue: execution.task_queue().to_owned(),
            previous_started_event_id: execution.previous_started_event_id,
            started_event_id: execution.previous_started_event_id,
            attempt: 1,
            history,
            scheduled_time: now,
            started_time: now,
            query: Some(query),
            queries: Vec::new(),
            updates: Vec::new(),
            updates_follow_event_id: 0,
        })
    }
}

/// The status to reject with, when the condition matches.
fn rejected(execution: &Execution, reject: RejectCondition) -> Option<Status> {
    let status = execution.status;
    let matches = match reject {
        RejectCondition::None => false,
        RejectCondition::NotOpen => !status.is_running(),
        RejectCondition::NotCompletedCleanly => !status.is_running() && status != Status::Completed,
    };
    matches.then_some(status)
}

/// Where a query task for this run goes first, and how long it may wait there.
fn query_queue(execution: &Execution) -> (TaskQueue, Duration) {
    let normal = execution.task_queue().to_owned();
    match &execution.stickiness {
        Some(sticky) if execution.is_running() => {
            let wait = if sticky.schedule_to_start_timeout.is_zero() {
                DEFAULT_STICKY_QUERY_WAIT
            } else {
                sticky.schedule_to_start_timeout
            };
            let queue = TaskQueue {
                name: sticky.queue.clone(),
                kind: QueueKind::Sticky,
                normal_name: normal,
            };
            (queue, wait)
        }
        _ => (TaskQueue::normal(normal), DEFAULT_STICKY_QUERY_WAIT),
    }
}
