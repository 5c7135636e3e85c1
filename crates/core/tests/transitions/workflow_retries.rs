//! A run that fails or times out under a retry policy continues in a new run after a
//! backoff, until the policy or the execution timeout ends the chain.

use std::time::Duration;

use keel_core::event::EventKind;
use keel_core::{
    Command, Deadline, Effect, Execution, RetryPolicy, RetryState, StartParams, Status,
};

use crate::harness::*;

fn retrying(maximum_attempts: i32) -> StartParams {
    StartParams {
        retry_policy: Some(RetryPolicy {
            initial_interval: secs(1),
            backoff_coefficient: 2.0,
            maximum_interval: Duration::ZERO,
            maximum_attempts,
            non_retryable_error_types: vec!["Fatal".into()],
        }),
        next_run_id: "run-2".into(),
        ..params()
    }
}

fn retry_effect(h: &Harness) -> keel_core::NextRun {
    match &h.effects[..] {
        [Effect::StartNextRun(retry)] => (**retry).clone(),
        other => panic!("expected one StartNextRun effect, got {other:?}"),
    }
}

#[test]
fn a_failed_run_with_a_retry_policy_continues_in_a_new_run_after_a_backoff() {
    let mut h = Harness::start_with(retrying(3));
    h.take_workflow_task();
    let failure = app_failure("boom", "Oops", false);
    h.complete(vec![Command::FailWorkflow {
        failure: failure.clone(),
    }]);
    match &h.events.last().unwrap().kind {
        EventKind::WorkflowExecutionFailed {
            retry_state,
            new_execution_run_id,
            ..
        } => {
            assert_eq!(*retry_state, RetryState::InProgress);
            assert_eq!(new_execution_run_id, "run-2");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.ex.status, Status::Failed);
    let retry = retry_effect(&h);
    assert_eq!(
        retry.backoff,
        secs(1),
        "first retry waits the initial interval"
    );
    assert_eq!(retry.started.continued_failure.as_ref(), Some(&failure));

    let (next, outcome) = Execution::start_next_run(&h.ex, &retry, "run-3".into(), h.now);
    assert_eq!(next.key.run_id, "run-2");
    assert_eq!(next.key.workflow_id, h.ex.key.workflow_id);
    assert_eq!(next.next_run_id, "run-3");
    assert_eq!(
        outcome.events.len(),
        1,
        "no workflow task before the backoff"
    );
    match &outcome.events[0].kind {
        EventKind::WorkflowExecutionStarted(started) => {
            assert_eq!(started.attempt, 2);
            assert_eq!(started.continued_execution_run_id, h.ex.key.run_id);
            assert_eq!(started.initiator, Some(keel_core::Initiator::Retry));
            assert_eq!(started.continued_failure.as_ref(), Some(&failure));
            assert_eq!(started.first_workflow_task_backoff, secs(1));
            assert_eq!(
                started.first_execution_run_id,
                h.ex.started.first_execution_run_id
            );
        }
        other => panic!("{other:?}"),
    }
    let mut next_run = Harness {
        ex: next,
        now: h.now,
        events: Vec::new(),
        effects: Vec::new(),
        attempts: Vec::new(),
    };
    next_run.record(outcome);
    assert_eq!(next_run.ex.deadlines()[0].1, Deadline::FirstWorkflowTask);
    next_run.advance(secs(1));
    assert_eq!(
        next_run.history(),
        ["WorkflowExecutionStarted", "WorkflowTaskScheduled"]
    );

    // The second run fails too; its backoff doubles; the third is the last allowed attempt.
    next_run.take_workflow_task();
    next_run.complete(vec![Command::FailWorkflow {
        failure: failure.clone(),
    }]);
    let retry = retry_effect(&next_run);
    assert_eq!(retry.backoff, secs(2));
    let (third, outcome) =
        Execution::start_next_run(&next_run.ex, &retry, "run-4".into(), next_run.now);
    let mut third_run = Harness {
        ex: third,
        now: next_run.now,
        events: Vec::new(),
        effects: Vec::new(),
        attempts: Vec::new(),
    };
    third_run.record(outcome);
    third_run.advance(secs(2));
    third_run.take_workflow_task();
    third_run.complete(vec![Command::FailWorkflow { failure }]);
    assert!(third_run.effects.is_empty(), "no fourth attempt");
    match &third_run.events.last().unwrap().kind {
        EventKind::WorkflowExecutionFailed {
            retry_state,
            new_execution_run_id,
            ..
        } => {
            assert_eq!(*retry_state, RetryState::MaximumAttemptsReached);
            assert!(new_execution_run_id.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_retryable_workflow_failures_end_the_chain() {
    let mut h = Harness::start_with(retrying(0));
    h.take_workflow_task();
    h.complete(vec![Command::FailWorkflow {
        failure: app_failure("bad", "Fatal", false),
    }]);
    assert!(h.effects.is_empty());
    match &h.events.last().unwrap().kind {
        EventKind::WorkflowExecutionFailed { retry_state, .. } => {
            assert_eq!(*retry_state, RetryState::NonRetryableFailure)
        }
        other => panic!("{other:?}"),
    }
    let mut h = Harness::start_with(retrying(0));
    h.take_workflow_task();
    h.complete(vec![Command::FailWorkflow {
        failure: app_failure("bad", "Oops", true),
    }]);
    assert!(
        h.effects.is_empty(),
        "a failure marked non-retryable is not retried"
    );
    let mut h = Harness::start();
    h.take_workflow_task();
    h.complete(vec![Command::FailWorkflow {
        failure: app_failure("bad", "Oops", false),
    }]);
    assert!(h.effects.is_empty(), "no policy, no retry");
}

#[test]
fn a_run_timeout_is_retried_but_the_execution_timeout_is_not() {
    let mut h = Harness::start_with(StartParams {
        workflow_run_timeout: secs(10),
        workflow_execution_timeout: secs(30),
        ..retrying(0)
    });
    h.take_workflow_task();
    h.complete(vec![timer("t", secs(60))]);
    h.advance(secs(10));
    match &h.events.last().unwrap().kind {
        EventKind::WorkflowExecutionTimedOut {
            retry_state,
            new_execution_run_id,
        } => {
            assert_eq!(*retry_state, RetryState::InProgress);
            assert_eq!(new_execution_run_id, "run-2");
        }
        other => panic!("{other:?}"),
    }
    let retry = retry_effect(&h);
    assert_eq!(retry.started.continued_failure, None);
    let (next, outcome) = Execution::start_next_run(&h.ex, &retry, "run-3".into(), h.now);
    assert_eq!(
        next.execution_expiration, h.ex.execution_expiration,
        "the execution timeout spans the chain"
    );
    assert_eq!(
        next.run_expiration,
        Some(h.now.plus(secs(11))),
        "the run timeout starts after the backoff"
    );
    let mut next_run = Harness {
        ex: next,
        now: h.now,
        events: Vec::new(),
        effects: Vec::new(),
        attempts: Vec::new(),
    };
    next_run.record(outcome);
    next_run.advance(secs(1));
    next_run.take_workflow_task();
    next_run.complete(vec![timer("t", secs(60))]);
    next_run.advance(secs(10));
    let retry = retry_effect(&next_run);
    let (last, outcome) =
        Execution::start_next_run(&next_run.ex, &retry, "run-4".into(), next_run.now);
    let mut last_run = Harness {
        ex: last,
        now: next_run.now,
        events: Vec::new(),
        effects: Vec::new(),
        attempts: Vec::new(),
    };
    last_run.record(outcome);
    last_run.advance(secs(2));
    last_run.take_workflow_task();
    last_run.complete(vec![timer("t", secs(60))]);
    last_run.advance(secs(10));
    match &last_run.events.last().unwrap().kind {
        EventKind::WorkflowExecutionTimedOut {
            retry_state,
            new_execution_run_id,
        } => {
            assert_eq!(
                *retry_state,
                RetryState::Timeout,
                "30 s of execution time are used up"
            );
            assert!(new_execution_run_id.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(last_run.effects.is_empty());
}
