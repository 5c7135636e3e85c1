//! Signals, cancellation requests and termination, from clients and from other workflows.

use std::time::Duration;

use temporalio_client::errors::{WorkflowGetResultError, WorkflowInteractionError};
use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::{Code, Request};
use temporalio_client::{
    WorkflowCancelOptions, WorkflowGetResultOptions, WorkflowSignalOptions, WorkflowStartOptions,
    WorkflowTerminateOptions,
};
use temporalio_common::protos::temporal::api::common::v1::{WorkflowExecution, WorkflowType};
use temporalio_common::protos::temporal::api::enums::v1::{EventType, WorkflowExecutionStatus};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    SignalWithStartWorkflowExecutionRequest, SignalWorkflowExecutionRequest,
};

use crate::harness::{
    Backend, Server, assert_well_formed, describe, event_types, history, on_both_backends, unique,
    wait_for_event, with_worker,
};
use crate::workflows::{Accumulator, CleansUp, Messenger};

fn signal_request(workflow_id: &str, name: &str) -> SignalWorkflowExecutionRequest {
    SignalWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: Some(WorkflowExecution {
            workflow_id: workflow_id.into(),
            run_id: String::new(),
        }),
        signal_name: name.into(),
        ..Default::default()
    }
}

fn signal_with_start(
    workflow_id: &str,
    queue: &str,
    n: u32,
) -> SignalWithStartWorkflowExecutionRequest {
    SignalWithStartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: workflow_id.into(),
        workflow_type: Some(WorkflowType {
            name: "Accumulator".into(),
        }),
        task_queue: Some(TaskQueue {
            name: queue.into(),
            ..Default::default()
        }),
        signal_name: "add".into(),
        signal_input: Some(payloads_of(n)),
        request_id: unique("req"),
        ..Default::default()
    }
}

/// A number as the SDK's default converter encodes it (JSON).
fn payloads_of(n: u32) -> temporalio_common::protos::temporal::api::common::v1::Payloads {
    use temporalio_common::protos::temporal::api::common::v1::{Payload, Payloads};
    Payloads {
        payloads: vec![Payload {
            metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
            data: n.to_string().into_bytes(),
            ..Default::default()
        }],
    }
}

fn count_of(types: &[EventType], wanted: EventType) -> usize {
    types.iter().filter(|t| **t == wanted).count()
}

on_both_backends! {
    async fn a_workflow_driven_by_signals_adds_up_what_it_is_sent(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("signals");
        let workflow_id = unique("accumulator");
        let result = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Accumulator::run,
                    (),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            for n in [1, 2, 3] {
                handle
                    .signal(Accumulator::add, n, WorkflowSignalOptions::default())
                    .await
                    .unwrap();
            }
            // A client retrying a signal (same request id) is heard once.
            let retried = WorkflowSignalOptions::builder()
                .request_id("the-same-request".to_owned())
                .build();
            for _ in 0..2 {
                handle
                    .signal(Accumulator::add, 10, retried.clone())
                    .await
                    .unwrap();
            }
            handle
                .signal(Accumulator::finish, (), WorkflowSignalOptions::default())
                .await
                .unwrap();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap()
        })
        .await;
        assert_eq!(result, (16, 4));
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        assert_eq!(count_of(&types, EventType::WorkflowExecutionSignaled), 5);
        let names: Vec<String> = events
            .iter()
            .filter_map(|e| match &e.attributes {
                Some(Attributes::WorkflowExecutionSignaledEventAttributes(a)) => {
                    Some(a.signal_name.clone())
                }
                _ => None,
            })
            .collect();
        assert_eq!(names, ["add", "add", "add", "add", "finish"]);
        assert_eq!(types.last(), Some(&EventType::WorkflowExecutionCompleted));
    }

    async fn signal_with_start_starts_once_then_signals_the_running_run(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("signal-with-start");
        let workflow_id = unique("accumulator");
        // No worker yet: the first call starts the run, the second finds it running.
        let first = WorkflowService::signal_with_start_workflow_execution(
            &mut client.clone(),
            Request::new(signal_with_start(&workflow_id, &queue, 5)),
        )
        .await
        .unwrap()
        .into_inner();
        assert!(first.started);
        let second = WorkflowService::signal_with_start_workflow_execution(
            &mut client.clone(),
            Request::new(signal_with_start(&workflow_id, &queue, 6)),
        )
        .await
        .unwrap()
        .into_inner();
        assert!(!second.started);
        assert_eq!(second.run_id, first.run_id);
        let types = event_types(&history(&client, &workflow_id).await);
        use EventType::*;
        assert_eq!(
            types,
            [
                WorkflowExecutionStarted,
                WorkflowExecutionSignaled,
                WorkflowTaskScheduled,
                WorkflowExecutionSignaled
            ]
        );
        let result = with_worker(&client, &queue, async {
            let handle = client.get_workflow_handle::<Accumulator>(&workflow_id);
            handle
                .signal(Accumulator::finish, (), WorkflowSignalOptions::default())
                .await
                .unwrap();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap()
        })
        .await;
        assert_eq!(result, (11, 2));
    }

    async fn signals_to_missing_or_closed_workflows_are_refused_clearly(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("refused-signals");
        let workflow_id = unique("accumulator");
        let missing = WorkflowService::signal_workflow_execution(
            &mut client.clone(),
            Request::new(signal_request("nobody-has-this-id", "add")),
        )
        .await
        .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
        with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Accumulator::run,
                    (),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            let nameless = WorkflowService::signal_workflow_execution(
                &mut client.clone(),
                Request::new(signal_request(&workflow_id, "")),
            )
            .await
            .unwrap_err();
            assert_eq!(nameless.code(), Code::InvalidArgument);
            assert!(nameless.message().contains("SignalName"), "{}", nameless.message());
            handle
                .signal(Accumulator::finish, (), WorkflowSignalOptions::default())
                .await
                .unwrap();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();
        })
        .await;
        let length = history(&client, &workflow_id).await.len();
        let late = WorkflowService::signal_workflow_execution(
            &mut client.clone(),
            Request::new(signal_request(&workflow_id, "add")),
        )
        .await
        .unwrap_err();
        assert_eq!(late.code(), Code::NotFound);
        assert!(late.message().contains("already completed"), "{}", late.message());
        assert_eq!(history(&client, &workflow_id).await.len(), length, "nothing was written");
    }

    async fn a_cancelled_workflow_cleans_up_through_an_activity_and_closes_as_canceled(
        backend: Backend,
    ) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("cancel");
        let workflow_id = unique("cleans-up");
        let result = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    CleansUp::run,
                    (),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            wait_for_event(&client, &workflow_id, EventType::WorkflowTaskCompleted).await;
            let cancel = WorkflowCancelOptions::builder().reason("tidy up").build();
            handle.cancel(cancel.clone()).await.unwrap();
            // Asking twice is harmless.
            handle.cancel(cancel).await.unwrap();
            handle.get_result(WorkflowGetResultOptions::default()).await
        })
        .await;
        assert!(
            matches!(result, Err(WorkflowGetResultError::Cancelled { .. })),
            "{result:?}"
        );
        assert_eq!(
            describe(&client, &workflow_id).await.workflow_execution_info.unwrap().status,
            WorkflowExecutionStatus::Canceled as i32
        );
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        use EventType::*;
        assert_eq!(count_of(&types, WorkflowExecutionCancelRequested), 1);
        let requested = types.iter().position(|t| *t == WorkflowExecutionCancelRequested).unwrap();
        let cleaned = types.iter().position(|t| *t == ActivityTaskCompleted).unwrap();
        assert!(requested < cleaned, "{types:?}");
        assert_eq!(types.last(), Some(&WorkflowExecutionCanceled));
        match &events[requested].attributes {
            Some(Attributes::WorkflowExecutionCancelRequestedEventAttributes(a)) => {
                assert_eq!(a.cause, "tidy up");
                assert_eq!(a.identity, "keel-it");
            }
            other => panic!("{other:?}"),
        }
        let late = client
            .get_workflow_handle::<CleansUp>(&workflow_id)
            .cancel(WorkflowCancelOptions::default())
            .await;
        assert!(
            matches!(late, Err(WorkflowInteractionError::NotFound(_))),
            "{late:?}"
        );
    }

    async fn a_workflow_signals_and_cancels_other_workflows(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("external");
        let target = unique("target");
        let victim = unique("victim");
        let messenger = unique("messenger");
        let (missing_failed, total) = with_worker(&client, &queue, async {
            let options = |id: &str| WorkflowStartOptions::new(&queue, id).build();
            let target_handle = client
                .start_workflow(Accumulator::run, (), options(&target))
                .await
                .unwrap();
            let victim_handle = client
                .start_workflow(CleansUp::run, (), options(&victim))
                .await
                .unwrap();
            let messenger_handle = client
                .start_workflow(
                    Messenger::run,
                    (target.clone(), victim.clone()),
                    options(&messenger),
                )
                .await
                .unwrap();
            let missing_failed = messenger_handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();
            let total = target_handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();
            let victim_result = victim_handle
                .get_result(WorkflowGetResultOptions::default())
                .await;
            assert!(
                matches!(victim_result, Err(WorkflowGetResultError::Cancelled { .. })),
                "{victim_result:?}"
            );
            (missing_failed, total)
        })
        .await;
        assert!(missing_failed, "signalling a missing workflow must fail");
        assert_eq!(total, (7, 1));

        let events = history(&client, &messenger).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        use EventType::*;
        assert_eq!(count_of(&types, SignalExternalWorkflowExecutionInitiated), 3);
        assert_eq!(count_of(&types, ExternalWorkflowExecutionSignaled), 2);
        assert_eq!(count_of(&types, SignalExternalWorkflowExecutionFailed), 1);
        assert_eq!(count_of(&types, RequestCancelExternalWorkflowExecutionInitiated), 1);
        assert_eq!(count_of(&types, ExternalWorkflowExecutionCancelRequested), 1);
        assert_eq!(types.last(), Some(&WorkflowExecutionCompleted));

        // The receivers know who sent what.
        let messenger_run = describe(&client, &messenger)
            .await
            .workflow_execution_info
            .unwrap()
            .execution
            .unwrap()
            .run_id;
        for event in history(&client, &target).await {
            if let Some(Attributes::WorkflowExecutionSignaledEventAttributes(a)) = event.attributes {
                let sender = a.external_workflow_execution.expect("sender named");
                assert_eq!(sender.workflow_id, messenger);
                assert_eq!(sender.run_id, messenger_run);
            }
        }
        let victim_events = history(&client, &victim).await;
        let request = victim_events
            .iter()
            .find_map(|e| match &e.attributes {
                Some(Attributes::WorkflowExecutionCancelRequestedEventAttributes(a)) => Some(a),
                _ => None,
            })
            .expect("the victim was asked to cancel");
        // The SDK words the reason itself, around what the workflow gave.
        assert!(request.cause.contains("the messenger says stop"), "{}", request.cause);
        assert_eq!(
            request.external_workflow_execution.as_ref().unwrap().workflow_id,
            messenger
        );
        assert!(request.external_initiated_event_id > 0);
    }

    async fn terminate_closes_a_running_workflow_and_records_why(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("terminate");
        let workflow_id = unique("accumulator");
        let handle = client
            .start_workflow(
                Accumulator::run,
                (),
                WorkflowStartOptions::new(&queue, &workflow_id).build(),
            )
            .await
            .unwrap();
        let terminate = WorkflowTerminateOptions::builder()
            .reason("operator decision")
            .details(payloads_of(42))
            .build();
        handle.terminate(terminate.clone()).await.unwrap();
        let result = handle.get_result(WorkflowGetResultOptions::default()).await;
        assert!(
            matches!(result, Err(WorkflowGetResultError::Terminated { .. })),
            "{result:?}"
        );
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        match &events.last().unwrap().attributes {
            Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) => {
                assert_eq!(a.reason, "operator decision");
                assert_eq!(a.details, Some(payloads_of(42)));
                assert_eq!(a.identity, "keel-it");
            }
            other => panic!("{other:?}"),
        }
        let again = handle.terminate(terminate).await;
        assert!(matches!(again, Err(WorkflowInteractionError::NotFound(_))), "{again:?}");
    }

    async fn signals_sent_while_no_worker_polls_survive_a_sigkill(backend: Backend) {
        let mut server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("crash-signals");
        let workflow_id = unique("accumulator");
        let handle = client
            .start_workflow(
                Accumulator::run,
                (),
                WorkflowStartOptions::new(&queue, &workflow_id).build(),
            )
            .await
            .unwrap();
        for n in [4, 5, 6] {
            handle
                .signal(Accumulator::add, n, WorkflowSignalOptions::default())
                .await
                .unwrap();
        }
        handle
            .signal(Accumulator::finish, (), WorkflowSignalOptions::default())
            .await
            .unwrap();
        server.restart().await;
        let result = with_worker(&client, &queue, async {
            tokio::time::timeout(
                Duration::from_secs(30),
                handle.get_result(WorkflowGetResultOptions::default()),
            )
            .await
            .expect("the workflow completes after the restart")
            .unwrap()
        })
        .await;
        assert_eq!(result, (15, 3));
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        assert_eq!(
            count_of(&event_types(&events), EventType::WorkflowExecutionSignaled),
            4
        );
    }
}
