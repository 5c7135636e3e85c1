//! Activity attempts that ended and were retried.
//!
//! Temporal's history keeps only an activity's last attempt (its started event says which
//! attempt it was and carries the failure before it). Keel keeps each earlier attempt beside
//! the history, written in the same commit as the state that retried it, so an operator can
//! see every attempt: when it ran, on which worker, how it failed, how long the backoff was.
//! They are not history: no worker and no replay ever sees them.

use serde::{Deserialize, Serialize};

use crate::{Failure, Time};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndedAttempt {
    /// The activity's ActivityTaskScheduled event.
    pub scheduled_event_id: i64,
    pub attempt: i32,
    /// When it went on the queue.
    pub scheduled_time: Time,
    /// When a worker took it; `None` when it timed out before one did.
    pub started_time: Option<Time>,
    pub worker: String,
    pub end_time: Time,
    /// When the next attempt goes on the queue (the end of the backoff).
    pub retry_time: Time,
    pub failure: Failure,
}
