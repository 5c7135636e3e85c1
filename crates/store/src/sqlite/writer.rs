//! The writer thread: every [`Write`] goes through it, in batches of one transaction each
//! (group commit).

use std::sync::mpsc;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::oneshot;

use super::sql_error;
use crate::codec::{EVENT, EXECUTION, encode_as, encode_attempt};
use crate::{CurrentRunChange, Error, Result, Write};

/// How many queued requests one transaction takes at most.
const MAX_BATCH: usize = 512;

pub(super) type Reply = oneshot::Sender<Result<()>>;

pub(super) fn write_loop(mut conn: Connection, requests: mpsc::Receiver<(Vec<Write>, Reply)>) {
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
    if write.make_current != CurrentRunChange::Keep {
        let expected_current = match &write.make_current {
            CurrentRunChange::After(run_id) => Some(run_id.clone()),
            CurrentRunChange::Keep | CurrentRunChange::First => None,
        };
        let current: Option<String> = tx
            .prepare_cached(
                "SELECT run_id FROM current_runs WHERE namespace = ? AND workflow_id = ?",
            )
            .map_err(sql_error)?
            .query_row(params![key.namespace, key.workflow_id], |row| row.get(0))
            .optional()
            .map_err(sql_error)?;
        if current != expected_current {
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
                    ex.status.code(), ex.start_time.0, close_time, ex.execution_time().0, ex.history_length(),
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
