//! Whether a start may create a new run, given the workflow id's current run.

use crate::types::Status;

/// The latest run of a workflow id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentRun {
    pub run_id: String,
    pub status: Status,
    pub start_request_id: String,
}

/// Temporal's WorkflowIdReusePolicy: what may happen when the previous run is closed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ReusePolicy {
    #[default]
    AllowDuplicate,
    AllowDuplicateFailedOnly,
    RejectDuplicate,
    /// Legacy: behaves as `ConflictPolicy::TerminateExisting` for a running run.
    TerminateIfRunning,
}

/// Temporal's WorkflowIdConflictPolicy: what may happen when the current run is running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConflictPolicy {
    #[default]
    Fail,
    UseExisting,
    TerminateExisting,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartDecision {
    /// Create the new run.
    Start,
    /// Terminate the running run, then create the new one.
    TerminateAndStart { run_id: String },
    /// Answer with an existing run; `started` says whether this request started it.
    Existing { run_id: String, started: bool },
    /// Refuse: the id is taken. The message explains which policy refused it.
    AlreadyStarted {
        run_id: String,
        start_request_id: String,
        message: String,
    },
}

pub fn decide_start(
    workflow_id: &str,
    request_id: &str,
    current: Option<&CurrentRun>,
    reuse: ReusePolicy,
    conflict: ConflictPolicy,
) -> StartDecision {
    let Some(current) = current else {
        return StartDecision::Start;
    };
    // A retried request gets the answer the first one got, whatever happened since.
    if !request_id.is_empty() && current.start_request_id == request_id {
        return StartDecision::Existing {
            run_id: current.run_id.clone(),
            started: true,
        };
    }
    let refuse = |message: String| StartDecision::AlreadyStarted {
        run_id: current.run_id.clone(),
        start_request_id: current.start_request_id.clone(),
        message,
    };
    if current.status.is_running() {
        let conflict = if reuse == ReusePolicy::TerminateIfRunning {
            ConflictPolicy::TerminateExisting
        } else {
            conflict
        };
        return match conflict {
            ConflictPolicy::Fail => refuse(format!(
                "Workflow execution is already running. WorkflowId: {workflow_id}, RunId: {}.",
                current.run_id
            )),
            ConflictPolicy::UseExisting => StartDecision::Existing {
                run_id: current.run_id.clone(),
                started: false,
            },
            ConflictPolicy::TerminateExisting => StartDecision::TerminateAndStart {
                run_id: current.run_id.clone(),
            },
        };
    }
    match reuse {
        ReusePolicy::AllowDuplicate | ReusePolicy::TerminateIfRunning => StartDecision::Start,
        ReusePolicy::AllowDuplicateFailedOnly if current.status != Status::Completed => {
            StartDecision::Start
        }
        ReusePolicy::AllowDuplicateFailedOnly => refuse(format!(
            "Workflow execution already finished successfully. WorkflowId: {workflow_id}, RunId: {}. \
             Workflow Id reuse policy: allow duplicate workflow Id if last run failed.",
            current.run_id
        )),
        ReusePolicy::RejectDuplicate => refuse(format!(
            "Workflow execution already finished. WorkflowId: {workflow_id}, RunId: {}. \
             Workflow Id reuse policy: reject duplicate workflow Id.",
            current.run_id
        )),
    }
}
