//! `keel namespace list|create`.

use anyhow::{Result, bail};
use serde_json::json;

use crate::cli::table::{Table, text};
use crate::cli::{Common, Format, emit, print_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    verb: Verb,
}

#[derive(clap::Subcommand, Debug)]
enum Verb {
    /// List the namespaces.
    List,
    /// Create a namespace.
    Create(CreateArgs),
}

#[derive(clap::Args, Debug)]
struct CreateArgs {
    name: String,
    /// How long closed executions are kept, in days [default: the server's].
    #[arg(long)]
    retention_days: Option<u32>,
    #[arg(long)]
    description: Option<String>,
}

pub async fn run(args: Args) -> Result<()> {
    let session = args.common.session()?;
    match args.verb {
        Verb::List => {
            let answer = session.client.get_json("/api/v1/namespaces").await?;
            if session.format == Format::Json {
                return print_json(&answer);
            }
            let mut table = Table::new(&["NAME", "RETENTION", "DESCRIPTION"]);
            for namespace in answer["namespaces"].as_array().into_iter().flatten() {
                let retention = match namespace["retention_days"].as_f64() {
                    Some(days) => format!("{days} days"),
                    None => "-".to_string(),
                };
                table.row(vec![
                    text(&namespace["name"]),
                    retention,
                    text(&namespace["description"]),
                ]);
            }
            emit(&table.render())
        }
        Verb::Create(create) => {
            if create.name.trim().is_empty() {
                bail!("the namespace name is empty");
            }
            let mut body = json!({"name": create.name});
            if let Some(days) = create.retention_days {
                body["retention_days"] = json!(days);
            }
            if let Some(description) = &create.description {
                body["description"] = json!(description);
            }
            let answer = session
                .client
                .post_json("/api/v1/namespaces", &body)
                .await?;
            match session.format {
                // The server's answer, or the request when it answers nothing.
                Format::Json => print_json(if answer.is_null() { &body } else { &answer }),
                Format::Table => emit(&format!("namespace {} created\n", create.name)),
            }
        }
    }
}
