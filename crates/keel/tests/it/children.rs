//! Child workflows: results and failures reach the parent, parent close policies decide
//! what becomes of children left running, and a crash loses none of it.

use std::time::Duration;

use temporalio_client::errors::WorkflowGetResultError;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::Request;
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::enums::v1::{EventType, WorkflowExecutionStatus};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::workflowservice::v1::ListWorkflowExecutionsRequest;

use crate::harness::{
    Backend, Server, assert_well_formed, count, describe, event_types, history, on_both_backends,
    unique, wait_for_event, with_worker,
};
use crate::workflows::{Accumulator, ChildPlan, ClosePolicy, Parent};

async fn status(client: &Client, workflow_id: &str) -> i32 {
    describe(client, workflow_id)
        .await
        .workflow_execution_info
        .unwrap()
        .status
}

/// Waits (at most ten seconds) for the workflow to reach `wanted`.
async fn wait_for_status(client: &Client, workflow_id: &str, wanted: WorkflowExecutionStatus) {
    for _ in 0..200 {
        if status(client, workflow_id).await == wanted as i32 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{workflow_id} is {:?}, never {wanted:?}",
        WorkflowExecutionStatus::try_from(status(client, workflow_id).await)
    );
}

async fn run_parent(
    client: &Client,
    queue: &str,
    parent_id: &str,
    child_id: &str,
    plan: ChildPlan,
) -> Result<String, WorkflowGetResultError> {
    let handle = client
        .start_workflow(
            Parent::run,
            (child_id.to_owned(), plan),
            WorkflowStartOptions::new(queue, parent_id).build(),
        )
        .await
        .unwrap();
    handle.get_result(WorkflowGetResultOptions::default()).await
}

on_both_backends! {
    async fn a_parent_gets_its_childs_result_and_the_child_knows_its_parent(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("children");
        let (parent_id, child_id) = (unique("parent"), unique("child"));
        let result = with_worker(&client, &queue, async {
            run_parent(&client, &queue, &parent_id, &child_id, ChildPlan::AwaitGreeting).await
        })
        .await
        .unwrap();
        assert_eq!(result, "hello, child");

        let events = history(&client, &parent_id).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        use EventType::*;
        let order: Vec<EventType> = types
            .iter()
            .copied()
            .filter(|t| {
                matches!(
                    t,
                    StartChildWorkflowExecutionInitiated
                        | ChildWorkflowExecutionStarted
                        | ChildWorkflowExecutionCompleted
                )
            })
            .collect();
        assert_eq!(
            order,
            [
                StartChildWorkflowExecutionInitiated,
                ChildWorkflowExecutionStarted,
                ChildWorkflowExecutionCompleted
            ]
        );
        let completed = events
            .iter()
            .find_map(|e| match &e.attributes {
                Some(Attributes::ChildWorkflowExecutionCompletedEventAttributes(a)) => Some(a),
                _ => None,
            })
            .unwrap();
        let started_id = events[types.iter().position(|t| *t == ChildWorkflowExecutionStarted).unwrap()].event_id;
        assert_eq!(completed.started_event_id, started_id);
        assert_eq!(completed.workflow_execution.as_ref().unwrap().workflow_id, child_id);

        let parent_run = describe(&client, &parent_id).await.workflow_execution_info.unwrap().execution.unwrap();
        let child_info = describe(&client, &child_id).await.workflow_execution_info.unwrap();
        assert_eq!(child_info.parent_execution.as_ref(), Some(&parent_run));
        assert_eq!(child_info.root_execution.as_ref(), Some(&parent_run));
        // Lists show the parent too.
        let listed = WorkflowService::list_workflow_executions(
            &mut client.clone(),
            Request::new(ListWorkflowExecutionsRequest {
                namespace: "default".into(),
                query: format!("WorkflowId = '{child_id}'"),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .into_inner();
        assert_eq!(listed.executions.len(), 1);
        assert_eq!(listed.executions[0].parent_execution.as_ref(), Some(&parent_run));
        let child_events = history(&client, &child_id).await;
        match &child_events[0].attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => {
                assert_eq!(a.parent_workflow_execution.as_ref(), Some(&parent_run));
                assert_eq!(
                    a.parent_initiated_event_id,
                    events[types.iter().position(|t| *t == StartChildWorkflowExecutionInitiated).unwrap()].event_id
                );
            }
            other => panic!("{other:?}"),
        }
    }

    async fn a_failing_child_fails_in_its_parent_and_a_taken_id_fails_to_start(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("child-failures");
        let (parent_id, child_id) = (unique("parent"), unique("child"));
        let taken_id = unique("taken");
        let second_parent = unique("parent");
        let (failed, refused) = with_worker(&client, &queue, async {
            let failed =
                run_parent(&client, &queue, &parent_id, &child_id, ChildPlan::AwaitFailure).await;
            client
                .start_workflow(
                    Accumulator::run,
                    (),
                    WorkflowStartOptions::new(&queue, &taken_id).build(),
                )
                .await
                .unwrap();
            let refused =
                run_parent(&client, &queue, &second_parent, &taken_id, ChildPlan::AwaitGreeting)
                    .await;
            (failed, refused)
        })
        .await;
        let failed = failed.unwrap();
        assert!(failed.starts_with("the child failed"), "{failed}");
        assert!(event_types(&history(&client, &parent_id).await)
            .contains(&EventType::ChildWorkflowExecutionFailed));

        assert!(refused.is_err(), "{refused:?}");
        let events = history(&client, &second_parent).await;
        assert_well_formed(&events);
        let failure = events
            .iter()
            .find_map(|e| match &e.attributes {
                Some(Attributes::StartChildWorkflowExecutionFailedEventAttributes(a)) => Some(a),
                _ => None,
            })
            .expect("the start failed");
        assert_eq!(failure.workflow_id, taken_id);
        assert_eq!(failure.cause, 1, "WORKFLOW_ALREADY_EXISTS");
        assert_eq!(status(&client, &taken_id).await, WorkflowExecutionStatus::Running as i32);
    }

    async fn parent_close_policies_decide_the_fate_of_running_children(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("close-policies");
        let plans = [
            (ClosePolicy::Terminate, WorkflowExecutionStatus::Terminated),
            (ClosePolicy::RequestCancel, WorkflowExecutionStatus::Canceled),
            (ClosePolicy::Abandon, WorkflowExecutionStatus::Running),
        ];
        let children: Vec<String> = plans.iter().map(|_| unique("child")).collect();
        with_worker(&client, &queue, async {
            for ((policy, expected), child_id) in plans.iter().zip(&children) {
                let parent_id = unique("parent");
                let result =
                    run_parent(&client, &queue, &parent_id, child_id, ChildPlan::LeaveBehind(*policy))
                        .await
                        .unwrap();
                assert_eq!(result, "left it running");
                wait_for_status(&client, child_id, *expected).await;
            }
            // The abandoned child really is left alone.
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert_eq!(
                status(&client, &children[2]).await,
                WorkflowExecutionStatus::Running as i32
            );
            client
                .get_workflow_handle::<crate::workflows::CleansUp>(&children[2])
                .terminate(Default::default())
                .await
                .unwrap();
        })
        .await;
        // The cancelled child cleaned up through its activity before closing.
        let cancelled = event_types(&history(&client, &children[1]).await);
        assert!(cancelled.contains(&EventType::WorkflowExecutionCancelRequested));
        assert!(cancelled.contains(&EventType::ActivityTaskCompleted));
        match &history(&client, &children[0]).await.last().unwrap().attributes {
            Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) => {
                assert!(a.reason.contains("parent close policy"), "{}", a.reason);
            }
            other => panic!("{other:?}"),
        }
    }

    async fn a_sigkill_while_a_child_runs_loses_neither_child_nor_result(backend: Backend) {
        let mut server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("crash-children");
        let (parent_id, child_id) = (unique("parent"), unique("child"));
        let result = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Parent::run,
                    (child_id.clone(), ChildPlan::AwaitSleeper(2)),
                    WorkflowStartOptions::new(&queue, &parent_id).build(),
                )
                .await
                .unwrap();
            let exists = format!("WorkflowId = '{child_id}'");
            for _ in 0..200 {
                if count(&client, &exists).await > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            wait_for_event(&client, &child_id, EventType::TimerStarted).await;
            server.restart().await;
            tokio::time::timeout(
                Duration::from_secs(30),
                handle.get_result(WorkflowGetResultOptions::default()),
            )
            .await
            .expect("the parent completes after the restart")
        })
        .await
        .unwrap();
        assert_eq!(result, "2");
        for id in [&parent_id, &child_id] {
            let events = history(&client, id).await;
            assert_well_formed(&events);
        }
        let types = event_types(&history(&client, &parent_id).await);
        assert_eq!(
            types.iter().filter(|t| **t == EventType::ChildWorkflowExecutionCompleted).count(),
            1
        );
        assert_eq!(
            types.iter().filter(|t| **t == EventType::StartChildWorkflowExecutionInitiated).count(),
            1
        );
    }
}
