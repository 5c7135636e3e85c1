//! How both backends encode what they store: states, events, namespaces and schedules as
//! MessagePack maps behind a format header; planned runs and activity attempts with their
//! format in a column beside the row; list page tokens as the offset of the next page.
//!
//! Values are written with field and variant names (MessagePack's struct-map form), so what
//! an older Keel stored still reads after types grow: a new field carries
//! `#[serde(default)]`, a new variant is simply added. A change that an older format cannot
//! be read as (a renamed or removed field, a changed meaning) takes a new format number, and
//! decoding dispatches on the number. What each format looks like is pinned by the
//! databases earlier Keels wrote (`crates/keel/tests/fixtures/stored/`) and by encoded
//! blobs (`crates/store/fixtures/`).
//!
//! A blob that does not decode is data loss, reported as [`Error::DataLoss`] naming the row,
//! never as a transient failure to retry.

use keel_core::attempts::EndedAttempt;
use keel_core::plan::PlannedRun;

use crate::{Error, ExecutionSummary, Page, Result};

/// The first byte of every blob with a format header. MessagePack never uses 0xC1, so no
/// value Keel stored before headers existed starts with it; those read as format 1.
const HEADER_MARK: u8 = 0xC1;

/// One kind of stored blob and the format this Keel writes it in.
#[derive(Clone, Copy, Debug)]
pub struct Format {
    /// What the blob holds, for messages ("the state", "an event").
    pub what: &'static str,
    pub current: u8,
}

/// An execution's state (`keel_core::Execution`).
pub const EXECUTION: Format = Format {
    what: "state",
    current: 1,
};
/// A history event (`keel_core::Event`).
pub const EVENT: Format = Format {
    what: "history event",
    current: 1,
};
/// A namespace (`keel_core::Namespace`).
pub const NAMESPACE: Format = Format {
    what: "namespace",
    current: 1,
};
/// A schedule (`keel_core::schedule::Schedule`).
pub const SCHEDULE: Format = Format {
    what: "schedule",
    current: 1,
};

/// `value` in `format`'s current version, behind its header.
pub(crate) fn encode_as<T: serde::Serialize>(format: Format, value: &T) -> Result<Vec<u8>> {
    let mut bytes = vec![HEADER_MARK, format.current];
    rmp_serde::encode::write_named(&mut bytes, value)
        .map_err(|e| Error::Unavailable(format!("encoding a {} failed: {e}", format.what)))?;
    Ok(bytes)
}

/// Reads a blob written by [`encode_as`] (or, headerless, by a Keel before headers);
/// `row` names where it is stored, for the error when it does not decode.
pub(crate) fn decode_as<T: serde::de::DeserializeOwned>(
    format: Format,
    bytes: &[u8],
    row: impl FnOnce() -> String,
) -> Result<T> {
    let (version, body) = match bytes {
        [HEADER_MARK, version, body @ ..] => (*version, body),
        _ => (1, bytes),
    };
    decode_version(format, version.into(), body, row)
}

/// Reads `body`, stored in `version` of `format`: every version so far is read by the type
/// as it is now; a newer one is refused by name.
fn decode_version<T: serde::de::DeserializeOwned>(
    format: Format,
    version: i64,
    body: &[u8],
    row: impl FnOnce() -> String,
) -> Result<T> {
    match version {
        1 => rmp_serde::from_slice(body).map_err(|e| {
            Error::DataLoss(format!(
                "the stored {} of {} does not decode: {e}",
                format.what,
                row()
            ))
        }),
        newer if newer > i64::from(format.current) => Err(Error::DataLoss(format!(
            "the stored {} of {} is in format {newer}, written by a newer Keel; this one reads up to format {}",
            format.what,
            row(),
            format.current
        ))),
        other => Err(Error::DataLoss(format!(
            "the stored {} of {} is in unknown format {other}",
            format.what,
            row()
        ))),
    }
}

/// The kinds of stored rows `keel doctor` checks.
#[derive(Clone, Copy)]
pub(crate) enum Stored {
    Execution,
    Event,
    Attempt,
    Namespace,
    Schedule,
    Plan,
}

/// What `keel doctor` reads, one query per kind of row, in SQL both backends run. Every
/// query answers the same columns, so one function names a row whatever the backend:
/// namespace (a namespace's name for namespaces), id (workflow, schedule or plan id), run
/// id, two numbers (an event id; an activity's scheduled event id and attempt), the format
/// column (0 where the format is in the blob's header) and the blob.
pub(crate) const SCANS: [(Stored, &str); 6] = [
    (
        Stored::Execution,
        "SELECT namespace, workflow_id, run_id, CAST(0 AS BIGINT), CAST(0 AS BIGINT),
            CAST(0 AS BIGINT), state
         FROM executions",
    ),
    (
        Stored::Event,
        "SELECT e.namespace, e.workflow_id, e.run_id, CAST(h.event_id AS BIGINT), CAST(0 AS BIGINT),
            CAST(0 AS BIGINT), h.data
         FROM history h JOIN executions e ON e.id = h.execution",
    ),
    (
        Stored::Attempt,
        "SELECT e.namespace, e.workflow_id, e.run_id, CAST(a.scheduled_event_id AS BIGINT),
            CAST(a.attempt AS BIGINT), CAST(a.format AS BIGINT), a.data
         FROM activity_attempts a JOIN executions e ON e.id = a.execution",
    ),
    (
        Stored::Namespace,
        "SELECT name, '', '', CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT), data
         FROM namespaces",
    ),
    (
        Stored::Schedule,
        "SELECT namespace, schedule_id, '', CAST(0 AS BIGINT), CAST(0 AS BIGINT),
            CAST(0 AS BIGINT), data
         FROM schedules",
    ),
    (
        Stored::Plan,
        "SELECT namespace, plan_id, '', CAST(0 AS BIGINT), CAST(0 AS BIGINT),
            CAST(format AS BIGINT), data
         FROM planned_runs",
    ),
];

/// One row as a [`SCANS`] query answers it.
pub(crate) struct ScannedRow {
    pub namespace: String,
    pub id: String,
    pub run_id: String,
    pub first: i64,
    pub second: i64,
    pub format: i64,
    pub data: Vec<u8>,
}

/// Why a scanned row of `kind` does not decode, naming it, or `None` when it does.
pub(crate) fn check(kind: Stored, row: &ScannedRow) -> Option<String> {
    let key = || keel_core::ExecutionKey {
        namespace: row.namespace.clone(),
        workflow_id: row.id.clone(),
        run_id: row.run_id.clone(),
    };
    let name = || match kind {
        Stored::Execution => run_row(&key()),
        Stored::Event => format!("event {} of {}", row.first, run_row(&key())),
        Stored::Attempt => attempt_row(&key(), row.first, row.second),
        Stored::Namespace => format!("namespace '{}'", row.namespace),
        Stored::Schedule => format!("schedule '{}' in namespace '{}'", row.id, row.namespace),
        Stored::Plan => plan_row(&row.namespace, &row.id),
    };
    let bytes = &row.data;
    let decoded = match kind {
        Stored::Execution => decode_as::<keel_core::Execution>(EXECUTION, bytes, name).map(drop),
        Stored::Event => decode_as::<keel_core::Event>(EVENT, bytes, name).map(drop),
        Stored::Namespace => decode_as::<keel_core::Namespace>(NAMESPACE, bytes, name).map(drop),
        Stored::Schedule => {
            decode_as::<keel_core::schedule::Schedule>(SCHEDULE, bytes, name).map(drop)
        }
        Stored::Plan => decode_plan(row.format, bytes, name).map(drop),
        Stored::Attempt => decode_attempt(row.format, bytes, name).map(drop),
    };
    decoded.err().map(|error| match error {
        Error::DataLoss(message) => message,
        other => other.to_string(),
    })
}

/// Where an execution's rows are, for errors.
pub(crate) fn run_row(key: &keel_core::ExecutionKey) -> String {
    format!(
        "workflow execution '{}' (run '{}', namespace '{}')",
        key.workflow_id, key.run_id, key.namespace
    )
}

/// The columns a listing shows a run by when its state does not decode, in the order of
/// [`SummaryColumns`]; both backends select them before the state.
pub(crate) const SUMMARY_COLUMNS: &str = "namespace, workflow_id, run_id, workflow_type, \
    task_queue, status, start_time, close_time, history_length, phase, worker";
pub(crate) const SUMMARY_COLUMN_COUNT: usize = 11;

/// What the executions table keeps of a run beside its state.
pub(crate) struct SummaryColumns {
    pub key: keel_core::ExecutionKey,
    pub workflow_type: String,
    pub task_queue: String,
    pub status: i32,
    pub start_time: i64,
    pub close_time: Option<i64>,
    pub history_length: i64,
    pub phase: i32,
    pub worker: String,
}

/// A listed run's summary: from its state, or, when that does not decode, from its columns
/// (logged as the data loss it is), so that a listing still shows the run.
pub(crate) fn summary(columns: SummaryColumns, state: &[u8]) -> ExecutionSummary {
    match decode_as::<keel_core::Execution>(EXECUTION, state, || run_row(&columns.key)) {
        Ok(execution) => ExecutionSummary::of(&execution),
        Err(error) => {
            tracing::error!("{error}; listed from its columns");
            let status =
                keel_core::Status::from_code(columns.status).unwrap_or(keel_core::Status::Running);
            ExecutionSummary {
                key: columns.key,
                workflow_type: columns.workflow_type,
                task_queue: columns.task_queue,
                status,
                start_time: keel_core::Time(columns.start_time),
                execution_time: keel_core::Time(columns.start_time),
                close_time: columns.close_time.map(keel_core::Time),
                history_length: columns.history_length,
                memo: Default::default(),
                search_attributes: Default::default(),
                parent: None,
                phase: keel_core::overview::Phase::from_code(columns.phase)
                    .unwrap_or(keel_core::overview::Phase::Running),
                worker: columns.worker,
                queue_wait: None,
                doing: None,
            }
        }
    }
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    rmp_serde::to_vec_named(value).map_err(|e| Error::Unavailable(format!("encoding failed: {e}")))
}

#[cfg(test)]
pub(crate) fn decode<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T> {
    rmp_serde::from_slice(bytes)
        .map_err(|e| Error::DataLoss(format!("stored data does not decode: {e}")))
}

/// Planned runs (`PlannedRun`), whose format is kept in a column beside each row.
pub const PLAN: Format = Format {
    what: "data",
    current: 1,
};
/// Ended activity attempts (`EndedAttempt`), whose format is kept in a column too.
pub const ATTEMPT: Format = Format {
    what: "data",
    current: 1,
};

pub(crate) fn encode_plan(plan: &PlannedRun) -> Result<(i64, Vec<u8>)> {
    Ok((PLAN.current.into(), encode(plan)?))
}

pub(crate) fn decode_plan(
    format: i64,
    bytes: &[u8],
    row: impl FnOnce() -> String,
) -> Result<PlannedRun> {
    decode_version(PLAN, format, bytes, row)
}

pub(crate) fn encode_attempt(attempt: &EndedAttempt) -> Result<(i64, Vec<u8>)> {
    Ok((ATTEMPT.current.into(), encode(attempt)?))
}

pub(crate) fn decode_attempt(
    format: i64,
    bytes: &[u8],
    row: impl FnOnce() -> String,
) -> Result<EndedAttempt> {
    decode_version(ATTEMPT, format, bytes, row)
}

/// Where a planned run is, for errors.
pub(crate) fn plan_row(namespace: &str, plan_id: &str) -> String {
    format!("planned run '{plan_id}' in namespace '{namespace}'")
}

/// Where an ended activity attempt is, for errors.
pub(crate) fn attempt_row(
    key: &keel_core::ExecutionKey,
    scheduled_event_id: i64,
    attempt: i64,
) -> String {
    format!(
        "attempt {attempt} of the activity scheduled by event {scheduled_event_id} of {}",
        run_row(key)
    )
}

/// The page of a listing at `offset`, from up to `page_size + 1` rows read there: the extra
/// row only says that another page follows.
pub(crate) fn page(mut executions: Vec<ExecutionSummary>, offset: i64, page_size: usize) -> Page {
    let mut next_page_token = Vec::new();
    if executions.len() > page_size {
        executions.truncate(page_size);
        next_page_token = (offset + page_size as i64).to_le_bytes().to_vec();
    }
    Page {
        executions,
        next_page_token,
    }
}

pub(crate) fn decode_offset(token: &[u8]) -> Result<i64> {
    if token.is_empty() {
        return Ok(0);
    }
    let bytes: [u8; 8] = token
        .try_into()
        .map_err(|_| Error::InvalidArgument("invalid next page token".into()))?;
    let offset = i64::from_le_bytes(bytes);
    if offset < 0 {
        return Err(Error::InvalidArgument("invalid next page token".into()));
    }
    Ok(offset)
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Before {
        id: i64,
        kind: KindBefore,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum KindBefore {
        Started,
        Closed { reason: String },
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct After {
        id: i64,
        #[serde(default)]
        signals: Vec<String>,
        kind: KindAfter,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum KindAfter {
        Signaled,
        Started,
        Closed { reason: String },
    }

    #[test]
    fn what_an_older_keel_stored_reads_after_fields_and_variants_are_added() {
        let stored = encode(&Before {
            id: 7,
            kind: KindBefore::Closed {
                reason: "done".into(),
            },
        })
        .unwrap();
        let read: After = decode(&stored).unwrap();
        assert_eq!(
            read,
            After {
                id: 7,
                signals: Vec::new(),
                kind: KindAfter::Closed {
                    reason: "done".into()
                },
            }
        );
    }

    /// A plan as format 1 stored it (the bytes in `fixtures/planned_run_v1.msgpack`).
    fn plan_v1() -> PlannedRun {
        use keel_core::plan::PlannedStart;
        PlannedRun {
            namespace: "default".into(),
            id: "nightly-report".into(),
            version: 3,
            what: PlannedStart {
                workflow_type: "Report".into(),
                task_queue: "reports".into(),
                workflow_id: "report-2026-12-05".into(),
                input: Some(keel_core::Blob(vec![10, 2, 8, 1])),
            },
            start_at: Some(keel_core::Time(1_796_515_200_000_000_000)),
            note: "after the close of books".into(),
            request_id: "6f1c0c52-4d4b-4c7e-9a57-2f3b8e1d2a10".into(),
            create_time: keel_core::Time(1_796_428_800_000_000_000),
            update_time: Some(keel_core::Time(1_796_432_400_000_000_000)),
            start_error: Some("workflow id 'report-2026-12-05' is running".into()),
        }
    }

    #[test]
    fn a_planned_run_stored_in_format_1_still_reads() {
        let stored = include_bytes!("../fixtures/planned_run_v1.msgpack");
        assert_eq!(decode_plan(1, stored, || "it".into()).unwrap(), plan_v1());
        let (format, written) = encode_plan(&plan_v1()).unwrap();
        assert_eq!(format, i64::from(PLAN.current));
        assert_eq!(
            decode_plan(format, &written, || "it".into()).unwrap(),
            plan_v1()
        );
    }

    /// An attempt as format 1 stored it (the bytes in `fixtures/ended_attempt_v1.msgpack`).
    fn attempt_v1() -> EndedAttempt {
        EndedAttempt {
            scheduled_event_id: 5,
            attempt: 2,
            scheduled_time: keel_core::Time(1_796_428_801_000_000_000),
            started_time: Some(keel_core::Time(1_796_428_801_250_000_000)),
            worker: "4242@build-host".into(),
            end_time: keel_core::Time(1_796_428_802_000_000_000),
            retry_time: keel_core::Time(1_796_428_804_000_000_000),
            failure: keel_core::Failure {
                message: "card declined".into(),
                source: "TypeScriptSDK".into(),
                info: keel_core::FailureInfo::Application {
                    failure_type: "Declined".into(),
                    non_retryable: false,
                    next_retry_delay: None,
                },
                cause: None,
                original: Some(keel_core::Blob(vec![10, 13, 99, 97, 114, 100])),
            },
        }
    }

    #[test]
    fn an_ended_attempt_stored_in_format_1_still_reads() {
        let stored = include_bytes!("../fixtures/ended_attempt_v1.msgpack");
        assert_eq!(
            decode_attempt(1, stored, || "it".into()).unwrap(),
            attempt_v1()
        );
        let (format, written) = encode_attempt(&attempt_v1()).unwrap();
        assert_eq!(format, i64::from(ATTEMPT.current));
        assert_eq!(
            decode_attempt(format, &written, || "it".into()).unwrap(),
            attempt_v1()
        );
        let refused =
            decode_attempt(i64::from(ATTEMPT.current) + 1, &written, || "it".into()).unwrap_err();
        assert!(refused.to_string().contains("newer Keel"), "{refused}");
    }

    #[test]
    fn a_planned_run_from_a_newer_keel_is_refused_with_a_reason() {
        let (_, written) = encode_plan(&plan_v1()).unwrap();
        let refused =
            decode_plan(i64::from(PLAN.current) + 1, &written, || "it".into()).unwrap_err();
        assert!(refused.to_string().contains("newer Keel"), "{refused}");
    }

    #[test]
    fn blobs_carry_their_format_and_headerless_ones_read_as_format_1() {
        let namespace = keel_core::Namespace {
            name: "orders".into(),
            id: "0b7f".into(),
            description: String::new(),
            owner_email: String::new(),
            retention: std::time::Duration::from_secs(3600),
            data: Default::default(),
            created: keel_core::Time(1),
            search_attributes: Default::default(),
        };
        let written = encode_as(NAMESPACE, &namespace).unwrap();
        assert_eq!(&written[..2], &[HEADER_MARK, NAMESPACE.current]);
        let read: keel_core::Namespace = decode_as(NAMESPACE, &written, || "it".into()).unwrap();
        assert_eq!(read.name, "orders");
        // What Keel wrote before headers: the bare MessagePack map.
        let headerless = rmp_serde::to_vec_named(&namespace).unwrap();
        let read: keel_core::Namespace = decode_as(NAMESPACE, &headerless, || "it".into()).unwrap();
        assert_eq!(read.name, "orders");
    }

    #[test]
    fn a_blob_that_does_not_decode_is_data_loss_naming_its_row() {
        let row = || "namespace 'orders'".to_owned();
        let garbled =
            decode_as::<keel_core::Namespace>(NAMESPACE, &[HEADER_MARK, 1, 0xff], row).unwrap_err();
        assert!(
            matches!(&garbled, Error::DataLoss(m) if m.contains("namespace 'orders'")),
            "{garbled}"
        );
        let newer =
            decode_as::<keel_core::Namespace>(NAMESPACE, &[HEADER_MARK, 9, 0x80], row).unwrap_err();
        assert!(newer.to_string().contains("newer Keel"), "{newer}");
    }

    /// Every blob in the fixture databases (written by earlier Keels) decodes, and encoding
    /// it again keeps every field it stored with the same value: a renamed or dropped field
    /// fails here, even one whose new name has a default.
    #[test]
    fn every_fixture_blob_decodes_and_keeps_every_stored_field() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../keel/tests/fixtures/stored");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).expect("fixture databases") {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "db") {
                continue;
            }
            let db = rusqlite::Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            let blobs = |sql: &str| -> Vec<Vec<u8>> {
                let mut stmt = db.prepare(sql).unwrap();
                stmt.query_map([], |row| row.get::<_, Vec<u8>>(0))
                    .unwrap()
                    .map(|row| row.unwrap())
                    .collect()
            };
            let place = path.display().to_string();
            for blob in blobs("SELECT state FROM executions") {
                checked += round_trip::<keel_core::Execution>(EXECUTION, &blob, &place);
            }
            for blob in blobs("SELECT data FROM history") {
                checked += round_trip::<keel_core::Event>(EVENT, &blob, &place);
            }
            for blob in blobs("SELECT data FROM namespaces") {
                checked += round_trip::<keel_core::Namespace>(NAMESPACE, &blob, &place);
            }
            for blob in blobs("SELECT data FROM schedules") {
                checked += round_trip::<keel_core::schedule::Schedule>(SCHEDULE, &blob, &place);
            }
        }
        assert!(checked > 50, "only {checked} blobs in the fixtures");
    }

    fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(
        format: Format,
        blob: &[u8],
        place: &str,
    ) -> usize {
        let value: T = decode_as(format, blob, || place.to_owned()).unwrap();
        let again = encode_as(format, &value).unwrap();
        let body = |bytes: &[u8]| match bytes {
            [HEADER_MARK, _, body @ ..] => rmpv::decode::read_value(&mut &body[..]).unwrap(),
            _ => rmpv::decode::read_value(&mut &bytes[..]).unwrap(),
        };
        let (stored, written) = (body(blob), body(&again));
        if let Err(path) = keeps(&stored, &written, String::new()) {
            panic!(
                "a {} in {place} loses or changes `{path}` when read and written again",
                format.what
            );
        }
        1
    }

    #[test]
    fn a_renamed_field_is_caught_even_with_a_default() {
        #[derive(Serialize, Deserialize)]
        struct Stored {
            id: i64,
            reason: String,
        }
        #[derive(Serialize, Deserialize)]
        struct Renamed {
            id: i64,
            #[serde(default)]
            why: String,
        }
        let blob = encode_as(
            NAMESPACE,
            &Stored {
                id: 1,
                reason: "done".into(),
            },
        )
        .unwrap();
        let caught = std::panic::catch_unwind(|| round_trip::<Renamed>(NAMESPACE, &blob, "it"));
        assert!(caught.is_err());
        assert_eq!(round_trip::<Stored>(NAMESPACE, &blob, "it"), 1);
    }

    /// Whether `written` holds everything `stored` does (it may hold more map keys).
    fn keeps(
        stored: &rmpv::Value,
        written: &rmpv::Value,
        path: String,
    ) -> std::result::Result<(), String> {
        use rmpv::Value;
        match (stored, written) {
            (Value::Map(stored), Value::Map(written)) => {
                for (key, value) in stored {
                    let name = format!("{path}.{key}");
                    let found = written.iter().find(|(k, _)| k == key).ok_or(name.clone())?;
                    keeps(value, &found.1, name)?;
                }
                Ok(())
            }
            (Value::Array(stored), Value::Array(written)) if stored.len() == written.len() => {
                for (i, (s, w)) in stored.iter().zip(written).enumerate() {
                    keeps(s, w, format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            (stored, written) if stored == written => Ok(()),
            _ => Err(path),
        }
    }

    #[test]
    fn opaque_client_bytes_are_stored_as_bytes_not_as_a_list_of_numbers() {
        let payload = keel_core::Blob(vec![0xff; 1000]);
        let stored = encode(&payload).unwrap();
        assert!(stored.len() < 1010, "{} bytes", stored.len());
        assert_eq!(decode::<keel_core::Blob>(&stored).unwrap(), payload);
    }
}
