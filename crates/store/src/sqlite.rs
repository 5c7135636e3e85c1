//! The embedded store: SQLite in WAL mode, one writer thread with group commit, and a small
//! pool of reader connections.
//!
//! Group commit: the writer takes every write request queued at that moment, applies them
//! in one transaction (each inside a savepoint, so one refused write does not undo the
//! others), commits once — one fsync for the lot — and only then answers each caller. A
//! caller therefore hears "ok" only for what is durable.

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

use parking_lot::Mutex;

use async_trait::async_trait;
use keel_core::attempts::EndedAttempt;
use keel_core::plan::PlannedRun;
use keel_core::reuse::CurrentRun;
use keel_core::schedule::Schedule;
use keel_core::visibility::Filter;
use keel_core::{Event, Execution, ExecutionKey, Namespace, Status, Time};
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};
use tokio::sync::oneshot;

use crate::codec::{
    self, EVENT, EXECUTION, NAMESPACE, SCHEDULE, Stored, decode_as, decode_attempt, decode_offset,
    decode_plan, encode_as, encode_attempt, encode_plan, page, run_row,
};
use crate::filter_sql::{SqlParam, to_sql};
use crate::migrate::{self, Migration};
use crate::{
    Error, LogLine, Page, Result, Store, Write, plan_changed, plan_not_found, run_not_found,
};

/// The schema, in SQLite's dialect (see [`crate::migrate`]).
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: "CREATE TABLE namespaces (
        name TEXT PRIMARY KEY,
        data BLOB NOT NULL
    );
    CREATE TABLE executions (
        id INTEGER PRIMARY KEY,
        namespace TEXT NOT NULL,
        workflow_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        workflow_type TEXT NOT NULL,
        task_queue TEXT NOT NULL,
        status INTEGER NOT NULL,
        start_time INTEGER NOT NULL,
        close_time INTEGER,
        execution_time INTEGER NOT NULL,
        history_length INTEGER NOT NULL,
        start_request_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        state BLOB NOT NULL,
        UNIQUE (namespace, workflow_id, run_id)
    );
    CREATE INDEX executions_by_start ON executions (namespace, start_time DESC, run_id DESC);
    CREATE INDEX executions_by_status ON executions (status);
    CREATE TABLE current_runs (
        namespace TEXT NOT NULL,
        workflow_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        PRIMARY KEY (namespace, workflow_id)
    ) WITHOUT ROWID;
    CREATE TABLE history (
        execution INTEGER NOT NULL,
        event_id INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (execution, event_id)
    ) WITHOUT ROWID;",
    },
    Migration {
        version: 2,
        sql: "CREATE TABLE search_attributes (
        execution INTEGER NOT NULL,
        name TEXT NOT NULL,
        int_value INTEGER,
        real_value REAL,
        text_value TEXT
    );
    CREATE INDEX search_attributes_by_execution ON search_attributes (execution);
    CREATE INDEX search_attributes_by_text ON search_attributes (name, text_value);
    CREATE INDEX search_attributes_by_int ON search_attributes (name, int_value);",
    },
    Migration {
        version: 3,
        sql: "CREATE TABLE schedules (
        namespace TEXT NOT NULL,
        schedule_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (namespace, schedule_id)
    ) WITHOUT ROWID;",
    },
    Migration {
        version: 4,
        sql: PHASE_WORKER_PARENT_COLUMNS,
    },
    Migration {
        version: 5,
        sql: "CREATE TABLE planned_runs (
        namespace TEXT NOT NULL,
        plan_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        format INTEGER NOT NULL,
        start_at INTEGER,
        data BLOB NOT NULL,
        PRIMARY KEY (namespace, plan_id)
    ) WITHOUT ROWID;",
    },
    Migration {
        version: 6,
        sql: "CREATE TABLE activity_attempts (
        execution INTEGER NOT NULL,
        scheduled_event_id INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        format INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (execution, scheduled_event_id, attempt)
    ) WITHOUT ROWID;",
    },
];

/// The columns a listing shows a run by when its state does not decode.
const SUMMARY_COLUMNS: &str = "namespace, workflow_id, run_id, workflow_type, task_queue, status, \
    start_time, close_time, history_length, phase, worker";
const SUMMARY_COLUMN_COUNT: usize = 11;

fn key_of(row: &rusqlite::Row) -> rusqlite::Result<ExecutionKey> {
    Ok(ExecutionKey {
        namespace: row.get(0)?,
        workflow_id: row.get(1)?,
        run_id: row.get(2)?,
    })
}

fn summary_columns(row: &rusqlite::Row) -> rusqlite::Result<codec::SummaryColumns> {
    Ok(codec::SummaryColumns {
        key: key_of(row)?,
        workflow_type: row.get(3)?,
        task_queue: row.get(4)?,
        status: row.get(5)?,
        start_time: row.get(6)?,
        close_time: row.get(7)?,
        history_length: row.get(8)?,
        phase: row.get(9)?,
        worker: row.get(10)?,
    })
}

/// Columns the operators' filters need. Rows written before them get the phase their status
/// implies (a running run counts as Running until its next write); their worker and parent
/// stay unknown.
const PHASE_WORKER_PARENT_COLUMNS: &str = "ALTER TABLE executions ADD COLUMN phase INTEGER NOT NULL DEFAULT 2;
    ALTER TABLE executions ADD COLUMN worker TEXT NOT NULL DEFAULT '';
    ALTER TABLE executions ADD COLUMN parent_workflow_id TEXT;
    UPDATE executions SET phase = CASE status
        WHEN 2 THEN 3 WHEN 6 THEN 3 WHEN 3 THEN 4 WHEN 5 THEN 4 WHEN 7 THEN 4 WHEN 4 THEN 5 ELSE 2 END;
    CREATE TABLE logs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        execution INTEGER NOT NULL,
        time INTEGER NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL,
        task_run TEXT NOT NULL,
        worker TEXT NOT NULL
    );
    CREATE INDEX logs_by_execution ON logs (execution, seq);";

fn plan_exists(conn: &Connection, namespace: &str, plan_id: &str) -> Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM planned_runs WHERE namespace = ? AND plan_id = ?)",
        params![namespace, plan_id],
        |row| row.get(0),
    )
    .map_err(sql_error)
}

const READERS: usize = 4;
/// How many queued requests one transaction takes at most.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<()>>;

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

/// A transaction that writes from a reader connection, beside the writer thread. It takes
/// the write lock at its start (waiting up to the busy timeout for it): a deferred one would
/// read first and then fail at once with "database is locked" when the writer committed in
/// between, as its snapshot could no longer be written from.
fn write_transaction(conn: &Connection) -> Result<Transaction<'_>> {
    Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate).map_err(sql_error)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction().map_err(sql_error)?;
    tx.execute_batch(migrate::VERSION_TABLE)
        .map_err(sql_error)?;
    let current: i64 = tx
        .query_row(migrate::CURRENT_VERSION, [], |row| row.get(0))
        .map_err(sql_error)?;
    for migration in migrate::pending(current, MIGRATIONS)? {
        tx.execute_batch(migration.sql).map_err(sql_error)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?)",
            [migration.version],
        )
        .map_err(sql_error)?;
    }
    tx.commit().map_err(sql_error)
}

fn sql_error(error: rusqlite::Error) -> Error {
    Error::Unavailable(error.to_string())
}

fn write_loop(mut conn: Connection, requests: mpsc::Receiver<(Vec<Write>, Reply)>) {
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let results = commit_batch(&mut conn, &batch);
        for ((_, reply), result) in batch.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }
}

/// Applies a batch in one transaction. Each request gets its own result: a refused request
/// is rolled back to its savepoint; a failed commit fails them all.
fn commit_batch(conn: &mut Connection, batch: &[(Vec<Write>, Reply)]) -> Vec<Result<()>> {
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            return batch
                .iter()
                .map(|_| Err(Error::Unavailable(e.to_string())))
                .collect();
        }
    };
    let mut results = Vec::with_capacity(batch.len());
    for (writes, _) in batch {
        let result = (|| {
            // Cached statements: parsing these anew for every write was a tenth of the
            // server's CPU under load.
            let run = |sql: &str| -> Result<()> {
                tx.prepare_cached(sql)
                    .and_then(|mut s| s.execute([]))
                    .map(drop)
                    .map_err(sql_error)
            };
            run("SAVEPOINT request")?;
            let applied = writes.iter().try_for_each(|write| apply_write(&tx, write));
            if applied.is_err() {
                run("ROLLBACK TO request")?;
            }
            run("RELEASE request")?;
            applied
        })();
        results.push(result);
    }
    match tx.commit() {
        Ok(()) => results,
        Err(e) => results
            .into_iter()
            .map(|_| Err(Error::Unavailable(e.to_string())))
            .collect(),
    }
}

fn apply_write(tx: &Transaction<'_>, write: &Write) -> Result<()> {
    let ex = &write.execution;
    let key = &ex.key;
    if let Some(expected_current) = &write.make_current {
        let current: Option<String> = tx
            .prepare_cached(
                "SELECT run_id FROM current_runs WHERE namespace = ? AND workflow_id = ?",
            )
            .map_err(sql_error)?
            .query_row(params![key.namespace, key.workflow_id], |row| row.get(0))
            .optional()
            .map_err(sql_error)?;
        if current != *expected_current {
            return Err(Error::Conflict(format!(
                "workflow id '{}' got a new run meanwhile",
                key.workflow_id
            )));
        }
        tx.prepare_cached(
            "INSERT INTO current_runs (namespace, workflow_id, run_id) VALUES (?, ?, ?)
             ON CONFLICT (namespace, workflow_id) DO UPDATE SET run_id = excluded.run_id",
        )
        .and_then(|mut s| s.execute(params![key.namespace, key.workflow_id, key.run_id]))
        .map_err(sql_error)?;
    }
    let state = encode_as(EXECUTION, ex)?;
    let close_time = ex.close_time.map(|t| t.0);
    let row_id: i64 = match write.expected_version {
        None => {
            tx.prepare_cached(
                "INSERT INTO executions (namespace, workflow_id, run_id, workflow_type, task_queue, status,
                    start_time, close_time, execution_time, history_length, start_request_id, version, state,
                    phase, worker, parent_workflow_id)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .and_then(|mut s| s.execute(params![
                    key.namespace, key.workflow_id, key.run_id, ex.workflow_type(), ex.task_queue(),
                    ex.status.code(), ex.start_time.0, close_time, ex.start_time.0, ex.history_length(),
                    ex.start_request_id, ex.version, state, ex.phase().code(), ex.last_worker_identity,
                    ex.parent.as_ref().map(|parent| &parent.key.workflow_id)
                ]))
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    Error::AlreadyExists(format!("run {} of workflow '{}' exists already", key.run_id, key.workflow_id))
                }
                other => sql_error(other),
            })?;
            tx.last_insert_rowid()
        }
        Some(expected) => tx
            .prepare_cached(
                "UPDATE executions SET status = ?, close_time = ?, history_length = ?, version = ?, state = ?,
                    phase = ?, worker = ?
                 WHERE namespace = ? AND workflow_id = ? AND run_id = ? AND version = ?
                 RETURNING id",
            )
            .map_err(sql_error)?
            .query_row(
                params![
                    ex.status.code(), close_time, ex.history_length(), ex.version, state,
                    ex.phase().code(), ex.last_worker_identity,
                    key.namespace, key.workflow_id, key.run_id, expected
                ],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql_error)?
            .ok_or_else(|| Error::Conflict(format!("execution {} changed meanwhile", key.run_id)))?,
    };
    if let Some(rows) = write.search_index() {
        tx.prepare_cached("DELETE FROM search_attributes WHERE execution = ?")
            .and_then(|mut s| s.execute(params![row_id]))
            .map_err(sql_error)?;
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO search_attributes (execution, name, int_value, real_value, text_value)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .map_err(sql_error)?;
        for row in rows {
            insert
                .execute(params![
                    row_id,
                    row.name,
                    row.int_value,
                    row.real_value,
                    row.text_value
                ])
                .map_err(sql_error)?;
        }
    }
    if !write.attempts.is_empty() {
        // A write repeated after a lost answer finds its attempts there already.
        let mut insert = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO activity_attempts (execution, scheduled_event_id, attempt, format, data)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .map_err(sql_error)?;
        for attempt in &write.attempts {
            let (format, data) = encode_attempt(attempt)?;
            insert
                .execute(params![
                    row_id,
                    attempt.scheduled_event_id,
                    attempt.attempt,
                    format,
                    data
                ])
                .map_err(sql_error)?;
        }
    }
    let mut insert = tx
        .prepare_cached("INSERT INTO history (execution, event_id, data) VALUES (?, ?, ?)")
        .map_err(sql_error)?;
    for event in &write.events {
        insert
            .execute(params![row_id, event.id, encode_as(EVENT, event)?])
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Error::Conflict(format!(
                        "event {} of run {} exists already",
                        event.id, key.run_id
                    ))
                }
                other => sql_error(other),
            })?;
    }
    Ok(())
}

fn bind(params: Vec<SqlParam>) -> Vec<rusqlite::types::Value> {
    params
        .into_iter()
        .map(|param| match param {
            SqlParam::Int(v) => rusqlite::types::Value::Integer(v),
            SqlParam::Text(v) => rusqlite::types::Value::Text(v),
            SqlParam::Real(v) => rusqlite::types::Value::Real(v),
        })
        .collect()
}

/// The SQL condition and ordering for a namespace and a visibility query.
fn visibility_sql(
    namespace: &str,
    filter: &Filter,
) -> Result<(String, String, Vec<rusqlite::types::Value>)> {
    let sql = to_sql(filter).map_err(|e| Error::InvalidArgument(format!("invalid query: {e}")))?;
    let mut condition = "namespace = ?".to_owned();
    if !sql.where_clause.is_empty() {
        condition.push_str(" AND ");
        condition.push_str(&sql.where_clause);
    }
    let mut values = vec![rusqlite::types::Value::Text(namespace.to_owned())];
    values.extend(bind(sql.params));
    Ok((condition, sql.order_by, values))
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_namespace(&self, namespace: Namespace) -> Result<()> {
        let data = encode_as(NAMESPACE, &namespace)?;
        self.read(move |conn| {
            let inserted = conn
                .execute(
                    "INSERT OR IGNORE INTO namespaces (name, data) VALUES (?, ?)",
                    params![namespace.name, data],
                )
                .map_err(sql_error)?;
            if inserted == 0 {
                return Err(Error::AlreadyExists(format!(
                    "Namespace already exists: {}",
                    namespace.name
                )));
            }
            Ok(())
        })
        .await
    }

    async fn create_schedule(&self, schedule: &Schedule) -> Result<()> {
        let data = encode_as(SCHEDULE, schedule)?;
        let (namespace, id, version) = (
            schedule.namespace.clone(),
            schedule.id.clone(),
            schedule.version,
        );
        self.read(move |conn| {
            let inserted = conn
                .execute(
                    "INSERT OR IGNORE INTO schedules (namespace, schedule_id, version, data) VALUES (?, ?, ?, ?)",
                    params![namespace, id, version, data],
                )
                .map_err(sql_error)?;
            if inserted == 0 {
                return Err(Error::AlreadyExists(format!("schedule '{id}' already exists")));
            }
            Ok(())
        })
        .await
    }

    async fn update_schedule(&self, schedule: &Schedule, expected_version: i64) -> Result<()> {
        let data = encode_as(SCHEDULE, schedule)?;
        let (namespace, id, version) = (
            schedule.namespace.clone(),
            schedule.id.clone(),
            schedule.version,
        );
        self.read(move |conn| {
            let updated = conn
                .execute(
                    "UPDATE schedules SET version = ?, data = ? WHERE namespace = ? AND schedule_id = ? AND version = ?",
                    params![version, data, namespace, id, expected_version],
                )
                .map_err(sql_error)?;
            if updated == 1 {
                return Ok(());
            }
            let exists: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM schedules WHERE namespace = ? AND schedule_id = ?)",
                    params![namespace, id],
                    |row| row.get(0),
                )
                .map_err(sql_error)?;
            Err(if exists {
                Error::Conflict(format!("schedule '{id}' changed meanwhile"))
            } else {
                Error::NotFound(format!("schedule '{id}' not found"))
            })
        })
        .await
    }

    async fn delete_schedule(&self, namespace: &str, schedule_id: &str) -> Result<()> {
        let (namespace, id) = (namespace.to_owned(), schedule_id.to_owned());
        self.read(move |conn| {
            let deleted = conn
                .execute(
                    "DELETE FROM schedules WHERE namespace = ? AND schedule_id = ?",
                    params![namespace, id],
                )
                .map_err(sql_error)?;
            if deleted == 0 {
                return Err(Error::NotFound(format!("schedule '{id}' not found")));
            }
            Ok(())
        })
        .await
    }

    async fn schedule(&self, namespace: &str, schedule_id: &str) -> Result<Option<Schedule>> {
        let (namespace, id) = (namespace.to_owned(), schedule_id.to_owned());
        self.read(move |conn| {
            let data: Option<Vec<u8>> = conn
                .query_row(
                    "SELECT data FROM schedules WHERE namespace = ? AND schedule_id = ?",
                    params![namespace, id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql_error)?;
            data.map(|data| {
                decode_as(SCHEDULE, &data, || {
                    format!("schedule '{id}' in namespace '{namespace}'")
                })
            })
            .transpose()
        })
        .await
    }

    async fn schedules(&self, namespace: Option<&str>) -> Result<Vec<Schedule>> {
        let namespace = namespace.map(str::to_owned);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT namespace, schedule_id, data FROM schedules WHERE ?1 IS NULL OR namespace = ?1
                     ORDER BY namespace, schedule_id",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![namespace], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, Vec<u8>>(2)?))
                })
                .map_err(sql_error)?;
            crate::decodable(rows.map(|row| {
                let (namespace, id, data) = row.map_err(sql_error)?;
                decode_as(SCHEDULE, &data, || format!("schedule '{id}' in namespace '{namespace}'"))
            }))
        })
        .await
    }

    async fn create_plan(&self, plan: &PlannedRun) -> Result<()> {
        let (format, data) = encode_plan(plan)?;
        let plan = plan.clone();
        self.read(move |conn| {
            let inserted = conn
                .execute(
                    "INSERT OR IGNORE INTO planned_runs (namespace, plan_id, version, format, start_at, data)
                     VALUES (?, ?, ?, ?, ?, ?)",
                    params![plan.namespace, plan.id, plan.version, format, plan.start_at.map(|t| t.0), data],
                )
                .map_err(sql_error)?;
            if inserted == 0 {
                return Err(Error::AlreadyExists(format!(
                    "a planned run with id '{}' already exists",
                    plan.id
                )));
            }
            Ok(())
        })
        .await
    }

    async fn update_plan(&self, plan: &PlannedRun, expected_version: i64) -> Result<()> {
        let (format, data) = encode_plan(plan)?;
        let plan = plan.clone();
        self.read(move |conn| {
            let updated = conn
                .execute(
                    "UPDATE planned_runs SET version = ?, format = ?, start_at = ?, data = ?
                     WHERE namespace = ? AND plan_id = ? AND version = ?",
                    params![
                        plan.version,
                        format,
                        plan.start_at.map(|t| t.0),
                        data,
                        plan.namespace,
                        plan.id,
                        expected_version
                    ],
                )
                .map_err(sql_error)?;
            if updated == 1 {
                return Ok(());
            }
            Err(if plan_exists(conn, &plan.namespace, &plan.id)? {
                plan_changed(&plan.id)
            } else {
                plan_not_found(&plan.id)
            })
        })
        .await
    }

    async fn delete_plan(
        &self,
        namespace: &str,
        plan_id: &str,
        expected_version: Option<i64>,
    ) -> Result<()> {
        let (namespace, id) = (namespace.to_owned(), plan_id.to_owned());
        self.read(move |conn| {
            let deleted = conn
                .execute(
                    "DELETE FROM planned_runs WHERE namespace = ?1 AND plan_id = ?2
                     AND (?3 IS NULL OR version = ?3)",
                    params![namespace, id, expected_version],
                )
                .map_err(sql_error)?;
            if deleted == 1 {
                return Ok(());
            }
            Err(if plan_exists(conn, &namespace, &id)? {
                plan_changed(&id)
            } else {
                plan_not_found(&id)
            })
        })
        .await
    }

    async fn plan(&self, namespace: &str, plan_id: &str) -> Result<Option<PlannedRun>> {
        let (namespace, id) = (namespace.to_owned(), plan_id.to_owned());
        self.read(move |conn| {
            let row: Option<(i64, Vec<u8>)> = conn
                .query_row(
                    "SELECT format, data FROM planned_runs WHERE namespace = ? AND plan_id = ?",
                    params![namespace, id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(sql_error)?;
            row.map(|(format, data)| decode_plan(format, &data))
                .transpose()
        })
        .await
    }

    async fn plans(&self, namespace: Option<&str>) -> Result<Vec<PlannedRun>> {
        let namespace = namespace.map(str::to_owned);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT format, data FROM planned_runs WHERE ?1 IS NULL OR namespace = ?1
                     ORDER BY namespace, plan_id",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![namespace], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
                })
                .map_err(sql_error)?;
            crate::decodable(rows.map(|row| {
                let (format, data) = row.map_err(sql_error)?;
                decode_plan(format, &data)
            }))
        })
        .await
    }

    async fn delete_execution(&self, key: &ExecutionKey) -> Result<()> {
        let key = key.clone();
        self.read(move |conn| {
            let tx = write_transaction(conn)?;
            let run = params![key.namespace, key.workflow_id, key.run_id];
            for table in ["history", "search_attributes", "logs", "activity_attempts"] {
                tx.execute(
                    &format!(
                        "DELETE FROM {table} WHERE execution = \
                         (SELECT id FROM executions WHERE namespace = ? AND workflow_id = ? AND run_id = ?)"
                    ),
                    run,
                )
                .map_err(sql_error)?;
            }
            tx.execute(
                "DELETE FROM current_runs WHERE namespace = ? AND workflow_id = ? AND run_id = ?",
                run,
            )
            .map_err(sql_error)?;
            let deleted = tx
                .execute(
                    "DELETE FROM executions WHERE namespace = ? AND workflow_id = ? AND run_id = ?",
                    run,
                )
                .map_err(sql_error)?;
            if deleted == 0 {
                return Err(run_not_found(&key));
            }
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn update_namespace(&self, namespace: Namespace) -> Result<()> {
        let data = encode_as(NAMESPACE, &namespace)?;
        self.read(move |conn| {
            let updated = conn
                .execute(
                    "UPDATE namespaces SET data = ? WHERE name = ?",
                    params![data, namespace.name],
                )
                .map_err(sql_error)?;
            if updated == 0 {
                return Err(Error::NotFound(format!(
                    "Namespace {} is not found.",
                    namespace.name
                )));
            }
            Ok(())
        })
        .await
    }

    async fn namespaces(&self) -> Result<Vec<Namespace>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT name, data FROM namespaces ORDER BY name")
                .map_err(sql_error)?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?))
                })
                .map_err(sql_error)?;
            crate::decodable(rows.map(|row| {
                let (name, data) = row.map_err(sql_error)?;
                decode_as(NAMESPACE, &data, || format!("namespace '{name}'"))
            }))
        })
        .await
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
        let key = key.clone();
        self.read(move |conn| {
            let state: Option<Vec<u8>> = conn
                .prepare_cached("SELECT state FROM executions WHERE namespace = ? AND workflow_id = ? AND run_id = ?")
                .map_err(sql_error)?
                .query_row(params![key.namespace, key.workflow_id, key.run_id], |row| row.get(0))
                .optional()
                .map_err(sql_error)?;
            state.map(|bytes| decode_as(EXECUTION, &bytes, || run_row(&key))).transpose()
        })
        .await
    }

    async fn current_run(&self, namespace: &str, workflow_id: &str) -> Result<Option<CurrentRun>> {
        let (namespace, workflow_id) = (namespace.to_owned(), workflow_id.to_owned());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT e.run_id, e.status, e.start_request_id FROM current_runs c
                 JOIN executions e ON e.namespace = c.namespace AND e.workflow_id = c.workflow_id AND e.run_id = c.run_id
                 WHERE c.namespace = ? AND c.workflow_id = ?",
            )
            .map_err(sql_error)?
            .query_row(params![namespace, workflow_id], |row| {
                Ok(CurrentRun {
                    run_id: row.get(0)?,
                    status: Status::from_code(row.get(1)?).unwrap_or(Status::Running),
                    start_request_id: row.get(2)?,
                })
            })
            .optional()
            .map_err(sql_error)
        })
        .await
    }

    async fn running_executions(&self) -> Result<Vec<Execution>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT namespace, workflow_id, run_id, state FROM executions WHERE status = 1",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map([], |row| Ok((key_of(row)?, row.get::<_, Vec<u8>>(3)?)))
                .map_err(sql_error)?;
            crate::decodable(rows.map(|row| {
                let (key, state) = row.map_err(sql_error)?;
                decode_as(EXECUTION, &state, || run_row(&key))
            }))
        })
        .await
    }

    async fn history(
        &self,
        key: &ExecutionKey,
        first_event_id: i64,
        max_events: usize,
    ) -> Result<Vec<Event>> {
        let key = key.clone();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT h.event_id, h.data FROM history h JOIN executions e ON e.id = h.execution
                     WHERE e.namespace = ? AND e.workflow_id = ? AND e.run_id = ? AND h.event_id >= ?
                     ORDER BY h.event_id LIMIT ?",
                )
                .map_err(sql_error)?;
            let limit = i64::try_from(max_events).unwrap_or(i64::MAX);
            let rows = stmt
                .query_map(params![key.namespace, key.workflow_id, key.run_id, first_event_id, limit], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
                })
                .map_err(sql_error)?;
            rows.map(|row| {
                let (event_id, data) = row.map_err(sql_error)?;
                decode_as(EVENT, &data, || format!("event {event_id} of {}", run_row(&key)))
            })
            .collect()
        })
        .await
    }

    async fn append_logs(&self, key: &ExecutionKey, lines: Vec<LogLine>) -> Result<()> {
        let key = key.clone();
        self.read(move |conn| {
            let tx = write_transaction(conn)?;
            let execution: i64 = tx
                .query_row(
                    "SELECT id FROM executions WHERE namespace = ? AND workflow_id = ? AND run_id = ?",
                    params![key.namespace, key.workflow_id, key.run_id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql_error)?
                .ok_or_else(|| run_not_found(&key))?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO logs (execution, time, level, message, task_run, worker)
                     VALUES (?, ?, ?, ?, ?, ?)",
                )
                .map_err(sql_error)?;
            for line in &lines {
                insert
                    .execute(params![execution, line.time.0, line.level, line.message, line.task_run, line.worker])
                    .map_err(sql_error)?;
            }
            drop(insert);
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn attempts(&self, key: &ExecutionKey) -> Result<Vec<EndedAttempt>> {
        let key = key.clone();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT a.format, a.data FROM activity_attempts a JOIN executions e ON e.id = a.execution
                     WHERE e.namespace = ? AND e.workflow_id = ? AND e.run_id = ?
                     ORDER BY a.scheduled_event_id, a.attempt",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![key.namespace, key.workflow_id, key.run_id], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
                })
                .map_err(sql_error)?;
            crate::decodable(rows.map(|row| {
                let (format, data) = row.map_err(sql_error)?;
                decode_attempt(format, &data)
            }))
        })
        .await
    }

    async fn logs(&self, key: &ExecutionKey, after: i64, max_lines: usize) -> Result<Vec<LogLine>> {
        let key = key.clone();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT l.seq, l.time, l.level, l.message, l.task_run, l.worker
                     FROM logs l JOIN executions e ON e.id = l.execution
                     WHERE e.namespace = ? AND e.workflow_id = ? AND e.run_id = ? AND l.seq > ?
                     ORDER BY l.seq LIMIT ?",
                )
                .map_err(sql_error)?;
            let limit = i64::try_from(max_lines).unwrap_or(i64::MAX);
            let rows = stmt
                .query_map(
                    params![key.namespace, key.workflow_id, key.run_id, after, limit],
                    |row| {
                        Ok(LogLine {
                            seq: row.get(0)?,
                            time: Time(row.get(1)?),
                            level: row.get(2)?,
                            message: row.get(3)?,
                            task_run: row.get(4)?,
                            worker: row.get(5)?,
                        })
                    },
                )
                .map_err(sql_error)?;
            rows.map(|row| row.map_err(sql_error)).collect()
        })
        .await
    }

    async fn list_executions(
        &self,
        namespace: &str,
        filter: &Filter,
        page_size: usize,
        page_token: &[u8],
    ) -> Result<Page> {
        let (condition, order_by, mut values) = visibility_sql(namespace, filter)?;
        let offset = decode_offset(page_token)?;
        let page_size = page_size.clamp(1, 1000);
        values.push(rusqlite::types::Value::Integer(page_size as i64 + 1));
        values.push(rusqlite::types::Value::Integer(offset));
        self.read(move |conn| {
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS}, state FROM executions WHERE {condition} ORDER BY {order_by} LIMIT ? OFFSET ?"
            );
            let mut stmt = conn.prepare_cached(&sql).map_err(sql_error)?;
            let rows = stmt
                .query_map(params_from_iter(values), |row| {
                    Ok((summary_columns(row)?, row.get::<_, Vec<u8>>(SUMMARY_COLUMN_COUNT)?))
                })
                .map_err(sql_error)?;
            let mut executions = Vec::new();
            for row in rows {
                let (columns, state) = row.map_err(sql_error)?;
                executions.push(codec::summary(columns, &state));
            }
            Ok(page(executions, offset, page_size))
        })
        .await
    }

    async fn count_executions(&self, namespace: &str, filter: &Filter) -> Result<i64> {
        let (condition, _, values) = visibility_sql(namespace, filter)?;
        self.read(move |conn| {
            let sql = format!("SELECT COUNT(*) FROM executions WHERE {condition}");
            conn.query_row(&sql, params_from_iter(values), |row| row.get(0))
                .map_err(sql_error)
        })
        .await
    }

    async fn undecodable_rows(&self) -> Result<Vec<String>> {
        self.read(|conn| {
            let mut broken = Vec::new();
            let mut scan = |sql: &str, check: &dyn Fn(&rusqlite::Row) -> rusqlite::Result<Option<String>>| {
                let mut stmt = conn.prepare(sql).map_err(sql_error)?;
                let mut rows = stmt.query([]).map_err(sql_error)?;
                while let Some(row) = rows.next().map_err(sql_error)? {
                    broken.extend(check(row).map_err(sql_error)?);
                }
                Ok::<_, Error>(())
            };
            scan("SELECT namespace, workflow_id, run_id, state FROM executions", &|row| {
                let key = key_of(row)?;
                Ok(codec::check(Stored::Execution, &row.get::<_, Vec<u8>>(3)?, || run_row(&key)))
            })?;
            scan(
                "SELECT e.namespace, e.workflow_id, e.run_id, h.event_id, h.data
                 FROM history h JOIN executions e ON e.id = h.execution",
                &|row| {
                    let (key, event_id): (_, i64) = (key_of(row)?, row.get(3)?);
                    Ok(codec::check(Stored::Event, &row.get::<_, Vec<u8>>(4)?, || {
                        format!("event {event_id} of {}", run_row(&key))
                    }))
                },
            )?;
            scan(
                "SELECT e.namespace, e.workflow_id, e.run_id, a.scheduled_event_id, a.attempt, a.format, a.data
                 FROM activity_attempts a JOIN executions e ON e.id = a.execution",
                &|row| {
                    let (key, scheduled, attempt): (_, i64, i64) = (key_of(row)?, row.get(3)?, row.get(4)?);
                    let kind = Stored::Attempt { format: row.get(5)? };
                    Ok(codec::check(kind, &row.get::<_, Vec<u8>>(6)?, || {
                        format!("attempt {attempt} of the activity scheduled by event {scheduled} of {}", run_row(&key))
                    }))
                },
            )?;
            scan("SELECT name, data FROM namespaces", &|row| {
                let name: String = row.get(0)?;
                Ok(codec::check(Stored::Namespace, &row.get::<_, Vec<u8>>(1)?, || format!("namespace '{name}'")))
            })?;
            scan("SELECT namespace, schedule_id, data FROM schedules", &|row| {
                let (namespace, id): (String, String) = (row.get(0)?, row.get(1)?);
                Ok(codec::check(Stored::Schedule, &row.get::<_, Vec<u8>>(2)?, || {
                    format!("schedule '{id}' in namespace '{namespace}'")
                }))
            })?;
            scan("SELECT namespace, plan_id, format, data FROM planned_runs", &|row| {
                let (namespace, id): (String, String) = (row.get(0)?, row.get(1)?);
                let kind = Stored::Plan { format: row.get(2)? };
                Ok(codec::check(kind, &row.get::<_, Vec<u8>>(3)?, || {
                    format!("planned run '{id}' in namespace '{namespace}'")
                }))
            })?;
            Ok(broken)
        })
        .await
    }

    async fn announce(&self, _message: Vec<u8>) -> Result<()> {
        // No other process can open the database while this one writes to it.
        Ok(())
    }

    fn announcements(&self) -> Option<tokio::sync::broadcast::Receiver<crate::Announcement>> {
        None
    }

    fn max_announcement_len(&self) -> usize {
        usize::MAX
    }
}
