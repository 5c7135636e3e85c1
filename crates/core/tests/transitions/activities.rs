//! An activity's life in history: scheduled, started and completed, and canceled at the
//! workflow's request.

use keel_core::event::EventKind;
use keel_core::transition::failed_cause;
use keel_core::{Command, Effect, RetryState, Status, TaskRef};

use crate::harness::*;

#[test]
fn one_activity_writes_started_and_completed_together() {
    let mut h = Harness::start();
    assert_eq!(
        h.history(),
        ["WorkflowExecutionStarted", "WorkflowTaskScheduled"]
    );
    assert_eq!(
        h.effects,
        [Effect::DispatchWorkflowTask(TaskRef {
            queue: normal_queue(),
            scheduled_event_id: 2,
            attempt: 1
        })]
    );
    let wft = h.take_workflow_task();
    assert_eq!(
        wft,
        WfTask {
            scheduled: 2,
            started: 3,
            attempt: 1
        }
    );
    h.complete(vec![activity("a1")]);
    assert_eq!(
        h.history_after(2),
        [
            "WorkflowTaskStarted",
            "WorkflowTaskCompleted",
            "ActivityTaskScheduled"
        ]
    );
    match h.event(5) {
        EventKind::ActivityTaskScheduled(s) => {
            assert_eq!(s.activity_id, "a1");
            assert_eq!(s.task_queue, "tq", "defaults to the workflow's queue");
            assert_eq!(s.workflow_task_completed_event_id, 4);
            assert_eq!(s.start_to_close_timeout, secs(10));
            assert_eq!(s.retry_policy, keel_core::default_retry_policy(None));
            assert_eq!(s.retry_policy.initial_interval, secs(1));
            assert_eq!(s.retry_policy.backoff_coefficient, 2.0);
            assert_eq!(s.retry_policy.maximum_interval, secs(100));
            assert_eq!(s.retry_policy.maximum_attempts, 0);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.effects,
        [Effect::DispatchActivityTask(TaskRef {
            queue: normal_queue(),
            scheduled_event_id: 5,
            attempt: 1
        })]
    );

    let a1 = h.take_activity("a1");
    assert_eq!(h.last_id(), 5, "taking an attempt writes nothing");
    assert!(h.effects.is_empty());
    h.advance(secs(3));
    h.complete_activity(a1, "hello");
    assert_eq!(
        h.history_after(5),
        [
            "ActivityTaskStarted",
            "ActivityTaskCompleted",
            "WorkflowTaskScheduled"
        ]
    );
    assert_eq!(
        h.event(6),
        &EventKind::ActivityTaskStarted {
            scheduled_event_id: 5,
            identity: WORKER.into(),
            request_id: "act-req".into(),
            attempt: 1,
            last_failure: None,
        }
    );
    assert_eq!(
        h.event(7),
        &EventKind::ActivityTaskCompleted {
            result: blob("hello"),
            scheduled_event_id: 5,
            started_event_id: 6,
            identity: WORKER.into(),
        }
    );
    assert_eq!(
        h.effects,
        [Effect::DispatchWorkflowTask(TaskRef {
            queue: normal_queue(),
            scheduled_event_id: 8,
            attempt: 1
        })]
    );

    h.take_workflow_task();
    h.complete(vec![complete_workflow()]);
    assert_eq!(
        h.history_after(8),
        [
            "WorkflowTaskStarted",
            "WorkflowTaskCompleted",
            "WorkflowExecutionCompleted"
        ]
    );
    assert_eq!(
        h.event(11),
        &EventKind::WorkflowExecutionCompleted {
            result: blob("done"),
            workflow_task_completed_event_id: 10,
            new_execution_run_id: String::new(),
        }
    );
    assert_eq!(h.ex.status, Status::Completed);
    assert_eq!(h.ex.close_time, Some(h.now));
    assert!(h.ex.deadlines().is_empty());
    assert!(h.effects.is_empty());
}

/// Temporal writes an attempt's ActivityTaskStarted with the time the attempt started,
/// although the event is appended only when the attempt ends (`addTransientActivityStartedEvent`
/// overwrites the event time with `ActivityInfo.StartedTime`).
#[test]

fn activity_started_event_carries_the_attempt_start_time() {
    let mut h = started_with(vec![activity("a1")]);
    h.advance(secs(1));
    let started_at = h.now;
    let a1 = h.take_activity("a1");
    h.advance(secs(3));
    h.complete_activity(a1, "hello");
    let started = &h.events[h.last("ActivityTaskStarted") as usize - 1];
    assert_eq!(started.time, started_at);
}

#[test]
fn request_cancel_of_a_not_started_activity_cancels_at_once() {
    let mut h = started_with(vec![activity("a1"), timer("t", secs(1))]);
    let scheduled = h.ex.activity_by_id("a1").unwrap().scheduled_event_id;
    h.advance(secs(1));
    h.take_workflow_task();
    h.complete(vec![Command::RequestCancelActivity {
        scheduled_event_id: scheduled,
    }]);
    let completed = h.last("WorkflowTaskCompleted");
    assert_eq!(
        h.history_after(completed - 1),
        [
            "WorkflowTaskCompleted",
            "ActivityTaskCancelRequested",
            "ActivityTaskCanceled",
            "WorkflowTaskScheduled"
        ]
    );
    assert_eq!(
        h.event(completed + 1),
        &EventKind::ActivityTaskCancelRequested {
            scheduled_event_id: scheduled,
            workflow_task_completed_event_id: completed,
        }
    );
    match h.event(completed + 2) {
        EventKind::ActivityTaskCanceled {
            latest_cancel_requested_event_id,
            scheduled_event_id,
            started_event_id,
            identity,
            ..
        } => {
            assert_eq!(*latest_cancel_requested_event_id, completed + 1);
            assert_eq!(*scheduled_event_id, scheduled);
            assert_eq!(*started_event_id, 0);
            assert_eq!(identity, WORKER);
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ex.activities.is_empty());
    not_found(h.apply(|ex, now| unit(ex.start_activity(scheduled, 1, WORKER, "r", now))));
}

#[test]
fn request_cancel_of_a_running_activity_waits_for_the_worker() {
    let mut h = started_with(vec![activity("a1"), timer("t", secs(1))]);
    let scheduled = h.ex.activity_by_id("a1").unwrap().scheduled_event_id;
    let a = h.take_activity("a1");
    h.advance(secs(1));
    h.take_workflow_task();
    h.complete(vec![Command::RequestCancelActivity {
        scheduled_event_id: scheduled,
    }]);
    let requested = h.last("ActivityTaskCancelRequested");
    assert_eq!(
        h.last_id(),
        requested,
        "no workflow task until the worker answers"
    );
    assert!(h.heartbeat(a, "stopping"), "the heartbeat tells the worker");
    h.apply(|ex, now| unit(ex.cancel_activity(a.scheduled, a.attempt, blob("bye"), WORKER, now)))
        .unwrap();
    assert_eq!(
        h.history_after(requested),
        [
            "ActivityTaskStarted",
            "ActivityTaskCanceled",
            "WorkflowTaskScheduled"
        ]
    );
    assert_eq!(
        h.event(requested + 2),
        &EventKind::ActivityTaskCanceled {
            details: blob("bye"),
            latest_cancel_requested_event_id: requested,
            scheduled_event_id: scheduled,
            started_event_id: requested + 1,
            identity: WORKER.into(),
        }
    );
}

#[test]
fn cancelled_running_activity_that_fails_is_not_retried() {
    let mut h = started_with(vec![activity("a1"), timer("t", secs(1))]);
    let scheduled = h.ex.activity_by_id("a1").unwrap().scheduled_event_id;
    let a = h.take_activity("a1");
    h.advance(secs(1));
    h.take_workflow_task();
    h.complete(vec![Command::RequestCancelActivity {
        scheduled_event_id: scheduled,
    }]);
    let requested = h.last("ActivityTaskCancelRequested");
    h.fail_activity(a, app_failure("boom", "Flaky", false));
    match h.event(requested + 2) {
        EventKind::ActivityTaskFailed { retry_state, .. } => {
            assert_eq!(*retry_state, RetryState::CancelRequested)
        }
        other => panic!("{other:?}"),
    }
}

/// Two RequestCancelActivity commands for one activity no worker holds: the first cancels it
/// at once, so the second names an activity that no longer exists when it is applied.
#[test]
fn cancelling_the_same_unstarted_activity_twice_fails_the_task() {
    let mut h = started_with(vec![activity("a1"), timer("t", secs(1))]);
    let scheduled = h.ex.activity_by_id("a1").unwrap().scheduled_event_id;
    h.advance(secs(1));
    h.take_workflow_task();
    let before = h.last_id();
    let result = h.complete(vec![
        Command::RequestCancelActivity {
            scheduled_event_id: scheduled,
        },
        Command::RequestCancelActivity {
            scheduled_event_id: scheduled,
        },
    ]);
    assert!(result.command_error.is_some());
    // The retry is transient: not in history until it completes.
    assert_eq!(h.history_after(before), ["WorkflowTaskFailed"]);
    assert!(h.ex.workflow_task.as_ref().unwrap().transient);
    match h.event(before + 1) {
        EventKind::WorkflowTaskFailed { cause, .. } => {
            assert_eq!(*cause, failed_cause::BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES)
        }
        other => panic!("{other:?}"),
    }
    assert!(
        h.ex.activities.contains_key(&scheduled),
        "nothing was applied"
    );
}
