//! Workers and task queues as operators see them: who polls what, what waits where.
//!
//! Polls are known per node; pollers other nodes saw come from their notices. Tasks
//! in flight and backlogs are counted over the runs this node holds (on one node, all).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use keel_core::Time;

use crate::matching::{DISPATCH_WINDOW, PollerInfo, QueueId, TaskKind};
use crate::{Engine, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct WorkerInfo {
    pub identity: String,
    /// Named queues it polls (sticky queues left out).
    pub task_queues: Vec<String>,
    pub last_seen: Time,
    pub tasks_in_flight: usize,
    pub polls_waiting: usize,
    /// Share of its capacity in use, estimated as tasks in flight over tasks in flight plus
    /// polls waiting (an SDK worker stops polling when its slots are full).
    pub utilization: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TaskQueueInfo {
    pub name: String,
    pub workflow: QueueKindInfo,
    pub activity: QueueKindInfo,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueKindInfo {
    /// Workers seen polling within five minutes, most recent first.
    pub pollers: Vec<PollerInfo>,
    /// Tasks waiting for a worker.
    pub backlog: usize,
    pub polls_waiting: usize,
    pub oldest_task_age: Option<Duration>,
    pub dispatch_rate_per_second: f64,
}

impl QueueKindInfo {
    pub fn last_poll(&self) -> Option<Time> {
        self.pollers.iter().map(|p| p.last_access_time).max()
    }
}

impl Engine {
    /// Workers seen polling a queue: every one this node saw, and those other nodes saw
    /// within five minutes; most recent first.
    pub(crate) fn all_pollers(&self, queue: &QueueId) -> Vec<PollerInfo> {
        let since = Time(self.now().0 - crate::peers::POLLERS_KEPT.as_nanos() as i64);
        let mut pollers = self.inner.matching.pollers(queue);
        for (identity, at) in self.peer_pollers(queue, since) {
            match pollers.iter_mut().find(|p| p.identity == identity) {
                Some(known) => known.last_access_time = known.last_access_time.max(at),
                None => pollers.push(PollerInfo {
                    identity,
                    last_access_time: at,
                }),
            }
        }
        pollers.sort_by_key(|p| std::cmp::Reverse(p.last_access_time));
        pollers
    }

    /// The worker that polled the queue last, whether it left or went quiet.
    pub(crate) fn last_worker(&self, queue: &QueueId) -> Option<PollerInfo> {
        let polling = self.all_pollers(queue).into_iter().next();
        let departed = self.inner.matching.departed(queue);
        match (polling, departed) {
            (Some(a), Some(b)) => Some(if a.last_access_time >= b.last_access_time {
                a
            } else {
                b
            }),
            (a, b) => a.or(b),
        }
    }

    /// Pollers of a queue seen since `since`, here and on other nodes, most recent first.
    pub(crate) fn queue_pollers(&self, queue: &QueueId, since: Time) -> Vec<PollerInfo> {
        let mut pollers = self.all_pollers(queue);
        pollers.retain(|p| p.last_access_time >= since);
        pollers
    }

    /// A queue of the same kind and namespace, polled since `since`, whose name is close
    /// to `queue`'s.
    pub(crate) fn similar_served_queue(&self, queue: &QueueId, since: Time) -> Option<String> {
        self.inner
            .matching
            .queue_stats(&queue.namespace)
            .into_iter()
            .filter(|stats| stats.id.kind == queue.kind && !stats.sticky)
            .filter(|stats| stats.pollers.iter().any(|p| p.last_access_time >= since))
            .map(|stats| stats.id.name)
            .find(|name| super::similar_names(&queue.name, name))
    }

    /// Workers seen polling the namespace's queues within five minutes.
    pub fn workers(&self, namespace: &str) -> Result<Vec<WorkerInfo>> {
        self.namespace(namespace)?;
        let since = Time(self.now().0 - crate::peers::POLLERS_KEPT.as_nanos() as i64);
        let mut workers: BTreeMap<String, WorkerInfo> = BTreeMap::new();
        let mut queues: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for stats in self.inner.matching.queue_stats(namespace) {
            for poller in self.queue_pollers(&stats.id, since) {
                let worker = workers
                    .entry(poller.identity.clone())
                    .or_insert_with(|| WorkerInfo {
                        identity: poller.identity.clone(),
                        task_queues: Vec::new(),
                        last_seen: poller.last_access_time,
                        tasks_in_flight: 0,
                        polls_waiting: 0,
                        utilization: 0.0,
                    });
                worker.last_seen = worker.last_seen.max(poller.last_access_time);
                if !stats.sticky {
                    queues
                        .entry(poller.identity)
                        .or_default()
                        .insert(stats.id.name.clone());
                }
            }
            for identity in stats.waiting {
                if let Some(worker) = workers.get_mut(&identity) {
                    worker.polls_waiting += 1;
                }
            }
        }
        self.inner.executions.for_each_idle(|execution| {
            if execution.key.namespace != namespace {
                return;
            }
            for identity in execution.workers_in_flight() {
                if let Some(worker) = workers.get_mut(identity) {
                    worker.tasks_in_flight += 1;
                }
            }
        });
        let mut workers: Vec<WorkerInfo> = workers
            .into_values()
            .map(|mut worker| {
                worker.task_queues = queues
                    .remove(&worker.identity)
                    .map(|names| names.into_iter().collect())
                    .unwrap_or_default();
                let capacity = worker.tasks_in_flight + worker.polls_waiting;
                if capacity > 0 {
                    worker.utilization = worker.tasks_in_flight as f64 / capacity as f64;
                }
                worker
            })
            .collect();
        workers.sort_by_key(|w| std::cmp::Reverse(w.last_seen));
        Ok(workers)
    }

    /// The namespace's named task queues: those polled lately and those with waiting tasks.
    pub fn task_queues(&self, namespace: &str) -> Result<Vec<TaskQueueInfo>> {
        self.namespace(namespace)?;
        let now = self.now();
        let since = Time(now.0 - crate::peers::POLLERS_KEPT.as_nanos() as i64);
        let mut infos: BTreeMap<String, TaskQueueInfo> = BTreeMap::new();
        let mut sticky = BTreeSet::new();
        for stats in self.inner.matching.queue_stats(namespace) {
            if stats.sticky {
                sticky.insert(stats.id.name);
                continue;
            }
            let entry = infos
                .entry(stats.id.name.clone())
                .or_insert_with(|| TaskQueueInfo::empty(&stats.id.name));
            let kind = entry.kind_mut(stats.id.kind);
            kind.pollers = self.queue_pollers(&stats.id, since);
            kind.polls_waiting = stats.waiting.len();
            kind.dispatch_rate_per_second =
                stats.recent_dispatches as f64 / DISPATCH_WINDOW.as_secs_f64();
        }
        // Waiting tasks come from the runs, so a queue no worker ever polled shows too.
        self.inner.executions.for_each_idle(|execution| {
            if execution.key.namespace != namespace || !execution.is_running() {
                return;
            }
            for task in execution.queued_tasks() {
                if sticky.contains(task.task_queue) {
                    continue;
                }
                let entry = infos
                    .entry(task.task_queue.to_owned())
                    .or_insert_with(|| TaskQueueInfo::empty(task.task_queue));
                let kind = entry.kind_mut(if task.activity {
                    TaskKind::Activity
                } else {
                    TaskKind::Workflow
                });
                kind.backlog += 1;
                let age = task.since.until(now);
                kind.oldest_task_age = Some(kind.oldest_task_age.map_or(age, |old| old.max(age)));
            }
        });
        Ok(infos.into_values().collect())
    }

    /// One named task queue; a queue nobody polls and nothing waits on is empty, not missing
    /// (as in Temporal, any name is a queue).
    pub fn task_queue(&self, namespace: &str, name: &str) -> Result<TaskQueueInfo> {
        Ok(self
            .task_queues(namespace)?
            .into_iter()
            .find(|info| info.name == name)
            .unwrap_or_else(|| TaskQueueInfo::empty(name)))
    }
}

impl TaskQueueInfo {
    fn empty(name: &str) -> TaskQueueInfo {
        TaskQueueInfo {
            name: name.to_owned(),
            workflow: QueueKindInfo::default(),
            activity: QueueKindInfo::default(),
        }
    }

    fn kind_mut(&mut self, kind: TaskKind) -> &mut QueueKindInfo {
        match kind {
            TaskKind::Workflow => &mut self.workflow,
            TaskKind::Activity => &mut self.activity,
        }
    }
}
