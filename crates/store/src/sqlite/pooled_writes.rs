//! The writes that do not go through the writer thread: namespaces, schedules, planned runs,
//! log lines and deletions, each a statement or a transaction of its own on a pooled
//! connection.

use keel_core::plan::PlannedRun;
use keel_core::schedule::Schedule;
use keel_core::{ExecutionKey, Namespace};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{SqliteStore, sql_error};
use crate::codec::{NAMESPACE, SCHEDULE, encode_as, encode_plan};
use crate::{
    Error, FLOW_SOURCE_FORMAT, FlowRevision, LogLine, Result, flow_not_found, plan_changed,
    plan_not_found, run_not_found,
};
use keel_core::Time;

fn plan_exists(conn: &Connection, namespace: &str, plan_id: &str) -> Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM planned_runs WHERE namespace = ? AND plan_id = ?)",
        params![namespace, plan_id],
        |row| row.get(0),
    )
    .map_err(sql_error)
}

/// A transaction that writes from a reader connection, beside the writer thread. It takes
/// the write lock at its start (waiting up to the busy timeout for it): a deferred one would
/// read first and then fail at once with "database is locked" when the writer committed in
/// between, as its snapshot could no longer be written from.
fn write_transaction(conn: &Connection) -> Result<Transaction<'_>> {
    Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate).map_err(sql_error)
}

pub(super) async fn create_namespace(store: &SqliteStore, namespace: Namespace) -> Result<()> {
    let data = encode_as(NAMESPACE, &namespace)?;
    store
        .read(move |conn| {
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

pub(super) async fn create_schedule(store: &SqliteStore, schedule: &Schedule) -> Result<()> {
    let data = encode_as(SCHEDULE, schedule)?;
    let (namespace, id, version) = (
        schedule.namespace.clone(),
        schedule.id.clone(),
        schedule.version,
    );
    store
        .read(move |conn| {
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

pub(super) async fn update_schedule(
    store: &SqliteStore,
    schedule: &Schedule,
    expected_version: i64,
) -> Result<()> {
    let data = encode_as(SCHEDULE, schedule)?;
    let (namespace, id, version) = (
        schedule.namespace.clone(),
        schedule.id.clone(),
        schedule.version,
    );
    store
        .read(move |conn| {
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

pub(super) async fn delete_schedule(
    store: &SqliteStore,
    namespace: &str,
    schedule_id: &str,
) -> Result<()> {
    let (namespace, id) = (namespace.to_owned(), schedule_id.to_owned());
    store
        .read(move |conn| {
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

pub(super) async fn create_plan(store: &SqliteStore, plan: &PlannedRun) -> Result<()> {
    let (format, data) = encode_plan(plan)?;
    let plan = plan.clone();
    store
        .read(move |conn| {
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

pub(super) async fn update_plan(
    store: &SqliteStore,
    plan: &PlannedRun,
    expected_version: i64,
) -> Result<()> {
    let (format, data) = encode_plan(plan)?;
    let plan = plan.clone();
    store
        .read(move |conn| {
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

pub(super) async fn delete_plan(
    store: &SqliteStore,
    namespace: &str,
    plan_id: &str,
    expected_version: Option<i64>,
) -> Result<()> {
    let (namespace, id) = (namespace.to_owned(), plan_id.to_owned());
    store
        .read(move |conn| {
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

pub(super) async fn delete_execution(store: &SqliteStore, key: &ExecutionKey) -> Result<()> {
    let key = key.clone();
    store
        .read(move |conn| {
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

pub(super) async fn update_namespace(store: &SqliteStore, namespace: Namespace) -> Result<()> {
    let data = encode_as(NAMESPACE, &namespace)?;
    store
        .read(move |conn| {
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

pub(super) async fn append_logs(
    store: &SqliteStore,
    key: &ExecutionKey,
    lines: Vec<LogLine>,
) -> Result<()> {
    let key = key.clone();
    store
        .read(move |conn| {
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

pub(super) async fn save_flow(
    store: &SqliteStore,
    namespace: &str,
    flow_id: &str,
    source: &str,
    now: Time,
) -> Result<(FlowRevision, bool)> {
    let (namespace, flow_id, source) =
        (namespace.to_owned(), flow_id.to_owned(), source.to_owned());
    store
        .read(move |conn| {
            let tx = write_transaction(conn)?;
            let latest: Option<(i64, bool)> = tx
                .query_row(
                    "SELECT revision, deleted FROM flows WHERE namespace = ? AND flow_id = ?",
                    params![namespace, flow_id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(sql_error)?;
            let stored: Option<(i64, String, i64)> = match latest {
                None => None,
                Some((revision, _)) => tx
                    .query_row(
                        "SELECT format, source, created FROM flow_revisions
                         WHERE namespace = ? AND flow_id = ? AND revision = ?",
                        params![namespace, flow_id, revision],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )
                    .optional()
                    .map_err(sql_error)?,
            };
            let revision = match (latest, stored) {
                (Some((revision, deleted)), Some((format, stored, created))) if stored == source => {
                    if deleted {
                        tx.execute(
                            "UPDATE flows SET deleted = 0 WHERE namespace = ? AND flow_id = ?",
                            params![namespace, flow_id],
                        )
                        .map_err(sql_error)?;
                        tx.commit().map_err(sql_error)?;
                    }
                    let same = crate::flow_revision_row(namespace, flow_id, revision, format, stored, created)?;
                    return Ok((same, false));
                }
                (latest, _) => latest.map_or(1, |(revision, _)| revision + 1),
            };
            tx.execute(
                "INSERT INTO flow_revisions (namespace, flow_id, revision, format, created, source)
                 VALUES (?, ?, ?, ?, ?, ?)",
                params![namespace, flow_id, revision, FLOW_SOURCE_FORMAT, now.0, source],
            )
            .map_err(sql_error)?;
            tx.execute(
                "INSERT INTO flows (namespace, flow_id, revision, deleted) VALUES (?, ?, ?, 0)
                 ON CONFLICT (namespace, flow_id) DO UPDATE SET revision = excluded.revision, deleted = 0",
                params![namespace, flow_id, revision],
            )
            .map_err(sql_error)?;
            tx.commit().map_err(sql_error)?;
            let saved = FlowRevision {
                namespace,
                flow_id,
                revision,
                source,
                created: now,
            };
            Ok((saved, true))
        })
        .await
}

pub(super) async fn delete_flow(store: &SqliteStore, namespace: &str, flow_id: &str) -> Result<()> {
    let (namespace, flow_id) = (namespace.to_owned(), flow_id.to_owned());
    store
        .read(move |conn| {
            let updated = conn
                .execute(
                    "UPDATE flows SET deleted = 1 WHERE namespace = ? AND flow_id = ? AND deleted = 0",
                    params![namespace, flow_id],
                )
                .map_err(sql_error)?;
            if updated == 0 {
                return Err(flow_not_found(&namespace, &flow_id));
            }
            Ok(())
        })
        .await
}
