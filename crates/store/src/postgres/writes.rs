//! Commits: one transaction per call, or for a lone execution update one statement.

use base64::Engine as _;

use super::{CHANNEL, MAX_NOTICE, is_unique_violation, pg_error};
use crate::codec::{EVENT, EXECUTION, encode_as, encode_attempt};
use crate::{CurrentRunChange, Error, Result, Write};

pub(super) async fn apply_write(
    tx: &deadpool_postgres::Transaction<'_>,
    write: &Write,
    origin: &str,
) -> Result<()> {
    let ex = &write.execution;
    let key = &ex.key;
    if write.make_current != CurrentRunChange::Keep {
        let claimed = match &write.make_current {
            CurrentRunChange::Keep | CurrentRunChange::First => {
                let insert = tx
                    .prepare_cached(
                        "INSERT INTO current_runs (namespace, workflow_id, run_id) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                    )
                    .await
                    .map_err(pg_error)?;
                tx.execute(&insert, &[&key.namespace, &key.workflow_id, &key.run_id])
                    .await
            }
            CurrentRunChange::After(expected) => {
                let update = tx
                    .prepare_cached(
                        "UPDATE current_runs SET run_id = $3
                         WHERE namespace = $1 AND workflow_id = $2 AND run_id = $4",
                    )
                    .await
                    .map_err(pg_error)?;
                tx.execute(
                    &update,
                    &[&key.namespace, &key.workflow_id, &key.run_id, expected],
                )
                .await
            }
        }
        .map_err(pg_error)?;
        if claimed != 1 {
            return Err(Error::Conflict(format!(
                "workflow id '{}' got a new run meanwhile",
                key.workflow_id
            )));
        }
    }
    if write.expected_version.is_some() {
        update_execution(tx, write, origin).await?;
        record_attempts(tx, write).await?;
        return index_search_attributes(tx, write).await;
    }
    let insert = tx
        .prepare_cached(
            "INSERT INTO executions (namespace, workflow_id, run_id, workflow_type, task_queue,
                status, start_time, close_time, execution_time, history_length, start_request_id,
                version, state, phase, worker, parent_workflow_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $16, $9, $10, $11, $12, $13, $14, $15)
             RETURNING id",
        )
        .await
        .map_err(pg_error)?;
    let row_id: i64 = tx
        .query_one(
            &insert,
            &[
                &key.namespace,
                &key.workflow_id,
                &key.run_id,
                &ex.workflow_type(),
                &ex.task_queue(),
                &ex.status.code(),
                &ex.start_time.0,
                &ex.close_time.map(|t| t.0),
                &ex.history_length(),
                &ex.start_request_id,
                &ex.version,
                &encode_as(EXECUTION, ex)?,
                &ex.phase().code(),
                &ex.last_worker_identity,
                &ex.parent.as_ref().map(|parent| &parent.key.workflow_id),
                &ex.execution_time().0,
            ],
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::AlreadyExists(format!(
                    "run {} of workflow '{}' exists already",
                    key.run_id, key.workflow_id
                ))
            } else {
                pg_error(e)
            }
        })?
        .get(0);
    if !write.events.is_empty() {
        let (ids, data) = encoded_events(write)?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO history (execution, event_id, data)
                 SELECT $1, event_id, data FROM UNNEST($2::int8[], $3::bytea[]) AS e (event_id, data)",
            )
            .await
            .map_err(pg_error)?;
        tx.execute(&insert, &[&row_id, &ids, &data])
            .await
            .map_err(|e| event_error(e, write))?;
    }
    if let Some(message) = &write.notice {
        notify(tx, origin, message).await?;
    }
    index_search_attributes(tx, write).await?;
    Ok(())
}

/// One execution's update as a single statement: the version check, the new state, its
/// events and its notice go together in one round trip. Alone it commits without a
/// transaction block, which makes it the cheapest commit and the most frequent one.
pub(super) async fn update_execution(
    client: &impl deadpool_postgres::GenericClient,
    write: &Write,
    origin: &str,
) -> Result<()> {
    let ex = &write.execution;
    let key = &ex.key;
    let expected = write.expected_version.expect("an update");
    let statement = client
        .prepare_cached(
            "WITH updated AS (
                UPDATE executions SET status = $1, close_time = $2, history_length = $3,
                    version = $4, state = $5, phase = $14, worker = $15
                WHERE namespace = $6 AND workflow_id = $7 AND run_id = $8 AND version = $9
                RETURNING id
            ), appended AS (
                INSERT INTO history (execution, event_id, data)
                SELECT updated.id, e.event_id, e.data
                FROM updated, UNNEST($10::int8[], $11::bytea[]) AS e (event_id, data)
                RETURNING 1
            ), notified AS (
                SELECT pg_notify($12, $13::text) FROM updated WHERE $13::text IS NOT NULL
            )
            SELECT (SELECT count(*) FROM updated), (SELECT count(*) FROM appended),
                (SELECT count(*) FROM notified)",
        )
        .await
        .map_err(pg_error)?;
    let (ids, data) = encoded_events(write)?;
    let payload = write
        .notice
        .as_deref()
        .map(|message| notification_payload(origin, message))
        .transpose()?;
    let row = client
        .query_one(
            &statement,
            &[
                &ex.status.code(),
                &ex.close_time.map(|t| t.0),
                &ex.history_length(),
                &ex.version,
                &encode_as(EXECUTION, ex)?,
                &key.namespace,
                &key.workflow_id,
                &key.run_id,
                &expected,
                &ids,
                &data,
                &CHANNEL,
                &payload,
                &ex.phase().code(),
                &ex.last_worker_identity,
            ],
        )
        .await
        .map_err(|e| event_error(e, write))?;
    let updated: i64 = row.get(0);
    if updated == 0 {
        return Err(Error::Conflict(format!(
            "execution {} changed meanwhile",
            key.run_id
        )));
    }
    Ok(())
}

/// Keeps the activity attempts the write ended (once: a repeated write finds them there).
async fn record_attempts(tx: &deadpool_postgres::Transaction<'_>, write: &Write) -> Result<()> {
    if write.attempts.is_empty() {
        return Ok(());
    }
    let key = &write.execution.key;
    let mut scheduled = Vec::new();
    let mut attempts = Vec::new();
    let mut formats = Vec::new();
    let mut data = Vec::new();
    for attempt in &write.attempts {
        let (format, bytes) = encode_attempt(attempt)?;
        scheduled.push(attempt.scheduled_event_id);
        attempts.push(attempt.attempt);
        formats.push(format);
        data.push(bytes);
    }
    let statement = tx
        .prepare_cached(
            "INSERT INTO activity_attempts (execution, scheduled_event_id, attempt, format, data)
             SELECT e.id, v.scheduled_event_id, v.attempt, v.format, v.data
             FROM executions e, UNNEST($4::int8[], $5::int4[], $6::int8[], $7::bytea[])
                AS v (scheduled_event_id, attempt, format, data)
             WHERE e.namespace = $1 AND e.workflow_id = $2 AND e.run_id = $3
             ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(pg_error)?;
    tx.execute(
        &statement,
        &[
            &key.namespace,
            &key.workflow_id,
            &key.run_id,
            &scheduled,
            &attempts,
            &formats,
            &data,
        ],
    )
    .await
    .map_err(pg_error)?;
    Ok(())
}

/// Replaces the run's rows in `search_attributes` when the write changes its attributes.
async fn index_search_attributes(
    tx: &deadpool_postgres::Transaction<'_>,
    write: &Write,
) -> Result<()> {
    let Some(rows) = write.search_index() else {
        return Ok(());
    };
    let key = &write.execution.key;
    let statement = tx
        .prepare_cached(
            "WITH run AS (
                SELECT id FROM executions WHERE namespace = $1 AND workflow_id = $2 AND run_id = $3
            ), cleared AS (
                DELETE FROM search_attributes WHERE execution = (SELECT id FROM run)
            )
            INSERT INTO search_attributes (execution, name, int_value, real_value, text_value)
            SELECT run.id, v.name, v.int_value, v.real_value, v.text_value
            FROM run, UNNEST($4::text[], $5::int8[], $6::float8[], $7::text[])
                AS v (name, int_value, real_value, text_value)",
        )
        .await
        .map_err(pg_error)?;
    let names: Vec<&str> = rows.iter().map(|row| row.name.as_str()).collect();
    let ints: Vec<Option<i64>> = rows.iter().map(|row| row.int_value).collect();
    let reals: Vec<Option<f64>> = rows.iter().map(|row| row.real_value).collect();
    let texts: Vec<Option<&str>> = rows.iter().map(|row| row.text_value.as_deref()).collect();
    tx.execute(
        &statement,
        &[
            &key.namespace,
            &key.workflow_id,
            &key.run_id,
            &names,
            &ints,
            &reals,
            &texts,
        ],
    )
    .await
    .map_err(pg_error)?;
    Ok(())
}

/// The ids and encoded events of a write, as the history insert binds them.
fn encoded_events(write: &Write) -> Result<(Vec<i64>, Vec<Vec<u8>>)> {
    let ids = write.events.iter().map(|event| event.id).collect();
    let data = write
        .events
        .iter()
        .map(|event| encode_as(EVENT, event))
        .collect::<Result<_>>()?;
    Ok((ids, data))
}

/// An event id that exists already means another writer got there first.
fn event_error(error: tokio_postgres::Error, write: &Write) -> Error {
    if is_unique_violation(&error) {
        Error::Conflict(format!(
            "events of run {} exist already",
            write.execution.key.run_id
        ))
    } else {
        pg_error(error)
    }
}

/// A NOTIFY payload: the sender's origin tag and the message, base64-encoded.
fn notification_payload(origin: &str, message: &[u8]) -> Result<String> {
    if message.len() > MAX_NOTICE {
        return Err(Error::InvalidArgument(format!(
            "a notice of {} bytes is longer than the {MAX_NOTICE} this store carries",
            message.len()
        )));
    }
    Ok(format!(
        "{origin}:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(message)
    ))
}

pub(super) async fn notify(
    client: &impl deadpool_postgres::GenericClient,
    origin: &str,
    message: &[u8],
) -> Result<()> {
    let payload = notification_payload(origin, message)?;
    let statement = client
        .prepare_cached("SELECT pg_notify($1, $2)")
        .await
        .map_err(pg_error)?;
    client
        .execute(&statement, &[&CHANNEL, &payload])
        .await
        .map_err(pg_error)?;
    Ok(())
}
