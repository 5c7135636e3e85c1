//! List, count, describe and history agree with what ran.

use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::{Code, Request};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::enums::v1::{
    PendingActivityState, TaskQueueType, WorkflowExecutionStatus,
};
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, DescribeTaskQueueRequest, ListWorkflowExecutionsRequest,
};

use crate::harness::{Backend, Server, describe, history, on_both_backends, unique, with_worker};
use crate::workflows::{Greeting, LongActivity};

on_both_backends! {
    async fn list_count_describe_and_history_agree_with_reality(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("visibility");
        let greeted: Vec<String> = (0..3).map(|i| unique(&format!("greet-{i}"))).collect();
        let long_id = unique("long");
        let mut service = client.clone();
        with_worker(&client, &queue, async {
            for id in &greeted {
                let handle = client
                    .start_workflow(
                        Greeting::run,
                        id.clone(),
                        WorkflowStartOptions::new(&queue, id).build(),
                    )
                    .await
                    .unwrap();
                handle
                    .get_result(WorkflowGetResultOptions::default())
                    .await
                    .unwrap();
            }
            // One workflow stays running inside a long activity while we look.
            client
                .start_workflow(
                    LongActivity::run,
                    4000u64,
                    WorkflowStartOptions::new(&queue, &long_id).build(),
                )
                .await
                .unwrap();
            let mut described = describe(&client, &long_id).await;
            for _ in 0..100 {
                if described
                    .pending_activities
                    .first()
                    .is_some_and(|a| a.state == PendingActivityState::Started as i32)
                {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                described = describe(&client, &long_id).await;
            }
            let activity = described
                .pending_activities
                .first()
                .expect("a pending activity");
            assert_eq!(activity.state, PendingActivityState::Started as i32);
            assert_eq!(activity.attempt, 1);
            assert_eq!(
                activity.activity_type.as_ref().unwrap().name,
                "TestActivities::sleep_millis"
            );
            assert_eq!(
                described.workflow_execution_info.as_ref().unwrap().status,
                WorkflowExecutionStatus::Running as i32
            );

            let pollers = WorkflowService::describe_task_queue(
                &mut service,
                Request::new(DescribeTaskQueueRequest {
                    namespace: "default".into(),
                    task_queue: Some(TaskQueue {
                        name: queue.clone(),
                        ..Default::default()
                    }),
                    task_queue_type: TaskQueueType::Activity as i32,
                    ..Default::default()
                }),
            )
            .await
            .unwrap()
            .into_inner()
            .pollers;
            assert!(
                !pollers.is_empty(),
                "the worker polls activities on its queue"
            );
            assert!(
                pollers
                    .iter()
                    .all(|p| p.last_access_time.is_some() && !p.identity.is_empty())
            );

            let list = |query: String| {
                let mut service = client.clone();
                async move {
                    WorkflowService::list_workflow_executions(
                        &mut service,
                        Request::new(ListWorkflowExecutionsRequest {
                            namespace: "default".into(),
                            query,
                            ..Default::default()
                        }),
                    )
                    .await
                    .map(|r| r.into_inner().executions)
                }
            };
            let completed = list(format!(
                "TaskQueue = '{queue}' AND ExecutionStatus = 'Completed' ORDER BY StartTime ASC"
            ))
            .await
            .unwrap();
            let ids: Vec<&str> = completed
                .iter()
                .map(|e| e.execution.as_ref().unwrap().workflow_id.as_str())
                .collect();
            assert_eq!(
                ids,
                greeted.iter().map(String::as_str).collect::<Vec<_>>(),
                "oldest first, as ordered"
            );
            for execution in &completed {
                let workflow_id = &execution.execution.as_ref().unwrap().workflow_id;
                assert_eq!(
                    execution.history_length,
                    history(&client, workflow_id).await.len() as i64
                );
                assert!(execution.close_time.is_some());
            }
            let running = list(format!(
                "TaskQueue = '{queue}' AND ExecutionStatus = 'Running'"
            ))
            .await
            .unwrap();
            assert_eq!(running.len(), 1);
            assert_eq!(running[0].execution.as_ref().unwrap().workflow_id, long_id);
            let either = list(format!(
                "WorkflowId = '{}' OR WorkflowId = '{long_id}'",
                greeted[0]
            ))
            .await
            .unwrap();
            assert_eq!(either.len(), 2);

            let count = |query: String| {
                let mut service = client.clone();
                async move {
                    WorkflowService::count_workflow_executions(
                        &mut service,
                        Request::new(CountWorkflowExecutionsRequest {
                            namespace: "default".into(),
                            query,
                        }),
                    )
                    .await
                    .unwrap()
                    .into_inner()
                    .count
                }
            };
            assert_eq!(count(format!("TaskQueue = '{queue}'")).await, 4);
            assert_eq!(
                count(format!(
                    "TaskQueue = '{queue}' AND WorkflowType = 'Greeting'"
                ))
                .await,
                3
            );
            assert_eq!(
                count(format!(
                    "TaskQueue = '{queue}' AND StartTime > '2000-01-01T00:00:00Z'"
                ))
                .await,
                4
            );
            assert_eq!(
                count(format!(
                    "TaskQueue = '{queue}' AND CloseTime < '2000-01-01T00:00:00Z'"
                ))
                .await,
                0
            );

            let error = list("ExecutionStatus = 'Runing'".into()).await.unwrap_err();
            assert_eq!(error.code(), Code::InvalidArgument);
            assert!(
                error.message().contains("Runing"),
                "the error names the bad value: {}",
                error.message()
            );

            let handle = client.get_workflow_handle::<LongActivity>(&long_id);
            assert_eq!(
                handle
                    .get_result(WorkflowGetResultOptions::default())
                    .await
                    .unwrap(),
                4000
            );
        })
        .await;
    }
}

on_both_backends! {
    async fn history_pages_and_health_checks(backend: Backend) {
        use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
        use temporalio_common::protos::temporal::api::workflowservice::v1::GetWorkflowExecutionHistoryRequest;

        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("pages");
        let workflow_id = unique("pages-wf");
        with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Greeting::run,
                    "pages".to_owned(),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();
        })
        .await;
        let whole = history(&client, &workflow_id).await;
        let mut paged = Vec::new();
        let mut pages = 0;
        let mut next_page_token = Vec::new();
        loop {
            let request = GetWorkflowExecutionHistoryRequest {
                namespace: "default".into(),
                execution: Some(WorkflowExecution {
                    workflow_id: workflow_id.clone(),
                    run_id: String::new(),
                }),
                maximum_page_size: 4,
                next_page_token: next_page_token.clone(),
                ..Default::default()
            };
            let page = WorkflowService::get_workflow_execution_history(
                &mut client.clone(),
                Request::new(request),
            )
            .await
            .unwrap()
            .into_inner();
            let events = page.history.unwrap_or_default().events;
            assert!(events.len() <= 4, "a page holds at most the page size");
            paged.extend(events);
            pages += 1;
            if page.next_page_token.is_empty() {
                break;
            }
            next_page_token = page.next_page_token;
        }
        assert_eq!(paged, whole, "pages concatenate to the whole history");
        assert_eq!(pages, whole.len().div_ceil(4));
        let bad_token = GetWorkflowExecutionHistoryRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: workflow_id.clone(),
                run_id: String::new(),
            }),
            next_page_token: b"garbage".to_vec(),
            ..Default::default()
        };
        let error = WorkflowService::get_workflow_execution_history(
            &mut client.clone(),
            Request::new(bad_token),
        )
        .await
        .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);

        let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.grpc_addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        for service in ["", "temporal.api.workflowservice.v1.WorkflowService"] {
            let answer = health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                answer.status,
                tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
                "{service:?}"
            );
        }
    }
}
