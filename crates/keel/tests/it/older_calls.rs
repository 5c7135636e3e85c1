//! Calls older SDKs and tools still make: reverse history, the open/closed listings, scan,
//! and deleting an execution.

use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::{Code, Request};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::filter::v1::{
    WorkflowExecutionFilter, WorkflowTypeFilter,
};
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DeleteWorkflowExecutionRequest, GetWorkflowExecutionHistoryReverseRequest,
    ListClosedWorkflowExecutionsRequest, ListOpenWorkflowExecutionsRequest,
    ScanWorkflowExecutionsRequest, list_closed_workflow_executions_request,
    list_open_workflow_executions_request,
};

use crate::harness::{Backend, Server, history, on_both_backends, unique, with_worker};
use crate::workflows::{Accumulator, Greeting};

fn execution(workflow_id: &str) -> Option<WorkflowExecution> {
    Some(WorkflowExecution {
        workflow_id: workflow_id.into(),
        run_id: String::new(),
    })
}

on_both_backends! {
    async fn older_listing_and_history_calls_answer_like_the_newer_ones(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("older-calls");
        let (done, open) = (unique("done"), unique("open"));
        with_worker(&client, &queue, async {
            client
                .start_workflow(Greeting::run, "old".to_owned(), WorkflowStartOptions::new(&queue, &done).build())
                .await
                .unwrap()
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();
        })
        .await;
        client
            .start_workflow(Accumulator::run, (), WorkflowStartOptions::new(&queue, &open).build())
            .await
            .unwrap();

        // Reverse history, two events a page, is the history backwards.
        let forward = history(&client, &done).await;
        let mut backward = Vec::new();
        let mut token = Vec::new();
        loop {
            let page = WorkflowService::get_workflow_execution_history_reverse(
                &mut client.clone(),
                Request::new(GetWorkflowExecutionHistoryReverseRequest {
                    namespace: "default".into(),
                    execution: execution(&done),
                    maximum_page_size: 2,
                    next_page_token: token,
                }),
            )
            .await
            .unwrap()
            .into_inner();
            let events = page.history.unwrap().events;
            assert!(events.len() <= 2);
            backward.extend(events);
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        backward.reverse();
        assert_eq!(backward, forward);

        let open_ids = |executions: &[temporalio_common::protos::temporal::api::workflow::v1::WorkflowExecutionInfo]| {
            executions
                .iter()
                .map(|e| e.execution.as_ref().unwrap().workflow_id.clone())
                .collect::<Vec<_>>()
        };
        let listed_open = WorkflowService::list_open_workflow_executions(
            &mut client.clone(),
            Request::new(ListOpenWorkflowExecutionsRequest {
                namespace: "default".into(),
                maximum_page_size: 100,
                filters: Some(list_open_workflow_executions_request::Filters::TypeFilter(
                    WorkflowTypeFilter { name: "Accumulator".into() },
                )),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .into_inner();
        assert!(open_ids(&listed_open.executions).contains(&open));
        assert!(!open_ids(&listed_open.executions).contains(&done));
        let listed_closed = WorkflowService::list_closed_workflow_executions(
            &mut client.clone(),
            Request::new(ListClosedWorkflowExecutionsRequest {
                namespace: "default".into(),
                maximum_page_size: 100,
                filters: Some(list_closed_workflow_executions_request::Filters::ExecutionFilter(
                    WorkflowExecutionFilter { workflow_id: done.clone(), run_id: String::new() },
                )),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .into_inner();
        assert_eq!(open_ids(&listed_closed.executions), [done.as_str()]);
        let scanned = WorkflowService::scan_workflow_executions(
            &mut client.clone(),
            Request::new(ScanWorkflowExecutionsRequest {
                namespace: "default".into(),
                query: format!("WorkflowId = '{open}'"),
                page_size: 10,
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .into_inner();
        assert_eq!(open_ids(&scanned.executions), [open.as_str()]);
    }

    async fn deleting_an_execution_removes_it_and_frees_its_id(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("delete");
        let workflow_id = unique("doomed");
        client
            .start_workflow(Accumulator::run, (), WorkflowStartOptions::new(&queue, &workflow_id).build())
            .await
            .unwrap();
        let delete = || {
            let mut client = client.clone();
            let request = Request::new(DeleteWorkflowExecutionRequest {
                namespace: "default".into(),
                workflow_execution: execution(&workflow_id),
                ..Default::default()
            });
            async move { WorkflowService::delete_workflow_execution(&mut client, request).await }
        };
        // A running execution is terminated, then deleted.
        delete().await.unwrap();
        let gone = WorkflowService::get_workflow_execution_history_reverse(
            &mut client.clone(),
            Request::new(GetWorkflowExecutionHistoryReverseRequest {
                namespace: "default".into(),
                execution: execution(&workflow_id),
                ..Default::default()
            }),
        )
        .await
        .unwrap_err();
        assert_eq!(gone.code(), Code::NotFound);
        assert_eq!(delete().await.unwrap_err().code(), Code::NotFound);
        assert_eq!(
            crate::harness::count(&client, &format!("WorkflowId = '{workflow_id}'")).await,
            0
        );
        // The id is free again.
        client
            .start_workflow(Accumulator::run, (), WorkflowStartOptions::new(&queue, &workflow_id).build())
            .await
            .unwrap();
    }
}
