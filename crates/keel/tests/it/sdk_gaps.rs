//! Gaps found by trying the official SDKs' features one by one against Keel and Temporal's
//! dev server side by side; each test states what Temporal does, and Keel must do the same.

use temporalio_client::tonic::codec::CompressionEncoding;
use temporalio_client::tonic::transport::Channel;

use crate::harness::{Backend, Server, on_both_backends};

/// Runs scenarios of `python/sdk_features.py` (the official Python SDK) against `server`;
/// each passes on Temporal's dev server too.
async fn python(server: &Server, scenarios: &[&str]) {
    let mut args = vec![server.grpc_addr.as_str()];
    args.extend(scenarios);
    let stdout = crate::python::run_script("sdk_features.py", &args)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    for scenario in scenarios {
        assert!(
            stdout.contains(&format!("ok {scenario}:")),
            "{scenario} did not report:\n{stdout}"
        );
    }
    println!("{stdout}");
}

on_both_backends! {
    /// Untyped (legacy) search attributes are lists: a list of one is that value, as on
    /// Temporal; and a count `GROUP BY ExecutionStatus` answers a group per status.
    async fn legacy_search_attribute_lists_and_counts_grouped_by_status(backend: Backend) {
        let server = Server::start_on(backend).await;
        python(&server, &["legacy_search_attributes", "count_group_by_status"]).await;
    }
}

on_both_backends! {
    /// A schedule with no spec at all is accepted and runs only when triggered; each run it
    /// starts reads the last completed run's result and a failure since; describe gives
    /// back what create was given, written as Temporal writes it.
    async fn a_schedule_without_a_spec_runs_when_triggered(backend: Backend) {
        let server = Server::start_on(backend).await;
        python(
            &server,
            &[
                "schedule_without_spec",
                "schedule_passes_last_result_and_failure",
                "schedule_describe_round_trip",
                "schedule_search_attributes_update",
            ],
        )
        .await;
    }
}

/// What a run sees of its start: timeouts not given are unset (not zero), and past 4096
/// history events it is told to continue as new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unset_timeouts_and_the_continue_as_new_suggestion() {
    let server = Server::start().await;
    python(&server, &["unset_timeouts", "continue_as_new_suggested"]).await;
}

/// Waiting for an update's result with a short RPC timeout ends in the SDK's timeout error
/// at that timeout (Temporal answers DEADLINE_EXCEEDED), not in polling forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_wait_honours_the_clients_rpc_timeout() {
    let server = Server::start().await;
    python(&server, &["update_result_rpc_timeout"]).await;
}

async fn channel(server: &Server) -> Channel {
    Channel::from_shared(format!("http://{}", server.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Temporal answers gzip-compressed requests on every service it hosts; the standard gRPC
/// health check is what load balancers and the SDKs' `check_health` call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_compressed_requests_are_answered_on_every_service() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let server = Server::start().await;
    let mut health = HealthClient::new(channel(&server).await)
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    for service in ["", "temporal.api.workflowservice.v1.WorkflowService"] {
        let answer = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap_or_else(|status| panic!("health of '{service}': {status}"));
        assert_eq!(answer.into_inner().status(), ServingStatus::Serving);
    }

    use temporalio_common::protos::temporal::api::operatorservice::v1::ListSearchAttributesRequest;
    use temporalio_common::protos::temporal::api::operatorservice::v1::operator_service_client::OperatorServiceClient;
    let mut operator = OperatorServiceClient::new(channel(&server).await)
        .send_compressed(CompressionEncoding::Gzip);
    let listed = operator
        .list_search_attributes(ListSearchAttributesRequest {
            namespace: "default".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.system_attributes.contains_key("WorkflowType"));
}

on_both_backends! {
    /// A delayed start (WorkflowStartDelay, and with signal-with-start) runs after its delay
    /// with the execution time described; a memo the workflow changes shows in describe with
    /// null removing a key; CountSchedules and GetSearchAttributes answer.
    async fn start_delay_memo_upserts_and_small_calls(backend: Backend) {
        let server = Server::start_on(backend).await;
        python(&server, &["start_delay", "memo_upserted_by_the_workflow", "small_calls"]).await;
    }
}

/// Many updates in flight on one run, taking turns on a lock in the workflow, some giving
/// up waiting with a timeout: each gets its answer, as on Temporal. And an update admitted
/// while the run continues as new is handled by the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_in_flight_each_get_their_answer() {
    let server = Server::start().await;
    python(
        &server,
        &[
            "concurrent_updates_on_one_lock",
            "update_during_continue_as_new",
        ],
    )
    .await;
}

on_both_backends! {
    /// Update-with-start (ExecuteMultiOperation) as the Python SDK's
    /// `execute_update_with_start_workflow` uses it: starts and updates in one call, attaches
    /// to the running workflow under USE_EXISTING, refuses it under FAIL with the SDK's
    /// already-started error, keeps the start when the update is rejected, and answers a
    /// repeated update id; plus UpdateWorkflowExecution's own checks (no waiting for
    /// admission only; a first run id of another chain finds nothing).
    async fn update_with_start_and_update_request_checks(backend: Backend) {
        let server = Server::start_on(backend).await;
        python(&server, &["update_with_start", "update_request_checks"]).await;
    }
}

/// Eager workflow start: the first workflow task comes back in the start's answer for the
/// starter's own worker, and the SDK's `request_eager_start` runs the workflow with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eager_start_answers_with_the_first_workflow_task() {
    let server = Server::start().await;
    python(&server, &["eager_workflow_start"]).await;
}
