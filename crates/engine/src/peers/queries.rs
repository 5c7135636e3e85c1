//! Queries forwarded between nodes: a query one node holds, taken by a worker polling
//! another, and the answer sent back.

use std::time::Duration;

use keel_core::{ExecutionKey, TaskQueue, TaskRef};

use super::{Notice, encode};
use crate::Engine;
use crate::matching::{QueueId, TaskKind};
use crate::workflow_queries::{QueryAnswer, WorkflowQuery};

/// A query another node holds, as this node queues it.
pub(super) struct RemoteQuery {
    key: ExecutionKey,
    query: WorkflowQuery,
    received: std::time::Instant,
}

/// How long a query another node sent is kept here for a worker to take.
const REMOTE_QUERIES_KEPT: Duration = Duration::from_secs(120);

impl Engine {
    /// Tells the other nodes of a query task this node queued, so that a worker polling
    /// another node may answer it. One too large for a notice stays with this node.
    pub(crate) fn send_query(
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
        if notice.len() > peers.max_notice_len {
            tracing::debug!(
                ?key,
                "query too large for a notice; only this node's workers see it"
            );
            return;
        }
        self.send_notice(notice, "a query");
    }

    /// Sends a worker's answer to the node holding the query, if another node sent
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
            if notice.len() > peers.max_notice_len {
                tracing::warn!(
                    ?key,
                    "a query's answer is too large to send to the node holding it"
                );
            } else {
                self.send_notice(notice, "a query's answer");
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

    pub(super) fn queue_remote_query(
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
}
