//! What operators ask of the engine beyond Temporal's API: a run's overview and why it
//! waits, its log lines, live notices of changes, workers and task queues, analytics.
//! Everything here is read from the same state and history the gRPC API serves; nothing
//! is a second source of truth.

mod analytics;
mod changes;
mod logs;
mod workers;

pub use logs::{LEVELS, MAX_LINES_PER_APPEND, MAX_MESSAGE_BYTES};

use keel_core::overview::{Overview, Phase};
use keel_core::{Execution, ExecutionKey, Time};

use crate::matching::{QueueId, TaskKind};
use crate::{Engine, Result};

pub use analytics::{Analytics, AnalyticsRequest, Stats, ThroughputBucket, TypeAnalytics};
pub(crate) use changes::FEED_CAPACITY;
pub use logs::NewLogLine;
pub use workers::{QueueKindInfo, TaskQueueInfo, WorkerInfo};

/// How recently a worker must have polled a queue to count as serving it.
pub const RECENT_POLL: std::time::Duration = std::time::Duration::from_secs(60);

/// A run as the detail view shows it.
#[derive(Clone, Debug)]
pub struct RunOverview {
    pub execution: Execution,
    pub overview: Overview,
    /// Set while the run is Pending: why no worker has taken its task.
    pub pending: Option<PendingReason>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PendingCause {
    /// No worker has polled the task's queue lately.
    NoWorker,
    /// No worker polls the task's queue, but one polls a queue of a similar name.
    QueueTypo { similar_queue: String },
    /// Workers poll the queue, but none has a poll waiting: all are busy.
    WorkersBusy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingReason {
    pub cause: PendingCause,
    pub task_queue: String,
    pub since: Time,
    pub message: String,
    /// For `NoWorker`: the worker that polled the queue last, and when.
    pub last_worker: Option<crate::matching::PollerInfo>,
}

impl Engine {
    /// A run's state and what its whole history says of it.
    pub async fn overview(&self, key: &ExecutionKey) -> Result<RunOverview> {
        let execution = self.describe(key).await?;
        let events = self.inner.store.history(key, 1, usize::MAX).await?;
        let attempts = self.inner.store.attempts(key).await?;
        let overview = Overview::derive(&execution, &events, &attempts);
        let pending = self.pending_reason(&execution);
        Ok(RunOverview {
            execution,
            overview,
            pending,
        })
    }

    /// Why a Pending run's oldest task has no worker, judged from who polls its queue.
    pub fn pending_reason(&self, execution: &Execution) -> Option<PendingReason> {
        if execution.phase() != Phase::Pending {
            return None;
        }
        let task = execution.oldest_queued_task()?;
        let kind = if task.activity {
            TaskKind::Activity
        } else {
            TaskKind::Workflow
        };
        let what = if task.activity {
            "activity"
        } else {
            "workflow"
        };
        let queue = QueueId {
            namespace: execution.key.namespace.clone(),
            name: task.task_queue.to_owned(),
            kind,
        };
        let recently = Time(self.now().0 - RECENT_POLL.as_nanos() as i64);
        let pollers = self.queue_pollers(&queue, recently);
        let reason = |cause, message, last_worker| {
            Some(PendingReason {
                cause,
                task_queue: task.task_queue.to_owned(),
                since: task.since,
                message,
                last_worker,
            })
        };
        if pollers.is_empty() {
            if let Some(similar) = self.similar_served_queue(&queue, recently) {
                let message = format!(
                    "no worker polls task queue '{}' for {what} tasks, but workers poll '{similar}': is the queue name misspelt?",
                    task.task_queue
                );
                return reason(
                    PendingCause::QueueTypo {
                        similar_queue: similar,
                    },
                    message,
                    None,
                );
            }
            let last_worker = self.last_worker(&queue);
            let last_seen = match &last_worker {
                Some(worker) => {
                    let ago = worker.last_access_time.until(self.now()).as_secs();
                    format!("; the last one, {}, was seen {ago} s ago", worker.identity)
                }
                None => "; none ever has".to_owned(),
            };
            let message = format!(
                "no worker polls task queue '{}' for {what} tasks{last_seen}",
                task.task_queue,
            );
            return reason(PendingCause::NoWorker, message, last_worker);
        }
        if !self.inner.matching.has_waiter(&queue) {
            let message = format!(
                "{} worker(s) poll task queue '{}' but none is free: all are busy with other tasks",
                pollers.len(),
                task.task_queue
            );
            return reason(PendingCause::WorkersBusy, message, None);
        }
        None
    }
}

/// Whether two queue names are close enough that one is likely a typo of the other: equal
/// but for letter case, or at most two edits apart (for names longer than three).
fn similar_names(a: &str, b: &str) -> bool {
    if a == b {
        return false;
    }
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    a.chars().count() > 3 && b.chars().count() > 3 && edit_distance(a, b) <= 2
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_queue_names() {
        assert!(similar_names("orders", "ordrs"));
        assert!(similar_names("orders", "Orders"));
        assert!(similar_names("payments-v2", "payment-v2"));
        assert!(!similar_names("orders", "orders"));
        assert!(!similar_names("orders", "billing"));
        assert!(!similar_names("ab", "ac"), "short names differ by too much");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
