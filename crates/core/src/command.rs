//! What a worker asks for when it completes a workflow task, as the core understands it.

use std::time::Duration;

use crate::search::SearchAttributes;
use crate::types::{Blob, BlobMap, Failure};

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    ScheduleActivity(ScheduleActivity),
    RequestCancelActivity {
        scheduled_event_id: i64,
    },
    StartTimer {
        timer_id: String,
        start_to_fire_timeout: Duration,
    },
    CancelTimer {
        timer_id: String,
    },
    CompleteWorkflow {
        result: Option<Blob>,
    },
    FailWorkflow {
        failure: Failure,
    },
    RecordMarker {
        marker_name: String,
        details: BlobMap,
        header: Option<BlobMap>,
        failure: Option<Failure>,
    },
    UpsertSearchAttributes {
        search_attributes: SearchAttributes,
    },
    ModifyProperties {
        upserted_memo: BlobMap,
    },
    CancelWorkflow {
        details: Option<Blob>,
    },
    ContinueAsNew(Box<ContinueAsNewSpec>),
    /// StartChildWorkflowExecution; an empty namespace is the parent's, an empty task
    /// queue the parent's queue.
    StartChild(Box<crate::event::ChildInitiated>),
    SignalExternal(ExternalTarget, ExternalSignalSpec),
    RequestCancelExternal(ExternalTarget, ExternalCancelSpec),
    /// Where a protocol message (an update's acceptance, rejection or response) falls among
    /// the commands.
    ProtocolMessage {
        message_id: String,
    },
    /// A command this server does not carry out yet; named for the error.
    Unsupported {
        name: String,
    },
    /// A command the frontend found malformed (a search attribute of the wrong type, say):
    /// the workflow task fails with `cause`, as Temporal fails it.
    Invalid {
        cause: i32,
        message: String,
    },
}

/// ScheduleActivityTask as sent; zero durations mean "not set".
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ScheduleActivity {
    pub activity_id: String,
    pub activity_type: String,
    pub task_queue: String,
    pub header: BlobMap,
    pub input: Option<Blob>,
    pub schedule_to_close_timeout: Duration,
    pub schedule_to_start_timeout: Duration,
    pub start_to_close_timeout: Duration,
    pub heartbeat_timeout: Duration,
    pub retry_policy: Option<crate::types::RetryPolicy>,
}

/// ContinueAsNewWorkflowExecution as sent: empty or zero fields keep the current run's;
/// `None` maps (header, memo, search attributes) too.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ContinueAsNewSpec {
    pub workflow_type: String,
    pub task_queue: String,
    pub input: Option<Blob>,
    pub workflow_run_timeout: Duration,
    pub workflow_task_timeout: Duration,
    pub backoff_start_interval: Duration,
    pub retry_policy: Option<crate::types::RetryPolicy>,
    pub failure: Option<Failure>,
    pub last_completion_result: Option<Blob>,
    pub header: Option<BlobMap>,
    pub memo: Option<BlobMap>,
    pub search_attributes: Option<SearchAttributes>,
}

/// The execution a SignalExternal or RequestCancelExternal command names. An empty
/// namespace is the sender's own; an empty run id, the workflow id's current run.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ExternalTarget {
    pub namespace: String,
    pub workflow_id: String,
    pub run_id: String,
    pub control: String,
    pub child_workflow_only: bool,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct ExternalSignalSpec {
    pub signal_name: String,
    pub input: Option<Blob>,
    pub header: BlobMap,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct ExternalCancelSpec {
    pub reason: String,
}

impl Command {
    pub fn closes_workflow(&self) -> bool {
        matches!(
            self,
            Command::CompleteWorkflow { .. }
                | Command::FailWorkflow { .. }
                | Command::CancelWorkflow { .. }
                | Command::ContinueAsNew(_)
        )
    }
}
