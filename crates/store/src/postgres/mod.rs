//! PostgreSQL: the store several `keel server` processes share.
//!
//! Every [`Store::commit`] is one transaction on a pooled connection. Version checks are
//! `UPDATE ... WHERE version = $expected`: under READ COMMITTED a second writer of the same
//! row waits for the first to finish, then finds the version changed and updates nothing,
//! so exactly one of them wins. A start's claim on its workflow id is the same
//! compare-and-set on `current_runs`: `INSERT ... ON CONFLICT DO NOTHING` when the id has
//! no run yet, `UPDATE ... WHERE run_id = $expected` otherwise.
//!
//! Notices travel by LISTEN/NOTIFY on one channel. A `pg_notify` inside a commit's
//! transaction is delivered exactly when the transaction commits. One dedicated connection
//! listens; when it is lost it reconnects with backoff, listens again and only then
//! reports [`Received::Missed`], so a reader that resynchronises on it misses nothing.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use keel_core::attempts::EndedAttempt;
use keel_core::plan::PlannedRun;
use keel_core::reuse::CurrentRun;
use keel_core::schedule::Schedule;
use keel_core::visibility::Filter;
use keel_core::{Event, Execution, ExecutionKey, Namespace, Status, Time};
use tokio::sync::{broadcast, oneshot};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

mod listener;
mod writes;

use listener::{Listener, listen};
use writes::{apply_write, notify, update_execution};

use crate::codec::{
    self, EVENT, EXECUTION, NAMESPACE, SCHEDULE, SUMMARY_COLUMN_COUNT, SUMMARY_COLUMNS,
    attempt_row, decode_as, decode_attempt, decode_offset, decode_plan, encode_as, encode_plan,
    page, plan_row, run_row,
};
use crate::filter_sql::{SqlParam, numbered_placeholders, to_sql};
use crate::migrate::{self, Migration};
use crate::{
    CurrentRunChange, Error, LogLine, Page, Received, Result, Store, Write, plan_changed,
    plan_not_found, run_not_found,
};

/// The schema, in PostgreSQL's dialect (see [`crate::migrate`]). Text columns use the "C"
/// collation so that ordering and prefix matches compare bytes, as SQLite does.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: r#"CREATE TABLE namespaces (
        name TEXT COLLATE "C" PRIMARY KEY,
        data BYTEA NOT NULL
    );
    CREATE TABLE executions (
        id BIGSERIAL PRIMARY KEY,
        namespace TEXT COLLATE "C" NOT NULL,
        workflow_id TEXT COLLATE "C" NOT NULL,
        run_id TEXT COLLATE "C" NOT NULL,
        workflow_type TEXT COLLATE "C" NOT NULL,
        task_queue TEXT COLLATE "C" NOT NULL,
        status INTEGER NOT NULL,
        start_time BIGINT NOT NULL,
        close_time BIGINT,
        execution_time BIGINT NOT NULL,
        history_length BIGINT NOT NULL,
        start_request_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        state BYTEA NOT NULL,
        UNIQUE (namespace, workflow_id, run_id)
    );
    CREATE INDEX executions_by_start ON executions (namespace, start_time DESC, run_id DESC);
    CREATE INDEX executions_by_status ON executions (status);
    CREATE TABLE current_runs (
        namespace TEXT COLLATE "C" NOT NULL,
        workflow_id TEXT COLLATE "C" NOT NULL,
        run_id TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (namespace, workflow_id)
    );
    CREATE TABLE history (
        execution BIGINT NOT NULL,
        event_id BIGINT NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (execution, event_id)
    );"#,
    },
    Migration {
        version: 2,
        sql: r#"CREATE TABLE search_attributes (
        execution BIGINT NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        int_value BIGINT,
        real_value DOUBLE PRECISION,
        text_value TEXT COLLATE "C"
    );
    CREATE INDEX search_attributes_by_execution ON search_attributes (execution);
    CREATE INDEX search_attributes_by_text ON search_attributes (name, text_value);
    CREATE INDEX search_attributes_by_int ON search_attributes (name, int_value);"#,
    },
    Migration {
        version: 3,
        sql: r#"CREATE TABLE schedules (
        namespace TEXT COLLATE "C" NOT NULL,
        schedule_id TEXT COLLATE "C" NOT NULL,
        version BIGINT NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (namespace, schedule_id)
    );"#,
    },
    Migration {
        version: 4,
        sql: PHASE_WORKER_PARENT_COLUMNS,
    },
    Migration {
        version: 5,
        sql: r#"CREATE TABLE planned_runs (
        namespace TEXT COLLATE "C" NOT NULL,
        plan_id TEXT COLLATE "C" NOT NULL,
        version BIGINT NOT NULL,
        format BIGINT NOT NULL,
        start_at BIGINT,
        data BYTEA NOT NULL,
        PRIMARY KEY (namespace, plan_id)
    );"#,
    },
    Migration {
        version: 6,
        sql: r#"CREATE TABLE activity_attempts (
        execution BIGINT NOT NULL,
        scheduled_event_id BIGINT NOT NULL,
        attempt INTEGER NOT NULL,
        format BIGINT NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (execution, scheduled_event_id, attempt)
    );"#,
    },
    Migration {
        version: 7,
        sql: r#"CREATE TABLE flow_revisions (
        namespace TEXT COLLATE "C" NOT NULL,
        flow_id TEXT COLLATE "C" NOT NULL,
        revision BIGINT NOT NULL,
        format BIGINT NOT NULL,
        created BIGINT NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (namespace, flow_id, revision)
    );
    CREATE TABLE flows (
        namespace TEXT COLLATE "C" NOT NULL,
        flow_id TEXT COLLATE "C" NOT NULL,
        revision BIGINT NOT NULL,
        deleted BOOLEAN NOT NULL,
        PRIMARY KEY (namespace, flow_id)
    );"#,
    },
];

/// Columns the operators' filters need. Rows written before them get the phase their status
/// implies (a running run counts as Running until its next write); their worker and parent
/// stay unknown.
const PHASE_WORKER_PARENT_COLUMNS: &str = r#"ALTER TABLE executions ADD COLUMN phase INTEGER NOT NULL DEFAULT 2;
    ALTER TABLE executions ADD COLUMN worker TEXT COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE executions ADD COLUMN parent_workflow_id TEXT COLLATE "C";
    UPDATE executions SET phase = CASE status
        WHEN 2 THEN 3 WHEN 6 THEN 3 WHEN 3 THEN 4 WHEN 5 THEN 4 WHEN 7 THEN 4 WHEN 4 THEN 5 ELSE 2 END;
    CREATE TABLE logs (
        seq BIGSERIAL PRIMARY KEY,
        execution BIGINT NOT NULL,
        time BIGINT NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL,
        task_run TEXT NOT NULL,
        worker TEXT NOT NULL
    );
    CREATE INDEX logs_by_execution ON logs (execution, seq);"#;

/// Serialises migrations of processes starting at once against one database.
const MIGRATION_LOCK: i64 = 0x6b65_656c_0001;
const CHANNEL: &str = "keel";
const POOL_SIZE: usize = 16;
/// How long a call waits for a connection before it fails with `Unavailable`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// An origin tag: 32 hex digits and a separator.
const ORIGIN_LEN: usize = 33;
/// NOTIFY payloads are limited to 8000 bytes; notices travel base64-encoded after
/// their origin tag.
const MAX_NOTICE: usize = (8000 - ORIGIN_LEN) / 4 * 3;
const FEED_CAPACITY: usize = 1 << 16;

/// A handle to one database; clones share the pool and the notice feed.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// `host:port/database`, for messages.
    place: String,
    /// Tags this process's notices, so its own are not delivered back to it.
    origin: String,
    feed: broadcast::Sender<Received>,
    /// Dropped with the store, which stops the listener.
    _stop_listening: oneshot::Sender<()>,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`),
    /// creates or migrates the schema and starts listening for notices.
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| Error::InvalidArgument(format!("invalid PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.keepalives_idle(Duration::from_secs(15));
        config.application_name("keel");
        let place = describe_config(&config);
        let unusable = |error: Error| match error {
            Error::Unavailable(message) => {
                Error::Unavailable(format!("cannot use PostgreSQL at {place}: {message}"))
            }
            other => other,
        };

        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| Error::Unavailable(format!("cannot build a connection pool: {e}")))?;
        migrate(&pool).await.map_err(unusable)?;

        let origin = uuid::Uuid::new_v4().simple().to_string();
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        let (stop_listening, stop) = oneshot::channel();
        let listener = Listener::open(&config).await.map_err(unusable)?;
        tokio::spawn(listen(config, listener, origin.clone(), feed.clone(), stop));
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                place,
                origin,
                feed,
                _stop_listening: stop_listening,
            }),
        })
    }

    /// `host:port/database` (never the password).
    pub fn place(&self) -> &str {
        &self.inner.place
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.inner.pool.get().await.map_err(pool_error)
    }
}

/// `host:port/database` of a config, for messages (never the password).
fn describe_config(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{database}")
}

async fn migrate(pool: &Pool) -> Result<()> {
    let mut client = pool.get().await.map_err(pool_error)?;
    let tx = client.transaction().await.map_err(pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_error)?;
    tx.batch_execute(migrate::VERSION_TABLE)
        .await
        .map_err(pg_error)?;
    let current: i64 = tx
        .query_one(migrate::CURRENT_VERSION, &[])
        .await
        .map_err(pg_error)?
        .get(0);
    for migration in migrate::pending(current, MIGRATIONS)? {
        tx.batch_execute(migration.sql).await.map_err(pg_error)?;
        let version = i32::try_from(migration.version).expect("few migrations");
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(pg_error)?;
    }
    tx.commit().await.map_err(pg_error)
}

/// What a failed call tells its caller: the database's own message, or why it is out of
/// reach.
fn pg_error(error: tokio_postgres::Error) -> Error {
    if let Some(code) = error.code()
        && (*code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED)
    {
        return Error::Conflict(error_text(&error));
    }
    Error::Unavailable(error_text(&error))
}

fn error_text(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return db.message().to_owned();
    }
    match std::error::Error::source(error) {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

fn pool_error(error: PoolError) -> Error {
    match error {
        PoolError::Backend(error) => Error::Unavailable(error_text(&error)),
        PoolError::Timeout(_) => Error::Unavailable(format!(
            "no database connection within {}s",
            CONNECT_TIMEOUT.as_secs()
        )),
        other => Error::Unavailable(other.to_string()),
    }
}

fn is_unique_violation(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

// ------------------------------------------------------------------------------ reads

/// The SQL condition, ordering and values for a namespace and a visibility query.
fn visibility_sql(namespace: &str, filter: &Filter) -> Result<(String, String, Vec<SqlParam>)> {
    let sql = to_sql(filter).map_err(|e| Error::InvalidArgument(format!("invalid query: {e}")))?;
    let mut condition = "namespace = $1::text".to_owned();
    if !sql.where_clause.is_empty() {
        condition.push_str(" AND ");
        condition.push_str(&numbered_placeholders(&sql.where_clause, 2, &sql.params));
    }
    let mut values = vec![SqlParam::Text(namespace.to_owned())];
    values.extend(sql.params);
    Ok((condition, sql.order_by, values))
}

fn bind(values: &[SqlParam]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|value| match value {
            SqlParam::Int(v) => v as &(dyn ToSql + Sync),
            SqlParam::Text(v) => v as &(dyn ToSql + Sync),
            SqlParam::Real(v) => v as &(dyn ToSql + Sync),
        })
        .collect()
}

/// A query the database refused for its values (say a string compared with a number) is
/// the caller's mistake, not an outage.
fn query_error(error: tokio_postgres::Error) -> Error {
    let refused_values = error
        .code()
        .is_some_and(|code| *code == SqlState::UNDEFINED_FUNCTION || code.code().starts_with("22"));
    if refused_values {
        return Error::InvalidArgument(format!("invalid query: {}", error_text(&error)));
    }
    pg_error(error)
}

/// The run a row's first three columns (namespace, workflow id, run id) name.
fn key_of(row: &tokio_postgres::Row) -> ExecutionKey {
    ExecutionKey {
        namespace: row.get(0),
        workflow_id: row.get(1),
        run_id: row.get(2),
    }
}

/// A flow revision row read with the columns namespace, flow_id, revision, format, source,
/// created, in that order.
fn flow_revision_of(row: &tokio_postgres::Row) -> Result<crate::FlowRevision> {
    crate::flow_revision_row(
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
    )
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_namespace(&self, namespace: Namespace) -> Result<()> {
        let data = encode_as(NAMESPACE, &namespace)?;
        let client = self.client().await?;
        let inserted = client
            .execute(
                "INSERT INTO namespaces (name, data) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&namespace.name, &data],
            )
            .await
            .map_err(pg_error)?;
        if inserted == 0 {
            return Err(Error::AlreadyExists(format!(
                "Namespace already exists: {}",
                namespace.name
            )));
        }
        Ok(())
    }

    async fn create_schedule(&self, schedule: &Schedule) -> Result<()> {
        let data = encode_as(SCHEDULE, schedule)?;
        let client = self.client().await?;
        let inserted = client
            .execute(
                "INSERT INTO schedules (namespace, schedule_id, version, data) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&schedule.namespace, &schedule.id, &schedule.version, &data],
            )
            .await
            .map_err(pg_error)?;
        if inserted == 0 {
            return Err(Error::AlreadyExists(format!(
                "schedule '{}' already exists",
                schedule.id
            )));
        }
        Ok(())
    }

    async fn update_schedule(&self, schedule: &Schedule, expected_version: i64) -> Result<()> {
        let data = encode_as(SCHEDULE, schedule)?;
        let client = self.client().await?;
        let row = client
            .query_one(
                "WITH updated AS (
                    UPDATE schedules SET version = $1, data = $2
                    WHERE namespace = $3 AND schedule_id = $4 AND version = $5
                    RETURNING 1
                )
                SELECT (SELECT count(*) FROM updated),
                    EXISTS (SELECT 1 FROM schedules WHERE namespace = $3 AND schedule_id = $4)",
                &[
                    &schedule.version,
                    &data,
                    &schedule.namespace,
                    &schedule.id,
                    &expected_version,
                ],
            )
            .await
            .map_err(pg_error)?;
        let (updated, exists): (i64, bool) = (row.get(0), row.get(1));
        match (updated, exists) {
            (1, _) => Ok(()),
            (_, true) => Err(Error::Conflict(format!(
                "schedule '{}' changed meanwhile",
                schedule.id
            ))),
            (_, false) => Err(Error::NotFound(format!(
                "schedule '{}' not found",
                schedule.id
            ))),
        }
    }

    async fn delete_schedule(&self, namespace: &str, schedule_id: &str) -> Result<()> {
        let client = self.client().await?;
        let deleted = client
            .execute(
                "DELETE FROM schedules WHERE namespace = $1 AND schedule_id = $2",
                &[&namespace, &schedule_id],
            )
            .await
            .map_err(pg_error)?;
        if deleted == 0 {
            return Err(Error::NotFound(format!(
                "schedule '{schedule_id}' not found"
            )));
        }
        Ok(())
    }

    async fn schedule(&self, namespace: &str, schedule_id: &str) -> Result<Option<Schedule>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT data FROM schedules WHERE namespace = $1 AND schedule_id = $2",
                &[&namespace, &schedule_id],
            )
            .await
            .map_err(pg_error)?;
        row.map(|row| {
            decode_as(SCHEDULE, row.get::<_, &[u8]>(0), || {
                format!("schedule '{schedule_id}' in namespace '{namespace}'")
            })
        })
        .transpose()
    }

    async fn schedules(&self, namespace: Option<&str>) -> Result<Vec<Schedule>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT namespace, schedule_id, data FROM schedules WHERE $1::text IS NULL OR namespace = $1
                 ORDER BY namespace, schedule_id",
                &[&namespace],
            )
            .await
            .map_err(pg_error)?;
        crate::decodable(rows.iter().map(|row| {
            decode_as(SCHEDULE, row.get::<_, &[u8]>(2), || {
                let (namespace, id): (&str, &str) = (row.get(0), row.get(1));
                format!("schedule '{id}' in namespace '{namespace}'")
            })
        }))
    }

    async fn create_plan(&self, plan: &PlannedRun) -> Result<()> {
        let (format, data) = encode_plan(plan)?;
        let client = self.client().await?;
        let inserted = client
            .execute(
                "INSERT INTO planned_runs (namespace, plan_id, version, format, start_at, data)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &plan.namespace,
                    &plan.id,
                    &plan.version,
                    &format,
                    &plan.start_at.map(|t| t.0),
                    &data,
                ],
            )
            .await
            .map_err(pg_error)?;
        if inserted == 0 {
            return Err(Error::AlreadyExists(format!(
                "a planned run with id '{}' already exists",
                plan.id
            )));
        }
        Ok(())
    }

    async fn update_plan(&self, plan: &PlannedRun, expected_version: i64) -> Result<()> {
        let (format, data) = encode_plan(plan)?;
        let client = self.client().await?;
        let row = client
            .query_one(
                "WITH updated AS (
                    UPDATE planned_runs SET version = $1, format = $2, start_at = $3, data = $4
                    WHERE namespace = $5 AND plan_id = $6 AND version = $7
                    RETURNING 1
                )
                SELECT (SELECT count(*) FROM updated),
                    EXISTS (SELECT 1 FROM planned_runs WHERE namespace = $5 AND plan_id = $6)",
                &[
                    &plan.version,
                    &format,
                    &plan.start_at.map(|t| t.0),
                    &data,
                    &plan.namespace,
                    &plan.id,
                    &expected_version,
                ],
            )
            .await
            .map_err(pg_error)?;
        match (row.get::<_, i64>(0), row.get::<_, bool>(1)) {
            (1, _) => Ok(()),
            (_, true) => Err(plan_changed(&plan.id)),
            (_, false) => Err(plan_not_found(&plan.id)),
        }
    }

    async fn delete_plan(
        &self,
        namespace: &str,
        plan_id: &str,
        expected_version: Option<i64>,
    ) -> Result<()> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "WITH deleted AS (
                    DELETE FROM planned_runs WHERE namespace = $1 AND plan_id = $2
                    AND ($3::bigint IS NULL OR version = $3)
                    RETURNING 1
                )
                SELECT (SELECT count(*) FROM deleted),
                    EXISTS (SELECT 1 FROM planned_runs WHERE namespace = $1 AND plan_id = $2)",
                &[&namespace, &plan_id, &expected_version],
            )
            .await
            .map_err(pg_error)?;
        match (row.get::<_, i64>(0), row.get::<_, bool>(1)) {
            (1, _) => Ok(()),
            (_, true) => Err(plan_changed(plan_id)),
            (_, false) => Err(plan_not_found(plan_id)),
        }
    }

    async fn plan(&self, namespace: &str, plan_id: &str) -> Result<Option<PlannedRun>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT format, data FROM planned_runs WHERE namespace = $1 AND plan_id = $2",
                &[&namespace, &plan_id],
            )
            .await
            .map_err(pg_error)?;
        row.map(|row| {
            decode_plan(row.get(0), row.get::<_, &[u8]>(1), || {
                plan_row(namespace, plan_id)
            })
        })
        .transpose()
    }

    async fn plans(&self, namespace: Option<&str>) -> Result<Vec<PlannedRun>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT namespace, plan_id, format, data FROM planned_runs
                 WHERE $1::text IS NULL OR namespace = $1 ORDER BY namespace, plan_id",
                &[&namespace],
            )
            .await
            .map_err(pg_error)?;
        crate::decodable(rows.iter().map(|row| {
            decode_plan(row.get(2), row.get::<_, &[u8]>(3), || {
                plan_row(row.get(0), row.get(1))
            })
        }))
    }

    async fn save_flow(
        &self,
        namespace: &str,
        flow_id: &str,
        source: &str,
        now: Time,
    ) -> Result<(crate::FlowRevision, bool)> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        // The flow's row, locked: saves of one flow take turns.
        tx.execute(
            "INSERT INTO flows (namespace, flow_id, revision, deleted) VALUES ($1, $2, 0, TRUE)
             ON CONFLICT DO NOTHING",
            &[&namespace, &flow_id],
        )
        .await
        .map_err(pg_error)?;
        let row = tx
            .query_one(
                "SELECT f.revision, f.deleted, r.format, r.source, r.created FROM flows f
                 LEFT JOIN flow_revisions r
                 ON r.namespace = f.namespace AND r.flow_id = f.flow_id AND r.revision = f.revision
                 WHERE f.namespace = $1 AND f.flow_id = $2 FOR UPDATE OF f",
                &[&namespace, &flow_id],
            )
            .await
            .map_err(pg_error)?;
        let (latest, deleted): (i64, bool) = (row.get(0), row.get(1));
        let stored: Option<String> = row.get(3);
        if latest > 0 && stored.as_deref() == Some(source) {
            if deleted {
                tx.execute(
                    "UPDATE flows SET deleted = FALSE WHERE namespace = $1 AND flow_id = $2",
                    &[&namespace, &flow_id],
                )
                .await
                .map_err(pg_error)?;
            }
            tx.commit().await.map_err(pg_error)?;
            let same = crate::flow_revision_row(
                namespace.to_owned(),
                flow_id.to_owned(),
                latest,
                row.get(2),
                source.to_owned(),
                row.get(4),
            )?;
            return Ok((same, false));
        }
        let revision = latest + 1;
        tx.execute(
            "INSERT INTO flow_revisions (namespace, flow_id, revision, format, created, source)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &namespace,
                &flow_id,
                &revision,
                &crate::FLOW_SOURCE_FORMAT,
                &now.0,
                &source,
            ],
        )
        .await
        .map_err(pg_error)?;
        tx.execute(
            "UPDATE flows SET revision = $3, deleted = FALSE WHERE namespace = $1 AND flow_id = $2",
            &[&namespace, &flow_id, &revision],
        )
        .await
        .map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        let saved = crate::FlowRevision {
            namespace: namespace.to_owned(),
            flow_id: flow_id.to_owned(),
            revision,
            source: source.to_owned(),
            created: now,
        };
        Ok((saved, true))
    }

    async fn flow_revision(
        &self,
        namespace: &str,
        flow_id: &str,
        revision: Option<i64>,
    ) -> Result<Option<crate::FlowRevision>> {
        let client = self.client().await?;
        let row = match revision {
            Some(revision) => client
                .query_opt(
                    "SELECT namespace, flow_id, revision, format, source, created FROM flow_revisions
                     WHERE namespace = $1 AND flow_id = $2 AND revision = $3",
                    &[&namespace, &flow_id, &revision],
                )
                .await,
            None => client
                .query_opt(
                    "SELECT r.namespace, r.flow_id, r.revision, r.format, r.source, r.created
                     FROM flows f JOIN flow_revisions r
                     ON r.namespace = f.namespace AND r.flow_id = f.flow_id AND r.revision = f.revision
                     WHERE f.namespace = $1 AND f.flow_id = $2 AND NOT f.deleted",
                    &[&namespace, &flow_id],
                )
                .await,
        }
        .map_err(pg_error)?;
        row.as_ref().map(flow_revision_of).transpose()
    }

    async fn flow_revisions(
        &self,
        namespace: &str,
        flow_id: &str,
    ) -> Result<Vec<crate::FlowRevision>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT namespace, flow_id, revision, format, source, created FROM flow_revisions
                 WHERE namespace = $1 AND flow_id = $2 ORDER BY revision",
                &[&namespace, &flow_id],
            )
            .await
            .map_err(pg_error)?;
        crate::decodable(rows.iter().map(flow_revision_of))
    }

    async fn flows(&self, namespace: Option<&str>) -> Result<Vec<crate::FlowRevision>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT r.namespace, r.flow_id, r.revision, r.format, r.source, r.created
                 FROM flows f JOIN flow_revisions r
                 ON r.namespace = f.namespace AND r.flow_id = f.flow_id AND r.revision = f.revision
                 WHERE NOT f.deleted AND ($1::text IS NULL OR f.namespace = $1)
                 ORDER BY f.namespace, f.flow_id",
                &[&namespace],
            )
            .await
            .map_err(pg_error)?;
        crate::decodable(rows.iter().map(flow_revision_of))
    }

    async fn delete_flow(&self, namespace: &str, flow_id: &str) -> Result<()> {
        let client = self.client().await?;
        let updated = client
            .execute(
                "UPDATE flows SET deleted = TRUE WHERE namespace = $1 AND flow_id = $2 AND NOT deleted",
                &[&namespace, &flow_id],
            )
            .await
            .map_err(pg_error)?;
        if updated == 0 {
            return Err(crate::flow_not_found(namespace, flow_id));
        }
        Ok(())
    }

    async fn delete_execution(&self, key: &ExecutionKey) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let run: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&key.namespace, &key.workflow_id, &key.run_id];
        for table in ["history", "search_attributes", "logs", "activity_attempts"] {
            tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE execution = \
                     (SELECT id FROM executions WHERE namespace = $1 AND workflow_id = $2 AND run_id = $3)"
                ),
                &run,
            )
            .await
            .map_err(pg_error)?;
        }
        tx.execute(
            "DELETE FROM current_runs WHERE namespace = $1 AND workflow_id = $2 AND run_id = $3",
            &run,
        )
        .await
        .map_err(pg_error)?;
        let deleted = tx
            .execute(
                "DELETE FROM executions WHERE namespace = $1 AND workflow_id = $2 AND run_id = $3",
                &run,
            )
            .await
            .map_err(pg_error)?;
        if deleted == 0 {
            return Err(run_not_found(key));
        }
        tx.commit().await.map_err(pg_error)
    }

    async fn update_namespace(&self, namespace: Namespace) -> Result<()> {
        let data = encode_as(NAMESPACE, &namespace)?;
        let client = self.client().await?;
        let updated = client
            .execute(
                "UPDATE namespaces SET data = $1 WHERE name = $2",
                &[&data, &namespace.name],
            )
            .await
            .map_err(pg_error)?;
        if updated == 0 {
            return Err(Error::NotFound(format!(
                "Namespace {} is not found.",
                namespace.name
            )));
        }
        Ok(())
    }

    async fn namespaces(&self) -> Result<Vec<Namespace>> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT name, data FROM namespaces ORDER BY name", &[])
            .await
            .map_err(pg_error)?;
        crate::decodable(rows.iter().map(|row| {
            decode_as(NAMESPACE, row.get::<_, &[u8]>(1), || {
                format!("namespace '{}'", row.get::<_, &str>(0))
            })
        }))
    }

    async fn commit(&self, writes: Vec<Write>) -> Result<()> {
        let mut client = self.client().await?;
        if let [write] = writes.as_slice()
            && write.expected_version.is_some()
            && write.make_current == CurrentRunChange::Keep
            && write.search_index().is_none()
            && write.attempts.is_empty()
        {
            return update_execution(&client, write, &self.inner.origin).await;
        }
        let tx = client.transaction().await.map_err(pg_error)?;
        for write in &writes {
            // An error drops the transaction, which rolls it back: nothing of the call stays.
            apply_write(&tx, write, &self.inner.origin).await?;
        }
        tx.commit().await.map_err(pg_error)
    }

    async fn execution(&self, key: &ExecutionKey) -> Result<Option<Execution>> {
        let client = self.client().await?;
        let select = client
            .prepare_cached(
                "SELECT state FROM executions WHERE namespace = $1 AND workflow_id = $2 AND run_id = $3",
            )
            .await
            .map_err(pg_error)?;
        let row = client
            .query_opt(&select, &[&key.namespace, &key.workflow_id, &key.run_id])
            .await
            .map_err(pg_error)?;
        row.map(|row| decode_as(EXECUTION, row.get::<_, &[u8]>(0), || run_row(key)))
            .transpose()
    }

    async fn current_run(&self, namespace: &str, workflow_id: &str) -> Result<Option<CurrentRun>> {
        let client = self.client().await?;
        let select = client
            .prepare_cached(
                "SELECT e.run_id, e.status, e.start_request_id FROM current_runs c
                 JOIN executions e ON e.namespace = c.namespace AND e.workflow_id = c.workflow_id
                    AND e.run_id = c.run_id
                 WHERE c.namespace = $1 AND c.workflow_id = $2",
            )
            .await
            .map_err(pg_error)?;
        let row = client
            .query_opt(&select, &[&namespace, &workflow_id])
            .await
            .map_err(pg_error)?;
        Ok(row.map(|row| CurrentRun {
            run_id: row.get(0),
            status: Status::from_code(row.get(1)).unwrap_or(Status::Running),
            start_request_id: row.get(2),
        }))
    }

    async fn running_executions(&self) -> Result<Vec<Execution>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT namespace, workflow_id, run_id, state FROM executions WHERE status = $1",
                &[&Status::Running.code()],
            )
            .await
            .map_err(pg_error)?;
        crate::decodable(
            rows.iter()
                .map(|row| decode_as(EXECUTION, row.get::<_, &[u8]>(3), || run_row(&key_of(row)))),
        )
    }

    async fn append_logs(&self, key: &ExecutionKey, lines: Vec<LogLine>) -> Result<()> {
        let mut client = self.client().await?;
        let client = client.transaction().await.map_err(pg_error)?;
        let row = client
            .query_opt(
                "SELECT id FROM executions WHERE namespace = $1 AND workflow_id = $2 AND run_id = $3",
                &[&key.namespace, &key.workflow_id, &key.run_id],
            )
            .await
            .map_err(pg_error)?
            .ok_or_else(|| run_not_found(key))?;
        let execution: i64 = row.get(0);
        // Appends to one run take their numbers one transaction at a time, so lines become
        // visible in number order and a follower reading "after N" never skips one. (The
        // lock is transaction-scoped and keyed by the run's row id; it does not touch the
        // row, so commits of the run are not held up.)
        client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&execution])
            .await
            .map_err(pg_error)?;
        let times: Vec<i64> = lines.iter().map(|line| line.time.0).collect();
        let column =
            |field: fn(&LogLine) -> &str| -> Vec<&str> { lines.iter().map(field).collect() };
        client
            .execute(
                "INSERT INTO logs (execution, time, level, message, task_run, worker)
                 SELECT $1, l.time, l.level, l.message, l.task_run, l.worker
                 FROM UNNEST($2::int8[], $3::text[], $4::text[], $5::text[], $6::text[])
                     AS l (time, level, message, task_run, worker)",
                &[
                    &execution,
                    &times,
                    &column(|line| &line.level),
                    &column(|line| &line.message),
                    &column(|line| &line.task_run),
                    &column(|line| &line.worker),
                ],
            )
            .await
            .map_err(pg_error)?;
        client.commit().await.map_err(pg_error)
    }

    async fn attempts(&self, key: &ExecutionKey) -> Result<Vec<EndedAttempt>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT a.scheduled_event_id, a.attempt, a.format, a.data
                 FROM activity_attempts a JOIN executions e ON e.id = a.execution
                 WHERE e.namespace = $1 AND e.workflow_id = $2 AND e.run_id = $3
                 ORDER BY a.scheduled_event_id, a.attempt",
                &[&key.namespace, &key.workflow_id, &key.run_id],
            )
            .await
            .map_err(pg_error)?;
        crate::decodable(rows.iter().map(|row| {
            decode_attempt(row.get(2), row.get::<_, &[u8]>(3), || {
                attempt_row(key, row.get(0), i64::from(row.get::<_, i32>(1)))
            })
        }))
    }

    async fn logs(&self, key: &ExecutionKey, after: i64, max_lines: usize) -> Result<Vec<LogLine>> {
        let client = self.client().await?;
        let limit = i64::try_from(max_lines).unwrap_or(i64::MAX);
        let rows = client
            .query(
                "SELECT l.seq, l.time, l.level, l.message, l.task_run, l.worker
                 FROM logs l JOIN executions e ON e.id = l.execution
                 WHERE e.namespace = $1 AND e.workflow_id = $2 AND e.run_id = $3 AND l.seq > $4
                 ORDER BY l.seq LIMIT $5",
                &[
                    &key.namespace,
                    &key.workflow_id,
                    &key.run_id,
                    &after,
                    &limit,
                ],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|row| LogLine {
                seq: row.get(0),
                time: keel_core::Time(row.get(1)),
                level: row.get(2),
                message: row.get(3),
                task_run: row.get(4),
                worker: row.get(5),
            })
            .collect())
    }

    async fn history(
        &self,
        key: &ExecutionKey,
        first_event_id: i64,
        max_events: usize,
    ) -> Result<Vec<Event>> {
        let client = self.client().await?;
        let select = client
            .prepare_cached(
                "SELECT h.event_id, h.data FROM history h JOIN executions e ON e.id = h.execution
                 WHERE e.namespace = $1 AND e.workflow_id = $2 AND e.run_id = $3 AND h.event_id >= $4
                 ORDER BY h.event_id LIMIT $5",
            )
            .await
            .map_err(pg_error)?;
        let limit = i64::try_from(max_events).unwrap_or(i64::MAX);
        let rows = client
            .query(
                &select,
                &[
                    &key.namespace,
                    &key.workflow_id,
                    &key.run_id,
                    &first_event_id,
                    &limit,
                ],
            )
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                decode_as(EVENT, row.get::<_, &[u8]>(1), || {
                    format!("event {} of {}", row.get::<_, i64>(0), run_row(key))
                })
            })
            .collect()
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
        let limit_at = values.len() + 1;
        values.push(SqlParam::Int(page_size as i64 + 1));
        values.push(SqlParam::Int(offset));
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, state
             FROM executions WHERE {condition} ORDER BY {order_by}
             LIMIT ${limit_at}::int8 OFFSET ${}::int8",
            limit_at + 1
        );
        let client = self.client().await?;
        let rows = client
            .query(&sql, &bind(&values))
            .await
            .map_err(query_error)?;
        let executions = rows
            .iter()
            .map(|row| {
                let columns = codec::SummaryColumns {
                    key: key_of(row),
                    workflow_type: row.get(3),
                    task_queue: row.get(4),
                    status: row.get(5),
                    start_time: row.get(6),
                    close_time: row.get(7),
                    history_length: row.get(8),
                    phase: row.get(9),
                    worker: row.get(10),
                };
                codec::summary(columns, row.get::<_, &[u8]>(SUMMARY_COLUMN_COUNT))
            })
            .collect();
        Ok(page(executions, offset, page_size))
    }

    async fn count_executions(&self, namespace: &str, filter: &Filter) -> Result<i64> {
        let (condition, _, values) = visibility_sql(namespace, filter)?;
        let sql = format!("SELECT COUNT(*) FROM executions WHERE {condition}");
        let client = self.client().await?;
        let row = client
            .query_one(&sql, &bind(&values))
            .await
            .map_err(query_error)?;
        Ok(row.get(0))
    }

    async fn undecodable_rows(&self) -> Result<Vec<String>> {
        use futures::TryStreamExt;
        let client = self.client().await?;
        let mut broken = Vec::new();
        for (kind, sql) in codec::SCANS {
            let rows = client
                .query_raw(sql, std::iter::empty::<&str>())
                .await
                .map_err(pg_error)?;
            futures::pin_mut!(rows);
            while let Some(row) = rows.try_next().await.map_err(pg_error)? {
                let scanned = codec::ScannedRow {
                    namespace: row.get(0),
                    id: row.get(1),
                    run_id: row.get(2),
                    first: row.get(3),
                    second: row.get(4),
                    format: row.get(5),
                    data: row.get(6),
                };
                broken.extend(codec::check(kind, &scanned));
            }
        }
        Ok(broken)
    }

    async fn send_notice(&self, message: Vec<u8>) -> Result<()> {
        let client = self.client().await?;
        notify(&client, &self.inner.origin, &message).await
    }

    fn notices(&self) -> Option<broadcast::Receiver<Received>> {
        Some(self.inner.feed.subscribe())
    }

    fn max_notice_len(&self) -> usize {
        MAX_NOTICE
    }
}
