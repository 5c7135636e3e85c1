//! Server-sent event streams: one run's history and log lines as they happen (resumable
//! with Last-Event-ID), and a namespace's feed of runs changing status or phase.
//!
//! Each stream is a task writing into a small channel; it ends when the client goes away
//! (a send fails) or, for a run, when the run has closed and everything was sent.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, KeepAliveStream, Sse};
use keel_core::{EventKind, ExecutionKey};
use keel_engine::{Engine, ExecutionSummary};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::{ApiError, ApiResult};
use keel_core::milestones::Milestones;

use crate::logs::{Position, milestone_line, stored_line};
use crate::openapi::{NamespaceParam, NotFound, RunParam, WorkflowIdPath};
use crate::payloads::Event;
use crate::render::{CurrentWork, Summary};
use crate::request::{NAMESPACE_PARAMS, Params, resolve};

#[derive(OpenApi)]
#[openapi(
    paths(execution, executions),
    components(schemas(LiveExecution, StreamError, Resync))
)]
pub struct Api;

/// What a run's stream sends as `event: execution`: the run's Summary, what it is on now
/// and how many task runs it scheduled and closed.
#[derive(Serialize, ToSchema)]
pub struct LiveExecution {
    #[serde(flatten)]
    summary: Summary,
    current: CurrentWork,
    task_runs: TaskRunCounts,
}

/// A run's task runs so far.
#[derive(Serialize, ToSchema)]
pub struct TaskRunCounts {
    scheduled: u64,
    closed: u64,
}

/// What `event: error` carries: reading the run failed, and the stream ends.
#[derive(Serialize, ToSchema)]
pub struct StreamError {
    message: String,
}

/// What `event: resync` carries: the subscriber fell behind by this many changes and should
/// list again.
#[derive(Serialize, ToSchema)]
pub struct Resync {
    missed: u64,
}

/// How long a run's stream waits for news before looking again.
const WAKE_EVERY: Duration = Duration::from_secs(15);
const PAGE: usize = 500;

type EventStream = Sse<KeepAliveStream<ReceiverStream<Result<SseEvent, Infallible>>>>;

fn sse(receiver: mpsc::Receiver<Result<SseEvent, Infallible>>) -> EventStream {
    Sse::new(ReceiverStream::new(receiver)).keep_alive(KeepAlive::default())
}

fn message(kind: &str, data: &impl Serialize) -> SseEvent {
    let data = serde_json::to_string(data).expect("answers serialize");
    SseEvent::default().event(kind).data(data)
}

pub const EXECUTION_PARAMS: &[&str] = &["namespace", "run_id", "last_event_id"];

/// Where a run's stream resumes.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by name (`EXECUTION_PARAMS`); this describes it
pub struct ResumeParams {
    /// Like the Last-Event-ID header, for clients that open the stream anew (a browser's
    /// EventSource cannot set the header); the header wins when both are given.
    #[param(min_length = 1)]
    last_event_id: Option<String>,
}

/// The header a reconnecting client sends.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // read from the headers; this describes it
pub struct ResumeHeader {
    /// The `id` of the last message received (opaque, as sent); the stream resumes after it
    /// instead of from the beginning.
    #[param(rename = "Last-Event-ID", min_length = 1)]
    last_event_id: Option<String>,
}

const EXECUTION_STREAM: &str = "Server-sent events for the run, from the beginning of its history and then as they happen: `event: history` (data: an `Event`), `event: log` (data: a `LogLine`), `event: execution` (data: a `LiveExecution`: the run's `Summary` with what it is on now, whenever its status, phase or length changes), `event: error` (data: a `StreamError`) if reading fails, and finally `event: closed` when the run closes (data: the closed run's `Summary`; clients should also accept an empty data field), after which the server ends the stream. Every `history` and `log` message has an `id`; reconnecting with the last one in `Last-Event-ID` resumes after it. Comment lines (`:`) are keep-alives; clients ignore event types they do not know.";

/// Follow an execution live
#[utoipa::path(
    get,
    path = "/api/v1/executions/{workflow_id}/stream",
    operation_id = "streamExecution",
    tag = "Streams",
    description = EXECUTION_STREAM,
    params(WorkflowIdPath, NamespaceParam, RunParam, ResumeHeader, ResumeParams),
    responses(
        (status = 200, description = EXECUTION_STREAM, content_type = "text/event-stream", body = String,
            example = "id: 1\nevent: history\ndata: {\"event_id\": 1, \"time\": \"2026-11-29T21:03:04.123456789Z\", \"type\": \"WorkflowExecutionStarted\", \"attributes\": {}}\n\n"),
        (status = 404, response = NotFound),
    ),
)]
pub async fn execution(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<EventStream> {
    let params = Params::parse(raw.as_deref(), EXECUTION_PARAMS)?;
    // A browser's EventSource sends Last-Event-ID itself only when it reconnects on its
    // own; a page that opens the stream anew says where to resume in the query string.
    let resume_after = match headers.get("last-event-id") {
        Some(value) => Some(value.to_str().unwrap_or("(not text)").to_owned()),
        None => params.get("last_event_id").map(str::to_owned),
    };
    let from = match resume_after {
        None => Position::default(),
        Some(value) => Position::parse(&value).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Last-Event-ID must be an id this stream sent (such as 12:3), not {value:?}"
            ))
        })?,
    };
    let key = resolve(&engine, &params, &workflow_id).await?;
    // Fail now, with a status, rather than in the stream.
    engine
        .describe(&key)
        .await
        .map_err(|e| crate::executions::not_found(e, &key))?;
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(async move {
        if let Err(error) = follow_run(&engine, &key, from, &sender).await {
            let _ = sender
                .send(Ok(message(
                    "error",
                    &StreamError {
                        message: error.to_string(),
                    },
                )))
                .await;
        }
    });
    Ok(sse(receiver))
}

/// Sends the run's events and lines after `position` until it closes; `Ok` also when the
/// client left.
async fn follow_run(
    engine: &Engine,
    key: &ExecutionKey,
    mut position: Position,
    sender: &mpsc::Sender<Result<SseEvent, Infallible>>,
) -> keel_engine::Result<()> {
    let mut milestones = Milestones::default();
    let mut next_event_id = 1;
    let mut shown = None;
    // Task runs scheduled and closed so far: the run's progress, as `watch` shows it.
    let (mut scheduled, mut closed) = (0, 0);
    loop {
        let events = engine.events(key, next_event_id, PAGE).await?;
        for event in &events {
            next_event_id = event.id + 1;
            match &event.kind {
                EventKind::ActivityTaskScheduled(_) => scheduled += 1,
                kind if kind.closed_activity().is_some() => closed += 1,
                _ => {}
            }
            let line = milestone_line(&mut milestones, event);
            if event.id <= position.event_id {
                continue;
            }
            position.event_id = event.id;
            let id = position.to_string();
            let history = message("history", &Event::from(event)).id(&id);
            if sender.send(Ok(history)).await.is_err() {
                return Ok(());
            }
            if let Some(line) = line
                && sender
                    .send(Ok(message("log", &line).id(&id)))
                    .await
                    .is_err()
            {
                return Ok(());
            }
        }
        let lines = engine.logs(key, position.seq, PAGE).await?;
        for line in &lines {
            position.seq = line.seq;
            let sent = message("log", &stored_line(line)).id(position.to_string());
            if sender.send(Ok(sent)).await.is_err() {
                return Ok(());
            }
        }
        let execution = engine.describe(key).await?;
        let summary = ExecutionSummary::of(&execution);
        let state = (summary.status, summary.phase, summary.history_length);
        if shown != Some(state) {
            shown = Some(state);
            let changed = message(
                "execution",
                &LiveExecution {
                    summary: Summary::from(&summary),
                    current: CurrentWork::from(&execution),
                    task_runs: TaskRunCounts { scheduled, closed },
                },
            );
            if sender.send(Ok(changed)).await.is_err() {
                return Ok(());
            }
        }
        let caught_up = events.len() < PAGE && lines.len() < PAGE;
        if caught_up && !execution.is_running() && execution.next_event_id == next_event_id {
            let _ = sender
                .send(Ok(message("closed", &Summary::from(&summary))))
                .await;
            return Ok(());
        }
        if caught_up {
            if sender.is_closed() {
                return Ok(());
            }
            engine
                .wait_for_run(key, next_event_id, Instant::now() + WAKE_EVERY)
                .await?;
        }
    }
}

const EXECUTIONS_STREAM: &str = "Server-sent events: `event: execution` (data: a `Summary`) each time an execution of the namespace starts, changes phase or status, or closes; `event: resync` (data: a `Resync`) when the subscriber fell behind and should list again. Comment lines (`:`) are keep-alives; clients ignore event types they do not know.";

/// Follow a namespace's executions live
#[utoipa::path(
    get,
    path = "/api/v1/stream/executions",
    operation_id = "streamExecutions",
    tag = "Streams",
    description = EXECUTIONS_STREAM,
    params(NamespaceParam),
    responses(
        (status = 200, description = EXECUTIONS_STREAM, content_type = "text/event-stream", body = String,
            example = "event: execution\ndata: {\"workflow_id\": \"order-1\", \"status\": \"running\", \"phase\": \"pending\"}\n\n"),
        (status = 404, response = NotFound),
    ),
)]
pub async fn executions(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
) -> ApiResult<EventStream> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let namespace = params.namespace().to_owned();
    engine.namespace(&namespace)?;
    let mut changes = engine.watch_changes();
    let (sender, receiver) = mpsc::channel(256);
    tokio::spawn(async move {
        loop {
            let change = tokio::select! {
                change = changes.recv() => change,
                // The client left: stop listening now rather than at the next change.
                _ = sender.closed() => return,
            };
            let sent = match change {
                Ok(summary) if summary.key.namespace == namespace => {
                    sender
                        .send(Ok(message("execution", &Summary::from(&summary))))
                        .await
                }
                Ok(_) => continue,
                // The subscriber fell behind: tell it to list again rather than trust its view.
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    sender.send(Ok(message("resync", &Resync { missed }))).await
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if sent.is_err() {
                return;
            }
        }
    });
    Ok(sse(receiver))
}
