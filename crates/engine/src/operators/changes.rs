//! Live notices: a feed of runs changing status or phase (what a board subscribes to), and
//! waiting for one run's next event or log line (what a follower of a run needs).
//!
//! Changes come from this node's commits and, when nodes share the store, from the other
//! nodes' notices (the run is then read from the store). A run's followers are woken by
//! either the same way history long-polls are, and by log lines appended on any node.

use std::time::Instant;

use keel_core::{Execution, ExecutionKey};
use keel_store::ExecutionSummary;
use tokio::sync::broadcast;

use crate::{Engine, Result};

/// Notices a slow subscriber may fall behind by before it is told it missed some.
pub(crate) const FEED_CAPACITY: usize = 4096;

impl Engine {
    /// Every run this node starts, or whose status, phase or current work changes, from now
    /// on.
    pub fn watch_changes(&self) -> broadcast::Receiver<ExecutionSummary> {
        self.inner.changes.subscribe()
    }

    pub(crate) fn publish_change(&self, before: Option<&Execution>, after: &Execution) {
        let changes = &self.inner.changes;
        // Nobody listens most of the time: then a commit pays nothing for the feed.
        if changes.receiver_count() == 0 {
            return;
        }
        if before.is_some_and(|before| !before.board_changed(after)) {
            return;
        }
        let _ = changes.send(ExecutionSummary::of(after));
    }

    /// Publishes a run another node changed (its notice said its status or phase moved),
    /// read from the store, if anyone listens.
    pub(crate) fn publish_peer_change(&self, key: &ExecutionKey) {
        if self.inner.changes.receiver_count() == 0 {
            return;
        }
        let engine = self.clone();
        let key = key.clone();
        tokio::spawn(async move {
            match engine.inner.store.execution(&key).await {
                Ok(Some(execution)) => {
                    let _ = engine.inner.changes.send(ExecutionSummary::of(&execution));
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::debug!(%error, ?key, "reading a run another node changed failed");
                }
            }
        });
    }

    /// Waits until the run has an event numbered `next_event_id` or later, closes, gets a
    /// log line, or `deadline` passes. A follower re-reads what it follows after each wake.
    pub async fn wait_for_run(
        &self,
        key: &ExecutionKey,
        next_event_id: i64,
        deadline: Instant,
    ) -> Result<()> {
        let mut logs = self.inner.logs_appended.subscribe();
        let mut progress = self.inner.executions.subscribe(key, (0, false));
        let execution = self.snapshot(key).await?;
        if execution.next_event_id > next_event_id || !execution.is_running() {
            return Ok(());
        }
        let sleep = tokio::time::sleep_until(deadline.into());
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                changed = progress.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let (next, closed) = *progress.borrow_and_update();
                    if next > next_event_id || closed {
                        return Ok(());
                    }
                }
                appended = logs.recv() => match appended {
                    Ok(appended) if appended != *key => {}
                    // A line for this run, or notices missed: look again.
                    _ => return Ok(()),
                },
                _ = &mut sleep => return Ok(()),
            }
        }
    }
}
