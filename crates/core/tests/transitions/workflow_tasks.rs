//! Workflow task attempts: timeouts and transient retries, a new task handed back with a
//! completion, and the stale tokens and closed runs that are refused.

use keel_core::event::EventKind;
use keel_core::transition::failed_cause;
use keel_core::{Completion, Effect, StartParams, Status, TaskRef, TimeoutType};

use crate::harness::*;

#[test]
fn workflow_task_timeout_schedules_attempt_two_on_the_normal_queue() {
    let mut h = Harness::start_with(StartParams {
        workflow_task_timeout: secs(5),
        ..params()
    });
    let first = h.take_workflow_task();
    h.advance(millis(4999));
    assert_eq!(h.last_id(), 3);
    h.advance(millis(1));
    // As Temporal: the retry is transient, so nothing but the timeout is written yet.
    assert_eq!(h.history_after(3), ["WorkflowTaskTimedOut"]);
    assert_eq!(
        h.event(4),
        &EventKind::WorkflowTaskTimedOut {
            scheduled_event_id: 2,
            started_event_id: 3,
            timeout_type: TimeoutType::StartToClose,
        }
    );
    let pending = h.ex.workflow_task.clone().unwrap();
    assert!(pending.transient);
    assert_eq!((pending.scheduled_event_id, pending.attempt), (5, 2));
    assert_eq!(pending.task_queue, normal_queue());
    assert_eq!(
        h.effects,
        [Effect::DispatchWorkflowTask(TaskRef {
            queue: normal_queue(),
            scheduled_event_id: 5,
            attempt: 2
        })]
    );
    not_found(h.respond(first, completion()));
    let second = h.take_workflow_task();
    assert_eq!(
        (second.scheduled, second.started, second.attempt),
        (5, 6, 2)
    );
    assert_eq!(h.last_id(), 4, "taking a transient task writes nothing");
    let shown: Vec<&str> =
        h.ex.transient_events()
            .iter()
            .map(|e| e.kind.name())
            .collect();
    assert_eq!(
        shown,
        ["WorkflowTaskScheduled", "WorkflowTaskStarted"],
        "the worker is shown them"
    );
    h.fail_workflow_task(failed_cause::UNHANDLED_COMMAND);
    assert_eq!(
        h.last_id(),
        4,
        "a transient attempt's failure writes nothing"
    );
    let pending = h.ex.workflow_task.clone().unwrap();
    assert_eq!(
        (
            pending.scheduled_event_id,
            pending.attempt,
            pending.transient
        ),
        (5, 3, true)
    );
    h.take_workflow_task();
    h.complete(vec![complete_workflow()]);
    assert_eq!(
        h.history_after(4),
        [
            "WorkflowTaskScheduled",
            "WorkflowTaskStarted",
            "WorkflowTaskCompleted",
            "WorkflowExecutionCompleted"
        ]
    );
    match h.event(5) {
        EventKind::WorkflowTaskScheduled { attempt, .. } => assert_eq!(*attempt, 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_transient_task_gives_way_to_new_events() {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete(vec![timer("t1", secs(1)), timer("t2", secs(2))]);
    h.advance(secs(1));
    h.take_workflow_task();
    h.fail_workflow_task(failed_cause::UNHANDLED_COMMAND);
    let failed_at = h.last_id();
    let transient = h.ex.workflow_task.clone().unwrap();
    assert!(transient.transient);
    assert_eq!(transient.scheduled_event_id, failed_at + 1);
    // The second timer fires before any worker takes the transient task: the fire takes
    // its reserved id and an ordinary task follows.
    h.advance(secs(1));
    assert_eq!(
        h.history_after(failed_at),
        ["TimerFired", "WorkflowTaskScheduled"]
    );
    let task = h.ex.workflow_task.clone().unwrap();
    assert!(!task.transient);
    assert_eq!((task.scheduled_event_id, task.attempt), (failed_at + 2, 1));
    // The transient task, still in a queue somewhere, is stale.
    not_found(h.apply(|ex, now| {
        unit(ex.start_workflow_task(
            transient.scheduled_event_id,
            transient.attempt,
            WORKER,
            "req",
            now,
        ))
    }));
    h.take_workflow_task();
    h.complete(vec![complete_workflow()]);
    assert_eq!(h.ex.status, Status::Completed);
}

#[test]
fn stale_tokens_and_wrong_attempts_are_not_found() {
    let mut h = Harness::start();
    // Taking a task that does not exist, or with the wrong attempt.
    not_found(h.apply(|ex, now| unit(ex.start_workflow_task(2, 2, WORKER, "r", now))));
    not_found(h.apply(|ex, now| unit(ex.start_workflow_task(1, 1, WORKER, "r", now))));
    // Completing a task that is not started.
    not_found(h.respond(
        WfTask {
            scheduled: 2,
            started: 3,
            attempt: 1,
        },
        completion(),
    ));
    let task = h.take_workflow_task();
    // Taking it twice.
    not_found(h.apply(|ex, now| unit(ex.start_workflow_task(2, 1, WORKER, "r2", now))));
    for wrong in [
        WfTask { attempt: 2, ..task },
        WfTask { started: 4, ..task },
        WfTask {
            scheduled: 1,
            ..task
        },
    ] {
        not_found(h.respond(wrong, completion()));
        not_found(h.apply(|ex, now| {
            unit(ex.fail_workflow_task(
                wrong.scheduled,
                wrong.started,
                wrong.attempt,
                1,
                None,
                WORKER,
                now,
            ))
        }));
    }
    h.respond(
        task,
        Completion {
            commands: vec![activity("a1")],
            ..completion()
        },
    )
    .unwrap();
    // The same token again, now that the task is done.
    not_found(h.respond(task, completion()));

    let scheduled = h.last("ActivityTaskScheduled");
    not_found(h.apply(|ex, now| unit(ex.start_activity(scheduled, 2, WORKER, "r", now))));
    not_found(h.apply(|ex, now| unit(ex.start_activity(scheduled + 1, 1, WORKER, "r", now))));
    not_found(h.apply(|ex, now| unit(ex.complete_activity(scheduled, 1, None, WORKER, now))));
    not_found(h.apply(|ex, now| ex.heartbeat_activity(scheduled, 1, None, now)));
    let a = h.take_activity("a1");
    not_found(h.apply(|ex, now| unit(ex.start_activity(scheduled, 1, WORKER, "again", now))));
    not_found(h.apply(|ex, now| unit(ex.complete_activity(scheduled, 2, None, WORKER, now))));
    // Confirming a cancellation nobody requested (Temporal refuses it too).
    assert!(
        h.apply(|ex, now| unit(ex.cancel_activity(scheduled, 1, None, WORKER, now)))
            .is_err()
    );
    h.complete_activity(a, "done");
    not_found(h.apply(|ex, now| unit(ex.complete_activity(scheduled, 1, None, WORKER, now))));
    not_found(h.apply(|ex, now| {
        unit(ex.fail_activity(
            scheduled,
            1,
            app_failure("x", "X", false),
            None,
            WORKER,
            now,
        ))
    }));
    not_found(h.apply(|ex, now| ex.heartbeat_activity(scheduled, 1, None, now)));
}

#[test]
fn a_closed_run_refuses_everything() {
    let mut h = started_with(vec![activity("a1")]);
    let a = h.take_activity("a1");
    h.complete_activity(a, "x");
    let task = h.take_workflow_task();
    h.complete(vec![complete_workflow()]);
    assert_eq!(h.ex.status, Status::Completed);
    let closed = h.last_id();
    not_found(h.apply(|ex, now| unit(ex.start_workflow_task(task.scheduled, 1, WORKER, "r", now))));
    not_found(h.respond(task, completion()));
    not_found(h.apply(|ex, now| {
        unit(ex.fail_workflow_task(task.scheduled, task.started, 1, 1, None, WORKER, now))
    }));
    not_found(h.apply(|ex, now| unit(ex.start_activity(a.scheduled, 1, WORKER, "r", now))));
    not_found(h.apply(|ex, now| unit(ex.complete_activity(a.scheduled, 1, None, WORKER, now))));
    not_found(h.apply(|ex, now| ex.heartbeat_activity(a.scheduled, 1, None, now)));
    not_found(h.apply(|ex, now| unit(ex.terminate("x", None, "admin", now))));
    h.advance(secs(3600));
    assert_eq!(h.last_id(), closed);
}

#[test]
fn return_new_workflow_task_hands_back_a_started_task() {
    let mut h = Harness::start();
    h.take_workflow_task();
    let result = h.complete_with(Completion {
        commands: vec![timer("t", secs(1))],
        force_create_new_workflow_task: true,
        return_new_workflow_task: true,
        ..completion()
    });
    assert_eq!(
        h.history_after(3),
        [
            "WorkflowTaskCompleted",
            "TimerStarted",
            "WorkflowTaskScheduled",
            "WorkflowTaskStarted"
        ]
    );
    assert_eq!(
        result.new_task_started,
        Some(TaskRef {
            queue: normal_queue(),
            scheduled_event_id: 6,
            attempt: 1
        })
    );
    match h.event(7) {
        EventKind::WorkflowTaskStarted {
            scheduled_event_id,
            identity,
            ..
        } => {
            assert_eq!(*scheduled_event_id, 6);
            assert_eq!(identity, WORKER);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !h.effects
            .iter()
            .any(|e| matches!(e, Effect::DispatchWorkflowTask(_))),
        "a task handed back is not also dispatched"
    );
    let handed = WfTask {
        scheduled: 6,
        started: 7,
        attempt: 1,
    };
    assert_eq!(h.running_workflow_task(), handed);
    h.respond(
        handed,
        Completion {
            commands: vec![complete_workflow()],
            ..completion()
        },
    )
    .unwrap();
    assert_eq!(h.ex.status, Status::Completed);
}

#[test]
fn return_new_workflow_task_without_new_work_returns_nothing() {
    let mut h = Harness::start();
    h.take_workflow_task();
    let result = h.complete_with(Completion {
        commands: vec![timer("t", secs(1))],
        return_new_workflow_task: true,
        ..completion()
    });
    assert_eq!(result.new_task_started, None);
    assert!(h.ex.workflow_task.is_none());
}
