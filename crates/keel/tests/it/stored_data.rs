//! What is stored must stay readable, and what is not must be named, not hidden: one run
//! whose stored state does not decode is data loss for that run only.

use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::{Code, Request};
use temporalio_client::{WorkflowGetResultOptions, WorkflowSignalOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeWorkflowExecutionRequest;

use crate::harness::{Backend, Server, count, on_both_backends, unique, with_worker};
use crate::rest_client::Rest;
use crate::workflows::Accumulator;

on_both_backends! {
    /// Garbles one run's stored state behind a stopped server: the server still starts, the
    /// other runs complete, lists still show the broken run, opening it answers DATA_LOSS
    /// (REST: 500) naming it, and `keel doctor` names it and fails.
    async fn an_undecodable_run_is_named_and_the_others_are_served(backend: Backend) {
        let mut server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("stored");
        let healthy: Vec<String> = (0..3).map(|i| unique(&format!("healthy-{i}"))).collect();
        let broken = unique("broken");
        for id in healthy.iter().chain([&broken]) {
            client
                .start_workflow(Accumulator::run, (), WorkflowStartOptions::new(&queue, id).build())
                .await
                .unwrap();
        }

        server.kill().await;
        let garbage = match backend {
            Backend::Sqlite => "X'C101FFFF'",
            Backend::Postgres => "decode('C101FFFF', 'hex')",
        };
        server
            .run_sql(&format!("UPDATE executions SET state = {garbage} WHERE workflow_id = '{broken}'"))
            .await;
        server.restart().await;

        with_worker(&client, &queue, async {
            for id in &healthy {
                let handle = client.get_workflow_handle::<Accumulator>(id);
                handle
                    .signal(Accumulator::finish, (), WorkflowSignalOptions::default())
                    .await
                    .unwrap();
                let result = handle.get_result(WorkflowGetResultOptions::default()).await.unwrap();
                assert_eq!(result, (0, 0));
            }
        })
        .await;

        let describe = DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution { workflow_id: broken.clone(), run_id: String::new() }),
            ..Default::default()
        };
        let refused = WorkflowService::describe_workflow_execution(&mut client.clone(), Request::new(describe))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::DataLoss, "{refused}");
        assert!(refused.message().contains(&broken), "{refused}");
        let signal = client
            .get_workflow_handle::<Accumulator>(&broken)
            .signal(Accumulator::finish, (), WorkflowSignalOptions::default())
            .await
            .unwrap_err();
        assert!(signal.to_string().contains(&broken), "{signal}");

        assert_eq!(count(&client, "").await, 4);
        assert_eq!(count(&client, "ExecutionStatus = 'Running'").await, 1);
        let rest = Rest::new(&server.http_addr);
        let listed = rest.ok("/api/v1/executions").await;
        let ids: Vec<&str> = listed["executions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| run["workflow_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 4, "{listed}");
        assert!(ids.contains(&broken.as_str()), "{listed}");
        let opened = rest.get(&format!("/api/v1/executions/{broken}")).await;
        assert_eq!(opened.error_code(500), "data_loss");
        assert!(opened.json()["error"]["message"].as_str().unwrap().contains(&broken));

        let doctor = server.store_command("doctor").output().unwrap();
        assert!(!doctor.status.success(), "doctor must fail on a broken row");
        let stdout = String::from_utf8_lossy(&doctor.stdout);
        let named: Vec<&str> = stdout.lines().collect();
        assert_eq!(named.len(), 1, "{stdout}");
        assert!(named[0].contains(&broken) && named[0].contains("state"), "{stdout}");
        let stderr = String::from_utf8_lossy(&doctor.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("1 stored row"), "{stderr}");

        server.run_sql(&format!("DELETE FROM executions WHERE workflow_id = '{broken}'")).await;
        let doctor = server.store_command("doctor").output().unwrap();
        assert!(doctor.status.success(), "{}", String::from_utf8_lossy(&doctor.stderr));
    }
}
