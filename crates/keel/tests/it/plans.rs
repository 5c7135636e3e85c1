//! Planned runs over REST: saved, edited, refused when wrong, started by hand or by their
//! start time (also across a SIGKILL), and then ordinary executions a worker runs.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Server, keel, unique, with_worker};
use crate::rest::eventually;
use crate::rest_client::Rest;

async fn plans(rest: &Rest) -> Vec<Value> {
    rest.ok("/api/v1/plans").await["plans"]
        .as_array()
        .expect("plans")
        .clone()
}

async fn patch(rest: &Rest, path: &str, body: &Value) -> crate::rest_client::Response {
    let bytes = serde_json::to_vec(body).unwrap();
    rest.request(
        "PATCH",
        path,
        &[("Content-Type", "application/json")],
        Some(&bytes),
    )
    .await
}

fn rfc3339_in(delay: Duration) -> String {
    let at = std::time::SystemTime::now() + delay;
    let nanos = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
    chrono::DateTime::from_timestamp_nanos(nanos).to_rfc3339()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_is_saved_edited_refused_when_wrong_and_started_into_a_run_a_worker_completes() {
    let server = Server::start().await;
    let client = server.client().await;
    let rest = Rest::new(&server.http_addr);
    let queue = unique("planned");

    // Wrong plans are refused with a reason, and nothing is stored.
    let refused = rest
        .post(
            "/api/v1/plans",
            &json!({"workflow_type": "Greeting", "input": "keel"}),
        )
        .await;
    assert_eq!(refused.error_code(400), "bad_request");
    assert!(refused.text().contains("task_queue"), "{}", refused.text());
    let refused = rest
        .post(
            "/api/v1/plans",
            &json!({"workflow_type": "Greeting", "task_queue": queue, "start_at": "tomorrow"}),
        )
        .await;
    assert_eq!(refused.error_code(400), "bad_request");
    assert!(refused.text().contains("RFC 3339"), "{}", refused.text());
    let refused = rest
        .post(
            "/api/v1/plans",
            &json!({"workflow_type": "Greeting", "task_queue": queue, "colour": "red"}),
        )
        .await;
    assert!(refused.text().contains("unknown field 'colour'"));
    let text = rest
        .request(
            "POST",
            "/api/v1/plans",
            &[("Content-Type", "text/plain")],
            Some(br#"{"workflow_type":"Greeting","task_queue":"q"}"#),
        )
        .await;
    assert_eq!(text.status, 415);
    assert!(plans(&rest).await.is_empty());

    let created = rest
        .post(
            "/api/v1/plans",
            &json!({
                "id": "greet-keel",
                "workflow_type": "Greeting",
                "task_queue": queue,
                "input": "keel",
                "note": "first try",
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    assert_eq!(created["version"], 1);
    assert_eq!(created["workflow_id"], "greet-keel");
    assert_eq!(created["input"], json!(["keel"]));
    assert_eq!(created["start_at"], Value::Null);

    let taken = rest
        .post(
            "/api/v1/plans",
            &json!({"id": "greet-keel", "workflow_type": "Greeting", "task_queue": queue}),
        )
        .await;
    assert_eq!(taken.error_code(409), "already_exists");

    // An edit names what changes; one made against an old version is refused.
    let edited = patch(
        &rest,
        "/api/v1/plans/greet-keel",
        &json!({"input": "planner", "note": "second try", "version": 1}),
    )
    .await;
    assert_eq!(edited.status, 200, "{}", edited.text());
    let stale = patch(
        &rest,
        "/api/v1/plans/greet-keel",
        &json!({"note": "stale", "version": 1}),
    )
    .await;
    assert_eq!(stale.error_code(409), "conflict");
    let emptied = patch(
        &rest,
        "/api/v1/plans/greet-keel",
        &json!({"task_queue": ""}),
    )
    .await;
    assert_eq!(emptied.error_code(400), "bad_request");
    let stored = rest.ok("/api/v1/plans/greet-keel").await;
    assert_eq!(stored["version"], 2);
    assert_eq!(stored["note"], "second try");
    assert_eq!(stored["input"], json!(["planner"]));
    assert_eq!(stored["task_queue"], queue.as_str());

    // Started, the plan is gone and its run is an execution a worker completes.
    let started = rest
        .post("/api/v1/plans/greet-keel/start", &json!({}))
        .await;
    assert_eq!(started.status, 200, "{}", started.text());
    let started = started.json();
    assert_eq!(started["workflow_id"], "greet-keel");
    let run_id = started["run_id"].as_str().unwrap().to_owned();
    assert_eq!(
        rest.get("/api/v1/plans/greet-keel").await.error_code(404),
        "not_found"
    );
    let again = rest
        .post("/api/v1/plans/greet-keel/start", &json!({}))
        .await;
    assert_eq!(again.error_code(404), "not_found");
    let detail = with_worker(&client, &queue, async {
        eventually(
            &rest,
            &format!("/api/v1/executions/greet-keel?run_id={run_id}"),
            |run| run["status"] == "completed",
        )
        .await
    })
    .await;
    assert_eq!(detail["output"], json!(["hello, planner"]));
    assert_eq!(detail["input"], json!(["planner"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_a_start_time_starts_by_itself_even_after_a_sigkill() {
    let mut server = Server::start().await;
    let rest = Rest::new(&server.http_addr);
    let queue = unique("timed");
    let created = rest
        .post(
            "/api/v1/plans",
            &json!({
                "id": "in-three-seconds",
                "workflow_type": "Greeting",
                "task_queue": queue,
                "workflow_id": "timed-greeting",
                "input": "later",
                "start_at": rfc3339_in(Duration::from_secs(3)),
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(plans(&rest).await.len(), 1);

    server.kill().await;
    server.restart().await;
    let rest = Rest::new(&server.http_addr);
    assert_eq!(
        plans(&rest).await[0]["id"],
        "in-three-seconds",
        "the plan outlived the crash"
    );
    eventually(&rest, "/api/v1/plans", |list| list["plans"] == json!([])).await;
    let client = server.client().await;
    let detail = with_worker(&client, &queue, async {
        eventually(&rest, "/api/v1/executions/timed-greeting", |run| {
            run["status"] == "completed"
        })
        .await
    })
    .await;
    assert_eq!(detail["output"], json!(["hello, later"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_plan_whose_workflow_id_is_running_stays_and_says_why() {
    let server = Server::start().await;
    let rest = Rest::new(&server.http_addr);
    let queue = unique("busy-id");
    let first = rest
        .post(
            "/api/v1/plans",
            &json!({"workflow_type": "Greeting", "task_queue": queue, "workflow_id": "only-one", "input": "a"}),
        )
        .await
        .json();
    let first_id = first["id"].as_str().unwrap().to_owned();
    assert!(first_id.starts_with("plan-"), "a generated id: {first_id}");
    let started = rest
        .post(&format!("/api/v1/plans/{first_id}/start"), &json!({}))
        .await;
    assert_eq!(started.status, 200, "{}", started.text());

    // No worker runs, so `only-one` is still running when the second plan comes due.
    let second = rest
        .post(
            "/api/v1/plans",
            &json!({
                "id": "second",
                "workflow_type": "Greeting",
                "task_queue": queue,
                "workflow_id": "only-one",
                "start_at": rfc3339_in(Duration::ZERO),
            }),
        )
        .await;
    assert_eq!(second.status, 201, "{}", second.text());
    let stuck = eventually(&rest, "/api/v1/plans/second", |plan| {
        plan["start_error"].is_string()
    })
    .await;
    assert!(
        stuck["start_error"].as_str().unwrap().contains("already"),
        "{stuck}"
    );
    let by_hand = rest.post("/api/v1/plans/second/start", &json!({})).await;
    assert_eq!(by_hand.error_code(409), "already_exists");

    // Deleting takes the version read, when given.
    let stale = rest
        .request("DELETE", "/api/v1/plans/second?version=1", &[], None)
        .await;
    assert_eq!(stale.error_code(409), "conflict");
    let deleted = rest
        .request(
            "DELETE",
            &format!("/api/v1/plans/second?version={}", stuck["version"]),
            &[],
            None,
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert!(plans(&rest).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keel_plan_creates_lists_edits_and_starts_plans_and_refuses_bad_options_in_one_line() {
    let server = Server::start().await;
    let client = server.client().await;
    let address = server.http_addr.clone();
    let queue = unique("cli-plans");

    let (ok, stdout, stderr) = keel(
        &address,
        &[
            "plan",
            "create",
            "--type",
            "Greeting",
            "--task-queue",
            &queue,
            "--id",
            "cli-plan",
            "--input",
            "\"cli\"",
            "--start-at",
            "+2h",
            "-o",
            "json",
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).unwrap();
    let start_at = chrono::DateTime::parse_from_rfc3339(created["start_at"].as_str().unwrap())
        .unwrap()
        .to_utc();
    let in_two_hours = chrono::Utc::now() + chrono::Duration::hours(2);
    assert!(
        (start_at - in_two_hours).num_seconds().abs() < 60,
        "{start_at}"
    );

    let (ok, table, _) = keel(&address, &["plan", "list", "-o", "table"]).await;
    assert!(ok);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains("cli-plan") && table.contains(&queue),
        "{table}"
    );

    for (args, expected) in [
        (
            vec![
                "plan",
                "create",
                "--type",
                "G",
                "--task-queue",
                "q",
                "--start-at",
                "soon",
            ],
            "--start-at soon",
        ),
        (
            vec![
                "plan",
                "create",
                "--type",
                "G",
                "--task-queue",
                "q",
                "--input",
                "{x}",
            ],
            "--input is not valid JSON",
        ),
        (vec!["plan", "edit", "cli-plan"], "nothing to change"),
        (
            vec![
                "plan",
                "edit",
                "cli-plan",
                "--note",
                "n",
                "--if-version",
                "7",
            ],
            "changed since it was read",
        ),
        (
            vec!["plan", "start", "no-such-plan"],
            "planned run 'no-such-plan' not found",
        ),
    ] {
        let (ok, _, stderr) = keel(&address, &args).await;
        assert!(!ok, "keel {args:?} should fail");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line for {args:?}: {stderr}");
        assert!(lines[0].contains(expected), "{args:?}: {}", lines[0]);
    }

    let (ok, _, stderr) = keel(
        &address,
        &[
            "plan",
            "edit",
            "cli-plan",
            "--start-at",
            "none",
            "--note",
            "by hand after all",
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    let rest = Rest::new(&server.http_addr);
    let stored = rest.ok("/api/v1/plans/cli-plan").await;
    assert_eq!(stored["start_at"], Value::Null);
    assert_eq!(stored["note"], "by hand after all");

    let (ok, stdout, stderr) = keel(&address, &["plan", "start", "cli-plan", "-o", "table"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("started cli-plan as run "), "{stdout}");
    let detail = with_worker(&client, &queue, async {
        eventually(&rest, "/api/v1/executions/cli-plan", |run| {
            run["status"] == "completed"
        })
        .await
    })
    .await;
    assert_eq!(detail["output"], json!(["hello, cli"]));
}
