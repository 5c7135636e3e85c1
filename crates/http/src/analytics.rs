//! `GET /api/v1/analytics` and the Prometheus endpoint `GET /metrics`.

use std::fmt::Write as _;
use std::time::Duration;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use keel_engine::Engine;
use keel_engine::metrics::DURATION_BUCKETS;
use keel_engine::operators::{AnalyticsRequest, Stats, TypeAnalytics};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::render;
use crate::request::Params;

pub const ANALYTICS_PARAMS: &[&str] = &["namespace", "from", "to", "bucket", "type"];

pub async fn analytics(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), ANALYTICS_PARAMS)?;
    let now = engine.now();
    let (bucket, default_span) = match params.get("bucket").unwrap_or("hour") {
        "hour" => (Duration::from_secs(3_600), Duration::from_secs(86_400)),
        "day" => (
            Duration::from_secs(86_400),
            Duration::from_secs(30 * 86_400),
        ),
        other => {
            return Err(ApiError::bad_request(format!(
                "bucket '{other}' is not one of hour, day"
            )));
        }
    };
    let to = params.time("to")?.unwrap_or(now);
    let from = params
        .time("from")?
        .unwrap_or(keel_core::Time(to.0 - default_span.as_nanos() as i64));
    let analytics = engine
        .analytics(AnalyticsRequest {
            namespace: params.namespace().to_owned(),
            from,
            to,
            bucket,
            workflow_type: params.get("type").map(str::to_owned),
        })
        .await?;
    Ok(Json(json!({
        "from": render::time(analytics.from),
        "to": render::time(analytics.to),
        "bucket": params.get("bucket").unwrap_or("hour"),
        "truncated": analytics.truncated,
        "executions": figures(&analytics.overall),
        "success_rate": analytics.overall.success_rate,
        "duration_ms": stats(&analytics.overall.duration),
        "queue_wait_ms": stats(&analytics.overall.queue_wait),
        "throughput": analytics.throughput.iter().map(|bucket| json!({
            "start": render::time(bucket.start),
            "completed": bucket.completed,
            "failed": bucket.failed,
            "canceled": bucket.canceled,
        })).collect::<Vec<_>>(),
        "by_type": analytics.by_type.iter().map(|(name, figures_of_type)| (name.clone(), json!({
            "executions": figures(figures_of_type),
            "success_rate": figures_of_type.success_rate,
            "duration_ms": stats(&figures_of_type.duration),
            "queue_wait_ms": stats(&figures_of_type.queue_wait),
        }))).collect::<serde_json::Map<_, _>>(),
        "workers": engine.workers(params.namespace())?.iter().map(|w| json!({
            "identity": w.identity,
            "utilization": w.utilization,
            "tasks_in_flight": w.tasks_in_flight,
        })).collect::<Vec<_>>(),
    })))
}

fn figures(figures: &TypeAnalytics) -> Value {
    json!({
        "started": figures.started,
        "running": figures.running,
        "completed": figures.completed,
        "failed": figures.failed,
        "canceled": figures.canceled,
        "terminated": figures.terminated,
        "timed_out": figures.timed_out,
        "continued_as_new": figures.continued_as_new,
    })
}

fn stats(stats: &Stats) -> Value {
    json!({
        "count": stats.count,
        "avg": render::opt_millis(stats.avg),
        "min": render::opt_millis(stats.min),
        "max": render::opt_millis(stats.max),
        "p50": render::opt_millis(stats.p50),
        "p95": render::opt_millis(stats.p95),
    })
}

/// Prometheus text exposition: this node's counters since it started, and gauges of
/// queues and workers per namespace.
pub async fn metrics(State(engine): State<Engine>) -> impl IntoResponse {
    let snapshot = engine.metrics();
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    };
    counter(
        "keel_commits_total",
        "Execution transitions committed.",
        snapshot.commits,
    );
    counter(
        "keel_history_events_total",
        "History events written.",
        snapshot.events,
    );
    counter(
        "keel_executions_started_total",
        "Runs started.",
        snapshot.executions_started,
    );
    counter(
        "keel_workflow_tasks_started_total",
        "Workflow tasks handed to workers.",
        snapshot.workflow_tasks_started,
    );
    counter(
        "keel_activity_tasks_closed_total",
        "Activities that completed, failed, timed out or were cancelled.",
        snapshot.activity_tasks_closed,
    );
    let _ = writeln!(
        out,
        "# HELP keel_executions_closed_total Runs closed, by status.\n# TYPE keel_executions_closed_total counter"
    );
    for (status, count) in &snapshot.executions_closed {
        let _ = writeln!(
            out,
            "keel_executions_closed_total{{status=\"{}\"}} {count}",
            render::status(*status)
        );
    }
    let _ = writeln!(
        out,
        "# HELP keel_execution_duration_seconds Start to close of closed runs.\n# TYPE keel_execution_duration_seconds histogram"
    );
    for (bound, count) in DURATION_BUCKETS.iter().zip(&snapshot.duration_buckets) {
        let _ = writeln!(
            out,
            "keel_execution_duration_seconds_bucket{{le=\"{bound}\"}} {count}"
        );
    }
    let _ = writeln!(
        out,
        "keel_execution_duration_seconds_bucket{{le=\"+Inf\"}} {count}\nkeel_execution_duration_seconds_sum {sum}\nkeel_execution_duration_seconds_count {count}",
        count = snapshot.duration_count,
        sum = snapshot.duration_sum_seconds
    );
    let _ = writeln!(
        out,
        "# HELP keel_task_queue_backlog Tasks waiting for a worker.\n# TYPE keel_task_queue_backlog gauge\n# HELP keel_task_queue_pollers Workers seen polling in the last five minutes.\n# TYPE keel_task_queue_pollers gauge"
    );
    let mut namespaces = engine.namespaces();
    namespaces.sort_by(|a, b| a.name.cmp(&b.name));
    let mut worker_lines = String::new();
    for namespace in &namespaces {
        let Ok(queues) = engine.task_queues(&namespace.name) else {
            continue;
        };
        for queue in &queues {
            for (kind, info) in [("workflow", &queue.workflow), ("activity", &queue.activity)] {
                let labels = format!(
                    "namespace=\"{}\",task_queue=\"{}\",kind=\"{kind}\"",
                    escape(&namespace.name),
                    escape(&queue.name)
                );
                let _ = writeln!(out, "keel_task_queue_backlog{{{labels}}} {}", info.backlog);
                let _ = writeln!(
                    out,
                    "keel_task_queue_pollers{{{labels}}} {}",
                    info.pollers.len()
                );
            }
        }
        if let Ok(workers) = engine.workers(&namespace.name) {
            let _ = writeln!(
                worker_lines,
                "keel_workers{{namespace=\"{}\"}} {}",
                escape(&namespace.name),
                workers.len()
            );
        }
    }
    let _ = write!(
        out,
        "# HELP keel_workers Workers seen polling in the last five minutes.\n# TYPE keel_workers gauge\n{worker_lines}"
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}

/// A Prometheus label value: backslashes, quotes and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
