//! A commit's [`Change`]: the notice a node sends of it, and what the other nodes do with it.

use std::collections::HashSet;
use std::time::Duration;

use keel_core::{Effect, Execution, ExecutionKey, TaskRef, Time};
use serde::{Deserialize, Serialize};

use super::{Notice, encode};
use crate::Engine;
use crate::executions::pending_tasks;
use crate::matching::{QueueId, TaskKind};

/// How long a task another node handed to its own waiting worker is held back here.
pub(super) const BACKUP_DELAY: Duration = Duration::from_secs(1);

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

/// What a commit changed of one execution, as far as other nodes' memory is concerned.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Change {
    key: ExecutionKey,
    version: i64,
    next_event_id: i64,
    running: bool,
    next_deadline: Option<Time>,
    sticky_queue: Option<String>,
    /// The tasks the commit dispatched; `None` when too many for one notice, in which case
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
    /// The notice to attach to a commit that takes the run from `before` (`None` for
    /// a new run) to `execution` with `effects`, if peers share the store.
    pub(crate) fn notice_of_commit(
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
        if encoded.len() <= peers.max_notice_len {
            return Some(encoded);
        }
        if let Notice::Execution(change) = &mut notice {
            change.dispatched = None;
        }
        Some(encode(&notice))
    }

    pub(super) fn apply_change(&self, change: Change) {
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
}
