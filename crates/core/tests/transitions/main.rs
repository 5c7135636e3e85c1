//! Scenario tests of the core state machine, I/O-free, through one small harness: an
//! execution, a fake clock, and the history the accepted transitions wrote. One module per
//! area of the model; `harness` holds what they share.

mod activities;
mod activity_retries_and_timeouts;
mod buffered_events;
mod chains;
mod children;
mod commands;
mod external_requests;
mod harness;
mod overview;
mod reset;
mod run_timeouts_and_termination;
mod signals_and_cancel_requests;
mod starts_and_reuse;
mod stickiness;
mod timers;
mod updates;
mod workflow_retries;
mod workflow_tasks;
