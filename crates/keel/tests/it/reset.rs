//! ResetWorkflowExecution: a new run picks up a run's history at a workflow task.

use std::time::Duration;

use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::{Code, Request, Status};
use temporalio_client::{
    Client, WorkflowGetResultOptions, WorkflowSignalOptions, WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::enums::v1::{
    EventType, WorkflowExecutionStatus, WorkflowTaskFailedCause,
};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeWorkflowExecutionRequest, ResetWorkflowExecutionRequest, SignalWorkflowExecutionRequest,
};

use crate::harness::{
    Backend, Server, assert_well_formed, count, event_types, history, history_of_run,
    on_both_backends, unique, wait_for_event, with_worker,
};
use crate::workflows::{Accumulator, LongActivity, Mended, break_for};

async fn reset(
    client: &Client,
    workflow_id: &str,
    run_id: &str,
    point: i64,
) -> Result<String, Status> {
    let request_id = uuid::Uuid::new_v4().to_string();
    reset_with(client, workflow_id, run_id, point, &request_id).await
}

async fn reset_with(
    client: &Client,
    workflow_id: &str,
    run_id: &str,
    point: i64,
    request_id: &str,
) -> Result<String, Status> {
    let request = ResetWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: Some(WorkflowExecution {
            workflow_id: workflow_id.into(),
            run_id: run_id.into(),
        }),
        reason: "the activity is mended".into(),
        workflow_task_finish_event_id: point,
        request_id: request_id.into(),
        ..Default::default()
    };
    WorkflowService::reset_workflow_execution(&mut client.clone(), Request::new(request))
        .await
        .map(|response| response.into_inner().run_id)
}

async fn status_of(client: &Client, workflow_id: &str, run_id: &str) -> WorkflowExecutionStatus {
    let request = DescribeWorkflowExecutionRequest {
        namespace: "default".into(),
        execution: Some(WorkflowExecution {
            workflow_id: workflow_id.into(),
            run_id: run_id.into(),
        }),
        ..Default::default()
    };
    let info =
        WorkflowService::describe_workflow_execution(&mut client.clone(), Request::new(request))
            .await
            .expect("describe")
            .into_inner()
            .workflow_execution_info
            .expect("execution info");
    WorkflowExecutionStatus::try_from(info.status).expect("a status")
}

on_both_backends! {
    async fn a_run_failed_by_an_activity_is_reset_and_completes(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("reset");
        let workflow_id = unique("mended");
        break_for(&workflow_id, true);
        let (failed_run, new_run, result) = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Mended::run,
                    "order-7".to_owned(),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            let failed_run = handle.run_id().unwrap_or_default().to_owned();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .expect_err("the broken activity fails the run");

            // Bad reset points are refused, and nothing changes.
            for point in [1, 5, 999] {
                let refused = reset(&client, &workflow_id, &failed_run, point).await.unwrap_err();
                assert_eq!(refused.code(), Code::InvalidArgument, "{point}: {refused:?}");
            }
            assert_eq!(count(&client, &format!("WorkflowId = '{workflow_id}'")).await, 1);

            break_for(&workflow_id, false);
            // Event 4 is the first workflow task's completion: the code decides again.
            let new_run = reset_with(&client, &workflow_id, &failed_run, 4, "mend-1")
                .await
                .unwrap();
            // A retried reset (same request id) makes no second run.
            let retried = reset_with(&client, &workflow_id, &failed_run, 4, "mend-1")
                .await
                .unwrap();
            assert_eq!(retried, new_run);
            let result = client
                .get_workflow_handle::<Mended>(&workflow_id)
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();
            (failed_run, new_run, result)
        })
        .await;
        assert_eq!(result, "mended order-7");

        let base = history_of_run(&client, &workflow_id, &failed_run).await;
        let events = history_of_run(&client, &workflow_id, &new_run).await;
        assert_well_formed(&events);
        assert_eq!(events[..3], base[..3], "the history up to the reset point is copied");
        let types = event_types(&events);
        use EventType::*;
        assert_eq!(
            types[3..],
            [
                WorkflowTaskFailed,
                WorkflowTaskScheduled,
                WorkflowTaskStarted,
                WorkflowTaskCompleted,
                ActivityTaskScheduled,
                ActivityTaskStarted,
                ActivityTaskCompleted,
                WorkflowTaskScheduled,
                WorkflowTaskStarted,
                WorkflowTaskCompleted,
                WorkflowExecutionCompleted
            ]
        );
        match &events[3].attributes {
            Some(Attributes::WorkflowTaskFailedEventAttributes(failed)) => {
                assert_eq!(failed.cause, WorkflowTaskFailedCause::ResetWorkflow as i32);
                assert_eq!(failed.base_run_id, failed_run);
                assert_eq!(failed.new_run_id, new_run);
                assert_eq!(
                    failed.failure.as_ref().map(|f| f.message.as_str()),
                    Some("the activity is mended")
                );
            }
            other => panic!("{other:?}"),
        }
        // The failed run stays as it was; the workflow id now has both runs.
        assert_eq!(
            status_of(&client, &workflow_id, &failed_run).await,
            WorkflowExecutionStatus::Failed
        );
        assert_eq!(count(&client, &format!("WorkflowId = '{workflow_id}'")).await, 2);
        assert_eq!(
            count(
                &client,
                &format!("WorkflowId = '{workflow_id}' AND ExecutionStatus = 'Completed'")
            )
            .await,
            1
        );
    }

    async fn resetting_a_running_workflow_replaces_it_and_keeps_its_signals(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("reset-running");
        let workflow_id = unique("accumulator");
        let (base_run, result) = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Accumulator::run,
                    (),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            let base_run = handle.run_id().unwrap_or_default().to_owned();
            wait_for_event(&client, &workflow_id, EventType::WorkflowTaskCompleted).await;
            for n in [1, 2] {
                handle
                    .signal(Accumulator::add, n, WorkflowSignalOptions::default())
                    .await
                    .unwrap();
            }
            // Both signals are in history before the reset.
            for _ in 0..200 {
                let types = event_types(&history(&client, &workflow_id).await);
                if types.iter().filter(|t| **t == EventType::WorkflowExecutionSignaled).count() == 2
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // The first workflow task's completion: signals may have come before it or after.
            let first_completed = history(&client, &workflow_id)
                .await
                .iter()
                .find(|e| e.event_type == EventType::WorkflowTaskCompleted as i32)
                .expect("the first workflow task completed")
                .event_id;
            reset(&client, &workflow_id, "", first_completed).await.unwrap();
            let current = client.get_workflow_handle::<Accumulator>(&workflow_id);
            current
                .signal(Accumulator::finish, (), WorkflowSignalOptions::default())
                .await
                .unwrap();
            let result = current
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();
            (base_run, result)
        })
        .await;
        // The signals received after the reset point were applied again in the new run.
        assert_eq!(result, (3, 2));
        assert_eq!(
            status_of(&client, &workflow_id, &base_run).await,
            WorkflowExecutionStatus::Terminated
        );
        let base = history_of_run(&client, &workflow_id, &base_run).await;
        assert_eq!(
            event_types(&base).last(),
            Some(&EventType::WorkflowExecutionTerminated)
        );
    }

    async fn an_activity_in_flight_at_the_reset_point_runs_again_in_the_new_run(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("reset-in-flight");
        let workflow_id = unique("long");
        let result = with_worker(&client, &queue, async {
            client
                .start_workflow(
                    LongActivity::run,
                    1500u64,
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            wait_for_event(&client, &workflow_id, EventType::WorkflowTaskCompleted).await;
            // A signal the workflow ignores makes a second workflow task while the activity
            // runs: resetting to it leaves the activity open at the reset point.
            WorkflowService::signal_workflow_execution(
                &mut client.clone(),
                Request::new(SignalWorkflowExecutionRequest {
                    namespace: "default".into(),
                    workflow_execution: Some(WorkflowExecution {
                        workflow_id: workflow_id.clone(),
                        run_id: String::new(),
                    }),
                    signal_name: "poke".into(),
                    request_id: uuid::Uuid::new_v4().to_string(),
                    ..Default::default()
                }),
            )
            .await
            .unwrap();
            let point = loop {
                let events = history(&client, &workflow_id).await;
                let completed: Vec<i64> = events
                    .iter()
                    .filter(|e| e.event_type == EventType::WorkflowTaskCompleted as i32)
                    .map(|e| e.event_id)
                    .collect();
                if completed.len() == 2 {
                    break completed[1];
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            reset(&client, &workflow_id, "", point).await.unwrap();
            client
                .get_workflow_handle::<LongActivity>(&workflow_id)
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap()
        })
        .await;
        assert_eq!(result, 1500);
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        assert_eq!(
            types.iter().filter(|t| **t == EventType::ActivityTaskScheduled).count(),
            1,
            "the activity is carried over, not scheduled again: {types:?}"
        );
        assert_eq!(types.last(), Some(&EventType::WorkflowExecutionCompleted));
    }
}
