//! `keel plan`: planned runs, saved starts that are not executions yet. They start when a
//! person says so (`keel plan start`) or at their `--start-at` time.

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use crate::cli::execution::parse_input;
use crate::cli::table::{Table, key_values, short_time, text, truncated_json};
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
    /// List the planned runs, the soonest first.
    List,
    /// Show one planned run.
    Show { id: String },
    /// Save a run to start later (at --start-at, or when `keel plan start` says so).
    Create {
        /// The workflow type to start.
        #[arg(long = "type")]
        workflow_type: String,
        /// The task queue its workers poll.
        #[arg(long)]
        task_queue: String,
        /// The plan's id [default: generated].
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        fields: Fields,
    },
    /// Change a planned run: only the options given.
    Edit {
        id: String,
        #[arg(long = "type")]
        workflow_type: Option<String>,
        #[arg(long)]
        task_queue: Option<String>,
        #[command(flatten)]
        fields: Fields,
        /// Only if the plan is still at this version (as `show` printed it).
        #[arg(long = "if-version", value_name = "VERSION")]
        if_version: Option<i64>,
    },
    /// Start a planned run now; prints the run it became.
    Start { id: String },
    /// Delete a planned run.
    Delete { id: String },
}

/// What both create and edit take.
#[derive(clap::Args, Debug)]
struct Fields {
    /// The workflow id the run gets [default: the plan's id].
    #[arg(long)]
    workflow_id: Option<String>,
    /// The workflow's input, as JSON.
    #[arg(long)]
    input: Option<String>,
    /// When it starts by itself: an RFC 3339 time, or from now as +30s, +10m, +2h, +1d
    /// (`none` clears it).
    #[arg(long)]
    start_at: Option<String>,
    /// A note for whoever reads the plan.
    #[arg(long)]
    note: Option<String>,
}

impl Fields {
    /// The body fields, checked before any request.
    fn body(&self, now: chrono::DateTime<chrono::Utc>) -> Result<Map<String, Value>> {
        let mut body = Map::new();
        if let Some(workflow_id) = &self.workflow_id {
            body.insert("workflow_id".into(), json!(workflow_id));
        }
        if let Some(input) = parse_input(self.input.as_deref())? {
            body.insert("input".into(), input);
        }
        if let Some(start_at) = &self.start_at {
            body.insert("start_at".into(), start_time(start_at, now)?);
        }
        if let Some(note) = &self.note {
            body.insert("note".into(), json!(note));
        }
        Ok(body)
    }
}

/// `--start-at`: RFC 3339, `+N[smhd]` from `now`, or `none`.
fn start_time(raw: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Value> {
    if raw == "none" {
        return Ok(Value::Null);
    }
    if let Some(relative) = raw.strip_prefix('+') {
        let split = relative
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(relative.len());
        let (count, unit) = relative.split_at(split);
        let count: i64 = count
            .parse()
            .with_context(|| format!("--start-at {raw}: expected a number after '+'"))?;
        let seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => bail!("--start-at {raw}: the unit must be s, m, h or d"),
        };
        let at = now + chrono::Duration::seconds(count.saturating_mul(seconds));
        return Ok(json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
    }
    chrono::DateTime::parse_from_rfc3339(raw).with_context(|| {
        format!("--start-at {raw}: expected a time such as 2026-12-24T18:00:00Z, or +10m")
    })?;
    Ok(json!(raw))
}

pub async fn run(args: Args) -> Result<()> {
    let session = args.common.session()?;
    let client = &session.client;
    let mut query = Query::new();
    query.push("namespace", args.namespace.namespace.as_str());
    let one = |id: &str| format!("/api/v1/plans/{}", percent_encode(id));
    let now = chrono::Utc::now();
    let answer = match args.verb {
        Verb::List => {
            let answer = client.get_json(&format!("/api/v1/plans{query}")).await?;
            if session.format == Format::Table {
                return print_list(&answer);
            }
            answer
        }
        Verb::Show { id } => client.get_json(&format!("{}{query}", one(&id))).await?,
        Verb::Create {
            workflow_type,
            task_queue,
            id,
            fields,
        } => {
            let mut body = fields.body(now)?;
            body.insert("workflow_type".into(), json!(workflow_type));
            body.insert("task_queue".into(), json!(task_queue));
            if let Some(id) = id {
                body.insert("id".into(), json!(id));
            }
            client
                .post_json(&format!("/api/v1/plans{query}"), &Value::Object(body))
                .await?
        }
        Verb::Edit {
            id,
            workflow_type,
            task_queue,
            fields,
            if_version,
        } => {
            let mut body = fields.body(now)?;
            if let Some(workflow_type) = workflow_type {
                body.insert("workflow_type".into(), json!(workflow_type));
            }
            if let Some(task_queue) = task_queue {
                body.insert("task_queue".into(), json!(task_queue));
            }
            if let Some(version) = if_version {
                body.insert("version".into(), json!(version));
            }
            if body.is_empty() {
                bail!("nothing to change: give at least one of the options (see --help)");
            }
            client
                .patch_json(&format!("{}{query}", one(&id)), &Value::Object(body))
                .await?
        }
        Verb::Start { id } => {
            let started = client
                .post_json(&format!("{}/start{query}", one(&id)), &json!({}))
                .await?;
            if session.format == Format::Table {
                return emit(&format!(
                    "started {} as run {}\n",
                    text(&started["workflow_id"]),
                    text(&started["run_id"])
                ));
            }
            started
        }
        Verb::Delete { id } => {
            let deleted = client.delete_json(&format!("{}{query}", one(&id))).await?;
            if session.format == Format::Table {
                return emit(&format!("deleted planned run {id}\n"));
            }
            deleted
        }
    };
    match session.format {
        Format::Json => print_json(&answer),
        Format::Table => print_plan(&answer),
    }
}

fn print_list(answer: &Value) -> Result<()> {
    let plans = answer["plans"].as_array().cloned().unwrap_or_default();
    if plans.is_empty() {
        eprintln!("no planned runs; save one with `keel plan create --type T --task-queue Q`");
        return Ok(());
    }
    let mut table = Table::new(&["ID", "TYPE", "TASK QUEUE", "STARTS", "NOTE"]);
    for plan in &plans {
        let starts = match &plan["start_at"] {
            Value::Null => "by hand".to_owned(),
            at => short_time(at),
        };
        let starts = match plan["start_error"].as_str() {
            Some(error) => format!("{starts} (failed: {error})"),
            None => starts,
        };
        table.row(vec![
            text(&plan["id"]),
            text(&plan["workflow_type"]),
            text(&plan["task_queue"]),
            starts,
            text(&plan["note"]),
        ]);
    }
    emit(&table.render())
}

fn print_plan(plan: &Value) -> Result<()> {
    let start_at = match &plan["start_at"] {
        Value::Null => "when started by hand".to_owned(),
        at => text(at),
    };
    let mut pairs = vec![
        ("id", text(&plan["id"])),
        ("workflow type", text(&plan["workflow_type"])),
        ("task queue", text(&plan["task_queue"])),
        ("workflow id", text(&plan["workflow_id"])),
        ("input", truncated_json(&plan["input"], 200)),
        ("starts", start_at),
        ("note", text(&plan["note"])),
        ("version", text(&plan["version"])),
        ("created", text(&plan["create_time"])),
    ];
    if let Some(error) = plan["start_error"].as_str() {
        pairs.push(("last start failed", error.to_owned()));
    }
    emit(&key_values(&pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_are_absolute_relative_or_none_and_a_bad_one_says_what_is_expected() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-05T10:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            start_time("+90m", now).unwrap(),
            json!("2026-12-05T11:30:00Z")
        );
        assert_eq!(
            start_time("+1d", now).unwrap(),
            json!("2026-12-06T10:00:00Z")
        );
        assert_eq!(
            start_time("2026-12-24T18:00:00+01:00", now).unwrap(),
            json!("2026-12-24T18:00:00+01:00")
        );
        assert_eq!(start_time("none", now).unwrap(), Value::Null);
        let error = start_time("tomorrow", now).unwrap_err().to_string();
        assert!(error.contains("2026-12-24T18:00:00Z"), "{error}");
        let error = start_time("+5w", now).unwrap_err().to_string();
        assert!(error.contains("s, m, h or d"), "{error}");
    }
}
