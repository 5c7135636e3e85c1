//! `keel execution cancel|terminate|signal|reset`: on one execution, or (except reset) on
//! every running execution matching a Temporal list filter (see `bulk.rs`).

use anyhow::{Context, Result, bail};
use keel_core::reset::ResetPoint;
use serde_json::{Value, json};

use super::bulk::{self, BulkArgs};
use super::execution_path;
use crate::cli::table::text;
use crate::cli::{Format, Query, Session, emit, print_json};

#[derive(clap::Args, Debug)]
#[command(
    override_usage = "keel execution cancel <WORKFLOW_ID> [--reason <REASON>]\n       \
                            keel execution cancel --query <QUERY> [--reason <REASON>] [--yes]"
)]
pub struct CancelArgs {
    #[arg(required_unless_present = "query", conflicts_with = "query")]
    workflow_id: Option<String>,
    /// A run other than the current one.
    #[arg(long, conflicts_with = "query")]
    run_id: Option<String>,
    #[command(flatten)]
    bulk: BulkArgs,
    /// Why, recorded in the history.
    #[arg(long)]
    reason: Option<String>,
}

#[derive(clap::Args, Debug)]
#[command(
    override_usage = "keel execution terminate <WORKFLOW_ID> --reason <REASON>\n       \
                            keel execution terminate --query <QUERY> --reason <REASON> [--yes]"
)]
pub struct TerminateArgs {
    #[arg(required_unless_present = "query", conflicts_with = "query")]
    workflow_id: Option<String>,
    /// A run other than the current one.
    #[arg(long, conflicts_with = "query")]
    run_id: Option<String>,
    #[command(flatten)]
    bulk: BulkArgs,
    /// Why, recorded in the history.
    #[arg(long)]
    reason: String,
}

#[derive(clap::Args, Debug)]
#[command(
    override_usage = "keel execution signal <WORKFLOW_ID> <NAME> [--input <JSON>]\n       \
                            keel execution signal --query <QUERY> <NAME> [--input <JSON>] [--yes]"
)]
pub struct SignalArgs {
    /// The execution to signal (with --query: the signal name).
    #[arg(value_name = "WORKFLOW_ID")]
    first: String,
    /// The signal name.
    #[arg(value_name = "NAME")]
    name: Option<String>,
    /// A run other than the current one.
    #[arg(long, conflicts_with = "query")]
    run_id: Option<String>,
    #[command(flatten)]
    bulk: BulkArgs,
    /// The signal's input, as JSON.
    #[arg(long, value_name = "JSON")]
    input: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ResetArgs {
    workflow_id: String,
    /// A run other than the current one.
    #[arg(long)]
    run_id: Option<String>,
    /// last_failed_task, last_task, first_task, or the id of a WorkflowTaskCompleted event.
    #[arg(long, default_value = "last_failed_task")]
    to: String,
    /// Why, recorded in the history.
    #[arg(long)]
    reason: Option<String>,
}

pub async fn cancel(session: &Session, namespace: &str, args: &CancelArgs) -> Result<()> {
    args.bulk.check()?;
    let mut body = json!({});
    if let Some(reason) = &args.reason {
        body["reason"] = json!(reason);
    }
    match (&args.workflow_id, &args.bulk.query) {
        (_, Some(query)) => bulk::run(session, namespace, "cancel", query, body, &args.bulk).await,
        (Some(workflow_id), None) => {
            act(
                session,
                namespace,
                (workflow_id, args.run_id.as_deref()),
                "/cancel",
                &body,
                |run| format!("cancellation requested for {workflow_id} (run {run})"),
            )
            .await
        }
        (None, None) => bail!("give a workflow id or --query"),
    }
}

pub async fn terminate(session: &Session, namespace: &str, args: &TerminateArgs) -> Result<()> {
    args.bulk.check()?;
    let body = json!({"reason": args.reason});
    match (&args.workflow_id, &args.bulk.query) {
        (_, Some(query)) => {
            bulk::run(session, namespace, "terminate", query, body, &args.bulk).await
        }
        (Some(workflow_id), None) => {
            act(
                session,
                namespace,
                (workflow_id, args.run_id.as_deref()),
                "/terminate",
                &body,
                |run| format!("terminated {workflow_id} (run {run})"),
            )
            .await
        }
        (None, None) => bail!("give a workflow id or --query"),
    }
}

pub async fn signal(session: &Session, namespace: &str, args: &SignalArgs) -> Result<()> {
    args.bulk.check()?;
    let (workflow_id, name) =
        signal_target(&args.first, args.name.as_deref(), args.bulk.query.is_some())?;
    let mut signal = json!({"name": name});
    if let Some(input) = parse_input(args.input.as_deref())? {
        signal["input"] = input;
    }
    match (workflow_id, &args.bulk.query) {
        (None, Some(query)) => {
            bulk::run(
                session,
                namespace,
                "signal",
                query,
                json!({"signal": signal}),
                &args.bulk,
            )
            .await
        }
        (Some(workflow_id), _) => {
            act(
                session,
                namespace,
                (workflow_id, args.run_id.as_deref()),
                "/signal",
                &signal,
                |run| format!("signal {name} sent to {workflow_id} (run {run})"),
            )
            .await
        }
        (None, None) => bail!("give a workflow id and a signal name"),
    }
}

pub async fn reset(session: &Session, namespace: &str, args: &ResetArgs) -> Result<()> {
    let mut body = json!({"to": reset_point(&args.to)?});
    if let Some(reason) = &args.reason {
        body["reason"] = json!(reason);
    }
    act(
        session,
        namespace,
        (&args.workflow_id, args.run_id.as_deref()),
        "/reset",
        &body,
        |run| format!("reset {}: it continues in run {run}", args.workflow_id),
    )
    .await
}

/// Splits the positionals: `WORKFLOW_ID NAME`, or only `NAME` with --query.
fn signal_target<'a>(
    first: &'a str,
    second: Option<&'a str>,
    bulk: bool,
) -> Result<(Option<&'a str>, &'a str)> {
    match (second, bulk) {
        (None, true) => Ok((None, first)),
        (Some(_), true) => bail!("with --query, give only the signal name, not a workflow id"),
        (Some(name), false) => Ok((Some(first), name)),
        (None, false) => bail!("give a workflow id and a signal name"),
    }
}

/// Parses --input before any request, so a typo costs nothing.
pub(crate) fn parse_input(input: Option<&str>) -> Result<Option<Value>> {
    let Some(input) = input else { return Ok(None) };
    let value = serde_json::from_str(input)
        .with_context(|| format!("--input is not valid JSON ({input})"))?;
    Ok(Some(value))
}

/// A named reset point as a string, an event id as a number.
fn reset_point(to: &str) -> Result<Value> {
    if ResetPoint::named(to).is_some() {
        return Ok(json!(to));
    }
    match to.parse::<u64>() {
        Ok(event_id) if event_id > 0 => Ok(json!(event_id)),
        _ => bail!(
            "--to: expected {} or an event id, got '{to}'",
            ResetPoint::NAMES.join(", ")
        ),
    }
}

/// POSTs `body` to the run's `action` route and reports the answer: the server's JSON, or
/// for a person the sentence `message` makes of the run id it names.
async fn act(
    session: &Session,
    namespace: &str,
    (workflow_id, run_id): (&str, Option<&str>),
    action: &str,
    body: &Value,
    message: impl FnOnce(&str) -> String,
) -> Result<()> {
    let mut query = Query::new();
    query
        .push("namespace", namespace)
        .push_opt("run_id", run_id);
    let path = format!("{}{query}", execution_path(workflow_id, action));
    let answer = session.client.post_json(&path, body).await?;
    match session.format {
        Format::Json => print_json(&answer),
        Format::Table => emit(&format!("{}\n", message(&text(&answer["run_id"])))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked_before_any_request() {
        assert_eq!(
            signal_target("order-1", Some("approve"), false).unwrap(),
            (Some("order-1"), "approve")
        );
        assert_eq!(
            signal_target("approve", None, true).unwrap(),
            (None, "approve")
        );
        assert!(signal_target("approve", None, false).is_err());
        assert!(signal_target("order-1", Some("approve"), true).is_err());

        assert_eq!(
            parse_input(Some(r#"{"amount": 3}"#)).unwrap(),
            Some(json!({"amount": 3}))
        );
        assert_eq!(parse_input(None).unwrap(), None);
        let error = format!("{:#}", parse_input(Some("{amount: 3}")).unwrap_err());
        assert!(
            error.starts_with("--input is not valid JSON ({amount: 3}): key must be a string"),
            "{error}"
        );
        assert!(!error.contains('\n'));

        assert_eq!(reset_point("last_task").unwrap(), json!("last_task"));
        assert_eq!(reset_point("12").unwrap(), json!(12));
        assert!(reset_point("0").is_err());
        assert!(reset_point("latest").is_err());
    }
}
