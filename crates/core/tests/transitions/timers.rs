//! Timers: started, fired and canceled, and a timer id used again after its timer fired.

use keel_core::event::EventKind;
use keel_core::{Command, Completion};

use crate::harness::*;

#[test]
fn timers_start_fire_and_cancel() {
    let mut h = started_with(vec![timer("t1", secs(5)), timer("t2", secs(10))]);
    assert_eq!(
        h.history_after(3),
        ["WorkflowTaskCompleted", "TimerStarted", "TimerStarted"]
    );
    assert_eq!(
        h.event(5),
        &EventKind::TimerStarted {
            timer_id: "t1".into(),
            start_to_fire_timeout: secs(5),
            workflow_task_completed_event_id: 4,
        }
    );
    h.advance(millis(4999));
    assert_eq!(h.last_id(), 6);
    h.advance(millis(1));
    assert_eq!(h.history_after(6), ["TimerFired", "WorkflowTaskScheduled"]);
    assert_eq!(
        h.event(7),
        &EventKind::TimerFired {
            timer_id: "t1".into(),
            started_event_id: 5,
        }
    );

    h.take_workflow_task();
    h.complete(vec![Command::CancelTimer {
        timer_id: "t2".into(),
    }]);
    assert_eq!(
        h.history_after(9),
        ["WorkflowTaskCompleted", "TimerCanceled"],
        "canceling needs no new workflow task"
    );
    assert_eq!(
        h.event(11),
        &EventKind::TimerCanceled {
            timer_id: "t2".into(),
            started_event_id: 6,
            workflow_task_completed_event_id: 10,
            identity: WORKER.into(),
        }
    );
    assert!(h.ex.timers.is_empty());
    assert!(h.ex.deadlines().is_empty());
    h.advance(secs(60));
    assert_eq!(h.last_id(), 11, "a canceled timer never fires");
}

/// Temporal writes the identity of the worker that completed the workflow task on the
/// TimerCanceled and immediate ActivityTaskCanceled events, not whoever took a task last.
#[test]
fn cancel_events_carry_the_completing_workers_identity() {
    let mut h = started_with(vec![activity("a1"), activity("a2"), timer("t", secs(5))]);
    let a1 = h.ex.activity_by_id("a1").unwrap().scheduled_event_id;
    h.advance(secs(5));
    h.take_workflow_task();
    // Another worker takes an activity while the workflow task runs.
    let a2 = h.ex.activity_by_id("a2").unwrap().scheduled_event_id;
    h.apply(|ex, now| unit(ex.start_activity(a2, 1, "activity-worker", "r", now)))
        .unwrap();
    h.complete_with(Completion {
        commands: vec![
            Command::RequestCancelActivity {
                scheduled_event_id: a1,
            },
            timer("t2", secs(5)),
            Command::CancelTimer {
                timer_id: "t2".into(),
            },
        ],
        identity: "workflow-worker".into(),
        ..Default::default()
    });
    match h.event(h.last("ActivityTaskCanceled")) {
        EventKind::ActivityTaskCanceled { identity, .. } => assert_eq!(identity, "workflow-worker"),
        other => panic!("{other:?}"),
    }
    match h.event(h.last("TimerCanceled")) {
        EventKind::TimerCanceled { identity, .. } => assert_eq!(identity, "workflow-worker"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_timer_may_be_restarted_under_its_id_after_it_fired() {
    let mut h = started_with(vec![timer("t", secs(1))]);
    h.advance(secs(1));
    h.take_workflow_task();
    let result = h.complete(vec![timer("t", secs(1))]);
    assert_eq!(result.command_error, None);
    h.advance(secs(1));
    assert_eq!(
        h.history().iter().filter(|n| **n == "TimerFired").count(),
        2
    );
}
