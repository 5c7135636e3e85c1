//! Queries: answered by the workflow's code while it waits, after it closed, and refused or
//! timed out clearly.

use std::time::Duration;

use temporalio_client::errors::WorkflowQueryError;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::{Code, Request};
use temporalio_client::{
    QueryRejectCondition, WorkflowGetResultOptions, WorkflowQueryOptions, WorkflowSignalOptions,
    WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::query::v1::WorkflowQuery;
use temporalio_common::protos::temporal::api::workflowservice::v1::QueryWorkflowRequest;

use crate::harness::{Backend, Server, describe, history, on_both_backends, unique, with_worker};
use crate::workflows::Accumulator;

fn raw_query(workflow_id: &str, query_type: &str) -> QueryWorkflowRequest {
    QueryWorkflowRequest {
        namespace: "default".into(),
        execution: Some(WorkflowExecution {
            workflow_id: workflow_id.into(),
            run_id: String::new(),
        }),
        query: Some(WorkflowQuery {
            query_type: query_type.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

on_both_backends! {
    async fn queries_see_every_signal_sent_before_them(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("queries");
        let workflow_id = unique("accumulator");
        with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Accumulator::run,
                    (),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            let mut expected = 0;
            for n in 1..=8u32 {
                handle
                    .signal(Accumulator::add, n, WorkflowSignalOptions::default())
                    .await
                    .unwrap();
                expected += n;
                // Asked right after the signal, while its workflow task may still be pending
                // or running: the answer must already count it.
                let total = handle
                    .query(Accumulator::total, (), WorkflowQueryOptions::default())
                    .await
                    .unwrap();
                assert_eq!(total, expected, "after signal {n}");
            }
            // Asked again once the workflow idles (no workflow task pending): answered from
            // the worker's cache.
            let mut idle = false;
            for _ in 0..400 {
                if describe(&client, &workflow_id).await.pending_workflow_task.is_none() {
                    idle = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            assert!(idle, "the workflow never went idle");
            let total = handle
                .query(Accumulator::total, (), WorkflowQueryOptions::default())
                .await
                .unwrap();
            assert_eq!(total, expected);
            let length = history(&client, &workflow_id).await.len();
            handle
                .query(Accumulator::total, (), WorkflowQueryOptions::default())
                .await
                .unwrap();
            assert_eq!(
                history(&client, &workflow_id).await.len(),
                length,
                "a query writes nothing"
            );
            handle
                .signal(Accumulator::finish, (), WorkflowSignalOptions::default())
                .await
                .unwrap();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();

            // A closed workflow is still answered, by replaying its history...
            let total = handle
                .query(Accumulator::total, (), WorkflowQueryOptions::default())
                .await
                .unwrap();
            assert_eq!(total, expected);
            // ...unless the caller asked not to bother a closed one.
            let rejected = handle
                .query(
                    Accumulator::total,
                    (),
                    WorkflowQueryOptions::builder()
                        .reject_condition(QueryRejectCondition::NotOpen)
                        .build(),
                )
                .await;
            assert!(
                matches!(rejected, Err(WorkflowQueryError::Rejected { status: Some(_) })),
                "{rejected:?}"
            );
            // A query the workflow has no handler for fails with the worker's reason.
            let unknown = WorkflowService::query_workflow(
                &mut client.clone(),
                Request::new(raw_query(&workflow_id, "no_such_query")),
            )
            .await
            .unwrap_err();
            assert_eq!(unknown.code(), Code::InvalidArgument, "{unknown:?}");
            assert!(unknown.message().contains("no_such_query"), "{}", unknown.message());
        })
        .await;
    }

    async fn a_query_nobody_can_answer_times_out_clearly(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("unanswered");
        let workflow_id = unique("accumulator");
        client
            .start_workflow(
                Accumulator::run,
                (),
                WorkflowStartOptions::new(&queue, &workflow_id).build(),
            )
            .await
            .unwrap();
        let mut request = Request::new(raw_query(&workflow_id, "total"));
        request.set_timeout(Duration::from_secs(2));
        let started = std::time::Instant::now();
        let error = WorkflowService::query_workflow(&mut client.clone(), request)
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::DeadlineExceeded, "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(5));

        let nameless = WorkflowService::query_workflow(
            &mut client.clone(),
            Request::new(raw_query(&workflow_id, "")),
        )
        .await
        .unwrap_err();
        assert_eq!(nameless.code(), Code::InvalidArgument);
        let missing = WorkflowService::query_workflow(
            &mut client.clone(),
            Request::new(raw_query("no-such-workflow", "total")),
        )
        .await
        .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound);
        assert_eq!(history(&client, &workflow_id).await.len(), 2, "nothing was written");
    }
}
