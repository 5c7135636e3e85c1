//! The commands a workflow task completes with: those recorded as given, and the bad ones
//! that fail the task while the run goes on.

use std::time::Duration;

use keel_core::event::EventKind;
use keel_core::transition::failed_cause;
use keel_core::{Blob, Command, RetryPolicy, ScheduleActivity, Status};

use crate::harness::*;

#[test]
fn bad_commands_fail_the_task_and_the_run_continues() {
    let no_timeouts = ScheduleActivity {
        start_to_close_timeout: Duration::ZERO,
        ..spec("a1")
    };
    let cases: Vec<(&str, Vec<Command>, i32, &str)> = vec![
        (
            "duplicate activity id",
            vec![activity("a1"), activity("a1")],
            failed_cause::SCHEDULE_ACTIVITY_DUPLICATE_ID,
            "already in use",
        ),
        (
            "missing timeouts",
            vec![schedule(no_timeouts)],
            failed_cause::BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            "StartToClose or ScheduleToCloseTimeout",
        ),
        (
            "missing activity type",
            vec![schedule(ScheduleActivity {
                activity_type: String::new(),
                ..spec("a1")
            })],
            failed_cause::BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            "ActivityType",
        ),
        (
            "bad retry policy",
            vec![schedule(ScheduleActivity {
                retry_policy: Some(RetryPolicy {
                    backoff_coefficient: 0.5,
                    ..keel_core::default_retry_policy(None)
                }),
                ..spec("a1")
            })],
            failed_cause::BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            "BackoffCoefficient",
        ),
        (
            "cancel unknown timer",
            vec![Command::CancelTimer {
                timer_id: "nope".into(),
            }],
            failed_cause::BAD_CANCEL_TIMER_ATTRIBUTES,
            "nope",
        ),
        (
            "duplicate timer id",
            vec![timer("t", secs(1)), timer("t", secs(2))],
            failed_cause::START_TIMER_DUPLICATE_ID,
            "already in use",
        ),
        (
            "zero timer",
            vec![timer("t", Duration::ZERO)],
            failed_cause::BAD_START_TIMER_ATTRIBUTES,
            "StartToFireTimeout",
        ),
        (
            "cancel unknown activity",
            vec![Command::RequestCancelActivity {
                scheduled_event_id: 99,
            }],
            failed_cause::BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES,
            "99",
        ),
        (
            "command after complete",
            vec![complete_workflow(), timer("t", secs(1))],
            failed_cause::BAD_COMPLETE_WORKFLOW_EXECUTION_ATTRIBUTES,
            "last command",
        ),
        (
            "command after fail",
            vec![
                Command::FailWorkflow {
                    failure: app_failure("bye", "Bye", false),
                },
                activity("a1"),
            ],
            failed_cause::BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES,
            "last command",
        ),
        (
            "marker without a name",
            vec![Command::RecordMarker {
                marker_name: String::new(),
                details: Default::default(),
                header: None,
                failure: None,
            }],
            failed_cause::BAD_RECORD_MARKER_ATTRIBUTES,
            "MarkerName",
        ),
    ];
    for (name, commands, expected_cause, expected_message) in cases {
        let mut h = Harness::start();
        h.take_workflow_task();
        // A valid command before the bad one must not be applied either.
        let mut all = vec![timer("ok", secs(1))];
        all.extend(commands);
        let result = h.complete(all);
        let message = result
            .command_error
            .unwrap_or_else(|| panic!("{name}: accepted"));
        assert!(
            message.contains(expected_message),
            "{name}: message {message:?}"
        );
        assert_eq!(
            h.history(),
            [
                "WorkflowExecutionStarted",
                "WorkflowTaskScheduled",
                "WorkflowTaskStarted",
                "WorkflowTaskFailed",
            ],
            "{name}: the retry is transient"
        );
        match h.event(4) {
            EventKind::WorkflowTaskFailed {
                scheduled_event_id,
                started_event_id,
                cause,
                failure,
                ..
            } => {
                assert_eq!((*scheduled_event_id, *started_event_id), (2, 3), "{name}");
                assert_eq!(*cause, expected_cause, "{name}");
                assert_eq!(failure.as_ref().unwrap().message, message, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(
            h.ex.timers.is_empty() && h.ex.activities.is_empty(),
            "{name}"
        );
        assert_eq!(h.ex.status, Status::Running, "{name}");
        // The run goes on: the next attempt may close it.
        let retry = h.take_workflow_task();
        assert_eq!(retry.attempt, 2, "{name}");
        assert_eq!(h.complete(vec![complete_workflow()]).command_error, None);
        assert_eq!(h.ex.status, Status::Completed, "{name}");
    }
}

#[test]
fn a_duplicate_of_a_pending_activity_id_is_refused() {
    let mut h = started_with(vec![activity("a1"), timer("t", secs(1))]);
    h.advance(secs(1));
    h.take_workflow_task();
    let result = h.complete(vec![activity("a1")]);
    assert!(result.command_error.unwrap().contains("'a1'"));
    assert_eq!(h.ex.activities.len(), 1);
}

#[test]
fn unsupported_commands_fail_the_task() {
    let mut h = Harness::start();
    h.take_workflow_task();
    let result = h.complete(vec![Command::Unsupported {
        name: "StartChildWorkflowExecution".into(),
    }]);
    assert!(
        result
            .command_error
            .unwrap()
            .contains("StartChildWorkflowExecution")
    );
    assert_eq!(h.history()[3], "WorkflowTaskFailed");
    assert_eq!(h.ex.status, Status::Running);
}

#[test]
fn markers_search_attributes_and_memo_are_recorded() {
    let mut h = Harness::start();
    h.take_workflow_task();
    let details: keel_core::BlobMap = [("data".to_string(), Blob(b"1".to_vec()))].into();
    let attributes: keel_core::search::SearchAttributes = [(
        "Color".to_string(),
        keel_core::search::SearchAttribute {
            payload: Blob(b"red".to_vec()),
            value: Some(keel_core::search::SearchValue::Keyword("red".into())),
        },
    )]
    .into();
    h.complete(vec![
        Command::RecordMarker {
            marker_name: "Version".into(),
            details: details.clone(),
            header: None,
            failure: None,
        },
        Command::UpsertSearchAttributes {
            search_attributes: attributes.clone(),
        },
        Command::ModifyProperties {
            upserted_memo: details.clone(),
        },
    ]);
    assert_eq!(
        h.history_after(3),
        [
            "WorkflowTaskCompleted",
            "MarkerRecorded",
            "UpsertWorkflowSearchAttributes",
            "WorkflowPropertiesModified"
        ]
    );
    assert_eq!(h.ex.search_attributes, attributes);
    assert_eq!(h.ex.memo, details);
    assert!(
        h.ex.workflow_task.is_none(),
        "nothing for the workflow to react to"
    );
}
