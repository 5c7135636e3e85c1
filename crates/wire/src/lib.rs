//! Temporal's wire format, in one place: Temporal's protobuf messages to and from core's
//! types (`convert`), a history as Temporal's events (`history`), a workflow task's commands
//! as core commands (`commands`), search attributes (`search`), and Temporal's own JSON
//! (`json`: protobuf JSON of histories and failures, payloads and update messages).
//!
//! Both frontends use it — gRPC to serve Temporal's API, HTTP to show and accept payloads
//! and export histories — and it knows neither serving gRPC nor REST's shapes. It holds no
//! rule about executions: those are core's.

// Temporal marks wire fields deprecated that older SDKs still send and read.
#![allow(deprecated)]
// Messages are built with `..Default::default()` even when every field is named today:
// Temporal adds fields between versions, and this keeps them defaulted.
#![allow(clippy::needless_update)]

pub mod commands;
pub mod convert;
pub mod history;
pub mod json;
pub mod schedules;
pub mod search;

/// A message from a client that does not say what Temporal's API requires; the frontend
/// answers it as an invalid argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}
