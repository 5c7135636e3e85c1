//! The long poll shared by workflow and activity tasks: wait for a task on a queue, record
//! that a worker took it, and skip tasks that turn out to be stale.

use std::future::Future;
use std::time::Instant;

use crate::matching::{QueueId, QueuedTask, TaskKind};
use crate::{Engine, Error, Result};

impl Engine {
    /// Waits until `deadline` for a task on the queue and hands it to `start`, which records
    /// the start and builds what the worker is sent; `None` when no task came.
    pub(crate) async fn poll<T, Start, Started>(
        &self,
        namespace: &str,
        queue: &str,
        kind: TaskKind,
        identity: &str,
        deadline: Instant,
        start: Start,
    ) -> Result<Option<T>>
    where
        Start: Fn(Engine, QueuedTask, String) -> Started,
        Started: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.namespace(namespace)?;
        let queue_id = QueueId {
            namespace: namespace.to_owned(),
            name: queue.to_owned(),
            kind,
        };
        self.serve_queue(&queue_id).await?;
        loop {
            let Some(offer) = self
                .inner
                .matching
                .next(queue_id.clone(), identity, self.now(), deadline)
                .await
            else {
                return Ok(None);
            };
            let task = offer.take();
            // Recording the start runs on its own task: once the task is off the queue, a
            // poller that disconnects must not abandon it half-way.
            let started =
                tokio::spawn(start(self.clone(), task.clone(), identity.to_owned())).await;
            match started {
                Ok(Ok(polled)) => return Ok(Some(polled)),
                // Stale task (already started, finished, or the run closed): take the next.
                Ok(Err(Error::NotFound(_))) => continue,
                Ok(Err(error)) => {
                    // The task is still pending in the store; keep it on its queue. Should
                    // its start have been committed after all, it is skipped as stale.
                    self.inner.matching.dispatch(queue_id, task);
                    return Err(error);
                }
                Err(join_error) => {
                    return Err(Error::Unavailable(format!("poll failed: {join_error}")));
                }
            }
        }
    }
}
