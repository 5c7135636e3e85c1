//! Bulk actions over a filter, with a dry run first; and bad input of every kind answered
//! with a clear 4xx while nothing stored changes.

use serde_json::{Value, json};
use temporalio_client::WorkflowStartOptions;

use crate::harness::{Server, count, history, unique, with_worker};
use crate::rest_client::Rest;
use crate::workflows::Accumulator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_actions_count_first_then_act_on_what_matches() {
    let server = Server::start().await;
    let client = server.client().await;
    let rest = Rest::new(&server.http_addr);
    let queue = unique("bulk");
    let batch = unique("batch");
    let spared = unique("spared");

    with_worker(&client, &queue, async {
        for id in (0..3).map(|i| format!("{batch}-{i}")).chain([spared.clone()]) {
            client
                .start_workflow(Accumulator::run, (), WorkflowStartOptions::new(&queue, &id).build())
                .await
                .unwrap();
        }
        let dry = rest
            .post(
                "/api/v1/executions/bulk",
                &json!({"action": "terminate", "filter": {"search": batch}, "reason": "cleanup", "dry_run": true}),
            )
            .await;
        assert_eq!(dry.status, 200, "{}", dry.text());
        assert_eq!(
            dry.json(),
            json!({"dry_run": true, "matched": 3, "succeeded": null, "failed": null})
        );
        assert_eq!(count(&client, "ExecutionStatus = 'Running'").await, 4, "a dry run changes nothing");

        let signalled = rest
            .post(
                "/api/v1/executions/bulk",
                &json!({"action": "signal", "query": format!("WorkflowId STARTS_WITH '{batch}'"),
                        "signal": {"name": "add", "input": 7}}),
            )
            .await;
        assert_eq!(signalled.status, 200, "{}", signalled.text());
        assert_eq!(signalled.json()["succeeded"], 3);
        for i in 0..3 {
            let events = history(&client, &format!("{batch}-{i}")).await;
            let signals = events.iter().filter(|e| format!("{:?}", e.attributes).contains("signal_name: \"add\"")).count();
            assert_eq!(signals, 1, "each matched run got the signal once");
        }

        let done = rest
            .post(
                "/api/v1/executions/bulk",
                &json!({"action": "terminate", "filter": {"search": batch}, "reason": "cleanup"}),
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.text());
        assert_eq!(done.json(), json!({"dry_run": false, "matched": 3, "succeeded": 3, "failed": []}));
        let page = rest.ok(&format!("/api/v1/executions?search={batch}&status=terminated")).await;
        assert_eq!(page["executions"].as_array().unwrap().len(), 3);
        let again = rest
            .post("/api/v1/executions/bulk", &json!({"action": "cancel", "filter": {"search": batch}, "dry_run": true}))
            .await;
        assert_eq!(again.json()["matched"], 0, "closed runs match no bulk action");
        let spared_run = rest.ok(&format!("/api/v1/executions/{spared}")).await;
        assert_eq!(spared_run["status"], "running");
        // Cancelling asks the workflow, which ends itself as cancelled.
        let cancelled = rest
            .post(&format!("/api/v1/executions/{spared}/cancel"), &json!({"reason": "not needed"}))
            .await;
        assert_eq!(cancelled.status, 200, "{}", cancelled.text());
        let closed = crate::rest::eventually(&rest, &format!("/api/v1/executions/{spared}"), |run| {
            run["status"] != "running"
        })
        .await;
        assert_eq!(closed["status"], "canceled", "{closed}");
        assert_eq!(closed["phase"], "cancelled");
        assert!(closed["cancel_requested"].as_bool().unwrap());
    })
    .await;
}

/// A request, the status it must get, and what its error message must mention.
type Case = (&'static str, String, Option<Vec<u8>>, u16, &'static str);

/// Every malformed request is a 4xx with a JSON error naming the problem; after all of
/// them, the stored executions and their histories are as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_clear_errors_and_change_nothing() {
    let server = Server::start().await;
    let client = server.client().await;
    let rest = Rest::new(&server.http_addr);
    let queue = unique("fuzz");
    let workflow_id = unique("fuzz-acc");

    with_worker(&client, &queue, async {
        client
            .start_workflow(
                Accumulator::run,
                (),
                WorkflowStartOptions::new(&queue, &workflow_id).build(),
            )
            .await
            .unwrap();
        // Settled: its first workflow task completed, and it waits for signals.
        crate::rest::eventually(&rest, &format!("/api/v1/executions/{workflow_id}"), |run| {
            run["history_length"] == 4 && run["phase"] == "running"
        })
        .await;
        let before = rest
            .ok(&format!(
                "/api/v1/executions/{workflow_id}/history?format=temporal"
            ))
            .await;
        let executions_before = rest.ok("/api/v1/executions").await;
        let signal = format!("/api/v1/executions/{workflow_id}/signal");

        let cases: Vec<Case> = vec![
            (
                "GET",
                "/api/v1/executions/nobody-has-this-id".into(),
                None,
                404,
                "nobody-has-this-id",
            ),
            (
                "GET",
                format!("/api/v1/executions/{workflow_id}?run_id=not-a-uuid"),
                None,
                400,
                "not-a-uuid",
            ),
            (
                "GET",
                format!(
                    "/api/v1/executions/{workflow_id}?run_id={}",
                    uuid::Uuid::new_v4()
                ),
                None,
                404,
                "not found",
            ),
            (
                "GET",
                "/api/v1/executions?status=sleeping".into(),
                None,
                400,
                "sleeping",
            ),
            (
                "GET",
                "/api/v1/executions?phase=Waiting".into(),
                None,
                400,
                "Waiting",
            ),
            (
                "GET",
                "/api/v1/executions?colour=red".into(),
                None,
                400,
                "colour",
            ),
            (
                "GET",
                "/api/v1/executions?limit=0".into(),
                None,
                400,
                "limit",
            ),
            (
                "GET",
                "/api/v1/executions?limit=99999999999999999999".into(),
                None,
                400,
                "limit",
            ),
            (
                "GET",
                "/api/v1/executions?limit=5&limit=6".into(),
                None,
                400,
                "more than once",
            ),
            (
                "GET",
                "/api/v1/executions?cursor=%%%".into(),
                None,
                400,
                "cursor",
            ),
            (
                "GET",
                "/api/v1/executions?query=WorkflowType%20%3D".into(),
                None,
                400,
                "invalid query",
            ),
            (
                "GET",
                "/api/v1/executions?query=Colour%20%3D%20%27red%27".into(),
                None,
                400,
                "Colour",
            ),
            (
                "GET",
                "/api/v1/executions?started_after=yesterday".into(),
                None,
                400,
                "started_after",
            ),
            (
                "GET",
                "/api/v1/executions?sort=size".into(),
                None,
                400,
                "size",
            ),
            (
                "GET",
                "/api/v1/executions?namespace=nowhere".into(),
                None,
                404,
                "nowhere",
            ),
            (
                "GET",
                "/api/v1/executions?%FF%FE=%00".into(),
                None,
                400,
                "unknown query parameter",
            ),
            (
                "GET",
                format!("/api/v1/executions/{workflow_id}/history?format=xml"),
                None,
                400,
                "xml",
            ),
            (
                "GET",
                format!("/api/v1/executions/{workflow_id}/logs?after=soon"),
                None,
                400,
                "after",
            ),
            (
                "GET",
                "/api/v1/analytics?bucket=fortnight".into(),
                None,
                400,
                "fortnight",
            ),
            (
                "GET",
                "/api/v1/analytics?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z".into(),
                None,
                400,
                "range",
            ),
            (
                "GET",
                "/api/v1/no-such-route".into(),
                None,
                404,
                "no-such-route",
            ),
            (
                "POST",
                signal.clone(),
                Some(b"{\"name\": ".to_vec()),
                400,
                "not valid JSON",
            ),
            (
                "POST",
                signal.clone(),
                Some(b"[1, 2]".to_vec()),
                400,
                "JSON object",
            ),
            ("POST", signal.clone(), Some(b"{}".to_vec()), 400, "name"),
            (
                "POST",
                signal.clone(),
                Some(b"{\"name\": 5}".to_vec()),
                400,
                "name",
            ),
            (
                "POST",
                signal.clone(),
                Some(b"{\"name\": \"add\", \"colour\": 1}".to_vec()),
                400,
                "colour",
            ),
            (
                "POST",
                signal.clone(),
                Some(b"{\"name\": \"add\", \"input\": 1, \"inputs\": [1]}".to_vec()),
                400,
                "not both",
            ),
            (
                "POST",
                signal.clone(),
                Some(vec![b'x'; 5 * 1024 * 1024]),
                413,
                "larger than",
            ),
            (
                "POST",
                "/api/v1/executions/nobody-has-this-id/signal".into(),
                Some(b"{\"name\": \"add\"}".to_vec()),
                404,
                "nobody-has-this-id",
            ),
            (
                "POST",
                format!("/api/v1/executions/{workflow_id}/reset"),
                Some(b"{\"to\": \"tomorrow\"}".to_vec()),
                400,
                "tomorrow",
            ),
            (
                "POST",
                format!("/api/v1/executions/{workflow_id}/logs"),
                Some(b"{\"message\": \"x\", \"level\": \"loud\"}".to_vec()),
                400,
                "loud",
            ),
            (
                "POST",
                format!("/api/v1/executions/{workflow_id}/logs"),
                Some(b"{\"lines\": []}".to_vec()),
                400,
                "no log lines",
            ),
            (
                "POST",
                format!("/api/v1/executions/{workflow_id}/logs"),
                Some(b"{\"lines\": [{\"message\": 5}]}".to_vec()),
                400,
                "message",
            ),
            (
                "POST",
                "/api/v1/executions/bulk".into(),
                Some(b"{\"action\": \"explode\", \"query\": \"\"}".to_vec()),
                400,
                "explode",
            ),
            (
                "POST",
                "/api/v1/executions/bulk".into(),
                Some(b"{\"action\": \"cancel\"}".to_vec()),
                400,
                "query",
            ),
            (
                "POST",
                "/api/v1/executions/bulk".into(),
                Some(b"{\"action\": \"cancel\", \"query\": \"ExecutionStatus = \"}".to_vec()),
                400,
                "invalid query",
            ),
            (
                "POST",
                "/api/v1/namespaces".into(),
                Some(b"{\"name\": \"bad name!\"}".to_vec()),
                400,
                "bad name!",
            ),
            (
                "POST",
                "/api/v1/namespaces".into(),
                Some(b"{\"name\": \"ok\", \"retention_days\": -1}".to_vec()),
                400,
                "retention_days",
            ),
            ("DELETE", "/api/v1/executions".into(), None, 405, "DELETE"),
        ];
        for (method, path, body, status, mentions) in &cases {
            let response = rest
                .request(
                    method,
                    path,
                    &[("Content-Type", "application/json")],
                    body.as_deref(),
                )
                .await;
            assert_eq!(
                response.status,
                *status,
                "{method} {path}: {}",
                response.text()
            );
            let error: Value = response.json();
            let message = error["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(mentions),
                "{method} {path}: the message names '{mentions}': {error}"
            );
            assert!(error["error"]["code"].is_string(), "{error}");
        }

        let after = rest
            .ok(&format!(
                "/api/v1/executions/{workflow_id}/history?format=temporal"
            ))
            .await;
        assert_eq!(after, before, "no bad request changed the history");
        let mut executions_after = rest.ok("/api/v1/executions").await;
        let mut executions_before = executions_before;
        // Only the phase may move (a workflow task can be in flight at either moment).
        for page in [&mut executions_before, &mut executions_after] {
            for execution in page["executions"].as_array_mut().unwrap() {
                execution.as_object_mut().unwrap().remove("phase");
                execution.as_object_mut().unwrap().remove("worker");
            }
        }
        assert_eq!(
            executions_after, executions_before,
            "no bad request started or changed a run"
        );
        let namespaces = rest.ok("/api/v1/namespaces").await;
        assert_eq!(
            namespaces["namespaces"].as_array().unwrap().len(),
            1,
            "{namespaces}"
        );
        rest.post(
            &format!("/api/v1/executions/{workflow_id}/terminate"),
            &json!({}),
        )
        .await;
    })
    .await;
}
