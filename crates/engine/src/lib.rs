//! Keel's engine: the only layer with clocks and tasks.
//!
//! It owns concurrency around the pure core: one transition at a time per execution
//! ([`executions`]), task queues with long-polling workers ([`matching`]), durable timers
//! ([`timers`]) and the operations the frontends call. It keeps no durable truth in
//! memory: cached states, queues and timers are rebuilt from the store at start-up
//! ([`Engine::start`]), and every change is a store commit with a version check.
//! It knows nothing of protobuf or HTTP.

mod activity_tasks;
mod children;
mod executions;
mod flows;
pub mod matching;
pub mod metrics;
mod namespaces;
pub mod operators;
mod peers;
mod plans;
mod polls;
mod queries;
mod requests;
mod reset;
mod schedules;
mod start;
pub mod timers;
mod updates;
mod wakes;
mod workflow_queries;
mod workflow_tasks;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keel_core::{Rejection, Time};
use keel_store::Store;

pub use activity_tasks::{ActivityOutcome, ActivityTarget, PolledActivityTask};
pub use keel_store::LogLine;
pub use keel_store::{ExecutionSummary, FlowRevision, Page};
pub use matching::{PollerInfo, QueueId, SeenPoller, TaskKind};
pub use metrics::MetricsSnapshot;
pub use queries::{HistoryPage, HistoryRequest};
pub use reset::ResetWorkflow;
pub use start::{StartRequest, StartResult};
pub use updates::{UpdateStatus, UpdateWaitStage};
pub use workflow_queries::{QueryAnswer, QueryOutcome, RejectCondition, WorkflowQuery};
pub use workflow_tasks::{PolledWorkflowTask, WorkflowTaskCompleted};

/// Errors by what the caller can do about them.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    #[error("Namespace {0} is not found.")]
    NamespaceNotFound(String),
    #[error("{message}")]
    AlreadyStarted {
        message: String,
        start_request_id: String,
        run_id: String,
    },
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    NamespaceAlreadyExists(String),
    /// The caller's view is out of date (a schedule's conflict token, say).
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Unimplemented(String),
    #[error("{0}")]
    Unavailable(String),
    /// The workflow's code failed to answer a query.
    #[error("{message}")]
    QueryFailed {
        message: String,
        /// The worker's failure, encoded by the frontend.
        failure: Option<keel_core::Blob>,
    },
    #[error("{0}")]
    DeadlineExceeded(String),
    /// Another writer changed what this call read; trying again will read the change.
    #[error("concurrent update, retry: {0}")]
    Conflict(String),
    /// What is stored of the run does not decode (see `keel doctor`); retrying cannot help.
    #[error("{0}")]
    DataLoss(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<Rejection> for Error {
    fn from(rejection: Rejection) -> Error {
        match rejection {
            Rejection::NotFound(m) => Error::NotFound(m),
            Rejection::InvalidArgument(m) => Error::InvalidArgument(m),
            Rejection::Unimplemented(m) => Error::Unimplemented(m),
        }
    }
}

impl From<keel_store::Error> for Error {
    fn from(error: keel_store::Error) -> Error {
        match error {
            keel_store::Error::NotFound(m) => Error::NotFound(m),
            keel_store::Error::AlreadyExists(m) => Error::AlreadyExists(m),
            keel_store::Error::InvalidArgument(m) => Error::InvalidArgument(m),
            keel_store::Error::Conflict(m) => Error::Conflict(m),
            keel_store::Error::Unavailable(m) => Error::Unavailable(m),
            keel_store::Error::DataLoss(m) => Error::DataLoss(m),
        }
    }
}

/// The engine's only source of `now`: the system's wall clock, or, for tests, a clock that
/// moves only when told to ([`Clock::manual`], [`Clock::advance`]). Everything that waits
/// for a time of an execution's (timers, timeouts, retries, schedules, planned runs) waits
/// through [`Clock::sleep_until`], so a test moves time and sees what is then due happen.
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<Arc<ManualTime>>,
}

struct ManualTime {
    now: std::sync::atomic::AtomicI64,
    moved: tokio::sync::Notify,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.manual {
            None => f.write_str("Clock::system"),
            Some(_) => write!(f, "Clock::manual({:?})", self.now()),
        }
    }
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that starts at `start` and moves only by [`Clock::advance`].
    pub fn manual(start: Time) -> Clock {
        Clock {
            manual: Some(Arc::new(ManualTime {
                now: std::sync::atomic::AtomicI64::new(start.0),
                moved: tokio::sync::Notify::new(),
            })),
        }
    }

    pub fn now(&self) -> Time {
        if let Some(manual) = &self.manual {
            return Time(manual.now.load(std::sync::atomic::Ordering::SeqCst));
        }
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Time(i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX))
    }

    /// Moves a manual clock on by `by` and wakes whatever waits on it. The system clock
    /// cannot be moved: this does nothing to it.
    pub fn advance(&self, by: Duration) {
        if let Some(manual) = &self.manual {
            let nanos = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
            manual
                .now
                .fetch_add(nanos, std::sync::atomic::Ordering::SeqCst);
            manual.moved.notify_waiters();
        }
    }

    /// Returns once this clock reads `at` or later.
    pub async fn sleep_until(&self, at: Time) {
        match &self.manual {
            None => tokio::time::sleep(self.now().until(at)).await,
            Some(manual) => loop {
                // Registered before the check, so a move in between is not missed.
                let moved = manual.moved.notified();
                if self.now() >= at {
                    return;
                }
                moved.await;
            },
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Where `now` comes from: the system clock, except in tests.
    pub clock: Clock,
    /// How long a poll waits for a task before answering empty.
    pub long_poll_timeout: Duration,
    pub limits: Limits,
    /// Encodes a search attribute value as the frontend stores payloads; with it, workflows
    /// a schedule starts carry TemporalScheduledById and TemporalScheduledStartTime.
    pub encode_search_value: Option<
        fn(
            &keel_core::search::SearchValue,
            keel_core::search::SearchAttributeType,
        ) -> keel_core::Blob,
    >,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            clock: Clock::system(),
            long_poll_timeout: Duration::from_secs(60),
            limits: Limits::default(),
            encode_search_value: None,
        }
    }
}

/// How large executions may grow; Temporal's defaults.
#[derive(Clone, Debug)]
pub struct Limits {
    /// A run whose history passes either is terminated (unless it continues as new first).
    pub max_history_events: i64,
    pub max_history_bytes: i64,
    /// Passing either is logged as a warning, once per run.
    pub warn_history_events: i64,
    pub warn_history_bytes: i64,
    /// The largest payload (input, result, details) a request may carry, and the largest memo.
    pub max_payload_bytes: usize,
    pub max_memo_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_history_events: 50_000,
            max_history_bytes: 50 * 1024 * 1024,
            warn_history_events: 10_000,
            warn_history_bytes: 10 * 1024 * 1024,
            max_payload_bytes: 2 * 1024 * 1024,
            max_memo_bytes: 32 * 1024,
        }
    }
}

impl Limits {
    /// Why `execution` must be terminated, if its history is past a limit. Events buffered
    /// while a workflow task runs (signals, say) count: they are history as soon as the task
    /// ends, and a burst of them must not carry a run far past its limit.
    fn exceeded(&self, execution: &keel_core::Execution) -> Option<&'static str> {
        let length = execution.history_length() + execution.buffered.len() as i64;
        if length > self.max_history_events {
            Some("Workflow history count exceeds limit.")
        } else if execution.history_size_bytes > self.max_history_bytes {
            Some("Workflow history size exceeds limit.")
        } else {
            None
        }
    }

    fn warned(&self, execution: &keel_core::Execution) -> bool {
        execution.history_length() > self.warn_history_events
            || execution.history_size_bytes > self.warn_history_bytes
    }
}

/// Cheap-to-clone handle to the engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    clock: Clock,
    options: Options,
    executions: executions::Cache,
    matching: matching::Matching,
    timers: timers::Timers,
    namespaces: namespaces::Namespaces,
    start_locks: start::StartLocks,
    queries: workflow_queries::Queries,
    update_rejections: updates::Rejections,
    schedules: schedules::Schedules,
    plans: plans::Plans,
    /// Set when other nodes share the store.
    peers: Option<peers::Peers>,
    /// Runs started or changing status or phase (see `operators::changes`).
    changes: tokio::sync::broadcast::Sender<ExecutionSummary>,
    /// Runs that got log lines.
    logs_appended: tokio::sync::broadcast::Sender<keel_core::ExecutionKey>,
    metrics: metrics::Metrics,
}

impl Engine {
    /// Loads namespaces and running executions, re-queues their pending tasks, re-arms their
    /// timers, and starts the timer loop.
    pub async fn start(store: Arc<dyn Store>, options: Options) -> Result<Engine> {
        let clock = options.clock.clone();
        let engine = Engine {
            inner: Arc::new(Inner {
                store: store.clone(),
                clock: clock.clone(),
                options,
                executions: executions::Cache::default(),
                matching: matching::Matching::default(),
                timers: timers::Timers::default(),
                namespaces: namespaces::Namespaces::default(),
                start_locks: start::StartLocks::default(),
                queries: workflow_queries::Queries::default(),
                update_rejections: updates::Rejections::default(),
                schedules: schedules::Schedules::default(),
                plans: plans::Plans::default(),
                peers: store
                    .notices()
                    .is_some()
                    .then(|| peers::Peers::new(store.max_notice_len())),
                changes: tokio::sync::broadcast::channel(operators::FEED_CAPACITY).0,
                logs_appended: tokio::sync::broadcast::channel(operators::FEED_CAPACITY).0,
                metrics: metrics::Metrics::default(),
            }),
        };
        // Listen before reading, so that nothing committed meanwhile goes unnoticed.
        if let Some(feed) = store.notices() {
            tokio::spawn(Engine::follow_peers(Arc::downgrade(&engine.inner), feed));
        }
        engine.load_namespaces().await?;
        let running = store.running_executions().await?;
        let n_running = running.len();
        for execution in running {
            engine.recover(execution);
        }
        tracing::info!(n_running, "recovered running executions");
        engine.recover_schedules().await?;
        engine.recover_plans().await?;
        for kind in [schedules::wake_kind(), plans::wake_kind()] {
            tokio::spawn(wakes::run(Arc::downgrade(&engine.inner), kind));
        }
        if engine.inner.peers.is_some() {
            tokio::spawn(Engine::keep_up_with_peers(Arc::downgrade(&engine.inner)));
        }
        let timers = engine.inner.timers.clone();
        let weak = Arc::downgrade(&engine.inner);
        tokio::spawn(timers.run(clock, move |key| {
            if let Some(inner) = weak.upgrade() {
                let engine = Engine { inner };
                tokio::spawn(async move { engine.fire_deadlines(key).await });
            }
        }));
        Ok(engine)
    }

    /// The engine's clock.
    pub fn now(&self) -> Time {
        self.inner.clock.now()
    }

    /// Runs `work` in the background until it succeeds or fails for good; a store outage is
    /// waited out.
    pub(crate) fn in_background<F, Fut>(&self, what: &'static str, work: F)
    where
        F: Fn(Engine) -> Fut + Send + 'static,
        Fut: Future<Output = Result<()>> + Send,
    {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(100);
            loop {
                match work(engine.clone()).await {
                    Ok(()) => return,
                    Err(Error::Unavailable(message) | Error::Conflict(message)) => {
                        tracing::debug!(what, %message, "retrying");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(10));
                    }
                    Err(Error::DataLoss(message)) => {
                        tracing::error!(what, %message, "given up: the run's stored data is lost");
                        return;
                    }
                    Err(error) => {
                        tracing::debug!(what, %error, "nothing (more) to do");
                        return;
                    }
                }
            }
        });
    }
}

impl Engine {
    /// How long polls wait before answering empty.
    pub fn long_poll_timeout(&self) -> std::time::Duration {
        self.inner.options.long_poll_timeout
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.options.limits
    }
}
