//! `keel worker list`: the workers that poll Keel's task queues.

use anyhow::Result;

use crate::cli::table::{Table, percent, short_time, text};
use crate::cli::{Common, Format, NamespaceArg, Query, emit, print_json};

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
    /// List the workers seen recently, with their queues and how busy they are.
    List,
}

pub async fn run(args: Args) -> Result<()> {
    let session = args.common.session()?;
    let mut query = Query::new();
    query.push("namespace", args.namespace.namespace.as_str());
    match args.verb {
        Verb::List => {
            let answer = session
                .client
                .get_json(&format!("/api/v1/workers{query}"))
                .await?;
            if session.format == Format::Json {
                return print_json(&answer);
            }
            let workers = answer["workers"].as_array().cloned().unwrap_or_default();
            if workers.is_empty() {
                eprintln!("no workers seen");
                return Ok(());
            }
            let mut table = Table::new(&[
                "IDENTITY",
                "TASK QUEUES",
                "LAST SEEN",
                "IN FLIGHT",
                "UTILIZATION",
            ]);
            for worker in &workers {
                let task_queues: Vec<String> = worker["task_queues"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(text)
                    .collect();
                table.row(vec![
                    text(&worker["identity"]),
                    task_queues.join(","),
                    short_time(&worker["last_seen"]),
                    text(&worker["tasks_in_flight"]),
                    percent(&worker["utilization"]),
                ]);
            }
            emit(&table.render())
        }
    }
}
