//! Domain values shared by every layer: time, identifiers, opaque client data, failures.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Wall-clock instant as nanoseconds since the Unix epoch. The core never reads a clock;
/// every transition is handed `now`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Time(pub i64);

impl Time {
    pub fn plus(self, duration: Duration) -> Time {
        let nanos = i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX);
        Time(self.0.saturating_add(nanos))
    }

    /// How long from `self` until `later`; zero when `later` is not later.
    pub fn until(self, later: Time) -> Duration {
        Duration::from_nanos(later.0.saturating_sub(self.0).max(0) as u64)
    }
}

/// Client data the engine stores and returns but never interprets (encoded payloads,
/// headers, failure details). The frontend owns the encoding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob(#[serde(with = "serde_bytes")] pub Vec<u8>);

impl Blob {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Named opaque values: memo fields, search attributes, headers, marker details.
pub type BlobMap = BTreeMap<String, Blob>;

/// One run of a workflow.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExecutionKey {
    pub namespace: String,
    pub workflow_id: String,
    pub run_id: String,
}

/// Temporal's execution statuses, with Temporal's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    Running = 1,
    Completed = 2,
    Failed = 3,
    Canceled = 4,
    Terminated = 5,
    ContinuedAsNew = 6,
    TimedOut = 7,
}

impl Status {
    pub fn is_running(self) -> bool {
        self == Status::Running
    }

    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::Running => "Running",
            Status::Completed => "Completed",
            Status::Failed => "Failed",
            Status::Canceled => "Canceled",
            Status::Terminated => "Terminated",
            Status::ContinuedAsNew => "ContinuedAsNew",
            Status::TimedOut => "TimedOut",
        }
    }

    pub fn from_code(code: i32) -> Option<Status> {
        Some(match code {
            1 => Status::Running,
            2 => Status::Completed,
            3 => Status::Failed,
            4 => Status::Canceled,
            5 => Status::Terminated,
            6 => Status::ContinuedAsNew,
            7 => Status::TimedOut,
            _ => return None,
        })
    }
}

/// Whether a queue is a workflow's normal queue or one worker's sticky cache queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum QueueKind {
    Normal,
    Sticky,
}

/// Where a task is dispatched. `normal_name` is the workflow's own queue even when `name` is
/// a sticky queue, so a task can fall back to it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaskQueue {
    pub name: String,
    pub kind: QueueKind,
    pub normal_name: String,
}

impl TaskQueue {
    pub fn normal(name: impl Into<String>) -> TaskQueue {
        let name = name.into();
        TaskQueue {
            normal_name: name.clone(),
            name,
            kind: QueueKind::Normal,
        }
    }
}

/// A workflow's sticky queue: the worker that holds the workflow in its cache polls it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stickiness {
    pub queue: String,
    pub schedule_to_start_timeout: Duration,
}

/// Temporal's retry policy, with defaults already filled in where the core fills them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub initial_interval: Duration,
    pub backoff_coefficient: f64,
    /// Zero means 100 times the initial interval, as in Temporal.
    pub maximum_interval: Duration,
    /// Zero means unlimited.
    pub maximum_attempts: i32,
    pub non_retryable_error_types: Vec<String>,
}

/// Which of an activity's (or workflow task's) clocks ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimeoutType {
    StartToClose = 1,
    ScheduleToStart = 2,
    ScheduleToClose = 3,
    Heartbeat = 4,
}

impl TimeoutType {
    pub fn name(self) -> &'static str {
        match self {
            TimeoutType::StartToClose => "StartToClose",
            TimeoutType::ScheduleToStart => "ScheduleToStart",
            TimeoutType::ScheduleToClose => "ScheduleToClose",
            TimeoutType::Heartbeat => "Heartbeat",
        }
    }
}

/// Why a retry did or did not happen; Temporal's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RetryState {
    InProgress = 1,
    NonRetryableFailure = 2,
    Timeout = 3,
    MaximumAttemptsReached = 4,
    RetryPolicyNotSet = 5,
    InternalServerError = 6,
    CancelRequested = 7,
}

/// A failure as far as the engine must understand it. `original` keeps the exact failure a
/// client reported (encoded by the frontend) so readers get it back unchanged; failures the
/// engine creates itself (timeouts) have none and are rendered from the other fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub message: String,
    pub source: String,
    pub info: FailureInfo,
    pub cause: Option<Box<Failure>>,
    pub original: Option<Blob>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FailureInfo {
    Application {
        failure_type: String,
        non_retryable: bool,
        /// A delay the failing code asked for before the next attempt.
        next_retry_delay: Option<Duration>,
    },
    Timeout {
        timeout_type: TimeoutType,
        last_heartbeat_details: Option<Blob>,
    },
    Canceled,
    Terminated,
    Server {
        non_retryable: bool,
    },
    /// The workflow task a reset replaced.
    Reset,
    /// Any other kind; the engine treats it as retryable.
    Other,
}

impl Failure {
    /// A failure the server itself raises when a clock runs out.
    pub fn timeout(
        timeout_type: TimeoutType,
        last_heartbeat_details: Option<Blob>,
        cause: Option<Failure>,
    ) -> Failure {
        Failure {
            message: format!("activity {} timeout", timeout_type.name()),
            source: "Server".into(),
            info: FailureInfo::Timeout {
                timeout_type,
                last_heartbeat_details,
            },
            cause: cause.map(Box::new),
            original: None,
        }
    }

    /// The type name retry policies match against `non_retryable_error_types`.
    pub fn type_name(&self) -> Option<&str> {
        match &self.info {
            FailureInfo::Application { failure_type, .. } => Some(failure_type),
            _ => None,
        }
    }

    pub fn is_non_retryable(&self) -> bool {
        matches!(
            self.info,
            FailureInfo::Application {
                non_retryable: true,
                ..
            } | FailureInfo::Server {
                non_retryable: true
            }
        )
    }
}
