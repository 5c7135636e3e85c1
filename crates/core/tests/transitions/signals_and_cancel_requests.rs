//! Signals and cancellation requests sent to a run: recorded once, handled by a workflow
//! task, refused once the run is closed.

use keel_core::event::EventKind;
use keel_core::{CancelRequest, Command, Effect, Execution, Status, Time};

use crate::harness::*;

fn cancel_request() -> CancelRequest {
    CancelRequest {
        reason: "no longer needed".into(),
        identity: "client".into(),
        external: None,
    }
}

#[test]
fn a_signal_to_an_idle_workflow_schedules_a_task_to_handle_it() {
    let mut h = started_with(vec![]);
    let before = h.last_id();
    h.apply(|ex, now| unit(ex.signal(signal("go", "r1"), now)))
        .unwrap();
    assert_eq!(
        h.history_after(before),
        ["WorkflowExecutionSignaled", "WorkflowTaskScheduled"]
    );
    match h.event(before + 1) {
        EventKind::WorkflowExecutionSignaled {
            signal_name,
            input,
            identity,
            external,
            ..
        } => {
            assert_eq!(signal_name, "go");
            assert_eq!(*input, blob("go"));
            assert_eq!(identity, "client");
            assert_eq!(*external, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(h.effects[..], [Effect::DispatchWorkflowTask(_)]));
    // A second signal before the task is taken joins the same task.
    h.apply(|ex, now| unit(ex.signal(signal("again", "r2"), now)))
        .unwrap();
    assert_eq!(h.history_after(before + 2), ["WorkflowExecutionSignaled"]);
    assert!(h.effects.is_empty());
}

#[test]
fn a_retried_signal_is_recorded_once() {
    let mut h = started_with(vec![]);
    h.apply(|ex, now| unit(ex.signal(signal("go", "same"), now)))
        .unwrap();
    let length = h.last_id();
    h.apply(|ex, now| unit(ex.signal(signal("go", "same"), now)))
        .expect("a retry is accepted");
    assert_eq!(h.last_id(), length, "and not recorded again");
    // Without a request id every signal counts.
    h.apply(|ex, now| unit(ex.signal(signal("go", ""), now)))
        .unwrap();
    h.apply(|ex, now| unit(ex.signal(signal("go", ""), now)))
        .unwrap();
    assert_eq!(h.last_id(), length + 2);
}

#[test]
fn a_signal_during_a_workflow_task_waits_for_its_completion() {
    let mut h = started_with(vec![]);
    h.apply(|ex, now| unit(ex.signal(signal("first", ""), now)))
        .unwrap();
    h.take_workflow_task();
    h.apply(|ex, now| unit(ex.signal(signal("second", ""), now)))
        .unwrap();
    let completed = h.last_id() + 1;
    // The workflow has not seen "second": it may not close yet.
    let refused = h.complete(vec![complete_workflow()]);
    assert_eq!(
        h.event(completed).name(),
        "WorkflowTaskFailed",
        "{refused:?}"
    );
    assert_eq!(
        h.history_after(completed),
        ["WorkflowExecutionSignaled", "WorkflowTaskScheduled"]
    );
    h.take_workflow_task();
    h.complete(vec![complete_workflow()]);
    assert_eq!(h.ex.status, Status::Completed);
}

#[test]
fn signals_and_cancel_requests_to_a_closed_run_are_not_found() {
    let mut h = started_with(vec![complete_workflow()]);
    not_found(h.apply(|ex, now| unit(ex.signal(signal("late", ""), now))));
    not_found(h.apply(|ex, now| unit(ex.request_cancel(cancel_request(), now))));
}

#[test]
fn a_cancel_request_is_recorded_once_and_the_workflow_may_close_as_canceled() {
    let mut h = started_with(vec![timer("t", secs(60))]);
    let before = h.last_id();
    h.apply(|ex, now| unit(ex.request_cancel(cancel_request(), now)))
        .unwrap();
    assert_eq!(
        h.history_after(before),
        ["WorkflowExecutionCancelRequested", "WorkflowTaskScheduled"]
    );
    h.apply(|ex, now| unit(ex.request_cancel(cancel_request(), now)))
        .expect("asking again is accepted");
    assert_eq!(h.last_id(), before + 2, "and changes nothing");
    h.take_workflow_task();
    h.complete(vec![
        Command::CancelTimer {
            timer_id: "t".into(),
        },
        Command::CancelWorkflow {
            details: blob("cleaned up"),
        },
    ]);
    assert_eq!(h.ex.status, Status::Canceled);
    assert_eq!(
        h.history_after(before + 3),
        [
            "WorkflowTaskCompleted",
            "TimerCanceled",
            "WorkflowExecutionCanceled"
        ]
    );
    assert!(h.ex.deadlines().is_empty());
}

#[test]
fn signal_with_start_records_the_signal_before_the_first_task() {
    let (ex, outcome) = Execution::start_with(
        key(),
        params(),
        keel_core::StartOptions {
            signal: Some(signal("hello", "req")),
            ..Default::default()
        },
        Time(T0),
    )
    .unwrap();
    let names: Vec<_> = outcome.events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        names,
        [
            "WorkflowExecutionStarted",
            "WorkflowExecutionSignaled",
            "WorkflowTaskScheduled"
        ]
    );
    assert_eq!(ex.workflow_task.as_ref().unwrap().scheduled_event_id, 3);
    assert!(ex.signal_request_ids.contains("req"));
}
