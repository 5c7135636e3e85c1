//! Starting workflows: idempotency, conflicts, timeouts, and refusing bad input.

use std::time::Duration;

use temporalio_client::errors::{WorkflowGetResultError, WorkflowStartError};
use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::{Code, Request};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::common::v1::WorkflowType;
use temporalio_common::protos::temporal::api::enums::v1::{EventType, WorkflowExecutionStatus};
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    RespondActivityTaskCompletedRequest, RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
};

use crate::harness::{
    Backend, Server, assert_well_formed, count, describe, event_types, history, on_both_backends,
    unique, with_worker,
};
use crate::workflows::{FailsTwice, Greeting, Sleeper};

fn start_request(workflow_id: &str, request_id: &str) -> StartWorkflowExecutionRequest {
    StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: workflow_id.into(),
        workflow_type: Some(WorkflowType {
            name: "Greeting".into(),
        }),
        task_queue: Some(TaskQueue {
            name: "nobody-polls".into(),
            ..Default::default()
        }),
        request_id: request_id.into(),
        ..Default::default()
    }
}

on_both_backends! {
    async fn starts_are_idempotent_and_conflicts_carry_the_running_run(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let workflow_id = unique("idempotent");

        // The same request id twice: one run, and both answers name it.
        let first = WorkflowService::start_workflow_execution(
            &mut client.clone(),
            Request::new(start_request(&workflow_id, "req-1")),
        )
        .await
        .unwrap()
        .into_inner();
        let again = WorkflowService::start_workflow_execution(
            &mut client.clone(),
            Request::new(start_request(&workflow_id, "req-1")),
        )
        .await
        .unwrap()
        .into_inner();
        assert!(first.started);
        assert_eq!(again.run_id, first.run_id);
        assert_eq!(
            count(&client, &format!("WorkflowId = '{workflow_id}'")).await,
            1
        );

        // A different request for the running id is refused with the running run's id, which the
        // SDK decodes from the WorkflowExecutionAlreadyStartedFailure details.
        let conflict = client
            .start_workflow(
                Greeting::run,
                "x".to_owned(),
                WorkflowStartOptions::new("nobody-polls", &workflow_id).build(),
            )
            .await;
        match conflict {
            Err(WorkflowStartError::AlreadyStarted { run_id, source }) => {
                assert_eq!(source.code(), Code::AlreadyExists);
                assert_eq!(run_id.as_deref(), Some(first.run_id.as_str()));
            }
            other => panic!("expected AlreadyStarted, got {:?}", other.map(|_| ())),
        }
        assert_eq!(
            count(&client, &format!("WorkflowId = '{workflow_id}'")).await,
            1
        );
    }
}

on_both_backends! {
    async fn run_timeout_closes_the_workflow_as_timed_out(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("timeout");
        let workflow_id = unique("timeout-wf");
        let outcome = with_worker(&client, &queue, async {
            let options = WorkflowStartOptions::new(&queue, &workflow_id)
                .run_timeout(Duration::from_secs(2))
                .build();
            let handle = client
                .start_workflow(Sleeper::run, 30u64, options)
                .await
                .unwrap();
            handle.get_result(WorkflowGetResultOptions::default()).await
        })
        .await;
        assert!(
            matches!(outcome, Err(WorkflowGetResultError::TimedOut)),
            "got {outcome:?}"
        );
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        assert_eq!(types.last(), Some(&EventType::WorkflowExecutionTimedOut));
        assert!(
            !types.contains(&EventType::TimerFired),
            "the 30 s timer never fired"
        );
        let status = describe(&client, &workflow_id)
            .await
            .workflow_execution_info
            .unwrap()
            .status;
        assert_eq!(status, WorkflowExecutionStatus::TimedOut as i32);
    }
}

on_both_backends! {
    async fn bad_requests_are_refused_with_clear_errors_and_change_nothing(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let mut service = client.clone();

        let before = count(&client, "").await;
        let mut no_id = start_request("", "r");
        no_id.workflow_id.clear();
        let error = WorkflowService::start_workflow_execution(&mut service, Request::new(no_id))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
        assert!(
            error.message().contains("WorkflowId"),
            "{}",
            error.message()
        );

        let mut no_type = start_request("x", "r");
        no_type.workflow_type = None;
        let error = WorkflowService::start_workflow_execution(&mut service, Request::new(no_type))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);

        let mut negative = start_request("y", "r");
        negative.workflow_run_timeout = Some(prost_wkt_types::Duration {
            seconds: -5,
            nanos: 0,
        });
        let error = WorkflowService::start_workflow_execution(&mut service, Request::new(negative))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);

        let mut elsewhere = start_request("z", "r");
        elsewhere.namespace = "no-such-namespace".into();
        let error = WorkflowService::start_workflow_execution(&mut service, Request::new(elsewhere))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::NotFound);
        assert_eq!(
            count(&client, "").await,
            before,
            "refused starts stored nothing"
        );

        // Forged and stale task tokens.
        let forged = RespondActivityTaskCompletedRequest {
            namespace: "default".into(),
            task_token: b"not a token".to_vec(),
            ..Default::default()
        };
        let error =
            WorkflowService::respond_activity_task_completed(&mut service, Request::new(forged))
                .await
                .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
        let workflow_id = unique("stale");
        let started = WorkflowService::start_workflow_execution(
            &mut service,
            Request::new(start_request(&workflow_id, "s")),
        )
        .await
        .unwrap()
        .into_inner();
        let stale = keel_core::TaskToken::Workflow {
            key: keel_core::ExecutionKey {
                namespace: "default".into(),
                workflow_id: workflow_id.clone(),
                run_id: started.run_id,
            },
            scheduled_event_id: 2,
            started_event_id: 3,
            attempt: 1,
        };
        let stale = RespondWorkflowTaskCompletedRequest {
            namespace: "default".into(),
            task_token: stale.encode(),
            ..Default::default()
        };
        let error = WorkflowService::respond_workflow_task_completed(&mut service, Request::new(stale))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::NotFound, "{}", error.message());
        assert_eq!(
            history(&client, &workflow_id).await.len(),
            2,
            "the refused completion added no event"
        );
    }
}

on_both_backends! {
    async fn a_workflow_retry_policy_runs_the_workflow_again_in_a_chain(backend: Backend) {
        use temporalio_common::protos::temporal::api::enums::v1::RetryState;
        use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
        use temporalio_common::protos::temporal::api::workflowservice::v1::ListWorkflowExecutionsRequest;

        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("chain");
        let workflow_id = unique("chain-wf");
        let started = std::time::Instant::now();
        let (result, first_run) = with_worker(&client, &queue, async {
            let options = WorkflowStartOptions::new(&queue, &workflow_id)
                .retry_policy(crate::workflows::retry(Duration::from_millis(300), 5))
                .build();
            let handle = client
                .start_workflow(FailsTwice::run, (), options)
                .await
                .unwrap();
            let first_run = handle.run_id().unwrap().to_owned();
            (
                handle
                    .get_result(WorkflowGetResultOptions::default())
                    .await
                    .unwrap(),
                first_run,
            )
        })
        .await;
        assert_eq!(
            result, 3,
            "the client followed the chain to the run that succeeded"
        );
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "backoffs of 300 ms and 600 ms were waited"
        );

        let list = WorkflowService::list_workflow_executions(
            &mut client.clone(),
            Request::new(ListWorkflowExecutionsRequest {
                namespace: "default".into(),
                query: format!("WorkflowId = '{workflow_id}' ORDER BY StartTime ASC"),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .executions;
        let statuses: Vec<i32> = list.iter().map(|e| e.status).collect();
        use WorkflowExecutionStatus::{Completed, Failed};
        assert_eq!(
            statuses,
            vec![Failed as i32, Failed as i32, Completed as i32]
        );
        let runs: Vec<String> = list
            .iter()
            .map(|e| e.execution.as_ref().unwrap().run_id.clone())
            .collect();
        assert_eq!(runs[0], first_run);

        // Each closed run names its successor; each successor names its predecessor and attempt.
        for (index, run) in runs.iter().enumerate() {
            let events = crate::harness::history_of_run(&client, &workflow_id, run).await;
            assert_well_formed(&events);
            match events[0].attributes.as_ref().unwrap() {
                Attributes::WorkflowExecutionStartedEventAttributes(a) => {
                    assert_eq!(a.attempt, index as i32 + 1);
                    assert_eq!(a.first_execution_run_id, first_run);
                    if index > 0 {
                        assert_eq!(a.continued_execution_run_id, runs[index - 1]);
                        assert!(
                            a.continued_failure
                                .as_ref()
                                .unwrap()
                                .message
                                .contains("failed")
                        );
                        assert!(a.first_workflow_task_backoff.is_some());
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
            if index < 2 {
                match events.last().unwrap().attributes.as_ref().unwrap() {
                    Attributes::WorkflowExecutionFailedEventAttributes(a) => {
                        assert_eq!(a.new_execution_run_id, runs[index + 1]);
                        assert_eq!(a.retry_state, RetryState::InProgress as i32);
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        let current = describe(&client, &workflow_id)
            .await
            .workflow_execution_info
            .unwrap();
        assert_eq!(
            current.execution.unwrap().run_id,
            runs[2],
            "the last run is the current one"
        );
    }
}
