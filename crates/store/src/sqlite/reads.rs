//! Reads, each on a pooled connection beside the writer thread.

use keel_core::attempts::EndedAttempt;
use keel_core::plan::PlannedRun;
use keel_core::reuse::CurrentRun;
use keel_core::schedule::Schedule;
use keel_core::visibility::Filter;
use keel_core::{Event, Execution, ExecutionKey, Namespace, Status, Time};
use rusqlite::{OptionalExtension, params, params_from_iter};

use super::{SqliteStore, sql_error};
use crate::codec::{
    self, EVENT, EXECUTION, NAMESPACE, SCHEDULE, SUMMARY_COLUMN_COUNT, SUMMARY_COLUMNS,
    attempt_row, decode_as, decode_attempt, decode_offset, decode_plan, page, plan_row, run_row,
};
use crate::filter_sql::{SqlParam, to_sql};
use crate::{Error, LogLine, Page, Result};

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

pub(super) async fn schedule(
    store: &SqliteStore,
    namespace: &str,
    schedule_id: &str,
) -> Result<Option<Schedule>> {
    let (namespace, id) = (namespace.to_owned(), schedule_id.to_owned());
    store
        .read(move |conn| {
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

pub(super) async fn schedules(
    store: &SqliteStore,
    namespace: Option<&str>,
) -> Result<Vec<Schedule>> {
    let namespace = namespace.map(str::to_owned);
    store
        .read(move |conn| {
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

pub(super) async fn plan(
    store: &SqliteStore,
    namespace: &str,
    plan_id: &str,
) -> Result<Option<PlannedRun>> {
    let (namespace, id) = (namespace.to_owned(), plan_id.to_owned());
    store
        .read(move |conn| {
            let row: Option<(i64, Vec<u8>)> = conn
                .query_row(
                    "SELECT format, data FROM planned_runs WHERE namespace = ? AND plan_id = ?",
                    params![namespace, id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(sql_error)?;
            row.map(|(format, data)| decode_plan(format, &data, || plan_row(&namespace, &id)))
                .transpose()
        })
        .await
}

pub(super) async fn plans(store: &SqliteStore, namespace: Option<&str>) -> Result<Vec<PlannedRun>> {
    let namespace = namespace.map(str::to_owned);
    store
        .read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT namespace, plan_id, format, data FROM planned_runs
                     WHERE ?1 IS NULL OR namespace = ?1 ORDER BY namespace, plan_id",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![namespace], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, Vec<u8>>(3)?,
                    ))
                })
                .map_err(sql_error)?;
            crate::decodable(rows.map(|row| {
                let (namespace, id, format, data) = row.map_err(sql_error)?;
                decode_plan(format, &data, || plan_row(&namespace, &id))
            }))
        })
        .await
}

pub(super) async fn namespaces(store: &SqliteStore) -> Result<Vec<Namespace>> {
    store
        .read(|conn| {
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

pub(super) async fn execution(
    store: &SqliteStore,
    key: &ExecutionKey,
) -> Result<Option<Execution>> {
    let key = key.clone();
    store
        .read(move |conn| {
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

pub(super) async fn current_run(
    store: &SqliteStore,
    namespace: &str,
    workflow_id: &str,
) -> Result<Option<CurrentRun>> {
    let (namespace, workflow_id) = (namespace.to_owned(), workflow_id.to_owned());
    store
        .read(move |conn| {
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

pub(super) async fn running_executions(store: &SqliteStore) -> Result<Vec<Execution>> {
    store
        .read(|conn| {
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

pub(super) async fn history(
    store: &SqliteStore,
    key: &ExecutionKey,
    first_event_id: i64,
    max_events: usize,
) -> Result<Vec<Event>> {
    let key = key.clone();
    store
        .read(move |conn| {
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

pub(super) async fn attempts(store: &SqliteStore, key: &ExecutionKey) -> Result<Vec<EndedAttempt>> {
    let key = key.clone();
    store
        .read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT a.scheduled_event_id, a.attempt, a.format, a.data
                     FROM activity_attempts a JOIN executions e ON e.id = a.execution
                     WHERE e.namespace = ? AND e.workflow_id = ? AND e.run_id = ?
                     ORDER BY a.scheduled_event_id, a.attempt",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![key.namespace, key.workflow_id, key.run_id], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, Vec<u8>>(3)?,
                    ))
                })
                .map_err(sql_error)?;
            crate::decodable(rows.map(|row| {
                let (scheduled, attempt, format, data) = row.map_err(sql_error)?;
                decode_attempt(format, &data, || attempt_row(&key, scheduled, attempt))
            }))
        })
        .await
}

pub(super) async fn logs(
    store: &SqliteStore,
    key: &ExecutionKey,
    after: i64,
    max_lines: usize,
) -> Result<Vec<LogLine>> {
    let key = key.clone();
    store
        .read(move |conn| {
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

pub(super) async fn list_executions(
    store: &SqliteStore,
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
    store
        .read(move |conn| {
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

pub(super) async fn count_executions(
    store: &SqliteStore,
    namespace: &str,
    filter: &Filter,
) -> Result<i64> {
    let (condition, _, values) = visibility_sql(namespace, filter)?;
    store
        .read(move |conn| {
            let sql = format!("SELECT COUNT(*) FROM executions WHERE {condition}");
            conn.query_row(&sql, params_from_iter(values), |row| row.get(0))
                .map_err(sql_error)
        })
        .await
}

pub(super) async fn undecodable_rows(store: &SqliteStore) -> Result<Vec<String>> {
    store
        .read(|conn| {
            let mut broken = Vec::new();
            for (kind, sql) in codec::SCANS {
                let mut stmt = conn.prepare(sql).map_err(sql_error)?;
                let mut rows = stmt.query([]).map_err(sql_error)?;
                while let Some(row) = rows.next().map_err(sql_error)? {
                    let scanned = codec::ScannedRow {
                        namespace: row.get(0).map_err(sql_error)?,
                        id: row.get(1).map_err(sql_error)?,
                        run_id: row.get(2).map_err(sql_error)?,
                        first: row.get(3).map_err(sql_error)?,
                        second: row.get(4).map_err(sql_error)?,
                        format: row.get(5).map_err(sql_error)?,
                        data: row.get(6).map_err(sql_error)?,
                    };
                    broken.extend(codec::check(kind, &scanned));
                }
            }
            Ok(broken)
        })
        .await
}

/// The columns of a flow revision, in `flow_revision_row`'s order.
const FLOW_REVISION: &str = "r.namespace, r.flow_id, r.revision, r.format, r.source, r.created";

fn flow_revision_of(
    row: &rusqlite::Row,
) -> rusqlite::Result<(String, String, i64, i64, String, i64)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn flow_revisions_of(
    stmt: &mut rusqlite::CachedStatement,
    params: impl rusqlite::Params,
) -> Result<Vec<crate::FlowRevision>> {
    let rows = stmt
        .query_map(params, flow_revision_of)
        .map_err(sql_error)?;
    crate::decodable(rows.map(|row| {
        let (namespace, flow_id, revision, format, source, created) = row.map_err(sql_error)?;
        crate::flow_revision_row(namespace, flow_id, revision, format, source, created)
    }))
}

pub(super) async fn flow_revision(
    store: &SqliteStore,
    namespace: &str,
    flow_id: &str,
    revision: Option<i64>,
) -> Result<Option<crate::FlowRevision>> {
    let (namespace, flow_id) = (namespace.to_owned(), flow_id.to_owned());
    store
        .read(move |conn| {
            let row = match revision {
                Some(revision) => conn
                    .query_row(
                        &format!(
                            "SELECT {FLOW_REVISION} FROM flow_revisions r
                             WHERE r.namespace = ? AND r.flow_id = ? AND r.revision = ?"
                        ),
                        params![namespace, flow_id, revision],
                        flow_revision_of,
                    )
                    .optional(),
                None => conn
                    .query_row(
                        &format!(
                            "SELECT {FLOW_REVISION} FROM flows f JOIN flow_revisions r
                             ON r.namespace = f.namespace AND r.flow_id = f.flow_id AND r.revision = f.revision
                             WHERE f.namespace = ? AND f.flow_id = ? AND f.deleted = 0"
                        ),
                        params![namespace, flow_id],
                        flow_revision_of,
                    )
                    .optional(),
            }
            .map_err(sql_error)?;
            row.map(|(namespace, flow_id, revision, format, source, created)| {
                crate::flow_revision_row(namespace, flow_id, revision, format, source, created)
            })
            .transpose()
        })
        .await
}

pub(super) async fn flow_revisions(
    store: &SqliteStore,
    namespace: &str,
    flow_id: &str,
) -> Result<Vec<crate::FlowRevision>> {
    let (namespace, flow_id) = (namespace.to_owned(), flow_id.to_owned());
    store
        .read(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {FLOW_REVISION} FROM flow_revisions r
                     WHERE r.namespace = ? AND r.flow_id = ? ORDER BY r.revision"
                ))
                .map_err(sql_error)?;
            flow_revisions_of(&mut stmt, params![namespace, flow_id])
        })
        .await
}

pub(super) async fn flows(
    store: &SqliteStore,
    namespace: Option<&str>,
) -> Result<Vec<crate::FlowRevision>> {
    let namespace = namespace.map(str::to_owned);
    store
        .read(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {FLOW_REVISION} FROM flows f JOIN flow_revisions r
                     ON r.namespace = f.namespace AND r.flow_id = f.flow_id AND r.revision = f.revision
                     WHERE f.deleted = 0 AND (?1 IS NULL OR f.namespace = ?1)
                     ORDER BY f.namespace, f.flow_id"
                ))
                .map_err(sql_error)?;
            flow_revisions_of(&mut stmt, params![namespace])
        })
        .await
}
