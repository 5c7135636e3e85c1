//! Keel's core: the pure state machine of an execution.
//!
//! It owns every rule about histories: which events an input produces, which commands are
//! legal, what becomes pending, when a run closes, and which clocks are running. It takes
//! time and ids as arguments and does no I/O: no clock, no randomness, no tokio, no
//! protobuf, no SQL. Start reading at [`Execution::start`] and the transitions in
//! `transition.rs`; `activity.rs` and `timeouts.rs` hold the retry and timeout rules.

mod activity;
pub mod attempts;
pub mod chain;
pub mod children;
pub mod command;
mod commands;
pub mod cron;
pub mod event;
pub mod execution;
pub mod milestones;
pub mod namespace;
pub mod overview;
pub mod plan;
pub mod requests;
pub mod reset;
pub mod reuse;
pub mod schedule;
pub mod search;
mod start;
mod timeouts;
pub mod token;
pub mod transition;
pub mod types;
pub mod updates;
pub mod visibility;

pub use activity::{backoff, retry_delay};
pub use chain::NextRun;
pub use command::{Command, ScheduleActivity};
pub use commands::default_retry_policy;
pub use event::{
    ActivityScheduled, Event, EventKind, ExternalCancel, ExternalSignal, Initiator, WorkflowStarted,
};
pub use execution::{
    Activity, ActivityState, Deadline, Execution, StartedTask, Timer, WorkflowTask,
};
pub use namespace::Namespace;
pub use requests::{CancelRequest, ExternalOutcome, ExternalRequest, Signal};
pub use start::{ParentStart, StartOptions, StartParams};
pub use token::TaskToken;
pub use transition::{Completion, CompletionResult, Effect, Outcome, TaskRef};
pub use types::*;

/// Why the core refused an input. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Unimplemented(String),
}
