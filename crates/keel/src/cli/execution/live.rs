//! `keel execution logs` and `keel execution watch`: an execution's log lines and its
//! progress, read page by page or followed on the run's event stream.

use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::{MAX_PAGE, RunArgs, execution_path, run_query};
use crate::cli::sse::Event;
use crate::cli::table::{short_time, text};
use crate::cli::{Format, Session, emit, print_json, print_json_line};

/// Reconnections in a row, without an event in between, before giving up on a stream.
const MAX_RECONNECTS: u32 = 5;

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

/// Prints the run's log lines as the stream brings them: the server sends history
/// milestones as lines too, so nothing is derived here.
async fn follow_logs(session: &Session, namespace: &str, run: &RunArgs) -> Result<()> {
    follow_stream(session, namespace, run, |event| {
        if event.event != "log" {
            return Ok(());
        }
        let line: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
        match session.format {
            Format::Json => print_json_line(&line),
            Format::Table => emit(&(format_log_line(&line) + "\n")),
        }
    })
    .await
}

/// One status line each time the run's status, phase or length changes, with what it is
/// doing now and how many of its task runs are done; ends when the run closes.
pub async fn watch(session: &Session, namespace: &str, run: &RunArgs) -> Result<()> {
    let mut last_shown: Option<Value> = None;
    follow_stream(session, namespace, run, |event| {
        if event.event != "execution" && event.event != "closed" {
            return Ok(());
        }
        let summary: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
        let line = json!({
            "status": summary["status"],
            "phase": summary["phase"],
            "history_length": summary["history_length"],
            "task_runs": summary["task_runs"],
            "doing": if event.event == "closed" { "-".to_owned() } else { doing(&summary["current"]) },
        });
        if last_shown.as_ref() == Some(&line) {
            return Ok(());
        }
        last_shown = Some(line.clone());
        match session.format {
            Format::Json => print_json_line(&line),
            Format::Table => emit(&format!(
                "{:<10} {:<9} events {:<5} task runs {:<7} {}\n",
                text(&line["status"]),
                text(&line["phase"]),
                text(&line["history_length"]),
                progress(&line["task_runs"]),
                text(&line["doing"])
            )),
        }
    })
    .await
}

/// `2/3` task runs closed of those scheduled, or `-` when the server did not say.
fn progress(task_runs: &Value) -> String {
    match (
        task_runs["closed"].as_u64(),
        task_runs["scheduled"].as_u64(),
    ) {
        (Some(closed), Some(scheduled)) => format!("{closed}/{scheduled}"),
        _ => "-".to_owned(),
    }
}

/// What the run is doing, from the stream's `current` field: its open task runs first.
fn doing(current: &Value) -> String {
    let activities = current["activities"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if let Some(activity) = activities.first() {
        let what = match activity["state"].as_str() {
            Some("started") => format!("running on {}", text(&activity["worker"])),
            Some("backing_off") => "waiting to retry".to_owned(),
            _ => "waiting for a worker".to_owned(),
        };
        let more = if activities.len() > 1 {
            format!(" (+{} more)", activities.len() - 1)
        } else {
            String::new()
        };
        return format!(
            "task run {} attempt {} {what}{more}",
            text(&activity["activity_id"]),
            text(&activity["attempt"])
        );
    }
    match current["workflow_task"].as_str() {
        Some("started") => "workflow task running".to_owned(),
        Some(_) => "workflow task waiting for a worker".to_owned(),
        None => "waiting (timers, signals or children)".to_owned(),
    }
}

/// Reads the run's event stream until `event: closed`, reconnecting with `Last-Event-ID`
/// when the connection drops, so a proxy's idle timeout doesn't end a long `--follow`.
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
            match stream.next().await {
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
