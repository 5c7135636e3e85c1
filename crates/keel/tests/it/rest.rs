//! The REST API against a real server whose executions real SDK workers ran: lists and
//! their filters, the detail view beside the gRPC one, history and its export, actions,
//! pending diagnosis, queues and workers, analytics and metrics, and bad input refused
//! with nothing stored changing.

use std::time::Duration;

use serde_json::{Value, json};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};

use crate::harness::{Server, describe, history, unique, with_worker};
use crate::rest_client::Rest;
use crate::workflows::{Accumulator, Greeting, LongActivity, Rejecting};

/// Polls `path` until `ready` holds for its JSON; answers that JSON.
pub async fn eventually(rest: &Rest, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let value = rest.ok(path).await;
        if ready(&value) {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("GET {path} never became ready: {}", rest.ok(path).await);
}

fn ids(page: &Value) -> Vec<String> {
    page["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .map(|e| e["workflow_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_over_rest_agree_with_what_ran() {
    let server = Server::start().await;
    let client = server.client().await;
    let rest = Rest::new(&server.http_addr);
    let queue = unique("rest");
    let prefix = unique("rest-greet");
    let greeted: Vec<String> = (0..3).map(|i| format!("{prefix}-{i}")).collect();
    let rejected = unique("rest-reject");
    let accumulator = unique("rest-acc");
    let doomed = unique("rest-doomed");
    // Nobody polls these queues: one far from any name, one a typo of the served queue.
    let nobody_id = unique("rest-nobody");
    let nobody_queue = unique("nobody");
    let typo_id = unique("rest-typo");
    let typo_queue = format!("{queue}x");

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
        let handle = client
            .start_workflow(
                Rejecting::run,
                (),
                WorkflowStartOptions::new(&queue, &rejected).build(),
            )
            .await
            .unwrap();
        assert!(
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .is_err()
        );
        let accumulating = client
            .start_workflow(
                Accumulator::run,
                (),
                WorkflowStartOptions::new(&queue, &accumulator).build(),
            )
            .await
            .unwrap();
        client
            .start_workflow(
                Accumulator::run,
                (),
                WorkflowStartOptions::new(&queue, &doomed).build(),
            )
            .await
            .unwrap();
        for (id, task_queue) in [(&nobody_id, &nobody_queue), (&typo_id, &typo_queue)] {
            client
                .start_workflow(
                    Greeting::run,
                    "nobody".to_owned(),
                    WorkflowStartOptions::new(task_queue, id).build(),
                )
                .await
                .unwrap();
        }

        // --- lists and filters
        let all = rest.ok("/api/v1/executions").await;
        assert_eq!(ids(&all).len(), 8, "{all}");
        assert!(all["next_cursor"].is_null());
        let completed = rest.ok("/api/v1/executions?status=completed").await;
        let mut completed_ids = ids(&completed);
        completed_ids.sort();
        assert_eq!(completed_ids, greeted);
        assert_eq!(
            ids(&rest.ok("/api/v1/executions?status=failed").await),
            [rejected.as_str()]
        );
        let failed_phase = rest.ok("/api/v1/executions?phase=failed").await;
        assert_eq!(failed_phase["executions"][0]["phase"], "failed");
        let pending = eventually(&rest, "/api/v1/executions?phase=pending", |page| {
            ids(page).len() == 2
        })
        .await;
        let mut pending_ids = ids(&pending);
        pending_ids.sort();
        let mut expected = vec![nobody_id.clone(), typo_id.clone()];
        expected.sort();
        assert_eq!(pending_ids, expected);
        let accumulator_phase = eventually(
            &rest,
            &format!("/api/v1/executions?search={accumulator}"),
            |page| page["executions"][0]["phase"] == "running",
        )
        .await;
        assert_eq!(accumulator_phase["executions"][0]["status"], "running");
        assert!(
            accumulator_phase["executions"][0]["worker"].is_string(),
            "{accumulator_phase}"
        );
        assert_eq!(
            ids(&rest
                .ok(&format!("/api/v1/executions?queue={nobody_queue}"))
                .await),
            [nobody_id.as_str()]
        );
        assert_eq!(
            ids(&rest
                .ok(&format!("/api/v1/executions?search={prefix}&type=Greeting"))
                .await)
            .len(),
            3
        );
        assert_eq!(
            ids(&rest
                .ok("/api/v1/executions?type=Rejecting&status=running")
                .await)
            .len(),
            0
        );
        let by_query = rest
            .ok("/api/v1/executions?query=WorkflowType%20%3D%20%27Accumulator%27")
            .await;
        assert_eq!(ids(&by_query).len(), 2);
        let started_after = all["executions"][2]["start_time"].as_str().unwrap();
        let newer = rest
            .ok(&format!(
                "/api/v1/executions?started_after={}",
                started_after.replace('+', "%2B")
            ))
            .await;
        assert_eq!(
            ids(&newer).len(),
            3,
            "the three newest start at or after the third's start"
        );

        // Pages of two, oldest first, cover everything once.
        let mut seen = Vec::new();
        let mut path = "/api/v1/executions?limit=2&sort=%2Bstart_time".to_owned();
        loop {
            let page = rest.ok(&path).await;
            let page_ids = ids(&page);
            assert!(page_ids.len() <= 2);
            seen.extend(page_ids);
            match page["next_cursor"].as_str() {
                Some(cursor) => {
                    path = format!("/api/v1/executions?limit=2&sort=%2Bstart_time&cursor={cursor}")
                }
                None => break,
            }
        }
        let mut newest_first = ids(&all);
        newest_first.reverse();
        assert_eq!(seen, newest_first);

        // --- detail, beside the gRPC view
        let detail = rest.ok(&format!("/api/v1/executions/{}", greeted[0])).await;
        let described = describe(&client, &greeted[0]).await;
        let info = described.workflow_execution_info.unwrap();
        assert_eq!(detail["run_id"], info.execution.unwrap().run_id);
        assert_eq!(detail["history_length"], info.history_length);
        assert_eq!(detail["status"], "completed");
        assert_eq!(detail["phase"], "completed");
        assert_eq!(detail["workflow_type"], "Greeting");
        assert_eq!(detail["task_queue"], queue.as_str());
        assert_eq!(detail["input"], json!([greeted[0]]));
        assert_eq!(detail["output"], json!([format!("hello, {}", greeted[0])]));
        assert!(detail["error"].is_null());
        assert!(detail["queue_wait_ms"].as_f64().unwrap() >= 0.0);
        assert!(detail["started_time"].as_str().unwrap() >= detail["start_time"].as_str().unwrap());
        assert!(detail["duration_ms"].as_f64().unwrap() > 0.0);
        let runs = detail["task_runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1, "{detail}");
        assert_eq!(runs[0]["activity_type"], "TestActivities::greet");
        assert_eq!(runs[0]["state"], "completed");
        assert_eq!(runs[0]["attempt"], 1);
        assert_eq!(runs[0]["output"], json!([format!("hello, {}", greeted[0])]));
        assert!(runs[0]["worker"].is_string());
        assert!(detail["pending_reason"].is_null());

        let failed = rest.ok(&format!("/api/v1/executions/{rejected}")).await;
        assert_eq!(failed["status"], "failed");
        let error = &failed["error"];
        // The activity's failure, caused by the application error the activity raised.
        assert_eq!(error["kind"], "activity", "{error}");
        assert_eq!(
            error["info"]["activityType"]["name"],
            "TestActivities::reject"
        );
        assert_eq!(error["cause"]["kind"], "application");
        assert_eq!(error["cause"]["type"], "Bad");
        assert_eq!(error["cause"]["message"], "the input is unacceptable");
        assert_eq!(error["cause"]["non_retryable"], true);
        assert_eq!(failed["task_runs"][0]["state"], "failed");

        // --- why pending
        let nobody = rest.ok(&format!("/api/v1/executions/{nobody_id}")).await;
        assert_eq!(nobody["phase"], "pending");
        assert_eq!(nobody["pending_reason"]["code"], "no_worker", "{nobody}");
        assert_eq!(
            nobody["pending_reason"]["task_queue"],
            nobody_queue.as_str()
        );
        assert_eq!(nobody["pending"]["workflow_task"]["state"], "scheduled");
        // The board's cheap read: the summary and why it waits, without the history.
        let brief = rest
            .ok(&format!("/api/v1/executions/{nobody_id}?view=summary"))
            .await;
        assert_eq!(brief["phase"], "pending");
        assert_eq!(brief["pending_reason"], nobody["pending_reason"]);
        assert_eq!(brief["doing"]["kind"], "workflow_task");
        assert!(brief.get("task_runs").is_none(), "{brief}");
        let bad_view = rest
            .get(&format!("/api/v1/executions/{nobody_id}?view=everything"))
            .await;
        assert_eq!(bad_view.error_code(400), "bad_request");
        let typo = rest.ok(&format!("/api/v1/executions/{typo_id}")).await;
        assert_eq!(typo["pending_reason"]["code"], "queue_typo", "{typo}");
        assert_eq!(typo["pending_reason"]["similar_queue"], queue.as_str());
        assert!(
            typo["pending_reason"]["message"]
                .as_str()
                .unwrap()
                .contains(&queue)
        );

        // --- history, paged and exported
        let grpc_history = history(&client, &greeted[0]).await;
        let mut events = Vec::new();
        let mut path = format!("/api/v1/executions/{}/history?limit=3", greeted[0]);
        loop {
            let page = rest.ok(&path).await;
            events.extend(page["events"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(cursor) => {
                    path = format!(
                        "/api/v1/executions/{}/history?limit=3&cursor={cursor}",
                        greeted[0]
                    )
                }
                None => break,
            }
        }
        assert_eq!(events.len(), grpc_history.len());
        for (index, event) in events.iter().enumerate() {
            assert_eq!(event["event_id"], index as i64 + 1);
        }
        assert_eq!(events[0]["type"], "WorkflowExecutionStarted");
        assert_eq!(
            events[0]["attributes"]["input"]["payloads"],
            json!([greeted[0]])
        );
        assert_eq!(events.last().unwrap()["type"], "WorkflowExecutionCompleted");
        let export = rest
            .ok(&format!(
                "/api/v1/executions/{}/history?format=temporal",
                greeted[0]
            ))
            .await;
        let exported = export["events"].as_array().unwrap();
        assert_eq!(exported.len(), grpc_history.len());
        assert_eq!(
            exported[0]["eventType"],
            "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
        );
        assert_eq!(exported[0]["eventId"], "1");

        // --- actions
        let signalled = rest
            .post(
                &format!("/api/v1/executions/{accumulator}/signal"),
                &json!({"name": "add", "input": 5}),
            )
            .await;
        assert_eq!(signalled.status, 200, "{}", signalled.text());
        assert_eq!(signalled.json()["workflow_id"], accumulator.as_str());
        let finished = rest
            .post(
                &format!("/api/v1/executions/{accumulator}/signal"),
                &json!({"name": "finish"}),
            )
            .await;
        assert_eq!(finished.status, 200, "{}", finished.text());
        let total = accumulating
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap();
        assert_eq!(
            total,
            (5, 1),
            "the signal's JSON input reached the workflow"
        );
        let again = rest
            .post(
                &format!("/api/v1/executions/{accumulator}/cancel"),
                &json!({}),
            )
            .await;
        assert_eq!(again.error_code(409), "conflict");

        let terminated = rest
            .post(
                &format!("/api/v1/executions/{doomed}/terminate"),
                &json!({"reason": "no longer needed"}),
            )
            .await;
        assert_eq!(terminated.status, 200, "{}", terminated.text());
        let doomed_detail = rest.ok(&format!("/api/v1/executions/{doomed}")).await;
        assert_eq!(doomed_detail["status"], "terminated");
        assert_eq!(doomed_detail["phase"], "failed");
        let last = history(&client, &doomed).await.pop().unwrap();
        let attributes = format!("{:?}", last.attributes);
        assert!(
            attributes.contains("no longer needed") && attributes.contains("keel-rest"),
            "{attributes}"
        );

        let reset = rest
            .post(
                &format!("/api/v1/executions/{rejected}/reset"),
                &json!({"to": "last_failed_task", "reason": "retry after fix"}),
            )
            .await;
        assert_eq!(reset.status, 200, "{}", reset.text());
        let reset = reset.json();
        let new_run = reset["run_id"].as_str().unwrap();
        assert_ne!(new_run, failed["run_id"].as_str().unwrap());
        let current = rest.ok(&format!("/api/v1/executions/{rejected}")).await;
        assert_eq!(
            current["run_id"], new_run,
            "the reset run is the current one"
        );
        let reset_history = rest
            .ok(&format!(
                "/api/v1/executions/{rejected}/history?run_id={new_run}"
            ))
            .await;
        let failed_task = reset_history["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "WorkflowTaskFailed")
            .expect("a reset run records the reset as a failed workflow task");
        assert_eq!(
            failed_task["attributes"]["cause"],
            "WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW"
        );
        assert_eq!(failed_task["attributes"]["baseRunId"], failed["run_id"]);
        // The reset run fails again (the activity still refuses); wait for it, so the
        // figures below are exact.
        eventually(&rest, &format!("/api/v1/executions/{rejected}"), |run| {
            run["run_id"] == new_run && run["status"] == "failed"
        })
        .await;
        let no_failure = rest
            .post(
                &format!("/api/v1/executions/{}/reset", greeted[1]),
                &json!({}),
            )
            .await;
        assert_eq!(no_failure.error_code(409), "conflict");

        // --- task queues and workers
        let queues = rest.ok("/api/v1/task-queues").await;
        let served = queues["task_queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == queue.as_str())
            .unwrap_or_else(|| panic!("{queue} listed: {queues}"));
        assert!(
            served["workflow"]["pollers"].as_u64().unwrap() >= 1,
            "{served}"
        );
        assert!(
            served["activity"]["pollers"].as_u64().unwrap() >= 1,
            "{served}"
        );
        assert!(
            served["workflow"]["dispatch_rate_per_s"].as_f64().unwrap() > 0.0,
            "{served}"
        );
        let unserved = rest
            .ok(&format!("/api/v1/task-queues/{nobody_queue}"))
            .await;
        assert_eq!(unserved["workflow"]["backlog"], 1, "{unserved}");
        assert_eq!(unserved["workflow"]["pollers"], 0);
        assert!(unserved["workflow"]["oldest_task_age_ms"].as_f64().unwrap() > 0.0);
        let workers = rest.ok("/api/v1/workers").await;
        let worker = workers["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["task_queues"].as_array().unwrap().contains(&json!(queue)))
            .unwrap_or_else(|| panic!("a worker polls {queue}: {workers}"));
        assert!(worker["identity"].as_str().is_some_and(|i| !i.is_empty()));
        let utilization = worker["utilization"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&utilization));
    })
    .await;

    // --- analytics and metrics, over exactly what ran
    let analytics = rest.ok("/api/v1/analytics?bucket=hour").await;
    let figures = &analytics["executions"];
    // Eight started by the client, and the run the reset made.
    assert_eq!(figures["started"], 9, "{analytics}");
    assert_eq!(figures["running"], 2, "{analytics}");
    assert_eq!(figures["completed"], 4, "{analytics}");
    assert_eq!(figures["failed"], 2, "{analytics}");
    assert_eq!(figures["terminated"], 1, "{analytics}");
    assert_eq!(analytics["success_rate"], 4.0 / 7.0);
    assert_eq!(analytics["duration_ms"]["count"], 7);
    assert_eq!(
        analytics["by_type"]["Greeting"]["executions"]["completed"],
        3
    );
    assert_eq!(analytics["by_type"]["Rejecting"]["success_rate"], 0.0);
    let hourly = analytics["throughput"].as_array().unwrap();
    assert_eq!(hourly.len(), 24);
    let closes: u64 = hourly
        .iter()
        .map(|b| b["completed"].as_u64().unwrap() + b["failed"].as_u64().unwrap())
        .sum();
    assert_eq!(closes, 7);
    let metrics = rest.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text();
    assert!(text.contains("keel_executions_started_total 9"), "{text}");
    assert!(
        text.contains("keel_executions_closed_total{status=\"completed\"} 4"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "task_queue=\"{nobody_queue}\",kind=\"workflow\"}} 1"
        )),
        "{text}"
    );

    // The OpenAPI document describes every route this test used.
    let openapi = rest.ok("/api/v1/openapi.json").await;
    assert_eq!(openapi["openapi"], "3.1.0");
    for path in [
        "/api/v1/executions",
        "/api/v1/executions/{workflow_id}",
        "/api/v1/executions/{workflow_id}/history",
        "/api/v1/executions/{workflow_id}/signal",
        "/api/v1/executions/{workflow_id}/cancel",
        "/api/v1/executions/{workflow_id}/terminate",
        "/api/v1/executions/{workflow_id}/reset",
        "/api/v1/task-queues",
        "/api/v1/task-queues/{name}",
        "/api/v1/workers",
        "/api/v1/analytics",
        "/api/v1/plans",
        "/api/v1/plans/{plan_id}",
        "/api/v1/plans/{plan_id}/start",
        "/metrics",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is documented");
    }
}

/// A worker whose only activity slot is taken polls no more activities: a run whose
/// activity waits on its queue is Pending because the workers are busy, not missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_waiting_on_busy_workers_says_so() {
    let server = Server::start().await;
    let client = server.client().await;
    let rest = Rest::new(&server.http_addr);
    let queue = unique("busy");
    let long = unique("busy-long");
    let waiting = unique("busy-waiting");
    crate::harness::with_activity_slots(&client, &queue, 1, async {
        client
            .start_workflow(
                LongActivity::run,
                3000u64,
                WorkflowStartOptions::new(&queue, &long).build(),
            )
            .await
            .unwrap();
        eventually(&rest, &format!("/api/v1/executions/{long}"), |run| {
            run["pending"]["activities"][0]["state"] == "running"
        })
        .await;
        client
            .start_workflow(
                Greeting::run,
                "later".to_owned(),
                WorkflowStartOptions::new(&queue, &waiting).build(),
            )
            .await
            .unwrap();
        let pending = eventually(&rest, &format!("/api/v1/executions/{waiting}"), |run| {
            run["phase"] == "pending"
                && run["pending"]["activities"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty())
        })
        .await;
        assert_eq!(
            pending["pending_reason"]["code"], "workers_busy",
            "{pending}"
        );
        assert_eq!(pending["pending_reason"]["task_queue"], queue.as_str());
        let handle = client.get_workflow_handle::<Greeting>(&waiting);
        let greeting = handle
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap();
        assert_eq!(greeting, "hello, later", "it ran once the slot was free");
    })
    .await;
}

/// Every route the OpenAPI document names answers from its handler: never the "no route"
/// or "method not allowed" answers of a route that is only documented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served() {
    let server = Server::start().await;
    let rest = Rest::new(&server.http_addr);
    let document = rest.ok("/api/v1/openapi.json").await;
    let mut checked = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        // Names nothing stored, so no handler changes anything.
        let concrete = path
            .replace("{workflow_id}", "nobody")
            .replace("{schedule_id}", "nothing")
            .replace("{plan_id}", "none")
            .replace("{name}", "no-queue")
            .replace("{action}", "pause");
        for method in operations.as_object().unwrap().keys() {
            if method == "parameters" {
                continue;
            }
            let method = method.to_ascii_uppercase();
            if path == "/api/v1/stream/executions" {
                // Streams answer with a body that does not end; their status comes first.
                let response = rest.head_of(&method, &concrete).await;
                assert_ne!(response, 404, "{method} {path}");
                assert_ne!(response, 405, "{method} {path}");
                checked += 1;
                continue;
            }
            let body = b"{}";
            let response = rest
                .request(
                    &method,
                    &concrete,
                    &[("Content-Type", "application/json")],
                    (method != "GET" && method != "DELETE").then_some(&body[..]),
                )
                .await;
            let text = response.text();
            assert!(
                !text.contains("no route for") && response.status != 405,
                "{method} {path} is documented but not served: {} {text}",
                response.status
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} documented operations");
}
