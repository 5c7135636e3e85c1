//! `/api/v1/executions/{id}/logs`: the lines workers appended, interleaved with the run's
//! history milestones, and appending lines.
//!
//! A position in a run's log is `E:S`: the last history event and the last appended line
//! already seen. Streams use the same position as their event ids.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use keel_core::Event;
use keel_core::milestones::Milestones;
use keel_engine::operators::NewLogLine;
use keel_engine::{Engine, LogLine};
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::executions::not_found;
use crate::openapi::{NamespaceParam, NotFound, RunParam, Timestamp, WorkflowIdPath};
use crate::request::{Params, RUN_PARAMS, json_body, resolve};

#[derive(OpenApi)]
#[openapi(paths(get, append))]
pub struct Api;

/// How far a reader has got in a run's log: history events and appended lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub event_id: i64,
    pub seq: i64,
}

impl Position {
    pub fn parse(raw: &str) -> Option<Position> {
        let (event_id, seq) = raw.split_once(':')?;
        Some(Position {
            event_id: event_id.parse().ok().filter(|id: &i64| *id >= 0)?,
            seq: seq.parse().ok().filter(|seq: &i64| *seq >= 0)?,
        })
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.event_id, self.seq)
    }
}

/// One log line of a run.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LogLine)]
pub struct Line {
    /// The appended line's sequence number; null for a history milestone.
    pub seq: Option<i64>,
    /// For a history milestone, the event it comes from; else null.
    #[schema(minimum = 1)]
    pub event_id: Option<i64>,
    /// When the line was appended, or the milestone happened.
    pub time: Timestamp,
    #[schema(value_type = LogLevel)]
    level: String,
    /// The line's text.
    message: String,
    source: LogSource,
    /// The activity id of the task run the line belongs to; null for the run as a whole.
    task_run: Option<String>,
    /// Identity of the worker that wrote (or ran) it; null if none.
    worker: Option<String>,
}

/// A log line's level.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // levels are checked by the engine; this describes them
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Where a line comes from. `history`: a milestone derived from the history (started, task
/// runs started/completed/failed, timers, signals, closed); `worker`: an appended line.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    History,
    Worker,
}

pub fn stored_line(line: &LogLine) -> Line {
    Line {
        seq: Some(line.seq),
        event_id: None,
        time: Timestamp(line.time),
        level: line.level.clone(),
        message: line.message.clone(),
        source: LogSource::Worker,
        task_run: (!line.task_run.is_empty()).then(|| line.task_run.clone()),
        worker: (!line.worker.is_empty()).then(|| line.worker.clone()),
    }
}

/// A history event as a log line, if it is a milestone (see `keel_core::milestones`).
pub fn milestone_line(milestones: &mut Milestones, event: &Event) -> Option<Line> {
    let milestone = milestones.of(event)?;
    Some(Line {
        seq: None,
        event_id: Some(event.id),
        time: Timestamp(event.time),
        level: milestone.level.name().to_owned(),
        message: milestone.message,
        source: LogSource::History,
        task_run: milestone.task_run,
        worker: milestone.worker,
    })
}

/// Merges milestones and stored lines by time and keeps the first `limit`; answers them
/// and the position after the last one kept.
pub fn merge(
    mut milestones: Vec<Line>,
    stored: Vec<Line>,
    limit: usize,
    from: Position,
) -> (Vec<Line>, Position) {
    milestones.extend(stored);
    // Stable: on equal times, a milestone comes before a line appended at that instant.
    milestones.sort_by_key(|line| line.time.0);
    milestones.truncate(limit);
    let mut position = from;
    for line in &milestones {
        if let Some(event_id) = line.event_id {
            position.event_id = position.event_id.max(event_id);
        }
        if let Some(seq) = line.seq {
            position.seq = position.seq.max(seq);
        }
    }
    (milestones, position)
}

/// Milestone lines of `events` after `from`, knowing activity ids from all of them.
pub fn milestones_after(events: &[Event], from: i64, milestones: &mut Milestones) -> Vec<Line> {
    events
        .iter()
        .filter_map(|event| milestone_line(milestones, event).filter(|_| event.id > from))
        .collect()
}

pub const GET_PARAMS: &[&str] = &["namespace", "run_id", "after", "limit"];

/// Where a page of lines starts and how long it is.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by name (`GET_PARAMS`); this describes it
pub struct LogPageParams {
    /// Only lines after this position: the `next_after` of the previous page (or the `id` of
    /// a stream message), passed unchanged; absent: from the beginning.
    #[param(min_length = 1)]
    after: Option<String>,
    /// Page size: at most this many lines.
    #[param(minimum = 1, maximum = 1000, default = 200)]
    limit: Option<i64>,
}

/// A page of a run's log lines.
#[derive(Serialize, ToSchema)]
pub struct LogPage {
    /// Appended lines and history milestones, in time order.
    lines: Vec<Line>,
    /// The position after the last line of this page (opaque); pass it as `after` for the
    /// next page. Equal to `after` when there is nothing new.
    next_after: String,
}

/// Get an execution's log lines
///
/// The lines appended to the run, interleaved in time order with milestones derived from
/// its history (`source: history`).
#[utoipa::path(
    get,
    path = "/api/v1/executions/{workflow_id}/logs",
    operation_id = "getExecutionLogs",
    tag = "Executions",
    params(WorkflowIdPath, NamespaceParam, RunParam, LogPageParams),
    responses(
        (status = 200, description = "A page of lines, in time order.", body = LogPage),
        (status = 404, response = NotFound),
    ),
)]
pub async fn get(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<LogPage>> {
    let params = Params::parse(raw.as_deref(), GET_PARAMS)?;
    let from = match params.get("after") {
        None => Position::default(),
        Some(raw) => Position::parse(raw).ok_or_else(|| {
            ApiError::bad_request(format!(
                "'after' must be a position such as 12:3 (from 'next_after'), not '{raw}'"
            ))
        })?,
    };
    let limit = params.integer("limit", 1, 1000, 200)? as usize;
    let key = resolve(&engine, &params, &workflow_id).await?;
    let stored = engine
        .logs(&key, from.seq, limit)
        .await
        .map_err(|e| not_found(e, &key))?;
    let events = crate::executions::whole_history(&engine, &key).await?;
    let milestones = milestones_after(&events, from.event_id, &mut Milestones::default());
    let (lines, next) = merge(
        milestones,
        stored.iter().map(stored_line).collect(),
        limit,
        from,
    );
    Ok(Json(LogPage {
        lines,
        next_after: next.to_string(),
    }))
}

/// The fields of one appended line; a body is one line, or `{"lines": [..]}`.
pub const LINE_FIELDS: &[&str] = &["message", "level", "task_run", "worker"];

/// A log line to append.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`new_line`); this describes it
pub struct LogLineCreate {
    /// The line's text (at most 16 KiB).
    #[schema(min_length = 1)]
    message: String,
    #[schema(default = "info")]
    level: Option<LogLevel>,
    /// The activity id of the task run the line belongs to.
    task_run: Option<String>,
    /// Identity of the worker writing the line.
    worker: Option<String>,
}

/// Several lines to append, in order.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`append`); this describes it
pub struct LogLines {
    #[schema(min_items = 1, max_items = 1000)]
    lines: Vec<LogLineCreate>,
}

/// Lines to append: `{"lines": [...]}`, or a single line object without `lines`. The whole
/// request is refused if one line is invalid.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // read field by field (`append`); this describes it
pub enum LogAppendRequest {
    Many(LogLines),
    One(LogLineCreate),
}

/// The outcome of an append.
#[derive(Serialize, ToSchema)]
pub struct LogAppendResult {
    /// How many lines were appended.
    appended: usize,
}

/// Append log lines to an execution
///
/// Appends lines to the run (running or closed). At most 1000 lines per request and 16 KiB
/// per message.
#[utoipa::path(
    post,
    path = "/api/v1/executions/{workflow_id}/logs",
    operation_id = "appendExecutionLogs",
    tag = "Executions",
    params(WorkflowIdPath, NamespaceParam, RunParam),
    request_body(content = LogAppendRequest, description = "The lines to append."),
    responses(
        (status = 200, description = "How many lines were appended.", body = LogAppendResult),
        (status = 404, response = NotFound),
    ),
)]
pub async fn append(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<LogAppendResult>> {
    let params = Params::parse(raw.as_deref(), RUN_PARAMS)?;
    let mut body = json_body(body)?;
    let lines = match body.remove("lines") {
        Some(Value::Array(lines)) if body.is_empty() => lines,
        Some(Value::Array(_)) => {
            return Err(ApiError::bad_request(
                "a body with 'lines' may have no other field",
            ));
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "'lines' must be an array of lines, not {other}"
            )));
        }
        None => vec![Value::Object(body)],
    };
    let lines = lines
        .iter()
        .enumerate()
        .map(|(index, line)| new_line(index, line))
        .collect::<ApiResult<Vec<_>>>()?;
    let key = resolve(&engine, &params, &workflow_id).await?;
    let appended = engine
        .append_logs(&key, lines)
        .await
        .map_err(|e| not_found(e, &key))?;
    Ok(Json(LogAppendResult { appended }))
}

fn new_line(index: usize, line: &Value) -> ApiResult<NewLogLine> {
    let Value::Object(fields) = line else {
        return Err(ApiError::bad_request(format!(
            "line {index} must be an object, not {line}"
        )));
    };
    let text = |name: &str| -> ApiResult<String> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(text)) => Ok(text.clone()),
            Some(other) => Err(ApiError::bad_request(format!(
                "line {index}: '{name}' must be a string, not {other}"
            ))),
        }
    };
    if let Some(unknown) = fields
        .keys()
        .find(|name| !LINE_FIELDS.contains(&name.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "line {index}: unknown field '{unknown}' (known: message, level, task_run, worker)"
        )));
    }
    let message = text("message")?;
    if message.is_empty() {
        return Err(ApiError::bad_request(format!(
            "line {index}: 'message' is required"
        )));
    }
    let level = text("level")?;
    Ok(NewLogLine {
        level: if level.is_empty() {
            "info".into()
        } else {
            level.to_ascii_lowercase()
        },
        message,
        task_run: text("task_run")?,
        worker: text("worker")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_and_print() {
        assert_eq!(
            Position::parse("12:3"),
            Some(Position {
                event_id: 12,
                seq: 3
            })
        );
        assert_eq!(
            Position {
                event_id: 12,
                seq: 3
            }
            .to_string(),
            "12:3"
        );
        for bad in ["", "12", "a:b", "-1:0", "1:2:3"] {
            assert_eq!(Position::parse(bad), None, "{bad}");
        }
    }
}
