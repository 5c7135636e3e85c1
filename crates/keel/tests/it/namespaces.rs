//! Namespaces: default on first start, register, describe, list, update, isolation.

use std::time::Duration;

use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::{Code, Request};
use temporalio_common::protos::temporal::api::common::v1::WorkflowType;
use temporalio_common::protos::temporal::api::namespace::v1::UpdateNamespaceInfo;
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, DescribeNamespaceRequest, ListNamespacesRequest,
    RegisterNamespaceRequest, StartWorkflowExecutionRequest, UpdateNamespaceRequest,
};

use crate::harness::{Backend, Server, on_both_backends, unique};

on_both_backends! {
    async fn namespaces_are_registered_described_updated_and_isolated(backend: Backend) {
        let mut server = Server::start_on(backend).await;
        let client = server.client().await;
        let mut service = client.clone();

        let describe = |name: &str| DescribeNamespaceRequest {
            namespace: name.into(),
            ..Default::default()
        };
        let default =
            WorkflowService::describe_namespace(&mut service, Request::new(describe("default")))
                .await
                .unwrap()
                .into_inner();
        assert_eq!(default.namespace_info.unwrap().name, "default");
        assert!(
            default.replication_config.is_some(),
            "clients dereference the replication config"
        );

        let register = RegisterNamespaceRequest {
            namespace: "orders".into(),
            description: "order processing".into(),
            workflow_execution_retention_period: Some(prost_wkt_types::Duration {
                seconds: 7 * 86400,
                nanos: 0,
            }),
            ..Default::default()
        };
        WorkflowService::register_namespace(&mut service, Request::new(register.clone()))
            .await
            .unwrap();
        let error = WorkflowService::register_namespace(&mut service, Request::new(register))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::AlreadyExists);
        let bad_name = RegisterNamespaceRequest {
            namespace: "no spaces/allowed".into(),
            ..Default::default()
        };
        let error = WorkflowService::register_namespace(&mut service, Request::new(bad_name))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);

        let update = UpdateNamespaceRequest {
            namespace: "orders".into(),
            update_info: Some(UpdateNamespaceInfo {
                description: "orders, v2".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        WorkflowService::update_namespace(&mut service, Request::new(update))
            .await
            .unwrap();

        let error =
            WorkflowService::describe_namespace(&mut service, Request::new(describe("nowhere")))
                .await
                .unwrap_err();
        assert_eq!(error.code(), Code::NotFound);

        let start = StartWorkflowExecutionRequest {
            namespace: "orders".into(),
            workflow_id: unique("order"),
            workflow_type: Some(WorkflowType {
                name: "Greeting".into(),
            }),
            task_queue: Some(TaskQueue {
                name: "orders-queue".into(),
                ..Default::default()
            }),
            request_id: "r1".into(),
            ..Default::default()
        };
        WorkflowService::start_workflow_execution(&mut service, Request::new(start))
            .await
            .unwrap();
        let count = |namespace: &str| CountWorkflowExecutionsRequest {
            namespace: namespace.into(),
            query: String::new(),
        };
        assert_eq!(
            WorkflowService::count_workflow_executions(&mut service, Request::new(count("orders")))
                .await
                .unwrap()
                .into_inner()
                .count,
            1
        );
        assert_eq!(
            WorkflowService::count_workflow_executions(&mut service, Request::new(count("default")))
                .await
                .unwrap()
                .into_inner()
                .count,
            0
        );

        // Namespaces are durable.
        server.restart().await;
        let mut service = server.client().await;
        let orders =
            WorkflowService::describe_namespace(&mut service, Request::new(describe("orders")))
                .await
                .unwrap()
                .into_inner();
        let info = orders.namespace_info.unwrap();
        assert_eq!(info.description, "orders, v2");
        assert_eq!(
            orders
                .config
                .unwrap()
                .workflow_execution_retention_ttl
                .unwrap()
                .seconds,
            Duration::from_secs(7 * 86400).as_secs() as i64
        );
        let listed = WorkflowService::list_namespaces(
            &mut service,
            Request::new(ListNamespacesRequest::default()),
        )
        .await
        .unwrap()
        .into_inner();
        let names: Vec<String> = listed
            .namespaces
            .into_iter()
            .map(|n| n.namespace_info.unwrap().name)
            .collect();
        assert_eq!(names, vec!["default".to_owned(), "orders".to_owned()]);
    }
}
