//! The schema, as numbered migrations, and applying those a database is missing when it opens.

use rusqlite::Connection;

use super::sql_error;
use crate::Result;
use crate::migrate::{self, Migration};

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
    Migration {
        version: 7,
        sql: "CREATE TABLE flow_revisions (
        namespace TEXT NOT NULL,
        flow_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        format INTEGER NOT NULL,
        created INTEGER NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (namespace, flow_id, revision)
    ) WITHOUT ROWID;
    CREATE TABLE flows (
        namespace TEXT NOT NULL,
        flow_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        PRIMARY KEY (namespace, flow_id)
    ) WITHOUT ROWID;",
    },
];

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

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
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
