//! `GET /api/v1/analytics` and the Prometheus endpoint `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use keel_engine::Engine;
use keel_engine::metrics::DURATION_BUCKETS;
use keel_engine::operators::{AnalyticsRequest, Stats, TypeAnalytics};
use serde::Serialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::openapi::{Millis, NotFound, Timestamp};

use crate::request::Params;

#[derive(OpenApi)]
#[openapi(paths(analytics, metrics))]
pub struct Api;

pub const ANALYTICS_PARAMS: &[&str] = &["namespace", "from", "to", "bucket", "type"];

/// `ANALYTICS_PARAMS`, described.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by name (`ANALYTICS_PARAMS`); this describes them
pub struct AnalyticsParams {
    /// The namespace the request concerns.
    #[param(default = "default", min_length = 1)]
    namespace: Option<String>,
    /// Start of the range (RFC 3339); absent: one day before `to` with hourly buckets, 30
    /// days before it with daily ones.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<Timestamp>,
    /// End of the range (RFC 3339); absent: now. Must be after `from`.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<Timestamp>,
    /// Length of a throughput bucket.
    #[param(inline, default = "hour")]
    bucket: Option<Bucket>,
    /// Only executions of this workflow type.
    r#type: Option<String>,
}

/// The length of a throughput bucket.
#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Hour,
    Day,
}

/// Counts, success rate, durations and throughput over a time range.
#[derive(Serialize, ToSchema)]
#[schema(as = Analytics)]
pub struct AnalyticsView {
    /// Start of the range.
    from: Timestamp,
    /// End of the range.
    to: Timestamp,
    /// The throughput bucket.
    bucket: Bucket,
    /// Whether the range held more runs than the figures are computed from (they then cover
    /// only part of it).
    truncated: bool,
    executions: ExecutionCounts,
    /// Completed over closed, from 0 to 1; null when none closed.
    #[schema(minimum = 0, maximum = 1)]
    success_rate: Option<f64>,
    /// Start to close of the runs closed in the range.
    duration_ms: DurationStats,
    /// First workflow task due to first picked up, of the runs started in the range.
    queue_wait_ms: DurationStats,
    /// Closes per bucket, from `from`.
    throughput: Vec<ThroughputBucket>,
    /// The same figures (without throughput) per workflow type.
    by_type: BTreeMap<String, TypeFigures>,
    /// How busy each worker is.
    workers: Vec<WorkerUtilization>,
}

/// How many runs started in the range, and how the runs closed in it ended.
#[derive(Serialize, ToSchema)]
pub struct ExecutionCounts {
    /// Runs started in the range.
    started: u64,
    /// Of the runs started in the range, those still running.
    running: u64,
    /// Runs completed in the range.
    completed: u64,
    /// Runs failed in the range.
    failed: u64,
    /// Runs canceled in the range.
    canceled: u64,
    /// Runs terminated in the range.
    terminated: u64,
    /// Runs timed out in the range.
    timed_out: u64,
    /// Runs continued as new in the range.
    continued_as_new: u64,
}

impl From<&TypeAnalytics> for ExecutionCounts {
    fn from(figures: &TypeAnalytics) -> ExecutionCounts {
        ExecutionCounts {
            started: figures.started,
            running: figures.running,
            completed: figures.completed,
            failed: figures.failed,
            canceled: figures.canceled,
            terminated: figures.terminated,
            timed_out: figures.timed_out,
            continued_as_new: figures.continued_as_new,
        }
    }
}

/// The figures of one workflow type.
#[derive(Serialize, ToSchema)]
#[schema(as = TypeAnalytics)]
pub struct TypeFigures {
    executions: ExecutionCounts,
    /// Completed over closed, from 0 to 1; null when none closed.
    #[schema(minimum = 0, maximum = 1)]
    success_rate: Option<f64>,
    /// Start to close of the runs closed in the range.
    duration_ms: DurationStats,
    /// First workflow task due to first picked up, of the runs started in the range.
    queue_wait_ms: DurationStats,
}

impl From<&TypeAnalytics> for TypeFigures {
    fn from(figures: &TypeAnalytics) -> TypeFigures {
        TypeFigures {
            executions: figures.into(),
            success_rate: figures.success_rate,
            duration_ms: (&figures.duration).into(),
            queue_wait_ms: (&figures.queue_wait).into(),
        }
    }
}

/// Figures of a set of durations, in milliseconds; each null when count is 0.
#[derive(Serialize, ToSchema)]
#[schema(as = Stats)]
pub struct DurationStats {
    /// How many values.
    count: u64,
    /// Mean.
    avg: Option<Millis>,
    /// Minimum.
    min: Option<Millis>,
    /// Maximum.
    max: Option<Millis>,
    /// Median.
    p50: Option<Millis>,
    /// 95th percentile.
    p95: Option<Millis>,
}

impl From<&Stats> for DurationStats {
    fn from(stats: &Stats) -> DurationStats {
        DurationStats {
            count: stats.count,
            avg: stats.avg.map(Millis),
            min: stats.min.map(Millis),
            max: stats.max.map(Millis),
            p50: stats.p50.map(Millis),
            p95: stats.p95.map(Millis),
        }
    }
}

/// Closes in one time bucket.
#[derive(Serialize, ToSchema)]
pub struct ThroughputBucket {
    /// Start of the bucket.
    start: Timestamp,
    /// Runs completed in the bucket.
    completed: u64,
    /// Runs failed, timed out or terminated in the bucket.
    failed: u64,
    /// Runs canceled in the bucket.
    canceled: u64,
}

/// How busy a worker is.
#[derive(Serialize, ToSchema)]
pub struct WorkerUtilization {
    /// The worker's identity.
    identity: String,
    /// Share of its capacity in use, from 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    utilization: f64,
    /// Tasks it holds now.
    tasks_in_flight: u64,
}

/// Get analytics
///
/// Counts, success rate, durations, queue waits and throughput of the namespace's
/// executions over a time range, overall and per workflow type.
#[utoipa::path(
    get,
    path = "/api/v1/analytics",
    operation_id = "getAnalytics",
    tag = "Analytics",
    params(AnalyticsParams),
    responses(
        (status = 200, description = "The figures over the range.", body = AnalyticsView),
        (status = 404, response = NotFound),
    ),
)]
pub async fn analytics(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<AnalyticsView>> {
    let params = Params::parse(raw.as_deref(), ANALYTICS_PARAMS)?;
    let now = engine.now();
    let (bucket, bucket_length, default_span) = match params.get("bucket").unwrap_or("hour") {
        "hour" => (
            Bucket::Hour,
            Duration::from_secs(3_600),
            Duration::from_secs(86_400),
        ),
        "day" => (
            Bucket::Day,
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
            bucket: bucket_length,
            workflow_type: params.get("type").map(str::to_owned),
        })
        .await?;
    let workers = engine.workers(params.namespace())?;
    Ok(Json(AnalyticsView {
        from: Timestamp(analytics.from),
        to: Timestamp(analytics.to),
        bucket,
        truncated: analytics.truncated,
        executions: (&analytics.overall).into(),
        success_rate: analytics.overall.success_rate,
        duration_ms: (&analytics.overall.duration).into(),
        queue_wait_ms: (&analytics.overall.queue_wait).into(),
        throughput: analytics
            .throughput
            .iter()
            .map(|bucket| ThroughputBucket {
                start: Timestamp(bucket.start),
                completed: bucket.completed,
                failed: bucket.failed,
                canceled: bucket.canceled,
            })
            .collect(),
        by_type: analytics
            .by_type
            .iter()
            .map(|(name, figures)| (name.clone(), figures.into()))
            .collect(),
        workers: workers
            .iter()
            .map(|worker| WorkerUtilization {
                identity: worker.identity.clone(),
                utilization: worker.utilization,
                tasks_in_flight: worker.tasks_in_flight as u64,
            })
            .collect(),
    }))
}

/// Get Prometheus metrics
///
/// Prometheus text exposition: this node's counters since it started, and gauges of
/// queues and workers per namespace.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "getMetrics",
    tag = "Operations",
    responses((
        status = 200,
        description = "The server's metrics in Prometheus text exposition format.",
        body = String,
        content_type = "text/plain",
    )),
)]
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
            crate::render::ExecutionStatus::from(*status).name()
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
