//! How a run ends without the workflow deciding it: run and execution timeouts, and
//! termination.

use keel_core::event::EventKind;
use keel_core::{RetryState, StartParams, Status, Time};

use crate::harness::*;

#[test]
fn run_timeout_closes_the_run_and_nothing_follows() {
    let mut h = Harness::start_with(StartParams {
        workflow_run_timeout: secs(60),
        ..params()
    });
    match h.event(1) {
        EventKind::WorkflowExecutionStarted(s) => {
            assert_eq!(s.workflow_run_timeout, secs(60));
            assert_eq!(s.workflow_task_timeout, secs(10));
        }
        other => panic!("{other:?}"),
    }
    h.take_workflow_task();
    h.complete(vec![activity("a1"), timer("t", secs(120))]);
    let a = h.take_activity("a1");
    h.advance(millis(59_999));
    assert_eq!(h.ex.status, Status::Running);
    let before = h.last_id();
    h.advance(millis(1));
    assert_eq!(h.history_after(before), ["WorkflowExecutionTimedOut"]);
    assert_eq!(
        h.event(before + 1),
        &EventKind::WorkflowExecutionTimedOut {
            new_execution_run_id: String::new(),
            retry_state: RetryState::RetryPolicyNotSet,
        }
    );
    assert_eq!(h.ex.status, Status::TimedOut);
    assert!(h.ex.deadlines().is_empty());
    assert!(h.effects.is_empty());
    h.advance(secs(120));
    assert_eq!(h.last_id(), before + 1);
    not_found(
        h.apply(|ex, now| unit(ex.complete_activity(a.scheduled, a.attempt, None, WORKER, now))),
    );
    not_found(h.apply(|ex, now| unit(ex.terminate("late", None, "admin", now))));
}

#[test]
fn execution_timeout_ends_with_retry_state_timeout() {
    // Temporal: when the execution expiration is reached the run cannot be retried, and the
    // WorkflowExecutionTimedOut event carries RETRY_STATE_TIMEOUT.
    let mut h = Harness::start_with(StartParams {
        workflow_execution_timeout: secs(30),
        ..params()
    });
    match h.event(1) {
        EventKind::WorkflowExecutionStarted(s) => {
            assert_eq!(
                s.workflow_run_timeout,
                secs(30),
                "defaults to the execution timeout"
            );
            assert_eq!(s.execution_expiration_time, Some(Time(T0).plus(secs(30))));
        }
        other => panic!("{other:?}"),
    }
    h.advance(secs(30));
    assert_eq!(
        h.history(),
        [
            "WorkflowExecutionStarted",
            "WorkflowTaskScheduled",
            "WorkflowExecutionTimedOut"
        ]
    );
    assert_eq!(
        h.event(3),
        &EventKind::WorkflowExecutionTimedOut {
            retry_state: RetryState::Timeout,
            new_execution_run_id: String::new(),
        }
    );
}

#[test]
fn terminate_flushes_buffered_events_then_closes() {
    let mut h = with_events_buffered();
    let wft = h.running_workflow_task();
    h.apply(|ex, now| unit(ex.terminate("enough", blob("why"), "admin", now)))
        .unwrap();
    assert_eq!(
        h.history_after(8),
        [
            "TimerFired",
            "ActivityTaskStarted",
            "ActivityTaskCompleted",
            "WorkflowExecutionTerminated"
        ]
    );
    assert_eq!(
        h.event(12),
        &EventKind::WorkflowExecutionTerminated {
            reason: "enough".into(),
            details: blob("why"),
            identity: "admin".into(),
        }
    );
    assert_eq!(h.ex.status, Status::Terminated);
    assert!(h.ex.deadlines().is_empty());
    assert!(h.ex.workflow_task.is_none() && h.ex.activities.is_empty() && h.ex.timers.is_empty());
    not_found(h.apply(|ex, now| unit(ex.terminate("again", None, "admin", now))));
    not_found(h.respond(wft, completion()));
}
