//! Reset: a new run from history up to a workflow task, with later signals reapplied, and
//! the reset points found by name.

use std::time::Duration;

use keel_core::event::{EventKind, ParentClosePolicy};
use keel_core::{Command, Effect, Execution, Outcome, Rejection, Status};

use crate::harness::*;

fn reset_to(h: &Harness, point: i64) -> Result<(Execution, Outcome), Rejection> {
    h.ex.reset(
        &h.events,
        keel_core::reset::ResetRequest {
            workflow_task_finish_event_id: point,
            reason: "try again".into(),
            request_id: "reset-1".into(),
            new_run_id: "run-2".into(),
            next_run_id: "run-3".into(),
            reapply_signals: true,
        },
        h.now,
    )
}

#[test]
fn a_reset_copies_history_to_the_point_and_reapplies_later_signals() {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete(vec![activity("a")]); // 4 completed, 5 scheduled
    h.apply(|ex, now| unit(ex.signal(signal("go", "r1"), now)))
        .unwrap(); // 6 signaled, 7 task scheduled
    let task = h.take_activity("a");
    h.fail_activity(task, app_failure("boom", "Boom", true));
    h.take_workflow_task();
    h.complete(vec![Command::FailWorkflow {
        failure: app_failure("activity failed", "Boom", true),
    }]);
    assert_eq!(h.ex.status, Status::Failed);

    let (run, outcome) = reset_to(&h, 4).unwrap();
    let names: Vec<&str> = outcome.events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        names,
        [
            "WorkflowExecutionStarted",
            "WorkflowTaskScheduled",
            "WorkflowTaskStarted",
            "WorkflowTaskFailed",
            "WorkflowExecutionSignaled",
            "WorkflowTaskScheduled"
        ]
    );
    let ids: Vec<i64> = outcome.events.iter().map(|e| e.id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
    assert_eq!(outcome.events[..3], h.events[..3], "copied as they were");
    match &outcome.events[3].kind {
        EventKind::WorkflowTaskFailed {
            scheduled_event_id,
            started_event_id,
            cause,
            failure,
            base_run_id,
            new_run_id,
            ..
        } => {
            assert_eq!((*scheduled_event_id, *started_event_id), (2, 3));
            assert_eq!(*cause, keel_core::reset::RESET_WORKFLOW_CAUSE);
            assert_eq!(failure.as_ref().unwrap().message, "try again");
            assert_eq!(base_run_id, &h.ex.key.run_id);
            assert_eq!(new_run_id, "run-2");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run.key.run_id, "run-2");
    assert_eq!(run.status, Status::Running);
    assert_eq!(run.next_event_id, 7);
    assert!(run.activities.is_empty());
    assert_eq!(run.workflow_task.as_ref().unwrap().scheduled_event_id, 6);
    assert!(
        outcome
            .effects
            .iter()
            .any(|e| matches!(e, Effect::DispatchWorkflowTask(t) if t.scheduled_event_id == 6))
    );

    // After the activity closed there is nothing in flight either.
    let (_, outcome) = reset_to(&h, h.last("WorkflowTaskCompleted")).unwrap();
    assert_eq!(
        outcome.events.last().unwrap().kind.name(),
        "WorkflowTaskScheduled"
    );
}

#[test]
fn a_reset_refuses_points_that_are_not_workflow_tasks_and_takes_over_open_activities() {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete(vec![activity("a")]); // 4 completed, 5 activity scheduled
    h.apply(|ex, now| unit(ex.signal(signal("go", "r1"), now)))
        .unwrap(); // 6 signaled, 7 scheduled
    h.take_workflow_task(); // 8 started
    h.complete(vec![]); // 9 completed
    let refused = |point: i64| match reset_to(&h, point) {
        Err(Rejection::InvalidArgument(message)) => message,
        other => panic!("reset to {point}: {other:?}"),
    };
    assert!(refused(5).contains("event 5 is a ActivityTaskScheduled"));
    assert!(refused(99).contains("no event 99"));
    assert!(reset_to(&h, 4).is_ok());

    // At event 9 the activity is still open: the new run schedules it afresh.
    let (run, outcome) = reset_to(&h, 9).unwrap();
    let activity = &run.activities[&5];
    assert_eq!(activity.attempt, 1);
    assert_eq!(activity.scheduled.activity_id, "a");
    assert!(
        outcome
            .effects
            .iter()
            .any(|e| matches!(e, Effect::DispatchActivityTask(t) if t.scheduled_event_id == 5)),
        "{:?}",
        outcome.effects
    );
}

#[test]
fn a_reset_keeps_open_timers_and_refuses_open_children() {
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete(vec![timer("t", Duration::from_secs(60))]); // 4 completed, 5 timer started
    let fire_time = h.ex.timers["t"].fire_time;
    h.apply(|ex, now| unit(ex.signal(signal("go", "r1"), now)))
        .unwrap(); // 6 signaled, 7 scheduled
    h.take_workflow_task(); // 8 started
    h.complete(vec![]); // 9 completed
    h.advance(Duration::from_secs(5));
    let (run, _) = reset_to(&h, 9).unwrap();
    assert_eq!(
        run.timers["t"].fire_time, fire_time,
        "the timer keeps its fire time"
    );
    assert_eq!(run.timers["t"].started_event_id, 5);

    // A child started before the point and still open there is not taken over.
    h.apply(|ex, now| unit(ex.signal(signal("again", "r2"), now)))
        .unwrap(); // 10 signaled, 11 scheduled
    h.take_workflow_task(); // 12 started
    h.complete(vec![child_command("kid", ParentClosePolicy::Abandon)]); // 13, 14 initiated
    h.apply(|ex, now| unit(ex.signal(signal("more", "r3"), now)))
        .unwrap(); // 15 signaled, 16 scheduled
    h.take_workflow_task(); // 17 started
    h.complete(vec![]); // 18 completed
    match reset_to(&h, 18) {
        Err(Rejection::InvalidArgument(message)) => assert!(
            message.contains("the StartChildWorkflowExecutionInitiated at event 14 is still open"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(reset_to(&h, 13).is_ok(), "before the child began");
}

#[test]
fn reset_points_name_the_first_last_and_last_failed_workflow_task() {
    use keel_core::reset::ResetPoint;
    let mut h = Harness::start();
    assert_eq!(
        ResetPoint::LastTask.find(&h.events),
        Err("the execution has no completed workflow task to reset to")
    );
    h.take_workflow_task();
    h.complete(vec![activity("a")]); // 4 completed, 5 scheduled
    assert_eq!(
        ResetPoint::LastFailedTask.find(&h.events),
        Err("the execution has no failed task run to reset to")
    );
    let task = h.take_activity("a");
    h.fail_activity(task, app_failure("boom", "Boom", true));
    h.take_workflow_task();
    h.complete(vec![activity("b")]);
    let last = h.last("WorkflowTaskCompleted");
    assert!(last > 4);
    assert_eq!(ResetPoint::FirstTask.find(&h.events), Ok(4));
    assert_eq!(ResetPoint::LastTask.find(&h.events), Ok(last));
    assert_eq!(
        ResetPoint::LastFailedTask.find(&h.events),
        Ok(4),
        "the task that scheduled the failed activity"
    );
    assert_eq!(ResetPoint::Event(7).find(&h.events), Ok(7));
    for name in ResetPoint::NAMES {
        assert!(ResetPoint::named(name).is_some(), "{name}");
    }
    assert_eq!(ResetPoint::named("latest"), None);
}
