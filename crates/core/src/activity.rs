//! Activity attempts: taking, finishing, failing, heartbeating, timing out and retrying.
//!
//! Attempts are invisible in history until the last one: the `ActivityTaskStarted` event is
//! written together with the final outcome and carries the attempt number and the previous
//! attempt's failure, as Temporal records it.

use std::time::Duration;

use crate::Rejection;
use crate::attempts::EndedAttempt;
use crate::event::{EventKind, UNASSIGNED_EVENT_ID};
use crate::execution::{Activity, ActivityState, Execution};
use crate::transition::{Effect, Outcome, TaskRef, Tx};
use crate::types::{Blob, Failure, FailureInfo, RetryState, TaskQueue, Time, TimeoutType};

impl Execution {
    fn activity_attempt(
        &self,
        scheduled_event_id: i64,
        attempt: i32,
    ) -> Result<&Activity, Rejection> {
        if !self.is_running() {
            return Err(Rejection::NotFound(
                "workflow execution already completed".into(),
            ));
        }
        match self.activities.get(&scheduled_event_id) {
            Some(activity) if activity.attempt == attempt => Ok(activity),
            _ => Err(Rejection::NotFound("activity task not found".into())),
        }
    }

    fn started_activity(
        &self,
        scheduled_event_id: i64,
        attempt: i32,
    ) -> Result<&Activity, Rejection> {
        let activity = self.activity_attempt(scheduled_event_id, attempt)?;
        match activity.state {
            ActivityState::Started { .. } => Ok(activity),
            _ => Err(Rejection::NotFound("activity task not found".into())),
        }
    }

    /// Finds a pending activity by its id, for the `…ById` calls.
    pub fn activity_by_id(&self, activity_id: &str) -> Option<&Activity> {
        self.activities
            .values()
            .find(|a| a.scheduled.activity_id == activity_id)
    }

    /// A worker took an activity attempt from a queue.
    pub fn start_activity(
        &mut self,
        scheduled_event_id: i64,
        attempt: i32,
        identity: &str,
        request_id: &str,
        now: Time,
    ) -> Result<Outcome, Rejection> {
        let activity = self.activity_attempt(scheduled_event_id, attempt)?;
        if activity.state != ActivityState::Scheduled {
            return Err(Rejection::NotFound("activity task not found".into()));
        }
        let tx = Tx::new(self, now);
        tx.ex.last_worker_identity = identity.to_owned();
        let activity = tx
            .ex
            .activities
            .get_mut(&scheduled_event_id)
            .expect("checked above");
        activity.state = ActivityState::Started {
            time: now,
            identity: identity.to_owned(),
            request_id: request_id.to_owned(),
        };
        activity.last_worker_identity = identity.to_owned();
        Ok(tx.finish())
    }

    pub fn complete_activity(
        &mut self,
        scheduled_event_id: i64,
        attempt: i32,
        result: Option<Blob>,
        identity: &str,
        now: Time,
    ) -> Result<Outcome, Rejection> {
        self.started_activity(scheduled_event_id, attempt)?;
        let mut tx = Tx::new(self, now);
        let activity = tx
            .ex
            .activities
            .remove(&scheduled_event_id)
            .expect("checked above");
        record_outcome(&mut tx, activity, |started_event_id| {
            EventKind::ActivityTaskCompleted {
                result,
                scheduled_event_id,
                started_event_id,
                identity: identity.to_owned(),
            }
        });
        Ok(tx.finish())
    }

    pub fn fail_activity(
        &mut self,
        scheduled_event_id: i64,
        attempt: i32,
        failure: Failure,
        last_heartbeat_details: Option<Blob>,
        identity: &str,
        now: Time,
    ) -> Result<Outcome, Rejection> {
        self.started_activity(scheduled_event_id, attempt)?;
        let mut tx = Tx::new(self, now);
        if let Some(details) = last_heartbeat_details {
            tx.ex
                .activities
                .get_mut(&scheduled_event_id)
                .expect("checked")
                .heartbeat_details = Some(details);
        }
        let identity = identity.to_owned();
        fail_attempt(
            &mut tx,
            scheduled_event_id,
            failure,
            move |failure, started_event_id, retry_state| EventKind::ActivityTaskFailed {
                failure,
                scheduled_event_id,
                started_event_id,
                identity,
                retry_state,
            },
        );
        Ok(tx.finish())
    }

    /// The worker confirms it stopped the activity after cancellation was requested.
    pub fn cancel_activity(
        &mut self,
        scheduled_event_id: i64,
        attempt: i32,
        details: Option<Blob>,
        identity: &str,
        now: Time,
    ) -> Result<Outcome, Rejection> {
        if !self
            .started_activity(scheduled_event_id, attempt)?
            .cancel_requested
        {
            // As Temporal: only a requested cancellation can be confirmed.
            return Err(Rejection::InvalidArgument(
                "activity cancellation was not requested".into(),
            ));
        }
        let mut tx = Tx::new(self, now);
        let activity = tx
            .ex
            .activities
            .remove(&scheduled_event_id)
            .expect("checked above");
        let latest_cancel_requested_event_id = activity.cancel_requested_event_id;
        record_outcome(&mut tx, activity, |started_event_id| {
            EventKind::ActivityTaskCanceled {
                details,
                latest_cancel_requested_event_id,
                scheduled_event_id,
                started_event_id,
                identity: identity.to_owned(),
            }
        });
        Ok(tx.finish())
    }

    /// Records a heartbeat; answers whether cancellation was requested.
    pub fn heartbeat_activity(
        &mut self,
        scheduled_event_id: i64,
        attempt: i32,
        details: Option<Blob>,
        now: Time,
    ) -> Result<(Outcome, bool), Rejection> {
        self.started_activity(scheduled_event_id, attempt)?;
        let tx = Tx::new(self, now);
        let activity = tx
            .ex
            .activities
            .get_mut(&scheduled_event_id)
            .expect("checked above");
        activity.last_heartbeat_time = Some(now);
        if details.is_some() {
            activity.heartbeat_details = details;
        }
        let cancel_requested = activity.cancel_requested;
        Ok((tx.finish(), cancel_requested))
    }
}

impl Activity {
    /// The running attempt's started event, stamped with when it started.
    fn started_attempt_event(&self, last_failure: Option<Failure>) -> Option<(Time, EventKind)> {
        match &self.state {
            ActivityState::Started {
                time,
                identity,
                request_id,
            } => Some((
                *time,
                EventKind::ActivityTaskStarted {
                    scheduled_event_id: self.scheduled_event_id,
                    identity: identity.clone(),
                    request_id: request_id.clone(),
                    attempt: self.attempt,
                    last_failure,
                },
            )),
            _ => None,
        }
    }
}

/// Writes the final outcome of an activity: its started event (if an attempt was running)
/// and the closing event, which refers to that started event.
fn record_outcome(tx: &mut Tx<'_>, activity: Activity, outcome: impl FnOnce(i64) -> EventKind) {
    let started = activity.started_attempt_event(activity.last_failure.clone());
    let buffering = tx
        .ex
        .workflow_task
        .as_ref()
        .is_some_and(|t| t.started.is_some());
    match (started, buffering) {
        (Some(started), true) => {
            tx.ex.buffered.push(started);
            tx.add_workflow_event(outcome(UNASSIGNED_EVENT_ID));
        }
        (Some((time, started)), false) => {
            tx.drop_pending_transient();
            let started_event_id = tx.append_at(time, started);
            tx.add_workflow_event(outcome(started_event_id));
        }
        (None, _) => tx.add_workflow_event(outcome(0)),
    }
}

/// An attempt ended badly: retry it if the policy allows, otherwise record the failure.
fn fail_attempt(
    tx: &mut Tx<'_>,
    scheduled_event_id: i64,
    failure: Failure,
    final_event: impl FnOnce(Failure, i64, RetryState) -> EventKind,
) {
    let now = tx.now;
    let activity = tx
        .ex
        .activities
        .get_mut(&scheduled_event_id)
        .expect("checked by the caller");
    match retry_delay(activity, &failure, now) {
        Ok(delay) => {
            let (started_time, worker) = match &activity.state {
                ActivityState::Started { time, identity, .. } => (Some(*time), identity.clone()),
                _ => (None, String::new()),
            };
            tx.out.attempts.push(EndedAttempt {
                scheduled_event_id,
                attempt: activity.attempt,
                scheduled_time: activity.attempt_scheduled_time,
                started_time,
                worker,
                end_time: now,
                retry_time: now.plus(delay),
                failure: failure.clone(),
            });
            activity.attempt += 1;
            activity.attempt_scheduled_time = now.plus(delay);
            activity.last_failure = Some(failure);
            activity.last_heartbeat_time = None;
            if delay.is_zero() {
                activity.state = ActivityState::Scheduled;
                let task = TaskRef {
                    queue: TaskQueue::normal(activity.scheduled.task_queue.clone()),
                    scheduled_event_id,
                    attempt: activity.attempt,
                };
                tx.out.effects.push(Effect::DispatchActivityTask(task));
            } else {
                activity.state = ActivityState::Backoff;
            }
        }
        Err(retry_state) => {
            let mut failure = failure;
            // As Temporal: a timed-out attempt with no time left for another is reported as
            // the schedule-to-close timeout.
            if retry_state == RetryState::Timeout
                && let FailureInfo::Timeout { timeout_type, .. } = &mut failure.info
            {
                *timeout_type = TimeoutType::ScheduleToClose;
                failure.message = "Not enough time to schedule next retry before activity \
                                   ScheduleToClose timeout, giving up retrying"
                    .into();
            }
            // The started event carries the failure of the attempt before this one.
            let activity = tx
                .ex
                .activities
                .remove(&scheduled_event_id)
                .expect("present");
            record_outcome(tx, activity, |started_event_id| {
                final_event(failure, started_event_id, retry_state)
            });
        }
    }
}

/// How long to wait before the next attempt, or why there is none.
pub fn retry_delay(
    activity: &Activity,
    failure: &Failure,
    now: Time,
) -> Result<Duration, RetryState> {
    let policy = &activity.scheduled.retry_policy;
    if activity.cancel_requested {
        return Err(RetryState::CancelRequested);
    }
    let listed = |name: &str| policy.non_retryable_error_types.iter().any(|t| t == name);
    // As Temporal's IsRetryable: canceled and terminated failures are final, and a timeout is
    // listed by its "TemporalTimeout:<type>" name.
    let final_kind = match &failure.info {
        FailureInfo::Canceled | FailureInfo::Terminated => true,
        FailureInfo::Timeout { timeout_type, .. } => {
            listed(&format!("TemporalTimeout:{}", timeout_type.name()))
        }
        _ => false,
    };
    if final_kind || failure.is_non_retryable() || failure.type_name().is_some_and(listed) {
        return Err(RetryState::NonRetryableFailure);
    }
    if policy.maximum_attempts > 0 && activity.attempt >= policy.maximum_attempts {
        return Err(RetryState::MaximumAttemptsReached);
    }
    let requested = match &failure.info {
        FailureInfo::Application {
            next_retry_delay: Some(delay),
            ..
        } => Some(*delay),
        _ => None,
    };
    let delay = requested.unwrap_or_else(|| backoff(policy, activity.attempt));
    let schedule_to_close = activity.scheduled.schedule_to_close_timeout;
    if !schedule_to_close.is_zero()
        && now.plus(delay) >= activity.first_scheduled_time.plus(schedule_to_close)
    {
        return Err(RetryState::Timeout);
    }
    Ok(delay)
}

/// `initial * coefficient^(attempt-1)`, capped at the maximum interval.
pub fn backoff(policy: &crate::types::RetryPolicy, attempt: i32) -> Duration {
    let exponent = (attempt - 1).clamp(0, 64);
    let seconds = policy.initial_interval.as_secs_f64() * policy.backoff_coefficient.powi(exponent);
    let maximum = if policy.maximum_interval.is_zero() {
        policy.initial_interval * 100
    } else {
        policy.maximum_interval
    };
    if !seconds.is_finite() || seconds >= maximum.as_secs_f64() {
        maximum
    } else {
        Duration::from_secs_f64(seconds)
    }
}

/// RequestCancelActivityTask: an activity no worker holds is canceled at once (and the
/// workflow must hear of it); a running one is told through its next heartbeat.
pub(crate) fn request_cancel(
    tx: &mut Tx<'_>,
    scheduled_event_id: i64,
    completed_event_id: i64,
    identity: &str,
) -> bool {
    let requested_event_id = tx.append(EventKind::ActivityTaskCancelRequested {
        scheduled_event_id,
        workflow_task_completed_event_id: completed_event_id,
    });
    let Some(activity) = tx.ex.activities.get_mut(&scheduled_event_id) else {
        // Its outcome is buffered and follows the request when the buffer is flushed.
        return false;
    };
    if matches!(activity.state, ActivityState::Started { .. }) {
        activity.cancel_requested = true;
        activity.cancel_requested_event_id = requested_event_id;
        return false;
    }
    tx.ex.activities.remove(&scheduled_event_id);
    tx.append(EventKind::ActivityTaskCanceled {
        details: None,
        latest_cancel_requested_event_id: requested_event_id,
        scheduled_event_id,
        started_event_id: 0,
        identity: identity.to_owned(),
    });
    true
}

/// A clock of one activity ran out.
pub(crate) fn time_out(
    tx: &mut Tx<'_>,
    scheduled_event_id: i64,
    attempt: i32,
    timeout_type: TimeoutType,
) {
    let Some(activity) = tx.ex.activities.get(&scheduled_event_id) else {
        return;
    };
    if activity.attempt != attempt {
        return;
    }
    let failure = Failure::timeout(
        timeout_type,
        if timeout_type == TimeoutType::Heartbeat {
            activity.heartbeat_details.clone()
        } else {
            None
        },
        None,
    );
    // Temporal's final timeout carries the previous attempt's failure as its cause; the
    // failure kept for a retry does not, so causes never nest attempt after attempt.
    let previous = activity.last_failure.clone();
    let final_event = move |mut failure: Failure, started_event_id, retry_state| {
        failure.cause = previous.map(Box::new);
        EventKind::ActivityTaskTimedOut {
            failure,
            scheduled_event_id,
            started_event_id,
            retry_state,
        }
    };
    match timeout_type {
        // An attempt that ran too long (or stopped heartbeating) is retried like a failure.
        TimeoutType::StartToClose | TimeoutType::Heartbeat => {
            fail_attempt(tx, scheduled_event_id, failure, final_event)
        }
        // The overall clocks end the activity for good.
        TimeoutType::ScheduleToStart | TimeoutType::ScheduleToClose => {
            let activity = tx
                .ex
                .activities
                .remove(&scheduled_event_id)
                .expect("present");
            record_outcome(tx, activity, |started_event_id| {
                final_event(failure, started_event_id, RetryState::NonRetryableFailure)
            });
        }
    }
}

/// The backoff before an attempt is over: put it on the queue.
pub(crate) fn retry_now(tx: &mut Tx<'_>, scheduled_event_id: i64, attempt: i32) {
    let Some(activity) = tx.ex.activities.get_mut(&scheduled_event_id) else {
        return;
    };
    if activity.attempt != attempt || activity.state != ActivityState::Backoff {
        return;
    }
    activity.state = ActivityState::Scheduled;
    let task = TaskRef {
        queue: TaskQueue::normal(activity.scheduled.task_queue.clone()),
        scheduled_event_id,
        attempt,
    };
    tx.out.effects.push(Effect::DispatchActivityTask(task));
}
