//! `keel queue list|describe`: task queues, their pollers and backlogs.

use anyhow::Result;
use serde_json::Value;

use crate::cli::table::{Table, duration, key_values, short_time, text};
use crate::cli::{Common, Format, NamespaceArg, Query, emit, percent_encode, print_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    namespace: NamespaceArg,
    #[command(subcommand)]
    verb: Verb,
}

#[derive(clap::Subcommand, Debug)]
enum Verb {
    /// List the task queues with their pollers and backlogs.
    List,
    /// Show one task queue and the workers polling it.
    Describe {
        /// The task queue's name.
        name: String,
    },
}

pub async fn run(args: Args) -> Result<()> {
    let session = args.common.session()?;
    let mut query = Query::new();
    query.push("namespace", args.namespace.namespace.as_str());
    match args.verb {
        Verb::List => {
            let answer = session
                .client
                .get_json(&format!("/api/v1/task-queues{query}"))
                .await?;
            if session.format == Format::Json {
                return print_json(&answer);
            }
            let mut table = Table::new(&[
                "TASK QUEUE",
                "WF POLLERS",
                "WF BACKLOG",
                "WF OLDEST",
                "ACT POLLERS",
                "ACT BACKLOG",
                "ACT OLDEST",
                "LAST POLL",
            ]);
            for queue in answer["task_queues"].as_array().into_iter().flatten() {
                let (workflow, activity) = (&queue["workflow"], &queue["activity"]);
                table.row(vec![
                    text(&queue["name"]),
                    text(&workflow["pollers"]),
                    text(&workflow["backlog"]),
                    duration(&workflow["oldest_task_age_ms"]),
                    text(&activity["pollers"]),
                    text(&activity["backlog"]),
                    duration(&activity["oldest_task_age_ms"]),
                    short_time(&latest(&workflow["last_poll"], &activity["last_poll"])),
                ]);
            }
            if table.is_empty() {
                eprintln!("no task queues");
                return Ok(());
            }
            emit(&table.render())
        }
        Verb::Describe { name } => {
            let path = format!("/api/v1/task-queues/{}{query}", percent_encode(&name));
            let queue = session.client.get_json(&path).await?;
            if session.format == Format::Json {
                return print_json(&queue);
            }
            let mut out = format!("Task queue {}\n\n", text(&queue["name"]));
            let mut pollers = Table::new(&["KIND", "IDENTITY", "LAST POLL"]);
            for kind in ["workflow", "activity"] {
                let stats = &queue[kind];
                out.push_str(&key_values(&[
                    ("Kind", kind.to_string()),
                    ("Pollers", text(&stats["pollers"])),
                    ("Backlog", text(&stats["backlog"])),
                    ("Oldest task", duration(&stats["oldest_task_age_ms"])),
                    ("Dispatch rate", rate(&stats["dispatch_rate_per_s"])),
                    ("Last poll", short_time(&stats["last_poll"])),
                ]));
                out.push('\n');
                for poller in stats["poller_list"].as_array().into_iter().flatten() {
                    pollers.row(vec![
                        kind.to_string(),
                        text(&poller["identity"]),
                        short_time(&poller["last_poll"]),
                    ]);
                }
            }
            if !pollers.is_empty() {
                out.push_str(&pollers.render());
            }
            emit(&out)
        }
    }
}

/// The later of two RFC 3339 times (they compare as strings when both are UTC), or null.
fn latest(first: &Value, second: &Value) -> Value {
    match (first.as_str(), second.as_str()) {
        (Some(a), Some(b)) => Value::from(a.max(b)),
        (Some(a), None) => Value::from(a),
        (None, Some(b)) => Value::from(b),
        (None, None) => Value::Null,
    }
}

fn rate(value: &Value) -> String {
    match value.as_f64() {
        Some(per_second) => format!("{per_second:.1}/s"),
        None => text(value),
    }
}
