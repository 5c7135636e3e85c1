//! Activities end to end: results, retries with backoff, timeouts, heartbeats, failures.

use std::time::Duration;

use temporalio_client::errors::WorkflowGetResultError;
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::enums::v1::{
    EventType, RetryState, TimeoutType, WorkflowExecutionStatus,
};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::history::v1::{
    ActivityTaskFailedEventAttributes, ActivityTaskStartedEventAttributes, HistoryEvent,
};

use crate::harness::{
    Backend, Server, assert_well_formed, describe, event_types, history, on_both_backends, unique,
    with_worker,
};
use crate::workflows::{
    CancelsActivity, Flaky, Greeting, Heartbeats, LocalSteps, Pipeline, Rejecting, SlowFirst,
    attempts_of, saw_cancellation,
};

/// The (only) activity's started event: attempt number and last failure.
fn activity_started(events: &[HistoryEvent]) -> ActivityTaskStartedEventAttributes {
    events
        .iter()
        .find_map(|e| match e.attributes.as_ref()? {
            Attributes::ActivityTaskStartedEventAttributes(a) => Some(a.clone()),
            _ => None,
        })
        .expect("an ActivityTaskStarted event")
}

fn activity_failed(events: &[HistoryEvent]) -> ActivityTaskFailedEventAttributes {
    events
        .iter()
        .find_map(|e| match e.attributes.as_ref()? {
            Attributes::ActivityTaskFailedEventAttributes(a) => Some(a.clone()),
            _ => None,
        })
        .expect("an ActivityTaskFailed event")
}

on_both_backends! {
    async fn one_activity_returns_its_value_with_temporals_history(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("greeting");
        let workflow_id = unique("greeting-wf");
        let result = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Greeting::run,
                    "keel".to_owned(),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap()
        })
        .await;
        assert_eq!(result, "hello, keel");

        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        use EventType::*;
        assert_eq!(
            event_types(&events),
            vec![
                WorkflowExecutionStarted,
                WorkflowTaskScheduled,
                WorkflowTaskStarted,
                WorkflowTaskCompleted,
                ActivityTaskScheduled,
                ActivityTaskStarted,
                ActivityTaskCompleted,
                WorkflowTaskScheduled,
                WorkflowTaskStarted,
                WorkflowTaskCompleted,
                WorkflowExecutionCompleted,
            ]
        );
        // The activity's completion names its scheduled and started events.
        match events[6].attributes.as_ref().unwrap() {
            Attributes::ActivityTaskCompletedEventAttributes(a) => {
                assert_eq!((a.scheduled_event_id, a.started_event_id), (5, 6));
            }
            other => panic!("unexpected attributes {other:?}"),
        }
        let described = describe(&client, &workflow_id).await;
        let info = described.workflow_execution_info.unwrap();
        assert_eq!(info.status, WorkflowExecutionStatus::Completed as i32);
        assert_eq!(info.history_length, events.len() as i64);
        assert!(described.pending_activities.is_empty());
    }
}

on_both_backends! {
    async fn three_sequential_activities_and_a_durable_timer(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("pipeline");
        let workflow_id = unique("pipeline-wf");
        let started = std::time::Instant::now();
        let result = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Pipeline::run,
                    10u32,
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap()
        })
        .await;
        assert_eq!(result, 13);
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "the timer must really wait"
        );
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        assert_eq!(
            types
                .iter()
                .filter(|t| **t == EventType::ActivityTaskCompleted)
                .count(),
            3
        );
        let fired = types
            .iter()
            .position(|t| *t == EventType::TimerFired)
            .expect("timer fired");
        let timer_started = types
            .iter()
            .position(|t| *t == EventType::TimerStarted)
            .expect("timer started");
        assert!(timer_started < fired);
        let fired_after = events[fired].event_time.unwrap().seconds * 1_000_000_000
            + events[fired].event_time.unwrap().nanos as i64
            - (events[timer_started].event_time.unwrap().seconds * 1_000_000_000
                + events[timer_started].event_time.unwrap().nanos as i64);
        assert!(
            fired_after >= 1_000_000_000,
            "timer fired after {fired_after} ns, before its one second"
        );
    }
}

on_both_backends! {
    async fn failing_activity_is_retried_with_backoff_until_it_succeeds(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("flaky");
        let workflow_id = unique("flaky-wf");
        let result = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Flaky::run,
                    (),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap()
        })
        .await;
        assert_eq!(result, 3, "the third attempt succeeds");
        let attempts = attempts_of(&workflow_id);
        assert_eq!(
            attempts.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        // Initial interval 300 ms, coefficient 2: waits of at least 300 ms and 600 ms.
        let first_wait = attempts[1].1 - attempts[0].1;
        let second_wait = attempts[2].1 - attempts[1].1;
        assert!(
            first_wait >= Duration::from_millis(290),
            "first backoff was {first_wait:?}"
        );
        assert!(
            second_wait >= Duration::from_millis(590),
            "second backoff was {second_wait:?}"
        );

        // Retries are invisible in history but for the final attempt's started event.
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        let started = activity_started(&events);
        assert_eq!(started.attempt, 3);
        assert_eq!(started.last_failure.unwrap().message, "attempt 2 failed");
        assert_eq!(
            event_types(&events)
                .iter()
                .filter(|t| **t == EventType::ActivityTaskFailed)
                .count(),
            0
        );

        // Keel keeps the earlier attempts beside the history: each with when it ran, where,
        // how it failed and when the next one was due.
        let rest = crate::rest_client::Rest::new(&server.http_addr);
        let detail = rest.ok(&format!("/api/v1/executions/{workflow_id}")).await;
        let earlier = detail["task_runs"][0]["earlier_attempts"].as_array().expect("earlier attempts").clone();
        let time = |value: &serde_json::Value| {
            chrono::DateTime::parse_from_rfc3339(value.as_str().expect("a time")).unwrap()
        };
        assert_eq!(earlier.len(), 2, "{detail}");
        for (index, attempt) in earlier.iter().enumerate() {
            let number = index as i64 + 1;
            assert_eq!(attempt["attempt"], number);
            assert_eq!(attempt["failure"]["message"], format!("attempt {number} failed"));
            assert!(attempt["worker"].is_string(), "{attempt}");
            assert!(time(&attempt["started_time"]) <= time(&attempt["end_time"]));
            let backoff = time(&attempt["retry_time"]) - time(&attempt["end_time"]);
            assert!(backoff.num_milliseconds() >= 300 * number - 10, "{attempt}");
        }
        assert!(time(&earlier[0]["retry_time"]) <= time(&earlier[1]["scheduled_time"]));
    }
}

on_both_backends! {
    async fn activity_exceeding_start_to_close_is_retried(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("slow");
        let workflow_id = unique("slow-wf");
        let result = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    SlowFirst::run,
                    (),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap()
        })
        .await;
        assert_eq!(
            result, 2,
            "the second attempt ran after the first timed out"
        );
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        let started = activity_started(&events);
        assert_eq!(started.attempt, 2);
        let last_failure = started
            .last_failure
            .expect("the timeout is the last failure");
        assert_eq!(last_failure.source, "Server");
        use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
        match last_failure.failure_info {
            Some(FailureInfo::TimeoutFailureInfo(info)) => {
                assert_eq!(info.timeout_type, TimeoutType::StartToClose as i32)
            }
            other => panic!("expected a timeout failure, got {other:?}"),
        }
    }
}

on_both_backends! {
    async fn non_retryable_failure_fails_the_workflow(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("reject");
        let workflow_id = unique("reject-wf");
        let outcome = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Rejecting::run,
                    (),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            handle.get_result(WorkflowGetResultOptions::default()).await
        })
        .await;
        match outcome {
            Err(WorkflowGetResultError::Failed(_)) => {}
            other => panic!("expected the workflow to fail, got {other:?}"),
        }
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        assert_eq!(types.last(), Some(&EventType::WorkflowExecutionFailed));
        let failed = activity_failed(&events);
        assert_eq!(failed.retry_state, RetryState::NonRetryableFailure as i32);
        assert_eq!(failed.failure.unwrap().message, "the input is unacceptable");
        let described = describe(&client, &workflow_id).await;
        assert_eq!(
            described.workflow_execution_info.unwrap().status,
            WorkflowExecutionStatus::Failed as i32
        );
        let started = activity_started(&events);
        assert_eq!(
            started.attempt, 1,
            "a non-retryable failure is not retried despite 10 allowed attempts"
        );
    }
}

on_both_backends! {
    async fn heartbeat_timeout_retries_with_the_last_heartbeat_details(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("heartbeat");
        let workflow_id = unique("heartbeat-wf");
        let result = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Heartbeats::run,
                    (),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap()
        })
        .await;
        assert_eq!(
            result, 42,
            "attempt 2 saw the details attempt 1 heartbeated"
        );
        let attempts = attempts_of(&workflow_id);
        assert_eq!(attempts.len(), 2);
        assert!(
            attempts[1].1 - attempts[0].1 < Duration::from_secs(6),
            "the heartbeat timeout, not start-to-close, ended attempt 1"
        );
        let events = history(&client, &workflow_id).await;
        let started = activity_started(&events);
        use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
        match started.last_failure.and_then(|f| f.failure_info) {
            Some(FailureInfo::TimeoutFailureInfo(info)) => {
                assert_eq!(info.timeout_type, TimeoutType::Heartbeat as i32);
                assert!(info.last_heartbeat_details.is_some());
            }
            other => panic!("expected a heartbeat timeout, got {other:?}"),
        }
    }
}

on_both_backends! {
    async fn local_activities_are_recorded_as_markers(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("local");
        let workflow_id = unique("local-wf");
        let result = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    LocalSteps::run,
                    5u32,
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap()
        })
        .await;
        assert_eq!(result, 7);
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        assert_eq!(
            types
                .iter()
                .filter(|t| **t == EventType::MarkerRecorded)
                .count(),
            2,
            "{types:?}"
        );
        assert!(
            !types.contains(&EventType::ActivityTaskScheduled),
            "local activities never reach a queue"
        );
        for event in &events {
            if let Some(Attributes::MarkerRecordedEventAttributes(marker)) = &event.attributes {
                assert!(
                    !marker.details.is_empty(),
                    "the marker keeps the result the SDK replays from"
                );
            }
        }
    }
}

on_both_backends! {
    async fn cancelling_a_running_activity_reaches_the_worker_through_heartbeats(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("cancel");
        let workflow_id = unique("cancel-wf");
        let cancelled = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    CancelsActivity::run,
                    (),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap()
        })
        .await;
        assert!(cancelled, "the workflow saw its activity end as cancelled");
        assert!(
            saw_cancellation(&workflow_id),
            "the activity learned of the cancellation from a heartbeat answer"
        );
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        let requested = types
            .iter()
            .position(|t| *t == EventType::ActivityTaskCancelRequested)
            .expect("cancel requested");
        let canceled = types
            .iter()
            .position(|t| *t == EventType::ActivityTaskCanceled)
            .expect("activity canceled");
        assert!(requested < canceled, "{types:?}");
        assert!(!types.contains(&EventType::ActivityTaskCompleted));
        match events[canceled].attributes.as_ref().unwrap() {
            Attributes::ActivityTaskCanceledEventAttributes(a) => {
                assert_eq!(
                    a.latest_cancel_requested_event_id,
                    events[requested].event_id
                );
                assert_eq!(a.scheduled_event_id, 5);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            attempts_of(&workflow_id).len(),
            1,
            "a cancelled activity is not retried"
        );
    }
}
