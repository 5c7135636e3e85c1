//! SIGKILL the server mid-flight, restart it on the same data, and prove nothing was lost:
//! every workflow completes exactly once with a gap-free history.

use std::time::Duration;

use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::enums::v1::EventType;

use crate::harness::{
    Backend, Server, assert_well_formed, event_types, history, on_both_backends, unique,
    wait_for_event, with_worker,
};
use crate::workflows::{LongActivity, Pipeline, Sleeper, attempts_of};

on_both_backends! {
    async fn sigkill_while_timers_wait_and_activities_run_loses_nothing(backend: Backend) {
        let mut server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("crash");
        let sleepers: Vec<String> = (0..3).map(|i| unique(&format!("sleeper-{i}"))).collect();
        let busy = unique("busy");
        with_worker(&client, &queue, async {
            for id in &sleepers {
                client
                    .start_workflow(
                        Sleeper::run,
                        3u64,
                        WorkflowStartOptions::new(&queue, id).build(),
                    )
                    .await
                    .unwrap();
            }
            client
                .start_workflow(
                    LongActivity::run,
                    1500u64,
                    WorkflowStartOptions::new(&queue, &busy).build(),
                )
                .await
                .unwrap();
            for id in &sleepers {
                wait_for_event(&client, id, EventType::TimerStarted).await;
            }
            for _ in 0..500 {
                if !attempts_of(&busy).is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(
                !attempts_of(&busy).is_empty(),
                "the long activity never started"
            );

            server.restart().await;

            for id in &sleepers {
                let handle = client.get_workflow_handle::<Sleeper>(id);
                assert_eq!(
                    handle
                        .get_result(WorkflowGetResultOptions::default())
                        .await
                        .unwrap(),
                    2
                );
            }
            let handle = client.get_workflow_handle::<LongActivity>(&busy);
            assert_eq!(
                handle
                    .get_result(WorkflowGetResultOptions::default())
                    .await
                    .unwrap(),
                1500
            );
        })
        .await;
        for id in sleepers.iter().chain([&busy]) {
            let events = history(&client, id).await;
            assert_well_formed(&events);
            let types = event_types(&events);
            assert_eq!(
                types.last(),
                Some(&EventType::WorkflowExecutionCompleted),
                "{id}: {types:?}"
            );
            assert_eq!(
                types
                    .iter()
                    .filter(|t| **t == EventType::WorkflowExecutionCompleted)
                    .count(),
                1
            );
        }
        for id in &sleepers {
            let types = event_types(&history(&client, id).await);
            assert_eq!(
                types
                    .iter()
                    .filter(|t| **t == EventType::TimerFired)
                    .count(),
                1,
                "{id}: the timer fired once"
            );
        }
    }
}

on_both_backends! {
    async fn sigkill_with_tasks_waiting_in_queues_loses_nothing(backend: Backend) {
        let mut server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("queued");
        let ids: Vec<String> = (0..10).map(|i| unique(&format!("queued-{i}"))).collect();
        // No worker yet: every workflow task waits in the queue when the server dies.
        for id in &ids {
            client
                .start_workflow(
                    Pipeline::run,
                    0u32,
                    WorkflowStartOptions::new(&queue, id).build(),
                )
                .await
                .unwrap();
        }
        server.restart().await;
        let client = server.client().await;
        with_worker(&client, &queue, async {
            for id in &ids {
                let handle = client.get_workflow_handle::<Pipeline>(id);
                assert_eq!(
                    handle
                        .get_result(WorkflowGetResultOptions::default())
                        .await
                        .unwrap(),
                    3
                );
            }
        })
        .await;
        for id in &ids {
            let events = history(&client, id).await;
            assert_well_formed(&events);
            let types = event_types(&events);
            assert_eq!(
                types
                    .iter()
                    .filter(|t| **t == EventType::ActivityTaskCompleted)
                    .count(),
                3,
                "{id}: {types:?}"
            );
        }
    }
}
