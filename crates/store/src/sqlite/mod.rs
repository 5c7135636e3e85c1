//! The embedded store: SQLite in WAL mode, one writer thread with group commit, and a small
//! pool of reader connections.
//!
//! Group commit: the writer takes every write request queued at that moment, applies them
//! in one transaction (each inside a savepoint, so one refused write does not undo the
//! others), commits once — one fsync for the lot — and only then answers each caller. A
//! caller therefore hears "ok" only for what is durable.

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

use async_trait::async_trait;
use keel_core::attempts::EndedAttempt;
use keel_core::plan::PlannedRun;
use keel_core::reuse::CurrentRun;
use keel_core::schedule::Schedule;
use keel_core::visibility::Filter;
use keel_core::{Event, Execution, ExecutionKey, Namespace, Time};
use parking_lot::Mutex;
use rusqlite::Connection;
use tokio::sync::oneshot;

mod pooled_writes;
mod reads;
mod schema;
mod writer;

use schema::migrate;
use writer::{Reply, write_loop};

use crate::{Error, LogLine, Page, Result, Store, Write};

const READERS: usize = 4;

#[derive(Clone)]
pub struct SqliteStore {
    writer: mpsc::Sender<(Vec<Write>, Reply)>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let mut conn = open_connection(path)?;
        migrate(&mut conn).map_err(|error| match error {
            Error::Unavailable(message) => {
                Error::Unavailable(format!("cannot use {}: {message}", path.display()))
            }
            other => other,
        })?;
        let (writer, requests) = mpsc::channel();
        std::thread::Builder::new()
            .name("keel-sqlite-writer".into())
            .spawn(move || write_loop(conn, requests))
            .map_err(|e| Error::Unavailable(format!("cannot start the writer thread: {e}")))?;
        let readers = (0..READERS)
            .map(|_| open_connection(path))
            .collect::<Result<Vec<_>>>()?;
        Ok(SqliteStore {
            writer,
            readers: Arc::new(Mutex::new(readers)),
            path: path.to_owned(),
        })
    }

    /// Runs a read on a pooled connection, off the async runtime.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => open_connection(&path)?,
            };
            let result = f(&conn);
            readers.lock().push(conn);
            result
        })
        .await
        .map_err(|e| Error::Unavailable(format!("read task failed: {e}")))?
    }
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)
        .map_err(|e| Error::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    // WAL with synchronous=FULL: every commit is fsynced before it returns. LIKE is made
    // case-sensitive so STARTS_WITH means the same on every backend.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA busy_timeout = 5000;
         PRAGMA foreign_keys = ON;
         PRAGMA case_sensitive_like = ON;",
    )
    .map_err(sql_error)?;
    Ok(conn)
}

fn sql_error(error: rusqlite::Error) -> Error {
    Error::Unavailable(error.to_string())
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_namespace(&self, namespace: Namespace) -> Result<()> {
        pooled_writes::create_namespace(self, namespace).await
    }

    async fn create_schedule(&self, schedule: &Schedule) -> Result<()> {
        pooled_writes::create_schedule(self, schedule).await
    }

    async fn update_schedule(&self, schedule: &Schedule, expected_version: i64) -> Result<()> {
        pooled_writes::update_schedule(self, schedule, expected_version).await
    }

    async fn delete_schedule(&self, namespace: &str, schedule_id: &str) -> Result<()> {
        pooled_writes::delete_schedule(self, namespace, schedule_id).await
    }

    async fn schedule(&self, namespace: &str, schedule_id: &str) -> Result<Option<Schedule>> {
        reads::schedule(self, namespace, schedule_id).await
    }

    async fn schedules(&self, namespace: Option<&str>) -> Result<Vec<Schedule>> {
        reads::schedules(self, namespace).await
    }

    async fn create_plan(&self, plan: &PlannedRun) -> Result<()> {
        pooled_writes::create_plan(self, plan).await
    }

    async fn update_plan(&self, plan: &PlannedRun, expected_version: i64) -> Result<()> {
        pooled_writes::update_plan(self, plan, expected_version).await
    }

    async fn delete_plan(
        &self,
        namespace: &str,
        plan_id: &str,
        expected_version: Option<i64>,
    ) -> Result<()> {
        pooled_writes::delete_plan(self, namespace, plan_id, expected_version).await
    }

    async fn plan(&self, namespace: &str, plan_id: &str) -> Result<Option<PlannedRun>> {
        reads::plan(self, namespace, plan_id).await
    }

    async fn plans(&self, namespace: Option<&str>) -> Result<Vec<PlannedRun>> {
        reads::plans(self, namespace).await
    }

    async fn save_flow(
        &self,
        namespace: &str,
        flow_id: &str,
        source: &str,
        now: Time,
    ) -> Result<(crate::FlowRevision, bool)> {
        pooled_writes::save_flow(self, namespace, flow_id, source, now).await
    }

    async fn flow_revision(
        &self,
        namespace: &str,
        flow_id: &str,
        revision: Option<i64>,
    ) -> Result<Option<crate::FlowRevision>> {
        reads::flow_revision(self, namespace, flow_id, revision).await
    }

    async fn flow_revisions(
        &self,
        namespace: &str,
        flow_id: &str,
    ) -> Result<Vec<crate::FlowRevision>> {
        reads::flow_revisions(self, namespace, flow_id).await
    }

    async fn flows(&self, namespace: Option<&str>) -> Result<Vec<crate::FlowRevision>> {
        reads::flows(self, namespace).await
    }

    async fn delete_flow(&self, namespace: &str, flow_id: &str) -> Result<()> {
        pooled_writes::delete_flow(self, namespace, flow_id).await
    }

    async fn delete_execution(&self, key: &ExecutionKey) -> Result<()> {
        pooled_writes::delete_execution(self, key).await
    }

    async fn update_namespace(&self, namespace: Namespace) -> Result<()> {
        pooled_writes::update_namespace(self, namespace).await
    }

    async fn namespaces(&self) -> Result<Vec<Namespace>> {
        reads::namespaces(self).await
    }

    async fn commit(&self, writes: Vec<Write>) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send((writes, reply))
            .map_err(|_| Error::Unavailable("the writer thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Unavailable("the writer thread has stopped".into()))?
    }

    async fn execution(&self, key: &ExecutionKey) -> Result<Option<Execution>> {
        reads::execution(self, key).await
    }

    async fn current_run(&self, namespace: &str, workflow_id: &str) -> Result<Option<CurrentRun>> {
        reads::current_run(self, namespace, workflow_id).await
    }

    async fn running_executions(&self) -> Result<Vec<Execution>> {
        reads::running_executions(self).await
    }

    async fn history(
        &self,
        key: &ExecutionKey,
        first_event_id: i64,
        max_events: usize,
    ) -> Result<Vec<Event>> {
        reads::history(self, key, first_event_id, max_events).await
    }

    async fn append_logs(&self, key: &ExecutionKey, lines: Vec<LogLine>) -> Result<()> {
        pooled_writes::append_logs(self, key, lines).await
    }

    async fn attempts(&self, key: &ExecutionKey) -> Result<Vec<EndedAttempt>> {
        reads::attempts(self, key).await
    }

    async fn logs(&self, key: &ExecutionKey, after: i64, max_lines: usize) -> Result<Vec<LogLine>> {
        reads::logs(self, key, after, max_lines).await
    }

    async fn list_executions(
        &self,
        namespace: &str,
        filter: &Filter,
        page_size: usize,
        page_token: &[u8],
    ) -> Result<Page> {
        reads::list_executions(self, namespace, filter, page_size, page_token).await
    }

    async fn count_executions(&self, namespace: &str, filter: &Filter) -> Result<i64> {
        reads::count_executions(self, namespace, filter).await
    }

    async fn undecodable_rows(&self) -> Result<Vec<String>> {
        reads::undecodable_rows(self).await
    }

    async fn send_notice(&self, _message: Vec<u8>) -> Result<()> {
        // No other process can open the database while this one writes to it.
        Ok(())
    }

    fn notices(&self) -> Option<tokio::sync::broadcast::Receiver<crate::Received>> {
        None
    }

    fn max_notice_len(&self) -> usize {
        usize::MAX
    }
}
