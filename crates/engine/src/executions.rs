//! Per-execution serialisation and the state cache.
//!
//! Every change to an execution goes through [`Engine::update`]: take the execution's
//! lock, apply a core transition to a copy of the cached state, commit it (new events,
//! new state, version check) and only then replace the cache and perform the effects.
//! A transition the core refuses, or a failed commit, leaves the cache untouched.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use keel_core::{Effect, Event, Execution, ExecutionKey, Outcome, QueueKind, Rejection, Time};
use keel_store::{CurrentRunChange, Write};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::matching::{QueueId, QueuedTask, TaskKind};
use crate::{Engine, Error, Result};

pub(crate) type Slot = Arc<tokio::sync::Mutex<Option<Execution>>>;

/// What a history reader waits on: the next event id, and whether the run closed.
pub(crate) type Progress = (i64, bool);

#[derive(Default)]
pub(crate) struct Cache {
    slots: Mutex<HashMap<ExecutionKey, Slot>>,
    watchers: Mutex<HashMap<ExecutionKey, watch::Sender<Progress>>>,
    sticky: Mutex<StickyIndex>,
    tails: Mutex<HashMap<ExecutionKey, Tail>>,
}

/// The recent history of a running execution: the events after its last completed workflow
/// task, which is what a sticky worker is sent with its next task. Kept so that handing out
/// a task needs no store read; anything older is read from the store.
struct Tail {
    first_event_id: i64,
    events: Vec<Event>,
}

/// Which runs a worker's sticky queue holds, so a worker that shuts down releases them at
/// once instead of after a sticky timeout.
#[derive(Default)]
struct StickyIndex {
    by_queue: HashMap<(String, String), HashSet<ExecutionKey>>,
    by_execution: HashMap<ExecutionKey, String>,
}

impl Cache {
    fn slot(&self, key: &ExecutionKey) -> Slot {
        let mut slots = self.slots.lock();
        slots.entry(key.clone()).or_default().clone()
    }

    fn evict(&self, key: &ExecutionKey) {
        self.slots.lock().remove(key);
    }

    /// Drops the cached state of `key` unless it is at `version` or newer already, so the
    /// next transition reads the store.
    pub(crate) fn forget_older(&self, key: &ExecutionKey, version: i64) {
        let mut slots = self.slots.lock();
        let current = slots.get(key).and_then(|slot| {
            // A slot in use is being updated: forget it rather than wait.
            let cached = slot.try_lock().ok()?;
            cached.as_ref().map(|execution| execution.version)
        });
        if current.is_none_or(|cached| cached < version) {
            slots.remove(key);
        }
    }

    /// Drops every cached state and history tail.
    pub(crate) fn forget_all(&self) {
        self.slots.lock().clear();
        self.tails.lock().clear();
    }

    /// Caches a state this node just committed or read from the store, unless its slot
    /// holds one already or is in use. Either means another task got there first (a worker
    /// took a task dispatched a moment ago and committed its start, say), so what the slot
    /// holds or is about to hold is at least as new: overwriting it would bring back a stale
    /// state.
    pub(crate) fn insert(&self, execution: Execution) {
        let slot = self.slot(&execution.key);
        if let Ok(mut cached) = slot.try_lock()
            && cached.is_none()
        {
            *cached = Some(execution);
        }
    }

    fn extend_tail(&self, execution: &Execution, events: &[Event]) {
        let mut tails = self.tails.lock();
        let key = &execution.key;
        if !execution.is_running() {
            tails.remove(key);
            return;
        }
        let Some(first) = events.first() else { return };
        let contiguous = tails
            .get(key)
            .is_some_and(|tail| tail.first_event_id + tail.events.len() as i64 == first.id);
        if !contiguous {
            tails.insert(
                key.clone(),
                Tail {
                    first_event_id: first.id,
                    events: Vec::new(),
                },
            );
        }
        let tail = tails.get_mut(key).expect("inserted above");
        tail.events.extend_from_slice(events);
        let keep_from = execution.previous_started_event_id + 1;
        if keep_from > tail.first_event_id {
            let drop = ((keep_from - tail.first_event_id) as usize).min(tail.events.len());
            tail.events.drain(..drop);
            tail.first_event_id += drop as i64;
        }
    }

    /// Events `first..=last` from the tail, if it holds all of them.
    pub(crate) fn tail_events(
        &self,
        key: &ExecutionKey,
        first: i64,
        last: i64,
    ) -> Option<Vec<Event>> {
        let tails = self.tails.lock();
        let tail = tails.get(key)?;
        let start = usize::try_from(first - tail.first_event_id).ok()?;
        let end = usize::try_from(last - tail.first_event_id + 1).ok()?;
        tail.events.get(start..end).map(<[Event]>::to_vec)
    }

    pub(crate) fn subscribe(
        &self,
        key: &ExecutionKey,
        current: Progress,
    ) -> watch::Receiver<Progress> {
        let mut watchers = self.watchers.lock();
        watchers
            .entry(key.clone())
            .or_insert_with(|| watch::channel(current).0)
            .subscribe()
    }

    /// Records which sticky queue (if any) holds the run `key`.
    /// Answers whether the index changed.
    pub(crate) fn index_sticky_queue(&self, key: &ExecutionKey, queue: Option<String>) -> bool {
        let mut index = self.sticky.lock();
        if index.by_execution.get(key) == queue.as_ref() {
            return false;
        }
        if let Some(old) = index.by_execution.remove(key) {
            let entry = (key.namespace.clone(), old);
            if let Some(keys) = index.by_queue.get_mut(&entry) {
                keys.remove(key);
                if keys.is_empty() {
                    index.by_queue.remove(&entry);
                }
            }
        }
        if let Some(queue) = queue {
            index
                .by_queue
                .entry((key.namespace.clone(), queue.clone()))
                .or_default()
                .insert(key.clone());
            index.by_execution.insert(key.clone(), queue);
        }
        true
    }

    pub(crate) fn sticky_executions(&self, namespace: &str, queue: &str) -> Vec<ExecutionKey> {
        let index = self.sticky.lock();
        index
            .by_queue
            .get(&(namespace.to_owned(), queue.to_owned()))
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Calls `visit` with every run in the cache that no one is changing right now (on one
    /// node, every running run: `recover` loads them all, and a closed run is evicted).
    pub(crate) fn for_each_idle(&self, mut visit: impl FnMut(&Execution)) {
        let slots: Vec<Slot> = self.slots.lock().values().cloned().collect();
        for slot in slots {
            if let Ok(cached) = slot.try_lock()
                && let Some(execution) = cached.as_ref()
            {
                visit(execution);
            }
        }
    }

    /// The runs someone is waiting on for new history.
    pub(crate) fn watched(&self) -> Vec<ExecutionKey> {
        let watchers = self.watchers.lock();
        watchers.keys().cloned().collect()
    }

    /// Wakes the history readers of `key`.
    pub(crate) fn publish_progress(&self, key: &ExecutionKey, next_event_id: i64, closed: bool) {
        let mut watchers = self.watchers.lock();
        if let Some(sender) = watchers.get(key) {
            let _ = sender.send_if_modified(|progress| {
                let newer = (next_event_id, closed) > *progress;
                if newer {
                    *progress = (next_event_id, closed);
                }
                newer
            });
            if sender.receiver_count() == 0 || closed {
                watchers.remove(key);
            }
        }
    }
}

impl Engine {
    /// Applies `transition` to the execution and commits it. The closure works on a copy;
    /// it returns the outcome to commit and a value for the caller. Should another node have
    /// changed the execution since it was cached, the commit's version check fails and the
    /// transition is applied again to the state read afresh (so the closure may run more than
    /// once).
    pub(crate) async fn update<T>(
        &self,
        key: &ExecutionKey,
        mut transition: impl FnMut(&mut Execution, Time) -> std::result::Result<(Outcome, T), Rejection>,
    ) -> Result<T> {
        const ATTEMPTS: usize = 8;
        let mut attempt = 1;
        loop {
            match self.try_update(key, &mut transition).await {
                Err(Error::Conflict(message)) if attempt < ATTEMPTS => {
                    tracing::debug!(?key, attempt, %message, "execution changed meanwhile; retrying");
                    attempt += 1;
                }
                Err(Error::Conflict(message)) => {
                    return Err(Error::Unavailable(format!(
                        "execution kept changing under {ATTEMPTS} attempts: {message}"
                    )));
                }
                other => return other,
            }
        }
    }

    async fn try_update<T>(
        &self,
        key: &ExecutionKey,
        transition: &mut impl FnMut(
            &mut Execution,
            Time,
        ) -> std::result::Result<(Outcome, T), Rejection>,
    ) -> Result<T> {
        let slot = self.inner.executions.slot(key);
        let mut cached = self.locked_state(key, &slot).await?;
        let current = cached.as_ref().expect("loaded by locked_state");
        let mut next = current.clone();
        let now = self.now();
        let (mut outcome, value) = transition(&mut next, now)?;
        if next.version == current.version {
            // Accepted without any change (a repeated request): nothing to commit.
            return Ok(value);
        }
        self.enforce_history_limits(current, &mut next, &mut outcome, now);
        let mut writes = vec![Write {
            execution: next.clone(),
            expected_version: Some(current.version),
            events: outcome.events.clone(),
            make_current: CurrentRunChange::Keep,
            attempts: outcome.attempts.clone(),
            notice: self.notice_of_commit(Some(current), &next, &outcome.effects),
        }];
        // A retried run's successor is created in the same commit: the chain never has a
        // closed link without its next one.
        let successors: Vec<(Execution, Outcome)> = outcome
            .effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::StartNextRun(next_run) => {
                    let next_run_id = uuid::Uuid::new_v4().to_string();
                    Some(Execution::start_next_run(&next, next_run, next_run_id, now))
                }
                Effect::StartResetRun(reset) => {
                    Some((reset.execution.clone(), reset.outcome.clone()))
                }
                _ => None,
            })
            .collect();
        for (successor, successor_outcome) in &successors {
            writes.push(Write {
                execution: successor.clone(),
                expected_version: None,
                events: successor_outcome.events.clone(),
                make_current: CurrentRunChange::After(next.key.run_id.clone()),
                attempts: Vec::new(),
                notice: self.notice_of_commit(None, successor, &successor_outcome.effects),
            });
        }
        if let Err(error) = self.inner.store.commit(writes).await {
            // The cached state may be behind the store (another writer): read it next time.
            *cached = None;
            return Err(error.into());
        }
        self.after_commit(Some(current), &next, &outcome.events, outcome.effects);
        for (successor, successor_outcome) in successors {
            // Cached before its first task is dispatched, so the worker taking it finds it.
            self.inner.executions.insert(successor.clone());
            self.after_commit(
                None,
                &successor,
                &successor_outcome.events,
                successor_outcome.effects,
            );
        }
        let closed = !next.is_running();
        *cached = Some(next);
        drop(cached);
        if closed {
            self.inner.executions.evict(key);
        }
        Ok(value)
    }

    /// A run whose history passed its limits is terminated in the same commit, as Temporal
    /// does; one that passes the warning thresholds is logged once.
    fn enforce_history_limits(
        &self,
        before: &Execution,
        next: &mut Execution,
        outcome: &mut Outcome,
        now: Time,
    ) {
        let limits = &self.inner.options.limits;
        if !limits.warned(before) && limits.warned(next) {
            tracing::warn!(
                key = ?next.key,
                events = next.history_length(),
                bytes = next.history_size_bytes,
                "workflow history is large; the workflow should continue as new"
            );
        }
        if !next.is_running() {
            return;
        }
        let Some(reason) = limits.exceeded(next) else {
            return;
        };
        tracing::warn!(key = ?next.key, reason, "terminating a workflow past its history limit");
        if let Ok(terminated) = next.terminate(reason, None, "keel", now) {
            outcome.events.extend(terminated.events);
            outcome.effects.extend(terminated.effects);
        }
    }

    /// Work that follows a commit: hand out tasks, re-arm the timer, wake readers.
    /// Carries out a commit's effects. `before` is the run's status and phase before the
    /// commit; `None` for a run the commit created.
    pub(crate) fn after_commit(
        &self,
        before: Option<&Execution>,
        execution: &Execution,
        events: &[Event],
        effects: Vec<Effect>,
    ) {
        self.inner.executions.extend_tail(execution, events);
        self.inner.metrics.record_commit(execution, events);
        self.publish_change(before, execution);
        for effect in effects {
            match effect {
                Effect::DispatchWorkflowTask(task) => {
                    self.dispatch(&execution.key, TaskKind::Workflow, task)
                }
                Effect::DispatchActivityTask(task) => {
                    self.dispatch(&execution.key, TaskKind::Activity, task)
                }
                // Carried out by `update`, inside the commit.
                Effect::StartNextRun(_) | Effect::StartResetRun(_) => {}
                Effect::DeliverExternalRequest { initiated_event_id } => {
                    self.deliver_external_request(execution.key.clone(), initiated_event_id)
                }
                Effect::StartChild { initiated_event_id } => {
                    self.start_child(execution.key.clone(), initiated_event_id)
                }
                Effect::NotifyParent(notice) => self.notify_parent(*notice),
                Effect::ApplyParentClosePolicies(actions) => {
                    self.apply_parent_close_policies(execution.key.clone(), actions)
                }
            }
        }
        self.inner
            .timers
            .arm(&execution.key, execution.next_deadline());
        self.index_and_publish(execution);
        self.flush_queries(execution);
    }

    fn index_and_publish(&self, execution: &Execution) {
        let executions = &self.inner.executions;
        let sticky_queue = execution.stickiness.as_ref().map(|s| s.queue.clone());
        if executions.index_sticky_queue(&execution.key, sticky_queue.clone())
            && let Some(queue) = sticky_queue
        {
            self.inner
                .matching
                .mark_sticky(&execution.key.namespace, &queue);
        }
        executions.publish_progress(
            &execution.key,
            execution.next_event_id,
            !execution.is_running(),
        );
    }

    /// Queues a task for this node's pollers.
    pub(crate) fn dispatch(&self, key: &ExecutionKey, kind: TaskKind, task: keel_core::TaskRef) {
        if task.queue.kind == QueueKind::Sticky
            && self
                .inner
                .matching
                .is_retired_sticky(&key.namespace, &task.queue.name)
        {
            // Its worker is gone: the run must drop stickiness first.
            let engine = self.clone();
            let key = key.clone();
            tokio::spawn(async move { engine.clear_stickiness(&key).await });
            return;
        }
        let queue = QueueId {
            namespace: key.namespace.clone(),
            name: task.queue.name.clone(),
            kind,
        };
        let task = QueuedTask {
            key: key.clone(),
            task,
            query: None,
        };
        if self.inner.peers.is_some() {
            // Queues nobody polls here are left to the nodes whose workers poll them: the
            // task stays pending in the store for whichever node serves the queue next.
            self.inner.matching.dispatch_if_served(queue, task);
        } else {
            self.inner.matching.dispatch(queue, task);
        }
    }

    /// Re-creates the in-memory side of a running execution read from the store: its
    /// pending tasks queued, its deadline armed (late by the peers' grace, as another node
    /// may own it), its readers woken.
    pub(crate) fn recover(&self, execution: Execution) {
        self.inner.executions.insert(execution.clone());
        for (kind, task) in pending_tasks(&execution) {
            self.dispatch(&execution.key, kind, task);
        }
        for &initiated_event_id in execution.external_requests.keys() {
            self.deliver_external_request(execution.key.clone(), initiated_event_id);
        }
        self.recover_family(&execution);
        let grace = self.peer_grace();
        self.inner.timers.arm(
            &execution.key,
            execution.next_deadline().map(|at| at.plus(grace)),
        );
        self.index_and_publish(&execution);
    }

    pub(crate) async fn fire_deadlines(&self, key: ExecutionKey) {
        loop {
            let result = self
                .update(&key, |execution, now| match execution.fire_deadlines(now) {
                    Some(outcome) => Ok((outcome, ())),
                    None => Err(Rejection::NotFound("nothing due".into())),
                })
                .await;
            match result {
                Ok(()) => return,
                Err(Error::NotFound(_)) => {
                    // Nothing due in the stored state (another node fired it, or moved the
                    // deadline): keep the wheel in step with what is stored.
                    if let Ok(execution) = self.snapshot(&key).await
                        && execution.is_running()
                    {
                        let grace = self.peer_grace();
                        self.inner
                            .timers
                            .arm(&key, execution.next_deadline().map(|at| at.plus(grace)));
                    }
                    return;
                }
                Err(error) => {
                    // The deadline is still due in the stored state; try again shortly. While
                    // the store is away every due execution lands here each second: say so
                    // once in a while, not every time.
                    if FIRING_FAILURES_REPORTED.should_report() {
                        tracing::warn!(?key, %error, "firing deadlines failed; retrying every second");
                    } else {
                        tracing::debug!(?key, %error, "firing deadlines failed; retrying in a second");
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    pub(crate) async fn clear_stickiness(&self, key: &ExecutionKey) {
        let result = self
            .update(key, |execution, now| {
                Ok((execution.clear_stickiness(now), ()))
            })
            .await;
        if let Err(error) = result {
            tracing::debug!(?key, %error, "clearing stickiness failed");
        }
    }

    /// Locks the run's slot and fills it from the store if it is empty; NotFound (and the
    /// slot forgotten) when the store has no such run.
    async fn locked_state<'a>(
        &self,
        key: &ExecutionKey,
        slot: &'a Slot,
    ) -> Result<tokio::sync::MutexGuard<'a, Option<Execution>>> {
        let mut cached = slot.lock().await;
        if cached.is_none() {
            *cached = self.inner.store.execution(key).await?;
        }
        if cached.is_none() {
            drop(cached);
            self.inner.executions.evict(key);
            return Err(Error::NotFound(format!(
                "workflow execution not found: workflow id '{}', run id '{}'",
                key.workflow_id, key.run_id
            )));
        }
        Ok(cached)
    }

    /// Runs `read` on the run's state while holding its lock, so no transition of the run
    /// commits meanwhile.
    pub(crate) async fn with_execution<T>(
        &self,
        key: &ExecutionKey,
        read: impl FnOnce(&Execution) -> T,
    ) -> Result<T> {
        let slot = self.inner.executions.slot(key);
        let cached = self.locked_state(key, &slot).await?;
        let execution = cached.as_ref().expect("loaded by locked_state");
        let value = read(execution);
        let closed = !execution.is_running();
        drop(cached);
        if closed {
            self.inner.executions.evict(key);
        }
        Ok(value)
    }

    /// The cached (or stored) state of a run, for reads.
    pub(crate) async fn snapshot(&self, key: &ExecutionKey) -> Result<Execution> {
        let slot = self.inner.executions.slot(key);
        let cached = slot.lock().await;
        if let Some(execution) = cached.as_ref() {
            return Ok(execution.clone());
        }
        drop(cached);
        self.inner.executions.evict(key);
        self.inner.store.execution(key).await?.ok_or_else(|| {
            Error::NotFound(format!(
                "workflow execution not found: workflow id '{}', run id '{}'",
                key.workflow_id, key.run_id
            ))
        })
    }
}

/// The tasks of a run that are scheduled and wait for a worker.
pub(crate) fn pending_tasks(execution: &Execution) -> Vec<(TaskKind, keel_core::TaskRef)> {
    let mut pending = Vec::new();
    if let Some(task) = &execution.workflow_task
        && task.started.is_none()
    {
        pending.push((
            TaskKind::Workflow,
            keel_core::TaskRef {
                queue: task.task_queue.clone(),
                scheduled_event_id: task.scheduled_event_id,
                attempt: task.attempt,
            },
        ));
    }
    for activity in execution.activities.values() {
        if activity.state == keel_core::ActivityState::Scheduled {
            pending.push((
                TaskKind::Activity,
                keel_core::TaskRef {
                    queue: keel_core::TaskQueue::normal(activity.scheduled.task_queue.clone()),
                    scheduled_event_id: activity.scheduled_event_id,
                    attempt: activity.attempt,
                },
            ));
        }
    }
    pending
}

static FIRING_FAILURES_REPORTED: RateLimit = RateLimit::new(10);

/// Lets a repeated message through at most once every `seconds`.
struct RateLimit {
    seconds: u64,
    last: std::sync::atomic::AtomicU64,
}

impl RateLimit {
    const fn new(seconds: u64) -> RateLimit {
        RateLimit {
            seconds,
            last: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn should_report(&self) -> bool {
        use std::sync::atomic::Ordering;
        // Log rate limits follow the wall clock, whatever the engine runs on.
        let now = u64::try_from(crate::Clock::system().now().0 / 1_000_000_000).unwrap_or(0);
        let last = self.last.load(Ordering::Relaxed);
        now >= last + self.seconds
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use keel_core::{StartParams, Time};

    use super::*;

    fn started(version_bump: i64) -> Execution {
        let key = ExecutionKey {
            namespace: "default".into(),
            workflow_id: "wf".into(),
            run_id: "run".into(),
        };
        let params = StartParams {
            workflow_type: "t".into(),
            task_queue: "q".into(),
            ..StartParams::default()
        };
        let (mut execution, _) = Execution::start(key, params, Time(1)).expect("a start");
        execution.version += version_bump;
        execution
    }

    /// The race this guards against: a new run's first task is dispatched, a worker takes
    /// it and commits its start (filling the slot) before the starter caches the run. The
    /// starter's older state must not replace the worker's.
    #[tokio::test]
    async fn caching_a_run_never_replaces_a_state_already_cached() {
        let cache = Cache::default();
        let newer = started(1);
        cache.insert(newer.clone());
        cache.insert(started(0));
        let slot = cache.slot(&newer.key);
        assert_eq!(
            slot.lock().await.as_ref().map(|e| e.version),
            Some(newer.version)
        );

        // A slot being filled by someone else (locked) is left to them, too.
        let other = started(0);
        let mut other_key = other.key.clone();
        other_key.run_id = "other".into();
        let slot = cache.slot(&other_key);
        let guard = slot.lock().await;
        let mut racing = other.clone();
        racing.key = other_key.clone();
        cache.insert(racing);
        drop(guard);
        assert!(cache.slot(&other_key).lock().await.is_none());
    }
}
