//! Activity attempts that fail or time out: backoff by the retry policy, the failures that are
//! never retried, and the timeouts that end retrying. A retried attempt writes nothing to
//! history; only the last attempt's started and closing events are recorded.

use std::time::Duration;

use keel_core::event::EventKind;
use keel_core::{
    ActivityState, Deadline, Effect, Execution, Failure, FailureInfo, RetryPolicy, RetryState,
    ScheduleActivity, TaskRef, Time, TimeoutType,
};

use crate::harness::*;

fn policy(maximum_attempts: i32, non_retryable: &[&str]) -> Option<RetryPolicy> {
    Some(RetryPolicy {
        initial_interval: Duration::ZERO,
        backoff_coefficient: 0.0,
        maximum_interval: Duration::ZERO,
        maximum_attempts,
        non_retryable_error_types: non_retryable.iter().map(|s| s.to_string()).collect(),
    })
}

fn timeout_type_of(failure: &Failure) -> TimeoutType {
    match &failure.info {
        FailureInfo::Timeout { timeout_type, .. } => *timeout_type,
        other => panic!("expected a timeout failure, got {other:?}"),
    }
}

/// The retry deadline of an activity, if it is backing off.
fn retry_deadline(ex: &Execution, scheduled: i64) -> Option<(Time, i32)> {
    ex.deadlines().into_iter().find_map(|(at, d)| match d {
        Deadline::ActivityRetry {
            scheduled_event_id,
            attempt,
        } if scheduled_event_id == scheduled => Some((at, attempt)),
        _ => None,
    })
}

#[test]
fn activity_failing_twice_then_succeeding_writes_only_the_last_attempt() {
    let mut h = started_with(vec![activity("a1")]);
    let scheduled = h.last("ActivityTaskScheduled");
    let first = app_failure("boom 1", "Flaky", false);
    let second = app_failure("boom 2", "Flaky", false);

    let attempt1 = h.take_activity("a1");
    assert_eq!(attempt1.attempt, 1);
    h.fail_activity(attempt1, first.clone());
    assert_eq!(h.last_id(), scheduled, "a retried failure writes nothing");
    assert!(
        h.effects.is_empty(),
        "nothing to dispatch while backing off"
    );
    let activity = &h.ex.activities[&scheduled];
    assert_eq!(activity.state, ActivityState::Backoff);
    assert_eq!(activity.last_failure.as_ref(), Some(&first));
    assert_eq!(
        retry_deadline(&h.ex, scheduled),
        Some((h.now.plus(secs(1)), 2)),
        "first backoff is the initial interval"
    );
    not_found(h.apply(|ex, now| unit(ex.start_activity(scheduled, 2, WORKER, "r", now))));

    h.advance(millis(999));
    assert!(h.effects.is_empty());
    h.advance(millis(1));
    assert_eq!(
        h.effects,
        [Effect::DispatchActivityTask(TaskRef {
            queue: normal_queue(),
            scheduled_event_id: scheduled,
            attempt: 2
        })]
    );
    assert_eq!(h.last_id(), scheduled, "a retry writes nothing");

    let attempt2 = h.take_activity("a1");
    assert_eq!(attempt2.attempt, 2);
    not_found(h.apply(|ex, now| unit(ex.complete_activity(scheduled, 1, None, WORKER, now))));
    h.fail_activity(attempt2, second.clone());
    assert_eq!(
        retry_deadline(&h.ex, scheduled),
        Some((h.now.plus(secs(2)), 3)),
        "second backoff doubles"
    );
    h.advance(millis(1999));
    assert!(h.effects.is_empty());
    h.advance(millis(1));
    assert_eq!(h.effects.len(), 1);

    let attempt3 = h.take_activity("a1");
    assert_eq!(attempt3.attempt, 3);
    h.complete_activity(attempt3, "third time lucky");
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskCompleted",
            "WorkflowTaskScheduled"
        ]
    );
    let started = h.last("ActivityTaskStarted");
    assert_eq!(
        h.event(started),
        &EventKind::ActivityTaskStarted {
            scheduled_event_id: scheduled,
            identity: WORKER.into(),
            request_id: "act-req".into(),
            attempt: 3,
            last_failure: Some(second),
        }
    );
    match h.event(started + 1) {
        EventKind::ActivityTaskCompleted {
            started_event_id, ..
        } => assert_eq!(*started_event_id, started),
        other => panic!("{other:?}"),
    }
    // The two earlier attempts are reported beside the history, each with its times, its
    // worker, its failure and the end of its backoff.
    let summary: Vec<_> = h
        .attempts
        .iter()
        .map(|a| {
            (
                a.scheduled_event_id,
                a.attempt,
                a.started_time.is_some(),
                a.worker.as_str(),
                a.failure.message.as_str(),
                a.retry_time > a.end_time,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (scheduled, 1, true, WORKER, "boom 1", true),
            (scheduled, 2, true, WORKER, "boom 2", true),
        ]
    );
    assert!(h.attempts[0].end_time < h.attempts[1].scheduled_time);
    assert_eq!(h.attempts[0].retry_time, h.attempts[1].scheduled_time);
    assert!(h.ex.activities.is_empty());
}

#[test]
fn backoff_follows_the_policy_and_is_capped() {
    let policy = RetryPolicy {
        initial_interval: secs(1),
        backoff_coefficient: 2.0,
        maximum_interval: secs(5),
        maximum_attempts: 0,
        non_retryable_error_types: vec![],
    };
    let delays: Vec<_> = (1..=5).map(|a| keel_core::backoff(&policy, a)).collect();
    assert_eq!(delays, [secs(1), secs(2), secs(4), secs(5), secs(5)]);
    let default = keel_core::default_retry_policy(None);
    assert_eq!(keel_core::backoff(&default, 1), secs(1));
    assert_eq!(keel_core::backoff(&default, 2), secs(2));
    assert_eq!(keel_core::backoff(&default, 30), secs(100));
}

#[test]
fn application_requested_retry_delay_wins() {
    let mut h = started_with(vec![activity("a1")]);
    let scheduled = h.last("ActivityTaskScheduled");
    let a1 = h.take_activity("a1");
    let mut failure = app_failure("later", "Busy", false);
    failure.info = FailureInfo::Application {
        failure_type: "Busy".into(),
        non_retryable: false,
        next_retry_delay: Some(secs(7)),
    };
    h.fail_activity(a1, failure);
    assert_eq!(
        retry_deadline(&h.ex, scheduled),
        Some((h.now.plus(secs(7)), 2))
    );
}

#[test]
fn start_to_close_timeout_is_retried() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        start_to_close_timeout: secs(5),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    let a1 = h.take_activity("a1");
    h.advance(millis(4999));
    assert!(matches!(
        h.ex.activities[&scheduled].state,
        ActivityState::Started { .. }
    ));
    h.advance(millis(1));
    assert_eq!(h.last_id(), scheduled, "a retried timeout writes nothing");
    let activity = &h.ex.activities[&scheduled];
    assert_eq!(activity.attempt, 2);
    assert_eq!(activity.state, ActivityState::Backoff);
    assert_eq!(
        retry_deadline(&h.ex, scheduled),
        Some((h.now.plus(secs(1)), 2))
    );
    // The worker that lost the attempt can no longer report on it.
    not_found(
        h.apply(|ex, now| unit(ex.complete_activity(a1.scheduled, a1.attempt, None, WORKER, now))),
    );

    h.advance(secs(1));
    let a1 = h.take_activity("a1");
    assert_eq!(a1.attempt, 2);
    h.complete_activity(a1, "ok");
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskCompleted",
            "WorkflowTaskScheduled"
        ]
    );
    match h.event(scheduled + 1) {
        EventKind::ActivityTaskStarted {
            attempt,
            last_failure: Some(failure),
            ..
        } => {
            assert_eq!(*attempt, 2);
            assert_eq!(timeout_type_of(failure), TimeoutType::StartToClose);
            assert_eq!(failure.source, "Server");
            assert_eq!(failure.message, "activity StartToClose timeout");
            assert_eq!(failure.cause, None);
        }
        other => panic!("{other:?}"),
    }
}

/// Temporal keeps the bare timeout as an attempt's last failure and attaches the previous
/// failure as cause only on the final ActivityTaskTimedOut event; a timed-out attempt's last
/// failure must not nest all earlier ones.
#[test]
fn repeated_timeouts_do_not_nest_last_failures() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        start_to_close_timeout: secs(1),
        retry_policy: policy(4, &[]),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    for attempt in 1..=3 {
        let a = h.take_activity("a1");
        assert_eq!(a.attempt, attempt);
        h.advance(secs(1)); // start-to-close
        let last = h.ex.activities[&scheduled].last_failure.clone().unwrap();
        assert_eq!(timeout_type_of(&last), TimeoutType::StartToClose);
        assert_eq!(last.cause, None, "attempt {attempt}'s last failure nests");
        h.advance(secs(10)); // any backoff
    }
    h.take_activity("a1");
    h.advance(secs(1));
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskTimedOut",
            "WorkflowTaskScheduled"
        ]
    );
    match h.event(scheduled + 2) {
        EventKind::ActivityTaskTimedOut {
            failure,
            retry_state,
            ..
        } => {
            assert_eq!(*retry_state, RetryState::MaximumAttemptsReached);
            let cause = failure.cause.as_deref().expect("the previous failure");
            assert_eq!(timeout_type_of(cause), TimeoutType::StartToClose);
            assert_eq!(cause.cause, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_retryable_failures_are_not_retried() {
    let mut h = started_with(vec![
        schedule(ScheduleActivity {
            retry_policy: policy(0, &["Fatal"]),
            ..spec("by-type")
        }),
        activity("by-flag"),
    ]);
    let by_type = h.ex.activity_by_id("by-type").unwrap().scheduled_event_id;
    let by_flag = h.ex.activity_by_id("by-flag").unwrap().scheduled_event_id;
    let a = h.take_activity("by-type");
    let b = h.take_activity("by-flag");
    let listed = app_failure("no way", "Fatal", false);
    let flagged = app_failure("never", "Whatever", true);

    let before = h.last_id();
    h.fail_activity(a, listed.clone());
    assert_eq!(
        h.history_after(before),
        [
            "ActivityTaskStarted",
            "ActivityTaskFailed",
            "WorkflowTaskScheduled"
        ]
    );
    assert_eq!(
        h.event(before + 1),
        &EventKind::ActivityTaskStarted {
            scheduled_event_id: by_type,
            identity: WORKER.into(),
            request_id: "act-req".into(),
            attempt: 1,
            last_failure: None,
        }
    );
    assert_eq!(
        h.event(before + 2),
        &EventKind::ActivityTaskFailed {
            failure: listed,
            scheduled_event_id: by_type,
            started_event_id: before + 1,
            identity: WORKER.into(),
            retry_state: RetryState::NonRetryableFailure,
        }
    );

    let before = h.last_id();
    h.fail_activity(b, flagged.clone());
    assert_eq!(
        h.history_after(before),
        ["ActivityTaskStarted", "ActivityTaskFailed"],
        "a workflow task is already pending"
    );
    assert_eq!(
        h.event(before + 2),
        &EventKind::ActivityTaskFailed {
            failure: flagged,
            scheduled_event_id: by_flag,
            started_event_id: before + 1,
            identity: WORKER.into(),
            retry_state: RetryState::NonRetryableFailure,
        }
    );
    assert!(h.ex.activities.is_empty());
}

#[test]
fn maximum_attempts_reached() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        retry_policy: policy(2, &[]),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    let first = app_failure("boom 1", "Flaky", false);
    let second = app_failure("boom 2", "Flaky", false);
    let a = h.take_activity("a1");
    h.fail_activity(a, first.clone());
    assert_eq!(h.last_id(), scheduled);
    h.advance(secs(1));
    let a = h.take_activity("a1");
    assert_eq!(a.attempt, 2);
    h.fail_activity(a, second.clone());
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskFailed",
            "WorkflowTaskScheduled"
        ]
    );
    match (h.event(scheduled + 1), h.event(scheduled + 2)) {
        (
            EventKind::ActivityTaskStarted {
                attempt,
                last_failure,
                ..
            },
            EventKind::ActivityTaskFailed {
                failure,
                retry_state,
                started_event_id,
                ..
            },
        ) => {
            assert_eq!(*attempt, 2);
            assert_eq!(last_failure.as_ref(), Some(&first));
            assert_eq!(failure, &second);
            assert_eq!(*retry_state, RetryState::MaximumAttemptsReached);
            assert_eq!(*started_event_id, scheduled + 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn failure_whose_retry_would_pass_schedule_to_close_ends_with_timeout() {
    // Start-to-close defaults to schedule-to-close (3s).
    let mut h = started_with(vec![schedule(ScheduleActivity {
        start_to_close_timeout: Duration::ZERO,
        schedule_to_close_timeout: secs(3),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    match h.event(scheduled) {
        EventKind::ActivityTaskScheduled(s) => {
            assert_eq!(s.schedule_to_close_timeout, secs(3));
            assert_eq!(s.start_to_close_timeout, secs(3));
            assert_eq!(s.schedule_to_start_timeout, secs(3));
        }
        other => panic!("{other:?}"),
    }
    h.advance(millis(500));
    let a = h.take_activity("a1");
    h.fail_activity(a, app_failure("boom 1", "Flaky", false)); // retry at 1.5s < 3s
    assert_eq!(h.last_id(), scheduled);
    h.advance(secs(1));
    let a = h.take_activity("a1");
    h.advance(millis(500));
    h.fail_activity(a, app_failure("boom 2", "Flaky", false)); // 2s + 2s > 3s
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskFailed",
            "WorkflowTaskScheduled"
        ]
    );
    match h.event(scheduled + 2) {
        EventKind::ActivityTaskFailed { retry_state, .. } => {
            assert_eq!(*retry_state, RetryState::Timeout)
        }
        other => panic!("{other:?}"),
    }
}

/// Temporal reports a timed-out attempt that has no time left for a retry as a
/// schedule-to-close timeout with RetryState Timeout.
#[test]
fn timeout_whose_retry_would_pass_schedule_to_close_ends_with_timeout() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        start_to_close_timeout: secs(4),
        schedule_to_close_timeout: secs(10),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    h.take_activity("a1");
    h.advance(secs(4)); // attempt 1 times out; retry at 5s
    assert_eq!(h.last_id(), scheduled);
    h.advance(secs(1));
    h.take_activity("a1");
    h.advance(secs(4)); // attempt 2 times out at 9s; 9s + 2s > 10s
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskTimedOut",
            "WorkflowTaskScheduled"
        ]
    );
    match h.event(scheduled + 2) {
        EventKind::ActivityTaskTimedOut {
            failure,
            retry_state,
            started_event_id,
            ..
        } => {
            assert_eq!(*retry_state, RetryState::Timeout);
            assert_eq!(*started_event_id, scheduled + 1);
            assert_eq!(timeout_type_of(failure), TimeoutType::ScheduleToClose);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn schedule_to_close_expiry_ends_a_retrying_activity() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        start_to_close_timeout: secs(2),
        schedule_to_close_timeout: secs(5),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    h.take_activity("a1");
    h.advance(secs(2)); // start-to-close; retry at 3s
    h.advance(secs(1));
    h.advance(millis(500));
    h.take_activity("a1"); // its start-to-close would be at 5.5s
    h.advance(millis(1499));
    assert_eq!(h.last_id(), scheduled);
    h.advance(millis(1)); // 5s: schedule-to-close
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskTimedOut",
            "WorkflowTaskScheduled"
        ]
    );
    match (h.event(scheduled + 1), h.event(scheduled + 2)) {
        (
            EventKind::ActivityTaskStarted { attempt, .. },
            EventKind::ActivityTaskTimedOut {
                failure,
                retry_state,
                ..
            },
        ) => {
            assert_eq!(*attempt, 2);
            assert_eq!(timeout_type_of(failure), TimeoutType::ScheduleToClose);
            // Temporal: schedule-to-close timeouts are not retryable.
            assert_eq!(*retry_state, RetryState::NonRetryableFailure);
            let cause = failure.cause.as_deref().expect("attempt 1's failure");
            assert_eq!(timeout_type_of(cause), TimeoutType::StartToClose);
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ex.activities.is_empty());
}

#[test]
fn schedule_to_start_timeout_without_a_worker() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        schedule_to_start_timeout: secs(3),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    h.advance(secs(3));
    assert_eq!(
        h.history_after(scheduled),
        ["ActivityTaskTimedOut", "WorkflowTaskScheduled"],
        "no attempt started, so no started event"
    );
    match h.event(scheduled + 1) {
        EventKind::ActivityTaskTimedOut {
            failure,
            started_event_id,
            ..
        } => {
            assert_eq!(*started_event_id, 0);
            assert_eq!(timeout_type_of(failure), TimeoutType::ScheduleToStart);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn heartbeat_timeout_carries_the_last_heartbeat_details() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        heartbeat_timeout: secs(2),
        retry_policy: policy(2, &[]),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    let a = h.take_activity("a1");
    h.advance(secs(1));
    assert!(!h.heartbeat(a, "step 1"), "no cancellation requested");
    h.advance(millis(1999));
    assert_eq!(
        h.ex.activities[&scheduled].attempt, 1,
        "the heartbeat pushed it back"
    );
    h.advance(millis(1)); // 3s: heartbeat timeout, retried
    let activity = &h.ex.activities[&scheduled];
    assert_eq!(activity.attempt, 2);
    let last = activity.last_failure.as_ref().unwrap();
    assert_eq!(timeout_type_of(last), TimeoutType::Heartbeat);
    assert_eq!(
        activity.heartbeat_details,
        blob("step 1"),
        "kept for the next attempt"
    );

    h.advance(secs(1));
    let a = h.take_activity("a1");
    h.advance(secs(1));
    h.heartbeat(a, "step 2");
    h.advance(secs(2));
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskTimedOut",
            "WorkflowTaskScheduled"
        ]
    );
    match h.event(scheduled + 2) {
        EventKind::ActivityTaskTimedOut {
            failure,
            retry_state,
            started_event_id,
            ..
        } => {
            assert_eq!(*retry_state, RetryState::MaximumAttemptsReached);
            assert_eq!(*started_event_id, scheduled + 1);
            assert_eq!(
                failure.info,
                FailureInfo::Timeout {
                    timeout_type: TimeoutType::Heartbeat,
                    last_heartbeat_details: blob("step 2"),
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

/// Temporal (`IsRetryable`): a timeout whose `TemporalTimeout:<type>` is listed in the
/// policy's non-retryable error types is not retried.
#[test]
fn listed_timeout_types_are_not_retried() {
    let mut h = started_with(vec![schedule(ScheduleActivity {
        start_to_close_timeout: secs(2),
        retry_policy: policy(0, &["TemporalTimeout:StartToClose"]),
        ..spec("a1")
    })]);
    let scheduled = h.last("ActivityTaskScheduled");
    h.take_activity("a1");
    h.advance(secs(2));
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskTimedOut",
            "WorkflowTaskScheduled"
        ]
    );
}

/// Temporal (`IsRetryable`): canceled and terminated failures are never retried.
#[test]
fn canceled_failures_are_not_retried() {
    let mut h = started_with(vec![activity("a1")]);
    let scheduled = h.last("ActivityTaskScheduled");
    let a = h.take_activity("a1");
    let mut failure = app_failure("stopped", "", false);
    failure.info = FailureInfo::Canceled;
    h.fail_activity(a, failure);
    assert_eq!(
        h.history_after(scheduled),
        [
            "ActivityTaskStarted",
            "ActivityTaskFailed",
            "WorkflowTaskScheduled"
        ]
    );
}
