//! Counters of what this node committed since it started, for Prometheus. Counting costs a
//! few relaxed atomic additions per commit.

use std::sync::atomic::{AtomicU64, Ordering};

use keel_core::{Event, EventKind, Execution, Status};

use crate::Engine;

/// Upper bounds, in seconds, of the execution-duration histogram's buckets.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 600.0, 3600.0,
];

#[derive(Default)]
pub(crate) struct Metrics {
    commits: AtomicU64,
    events: AtomicU64,
    started: AtomicU64,
    /// Closed runs by status code (1..=7; 0 unused).
    closed: [AtomicU64; 8],
    workflow_tasks_started: AtomicU64,
    activity_tasks_closed: AtomicU64,
    duration_buckets: [AtomicU64; DURATION_BUCKETS.len()],
    duration_sum_micros: AtomicU64,
}

/// The counters at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsSnapshot {
    pub commits: u64,
    pub events: u64,
    pub executions_started: u64,
    pub executions_closed: Vec<(Status, u64)>,
    pub workflow_tasks_started: u64,
    pub activity_tasks_closed: u64,
    /// Cumulative counts per bucket of [`DURATION_BUCKETS`], as Prometheus wants them.
    pub duration_buckets: Vec<u64>,
    pub duration_sum_seconds: f64,
    pub duration_count: u64,
}

impl Metrics {
    pub(crate) fn record_commit(&self, execution: &Execution, events: &[Event]) {
        let add = |counter: &AtomicU64| counter.fetch_add(1, Ordering::Relaxed);
        add(&self.commits);
        self.events
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        for event in events {
            match &event.kind {
                EventKind::WorkflowExecutionStarted(_) => {
                    add(&self.started);
                }
                EventKind::WorkflowTaskStarted { .. } => {
                    add(&self.workflow_tasks_started);
                }
                EventKind::ActivityTaskCompleted { .. }
                | EventKind::ActivityTaskFailed { .. }
                | EventKind::ActivityTaskTimedOut { .. }
                | EventKind::ActivityTaskCanceled { .. } => {
                    add(&self.activity_tasks_closed);
                }
                _ => {}
            }
        }
        let closed_now = events.last().is_some_and(|event| event.kind.is_close());
        if let (true, Some(close_time)) = (closed_now, execution.close_time) {
            add(&self.closed[execution.status as usize]);
            let seconds = execution.start_time.until(close_time).as_secs_f64();
            for (bucket, bound) in self.duration_buckets.iter().zip(DURATION_BUCKETS) {
                if seconds <= bound {
                    add(bucket);
                    break;
                }
            }
            self.duration_sum_micros
                .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
        }
    }
}

impl Engine {
    pub fn metrics(&self) -> MetricsSnapshot {
        let m = &self.inner.metrics;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let executions_closed = (1..=7)
            .filter_map(|code| Status::from_code(code).map(|s| (s, load(&m.closed[code as usize]))))
            .collect();
        let mut cumulative = 0;
        let duration_buckets = m
            .duration_buckets
            .iter()
            .map(|bucket| {
                cumulative += load(bucket);
                cumulative
            })
            .collect();
        let duration_count = (1..=7).map(|code| load(&m.closed[code])).sum();
        MetricsSnapshot {
            commits: load(&m.commits),
            events: load(&m.events),
            executions_started: load(&m.started),
            executions_closed,
            workflow_tasks_started: load(&m.workflow_tasks_started),
            activity_tasks_closed: load(&m.activity_tasks_closed),
            duration_buckets,
            duration_sum_seconds: load(&m.duration_sum_micros) as f64 / 1e6,
            duration_count,
        }
    }
}
