//! Limits: payloads over the size limit are refused with nothing stored, and a run whose
//! history passes its limit is terminated.

use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::{Code, Request};
use temporalio_client::{WorkflowSignalOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::common::v1::{
    Payload, Payloads, WorkflowExecution, WorkflowType,
};
use temporalio_common::protos::temporal::api::enums::v1::WorkflowExecutionStatus;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    SignalWorkflowExecutionRequest, StartWorkflowExecutionRequest,
};

use crate::harness::{
    Backend, Server, assert_well_formed, count, describe, history, on_both_backends, unique,
    with_worker,
};
use crate::workflows::Accumulator;

fn bytes(n: usize) -> Option<Payloads> {
    Some(Payloads {
        payloads: vec![Payload {
            metadata: [("encoding".to_owned(), b"binary/plain".to_vec())].into(),
            data: vec![7; n],
            ..Default::default()
        }],
    })
}

on_both_backends! {
    async fn payloads_over_the_limit_are_refused_and_nothing_is_stored(backend: Backend) {
        let server = Server::start_with(backend, &["--max-payload-bytes", "1000"]).await;
        let client = server.client().await;
        let workflow_id = unique("too-big");
        let start = |input| StartWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_id: workflow_id.clone(),
            workflow_type: Some(WorkflowType { name: "Accumulator".into() }),
            task_queue: Some(TaskQueue { name: "nobody".into(), ..Default::default() }),
            input,
            request_id: unique("req"),
            ..Default::default()
        };
        let refused = WorkflowService::start_workflow_execution(
            &mut client.clone(),
            Request::new(start(bytes(2000))),
        )
        .await
        .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(refused.message().contains("over the limit of 1000 bytes"), "{}", refused.message());
        assert_eq!(count(&client, &format!("WorkflowId = '{workflow_id}'")).await, 0);

        WorkflowService::start_workflow_execution(&mut client.clone(), Request::new(start(bytes(100))))
            .await
            .unwrap();
        let length = history(&client, &workflow_id).await.len();
        let signal = WorkflowService::signal_workflow_execution(
            &mut client.clone(),
            Request::new(SignalWorkflowExecutionRequest {
                namespace: "default".into(),
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: workflow_id.clone(),
                    run_id: String::new(),
                }),
                signal_name: "add".into(),
                input: bytes(5000),
                ..Default::default()
            }),
        )
        .await
        .unwrap_err();
        assert_eq!(signal.code(), Code::InvalidArgument);
        assert_eq!(history(&client, &workflow_id).await.len(), length, "nothing was written");
    }

    async fn a_run_past_its_history_limit_is_terminated(backend: Backend) {
        let server = Server::start_with(backend, &["--max-history-events", "40"]).await;
        let client = server.client().await;
        let queue = unique("history-limit");
        let workflow_id = unique("accumulator");
        with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(Accumulator::run, (), WorkflowStartOptions::new(&queue, &workflow_id).build())
                .await
                .unwrap();
            for n in 0..60u32 {
                if handle
                    .signal(Accumulator::add, n, WorkflowSignalOptions::default())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        })
        .await;
        let info = describe(&client, &workflow_id).await.workflow_execution_info.unwrap();
        assert_eq!(info.status, WorkflowExecutionStatus::Terminated as i32);
        assert!(info.history_size_bytes > 0);
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        assert!(events.len() <= 46, "terminated soon after the limit: {} events", events.len());
        match &events.last().unwrap().attributes {
            Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) => {
                assert_eq!(a.reason, "Workflow history count exceeds limit.");
            }
            other => panic!("{other:?}"),
        }
        // Each workflow task is told how large the history has grown.
        let sizes: Vec<i64> = events
            .iter()
            .filter_map(|e| match &e.attributes {
                Some(Attributes::WorkflowTaskStartedEventAttributes(a)) => Some(a.history_size_bytes),
                _ => None,
            })
            .collect();
        assert!(sizes.len() > 2);
        assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");
    }
}
