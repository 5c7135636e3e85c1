//! Nodes sharing one store: what each announces of its commits, and what the others do
//! with it.
//!
//! The store is the only truth; what a node keeps in memory (cached states, queued tasks,
//! armed deadlines, history watchers) is derived from it. With several nodes each one also
//! derives from the others' commits, which reach it as [`Notice`]s attached to those commits
//! (see [`keel_store::Store::announcements`]):
//!
//! - A changed execution is dropped from the cache, so the next transition here reads it
//!   afresh. Should a transition still start from a stale state, its commit fails the
//!   version check and [`Engine::update`] reads the state again and retries: changes are
//!   never merged blindly.
//! - Tasks it dispatched are queued here too, for this node's pollers. Several nodes may hand
//!   out the same task, but only one can record its start: the others' commits fail the
//!   version check, after which the task is seen as started and skipped. A worker never
//!   receives a task whose start was not committed for it. To spare that race, a task the
//!   writer hands straight to a worker waiting there is kept here only as a backup: queued
//!   after [`BACKUP_DELAY`] unless a notice says it was resolved (started, moved, dropped)
//!   first — which it is, unless the writer died in between.
//! - Its next deadline is armed here [`Peers::grace`] later than due. The node that wrote the
//!   change fires it on time; the others only when that node did not (it died), and the
//!   version check lets exactly one firing through.
//! - History readers waiting on it are woken.
//!
//! - Only queues this node serves (its workers polled them lately) hold tasks here; a node
//!   that starts serving a queue fills it from the store, and one whose workers went away
//!   stops serving it, so no node piles up tasks for workers it does not have.
//!
//! When notices may have been lost (the database went away), the node resynchronises: it
//! forgets its cache and derives queues and deadlines from the store again, as at start-up.

use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use keel_core::{Effect, Execution, ExecutionKey, TaskQueue, TaskRef, Time};
use keel_store::Announcement;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::Engine;
use crate::executions::pending_tasks;
use crate::matching::{QueueId, TaskKind};
use crate::workflow_queries::{QueryAnswer, WorkflowQuery};

/// How long workers other nodes saw polling stay listed here.
pub(crate) const POLLERS_KEPT: Duration = Duration::from_secs(300);

/// How long a task another node handed to its own waiting worker is held back here.
const BACKUP_DELAY: Duration = Duration::from_secs(1);

/// Set when the store is shared with other nodes.
pub(crate) struct Peers {
    /// How long after a deadline another node's execution is fired here.
    pub(crate) grace: Duration,
    max_announcement_len: usize,
    /// Tasks held back, until queued or resolved.
    backups: Mutex<HashSet<TaskId>>,
    /// Workers other nodes have seen polling: by queue, identity and last poll.
    pollers: Mutex<HashMap<QueueId, HashMap<String, Time>>>,
    /// Queries other nodes hold, queued here for this node's workers: by query id.
    remote_queries: Mutex<HashMap<String, RemoteQuery>>,
}

/// A query another node holds, as this node queues it.
struct RemoteQuery {
    key: ExecutionKey,
    query: WorkflowQuery,
    received: std::time::Instant,
}

/// How long a query another node announced is kept here for a worker to take.
const REMOTE_QUERIES_KEPT: Duration = Duration::from_secs(120);

impl Peers {
    pub(crate) fn new(max_announcement_len: usize) -> Peers {
        Peers {
            grace: Duration::from_secs(2),
            max_announcement_len,
            backups: Mutex::default(),
            pollers: Mutex::default(),
            remote_queries: Mutex::default(),
        }
    }

    fn backups(&self) -> parking_lot::MutexGuard<'_, HashSet<TaskId>> {
        self.backups.lock()
    }
}

/// One pending task of one run.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct TaskId {
    key: ExecutionKey,
    kind: TaskKind,
    queue: String,
    scheduled_event_id: i64,
    attempt: i32,
}

impl TaskId {
    fn of(key: &ExecutionKey, kind: TaskKind, task: &TaskRef) -> TaskId {
        TaskId {
            key: key.clone(),
            kind,
            queue: task.queue.name.clone(),
            scheduled_event_id: task.scheduled_event_id,
            attempt: task.attempt,
        }
    }
}

/// A task a commit dispatched.
#[derive(Debug, Serialize, Deserialize)]
struct Dispatched {
    kind: TaskKind,
    task: TaskRef,
    /// The writer had a worker waiting on the task's queue, which takes it there.
    taken_at_writer: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Notice {
    Execution(Change),
    /// A namespace was registered or updated.
    Namespaces,
    /// Workers polling the sender lately: queue, identity, last poll.
    Pollers(Vec<(QueueId, String, Time)>),
    /// A query the sender holds, for whichever node's workers poll `queue`.
    Query {
        key: ExecutionKey,
        id: String,
        query: WorkflowQuery,
        queue: TaskQueue,
    },
    /// A worker polling the sender answered a query another node holds.
    QueryAnswer {
        key: ExecutionKey,
        id: String,
        answer: QueryAnswer,
    },
    /// Log lines were appended to a run: its followers on other nodes read them now.
    LogsAppended(ExecutionKey),
}

/// What a commit changed of one execution, as far as other nodes' memory is concerned.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Change {
    key: ExecutionKey,
    version: i64,
    next_event_id: i64,
    running: bool,
    next_deadline: Option<Time>,
    sticky_queue: Option<String>,
    /// The tasks the commit dispatched; `None` when too many to announce, in which case
    /// the receiver reads the execution and queues every pending task.
    dispatched: Option<Vec<Dispatched>>,
    /// Tasks pending before the commit and not after it.
    resolved: Vec<TaskId>,
    /// A workflow task is scheduled or running: queries may ride with it.
    workflow_task_pending: bool,
    /// The run is new, or its status or phase changed: the namespace feed shows it.
    board_changed: bool,
}

impl Engine {
    /// The announcement to attach to a commit that takes the run from `before` (`None` for
    /// a new run) to `execution` with `effects`, if peers share the store.
    pub(crate) fn announcement(
        &self,
        before: Option<&Execution>,
        execution: &Execution,
        effects: &[Effect],
    ) -> Option<Vec<u8>> {
        let peers = self.inner.peers.as_ref()?;
        let key = &execution.key;
        let dispatched = effects
            .iter()
            .filter_map(|effect| {
                let (kind, task) = match effect {
                    Effect::DispatchWorkflowTask(task) => (TaskKind::Workflow, task),
                    Effect::DispatchActivityTask(task) => (TaskKind::Activity, task),
                    // Carried out by the writer alone.
                    Effect::StartNextRun(_)
                    | Effect::StartResetRun(_)
                    | Effect::DeliverExternalRequest { .. }
                    | Effect::StartChild { .. }
                    | Effect::NotifyParent(_)
                    | Effect::ApplyParentClosePolicies(_) => return None,
                };
                let queue = QueueId {
                    namespace: key.namespace.clone(),
                    name: task.queue.name.clone(),
                    kind,
                };
                Some(Dispatched {
                    kind,
                    task: task.clone(),
                    taken_at_writer: self.inner.matching.has_waiter(&queue),
                })
            })
            .collect();
        let resolved = match before {
            Some(before) => {
                let after: HashSet<TaskId> = pending_tasks(execution)
                    .iter()
                    .map(|(kind, task)| TaskId::of(key, *kind, task))
                    .collect();
                pending_tasks(before)
                    .iter()
                    .map(|(kind, task)| TaskId::of(key, *kind, task))
                    .filter(|id| !after.contains(id))
                    .collect()
            }
            None => Vec::new(),
        };
        let mut notice = Notice::Execution(Change {
            key: execution.key.clone(),
            version: execution.version,
            next_event_id: execution.next_event_id,
            running: execution.is_running(),
            next_deadline: execution.next_deadline(),
            sticky_queue: execution.stickiness.as_ref().map(|s| s.queue.clone()),
            dispatched: Some(dispatched),
            resolved,
            workflow_task_pending: execution.is_running() && execution.workflow_task.is_some(),
            board_changed: before.is_none_or(|before| before.board_changed(execution)),
        });
        let encoded = encode(&notice);
        if encoded.len() <= peers.max_announcement_len {
            return Some(encoded);
        }
        if let Notice::Execution(change) = &mut notice {
            change.dispatched = None;
        }
        Some(encode(&notice))
    }

    /// Tells the other nodes that namespaces changed.
    pub(crate) async fn announce_namespaces(&self) {
        if self.inner.peers.is_none() {
            return;
        }
        if let Err(error) = self.inner.store.announce(encode(&Notice::Namespaces)).await {
            tracing::warn!(%error, "could not tell other nodes about a namespace change");
        }
    }

    /// Tells the other nodes that a run got log lines, so that its followers there wake.
    pub(crate) async fn announce_logs(&self, key: &ExecutionKey) {
        if self.inner.peers.is_none() {
            return;
        }
        let notice = encode(&Notice::LogsAppended(key.clone()));
        if let Err(error) = self.inner.store.announce(notice).await {
            tracing::debug!(%error, "could not tell other nodes about appended log lines");
        }
    }

    /// Applies other nodes' announcements until the engine is dropped.
    pub(crate) async fn follow_peers(
        weak: std::sync::Weak<crate::Inner>,
        mut feed: broadcast::Receiver<Announcement>,
    ) {
        loop {
            let received = feed.recv().await;
            let Some(inner) = weak.upgrade() else { return };
            let engine = Engine { inner };
            match received {
                Ok(Announcement::Message(message)) => match decode(&message) {
                    Ok(notice) => engine.apply_notice(notice),
                    Err(reason) => {
                        // Whatever it said is lost here; what it was derived from is not.
                        tracing::warn!(%reason, "unreadable notice from another node; resynchronising");
                        tokio::spawn(async move { engine.resynchronise().await });
                    }
                },
                Ok(Announcement::Missed) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    tracing::info!("notices from other nodes may be lost; resynchronising");
                    tokio::spawn(async move { engine.resynchronise().await });
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    fn apply_notice(&self, notice: Notice) {
        match notice {
            Notice::Namespaces => {
                let engine = self.clone();
                tokio::spawn(async move {
                    if let Err(error) = engine.load_namespaces().await {
                        tracing::warn!(%error, "reloading namespaces failed");
                    }
                });
            }
            Notice::Execution(change) => self.apply_change(change),
            Notice::LogsAppended(key) => {
                let _ = self.inner.logs_appended.send(key);
            }
            Notice::Query {
                key,
                id,
                query,
                queue,
            } => self.queue_remote_query(key, id, query, queue),
            Notice::QueryAnswer { key, id, answer } => {
                // Ignored unless this node holds the query.
                self.answer_held_query(&key, &id, answer);
            }
            Notice::Pollers(seen) => {
                let peers = self.inner.peers.as_ref().expect("notices come from peers");
                let mut pollers = peers.pollers.lock();
                for (queue, identity, at) in seen {
                    let last = pollers
                        .entry(queue)
                        .or_default()
                        .entry(identity)
                        .or_insert(at);
                    *last = (*last).max(at);
                }
                // Workers come and go (each with a sticky queue of its own): forget those
                // not seen for longer than a describe looks back.
                let forgotten = Time(self.now().0 - POLLERS_KEPT.as_nanos() as i64);
                pollers.retain(|_, seen| {
                    seen.retain(|_, at| *at >= forgotten);
                    !seen.is_empty()
                });
            }
        }
    }

    /// Workers other nodes saw polling `queue` since `since`.
    pub(crate) fn peer_pollers(&self, queue: &QueueId, since: Time) -> Vec<(String, Time)> {
        let Some(peers) = &self.inner.peers else {
            return Vec::new();
        };
        let mut pollers = peers.pollers.lock();
        let Some(seen) = pollers.get_mut(queue) else {
            return Vec::new();
        };
        seen.retain(|_, at| *at >= since);
        seen.iter()
            .map(|(identity, at)| (identity.clone(), *at))
            .collect()
    }

    /// Tells the other nodes of a query task this node queued, so that a worker polling
    /// another node may answer it. One too large for a notice stays with this node.
    pub(crate) fn announce_query(
        &self,
        key: &ExecutionKey,
        id: &str,
        query: &WorkflowQuery,
        queue: &TaskQueue,
    ) {
        let Some(peers) = &self.inner.peers else {
            return;
        };
        let notice = encode(&Notice::Query {
            key: key.clone(),
            id: id.to_owned(),
            query: query.clone(),
            queue: queue.clone(),
        });
        if notice.len() > peers.max_announcement_len {
            tracing::debug!(
                ?key,
                "query too large to announce; only this node's workers see it"
            );
            return;
        }
        self.announce(notice, "a query");
    }

    /// Sends a worker's answer to the node holding the query, if another node announced
    /// it; false when no other node's query by that id was taken here.
    pub(crate) fn answer_remote_query(
        &self,
        key: &ExecutionKey,
        id: &str,
        answer: &QueryAnswer,
    ) -> bool {
        let Some(peers) = &self.inner.peers else {
            return false;
        };
        let held = peers.remote_queries.lock().remove(id).is_some();
        if held {
            let notice = encode(&Notice::QueryAnswer {
                key: key.clone(),
                id: id.to_owned(),
                answer: answer.clone(),
            });
            if notice.len() > peers.max_announcement_len {
                tracing::warn!(
                    ?key,
                    "a query's answer is too large to send to the node holding it"
                );
            } else {
                self.announce(notice, "a query's answer");
            }
        }
        held
    }

    /// The question of another node's query a worker here takes (kept until answered).
    pub(crate) fn remote_query(&self, key: &ExecutionKey, id: &str) -> Option<WorkflowQuery> {
        let peers = self.inner.peers.as_ref()?;
        let remote = peers.remote_queries.lock();
        remote
            .get(id)
            .filter(|held| held.key == *key)
            .map(|held| held.query.clone())
    }

    fn queue_remote_query(
        &self,
        key: ExecutionKey,
        id: String,
        query: WorkflowQuery,
        queue: TaskQueue,
    ) {
        let peers = self.inner.peers.as_ref().expect("notices come from peers");
        {
            let mut remote = peers.remote_queries.lock();
            remote.retain(|_, held| held.received.elapsed() < REMOTE_QUERIES_KEPT);
            remote.insert(
                id.clone(),
                RemoteQuery {
                    key: key.clone(),
                    query,
                    received: std::time::Instant::now(),
                },
            );
        }
        let queue_id = QueueId {
            namespace: key.namespace.clone(),
            name: queue.name.clone(),
            kind: TaskKind::Workflow,
        };
        let task = crate::matching::QueuedTask {
            key,
            task: TaskRef {
                queue,
                scheduled_event_id: 0,
                attempt: 0,
            },
            query: Some(id),
        };
        self.inner.matching.dispatch_if_served(queue_id, task);
    }

    fn announce(&self, notice: Vec<u8>, what: &'static str) {
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(error) = engine.inner.store.announce(notice).await {
                tracing::debug!(%error, what, "could not tell the other nodes");
            }
        });
    }

    fn apply_change(&self, change: Change) {
        // Queries held here that waited for a workflow task another node ran: with no task
        // left to carry them, they become query tasks.
        if !change.workflow_task_pending && self.has_unplaced_queries(&change.key) {
            let engine = self.clone();
            let key = change.key.clone();
            tokio::spawn(async move {
                if let Ok(execution) = engine.snapshot(&key).await {
                    engine.flush_queries(&execution);
                }
            });
        }
        if change.board_changed {
            self.publish_peer_change(&change.key);
        }
        let executions = &self.inner.executions;
        executions.forget_older(&change.key, change.version);
        executions.index_sticky_queue(&change.key, change.sticky_queue.clone());
        executions.publish_progress(&change.key, change.next_event_id, !change.running);
        let grace = self.peer_grace();
        self.inner
            .timers
            .arm(&change.key, change.next_deadline.map(|at| at.plus(grace)));
        let peers = self.inner.peers.as_ref().expect("notices come from peers");
        {
            let mut backups = peers.backups();
            for id in &change.resolved {
                backups.remove(id);
            }
        }
        match change.dispatched {
            Some(dispatched) => {
                for Dispatched {
                    kind,
                    task,
                    taken_at_writer,
                } in dispatched
                {
                    if taken_at_writer {
                        self.hold_back(&change.key, kind, task);
                    } else {
                        self.dispatch(&change.key, kind, task);
                    }
                }
            }
            None => {
                let engine = self.clone();
                tokio::spawn(async move {
                    match engine.inner.store.execution(&change.key).await {
                        Ok(Some(execution)) => engine.recover(execution),
                        Ok(None) => {}
                        Err(error) => {
                            tracing::warn!(%error, "reading a changed execution failed; resynchronising");
                            engine.resynchronise().await;
                        }
                    }
                });
            }
        }
    }

    /// Queues the task after [`BACKUP_DELAY`] unless a notice resolves it first.
    fn hold_back(&self, key: &ExecutionKey, kind: TaskKind, task: TaskRef) {
        let id = TaskId::of(key, kind, &task);
        let peers = self.inner.peers.as_ref().expect("notices come from peers");
        peers.backups().insert(id.clone());
        let weak = std::sync::Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            tokio::time::sleep(BACKUP_DELAY).await;
            let Some(inner) = weak.upgrade() else { return };
            let engine = Engine { inner };
            let peers = engine.inner.peers.as_ref().expect("set");
            if peers.backups().remove(&id) {
                engine.dispatch(&id.key, kind, task);
            }
        });
    }

    /// Forgets everything derived from other nodes' notices and derives it from the store
    /// again, retrying until the store answers.
    pub(crate) async fn resynchronise(&self) {
        let mut backoff = Duration::from_millis(100);
        loop {
            self.inner.executions.forget_all();
            if let Some(peers) = &self.inner.peers {
                // Every pending task is queued again below.
                peers.backups().clear();
            }
            let result = async {
                self.load_namespaces().await?;
                self.inner
                    .store
                    .running_executions()
                    .await
                    .map_err(crate::Error::from)
            }
            .await;
            match result {
                Ok(running) => {
                    for execution in running {
                        self.recover(execution);
                    }
                    self.wake_watchers_from_store().await;
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "resynchronising with the store failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Wakes the history readers whose runs moved on (or closed) while notices were lost:
    /// a run that closed meanwhile is not among the running ones `recover` goes through.
    async fn wake_watchers_from_store(&self) {
        for key in self.inner.executions.watched() {
            match self.inner.store.execution(&key).await {
                Ok(Some(execution)) => self.inner.executions.publish_progress(
                    &key,
                    execution.next_event_id,
                    !execution.is_running(),
                ),
                Ok(None) => {}
                // Their long polls still end at their deadlines and read again.
                Err(error) => {
                    tracing::warn!(%error, "reading a watched run after resynchronising failed");
                    return;
                }
            }
        }
    }

    /// Starts serving a queue on this node: queues the tasks already pending on it in the
    /// store, since the notices that announced them were not kept here. A no-op when the
    /// store is not shared or the queue is served already.
    pub(crate) async fn serve_queue(&self, queue: &QueueId) -> crate::Result<()> {
        if self.inner.peers.is_none() || !self.inner.matching.serve(queue) {
            return Ok(());
        }
        let running = match self.inner.store.running_executions().await {
            Ok(running) => running,
            Err(error) => {
                // Not filled: the next poll tries again.
                self.inner.matching.stop_serving(queue);
                return Err(error.into());
            }
        };
        for execution in running {
            if execution.key.namespace != queue.namespace {
                continue;
            }
            for (kind, task) in pending_tasks(&execution) {
                if kind == queue.kind && task.queue.name == queue.name {
                    self.dispatch(&execution.key, kind, task);
                }
            }
        }
        Ok(())
    }

    /// Until the engine is dropped: every few seconds tells the other nodes which workers
    /// poll here (so any node can describe a task queue), and every minute stops serving the
    /// queues no worker polled here for three minutes (longer than any long poll).
    pub(crate) async fn keep_up_with_peers(weak: std::sync::Weak<crate::Inner>) {
        const EVERY: Duration = Duration::from_secs(5);
        const IDLE: Duration = Duration::from_secs(180);
        for tick in 1u64.. {
            tokio::time::sleep(EVERY).await;
            let Some(inner) = weak.upgrade() else { return };
            let engine = Engine { inner };
            let now = engine.now();
            engine
                .announce_pollers(Time(now.0 - 2 * EVERY.as_nanos() as i64))
                .await;
            if tick % 12 == 0 {
                let idle_since = Time(now.0 - IDLE.as_nanos() as i64);
                engine.inner.matching.stop_serving_idle(idle_since);
            }
        }
    }

    async fn announce_pollers(&self, since: Time) {
        let Some(peers) = &self.inner.peers else {
            return;
        };
        let mut seen = self.inner.matching.recent_pollers(since);
        while !seen.is_empty() {
            // As many as one notice holds; a rare queue name too long for one is left out.
            let mut batch = Vec::new();
            while let Some(poller) = seen.pop() {
                batch.push(poller);
                if encode(&Notice::Pollers(batch.clone())).len() > peers.max_announcement_len {
                    let last = batch.pop().expect("just pushed");
                    if !batch.is_empty() {
                        seen.push(last);
                    }
                    break;
                }
            }
            if batch.is_empty() {
                continue;
            }
            let notice = encode(&Notice::Pollers(batch));
            if let Err(error) = self.inner.store.announce(notice).await {
                tracing::debug!(%error, "could not tell other nodes about this node's pollers");
                return;
            }
        }
    }

    /// How much later than due this node fires deadlines another node may own.
    pub(crate) fn peer_grace(&self) -> Duration {
        self.inner
            .peers
            .as_ref()
            .map_or(Duration::ZERO, |peers| peers.grace)
    }
}

/// The format of notices this node sends: their first byte. Postcard is positional, so any
/// change to [`Notice`] or what it carries takes a new number; a node that receives a
/// format it does not read (from an older or newer node during an upgrade) resynchronises
/// from the store instead.
const NOTICE_FORMAT: u8 = 1;

fn encode(notice: &Notice) -> Vec<u8> {
    postcard::to_extend(notice, vec![NOTICE_FORMAT]).expect("notices always encode")
}

fn decode(message: &[u8]) -> Result<Notice, String> {
    match message {
        [NOTICE_FORMAT, body @ ..] => postcard::from_bytes(body).map_err(|e| e.to_string()),
        [other, ..] => Err(format!(
            "notice format {other}, this node reads format {NOTICE_FORMAT}"
        )),
        [] => Err("empty notice".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_carry_their_format_and_others_are_refused() {
        let sent = encode(&Notice::Namespaces);
        assert_eq!(sent[0], NOTICE_FORMAT);
        assert!(matches!(decode(&sent), Ok(Notice::Namespaces)));
        let mut newer = sent.clone();
        newer[0] = NOTICE_FORMAT + 1;
        assert!(decode(&newer).unwrap_err().contains("format 2"));
        assert!(decode(&[]).is_err());
        assert!(decode(&[NOTICE_FORMAT, 0xff, 0xff]).is_err());
    }
}
