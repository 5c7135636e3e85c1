//! PostgreSQL restarting under Keel: while it is away calls fail with Unavailable, and once
//! it is back everything goes on by itself — nothing lost, nothing done twice.

use std::time::{Duration, Instant};

use keel_store::testing::PostgresCluster;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::request_extensions::NoRetryOnMatching;
use temporalio_client::tonic::{Code, Request};
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::workflowservice::v1::CountWorkflowExecutionsRequest;

use crate::harness::{
    Server, assert_well_formed, count, event_types, history, unique, with_worker, with_workers,
};
use crate::workflows::{Greeting, Pipeline, Sleeper};

/// Runs a blocking cluster operation without stalling the test's runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

async fn greet(client: &Client, queue: &str, name: &str) -> String {
    let id = unique("greeting");
    client
        .start_workflow(
            Greeting::run,
            name.to_owned(),
            WorkflowStartOptions::new(queue, &id).build(),
        )
        .await
        .unwrap();
    client
        .get_workflow_handle::<Greeting>(&id)
        .get_result(WorkflowGetResultOptions::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_restarting_while_idle_is_survived() {
    let mut cluster = PostgresCluster::start();
    let node = Server::node(&cluster.create_database()).await;
    let client = node.client().await;
    let queue = unique("idle");
    with_worker(&client, &queue, async {
        assert_eq!(greet(&client, &queue, "before").await, "hello, before");
    })
    .await;

    blocking(|| cluster.restart());

    with_worker(&client, &queue, async {
        assert_eq!(greet(&client, &queue, "after").await, "hello, after");
        let sleeper = unique("sleeper");
        client
            .start_workflow(
                Sleeper::run,
                1u64,
                WorkflowStartOptions::new(&queue, &sleeper).build(),
            )
            .await
            .unwrap();
        let value = client
            .get_workflow_handle::<Sleeper>(&sleeper)
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap();
        assert_eq!(value, 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_restarting_under_load_loses_nothing() {
    const N: usize = 60;
    let mut cluster = PostgresCluster::start();
    let url = cluster.create_database();
    let nodes = [Server::node(&url).await, Server::node(&url).await];
    let a = nodes[0].client().await;
    let b = nodes[1].client().await;
    let queue = unique("outage");
    let ids: Vec<String> = (0..N).map(|i| unique(&format!("pipeline-{i}"))).collect();
    let ((), clean) = with_workers(&[&a, &b], &queue, async {
        for (i, id) in ids.iter().enumerate() {
            let client = if i % 2 == 0 { &a } else { &b };
            client
                .start_workflow(
                    Pipeline::run,
                    i as u32,
                    WorkflowStartOptions::new(&queue, id).build(),
                )
                .await
                .unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(
            &a,
            &format!("TaskQueue = '{queue}' AND ExecutionStatus = 'Completed'"),
        )
        .await
            < 10
        {
            assert!(Instant::now() < deadline, "workflows made no progress");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        blocking(|| cluster.stop());
        // While the database is away, a call that needs it says so (the SDK's retries are
        // turned off for this call, to see the first answer).
        let mut request = Request::new(CountWorkflowExecutionsRequest {
            namespace: "default".into(),
            query: String::new(),
        });
        request.extensions_mut().insert(NoRetryOnMatching {
            predicate: |_| true,
        });
        let refused = WorkflowService::count_workflow_executions(&mut a.clone(), request).await;
        match refused {
            Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status}"),
            Ok(_) => panic!("a count must fail while the database is down"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        blocking(|| cluster.restart());

        // Bounded, so that a lost wake-up fails here with the workflow's id instead of
        // hanging the suite (a long poll ends after 60 s and reads again, so a bound of
        // two of them only fails what never completes).
        for (i, id) in ids.iter().enumerate() {
            let client = if i % 2 == 0 { &b } else { &a };
            let result = tokio::time::timeout(
                Duration::from_secs(150),
                client
                    .get_workflow_handle::<Pipeline>(id)
                    .get_result(WorkflowGetResultOptions::default()),
            )
            .await
            .unwrap_or_else(|_| panic!("{id} did not complete within 150 s of the restart"))
            .unwrap();
            assert_eq!(result, i as u32 + 3, "{id}");
        }
    })
    .await;
    assert_eq!(clean, [true, true]);
    for id in &ids {
        let events = history(&a, id).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        for once in [EventType::WorkflowExecutionCompleted, EventType::TimerFired] {
            assert_eq!(
                types.iter().filter(|t| **t == once).count(),
                1,
                "{id}: {once:?} exactly once: {types:?}"
            );
        }
    }
    assert_eq!(count(&b, &format!("TaskQueue = '{queue}'")).await, N as i64);
}
