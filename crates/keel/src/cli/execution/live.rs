//! `keel execution logs` and `keel execution watch`: an execution's log lines and its
//! progress, read page by page or followed on the run's event stream.

use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::events::{Milestones, RunState};
use super::{MAX_PAGE, RunArgs, execution_path, run_query};
use crate::cli::sse::Event;
use crate::cli::table::{short_time, text};
use crate::cli::{Format, Session, emit, print_json, print_json_line};

/// Reconnections in a row, without an event in between, before giving up on a stream.
const MAX_RECONNECTS: u32 = 5;
/// A stream quiet for this long has sent what it had for now.
const IDLE_AFTER: Duration = Duration::from_millis(300);
/// Not an SSE event: what `follow_stream` hands its callback when the stream goes quiet.
const IDLE: &str = "keel-cli:idle";

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Keep printing lines and milestones as they happen, until the run closes.
    #[arg(long, short = 'f')]
    follow: bool,
}

pub async fn logs(session: &Session, namespace: &str, args: &LogsArgs) -> Result<()> {
    if args.follow {
        return follow_logs(session, namespace, &args.run).await;
    }
    let path = execution_path(&args.run.workflow_id, "/logs");
    let mut lines: Vec<Value> = Vec::new();
    let mut after = Value::Null;
    loop {
        let mut query = run_query(namespace, &args.run);
        if !after.is_null() {
            query.push("after", text(&after));
        }
        query.push("limit", MAX_PAGE.to_string());
        let page = session.client.get_json(&format!("{path}{query}")).await?;
        let page_lines = page["lines"].as_array().cloned().unwrap_or_default();
        let next_after = page["next_after"].clone();
        let stalled = next_after.is_null() || next_after == after;
        let n_page_lines = page_lines.len();
        lines.extend(page_lines);
        if !next_after.is_null() {
            after = next_after;
        }
        if n_page_lines == 0 || stalled {
            break;
        }
    }
    if session.format == Format::Json {
        return print_json(&json!({"lines": lines, "next_after": after}));
    }
    let text: String = lines
        .iter()
        .map(|line| format_log_line(line) + "\n")
        .collect();
    emit(&text)
}

/// `2026-11-29 21:03:04 INFO  [worker/charge-card] charging the card`.
fn format_log_line(line: &Value) -> String {
    let level = line["level"].as_str().unwrap_or("info").to_uppercase();
    let source = line["source"].as_str().unwrap_or("worker");
    let origin = match line["task_run"].as_str() {
        Some(task_run) => format!("{source}/{task_run}"),
        None => source.to_string(),
    };
    format!(
        "{} {level:<5} [{origin}] {}",
        short_time(&line["time"]),
        text(&line["message"])
    )
}

async fn follow_logs(session: &Session, namespace: &str, run: &RunArgs) -> Result<()> {
    let show = |line: &Value| match session.format {
        Format::Json => print_json_line(line),
        Format::Table => emit(&(format_log_line(line) + "\n")),
    };
    let mut milestones = Milestones::default();
    // Keel sends each milestone as a `log` line (source `history`) right after its history
    // event. A line derived here waits for the next event so that the server's own line for
    // the same event replaces it; once the server has sent one, deriving stops.
    let mut server_sends_milestones = false;
    let mut pending: Option<(Value, Value)> = None;
    follow_stream(session, namespace, run, |event| {
        let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
        let is_server_milestone = event.event == "log" && data["source"] == "history";
        server_sends_milestones |= is_server_milestone;
        if let Some((event_id, derived_line)) = pending.take()
            && !(is_server_milestone && data["event_id"] == event_id)
        {
            show(&derived_line)?;
        }
        match event.event.as_str() {
            "log" => show(&data),
            "history" if !server_sends_milestones => {
                if let Some((level, message)) = milestones.describe(&data) {
                    let line = json!({"time": data["time"], "level": level, "message": message,
                                      "source": "history", "event_id": data["event_id"]});
                    pending = Some((data["event_id"].clone(), line));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    })
    .await
}

pub async fn watch(session: &Session, namespace: &str, run: &RunArgs) -> Result<()> {
    let mut state = RunState::default();
    let mut printer = StatusPrinter {
        format: session.format,
        last_shown: None,
    };
    // Keel sends the run's summary (`event: execution`) after each batch of history. Lines
    // derived from history wait (coalesced) until the stream goes quiet, so they only show
    // for a server that sends no summaries, and a replayed history prints one line, not one
    // per event.
    let mut summaries_seen = false;
    let mut pending: Option<Value> = None;
    follow_stream(session, namespace, run, |event| {
        let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
        match event.event.as_str() {
            "history" => {
                state.apply(&data);
                if !summaries_seen {
                    pending = Some(json!({"status": state.status, "phase": state.phase(),
                        "history_length": state.n_events, "task": state.current_task()}));
                }
                Ok(())
            }
            "execution" | "closed" => {
                summaries_seen = true;
                pending = None;
                state.closed |= event.event == "closed";
                let line = json!({"status": data["status"], "phase": data["phase"],
                    "history_length": data["history_length"], "task": state.current_task()});
                printer.show(line, &state.last_time)
            }
            IDLE => match pending.take() {
                Some(line) => printer.show(line, &state.last_time),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    })
    .await
}

/// Prints a status line when it differs from the previous one.
struct StatusPrinter {
    format: Format,
    last_shown: Option<Value>,
}

impl StatusPrinter {
    fn show(&mut self, mut status_line: Value, time: &Value) -> Result<()> {
        if self.last_shown.as_ref() == Some(&status_line) {
            return Ok(());
        }
        self.last_shown = Some(status_line.clone());
        // When it changed, not part of what changed.
        status_line["time"] = time.clone();
        match self.format {
            Format::Json => print_json_line(&status_line),
            Format::Table => emit(&format!(
                "{}  {:<10} {:<9} events {:<5} {}\n",
                short_time(&status_line["time"]),
                text(&status_line["status"]),
                text(&status_line["phase"]),
                text(&status_line["history_length"]),
                text(&status_line["task"])
            )),
        }
    }
}

/// Reads the run's event stream until `event: closed`, reconnecting with `Last-Event-ID`
/// when the connection drops, so a proxy's idle timeout doesn't end a long `--follow`.
/// The callback also gets an [`IDLE`] event each time the stream has been quiet a while.
async fn follow_stream(
    session: &Session,
    namespace: &str,
    run: &RunArgs,
    mut on_event: impl FnMut(&Event) -> Result<()>,
) -> Result<()> {
    let path = format!(
        "{}{}",
        execution_path(&run.workflow_id, "/stream"),
        run_query(namespace, run)
    );
    let mut last_event_id: Option<String> = None;
    let mut n_reconnects = 0;
    let mut connected_once = false;
    loop {
        let mut stream = match session.client.stream(&path, last_event_id.as_deref()).await {
            Ok(stream) => stream,
            // The first answer (not found, unreachable) is the user's; a later failure may
            // be a server restarting.
            Err(error) if !connected_once => return Err(error),
            Err(error) => {
                n_reconnects += 1;
                if n_reconnects > MAX_RECONNECTS {
                    return Err(
                        error.context(format!("lost the event stream of {}", run.workflow_id))
                    );
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        connected_once = true;
        let broke_off = loop {
            let Ok(next) = tokio::time::timeout(IDLE_AFTER, stream.next()).await else {
                let idle = Event {
                    id: None,
                    event: IDLE.to_string(),
                    data: String::new(),
                };
                on_event(&idle)?;
                continue;
            };
            match next {
                Ok(Some(event)) => {
                    n_reconnects = 0;
                    last_event_id = event.id.clone().or(last_event_id);
                    if event.event == "error" {
                        let data: Value = serde_json::from_str(&event.data).unwrap_or_default();
                        bail!(
                            "the event stream of {} failed: {}",
                            run.workflow_id,
                            text(&data["message"])
                        );
                    }
                    on_event(&event)?;
                    if event.event == "closed" {
                        return Ok(());
                    }
                }
                Ok(None) => break "the server ended the stream".to_string(),
                Err(error) => break format!("{error:#}"),
            }
        };
        n_reconnects += 1;
        if n_reconnects > MAX_RECONNECTS {
            bail!(
                "lost the event stream of {} before the run closed: {broke_off}",
                run.workflow_id
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
