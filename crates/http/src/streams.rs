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
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{ApiError, ApiResult};
use keel_core::milestones::Milestones;

use crate::logs::{Position, milestone_line, stored_line};
use crate::render;
use crate::request::{NAMESPACE_PARAMS, Params, resolve};

/// How long a run's stream waits for news before looking again.
const WAKE_EVERY: Duration = Duration::from_secs(15);
const PAGE: usize = 500;

type EventStream = Sse<KeepAliveStream<ReceiverStream<Result<SseEvent, Infallible>>>>;

fn sse(receiver: mpsc::Receiver<Result<SseEvent, Infallible>>) -> EventStream {
    Sse::new(ReceiverStream::new(receiver)).keep_alive(KeepAlive::default())
}

fn message(kind: &str, data: &serde_json::Value) -> SseEvent {
    SseEvent::default().event(kind).data(data.to_string())
}

pub const EXECUTION_PARAMS: &[&str] = &["namespace", "run_id", "last_event_id"];

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
                    &serde_json::json!({"message": error.to_string()}),
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
            let history = message("history", &crate::payloads::event(event)).id(&id);
            if sender.send(Ok(history)).await.is_err() {
                return Ok(());
            }
            if let Some(line) = line
                && sender
                    .send(Ok(message("log", &line.json).id(&id)))
                    .await
                    .is_err()
            {
                return Ok(());
            }
        }
        let lines = engine.logs(key, position.seq, PAGE).await?;
        for line in &lines {
            position.seq = line.seq;
            let sent = message("log", &stored_line(line).json).id(position.to_string());
            if sender.send(Ok(sent)).await.is_err() {
                return Ok(());
            }
        }
        let execution = engine.describe(key).await?;
        let summary = ExecutionSummary::of(&execution);
        let state = (summary.status, summary.phase, summary.history_length);
        if shown != Some(state) {
            shown = Some(state);
            let mut data = render::summary(&summary);
            data["current"] = render::current_work(&execution);
            data["task_runs"] = serde_json::json!({"scheduled": scheduled, "closed": closed});
            let changed = message("execution", &data);
            if sender.send(Ok(changed)).await.is_err() {
                return Ok(());
            }
        }
        let caught_up = events.len() < PAGE && lines.len() < PAGE;
        if caught_up && !execution.is_running() && execution.next_event_id == next_event_id {
            let _ = sender
                .send(Ok(message("closed", &render::summary(&summary))))
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
                        .send(Ok(message("execution", &render::summary(&summary))))
                        .await
                }
                Ok(_) => continue,
                // The subscriber fell behind: tell it to list again rather than trust its view.
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    sender
                        .send(Ok(message(
                            "resync",
                            &serde_json::json!({"missed": missed}),
                        )))
                        .await
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
