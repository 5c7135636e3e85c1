//! History events: the append-only record of a run. Ids start at 1 and have no gaps.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::search::SearchAttributes;
use crate::types::{
    Blob, BlobMap, ExecutionKey, Failure, RetryPolicy, RetryState, TaskQueue, Time, TimeoutType,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub time: Time,
    pub kind: EventKind,
}

/// Placeholder for an event id not known yet: a buffered completion refers to the started
/// event written just before it, and both get their ids when the buffer is flushed.
pub const UNASSIGNED_EVENT_ID: i64 = -1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EventKind {
    WorkflowExecutionStarted(Box<WorkflowStarted>),
    WorkflowExecutionCompleted {
        result: Option<Blob>,
        workflow_task_completed_event_id: i64,
        /// The cron schedule's next run; empty when none follows.
        #[serde(default)]
        new_execution_run_id: String,
    },
    WorkflowExecutionFailed {
        failure: Failure,
        retry_state: RetryState,
        workflow_task_completed_event_id: i64,
        /// The run that retries this one; empty when there is none.
        new_execution_run_id: String,
    },
    WorkflowExecutionTimedOut {
        retry_state: RetryState,
        new_execution_run_id: String,
    },
    WorkflowExecutionTerminated {
        reason: String,
        details: Option<Blob>,
        identity: String,
    },
    WorkflowTaskScheduled {
        task_queue: TaskQueue,
        start_to_close_timeout: Duration,
        attempt: i32,
    },
    WorkflowTaskStarted {
        scheduled_event_id: i64,
        identity: String,
        request_id: String,
        history_size_bytes: i64,
        #[serde(default)]
        suggest_continue_as_new: bool,
    },
    WorkflowTaskCompleted {
        scheduled_event_id: i64,
        started_event_id: i64,
        identity: String,
        binary_checksum: String,
        /// Encoded SDK metadata (flags, language); SDKs read it back on replay.
        sdk_metadata: Option<Blob>,
        metering_metadata: Option<Blob>,
    },
    WorkflowTaskTimedOut {
        scheduled_event_id: i64,
        started_event_id: i64,
        timeout_type: TimeoutType,
    },
    WorkflowTaskFailed {
        scheduled_event_id: i64,
        started_event_id: i64,
        /// Temporal's WorkflowTaskFailedCause code; the frontend names it.
        cause: i32,
        failure: Option<Failure>,
        identity: String,
        /// For a reset (cause RESET_WORKFLOW): the run reset, and the run that replaced it.
        #[serde(default)]
        base_run_id: String,
        #[serde(default)]
        new_run_id: String,
    },
    ActivityTaskScheduled(Box<ActivityScheduled>),
    ActivityTaskStarted {
        scheduled_event_id: i64,
        identity: String,
        request_id: String,
        attempt: i32,
        last_failure: Option<Failure>,
    },
    ActivityTaskCompleted {
        result: Option<Blob>,
        scheduled_event_id: i64,
        started_event_id: i64,
        identity: String,
    },
    ActivityTaskFailed {
        failure: Failure,
        scheduled_event_id: i64,
        started_event_id: i64,
        identity: String,
        retry_state: RetryState,
    },
    ActivityTaskTimedOut {
        failure: Failure,
        scheduled_event_id: i64,
        started_event_id: i64,
        retry_state: RetryState,
    },
    ActivityTaskCancelRequested {
        scheduled_event_id: i64,
        workflow_task_completed_event_id: i64,
    },
    ActivityTaskCanceled {
        details: Option<Blob>,
        latest_cancel_requested_event_id: i64,
        scheduled_event_id: i64,
        started_event_id: i64,
        identity: String,
    },
    TimerStarted {
        timer_id: String,
        start_to_fire_timeout: Duration,
        workflow_task_completed_event_id: i64,
    },
    TimerFired {
        timer_id: String,
        started_event_id: i64,
    },
    TimerCanceled {
        timer_id: String,
        started_event_id: i64,
        workflow_task_completed_event_id: i64,
        identity: String,
    },
    MarkerRecorded {
        marker_name: String,
        details: BlobMap,
        workflow_task_completed_event_id: i64,
        header: Option<BlobMap>,
        failure: Option<Failure>,
    },
    UpsertWorkflowSearchAttributes {
        workflow_task_completed_event_id: i64,
        search_attributes: SearchAttributes,
    },
    WorkflowPropertiesModified {
        workflow_task_completed_event_id: i64,
        upserted_memo: BlobMap,
    },
    WorkflowExecutionSignaled {
        signal_name: String,
        input: Option<Blob>,
        identity: String,
        header: BlobMap,
        /// The workflow that sent it, when it came from a SignalExternalWorkflowExecution.
        external: Option<ExecutionKey>,
    },
    WorkflowExecutionCancelRequested {
        cause: String,
        identity: String,
        /// The initiating event in, and the identity of, the workflow that asked for it.
        external_initiated_event_id: i64,
        external: Option<ExecutionKey>,
    },
    WorkflowExecutionCanceled {
        details: Option<Blob>,
        workflow_task_completed_event_id: i64,
    },
    WorkflowExecutionContinuedAsNew(Box<ContinuedAsNew>),
    WorkflowExecutionUpdateAccepted {
        update_id: String,
        accepted_request_message_id: String,
        accepted_request_sequencing_event_id: i64,
        /// The update's request, encoded by the frontend.
        accepted_request: Blob,
    },
    WorkflowExecutionUpdateCompleted {
        update_id: String,
        identity: String,
        accepted_event_id: i64,
        /// The update's outcome, encoded by the frontend.
        outcome: Blob,
    },
    StartChildWorkflowExecutionInitiated(Box<ChildInitiated>),
    StartChildWorkflowExecutionFailed {
        namespace: String,
        workflow_id: String,
        workflow_type: String,
        /// Temporal's StartChildWorkflowExecutionFailedCause code.
        cause: i32,
        control: String,
        initiated_event_id: i64,
        workflow_task_completed_event_id: i64,
    },
    ChildWorkflowExecutionStarted {
        initiated_event_id: i64,
        /// The child's first run.
        execution: ExecutionKey,
        workflow_type: String,
        header: BlobMap,
    },
    /// One of Temporal's ChildWorkflowExecution{Completed, Failed, Canceled, TimedOut,
    /// Terminated} events, by `outcome`.
    ChildWorkflowExecutionClosed {
        initiated_event_id: i64,
        started_event_id: i64,
        execution: ExecutionKey,
        workflow_type: String,
        outcome: ChildOutcome,
    },
    SignalExternalWorkflowExecutionInitiated(Box<ExternalSignal>),
    ExternalWorkflowExecutionSignaled {
        initiated_event_id: i64,
        /// The run that received it.
        target: ExecutionKey,
        control: String,
    },
    SignalExternalWorkflowExecutionFailed {
        /// Temporal's SignalExternalWorkflowExecutionFailedCause code.
        cause: i32,
        initiated_event_id: i64,
        target: ExecutionKey,
        control: String,
    },
    RequestCancelExternalWorkflowExecutionInitiated(Box<ExternalCancel>),
    ExternalWorkflowExecutionCancelRequested {
        initiated_event_id: i64,
        target: ExecutionKey,
    },
    RequestCancelExternalWorkflowExecutionFailed {
        /// Temporal's CancelExternalWorkflowExecutionFailedCause code.
        cause: i32,
        initiated_event_id: i64,
        target: ExecutionKey,
        control: String,
    },
}

/// StartChildWorkflowExecutionInitiated: the child as the parent asked for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChildInitiated {
    pub namespace: String,
    pub workflow_id: String,
    pub workflow_type: String,
    pub task_queue: String,
    pub input: Option<Blob>,
    pub workflow_execution_timeout: Duration,
    pub workflow_run_timeout: Duration,
    pub workflow_task_timeout: Duration,
    pub parent_close_policy: ParentClosePolicy,
    pub control: String,
    pub workflow_task_completed_event_id: i64,
    pub workflow_id_reuse_policy: crate::reuse::ReusePolicy,
    pub retry_policy: Option<RetryPolicy>,
    pub cron_schedule: String,
    pub header: BlobMap,
    pub memo: BlobMap,
    pub search_attributes: SearchAttributes,
}

/// What happens to a child still running when its parent closes; Temporal's numbering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParentClosePolicy {
    #[default]
    Terminate = 1,
    Abandon = 2,
    RequestCancel = 3,
}

/// How a child's chain ended, as its parent is told.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ChildOutcome {
    Completed {
        result: Option<Blob>,
    },
    Failed {
        failure: Failure,
        retry_state: RetryState,
    },
    Canceled {
        details: Option<Blob>,
    },
    TimedOut {
        retry_state: RetryState,
    },
    Terminated,
}

impl ChildOutcome {
    /// The outcome a run's close event reports to a parent; `None` for a close that hands
    /// on to a next run (continue-as-new).
    pub fn of_close(kind: &EventKind) -> Option<ChildOutcome> {
        Some(match kind {
            EventKind::WorkflowExecutionCompleted { result, .. } => ChildOutcome::Completed {
                result: result.clone(),
            },
            EventKind::WorkflowExecutionFailed {
                failure,
                retry_state,
                ..
            } => ChildOutcome::Failed {
                failure: failure.clone(),
                retry_state: *retry_state,
            },
            EventKind::WorkflowExecutionCanceled { details, .. } => ChildOutcome::Canceled {
                details: details.clone(),
            },
            EventKind::WorkflowExecutionTimedOut { retry_state, .. } => ChildOutcome::TimedOut {
                retry_state: *retry_state,
            },
            EventKind::WorkflowExecutionTerminated { .. } => ChildOutcome::Terminated,
            _ => return None,
        })
    }

    pub fn event_name(&self) -> &'static str {
        match self {
            ChildOutcome::Completed { .. } => "ChildWorkflowExecutionCompleted",
            ChildOutcome::Failed { .. } => "ChildWorkflowExecutionFailed",
            ChildOutcome::Canceled { .. } => "ChildWorkflowExecutionCanceled",
            ChildOutcome::TimedOut { .. } => "ChildWorkflowExecutionTimedOut",
            ChildOutcome::Terminated => "ChildWorkflowExecutionTerminated",
        }
    }
}

/// A child run's link to its parent, on its started event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParentRef {
    pub execution: ExecutionKey,
    pub initiated_event_id: i64,
    /// The first workflow of the tree this run belongs to.
    pub root: ExecutionKey,
}

/// A signal one workflow sends another. `target.run_id` may be empty: the current run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExternalSignal {
    pub target: ExecutionKey,
    pub signal_name: String,
    pub input: Option<Blob>,
    pub header: BlobMap,
    pub control: String,
    pub child_workflow_only: bool,
    pub workflow_task_completed_event_id: i64,
}

/// A cancellation one workflow asks of another. `target.run_id` may be empty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExternalCancel {
    pub target: ExecutionKey,
    pub control: String,
    pub child_workflow_only: bool,
    pub reason: String,
    pub workflow_task_completed_event_id: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowStarted {
    pub workflow_type: String,
    pub task_queue: String,
    pub input: Option<Blob>,
    /// Zero means no limit, as in Temporal.
    pub workflow_execution_timeout: Duration,
    pub workflow_run_timeout: Duration,
    pub workflow_task_timeout: Duration,
    pub identity: String,
    pub original_execution_run_id: String,
    pub first_execution_run_id: String,
    pub attempt: i32,
    pub execution_expiration_time: Option<Time>,
    pub memo: BlobMap,
    pub search_attributes: SearchAttributes,
    pub header: BlobMap,
    pub retry_policy: Option<RetryPolicy>,
    pub cron_schedule: String,
    /// For a retry: the run it retries, why, and how long it waits before its first task.
    pub continued_execution_run_id: String,
    pub initiator: Option<Initiator>,
    pub continued_failure: Option<Failure>,
    pub first_workflow_task_backoff: Duration,
    /// For a run that continues a cron chain: the last successful run's result.
    #[serde(default)]
    pub last_completion_result: Option<Blob>,
    /// Set on a child workflow's runs.
    #[serde(default)]
    pub parent: Option<ParentRef>,
}

/// WorkflowExecutionContinuedAsNew: what the next run was started with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContinuedAsNew {
    pub new_execution_run_id: String,
    pub workflow_type: String,
    pub task_queue: String,
    pub input: Option<Blob>,
    pub workflow_run_timeout: Duration,
    pub workflow_task_timeout: Duration,
    pub workflow_task_completed_event_id: i64,
    pub backoff_start_interval: Duration,
    pub initiator: Initiator,
    pub failure: Option<Failure>,
    pub last_completion_result: Option<Blob>,
    pub header: BlobMap,
    pub memo: BlobMap,
    pub search_attributes: SearchAttributes,
}

/// What started a run that continues a chain; Temporal's ContinueAsNewInitiator numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Initiator {
    Workflow = 1,
    Retry = 2,
    CronSchedule = 3,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivityScheduled {
    pub activity_id: String,
    pub activity_type: String,
    pub task_queue: String,
    pub header: BlobMap,
    pub input: Option<Blob>,
    pub schedule_to_close_timeout: Duration,
    pub schedule_to_start_timeout: Duration,
    pub start_to_close_timeout: Duration,
    pub heartbeat_timeout: Duration,
    pub workflow_task_completed_event_id: i64,
    pub retry_policy: RetryPolicy,
}

impl Event {
    /// The event's size as stored (its MessagePack encoding, which the store uses).
    pub fn stored_size(&self) -> i64 {
        struct Counter(i64);
        impl std::io::Write for Counter {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0 += bytes.len() as i64;
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut counter = Counter(0);
        let _ = rmp_serde::encode::write_named(&mut counter, self);
        counter.0
    }
}

impl EventKind {
    /// Events after which a run accepts nothing more.
    pub fn is_close(&self) -> bool {
        matches!(
            self,
            EventKind::WorkflowExecutionCompleted { .. }
                | EventKind::WorkflowExecutionFailed { .. }
                | EventKind::WorkflowExecutionTimedOut { .. }
                | EventKind::WorkflowExecutionTerminated { .. }
                | EventKind::WorkflowExecutionCanceled { .. }
                | EventKind::WorkflowExecutionContinuedAsNew(_)
        )
    }

    /// Temporal's event type name, used in logs, errors and tests.
    /// The scheduled event id of the activity this event closes, if it closes one.
    pub fn closed_activity(&self) -> Option<i64> {
        match self {
            EventKind::ActivityTaskCompleted {
                scheduled_event_id, ..
            }
            | EventKind::ActivityTaskFailed {
                scheduled_event_id, ..
            }
            | EventKind::ActivityTaskTimedOut {
                scheduled_event_id, ..
            }
            | EventKind::ActivityTaskCanceled {
                scheduled_event_id, ..
            } => Some(*scheduled_event_id),
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            EventKind::WorkflowExecutionStarted(_) => "WorkflowExecutionStarted",
            EventKind::WorkflowExecutionCompleted { .. } => "WorkflowExecutionCompleted",
            EventKind::WorkflowExecutionFailed { .. } => "WorkflowExecutionFailed",
            EventKind::WorkflowExecutionTimedOut { .. } => "WorkflowExecutionTimedOut",
            EventKind::WorkflowExecutionTerminated { .. } => "WorkflowExecutionTerminated",
            EventKind::WorkflowTaskScheduled { .. } => "WorkflowTaskScheduled",
            EventKind::WorkflowTaskStarted { .. } => "WorkflowTaskStarted",
            EventKind::WorkflowTaskCompleted { .. } => "WorkflowTaskCompleted",
            EventKind::WorkflowTaskTimedOut { .. } => "WorkflowTaskTimedOut",
            EventKind::WorkflowTaskFailed { .. } => "WorkflowTaskFailed",
            EventKind::ActivityTaskScheduled(_) => "ActivityTaskScheduled",
            EventKind::ActivityTaskStarted { .. } => "ActivityTaskStarted",
            EventKind::ActivityTaskCompleted { .. } => "ActivityTaskCompleted",
            EventKind::ActivityTaskFailed { .. } => "ActivityTaskFailed",
            EventKind::ActivityTaskTimedOut { .. } => "ActivityTaskTimedOut",
            EventKind::ActivityTaskCancelRequested { .. } => "ActivityTaskCancelRequested",
            EventKind::ActivityTaskCanceled { .. } => "ActivityTaskCanceled",
            EventKind::TimerStarted { .. } => "TimerStarted",
            EventKind::TimerFired { .. } => "TimerFired",
            EventKind::TimerCanceled { .. } => "TimerCanceled",
            EventKind::MarkerRecorded { .. } => "MarkerRecorded",
            EventKind::UpsertWorkflowSearchAttributes { .. } => "UpsertWorkflowSearchAttributes",
            EventKind::WorkflowPropertiesModified { .. } => "WorkflowPropertiesModified",
            EventKind::WorkflowExecutionSignaled { .. } => "WorkflowExecutionSignaled",
            EventKind::WorkflowExecutionCancelRequested { .. } => {
                "WorkflowExecutionCancelRequested"
            }
            EventKind::WorkflowExecutionCanceled { .. } => "WorkflowExecutionCanceled",
            EventKind::WorkflowExecutionContinuedAsNew(_) => "WorkflowExecutionContinuedAsNew",
            EventKind::WorkflowExecutionUpdateAccepted { .. } => "WorkflowExecutionUpdateAccepted",
            EventKind::WorkflowExecutionUpdateCompleted { .. } => {
                "WorkflowExecutionUpdateCompleted"
            }
            EventKind::StartChildWorkflowExecutionInitiated(_) => {
                "StartChildWorkflowExecutionInitiated"
            }
            EventKind::StartChildWorkflowExecutionFailed { .. } => {
                "StartChildWorkflowExecutionFailed"
            }
            EventKind::ChildWorkflowExecutionStarted { .. } => "ChildWorkflowExecutionStarted",
            EventKind::ChildWorkflowExecutionClosed { outcome, .. } => outcome.event_name(),
            EventKind::SignalExternalWorkflowExecutionInitiated(_) => {
                "SignalExternalWorkflowExecutionInitiated"
            }
            EventKind::ExternalWorkflowExecutionSignaled { .. } => {
                "ExternalWorkflowExecutionSignaled"
            }
            EventKind::SignalExternalWorkflowExecutionFailed { .. } => {
                "SignalExternalWorkflowExecutionFailed"
            }
            EventKind::RequestCancelExternalWorkflowExecutionInitiated(_) => {
                "RequestCancelExternalWorkflowExecutionInitiated"
            }
            EventKind::ExternalWorkflowExecutionCancelRequested { .. } => {
                "ExternalWorkflowExecutionCancelRequested"
            }
            EventKind::RequestCancelExternalWorkflowExecutionFailed { .. } => {
                "RequestCancelExternalWorkflowExecutionFailed"
            }
        }
    }
}
