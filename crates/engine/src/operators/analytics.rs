//! Analytics over a time range: how many runs started and closed, how they ended, how
//! long they took and waited, per workflow type and per time bucket. Computed from the
//! visibility rows on each request (no second store of figures).

use std::collections::BTreeMap;
use std::time::Duration;

use keel_core::visibility::{Condition, Field, Filter, Value};
use keel_core::{Status, Time};
use keel_store::ExecutionSummary;

use crate::{Engine, Error, Result};

/// At most this many runs are read for one answer; beyond, the answer says it is partial.
pub const MAX_ANALYZED: usize = 100_000;
/// At most this many buckets in one answer.
pub const MAX_BUCKETS: i64 = 10_000;

#[derive(Clone, Debug)]
pub struct AnalyticsRequest {
    pub namespace: String,
    pub from: Time,
    pub to: Time,
    pub bucket: Duration,
    pub workflow_type: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Analytics {
    pub from: Time,
    pub to: Time,
    pub bucket: Duration,
    pub overall: TypeAnalytics,
    pub by_type: BTreeMap<String, TypeAnalytics>,
    /// Closes per bucket, from `from`.
    pub throughput: Vec<ThroughputBucket>,
    /// More runs matched than [`MAX_ANALYZED`]; the figures cover the newest of them.
    pub truncated: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TypeAnalytics {
    /// Runs started within the range.
    pub started: u64,
    /// Of those, still running.
    pub running: u64,
    /// Runs closed within the range, by how.
    pub completed: u64,
    pub failed: u64,
    pub canceled: u64,
    pub terminated: u64,
    pub timed_out: u64,
    pub continued_as_new: u64,
    /// Completed over closed (continued-as-new runs are neither).
    pub success_rate: Option<f64>,
    /// Start to close, of the runs closed within the range.
    pub duration: Stats,
    /// First workflow task due to first picked up, of the runs started within the range.
    pub queue_wait: Stats,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub count: u64,
    pub avg: Option<Duration>,
    pub min: Option<Duration>,
    pub max: Option<Duration>,
    pub p50: Option<Duration>,
    pub p95: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ThroughputBucket {
    pub start: Time,
    pub completed: u64,
    /// Failed, timed out or terminated.
    pub failed: u64,
    pub canceled: u64,
}

impl Engine {
    pub async fn analytics(&self, request: AnalyticsRequest) -> Result<Analytics> {
        if request.to <= request.from {
            return Err(Error::InvalidArgument(
                "the range is empty: 'to' must be after 'from'".into(),
            ));
        }
        let nanos = i64::try_from(request.bucket.as_nanos()).unwrap_or(i64::MAX);
        if nanos <= 0 || (request.to.0 - request.from.0) / nanos > MAX_BUCKETS {
            return Err(Error::InvalidArgument(format!(
                "at most {MAX_BUCKETS} buckets fit in one answer: choose a longer bucket or a shorter range"
            )));
        }
        let between = |field| Condition::Between {
            field,
            low: Value::Int(request.from.0),
            high: Value::Int(request.to.0),
            negated: false,
        };
        let filter = Filter::matching(Condition::Or(
            Box::new(between(Field::StartTime)),
            Box::new(between(Field::CloseTime)),
        ));
        let mut summaries = Vec::new();
        let mut token = Vec::new();
        let mut truncated = false;
        loop {
            let page = self
                .list_executions(&request.namespace, &filter, 1000, &token)
                .await?;
            summaries.extend(page.executions.into_iter().filter(|summary| {
                request
                    .workflow_type
                    .as_ref()
                    .is_none_or(|wanted| summary.workflow_type == *wanted)
            }));
            if summaries.len() >= MAX_ANALYZED {
                truncated = !page.next_page_token.is_empty() || summaries.len() > MAX_ANALYZED;
                summaries.truncate(MAX_ANALYZED);
                break;
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let mut analytics = compute(&summaries, request.from, request.to, request.bucket);
        analytics.truncated = truncated;
        Ok(analytics)
    }
}

/// The figures for `summaries` over `[from, to)`, with closes counted per `bucket`.
pub fn compute(
    summaries: &[ExecutionSummary],
    from: Time,
    to: Time,
    bucket: Duration,
) -> Analytics {
    let in_range = |time: Time| time >= from && time < to;
    let bucket_nanos = i64::try_from(bucket.as_nanos()).unwrap_or(i64::MAX).max(1);
    let n_buckets = ((to.0 - from.0) + bucket_nanos - 1) / bucket_nanos;
    let mut throughput: Vec<ThroughputBucket> = (0..n_buckets)
        .map(|i| ThroughputBucket {
            start: Time(from.0 + i * bucket_nanos),
            completed: 0,
            failed: 0,
            canceled: 0,
        })
        .collect();
    let mut overall = Figures::default();
    let mut by_type: BTreeMap<String, Figures> = BTreeMap::new();
    for summary in summaries {
        let figures = by_type.entry(summary.workflow_type.clone()).or_default();
        for figures in [&mut overall, figures] {
            if in_range(summary.start_time) {
                figures.analytics.started += 1;
                if summary.status == Status::Running {
                    figures.analytics.running += 1;
                }
                if let Some(wait) = summary.queue_wait {
                    figures.queue_waits.push(wait);
                }
            }
            if let Some(close_time) = summary.close_time.filter(|t| in_range(*t)) {
                figures.count_close(summary.status);
                figures.durations.push(summary.start_time.until(close_time));
            }
        }
        if let Some(close_time) = summary.close_time.filter(|t| in_range(*t)) {
            let index = ((close_time.0 - from.0) / bucket_nanos) as usize;
            if let Some(bucket) = throughput.get_mut(index) {
                match summary.status {
                    Status::Completed => bucket.completed += 1,
                    Status::Failed | Status::TimedOut | Status::Terminated => bucket.failed += 1,
                    Status::Canceled => bucket.canceled += 1,
                    Status::Running | Status::ContinuedAsNew => {}
                }
            }
        }
    }
    Analytics {
        from,
        to,
        bucket,
        overall: overall.finish(),
        by_type: by_type
            .into_iter()
            .map(|(name, figures)| (name, figures.finish()))
            .collect(),
        throughput,
        truncated: false,
    }
}

#[derive(Default)]
struct Figures {
    analytics: TypeAnalytics,
    durations: Vec<Duration>,
    queue_waits: Vec<Duration>,
}

impl Figures {
    fn count_close(&mut self, status: Status) {
        let a = &mut self.analytics;
        match status {
            Status::Completed => a.completed += 1,
            Status::Failed => a.failed += 1,
            Status::Canceled => a.canceled += 1,
            Status::Terminated => a.terminated += 1,
            Status::TimedOut => a.timed_out += 1,
            Status::ContinuedAsNew => a.continued_as_new += 1,
            Status::Running => {}
        }
    }

    fn finish(mut self) -> TypeAnalytics {
        let a = &mut self.analytics;
        let closed = a.completed + a.failed + a.canceled + a.terminated + a.timed_out;
        a.success_rate = (closed > 0).then(|| a.completed as f64 / closed as f64);
        a.duration = stats(self.durations);
        a.queue_wait = stats(self.queue_waits);
        self.analytics
    }
}

/// Count, mean, extremes and nearest-rank percentiles.
pub fn stats(mut values: Vec<Duration>) -> Stats {
    if values.is_empty() {
        return Stats::default();
    }
    values.sort();
    let n = values.len();
    let total: Duration = values.iter().sum();
    let rank = |p: f64| values[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
    Stats {
        count: n as u64,
        avg: Some(total / n as u32),
        min: values.first().copied(),
        max: values.last().copied(),
        p50: Some(rank(0.50)),
        p95: Some(rank(0.95)),
    }
}

#[cfg(test)]
mod tests {
    use keel_core::ExecutionKey;

    use super::*;

    const SECOND: i64 = 1_000_000_000;

    fn run(
        workflow_type: &str,
        status: Status,
        start: i64,
        close: Option<i64>,
    ) -> ExecutionSummary {
        ExecutionSummary {
            key: ExecutionKey {
                namespace: "default".into(),
                workflow_id: format!("{workflow_type}-{start}"),
                run_id: format!("{start}"),
            },
            workflow_type: workflow_type.into(),
            task_queue: "q".into(),
            status,
            start_time: Time(start * SECOND),
            execution_time: Time(start * SECOND),
            close_time: close.map(|c| Time(c * SECOND)),
            history_length: 5,
            memo: Default::default(),
            search_attributes: Default::default(),
            parent: None,
            phase: keel_core::overview::Phase::of_closed(status),
            worker: String::new(),
            queue_wait: Some(Duration::from_millis(start as u64)),
            doing: None,
        }
    }

    #[test]
    fn figures_of_a_known_workload() {
        let runs = vec![
            run("a", Status::Completed, 0, Some(10)),
            run("a", Status::Completed, 100, Some(120)),
            run("a", Status::Failed, 200, Some(230)),
            run("b", Status::Running, 3_000, None),
            run("b", Status::Canceled, 3_601, Some(3_605)),
            // Started before the range, closed in it: counts as a close, not a start.
            run("b", Status::Terminated, -50, Some(50)),
        ];
        let a = compute(
            &runs,
            Time(0),
            Time(7_200 * SECOND),
            Duration::from_secs(3_600),
        );
        assert_eq!(a.overall.started, 5);
        assert_eq!(a.overall.running, 1);
        assert_eq!(
            (
                a.overall.completed,
                a.overall.failed,
                a.overall.canceled,
                a.overall.terminated
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(a.overall.success_rate, Some(2.0 / 5.0));
        let d = &a.overall.duration;
        assert_eq!(d.count, 5);
        assert_eq!(d.min, Some(Duration::from_secs(4)));
        assert_eq!(d.max, Some(Duration::from_secs(100)));
        assert_eq!(d.p50, Some(Duration::from_secs(20)));
        // (10 + 20 + 30 + 4 + 100) / 5 seconds.
        assert_eq!(d.avg, Some(Duration::from_millis(32_800)));
        assert_eq!(a.by_type["a"].completed, 2);
        assert_eq!(a.by_type["a"].success_rate, Some(2.0 / 3.0));
        assert_eq!(a.by_type["b"].started, 2);
        assert_eq!(a.throughput.len(), 2);
        assert_eq!(
            (
                a.throughput[0].completed,
                a.throughput[0].failed,
                a.throughput[0].canceled
            ),
            (2, 2, 0)
        );
        assert_eq!(a.throughput[1].canceled, 1);
        assert_eq!(a.throughput[1].start, Time(3_600 * SECOND));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values = (1..=100).map(Duration::from_millis).collect();
        let s = stats(values);
        assert_eq!(s.p50, Some(Duration::from_millis(50)));
        assert_eq!(s.p95, Some(Duration::from_millis(95)));
        assert_eq!(stats(Vec::new()), Stats::default());
    }
}
