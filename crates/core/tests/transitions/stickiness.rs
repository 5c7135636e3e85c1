//! Sticky queues: a worker that keeps a run cached gets the run's next task on its own queue,
//! and the task moves to the normal queue when that worker fails or is too slow to take it.

use keel_core::event::EventKind;
use keel_core::{Completion, Effect, QueueKind, Stickiness, TaskQueue, TaskRef, TimeoutType};

use crate::harness::*;

fn sticky() -> Stickiness {
    Stickiness {
        queue: "sticky-1".into(),
        schedule_to_start_timeout: secs(5),
    }
}

fn sticky_queue() -> TaskQueue {
    TaskQueue {
        name: "sticky-1".into(),
        kind: QueueKind::Sticky,
        normal_name: "tq".into(),
    }
}

/// A run whose worker asked for stickiness and whose next task is on the sticky queue.
fn with_sticky_task() -> Harness {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete_with(Completion {
        commands: vec![timer("t", secs(1))],
        stickiness: Some(sticky()),
        ..completion()
    });
    h.advance(secs(1));
    match h.event(h.last_id()) {
        EventKind::WorkflowTaskScheduled {
            task_queue,
            attempt,
            ..
        } => {
            assert_eq!(task_queue, &sticky_queue());
            assert_eq!(*attempt, 1);
        }
        other => panic!("{other:?}"),
    }
    h
}

#[test]
fn task_failing_on_a_sticky_queue_retries_attempt_one_on_the_normal_queue() {
    let mut h = with_sticky_task();
    h.take_workflow_task();
    let before = h.last_id();
    h.fail_workflow_task(14);
    assert_eq!(
        h.history_after(before),
        ["WorkflowTaskFailed", "WorkflowTaskScheduled"]
    );
    assert_eq!(
        h.event(before + 2),
        &EventKind::WorkflowTaskScheduled {
            task_queue: normal_queue(),
            start_to_close_timeout: secs(10),
            attempt: 1,
        }
    );
    assert_eq!(h.ex.stickiness, None);
}

#[test]
fn task_timing_out_on_a_sticky_queue_retries_attempt_one_on_the_normal_queue() {
    let mut h = with_sticky_task();
    h.take_workflow_task();
    h.advance(secs(10));
    let last = h.last_id();
    assert_eq!(
        h.history_after(last - 2),
        ["WorkflowTaskTimedOut", "WorkflowTaskScheduled"]
    );
    match h.event(last) {
        EventKind::WorkflowTaskScheduled {
            task_queue,
            attempt,
            ..
        } => {
            assert_eq!(task_queue, &normal_queue());
            assert_eq!(*attempt, 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sticky_task_not_taken_in_time_moves_to_the_normal_queue() {
    let mut h = with_sticky_task();
    let scheduled = h.last_id();
    h.advance(millis(4999));
    assert_eq!(h.last_id(), scheduled);
    h.advance(millis(1));
    assert_eq!(
        h.history_after(scheduled),
        ["WorkflowTaskTimedOut", "WorkflowTaskScheduled"]
    );
    assert_eq!(
        h.event(scheduled + 1),
        &EventKind::WorkflowTaskTimedOut {
            scheduled_event_id: scheduled,
            started_event_id: 0,
            timeout_type: TimeoutType::ScheduleToStart,
        }
    );
    match h.event(scheduled + 2) {
        EventKind::WorkflowTaskScheduled {
            task_queue,
            attempt,
            ..
        } => {
            assert_eq!(task_queue, &normal_queue());
            assert_eq!(*attempt, 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn clearing_stickiness_redispatches_the_pending_task_without_events() {
    let mut h = with_sticky_task();
    let scheduled = h.last_id();
    h.apply(|ex, now| Ok((ex.clear_stickiness(now), ())))
        .unwrap();
    assert_eq!(h.last_id(), scheduled);
    assert_eq!(
        h.effects,
        [Effect::DispatchWorkflowTask(TaskRef {
            queue: normal_queue(),
            scheduled_event_id: scheduled,
            attempt: 1
        })]
    );
    assert!(
        h.ex.deadlines().is_empty(),
        "no sticky schedule-to-start any more"
    );
    let task = h.take_workflow_task();
    assert_eq!(task.scheduled, scheduled);
}
