//! `keel execution ...`: list, inspect, follow and act on workflow executions.
//!
//! The arguments and `list` live here; `get` and `history` in `execution/show.rs`, logs and
//! watch in `execution/live.rs`, actions in `execution/actions.rs`
//! and `execution/bulk.rs`.

mod actions;
pub(crate) use actions::parse_input;
mod bulk;
mod live;
mod show;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::cli::table::{Table, duration, short_time, text};
use crate::cli::{Common, Format, NamespaceArg, Query, Session, emit, percent_encode, print_json};

const STATUSES: &[&str] = &[
    "running",
    "completed",
    "failed",
    "canceled",
    "terminated",
    "timed_out",
    "continued_as_new",
];
const PHASES: &[&str] = &["pending", "running", "completed", "failed", "cancelled"];
/// The server's largest page.
const MAX_PAGE: usize = 1000;

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
    /// List executions, newest first.
    List(ListArgs),
    /// Show one execution: status, timing, payloads, task runs, children.
    Get(RunArgs),
    /// Show an execution's history events.
    History(show::HistoryArgs),
    /// Show an execution's log lines and history milestones.
    Logs(live::LogsArgs),
    /// Follow an execution live, one line per change, until it closes.
    Watch(RunArgs),
    /// Request cancellation of an execution, or of all matching --query.
    Cancel(actions::CancelArgs),
    /// Terminate an execution, or all matching --query.
    Terminate(actions::TerminateArgs),
    /// Send a signal to an execution, or to all matching --query.
    Signal(actions::SignalArgs),
    /// Reset an execution to an earlier point; it continues in a new run.
    Reset(actions::ResetArgs),
    /// Resume a paused flow execution (an approval), with the pause's inputs.
    Resume(ResumeArgs),
    /// Restart a failed flow execution: a new run of it re-runs only what failed.
    /// With --query: every flow execution matching it that failed, timed out, was cancelled
    /// or terminated.
    Restart(RerunTarget),
    /// Replay a flow execution as a new one on the latest (or a given) revision, reusing
    /// the outputs of what finished before the task run it replays from; with --query,
    /// every flow execution matching it that failed.
    Replay(ReplayArgs),
}

#[derive(clap::Args, Debug)]
struct ListArgs {
    /// Comma-separated: running, completed, failed, canceled, terminated, timed_out, continued_as_new.
    #[arg(long)]
    status: Option<String>,
    /// Comma-separated: pending, running, completed, failed, cancelled.
    #[arg(long)]
    phase: Option<String>,
    /// Workflow type.
    #[arg(long = "type", value_name = "TYPE")]
    workflow_type: Option<String>,
    /// Task queue.
    #[arg(long)]
    queue: Option<String>,
    /// Identity of the worker that handles (or last handled) the execution.
    #[arg(long)]
    worker: Option<String>,
    /// A workflow id prefix or an exact run id.
    #[arg(long)]
    search: Option<String>,
    /// A Temporal list filter, e.g. "WorkflowType = 'Order' AND ExecutionStatus = 'Running'".
    #[arg(long)]
    query: Option<String>,
    /// Show at most this many executions.
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

/// An execution and, optionally, one of its runs other than the current one.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    workflow_id: String,
    #[arg(long)]
    run_id: Option<String>,
}

pub async fn run(args: Args) -> Result<()> {
    let session = args.common.session()?;
    let namespace = args.namespace.namespace.as_str();
    match args.verb {
        Verb::List(list_args) => list(&session, namespace, &list_args).await,
        Verb::Get(run_args) => show::get(&session, namespace, &run_args).await,
        Verb::History(history_args) => show::history(&session, namespace, &history_args).await,
        Verb::Logs(logs_args) => live::logs(&session, namespace, &logs_args).await,
        Verb::Watch(run_args) => live::watch(&session, namespace, &run_args).await,
        Verb::Cancel(cancel_args) => actions::cancel(&session, namespace, &cancel_args).await,
        Verb::Terminate(terminate_args) => {
            actions::terminate(&session, namespace, &terminate_args).await
        }
        Verb::Signal(signal_args) => actions::signal(&session, namespace, &signal_args).await,
        Verb::Reset(reset_args) => actions::reset(&session, namespace, &reset_args).await,
        Verb::Resume(resume_args) => resume(&session, namespace, &resume_args).await,
        Verb::Restart(target) => rerun(&session, namespace, &target, "restart", json!({})).await,
        Verb::Replay(args) => {
            if args.target.bulk.query.is_some() && args.from.is_some() {
                bail!("--from names a task run of one execution; it does not go with --query");
            }
            let mut body = serde_json::Map::new();
            if let Some(from) = &args.from {
                body.insert("from_task_run".into(), json!(from));
            }
            if let Some(revision) = args.revision {
                body.insert("revision".into(), json!(revision));
            }
            rerun(
                &session,
                namespace,
                &args.target,
                "replay",
                Value::Object(body),
            )
            .await
        }
    }
}

/// What restart and replay act on: one execution, or (`--query`) every failed flow
/// execution a filter matches.
#[derive(clap::Args, Debug)]
struct RerunTarget {
    /// The execution.
    #[arg(required_unless_present = "query", conflicts_with = "query")]
    workflow_id: Option<String>,
    #[arg(long, conflicts_with = "query")]
    run_id: Option<String>,
    #[command(flatten)]
    bulk: bulk::BulkArgs,
}

#[derive(clap::Args, Debug)]
struct ReplayArgs {
    #[command(flatten)]
    target: RerunTarget,
    /// The task run to replay from [default: the first that failed].
    #[arg(long = "from", value_name = "TASK_RUN")]
    from: Option<String>,
    /// The flow revision to run [default: the latest].
    #[arg(long)]
    revision: Option<i64>,
}

/// Restarts or replays (`action`) the target with `body`: in bulk through the bulk route,
/// or one execution through its own.
async fn rerun(
    session: &Session,
    namespace: &str,
    target: &RerunTarget,
    action: &str,
    body: Value,
) -> Result<()> {
    target.bulk.check()?;
    let run = match (&target.workflow_id, &target.bulk.query) {
        (_, Some(query)) => {
            return bulk::run(session, namespace, action, query, body, &target.bulk).await;
        }
        (Some(workflow_id), None) => RunArgs {
            workflow_id: workflow_id.clone(),
            run_id: target.run_id.clone(),
        },
        (None, None) => bail!("give a workflow id or --query"),
    };
    let path = execution_path(&run.workflow_id, &format!("/{action}"));
    let answer = session
        .client
        .post_json(&format!("{path}{}", run_query(namespace, &run)), &body)
        .await?;
    match session.format {
        Format::Json => print_json(&answer),
        Format::Table => emit(&format!(
            "started {} run {} on revision {} (reusing {} task runs)\n",
            text(&answer["workflow_id"]),
            text(&answer["run_id"]),
            answer["revision"],
            answer["reused"].as_array().map_or(0, Vec::len)
        )),
    }
}

#[derive(clap::Args, Debug)]
struct ResumeArgs {
    #[command(flatten)]
    run: RunArgs,
    /// The paused task run, when more than one waits (e.g. approve, or approve[2]).
    #[arg(long)]
    task_run: Option<String>,
    /// An input of the pause, as NAME=VALUE (repeat for each).
    #[arg(long = "input", value_name = "NAME=VALUE")]
    inputs: Vec<String>,
}

async fn resume(session: &Session, namespace: &str, args: &ResumeArgs) -> Result<()> {
    let mut body = serde_json::Map::new();
    body.insert(
        "inputs".into(),
        Value::Object(crate::cli::flow::input_pairs(&args.inputs)?),
    );
    if let Some(task_run) = &args.task_run {
        body.insert("task_run".into(), Value::String(task_run.clone()));
    }
    let path = execution_path(&args.run.workflow_id, "/resume");
    let answer = session
        .client
        .post_json(
            &format!("{path}{}", run_query(namespace, &args.run)),
            &Value::Object(body),
        )
        .await?;
    match session.format {
        Format::Json => print_json(&answer),
        Format::Table => emit(&format!(
            "resumed {} of {}\n",
            crate::cli::table::text(&answer["task_run"]),
            crate::cli::table::text(&answer["workflow_id"])
        )),
    }
}

/// `/api/v1/executions/{id}{suffix}` with the id safe as a path segment.
fn execution_path(workflow_id: &str, suffix: &str) -> String {
    format!("/api/v1/executions/{}{suffix}", percent_encode(workflow_id))
}

fn run_query(namespace: &str, run: &RunArgs) -> Query {
    let mut query = Query::new();
    query
        .push("namespace", namespace)
        .push_opt("run_id", run.run_id.as_deref());
    query
}

/// Checks a comma-separated list against the values the server knows, so a typo is reported
/// before any request.
fn checked_choices(option: &str, value: &str, allowed: &[&str]) -> Result<String> {
    let mut values = Vec::new();
    for item in value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        if !allowed.contains(&item) {
            bail!(
                "{option}: unknown value '{item}' (expected {})",
                allowed.join(", ")
            );
        }
        values.push(item);
    }
    if values.is_empty() {
        bail!("{option}: no value given");
    }
    Ok(values.join(","))
}

fn list_query(
    namespace: &str,
    args: &ListArgs,
    page_size: usize,
    cursor: Option<&str>,
) -> Result<Query> {
    let mut query = Query::new();
    query.push("namespace", namespace);
    if let Some(status) = &args.status {
        query.push("status", checked_choices("--status", status, STATUSES)?);
    }
    if let Some(phase) = &args.phase {
        query.push("phase", checked_choices("--phase", phase, PHASES)?);
    }
    query
        .push_opt("type", args.workflow_type.as_deref())
        .push_opt("queue", args.queue.as_deref())
        .push_opt("worker", args.worker.as_deref())
        .push_opt("search", args.search.as_deref())
        .push_opt("query", args.query.as_deref())
        .push("limit", page_size.to_string())
        .push_opt("cursor", cursor);
    Ok(query)
}

async fn list(session: &Session, namespace: &str, args: &ListArgs) -> Result<()> {
    if args.limit == 0 {
        bail!("--limit must be at least 1");
    }
    let mut executions: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_size = (args.limit - executions.len()).min(MAX_PAGE);
        let query = list_query(namespace, args, page_size, cursor.as_deref())?;
        let page = session
            .client
            .get_json(&format!("/api/v1/executions{query}"))
            .await?;
        let rows = page["executions"].as_array().cloned().unwrap_or_default();
        let n_rows = rows.len();
        executions.extend(rows.into_iter().take(args.limit - executions.len()));
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if executions.len() >= args.limit || cursor.is_none() || n_rows == 0 {
            break;
        }
    }
    if session.format == Format::Json {
        return print_json(&json!({"executions": executions, "next_cursor": cursor}));
    }
    if executions.is_empty() {
        eprintln!("no executions match");
        return Ok(());
    }
    let mut table = Table::new(&[
        "WORKFLOW ID",
        "TYPE",
        "STATUS",
        "PHASE",
        "QUEUE",
        "STARTED",
        "DURATION",
        "WORKER",
    ]);
    for execution in &executions {
        table.row(vec![
            text(&execution["workflow_id"]),
            text(&execution["workflow_type"]),
            text(&execution["status"]),
            text(&execution["phase"]),
            text(&execution["task_queue"]),
            short_time(&execution["start_time"]),
            duration(&execution["duration_ms"]),
            text(&execution["worker"]),
        ]);
    }
    emit(&table.render())?;
    if cursor.is_some() {
        eprintln!("more executions match; raise --limit to see them");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(clap::Parser)]
    struct TestCli {
        #[command(flatten)]
        execution: Args,
    }

    #[test]
    fn common_options_go_before_or_after_the_verb() {
        let cli = TestCli::try_parse_from([
            "keel",
            "list",
            "--address",
            "http://h:1",
            "-o",
            "json",
            "--namespace",
            "ns",
        ])
        .unwrap();
        assert_eq!(cli.execution.common.address, "http://h:1");
        assert_eq!(cli.execution.common.output, Some(Format::Json));
        assert_eq!(cli.execution.namespace.namespace, "ns");
        let cli =
            TestCli::try_parse_from(["keel", "--namespace", "ns2", "get", "order-1"]).unwrap();
        assert_eq!(cli.execution.namespace.namespace, "ns2");
        assert!(
            matches!(cli.execution.verb, Verb::Get(RunArgs { ref workflow_id, run_id: None }) if workflow_id == "order-1")
        );
    }

    #[test]
    fn list_options_are_checked_and_encoded() {
        let cli = TestCli::try_parse_from([
            "keel",
            "list",
            "--status",
            "running, failed",
            "--type",
            "Order Flow",
        ])
        .unwrap();
        let Verb::List(args) = cli.execution.verb else {
            panic!("not a list")
        };
        let query = list_query("default", &args, 50, Some("c/1")).unwrap();
        assert_eq!(
            query.to_string(),
            "?namespace=default&status=running%2Cfailed&type=Order%20Flow&limit=50&cursor=c%2F1"
        );
        let error = checked_choices("--phase", "pending,canceled", PHASES)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "--phase: unknown value 'canceled' (expected pending, running, completed, failed, cancelled)"
        );
        assert_eq!(
            execution_path("a/b c", "/history"),
            "/api/v1/executions/a%2Fb%20c/history"
        );
    }

    #[test]
    fn action_forms_parse_and_conflict() {
        // Checks every verb's clap definition (ids named in `requires`/`conflicts_with`, ...).
        TestCli::command().debug_assert();
        let parse = |args: &[&str]| TestCli::try_parse_from(["keel"].iter().chain(args));
        assert!(parse(&["cancel", "order-1", "--reason", "x"]).is_ok());
        assert!(parse(&["cancel", "--query", "WorkflowType='A'", "--yes"]).is_ok());
        assert!(parse(&["cancel", "order-1", "--query", "WorkflowType='A'"]).is_err());
        assert!(parse(&["cancel"]).is_err());
        // Accepted by clap; refused by `BulkArgs::check` (tested in bulk.rs).
        assert!(parse(&["cancel", "order-1", "--dry-run"]).is_ok());
        assert!(
            parse(&["terminate", "order-1"]).is_err(),
            "terminate needs --reason"
        );
        assert!(parse(&["terminate", "--query", "q", "--reason", "r", "--dry-run"]).is_ok());
        let cli = parse(&["signal", "--query", "q", "approve", "--input", "{}"]).unwrap();
        let Verb::Signal(_) = cli.execution.verb else {
            panic!("not a signal")
        };
        assert!(parse(&["reset", "order-1", "--to", "7"]).is_ok());
    }
}
