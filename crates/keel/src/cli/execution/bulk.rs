//! The bulk form of cancel, terminate, signal, restart and replay: a dry run counts the
//! executions that match a Temporal list filter, a person confirms, then the server acts on
//! all of them.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cli::table::{Table, text};
use crate::cli::{Format, Query, Session, emit, plural, print_json};

/// The bulk form shared by cancel, terminate and signal.
#[derive(clap::Args, Debug)]
pub struct BulkArgs {
    /// Act on every execution matching this Temporal list filter: the running ones for
    /// cancel, terminate and signal; the flow executions that failed for restart and replay.
    #[arg(long)]
    pub query: Option<String>,
    /// With --query: don't ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// With --query: only count the executions that match.
    #[arg(long)]
    pub dry_run: bool,
}

impl BulkArgs {
    /// clap's `requires` doesn't hold these flags to --query, and a `--dry-run` silently
    /// ignored on a single execution would act for real.
    pub fn check(&self) -> Result<()> {
        if self.query.is_none() && (self.yes || self.dry_run) {
            bail!("--yes and --dry-run only go with --query");
        }
        Ok(())
    }
}

pub async fn run(
    session: &Session,
    namespace: &str,
    action: &str,
    query: &str,
    mut body: Value,
    args: &BulkArgs,
) -> Result<()> {
    // Checked before the dry run: a script must not learn about the prompt by hanging on it.
    let interactive = std::io::stdin().is_terminal();
    if !args.yes && !args.dry_run && !interactive {
        bail!(
            "refusing to {action} executions in bulk without confirmation: stdin is not a terminal (pass --yes)"
        );
    }
    body["action"] = json!(action);
    body["query"] = json!(query);
    body["dry_run"] = json!(true);
    let mut path_query = Query::new();
    path_query.push("namespace", namespace);
    let path = format!("/api/v1/executions/bulk{path_query}");
    let preview = session.client.post_json(&path, &body).await?;
    let matched = preview["matched"].as_u64().unwrap_or(0);
    let verb = if matched == 1 { "matches" } else { "match" };
    let count = format!("{} {verb}", plural(matched, "execution"));
    if args.dry_run || matched == 0 {
        return match session.format {
            Format::Json => print_json(&preview),
            Format::Table => emit(&format!("{count}\n")),
        };
    }
    eprintln!("{count}");
    if !args.yes && !confirm()? {
        bail!("aborted; nothing was changed");
    }
    body["dry_run"] = json!(false);
    let result = session.client.post_json(&path, &body).await?;
    let failed = result["failed"].as_array().cloned().unwrap_or_default();
    match session.format {
        Format::Json => print_json(&result)?,
        Format::Table => {
            let mut out = format!(
                "{action}: {} of {} succeeded\n",
                text(&result["succeeded"]),
                plural(result["matched"].as_u64().unwrap_or(matched), "execution")
            );
            if !failed.is_empty() {
                let mut table = Table::new(&["WORKFLOW ID", "RUN ID", "ERROR"]);
                for failure in &failed {
                    table.row(vec![
                        text(&failure["workflow_id"]),
                        text(&failure["run_id"]),
                        text(&failure["error"]),
                    ]);
                }
                out.push_str(&table.render());
            }
            emit(&out)?;
        }
    }
    if !failed.is_empty() {
        bail!(
            "{action} failed for {}",
            plural(failed.len() as u64, "execution")
        );
    }
    Ok(())
}

fn confirm() -> Result<bool> {
    eprint!("Proceed? [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_and_dry_run_need_a_query() {
        let bulk = |query: Option<&str>, yes, dry_run| BulkArgs {
            query: query.map(str::to_string),
            yes,
            dry_run,
        };
        let error = bulk(None, false, true).check().unwrap_err().to_string();
        assert_eq!(error, "--yes and --dry-run only go with --query");
        assert!(bulk(None, true, false).check().is_err());
        assert!(bulk(None, false, false).check().is_ok());
        assert!(bulk(Some("WorkflowType = 'A'"), true, true).check().is_ok());
    }
}
