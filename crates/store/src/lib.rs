//! Keel's store: durable executions, histories, namespaces and visibility.
//!
//! The [`Store`] trait is what the engine sees; [`sqlite::SqliteStore`] is the embedded
//! default and [`postgres::PostgresStore`] the one several Keel processes can share. Only
//! this crate contains SQL. A store commits each [`Write`] atomically with a version check,
//! so a stale writer is refused instead of overwriting newer state.
//!
//! Processes sharing a store learn of each other's commits through notices: opaque
//! messages a writer attaches to a commit, delivered to the others if and only if the
//! commit happened (see [`Store::notices`]).

mod codec;
pub mod filter_sql;
pub mod migrate;
pub mod postgres;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use async_trait::async_trait;
use keel_core::attempts::EndedAttempt;
use keel_core::event::EventKind;
use keel_core::plan::PlannedRun;
use keel_core::reuse::CurrentRun;
use keel_core::schedule::Schedule;
use keel_core::search::{SearchAttributes, SearchValue, text_words};
use keel_core::visibility::Filter;
use keel_core::{Event, Execution, ExecutionKey, Namespace, Status, Time};

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// Another writer changed the row first; reload and retry.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored row does not decode: what it held is lost until repaired. The message names
    /// the row; `keel doctor` lists every such row.
    #[error("data loss: {0}")]
    DataLoss(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// The rows of a listing that decode: a row that does not is logged (it is data loss, and
/// `keel doctor` lists it) and left out, so that one broken row does not hide the others.
pub(crate) fn decodable<T>(rows: impl IntoIterator<Item = Result<T>>) -> Result<Vec<T>> {
    let mut decoded = Vec::new();
    for row in rows {
        match row {
            Ok(value) => decoded.push(value),
            Err(Error::DataLoss(message)) => tracing::error!("{message}; left out"),
            Err(other) => return Err(other),
        }
    }
    Ok(decoded)
}

/// One execution's transition, committed atomically with the others in the same call.
#[derive(Clone, Debug)]
pub struct Write {
    /// The new state; its `version` is already the new version.
    pub execution: Execution,
    /// The version the writer read; `None` creates the execution.
    pub expected_version: Option<i64>,
    pub events: Vec<Event>,
    /// For a start: what becomes of the workflow id's current run.
    pub make_current: CurrentRunChange,
    /// Activity attempts that ended and are retried, kept beside the history.
    pub attempts: Vec<EndedAttempt>,
    /// Delivered to the other processes sharing the store once the commit is durable, and
    /// never if it fails. At most [`Store::max_notice_len`] bytes.
    pub notice: Option<Vec<u8>>,
}

impl Write {
    /// The rows the run's search attributes are indexed by, when this write changes them:
    /// at its start, and with each upsert.
    pub fn search_index(&self) -> Option<Vec<IndexRow>> {
        let changed = if self.expected_version.is_none() {
            !self.execution.search_attributes.is_empty()
        } else {
            self.events
                .iter()
                .any(|event| matches!(event.kind, EventKind::UpsertWorkflowSearchAttributes { .. }))
        };
        changed.then(|| index_rows(&self.execution.search_attributes))
    }
}

/// What a write does to its workflow id's current run (the run new starts of the id are
/// checked against). Making its run current is refused with Conflict unless the current run
/// is still the one the writer saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CurrentRunChange {
    /// Leaves it as it is.
    #[default]
    Keep,
    /// Makes this write's run current; the workflow id has no run yet.
    First,
    /// Makes this write's run current in place of this run.
    After(String),
}

impl CurrentRunChange {
    /// Making this write's run current, in place of `current` (or as the first).
    pub fn replacing(current: Option<String>) -> CurrentRunChange {
        current.map_or(CurrentRunChange::First, CurrentRunChange::After)
    }
}

/// One indexed search attribute value: a row of the `search_attributes` table.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexRow {
    pub name: String,
    pub int_value: Option<i64>,
    pub real_value: Option<f64>,
    pub text_value: Option<String>,
}

/// The rows indexing `attributes`: one per value, one per keyword of a list and one per
/// word of a text.
pub fn index_rows(attributes: &SearchAttributes) -> Vec<IndexRow> {
    let mut rows = Vec::new();
    for (name, attribute) in attributes {
        let row = |int_value, real_value, text_value| IndexRow {
            name: name.clone(),
            int_value,
            real_value,
            text_value,
        };
        match &attribute.value {
            None => {}
            Some(SearchValue::Keyword(text)) => rows.push(row(None, None, Some(text.clone()))),
            Some(SearchValue::Text(text)) => {
                rows.extend(
                    text_words(text)
                        .into_iter()
                        .map(|w| row(None, None, Some(w))),
                );
            }
            Some(SearchValue::KeywordList(list)) => {
                rows.extend(list.iter().map(|k| row(None, None, Some(k.clone()))));
            }
            Some(SearchValue::Int(n) | SearchValue::Datetime(n)) => {
                rows.push(row(Some(*n), None, None));
            }
            Some(SearchValue::Bool(b)) => rows.push(row(Some(*b as i64), None, None)),
            Some(SearchValue::Double(x)) => rows.push(row(None, Some(*x), None)),
        }
    }
    rows
}

/// One saved revision of a flow: its document as written. Revisions count from 1 and
/// never change once saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRevision {
    pub namespace: String,
    pub flow_id: String,
    pub revision: i64,
    pub source: String,
    pub created: Time,
}

/// How a flow revision's `source` is stored: the YAML document as written.
pub const FLOW_SOURCE_FORMAT: i64 = 1;

/// A flow revision row as read, refused as data loss when its format is not one this
/// version reads.
pub(crate) fn flow_revision_row(
    namespace: String,
    flow_id: String,
    revision: i64,
    format: i64,
    source: String,
    created: i64,
) -> Result<FlowRevision> {
    if format != FLOW_SOURCE_FORMAT {
        return Err(Error::DataLoss(format!(
            "revision {revision} of flow '{flow_id}' in namespace '{namespace}' has format {format}, which this version does not read"
        )));
    }
    Ok(FlowRevision {
        namespace,
        flow_id,
        revision,
        source,
        created: Time(created),
    })
}

/// The error for a flow that does not exist.
pub fn flow_not_found(namespace: &str, flow_id: &str) -> Error {
    Error::NotFound(format!(
        "flow '{flow_id}' not found in namespace '{namespace}'"
    ))
}

/// The error for a planned run that does not exist.
pub fn plan_not_found(plan_id: &str) -> Error {
    Error::NotFound(format!("planned run '{plan_id}' not found"))
}

/// The error for a planned run changed by another writer.
pub fn plan_changed(plan_id: &str) -> Error {
    Error::Conflict(format!("planned run '{plan_id}' changed meanwhile"))
}

/// What [`Store::notices`] delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// A notice another process attached to a commit or sent with [`Store::send_notice`].
    Notice(Vec<u8>),
    /// The feed was interrupted (the database went away, or this reader fell behind), so
    /// notices may have been lost: whatever was derived from them must be read afresh.
    Missed,
}

/// What lists and counts show of an execution.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionSummary {
    pub key: ExecutionKey,
    pub workflow_type: String,
    pub task_queue: String,
    pub status: Status,
    pub start_time: Time,
    /// When its work begins: the start, after a start delay's, retry's or cron run's wait.
    pub execution_time: Time,
    pub close_time: Option<Time>,
    pub history_length: i64,
    pub memo: keel_core::BlobMap,
    pub search_attributes: SearchAttributes,
    /// The parent run, for a child workflow.
    pub parent: Option<ExecutionKey>,
    pub phase: keel_core::overview::Phase,
    /// The worker that handles, or last handled, the run's tasks; empty before any did.
    pub worker: String,
    /// From when its first workflow task was due until a worker took it.
    pub queue_wait: Option<std::time::Duration>,
    /// What a running run is on now, derived from its state.
    pub doing: Option<keel_core::overview::Doing>,
}

/// A line a worker (or an operator) logged for a run. Lines are not history: they do not
/// drive the run, and a replay never sees them.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    /// Increases with every line the store keeps (across runs); assigned on append.
    pub seq: i64,
    pub time: Time,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    pub message: String,
    /// The activity id of the task run it belongs to; empty for the run as a whole.
    pub task_run: String,
    pub worker: String,
}

/// The error for a run that does not exist.
pub fn run_not_found(key: &ExecutionKey) -> Error {
    Error::NotFound(format!(
        "workflow execution not found: workflow id '{}', run id '{}'",
        key.workflow_id, key.run_id
    ))
}

/// A page of a listing; `next_page_token` is empty on the last page.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub executions: Vec<ExecutionSummary>,
    pub next_page_token: Vec<u8>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn create_namespace(&self, namespace: Namespace) -> Result<()>;
    async fn update_namespace(&self, namespace: Namespace) -> Result<()>;
    async fn namespaces(&self) -> Result<Vec<Namespace>>;

    async fn commit(&self, writes: Vec<Write>) -> Result<()>;
    async fn execution(&self, key: &ExecutionKey) -> Result<Option<Execution>>;
    async fn current_run(&self, namespace: &str, workflow_id: &str) -> Result<Option<CurrentRun>>;
    /// Removes a run, its history, and its workflow id's current-run entry if it is that
    /// run; NotFound when there is no such run. The caller makes sure nothing writes it.
    async fn delete_execution(&self, key: &ExecutionKey) -> Result<()>;
    /// Every running execution, to rebuild queues and timers at start-up.
    async fn running_executions(&self) -> Result<Vec<Execution>>;
    /// Events with ids in `first_event_id..`, at most `max_events`.
    async fn history(
        &self,
        key: &ExecutionKey,
        first_event_id: i64,
        max_events: usize,
    ) -> Result<Vec<Event>>;

    /// A run's ended activity attempts, by activity (scheduled event id) and attempt.
    async fn attempts(&self, key: &ExecutionKey) -> Result<Vec<EndedAttempt>>;

    /// Appends log lines to a run, in order; NotFound when there is no such run.
    async fn append_logs(&self, key: &ExecutionKey, lines: Vec<LogLine>) -> Result<()>;
    /// A run's log lines numbered above `after`, in order, at most `max_lines`.
    async fn logs(&self, key: &ExecutionKey, after: i64, max_lines: usize) -> Result<Vec<LogLine>>;

    /// Executions matching a visibility filter (Temporal's list filter, parsed).
    async fn list_executions(
        &self,
        namespace: &str,
        filter: &Filter,
        page_size: usize,
        page_token: &[u8],
    ) -> Result<Page>;
    async fn count_executions(&self, namespace: &str, filter: &Filter) -> Result<i64>;

    /// Stores a new schedule; AlreadyExists when its id is taken in its namespace.
    async fn create_schedule(&self, schedule: &Schedule) -> Result<()>;
    /// Replaces a schedule if its stored version is still `expected_version` (Conflict
    /// otherwise, NotFound when it is gone).
    async fn update_schedule(&self, schedule: &Schedule, expected_version: i64) -> Result<()>;
    /// NotFound when there is no such schedule.
    async fn delete_schedule(&self, namespace: &str, schedule_id: &str) -> Result<()>;
    async fn schedule(&self, namespace: &str, schedule_id: &str) -> Result<Option<Schedule>>;
    /// A namespace's schedules, or every schedule, ordered by namespace and id.
    async fn schedules(&self, namespace: Option<&str>) -> Result<Vec<Schedule>>;

    /// Stores a new planned run; AlreadyExists when its id is taken in its namespace.
    async fn create_plan(&self, plan: &PlannedRun) -> Result<()>;
    /// Replaces a planned run if its stored version is still `expected_version` (Conflict
    /// otherwise, NotFound when it is gone).
    async fn update_plan(&self, plan: &PlannedRun, expected_version: i64) -> Result<()>;
    /// Removes a planned run; with `expected_version`, only if it is still that version
    /// (Conflict otherwise). NotFound when there is no such plan.
    async fn delete_plan(
        &self,
        namespace: &str,
        plan_id: &str,
        expected_version: Option<i64>,
    ) -> Result<()>;
    async fn plan(&self, namespace: &str, plan_id: &str) -> Result<Option<PlannedRun>>;
    /// A namespace's planned runs, or every one, ordered by namespace and id.
    async fn plans(&self, namespace: Option<&str>) -> Result<Vec<PlannedRun>>;

    /// Saves `source` as the flow's next revision, unless it is the latest revision's
    /// source already (then no revision is made). A deleted flow saved again is restored.
    /// Answers the latest revision and whether it is new.
    async fn save_flow(
        &self,
        namespace: &str,
        flow_id: &str,
        source: &str,
        now: Time,
    ) -> Result<(FlowRevision, bool)>;
    /// One revision of a flow; `None` for the latest revision of a flow not deleted.
    /// Revisions of a deleted flow stay readable by number (its executions run them).
    async fn flow_revision(
        &self,
        namespace: &str,
        flow_id: &str,
        revision: Option<i64>,
    ) -> Result<Option<FlowRevision>>;
    /// Every revision of a flow, oldest first (also of a deleted flow).
    async fn flow_revisions(&self, namespace: &str, flow_id: &str) -> Result<Vec<FlowRevision>>;
    /// The latest revision of every flow not deleted, of a namespace or of all, ordered
    /// by namespace and id.
    async fn flows(&self, namespace: Option<&str>) -> Result<Vec<FlowRevision>>;
    /// Marks a flow deleted (its revisions stay); NotFound when there is no such flow.
    async fn delete_flow(&self, namespace: &str, flow_id: &str) -> Result<()>;

    /// Every stored row that does not decode, each named with what it belongs to (for
    /// `keel doctor`). Reads the whole store.
    async fn undecodable_rows(&self) -> Result<Vec<String>>;

    /// Sends `message` to the other processes sharing this store, outside any commit.
    async fn send_notice(&self, message: Vec<u8>) -> Result<()>;
    /// Notices from the other processes sharing this store, each in commit order;
    /// `None` for a store no other process can share.
    fn notices(&self) -> Option<tokio::sync::broadcast::Receiver<Received>>;
    /// The longest notice the store carries.
    fn max_notice_len(&self) -> usize;
}

impl ExecutionSummary {
    pub fn of(execution: &Execution) -> ExecutionSummary {
        ExecutionSummary {
            key: execution.key.clone(),
            workflow_type: execution.workflow_type().to_owned(),
            task_queue: execution.task_queue().to_owned(),
            status: execution.status,
            start_time: execution.start_time,
            execution_time: execution.execution_time(),
            close_time: execution.close_time,
            history_length: execution.history_length(),
            memo: execution.memo.clone(),
            search_attributes: execution.search_attributes.clone(),
            parent: execution.parent.as_ref().map(|parent| parent.key.clone()),
            phase: execution.phase(),
            worker: execution.last_worker_identity.clone(),
            queue_wait: execution.queue_wait(),
            doing: execution.doing(),
        }
    }
}
