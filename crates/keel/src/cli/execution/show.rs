//! `keel execution get` and `keel execution history`: one execution, and its events.

use anyhow::Result;
use serde_json::{Value, json};

use super::{MAX_PAGE, RunArgs, execution_path, run_query};
use crate::cli::table::{Table, duration, key_values, short_time, text, truncated_json};
use crate::cli::{Format, Session, emit, print_json};

#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Print Temporal's JSON export of the history (what SDK replayers load) to stdout.
    #[arg(long)]
    export: bool,
}

pub async fn get(session: &Session, namespace: &str, args: &RunArgs) -> Result<()> {
    let path = execution_path(&args.workflow_id, "");
    let execution = session
        .client
        .get_json(&format!("{path}{}", run_query(namespace, args)))
        .await?;
    if session.format == Format::Json {
        return print_json(&execution);
    }
    let field = |key: &str| text(&execution[key]);
    let parent = &execution["parent"];
    let pending_reason = &execution["pending_reason"];
    let error = &execution["error"];
    let mut out = key_values(&[
        ("Workflow ID", field("workflow_id")),
        ("Run ID", field("run_id")),
        ("Type", field("workflow_type")),
        ("Task queue", field("task_queue")),
        (
            "Status",
            format!("{} (phase {})", field("status"), field("phase")),
        ),
        (
            "Why pending",
            if pending_reason.is_null() {
                "-".into()
            } else {
                text(&pending_reason["message"])
            },
        ),
        ("Started", short_time(&execution["start_time"])),
        ("Picked up", short_time(&execution["started_time"])),
        ("Queue wait", duration(&execution["queue_wait_ms"])),
        ("Closed", short_time(&execution["close_time"])),
        ("Duration", duration(&execution["duration_ms"])),
        ("History", format!("{} events", field("history_length"))),
        ("Worker", field("worker")),
        (
            "Parent",
            if parent.is_null() {
                "-".into()
            } else {
                text(&parent["workflow_id"])
            },
        ),
        ("Cancel requested", field("cancel_requested")),
        ("Input", truncated_json(&execution["input"], 200)),
        ("Output", truncated_json(&execution["output"], 200)),
        (
            "Error",
            if error.is_null() {
                "-".into()
            } else {
                format!("{} ({})", text(&error["message"]), text(&error["kind"]))
            },
        ),
    ]);
    let task_runs = execution["task_runs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !task_runs.is_empty() {
        let mut table = Table::new(&[
            "TASK RUN", "TYPE", "STATE", "ATTEMPT", "STARTED", "DURATION", "WORKER",
        ]);
        for task_run in &task_runs {
            table.row(vec![
                text(&task_run["activity_id"]),
                text(&task_run["activity_type"]),
                text(&task_run["state"]),
                text(&task_run["attempt"]),
                short_time(&task_run["started_time"]),
                duration(&task_run["duration_ms"]),
                text(&task_run["worker"]),
            ]);
        }
        out.push('\n');
        out.push_str(&table.render());
    }
    let children = execution["children"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !children.is_empty() {
        let mut table = Table::new(&["CHILD", "RUN ID", "TYPE", "STATE"]);
        for child in &children {
            let cell = |key: &str| text(&child[key]);
            table.row(vec![
                cell("workflow_id"),
                cell("run_id"),
                cell("workflow_type"),
                cell("state"),
            ]);
        }
        out.push('\n');
        out.push_str(&table.render());
    }
    emit(&out)
}

pub async fn history(session: &Session, namespace: &str, args: &HistoryArgs) -> Result<()> {
    let path = execution_path(&args.run.workflow_id, "/history");
    let base_query = run_query(namespace, &args.run);
    if args.export {
        let mut query = base_query;
        query.push("format", "temporal");
        // The server's bytes unchanged: they are what replayers expect to load.
        let export = session.client.get_bytes(&format!("{path}{query}")).await?;
        let mut text = String::from_utf8_lossy(&export).into_owned();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        return emit(&text);
    }
    let mut events: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = base_query.clone();
        query
            .push("limit", MAX_PAGE.to_string())
            .push_opt("cursor", cursor.as_deref());
        let page = session.client.get_json(&format!("{path}{query}")).await?;
        let page_events = page["events"].as_array().cloned().unwrap_or_default();
        let n_page_events = page_events.len();
        events.extend(page_events);
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() || n_page_events == 0 {
            break;
        }
    }
    if session.format == Format::Json {
        return print_json(&json!({"events": events, "next_cursor": cursor}));
    }
    let mut table = Table::new(&["ID", "TIME", "TYPE", "ATTRIBUTES"]);
    for event in &events {
        table.row(vec![
            text(&event["event_id"]),
            short_time(&event["time"]),
            text(&event["type"]),
            truncated_json(&event["attributes"], 100),
        ]);
    }
    emit(&table.render())
}
