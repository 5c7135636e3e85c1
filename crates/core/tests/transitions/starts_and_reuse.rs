//! Starting a run: validation and defaults, and what a start decides against the current
//! run of the same workflow id under each id reuse and conflict policy.

use keel_core::event::EventKind;
use keel_core::reuse::{ConflictPolicy, CurrentRun, ReusePolicy, StartDecision, decide_start};
use keel_core::{Execution, Rejection, StartParams, Status, Time};

use crate::harness::*;

#[test]
fn start_validates_and_defaults() {
    let refused = |params: StartParams| Execution::start(key(), params, Time(T0)).unwrap_err();
    assert!(matches!(
        refused(StartParams {
            workflow_type: String::new(),
            ..params()
        }),
        Rejection::InvalidArgument(_)
    ));
    assert!(matches!(
        refused(StartParams {
            task_queue: String::new(),
            ..params()
        }),
        Rejection::InvalidArgument(_)
    ));
    assert!(matches!(
        refused(StartParams {
            cron_schedule: "every now and then".into(),
            ..params()
        }),
        Rejection::InvalidArgument(message) if message.contains("invalid cron schedule")
    ));
    let h = Harness::start_with(StartParams {
        workflow_run_timeout: secs(3),
        ..params()
    });
    match h.event(1) {
        EventKind::WorkflowExecutionStarted(s) => {
            assert_eq!(
                s.workflow_task_timeout,
                secs(3),
                "capped by the run timeout"
            );
            assert_eq!(s.original_execution_run_id, "run-1");
            assert_eq!(s.attempt, 1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.ex.start_request_id, "start-req");
}

fn current(status: Status) -> CurrentRun {
    CurrentRun {
        run_id: "run-1".into(),
        status,
        start_request_id: "first".into(),
    }
}

#[test]
fn decide_start_without_a_current_run_starts() {
    for reuse in ALL_REUSE {
        for conflict in ALL_CONFLICT {
            assert_eq!(
                decide_start("wf", "req", None, reuse, conflict),
                StartDecision::Start
            );
        }
    }
}

const ALL_REUSE: [ReusePolicy; 4] = [
    ReusePolicy::AllowDuplicate,
    ReusePolicy::AllowDuplicateFailedOnly,
    ReusePolicy::RejectDuplicate,
    ReusePolicy::TerminateIfRunning,
];

const ALL_CONFLICT: [ConflictPolicy; 3] = [
    ConflictPolicy::Fail,
    ConflictPolicy::UseExisting,
    ConflictPolicy::TerminateExisting,
];

const CLOSED: [Status; 5] = [
    Status::Completed,
    Status::Failed,
    Status::Canceled,
    Status::Terminated,
    Status::TimedOut,
];

#[test]
fn decide_start_dedups_a_retried_request_whatever_the_policy() {
    for status in CLOSED.iter().chain([&Status::Running]) {
        for reuse in ALL_REUSE {
            for conflict in ALL_CONFLICT {
                assert_eq!(
                    decide_start("wf", "first", Some(&current(*status)), reuse, conflict),
                    StartDecision::Existing {
                        run_id: "run-1".into(),
                        started: true
                    },
                    "{status:?} {reuse:?} {conflict:?}"
                );
            }
        }
    }
    // An empty request id never matches.
    let mut run = current(Status::Running);
    run.start_request_id = String::new();
    assert!(matches!(
        decide_start(
            "wf",
            "",
            Some(&run),
            ReusePolicy::AllowDuplicate,
            ConflictPolicy::Fail
        ),
        StartDecision::AlreadyStarted { .. }
    ));
}

#[test]
fn decide_start_while_running_follows_the_conflict_policy() {
    let running = current(Status::Running);
    for reuse in [
        ReusePolicy::AllowDuplicate,
        ReusePolicy::AllowDuplicateFailedOnly,
        ReusePolicy::RejectDuplicate,
    ] {
        match decide_start("wf", "second", Some(&running), reuse, ConflictPolicy::Fail) {
            StartDecision::AlreadyStarted {
                run_id,
                start_request_id,
                message,
            } => {
                assert_eq!(run_id, "run-1");
                assert_eq!(start_request_id, "first");
                assert!(message.contains("already running"), "{message}");
                assert!(message.contains("wf") && message.contains("run-1"));
            }
            other => panic!("{reuse:?}: {other:?}"),
        }
        assert_eq!(
            decide_start(
                "wf",
                "second",
                Some(&running),
                reuse,
                ConflictPolicy::UseExisting
            ),
            StartDecision::Existing {
                run_id: "run-1".into(),
                started: false
            }
        );
        assert_eq!(
            decide_start(
                "wf",
                "second",
                Some(&running),
                reuse,
                ConflictPolicy::TerminateExisting
            ),
            StartDecision::TerminateAndStart {
                run_id: "run-1".into()
            }
        );
    }
    // The legacy reuse policy terminates whatever the conflict policy says.
    for conflict in ALL_CONFLICT {
        assert_eq!(
            decide_start(
                "wf",
                "second",
                Some(&running),
                ReusePolicy::TerminateIfRunning,
                conflict
            ),
            StartDecision::TerminateAndStart {
                run_id: "run-1".into()
            }
        );
    }
}

#[test]
fn decide_start_after_close_follows_the_reuse_policy() {
    for status in CLOSED {
        let closed = current(status);
        for conflict in ALL_CONFLICT {
            let decide = |reuse| decide_start("wf", "second", Some(&closed), reuse, conflict);
            assert_eq!(decide(ReusePolicy::AllowDuplicate), StartDecision::Start);
            assert_eq!(
                decide(ReusePolicy::TerminateIfRunning),
                StartDecision::Start
            );
            match decide(ReusePolicy::RejectDuplicate) {
                StartDecision::AlreadyStarted { message, .. } => {
                    assert!(message.contains("reject duplicate"), "{message}")
                }
                other => panic!("{status:?}: {other:?}"),
            }
            match (status, decide(ReusePolicy::AllowDuplicateFailedOnly)) {
                (Status::Completed, StartDecision::AlreadyStarted { message, .. }) => {
                    assert!(message.contains("successfully"), "{message}")
                }
                (Status::Completed, other) => panic!("{other:?}"),
                (_, decision) => assert_eq!(decision, StartDecision::Start, "{status:?}"),
            }
        }
    }
}

/// WorkflowStartDelay holds the first workflow task back; a signal meanwhile is recorded but
/// brings no early task (as Temporal's server does); it cannot go with a cron schedule.
#[test]
fn a_start_delay_holds_the_first_workflow_task_back() {
    let mut h = Harness::start_delayed(params(), Some(signal("first", "req")), secs(5));
    assert_eq!(
        h.history(),
        ["WorkflowExecutionStarted", "WorkflowExecutionSignaled"]
    );
    assert_eq!(started_event(&h).first_workflow_task_backoff, secs(5));
    assert_eq!(h.ex.execution_time(), Time(T0).plus(secs(5)));
    let starts_at = Time(T0).plus(secs(5));
    assert_eq!(
        h.ex.doing(),
        Some(keel_core::overview::Doing::Starting { at: starts_at })
    );
    assert_eq!(h.ex.phase(), keel_core::overview::Phase::Pending);
    h.apply(|ex, now| unit(ex.signal(signal("early", "req-2"), now)))
        .unwrap();
    assert_eq!(h.history_after(2), ["WorkflowExecutionSignaled"]);
    h.advance(secs(4));
    assert_eq!(h.history_after(3), Vec::<&str>::new());
    h.advance(secs(1));
    assert_eq!(h.history_after(3), ["WorkflowTaskScheduled"]);

    let refused = Execution::start_with(
        key(),
        StartParams {
            cron_schedule: "*/5 * * * *".into(),
            ..params()
        },
        keel_core::StartOptions {
            start_delay: secs(5),
            ..Default::default()
        },
        Time(T0),
    )
    .unwrap_err();
    assert!(
        matches!(refused, Rejection::InvalidArgument(ref m) if m.contains("WorkflowStartDelay"))
    );
}
