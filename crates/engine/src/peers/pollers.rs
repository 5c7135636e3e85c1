//! Which workers polled which node: shared so that any node can describe a task queue, and
//! followed so that a node serves only the queues its own workers poll.

use std::time::Duration;

use keel_core::Time;

use super::{Notice, encode};
use crate::Engine;
use crate::executions::pending_tasks;
use crate::matching::{QueueId, SeenPoller};

/// How long workers other nodes saw polling stay listed here.
pub(crate) const POLLERS_KEPT: Duration = Duration::from_secs(300);

impl Engine {
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

    /// Records the workers another node saw polling.
    pub(super) fn remember_peer_pollers(&self, seen: Vec<SeenPoller>) {
        let peers = self.inner.peers.as_ref().expect("notices come from peers");
        let mut pollers = peers.pollers.lock();
        for poller in seen {
            let last = pollers
                .entry(poller.queue)
                .or_default()
                .entry(poller.identity)
                .or_insert(poller.last_poll);
            *last = (*last).max(poller.last_poll);
        }
        // Workers come and go (each with a sticky queue of its own): forget those
        // not seen for longer than a describe looks back.
        let forgotten = Time(self.now().0 - POLLERS_KEPT.as_nanos() as i64);
        pollers.retain(|_, seen| {
            seen.retain(|_, at| *at >= forgotten);
            !seen.is_empty()
        });
    }

    /// Starts serving a queue on this node: queues the tasks already pending on it in the
    /// store, since the notices that named them were not kept here. A no-op when the
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
                .share_pollers(Time(now.0 - 2 * EVERY.as_nanos() as i64))
                .await;
            if tick % 12 == 0 {
                let idle_since = Time(now.0 - IDLE.as_nanos() as i64);
                engine.inner.matching.stop_serving_idle(idle_since);
            }
        }
    }

    async fn share_pollers(&self, since: Time) {
        let Some(peers) = &self.inner.peers else {
            return;
        };
        let mut seen = self.inner.matching.recent_pollers(since);
        while !seen.is_empty() {
            // As many as one notice holds; a rare queue name too long for one is left out.
            let mut batch = Vec::new();
            while let Some(poller) = seen.pop() {
                batch.push(poller);
                if encode(&Notice::Pollers(batch.clone())).len() > peers.max_notice_len {
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
            if let Err(error) = self.inner.store.send_notice(notice).await {
                tracing::debug!(%error, "could not tell other nodes about this node's pollers");
                return;
            }
        }
    }
}
