//! Events that arrive while a workflow task runs are buffered and written after its
//! completion, so the workflow never closes over news it has not seen.

use keel_core::event::EventKind;
use keel_core::transition::failed_cause;
use keel_core::{Command, Completion, Status};

use crate::harness::*;

#[test]
fn events_arriving_during_a_workflow_task_follow_its_completion() {
    let mut h = with_events_buffered();
    let result = h.complete(vec![]);
    assert_eq!(result.command_error, None);
    assert_eq!(
        h.history_after(8),
        [
            "WorkflowTaskCompleted",
            "TimerFired",
            "ActivityTaskStarted",
            "ActivityTaskCompleted",
            "WorkflowTaskScheduled"
        ]
    );
    assert_eq!(
        h.event(10),
        &EventKind::TimerFired {
            timer_id: "t".into(),
            started_event_id: 6,
        }
    );
    match (h.event(11), h.event(12)) {
        (
            EventKind::ActivityTaskStarted {
                scheduled_event_id, ..
            },
            EventKind::ActivityTaskCompleted {
                scheduled_event_id: completed_scheduled,
                started_event_id,
                ..
            },
        ) => {
            assert_eq!(*scheduled_event_id, 5);
            assert_eq!(*completed_scheduled, 5);
            assert_eq!(*started_event_id, 11, "refers to the flushed started event");
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ex.buffered.is_empty());
    assert_eq!(h.ex.workflow_task.as_ref().unwrap().scheduled_event_id, 13);
}

#[test]
fn closing_while_events_are_buffered_is_refused() {
    let mut h = with_events_buffered();
    let result = h.complete(vec![complete_workflow()]);
    assert!(result.command_error.is_some());
    assert_eq!(
        h.history_after(8),
        [
            "WorkflowTaskFailed",
            "TimerFired",
            "ActivityTaskStarted",
            "ActivityTaskCompleted",
            "WorkflowTaskScheduled"
        ]
    );
    match h.event(9) {
        EventKind::WorkflowTaskFailed {
            scheduled_event_id,
            started_event_id,
            cause,
            failure,
            identity,
            ..
        } => {
            assert_eq!((*scheduled_event_id, *started_event_id), (7, 8));
            assert_eq!(*cause, failed_cause::UNHANDLED_COMMAND);
            assert!(failure.is_some());
            assert_eq!(identity, WORKER);
        }
        other => panic!("{other:?}"),
    }
    match h.event(12) {
        EventKind::ActivityTaskCompleted {
            started_event_id, ..
        } => assert_eq!(*started_event_id, 11),
        other => panic!("{other:?}"),
    }
    match h.event(13) {
        EventKind::WorkflowTaskScheduled {
            attempt,
            task_queue,
            ..
        } => {
            assert_eq!(*attempt, 2);
            assert_eq!(task_queue, &normal_queue());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.ex.status, Status::Running);
    // The workflow sees the events and may close now.
    h.take_workflow_task();
    h.complete(vec![complete_workflow()]);
    assert_eq!(h.ex.status, Status::Completed);
    assert_eq!(h.history().last(), Some(&"WorkflowExecutionCompleted"));
}

/// Temporal (`AddActivityTaskCancelRequestedEvent`): an activity whose completion is buffered
/// may still be cancel-requested; the request is recorded and the completion follows.
#[test]

fn cancel_request_racing_a_buffered_completion_is_recorded() {
    let mut h = with_events_buffered();
    let result = h.complete(vec![Command::RequestCancelActivity {
        scheduled_event_id: 5,
    }]);
    assert_eq!(result.command_error, None);
    assert_eq!(
        h.history_after(8),
        [
            "WorkflowTaskCompleted",
            "ActivityTaskCancelRequested",
            "TimerFired",
            "ActivityTaskStarted",
            "ActivityTaskCompleted",
            "WorkflowTaskScheduled"
        ]
    );
}

/// Temporal (`AddTimerCanceledEvent` / `checkAndClearTimerFiredEvent`): canceling a timer whose
/// TimerFired is buffered drops the buffered event and records the cancellation.
#[test]

fn cancel_timer_racing_a_buffered_fire_wins() {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete_with(Completion {
        commands: vec![timer("t", secs(1))],
        force_create_new_workflow_task: true,
        ..completion()
    });
    let started = h.last("TimerStarted");
    h.take_workflow_task();
    h.advance(secs(1)); // t fires while the task runs: buffered
    assert_eq!(h.ex.buffered.len(), 1);
    let before = h.last_id();
    let result = h.complete(vec![Command::CancelTimer {
        timer_id: "t".into(),
    }]);
    assert_eq!(result.command_error, None);
    assert_eq!(
        h.history_after(before),
        ["WorkflowTaskCompleted", "TimerCanceled"]
    );
    match h.event(before + 2) {
        EventKind::TimerCanceled {
            started_event_id, ..
        } => assert_eq!(*started_event_id, started),
        other => panic!("{other:?}"),
    }
}
