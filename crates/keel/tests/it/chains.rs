//! Chains of runs under one workflow id: continue-as-new and cron schedules.

use std::time::Duration;

use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::Request;
use temporalio_client::{
    Client, WorkflowGetResultOptions, WorkflowStartOptions, WorkflowTerminateOptions,
};
use temporalio_common::protos::temporal::api::enums::v1::{
    ContinueAsNewInitiator, EventType, WorkflowExecutionStatus,
};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::workflow::v1::WorkflowExecutionInfo;
use temporalio_common::protos::temporal::api::workflowservice::v1::ListWorkflowExecutionsRequest;

use crate::harness::{
    Backend, Server, assert_well_formed, count, event_types, history_of_run, on_both_backends,
    unique, with_worker,
};
use crate::workflows::{Countdown, Greeting};

/// Every run of `workflow_id`, newest first.
async fn runs(client: &Client, workflow_id: &str) -> Vec<WorkflowExecutionInfo> {
    let request = ListWorkflowExecutionsRequest {
        namespace: "default".into(),
        query: format!("WorkflowId = '{workflow_id}'"),
        page_size: 100,
        ..Default::default()
    };
    WorkflowService::list_workflow_executions(&mut client.clone(), Request::new(request))
        .await
        .expect("list")
        .into_inner()
        .executions
}

fn run_id(info: &WorkflowExecutionInfo) -> String {
    info.execution.as_ref().unwrap().run_id.clone()
}

on_both_backends! {
    async fn continue_as_new_three_times_makes_a_chain_of_four_runs(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("continue-as-new");
        let workflow_id = unique("countdown");
        let result = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Countdown::run,
                    (3u32, 0u32),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            // The SDK follows the chain to the last run's result.
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap()
        })
        .await;
        assert_eq!(result, 4, "four runs, each handed the count so far");

        let mut chain = runs(&client, &workflow_id).await;
        assert_eq!(chain.len(), 4, "every run is listed");
        chain.sort_by_key(|info| info.start_time.as_ref().map(|t| (t.seconds, t.nanos)));
        let statuses: Vec<i32> = chain.iter().map(|info| info.status).collect();
        use WorkflowExecutionStatus as S;
        assert_eq!(
            statuses,
            [
                S::ContinuedAsNew as i32,
                S::ContinuedAsNew as i32,
                S::ContinuedAsNew as i32,
                S::Completed as i32
            ]
        );
        assert_eq!(
            count(&client, &format!("WorkflowId = '{workflow_id}' AND ExecutionStatus = 'ContinuedAsNew'")).await,
            3
        );
        let first = run_id(&chain[0]);
        for pair in chain.windows(2) {
            let (previous, next) = (run_id(&pair[0]), run_id(&pair[1]));
            let closed = history_of_run(&client, &workflow_id, &previous).await;
            assert_well_formed(&closed);
            match &closed.last().unwrap().attributes {
                Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a)) => {
                    assert_eq!(a.new_execution_run_id, next);
                }
                other => panic!("{other:?}"),
            }
            let opened = history_of_run(&client, &workflow_id, &next).await;
            match &opened[0].attributes {
                Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => {
                    assert_eq!(a.continued_execution_run_id, previous);
                    assert_eq!(a.first_execution_run_id, first);
                    assert_eq!(a.initiator, ContinueAsNewInitiator::Workflow as i32);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    async fn a_cron_workflow_runs_on_its_schedule_until_terminated(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("cron");
        let workflow_id = unique("cron-greeting");
        let started = std::time::Instant::now();
        with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Greeting::run,
                    "cron".to_owned(),
                    WorkflowStartOptions::new(&queue, &workflow_id)
                        .cron_schedule("@every 1s".to_owned())
                        .build(),
                )
                .await
                .unwrap();
            let completed = format!("WorkflowId = '{workflow_id}' AND ExecutionStatus = 'Completed'");
            for _ in 0..100 {
                if count(&client, &completed).await >= 3 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(count(&client, &completed).await >= 3, "three runs in ten seconds");
            // Terminating the waiting run (the current one, not the first) ends the chain.
            drop(handle);
            client
                .get_workflow_handle::<Greeting>(&workflow_id)
                .terminate(WorkflowTerminateOptions::builder().reason("enough").build())
                .await
                .unwrap();
        })
        .await;
        assert!(started.elapsed() >= Duration::from_secs(3), "each run waits for its fire");
        let before = runs(&client, &workflow_id).await.len();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let mut chain = runs(&client, &workflow_id).await;
        assert_eq!(chain.len(), before, "no run after the chain was terminated");
        chain.sort_by_key(|info| info.start_time.as_ref().map(|t| (t.seconds, t.nanos)));
        assert_eq!(
            chain.last().unwrap().status,
            WorkflowExecutionStatus::Terminated as i32
        );
        let second = history_of_run(&client, &workflow_id, &run_id(&chain[1])).await;
        assert_well_formed(&second);
        match &second[0].attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => {
                assert_eq!(a.initiator, ContinueAsNewInitiator::CronSchedule as i32);
                assert_eq!(a.cron_schedule, "@every 1s");
                assert!(a.last_completion_result.is_some(), "the last result is handed on");
                let backoff = a.first_workflow_task_backoff.as_ref().unwrap();
                assert!(backoff.seconds >= 1 || backoff.nanos > 0, "{backoff:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            event_types(&second).last(),
            Some(&EventType::WorkflowExecutionCompleted)
        );
    }
}
