//! Runs that hand on to the next run of their execution: continue-as-new and cron.

use keel_core::command::ContinueAsNewSpec;
use keel_core::event::EventKind;
use keel_core::{Command, Completion, StartParams, Status};

use crate::harness::*;

#[test]
fn continue_as_new_closes_the_run_and_starts_the_next_with_new_input() {
    let mut h = Harness::start_with(StartParams {
        workflow_execution_timeout: secs(3600),
        workflow_run_timeout: secs(60),
        next_run_id: "run-2".into(),
        ..params()
    });
    h.take_workflow_task();
    h.complete(vec![Command::ContinueAsNew(Box::new(ContinueAsNewSpec {
        input: blob("round 2"),
        ..ContinueAsNewSpec::default()
    }))]);
    assert_eq!(h.ex.status, Status::ContinuedAsNew);
    match &h.events.last().unwrap().kind {
        EventKind::WorkflowExecutionContinuedAsNew(event) => {
            assert_eq!(event.new_execution_run_id, "run-2");
            assert_eq!(event.workflow_type, "Greeter");
            assert_eq!(event.input, blob("round 2"));
            assert_eq!(event.workflow_run_timeout, secs(60));
        }
        other => panic!("{other:?}"),
    }
    let next = follow(&h, "run-3");
    assert_eq!(next.ex.key.run_id, "run-2");
    assert_eq!(
        next.history(),
        ["WorkflowExecutionStarted", "WorkflowTaskScheduled"]
    );
    let started = started_event(&next);
    assert_eq!(started.input, blob("round 2"));
    assert_eq!(started.attempt, 1);
    assert_eq!(started.initiator, Some(keel_core::Initiator::Workflow));
    assert_eq!(started.continued_execution_run_id, h.ex.key.run_id);
    assert_eq!(
        started.first_execution_run_id,
        h.ex.started.first_execution_run_id
    );
    // The execution timeout spans the chain; the run timeout starts anew.
    assert_eq!(next.ex.execution_expiration, h.ex.execution_expiration);
    assert_eq!(next.ex.run_expiration, Some(h.now.plus(secs(60))));
}

#[test]
fn continue_as_new_must_be_the_last_command_and_wait_for_unseen_events() {
    let mut h = Harness::start_with(StartParams {
        next_run_id: "run-2".into(),
        ..params()
    });
    let task = h.take_workflow_task();
    let result = h
        .respond(
            task,
            Completion {
                commands: vec![Command::ContinueAsNew(Box::default()), timer("t", secs(1))],
                ..completion()
            },
        )
        .unwrap();
    assert!(result.command_error.is_some());
    assert!(h.ex.is_running());
    h.take_workflow_task();
    h.apply(|ex, now| unit(ex.signal(signal("late", ""), now)))
        .unwrap();
    h.complete(vec![Command::ContinueAsNew(Box::default())]);
    assert!(h.ex.is_running(), "the workflow must see the signal first");
}

#[test]
fn a_cron_workflow_waits_for_each_fire_and_hands_on_its_result() {
    // T0 is 22:13:20 UTC; "*/5 * * * *" fires at 22:15:00, 100 s later.
    let mut h = Harness::start_with(StartParams {
        cron_schedule: "*/5 * * * *".into(),
        next_run_id: "run-2".into(),
        ..params()
    });
    assert_eq!(
        h.history(),
        ["WorkflowExecutionStarted"],
        "no task before the first fire"
    );
    assert_eq!(started_event(&h).first_workflow_task_backoff, secs(100));
    // A signal during the wait is recorded but brings no early task.
    h.apply(|ex, now| unit(ex.signal(signal("early", ""), now)))
        .unwrap();
    assert_eq!(h.history_after(1), ["WorkflowExecutionSignaled"]);
    h.advance(secs(100));
    assert_eq!(h.history_after(2), ["WorkflowTaskScheduled"]);
    h.take_workflow_task();
    h.complete(vec![Command::CompleteWorkflow {
        result: blob("first"),
    }]);
    assert_eq!(h.ex.status, Status::Completed);
    match &h.events.last().unwrap().kind {
        EventKind::WorkflowExecutionCompleted {
            new_execution_run_id,
            ..
        } => assert_eq!(new_execution_run_id, "run-2"),
        other => panic!("{other:?}"),
    }
    let mut second = follow(&h, "run-3");
    assert_eq!(second.history(), ["WorkflowExecutionStarted"]);
    let started = started_event(&second);
    assert_eq!(started.initiator, Some(keel_core::Initiator::CronSchedule));
    assert_eq!(started.last_completion_result, blob("first"));
    assert_eq!(started.first_workflow_task_backoff, secs(300));
    assert_eq!(started.cron_schedule, "*/5 * * * *");
    // A failing cron run without a retry policy is followed by the next fire too, which
    // still knows the last good result.
    second.advance(secs(300));
    second.take_workflow_task();
    second.complete(vec![Command::FailWorkflow {
        failure: app_failure("bad luck", "Oops", false),
    }]);
    assert_eq!(second.ex.status, Status::Failed);
    let third = follow(&second, "run-4");
    let started = started_event(&third);
    assert_eq!(started.last_completion_result, blob("first"));
    assert!(started.continued_failure.is_some());
}
