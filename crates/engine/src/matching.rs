//! Task queues in memory: tasks waiting for workers and workers waiting for tasks.
//!
//! A task meets a waiting poller directly (sync match); only when no poller waits is it
//! queued. The queues are a cache of what the store says is pending: they are rebuilt from
//! the executions at start-up, and a queued task that turns out stale when a worker takes it
//! (already started, already finished) is simply skipped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Weak};
use std::time::Instant;

use keel_core::{ExecutionKey, TaskRef, Time};
use parking_lot::Mutex;
use tokio::sync::oneshot;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TaskKind {
    Workflow,
    Activity,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct QueueId {
    pub namespace: String,
    pub name: String,
    pub kind: TaskKind,
}

/// A worker seen polling a queue, and when it last did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SeenPoller {
    pub queue: QueueId,
    pub identity: String,
    pub last_poll: Time,
}

#[derive(Clone, Debug)]
pub struct QueuedTask {
    pub key: ExecutionKey,
    pub task: TaskRef,
    /// Set for a query task: the id of the query it carries (see `workflow_queries`).
    pub query: Option<String>,
}

/// A task handed to a poller. If the poller goes away before taking it (its RPC was
/// cancelled), dropping the offer puts the task back.
pub struct Offer {
    task: Option<QueuedTask>,
    matching: Weak<Inner>,
    queue: QueueId,
}

impl Offer {
    pub fn take(mut self) -> QueuedTask {
        self.task
            .take()
            .expect("an offer holds its task until taken")
    }
}

impl Drop for Offer {
    fn drop(&mut self) {
        if let (Some(task), Some(inner)) = (self.task.take(), self.matching.upgrade()) {
            Matching { inner }.dispatch(self.queue.clone(), task);
        }
    }
}

/// Abandons a poll when it is dropped while still waiting (see [`Matching::next`]).
struct AbandonedPoll<'a> {
    matching: &'a Matching,
    queue: &'a QueueId,
    identity: &'a str,
    waiter_id: u64,
    armed: bool,
}

impl Drop for AbandonedPoll<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.matching
                .abandon_poll(self.queue, self.identity, self.waiter_id);
        }
    }
}

/// A worker seen polling a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollerInfo {
    pub identity: String,
    pub last_access_time: Time,
}

struct Waiter {
    id: u64,
    identity: String,
    sender: oneshot::Sender<Offer>,
}

/// How far back a queue remembers its dispatches, for its dispatch rate.
pub const DISPATCH_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);
/// At most this many dispatches are remembered per queue (the rate tops out there).
const DISPATCHES_KEPT: usize = 100_000;

#[derive(Default)]
struct Queue {
    tasks: VecDeque<QueuedTask>,
    waiters: VecDeque<Waiter>,
    /// Workers polling the queue, with their last poll. A worker leaves this map the moment
    /// its last open poll is abandoned (its connection closed: the process exited).
    pollers: HashMap<String, Time>,
    /// Workers whose connection closed, with when they were last seen.
    departed: HashMap<String, Time>,
    /// Polled here lately: when nodes share the store, only such queues hold tasks.
    served: bool,
    /// When tasks were handed to pollers, within [`DISPATCH_WINDOW`].
    dispatches: VecDeque<Instant>,
    /// A worker's sticky queue rather than a named one.
    sticky: bool,
}

impl Queue {
    /// The worker stops counting as a poller; it is remembered with its last poll.
    fn depart(&mut self, identity: &str) {
        if let Some(last_seen) = self.pollers.remove(identity) {
            self.departed.insert(identity.to_owned(), last_seen);
        }
    }

    fn record_dispatch(&mut self) {
        let now = Instant::now();
        while self
            .dispatches
            .front()
            .is_some_and(|at| now.duration_since(*at) > DISPATCH_WINDOW)
            || self.dispatches.len() >= DISPATCHES_KEPT
        {
            self.dispatches.pop_front();
        }
        self.dispatches.push_back(now);
    }
}

/// What an operator sees of one queue on this node.
#[derive(Clone, Debug)]
pub struct QueueStats {
    pub id: QueueId,
    pub sticky: bool,
    pub backlog: usize,
    /// Identities of the polls waiting for a task right now.
    pub waiting: Vec<String>,
    pub pollers: Vec<PollerInfo>,
    /// Tasks handed to pollers within the last [`DISPATCH_WINDOW`].
    pub recent_dispatches: usize,
}

#[derive(Default)]
struct Inner {
    queues: Mutex<HashMap<QueueId, Queue>>,
    next_waiter_id: std::sync::atomic::AtomicU64,
    /// Sticky queues whose worker said it is shutting down.
    dead_sticky: Mutex<HashSet<(String, String)>>,
}

#[derive(Clone, Default)]
pub struct Matching {
    inner: Arc<Inner>,
}

impl Matching {
    /// Hands the task to a waiting poller, or queues it.
    pub fn dispatch(&self, queue: QueueId, task: QueuedTask) {
        let mut queues = self.inner.queues.lock();
        let entry = queues.entry(queue.clone()).or_default();
        let mut task = Some(task);
        while let Some(waiter) = entry.waiters.pop_front() {
            entry.record_dispatch();
            let offer = self.offer(queue.clone(), task.take().expect("held until handed out"));
            match waiter.sender.send(offer) {
                Ok(()) => return,
                // That poller is gone; take the task back (so the offer's drop does not
                // re-dispatch it under this lock) and try the next one.
                Err(mut offer) => task = offer.task.take(),
            }
        }
        entry.tasks.push_back(task.expect("not handed out"));
    }

    /// Like [`Matching::dispatch`], but only into a queue this node serves (see
    /// [`Matching::serve`]); answers whether the task was taken.
    pub fn dispatch_if_served(&self, queue: QueueId, task: QueuedTask) -> bool {
        let served = {
            let queues = self.inner.queues.lock();
            queues.get(&queue).is_some_and(|q| q.served)
        };
        if served {
            self.dispatch(queue, task);
        }
        served
    }

    /// Marks the queue as served by this node (workers poll it here); answers true when it
    /// was not, so the caller can fill it with the tasks already pending in the store.
    pub fn serve(&self, queue: &QueueId) -> bool {
        let mut queues = self.inner.queues.lock();
        let entry = queues.entry(queue.clone()).or_default();
        !std::mem::replace(&mut entry.served, true)
    }

    /// Stops serving the queue (it was not filled after all).
    pub fn stop_serving(&self, queue: &QueueId) {
        let mut queues = self.inner.queues.lock();
        if let Some(entry) = queues.get_mut(queue) {
            entry.served = false;
        }
    }

    /// Stops serving queues nobody has polled since `idle_since` and nobody waits on,
    /// dropping their tasks (the store still holds them).
    pub fn stop_serving_idle(&self, idle_since: Time) {
        let mut queues = self.inner.queues.lock();
        queues.retain(|_, queue| {
            let last_poll = queue
                .pollers
                .values()
                .chain(queue.departed.values())
                .max()
                .copied();
            let idle = queue.waiters.is_empty() && last_poll.is_none_or(|at| at < idle_since);
            !(queue.served && idle)
        });
    }

    /// Waits until a task is available or `deadline` passes.
    ///
    /// If the returned future is dropped first (the poll's connection closed), the poll
    /// stops counting at once: it is no longer a waiting poll, and a worker with no other
    /// poll open on the queue is no longer one of its pollers (see [`Matching::departed`]).
    pub async fn next(
        &self,
        queue: QueueId,
        identity: &str,
        now: Time,
        deadline: Instant,
    ) -> Option<Offer> {
        let (id, receiver) = {
            let mut queues = self.inner.queues.lock();
            let entry = queues.entry(queue.clone()).or_default();
            entry.pollers.insert(identity.to_owned(), now);
            entry.departed.remove(identity);
            if let Some(task) = entry.tasks.pop_front() {
                entry.record_dispatch();
                return Some(self.offer(queue, task));
            }
            let id = self
                .inner
                .next_waiter_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (sender, receiver) = oneshot::channel();
            entry.waiters.push_back(Waiter {
                id,
                identity: identity.to_owned(),
                sender,
            });
            (id, receiver)
        };
        let mut abandoned = AbandonedPoll {
            matching: self,
            queue: &queue,
            identity,
            waiter_id: id,
            armed: true,
        };
        let mut receiver = receiver;
        let result = tokio::time::timeout_at(deadline.into(), &mut receiver).await;
        abandoned.armed = false;
        match result {
            Ok(Ok(offer)) => Some(offer),
            Ok(Err(_)) => None,
            Err(_) => {
                let mut queues = self.inner.queues.lock();
                if let Some(entry) = queues.get_mut(&queue) {
                    entry.waiters.retain(|waiter| waiter.id != id);
                }
                drop(queues);
                // A task may have been handed over just as the wait ran out.
                receiver.try_recv().ok()
            }
        }
    }

    /// A poll was dropped before it ended: forget its waiter, and the worker too unless it
    /// has another poll open here. A task already handed to it returns to the queue through
    /// the offer's drop.
    fn abandon_poll(&self, queue: &QueueId, identity: &str, waiter_id: u64) {
        let mut queues = self.inner.queues.lock();
        let Some(entry) = queues.get_mut(queue) else {
            return;
        };
        entry.waiters.retain(|waiter| waiter.id != waiter_id);
        if entry
            .waiters
            .iter()
            .any(|waiter| waiter.identity == identity)
        {
            return;
        }
        entry.depart(identity);
    }

    /// A worker said it is shutting down: it stops counting as a poller of every queue of
    /// the namespace at once.
    pub fn forget_worker(&self, namespace: &str, identity: &str) {
        let mut queues = self.inner.queues.lock();
        for (_, entry) in queues
            .iter_mut()
            .filter(|(id, _)| id.namespace == namespace)
        {
            entry.depart(identity);
        }
    }

    /// The worker last seen on a queue among those that have left it: its identity and
    /// when it last polled.
    pub fn departed(&self, queue: &QueueId) -> Option<PollerInfo> {
        let queues = self.inner.queues.lock();
        queues
            .get(queue)?
            .departed
            .iter()
            .max_by_key(|(_, at)| **at)
            .map(|(identity, at)| PollerInfo {
                identity: identity.clone(),
                last_access_time: *at,
            })
    }

    fn offer(&self, queue: QueueId, task: QueuedTask) -> Offer {
        Offer {
            task: Some(task),
            matching: Arc::downgrade(&self.inner),
            queue,
        }
    }

    /// Workers seen polling the queue, most recent first.
    pub fn pollers(&self, queue: &QueueId) -> Vec<PollerInfo> {
        let queues = self.inner.queues.lock();
        let mut pollers: Vec<PollerInfo> = queues
            .get(queue)
            .map(|q| {
                q.pollers
                    .iter()
                    .map(|(identity, time)| PollerInfo {
                        identity: identity.clone(),
                        last_access_time: *time,
                    })
                    .collect()
            })
            .unwrap_or_default();
        pollers.sort_by_key(|p| std::cmp::Reverse(p.last_access_time));
        pollers
    }

    /// Every worker seen polling here since `since`.
    pub fn recent_pollers(&self, since: Time) -> Vec<SeenPoller> {
        let queues = self.inner.queues.lock();
        queues
            .iter()
            .flat_map(|(id, queue)| {
                queue
                    .pollers
                    .iter()
                    .filter(|(_, at)| **at >= since)
                    .map(|(identity, at)| SeenPoller {
                        queue: id.clone(),
                        identity: identity.clone(),
                        last_poll: *at,
                    })
            })
            .collect()
    }

    /// Every queue this node knows, with its pollers, waiting polls and recent dispatches.
    pub fn queue_stats(&self, namespace: &str) -> Vec<QueueStats> {
        let mut queues = self.inner.queues.lock();
        let now = Instant::now();
        queues
            .iter_mut()
            .filter(|(id, _)| id.namespace == namespace)
            .map(|(id, queue)| {
                while queue
                    .dispatches
                    .front()
                    .is_some_and(|at| now.duration_since(*at) > DISPATCH_WINDOW)
                {
                    queue.dispatches.pop_front();
                }
                QueueStats {
                    id: id.clone(),
                    sticky: queue.sticky,
                    backlog: queue.tasks.len(),
                    waiting: queue.waiters.iter().map(|w| w.identity.clone()).collect(),
                    pollers: queue
                        .pollers
                        .iter()
                        .map(|(identity, at)| PollerInfo {
                            identity: identity.clone(),
                            last_access_time: *at,
                        })
                        .collect(),
                    recent_dispatches: queue.dispatches.len(),
                }
            })
            .collect()
    }

    /// Marks a queue as a worker's sticky queue, so listings can tell it from named ones.
    pub fn mark_sticky(&self, namespace: &str, name: &str) {
        let mut queues = self.inner.queues.lock();
        let id = QueueId {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            kind: TaskKind::Workflow,
        };
        queues.entry(id).or_default().sticky = true;
    }

    /// Whether a poller waits on the queue right now.
    pub fn has_waiter(&self, queue: &QueueId) -> bool {
        let queues = self.inner.queues.lock();
        queues.get(queue).is_some_and(|q| !q.waiters.is_empty())
    }

    pub fn backlog(&self, queue: &QueueId) -> usize {
        let queues = self.inner.queues.lock();
        queues.get(queue).map_or(0, |q| q.tasks.len())
    }

    /// A sticky queue's worker is leaving: its queued tasks are returned so they can go to
    /// the normal queue, and later dispatches there are refused.
    pub fn retire_sticky(&self, namespace: &str, name: &str) -> Vec<QueuedTask> {
        self.inner
            .dead_sticky
            .lock()
            .insert((namespace.to_owned(), name.to_owned()));
        let mut queues = self.inner.queues.lock();
        let id = QueueId {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            kind: TaskKind::Workflow,
        };
        queues
            .remove(&id)
            .map(|q| q.tasks.into_iter().collect())
            .unwrap_or_default()
    }

    pub fn is_retired_sticky(&self, namespace: &str, name: &str) -> bool {
        self.inner
            .dead_sticky
            .lock()
            .contains(&(namespace.to_owned(), name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use keel_core::TaskQueue;

    use super::*;

    fn queue(name: &str) -> QueueId {
        QueueId {
            namespace: "default".into(),
            name: name.into(),
            kind: TaskKind::Activity,
        }
    }

    fn task(run: &str) -> QueuedTask {
        QueuedTask {
            query: None,
            key: ExecutionKey {
                namespace: "default".into(),
                workflow_id: "wf".into(),
                run_id: run.into(),
            },
            task: TaskRef {
                queue: TaskQueue::normal("q"),
                scheduled_event_id: 5,
                attempt: 1,
            },
        }
    }

    #[tokio::test]
    async fn a_dropped_poll_stops_counting_at_once_and_is_never_handed_a_task() {
        let matching = Matching::default();
        let q = queue("q");
        let far = Instant::now() + Duration::from_secs(60);
        let first = tokio::spawn({
            let (matching, q) = (matching.clone(), q.clone());
            async move {
                matching
                    .next(q, "gone", Time(100), far)
                    .await
                    .map(Offer::take)
            }
        });
        let second = tokio::spawn({
            let (matching, q) = (matching.clone(), q.clone());
            async move {
                matching
                    .next(q, "gone", Time(110), far)
                    .await
                    .map(Offer::take)
            }
        });
        while matching
            .queue_stats("default")
            .iter()
            .map(|s| s.waiting.len())
            .sum::<usize>()
            < 2
        {
            tokio::task::yield_now().await;
        }
        assert_eq!(matching.pollers(&q).len(), 1);

        // The worker's connection closes: both of its polls are dropped.
        first.abort();
        let _ = first.await;
        assert_eq!(matching.pollers(&q).len(), 1, "one poll is still open");
        second.abort();
        let _ = second.await;
        assert!(!matching.has_waiter(&q), "no poll waits any more");
        assert!(
            matching.pollers(&q).is_empty(),
            "the worker no longer polls"
        );
        let departed = matching.departed(&q).expect("the worker is remembered");
        assert_eq!(
            (departed.identity.as_str(), departed.last_access_time),
            ("gone", Time(110))
        );

        // A task dispatched now waits for the next worker instead of vanishing.
        matching.dispatch(q.clone(), task("a"));
        assert_eq!(matching.backlog(&q), 1);
        let taken = matching.next(q.clone(), "new", Time(200), far).await;
        assert_eq!(
            taken.map(|offer| offer.take().key.run_id),
            Some("a".to_owned())
        );
        assert!(
            matching.departed(&q).is_some(),
            "another worker left earlier"
        );
        assert_eq!(matching.pollers(&q)[0].identity, "new");

        matching.forget_worker("default", "new");
        assert!(
            matching.pollers(&q).is_empty(),
            "a worker shutting down stops counting"
        );
    }

    #[test]
    fn only_served_queues_take_tasks_from_peers() {
        let matching = Matching::default();
        assert!(!matching.dispatch_if_served(queue("q"), task("a")));
        assert_eq!(matching.backlog(&queue("q")), 0);

        assert!(matching.serve(&queue("q")), "first serve asks for a fill");
        assert!(!matching.serve(&queue("q")), "already served");
        assert!(matching.dispatch_if_served(queue("q"), task("b")));
        assert_eq!(matching.backlog(&queue("q")), 1);

        matching.stop_serving(&queue("q"));
        assert!(!matching.dispatch_if_served(queue("q"), task("c")));
        assert!(
            matching.serve(&queue("q")),
            "a stopped queue must be filled again"
        );
    }

    #[tokio::test]
    async fn idle_queues_stop_being_served_and_drop_their_tasks() {
        let matching = Matching::default();
        let (busy, idle) = (queue("busy"), queue("idle"));
        for q in [&busy, &idle] {
            matching.serve(q);
        }
        let deadline = Instant::now() + Duration::from_millis(1);
        assert!(
            matching
                .next(idle.clone(), "w", Time(100), deadline)
                .await
                .is_none()
        );
        assert!(
            matching
                .next(busy.clone(), "w", Time(300), deadline)
                .await
                .is_none()
        );
        matching.dispatch(idle.clone(), task("x"));
        matching.dispatch(busy.clone(), task("y"));

        matching.stop_serving_idle(Time(200));
        assert_eq!(
            matching.backlog(&idle),
            0,
            "the idle queue's tasks are dropped"
        );
        assert!(!matching.dispatch_if_served(idle.clone(), task("z")));
        assert_eq!(
            matching.backlog(&busy),
            1,
            "the polled queue keeps its tasks"
        );
        assert!(matching.dispatch_if_served(busy, task("w")));
    }
}
