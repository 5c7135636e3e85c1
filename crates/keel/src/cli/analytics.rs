//! `keel analytics`: counts, success rate, durations and throughput over a period.

use anyhow::{Result, bail};
use serde_json::Value;

use crate::cli::table::{Table, duration, key_values, percent, short_time, text};
use crate::cli::{Common, Format, NamespaceArg, Query, emit, print_json};

const BUCKETS: &[&str] = &["hour", "day"];
const COUNTS: &[&str] = &[
    "started",
    "completed",
    "failed",
    "canceled",
    "terminated",
    "timed_out",
    "running",
];

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    namespace: NamespaceArg,
    /// Start of the period, RFC 3339 [default: the server's].
    #[arg(long)]
    from: Option<String>,
    /// End of the period, RFC 3339 [default: now].
    #[arg(long)]
    to: Option<String>,
    /// Throughput bucket: hour or day.
    #[arg(long)]
    bucket: Option<String>,
    /// Only this workflow type.
    #[arg(long = "type", value_name = "TYPE")]
    workflow_type: Option<String>,
}

fn analytics_query(args: &Args) -> Result<Query> {
    if let Some(bucket) = &args.bucket
        && !BUCKETS.contains(&bucket.as_str())
    {
        bail!("--bucket: expected hour or day, got '{bucket}'");
    }
    let mut query = Query::new();
    query
        .push("namespace", args.namespace.namespace.as_str())
        .push_opt("from", args.from.as_deref())
        .push_opt("to", args.to.as_deref())
        .push_opt("bucket", args.bucket.as_deref())
        .push_opt("type", args.workflow_type.as_deref());
    Ok(query)
}

pub async fn run(args: Args) -> Result<()> {
    let query = analytics_query(&args)?;
    let session = args.common.session()?;
    let report = session
        .client
        .get_json(&format!("/api/v1/analytics{query}"))
        .await?;
    if session.format == Format::Json {
        return print_json(&report);
    }
    let executions = &report["executions"];
    let counts: Vec<String> = COUNTS
        .iter()
        .map(|key| format!("{key} {}", text(&executions[*key])))
        .collect();
    let mut out = key_values(&[
        (
            "Period",
            format!(
                "{} to {} (by {})",
                short_time(&report["from"]),
                short_time(&report["to"]),
                text(&report["bucket"])
            ),
        ),
        ("Executions", counts.join(", ")),
        ("Success rate", percent(&report["success_rate"])),
        ("Duration", stats(&report["duration_ms"])),
        ("Queue wait", stats(&report["queue_wait_ms"])),
    ]);

    let mut throughput = Table::new(&["BUCKET START", "COMPLETED", "FAILED"]);
    for bucket in report["throughput"].as_array().into_iter().flatten() {
        throughput.row(vec![
            short_time(&bucket["start"]),
            text(&bucket["completed"]),
            text(&bucket["failed"]),
        ]);
    }
    if !throughput.is_empty() {
        out.push('\n');
        out.push_str(&throughput.render());
    }

    let mut by_type = Table::new(&[
        "TYPE",
        "STARTED",
        "COMPLETED",
        "FAILED",
        "RUNNING",
        "SUCCESS",
        "P50",
        "P95",
    ]);
    for (workflow_type, type_report) in report["by_type"].as_object().into_iter().flatten() {
        let type_executions = &type_report["executions"];
        by_type.row(vec![
            workflow_type.clone(),
            text(&type_executions["started"]),
            text(&type_executions["completed"]),
            text(&type_executions["failed"]),
            text(&type_executions["running"]),
            percent(&type_report["success_rate"]),
            duration(&type_report["duration_ms"]["p50"]),
            duration(&type_report["duration_ms"]["p95"]),
        ]);
    }
    if !by_type.is_empty() {
        out.push('\n');
        out.push_str(&by_type.render());
    }

    let mut workers = Table::new(&["WORKER", "UTILIZATION"]);
    for worker in report["workers"].as_array().into_iter().flatten() {
        workers.row(vec![
            text(&worker["identity"]),
            percent(&worker["utilization"]),
        ]);
    }
    if !workers.is_empty() {
        out.push('\n');
        out.push_str(&workers.render());
    }
    emit(&out)
}

/// `Stats` on one line: `n 120, avg 1.2s, p50 800ms, p95 4.1s, min 20ms, max 9.8s`.
fn stats(stats: &Value) -> String {
    if stats.is_null() {
        return "-".to_string();
    }
    let mut parts = vec![format!("n {}", text(&stats["count"]))];
    for key in ["avg", "p50", "p95", "min", "max"] {
        parts.push(format!("{key} {}", duration(&stats[key])));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(clap::Parser)]
    struct TestCli {
        #[command(flatten)]
        analytics: Args,
    }

    #[test]
    fn bucket_is_checked_and_options_become_the_query() {
        let cli = TestCli::try_parse_from([
            "keel",
            "--bucket",
            "day",
            "--type",
            "Order",
            "--from",
            "2026-01-01T00:00:00Z",
        ])
        .unwrap();
        assert_eq!(
            analytics_query(&cli.analytics).unwrap().to_string(),
            "?namespace=default&from=2026-01-01T00%3A00%3A00Z&bucket=day&type=Order"
        );
        let cli = TestCli::try_parse_from(["keel", "--bucket", "week"]).unwrap();
        assert_eq!(
            analytics_query(&cli.analytics).unwrap_err().to_string(),
            "--bucket: expected hour or day, got 'week'"
        );
    }
}
