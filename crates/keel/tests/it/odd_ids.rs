//! Workflow ids with quotes, backslashes and LIKE wildcards in them are found exactly — no
//! more, no fewer — through every path that lists or counts: the newer and older gRPC
//! listing calls, and the REST list, count and bulk routes.

use serde_json::json;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::Request;
use temporalio_client::{WorkflowStartOptions, WorkflowTerminateOptions};
use temporalio_common::protos::temporal::api::filter::v1::WorkflowExecutionFilter;
use temporalio_common::protos::temporal::api::workflow::v1::WorkflowExecutionInfo;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    ListClosedWorkflowExecutionsRequest, ListOpenWorkflowExecutionsRequest,
    ListWorkflowExecutionsRequest, list_closed_workflow_executions_request,
    list_open_workflow_executions_request,
};

use crate::harness::{Backend, Server, count, on_both_backends, unique};
use crate::rest_client::Rest;
use crate::workflows::Accumulator;

/// Each odd id, and a decoy a mis-quoted or unescaped filter would also match.
const ODD_IDS: &[(&str, &str)] = &[
    ("a\\b", "a"),
    ("it's", "it"),
    ("x'--", "x"),
    ("say \"hi\"", "say "),
    ("100%_done", "100 to done"),
    ("ORDER BY me", "ORDER"),
];

/// Percent-encodes everything but letters and digits.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A string literal of the list-filter language.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn ids(executions: &[WorkflowExecutionInfo]) -> Vec<String> {
    executions
        .iter()
        .map(|e| e.execution.as_ref().unwrap().workflow_id.clone())
        .collect()
}

fn rest_ids(page: &serde_json::Value) -> Vec<String> {
    page["executions"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|e| e["workflow_id"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends! {
    async fn odd_workflow_ids_are_matched_exactly_by_every_listing(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let rest = Rest::new(&server.http_addr);
        // Each run of this test gets its own ids: a suffix a prefix search still ends in.
        let tag = unique("");
        let named = |id: &str| format!("{id}{tag}");
        let queue = unique("odd-ids");
        for (odd, decoy) in ODD_IDS {
            for id in [named(odd), named(decoy)] {
                client
                    .start_workflow(Accumulator::run, (), WorkflowStartOptions::new(&queue, &id).build())
                    .await
                    .unwrap();
            }
        }

        for (odd, _) in ODD_IDS {
            let id = named(odd);
            let open = WorkflowService::list_open_workflow_executions(
                &mut client.clone(),
                Request::new(ListOpenWorkflowExecutionsRequest {
                    namespace: "default".into(),
                    maximum_page_size: 100,
                    filters: Some(list_open_workflow_executions_request::Filters::ExecutionFilter(
                        WorkflowExecutionFilter { workflow_id: id.clone(), run_id: String::new() },
                    )),
                    ..Default::default()
                }),
            )
            .await
            .unwrap_or_else(|e| panic!("ListOpen for {id:?}: {e}"))
            .into_inner();
            assert_eq!(ids(&open.executions), vec![id.clone()], "ListOpen for {id:?}");

            let query = format!("WorkflowId = {}", literal(&id));
            let listed = WorkflowService::list_workflow_executions(
                &mut client.clone(),
                Request::new(ListWorkflowExecutionsRequest {
                    namespace: "default".into(),
                    page_size: 100,
                    query: query.clone(),
                    ..Default::default()
                }),
            )
            .await
            .unwrap_or_else(|e| panic!("List with {query}: {e}"))
            .into_inner();
            assert_eq!(ids(&listed.executions), vec![id.clone()], "List with {query}");
            assert_eq!(count(&client, &query).await, 1, "Count with {query}");
            let prefix = format!("WorkflowId STARTS_WITH {}", literal(odd));
            assert_eq!(count(&client, &prefix).await, 1, "Count with {prefix}");

            let searched = rest.ok(&format!("/api/v1/executions?search={}", encoded(odd))).await;
            assert_eq!(rest_ids(&searched), vec![id.clone()], "REST search for {odd:?}");
            let queried = rest.ok(&format!("/api/v1/executions?query={}", encoded(&query))).await;
            assert_eq!(rest_ids(&queried), vec![id.clone()], "REST query {query}");
            let counted = rest.ok(&format!("/api/v1/executions-count?search={}", encoded(odd))).await;
            assert_eq!(counted["count"], 1, "REST count for {odd:?}");
            let bulk = rest
                .post(
                    "/api/v1/executions/bulk",
                    &json!({"action": "terminate", "filter": {"search": odd}, "dry_run": true}),
                )
                .await;
            assert_eq!(bulk.status, 200, "{}", bulk.text());
            assert_eq!(bulk.json()["matched"], 1, "REST bulk for {odd:?}");
        }

        // A query that orders is refused; ORDER BY inside a quoted value is only text.
        let ordered = rest
            .get(&format!("/api/v1/executions?query={}", encoded("WorkflowId = 'x' ORDER BY StartTime")))
            .await;
        assert_eq!(ordered.error_code(400), "bad_request");
        assert!(ordered.text().contains("sort"), "{}", ordered.text());

        for (odd, _) in ODD_IDS {
            let id = named(odd);
            client
                .get_workflow_handle::<Accumulator>(&id)
                .terminate(WorkflowTerminateOptions::builder().reason("done looking").build())
                .await
                .unwrap();
            let closed = WorkflowService::list_closed_workflow_executions(
                &mut client.clone(),
                Request::new(ListClosedWorkflowExecutionsRequest {
                    namespace: "default".into(),
                    maximum_page_size: 100,
                    filters: Some(list_closed_workflow_executions_request::Filters::ExecutionFilter(
                        WorkflowExecutionFilter { workflow_id: id.clone(), run_id: String::new() },
                    )),
                    ..Default::default()
                }),
            )
            .await
            .unwrap_or_else(|e| panic!("ListClosed for {id:?}: {e}"))
            .into_inner();
            assert_eq!(ids(&closed.executions), vec![id.clone()], "ListClosed for {id:?}");
        }
    }
}
