//! Nodes sharing one store: the notices each sends of its commits, and what the others do
//! with it.
//!
//! The store is the only truth; what a node keeps in memory (cached states, queued tasks,
//! armed deadlines, history watchers) is derived from it. With several nodes each one also
//! derives from the others' commits, which reach it as [`Notice`]s attached to those commits
//! (see [`keel_store::Store::notices`]):
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
//!
//! [`BACKUP_DELAY`]: changes::BACKUP_DELAY

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use keel_core::{ExecutionKey, TaskQueue, Time};
use keel_store::Received;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

mod changes;
mod pollers;
mod queries;

use changes::{Change, TaskId};
pub(crate) use pollers::POLLERS_KEPT;
use queries::RemoteQuery;

use crate::Engine;
use crate::matching::{QueueId, SeenPoller};
use crate::workflow_queries::{QueryAnswer, WorkflowQuery};

/// Set when the store is shared with other nodes.
pub(crate) struct Peers {
    /// How long after a deadline another node's execution is fired here.
    pub(crate) grace: Duration,
    max_notice_len: usize,
    /// Tasks held back, until queued or resolved.
    backups: Mutex<HashSet<TaskId>>,
    /// Workers other nodes have seen polling: by queue, identity and last poll.
    pollers: Mutex<HashMap<QueueId, HashMap<String, Time>>>,
    /// Queries other nodes hold, queued here for this node's workers: by query id.
    remote_queries: Mutex<HashMap<String, RemoteQuery>>,
}

impl Peers {
    pub(crate) fn new(max_notice_len: usize) -> Peers {
        Peers {
            grace: Duration::from_secs(2),
            max_notice_len,
            backups: Mutex::default(),
            pollers: Mutex::default(),
            remote_queries: Mutex::default(),
        }
    }

    fn backups(&self) -> parking_lot::MutexGuard<'_, HashSet<TaskId>> {
        self.backups.lock()
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Notice {
    Execution(Change),
    /// A namespace was registered or updated.
    Namespaces,
    /// Workers polling the sender lately: queue, identity, last poll.
    Pollers(Vec<SeenPoller>),
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

impl Engine {
    /// Tells the other nodes that namespaces changed.
    pub(crate) async fn notify_namespaces(&self) {
        if self.inner.peers.is_none() {
            return;
        }
        if let Err(error) = self
            .inner
            .store
            .send_notice(encode(&Notice::Namespaces))
            .await
        {
            tracing::warn!(%error, "could not tell other nodes about a namespace change");
        }
    }

    /// Tells the other nodes that a run got log lines, so that its followers there wake.
    pub(crate) async fn notify_logs(&self, key: &ExecutionKey) {
        if self.inner.peers.is_none() {
            return;
        }
        let notice = encode(&Notice::LogsAppended(key.clone()));
        if let Err(error) = self.inner.store.send_notice(notice).await {
            tracing::debug!(%error, "could not tell other nodes about appended log lines");
        }
    }

    /// Applies other nodes' notices until the engine is dropped.
    pub(crate) async fn follow_peers(
        weak: std::sync::Weak<crate::Inner>,
        mut feed: broadcast::Receiver<Received>,
    ) {
        loop {
            let received = feed.recv().await;
            let Some(inner) = weak.upgrade() else { return };
            let engine = Engine { inner };
            match received {
                Ok(Received::Notice(message)) => match decode(&message) {
                    Ok(notice) => engine.apply_notice(notice),
                    Err(reason) => {
                        // Whatever it said is lost here; what it was derived from is not.
                        tracing::warn!(%reason, "unreadable notice from another node; resynchronising");
                        tokio::spawn(async move { engine.resynchronise().await });
                    }
                },
                Ok(Received::Missed) | Err(broadcast::error::RecvError::Lagged(_)) => {
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
            Notice::Pollers(seen) => self.remember_peer_pollers(seen),
        }
    }

    fn send_notice(&self, notice: Vec<u8>, what: &'static str) {
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(error) = engine.inner.store.send_notice(notice).await {
                tracing::debug!(%error, what, "could not tell the other nodes");
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

    /// Format 1 sent pollers as (queue, identity, last poll) tuples; the named struct
    /// must encode the same, or the format number must change.
    #[test]
    fn seen_pollers_encode_as_format_1_did() {
        let queue = QueueId {
            namespace: "default".into(),
            name: "orders".into(),
            kind: crate::matching::TaskKind::Activity,
        };
        let named = SeenPoller {
            queue: queue.clone(),
            identity: "worker-1".into(),
            last_poll: Time(42),
        };
        let tuple = (queue, "worker-1".to_owned(), Time(42));
        assert_eq!(
            postcard::to_stdvec(&named).unwrap(),
            postcard::to_stdvec(&tuple).unwrap()
        );
    }

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
