//! Workflow tasks: failures and their retry, sticky queues and their fallback.

use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::enums::v1::{EventType, TaskQueueKind};
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use crate::harness::{
    Backend, Server, assert_well_formed, event_types, history, on_both_backends, unique,
    wait_for_event, with_worker,
};
use crate::workflows::{PanicsOnce, Sleeper};

fn scheduled_tasks(events: &[HistoryEvent]) -> Vec<(i32, i32)> {
    events
        .iter()
        .filter_map(|e| match e.attributes.as_ref()? {
            Attributes::WorkflowTaskScheduledEventAttributes(a) => {
                Some((a.attempt, a.task_queue.as_ref().map_or(0, |q| q.kind)))
            }
            _ => None,
        })
        .collect()
}

on_both_backends! {
    async fn failed_workflow_task_is_retried_and_the_workflow_completes(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("panics");
        let workflow_id = unique("panics-wf");
        let result = with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    PanicsOnce::run,
                    1u32,
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap()
        })
        .await;
        assert_eq!(result, 42);
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        assert_eq!(
            &types[..6],
            &[
                EventType::WorkflowExecutionStarted,
                EventType::WorkflowTaskScheduled,
                EventType::WorkflowTaskStarted,
                EventType::WorkflowTaskFailed,
                EventType::WorkflowTaskScheduled,
                EventType::WorkflowTaskStarted,
            ]
        );
        match events[3].attributes.as_ref().unwrap() {
            Attributes::WorkflowTaskFailedEventAttributes(a) => {
                let message = &a
                    .failure
                    .as_ref()
                    .expect("the worker's failure is kept")
                    .message;
                assert!(message.contains("deliberate panic"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        // The retry counts attempts on the normal queue.
        assert_eq!(
            scheduled_tasks(&events)[1],
            (2, TaskQueueKind::Normal as i32)
        );
    }
}

on_both_backends! {
    async fn tasks_leave_a_sticky_queue_whose_worker_shut_down(backend: Backend) {
        let server = Server::start_on(backend).await;
        let queue = unique("sticky");
        let workflow_id = unique("sticky-wf");
        // The first worker takes the first task, then shuts down while the timer runs.
        let first = server.client().await;
        with_worker(&first, &queue, async {
            first
                .start_workflow(
                    Sleeper::run,
                    2u64,
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            wait_for_event(&first, &workflow_id, EventType::TimerStarted).await;
        })
        .await;
        // A second worker (another process, as far as the server knows) finishes the run.
        let second = server.client().await;
        let result = with_worker(&second, &queue, async {
            let handle = second.get_workflow_handle::<Sleeper>(&workflow_id);
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap()
        })
        .await;
        assert_eq!(result, 2);
        let events = history(&second, &workflow_id).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        assert!(
            !types.contains(&EventType::WorkflowTaskTimedOut),
            "no wait for a sticky timeout: {types:?}"
        );
        let fired = types
            .iter()
            .position(|t| *t == EventType::TimerFired)
            .unwrap();
        match events[fired + 1].attributes.as_ref().unwrap() {
            Attributes::WorkflowTaskScheduledEventAttributes(a) => {
                assert_eq!(
                    a.task_queue.as_ref().unwrap().kind,
                    TaskQueueKind::Normal as i32,
                    "back on the normal queue"
                );
            }
            other => panic!("expected a workflow task after the timer, got {other:?}"),
        }
    }
}

on_both_backends! {
    async fn retried_workflow_tasks_stay_out_of_history_until_one_completes(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("transient");
        let workflow_id = unique("transient-wf");
        let result = with_worker(&client, &queue, async {
            // The SDK reports only the first failure; the second attempt times out (1 s).
            let options = WorkflowStartOptions::new(&queue, &workflow_id)
                .task_timeout(std::time::Duration::from_secs(1))
                .build();
            let handle = client
                .start_workflow(PanicsOnce::run, 2u32, options)
                .await
                .unwrap();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap()
        })
        .await;
        assert_eq!(result, 42);
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        assert_eq!(
            &types[..7],
            &[
                EventType::WorkflowExecutionStarted,
                EventType::WorkflowTaskScheduled,
                EventType::WorkflowTaskStarted,
                EventType::WorkflowTaskFailed,
                EventType::WorkflowTaskScheduled,
                EventType::WorkflowTaskStarted,
                EventType::WorkflowTaskCompleted,
            ],
            "the timed-out second attempt left no events: {types:?}"
        );
        assert!(!types.contains(&EventType::WorkflowTaskTimedOut));
        assert_eq!(
            scheduled_tasks(&events)[1],
            (3, TaskQueueKind::Normal as i32),
            "attempt 3 is the one written"
        );
    }
}
