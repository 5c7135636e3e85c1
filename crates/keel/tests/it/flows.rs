//! Declarative flows over REST, run by the server's own flow worker and task runner:
//! branches, loops, a switch, a subflow and a shell task; refusals that store and start
//! nothing; retries then the `errors` tasks; a pause resumed with checked inputs; and a
//! shell task run whose server was killed, run again after the restart.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Backend, Server, keel, on_both_backends, unique};
use crate::rest::eventually;
use crate::rest_client::Rest;

async fn save(rest: &Rest, source: &str) -> Value {
    let saved = rest.post("/api/v1/flows", &json!({"source": source})).await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    saved.json()
}

async fn run(rest: &Rest, flow: &str, inputs: Value) -> String {
    let started = rest
        .post(
            &format!("/api/v1/flows/default/{flow}/run"),
            &json!({"inputs": inputs}),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.text());
    started.json()["workflow_id"].as_str().unwrap().to_owned()
}

/// Waits (up to `limit`) for the execution to close; answers its detail.
async fn closed(rest: &Rest, workflow_id: &str, limit: Duration) -> Value {
    closed_in(rest, "default", workflow_id, limit).await
}

/// [`closed`], for an execution of `namespace`.
pub(crate) async fn closed_in(
    rest: &Rest,
    namespace: &str,
    workflow_id: &str,
    limit: Duration,
) -> Value {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let detail = rest
            .ok(&format!(
                "/api/v1/executions/{workflow_id}?namespace={namespace}"
            ))
            .await;
        if detail["status"] != "running" {
            return detail;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{workflow_id} still runs: {detail}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const BILLING: &str = r#"
id: billing
inputs:
  - {id: amount, type: INT, min: 0}
tasks:
  - id: total
    type: return
    value: {total: "{{ inputs.amount * 2 }}"}
outputs:
  - {id: total, value: "{{ outputs.total.total }}"}
"#;

const ORDERS: &str = r#"
id: orders
description: Every kind of step at once.
inputs:
  - {id: items, type: ARRAY}
  - {id: mode, type: SELECT, values: [fast, careful], defaults: fast}
tasks:
  - id: hello
    type: log
    message: "{{ inputs.items | length }} items"
  - id: sides
    type: Parallel
    tasks:
      - id: left
        type: shell
        commands:
          - echo working on the left
          - 'echo ''::{"outputs": {"side": "left"}}::'''
      - id: right
        type: return
        value: {side: right}
  - id: each
    type: ForEach
    values: "{{ inputs.items }}"
    concurrencyLimit: 2
    tasks:
      - id: square
        type: return
        value: "{{ taskrun.value * taskrun.value }}"
  - id: route
    type: Switch
    value: "{{ inputs.mode }}"
    cases:
      fast: [{id: quick, type: sleep, duration: 10ms}]
      careful: [{id: slow, type: sleep, duration: 1s}]
  - id: bill
    type: Subflow
    flowId: billing
    inputs: {amount: "{{ inputs.items | length }}"}
outputs:
  - {id: squares, value: "{{ outputs.square }}"}
  - {id: left, value: "{{ outputs.left.vars.side }}"}
  - {id: right, value: "{{ outputs.right.side }}"}
  - {id: billed, value: "{{ outputs.bill.total }}"}
"#;

on_both_backends! {
    async fn a_flow_of_branches_loops_a_switch_a_subflow_and_a_shell_completes_with_its_outputs(backend: Backend) {
        let server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        assert_eq!(save(&rest, BILLING).await["revision"], 1);
        let saved = save(&rest, ORDERS).await;
        assert_eq!((saved["revision"].clone(), saved["created"].clone()), (json!(1), json!(true)));
        assert_eq!(save(&rest, ORDERS).await["created"], false, "an unchanged save makes no revision");
        let listed = rest.ok("/api/v1/flows").await;
        let ids: Vec<&str> = listed["flows"].as_array().unwrap().iter().map(|flow| flow["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["billing", "orders"]);
        let orders = rest.ok("/api/v1/flows/default/orders?revision=1").await;
        assert_eq!(orders["inputs"][1], json!({"id": "mode", "type": "SELECT", "description": "", "required": false,
            "default": "fast", "pattern": null, "min": null, "max": null, "values": ["fast", "careful"]}));
        assert_eq!(orders["source"], ORDERS);
        assert_eq!(rest.ok("/api/v1/flows/default/orders/revisions").await["revisions"].as_array().unwrap().len(), 1);

        let workflow_id = run(&rest, "orders", json!({"items": "[2, 3, 4]"})).await;
        let detail = closed(&rest, &workflow_id, Duration::from_secs(30)).await;
        assert_eq!(detail["status"], "completed", "{detail}");
        assert_eq!(detail["workflow_type"], "orders");
        assert_eq!(
            detail["output"],
            json!([{"outputs": {"squares": {"2": 4, "3": 9, "4": 16}, "left": "left", "right": "right", "billed": 6}}])
        );
        let task_runs: Vec<(&str, &str)> = detail["task_runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| (run["activity_id"].as_str().unwrap(), run["state"].as_str().unwrap()))
            .collect();
        for id in ["hello", "left", "right", "square[0]", "square[1]", "square[2]"] {
            assert!(task_runs.contains(&(id, "completed")), "{id} in {task_runs:?}");
        }
        assert_eq!(detail["children"][0]["workflow_type"], "billing");
        assert_eq!(detail["children"][0]["state"], "completed");
        let logs = rest.ok(&format!("/api/v1/executions/{workflow_id}/logs?limit=1000")).await;
        let lines: Vec<(&str, &str)> = logs["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|line| line["source"] == "worker")
            .map(|line| (line["task_run"].as_str().unwrap_or(""), line["message"].as_str().unwrap()))
            .collect();
        assert!(lines.contains(&("left", "working on the left")), "{lines:?}");
        assert!(lines.contains(&("hello", "3 items")), "{lines:?}");
        assert!(!lines.iter().any(|(_, message)| message.contains("outputs")), "output lines are not logged: {lines:?}");
    }
}

on_both_backends! {
    async fn a_refused_document_or_input_stores_and_starts_nothing(backend: Backend) {
        let server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        let refused = rest
            .post(
                "/api/v1/flows",
                &json!({"source": "id: broken\ntasks:\n  - id: a\n    type: shell\n    comands: [ls]\n"}),
            )
            .await;
        assert_eq!(refused.error_code(400), "bad_request");
        assert!(
            refused.text().contains("line 5, column 5"),
            "{}",
            refused.text()
        );
        let refused = rest
            .post(
                "/api/v1/flows",
                &json!({"source": "id: broken\ntasks:\n  - {id: a, type: log, message: '{{ outputs.nope }}'}\n"}),
            )
            .await;
        assert!(
            refused.text().contains("outputs.nope names no task"),
            "{}",
            refused.text()
        );
        assert_eq!(
            rest.ok("/api/v1/flows").await["flows"],
            json!([]),
            "nothing was stored"
        );
        let checked = rest
            .post(
                "/api/v1/flows/validate",
                &json!({"source": "id: x\ntasks:\n  - {id: a, type: lgo}\n"}),
            )
            .await
            .json();
        assert_eq!(checked["valid"], false);
        assert_eq!(checked["problems"][0]["line"], 3);
        assert!(
            checked["problems"][0]["message"]
                .as_str()
                .unwrap()
                .contains("unknown task type 'lgo'")
        );

        save(&rest, BILLING).await;
        for (inputs, says) in [
            (json!({}), "input 'amount': required"),
            (json!({"amount": -1}), "below the minimum"),
            (json!({"amount": 1, "discount": 2}), "input 'discount'"),
        ] {
            let refused = rest
                .post(
                    "/api/v1/flows/default/billing/run",
                    &json!({"inputs": inputs}),
                )
                .await;
            assert_eq!(refused.error_code(400), "bad_request");
            assert!(
                refused.text().contains(says),
                "{inputs}: {}",
                refused.text()
            );
        }
        assert_eq!(
            rest.ok("/api/v1/executions?type=billing").await["executions"],
            json!([]),
            "nothing started"
        );
        let missing = rest
            .post("/api/v1/flows/default/nothing/run", &json!({}))
            .await;
        assert_eq!(missing.error_code(404), "not_found");
    }
}

on_both_backends! {
    async fn a_failing_task_is_retried_by_its_policy_then_the_errors_tasks_run(backend: Backend) {
        let server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        save(
            &rest,
            r#"
    id: flaky
    tasks:
      - id: work
        type: shell
        commands: ["echo trying; exit 3"]
        retry: {type: constant, interval: 100ms, maxAttempts: 3}
      - {id: never, type: log, message: never}
    errors:
      - {id: alert, type: log, level: error, message: "work failed"}
    "#,
        )
        .await;
        let workflow_id = run(&rest, "flaky", json!({})).await;
        let detail = closed(&rest, &workflow_id, Duration::from_secs(30)).await;
        assert_eq!(detail["status"], "failed", "{detail}");
        assert!(
            detail["error"]["message"]
                .as_str()
                .unwrap()
                .contains("task 'work' failed: exit code 3"),
            "{}",
            detail["error"]
        );
        let work = &detail["task_runs"][0];
        assert_eq!(
            (work["activity_id"].clone(), work["attempt"].clone()),
            (json!("work"), json!(3))
        );
        assert_eq!(work["earlier_attempts"].as_array().unwrap().len(), 2);
        let ids: Vec<&str> = detail["task_runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| run["activity_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["work", "alert"]);
    }
}

on_both_backends! {
    async fn a_paused_flow_resumes_with_checked_inputs(backend: Backend) {
        let server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        save(
            &rest,
            r#"
    id: approval
    tasks:
      - id: approve
        type: Pause
        timeout: PT1H
        onResume:
          - {id: approved, type: BOOLEAN}
          - {id: note, type: STRING, required: false}
      - id: decide
        type: If
        condition: "{{ outputs.approve.approved }}"
        then: [{id: ship, type: return, value: shipped}]
        else: [{id: stop, type: Fail, message: "refused: {{ outputs.approve.note }}"}]
    outputs:
      - {id: result, value: "{{ outputs.ship }}"}
    "#,
        )
        .await;
        let workflow_id = run(&rest, "approval", json!({})).await;
        let path = format!("/api/v1/executions/{workflow_id}");
        // It waits for a person, with its timeout's timer running.
        eventually(&rest, &path, |run| {
            run["pending"]["timers"][0]["timer_id"] == "approve~timeout"
        })
        .await;
        let resume = format!("/api/v1/executions/{workflow_id}/resume");
        let refused = rest
            .post(&resume, &json!({"inputs": {"approved": "perhaps"}}))
            .await;
        assert_eq!(refused.error_code(400), "bad_request");
        assert!(
            refused.text().contains("input 'approved'"),
            "{}",
            refused.text()
        );
        let refused = rest
            .post(
                &resume,
                &json!({"task_run": "other", "inputs": {"approved": true}}),
            )
            .await;
        assert_eq!(refused.error_code(409), "conflict");
        let resumed = rest
            .post(&resume, &json!({"inputs": {"approved": "true"}}))
            .await;
        assert_eq!(resumed.status, 200, "{}", resumed.text());
        assert_eq!(resumed.json()["task_run"], "approve");
        let detail = closed(&rest, &workflow_id, Duration::from_secs(20)).await;
        assert_eq!(
            detail["output"],
            json!([{"outputs": {"result": "shipped"}}]),
            "{detail}"
        );
        let again = rest
            .post(&resume, &json!({"inputs": {"approved": true}}))
            .await;
        assert_eq!(
            again.error_code(409),
            "conflict",
            "a closed execution has nothing to resume"
        );
    }
}

on_both_backends! {
    async fn a_shell_task_run_lost_with_its_killed_server_runs_again_after_the_restart(backend: Backend) {
        let mut server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        let marker = server.data_dir().join(unique("attempts"));
        save(
            &rest,
            &format!(
                "id: long\ntasks:\n  - id: work\n    type: shell\n    commands: [\"echo started >> {0}\", \"sleep 2\", \"echo finished >> {0}\"]\n",
                marker.display()
            ),
        )
        .await;
        let workflow_id = run(&rest, "long", json!({})).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(&marker)
            .unwrap_or_default()
            .contains("started")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the shell task never started"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.kill().await;
        server.restart().await;
        let rest = Rest::new(&server.http_addr);
        // The lost task run is noticed when its heartbeat times out (10 s), then run again.
        let detail = closed(&rest, &workflow_id, Duration::from_secs(90)).await;
        assert_eq!(detail["status"], "completed", "{detail}");
        let attempts = std::fs::read_to_string(&marker).unwrap();
        assert_eq!(
            attempts, "started\nstarted\nfinished\n",
            "killed once, then run to the end once"
        );
        let states: Vec<(&str, &str)> = detail["task_runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| {
                (
                    run["activity_id"].as_str().unwrap(),
                    run["state"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(states, [("work", "timed_out"), ("work#2", "completed")]);
    }
}

fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/flows")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_examples_apply_and_run_from_the_cli() {
    let server = Server::start().await;
    let address = server.http_addr.as_str();
    let examples = examples();
    let (ok, out, err) = keel(
        address,
        &["flow", "apply", examples.to_str().unwrap(), "-o", "table"],
    )
    .await;
    assert!(ok, "{err}");
    for flow in ["approval", "billing", "daily-report", "hello", "orders"] {
        assert!(
            out.contains(&format!("default/{flow}: revision 1 (saved)")),
            "{out}"
        );
    }
    let (ok, out, _) = keel(
        address,
        &["flow", "apply", examples.to_str().unwrap(), "-o", "table"],
    )
    .await;
    assert!(
        ok && out.contains("default/hello: revision 1 (unchanged)"),
        "{out}"
    );

    let (ok, out, err) = keel(
        address,
        &[
            "flow", "run", "hello", "--input", "name=Ada", "--wait", "-o", "json",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["outputs"], json!({"shouted": "ADA"}), "{out}");
    let (ok, out, err) = keel(
        address,
        &[
            "flow",
            "run",
            "orders",
            "--input",
            r#"orders=["a","b","c"]"#,
            "--input",
            "priority=express",
            "--wait",
            "-o",
            "json",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["outputs"]["billed"], 300, "{out}");
    assert_eq!(
        answer["outputs"]["packed"],
        json!({"a": "packed a", "b": "packed b", "c": "packed c"})
    );

    for (inputs, day) in [
        (vec!["--input", "day=2026-11-03"], "2026-11-03"),
        (vec![], "no day given"),
    ] {
        let mut args = vec!["flow", "run", "daily-report", "--wait", "-o", "json"];
        args.extend(inputs);
        let (ok, out, err) = keel(address, &args).await;
        assert!(ok, "{err}");
        let answer: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(answer["outputs"], json!({ "day": day }), "{out}");
    }

    let (ok, _, err) = keel(address, &["flow", "run", "hello", "--input", "name=R2D2"]).await;
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "one readable line: {err}");
    assert!(
        err.contains("input 'name'") && err.contains("does not match"),
        "{err}"
    );

    // Kestra's way of naming a flow, NAMESPACE.ID, where namespaces and ids may hold dots.
    let rest = Rest::new(&server.http_addr);
    for namespace in ["acme", "acme.team"] {
        let created = rest
            .post("/api/v1/namespaces", &json!({ "name": namespace }))
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
    }
    let returning = |namespace: &str, id: &str, value: &str| {
        format!(
            "id: {id}\nnamespace: {namespace}\ntasks:\n  - {{id: r, type: return, value: {value}}}\noutputs:\n  - {{id: from, value: \"{{{{ outputs.r }}}}\"}}\n"
        )
    };
    save(&rest, &returning("acme.team", "report", "team")).await;
    let (ok, out, err) = keel(
        address,
        &["flow", "run", "acme.team.report", "--wait", "-o", "json"],
    )
    .await;
    assert!(ok, "{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["outputs"], json!({"from": "team"}), "{out}");
    save(&rest, &returning("acme", "team.report", "acme")).await;
    let (ok, _, err) = keel(address, &["flow", "run", "acme.team.report"]).await;
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "one readable line: {err}");
    assert!(
        err.contains("acme/team.report")
            && err.contains("acme.team/report")
            && err.contains("NAMESPACE/ID"),
        "{err}"
    );
    let (ok, out, err) = keel(
        address,
        &["flow", "run", "acme/team.report", "--wait", "-o", "json"],
    )
    .await;
    assert!(ok, "{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["outputs"], json!({"from": "acme"}), "{out}");

    let broken = server.data_dir().join("broken.yaml");
    std::fs::write(
        &broken,
        "id: broken\ntasks:\n  - id: a\n    type: log\n    mesage: hi\n",
    )
    .unwrap();
    let (ok, _, err) = keel(
        address,
        &["flow", "validate", broken.to_str().unwrap(), "-o", "table"],
    )
    .await;
    assert!(!ok);
    assert!(
        err.contains("broken.yaml:5:5:") && err.contains("'mesage'"),
        "{err}"
    );

    let (ok, out, err) = keel(address, &["flow", "run", "approval", "-o", "json"]).await;
    assert!(ok, "{err}");
    let workflow_id = serde_json::from_str::<Value>(&out).unwrap()["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rest = Rest::new(&server.http_addr);
    let path = format!("/api/v1/executions/{workflow_id}");
    eventually(&rest, &path, |run| {
        run["pending"]["timers"][0]["timer_id"] == "approve~timeout"
    })
    .await;
    let (ok, out, err) = keel(
        address,
        &[
            "execution",
            "resume",
            &workflow_id,
            "--input",
            "approved=true",
            "--input",
            "note=ship it",
            "-o",
            "table",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("resumed approve"), "{out}");
    let detail = closed(&rest, &workflow_id, Duration::from_secs(20)).await;
    assert_eq!(
        detail["output"],
        json!([{"outputs": {"note": "ship it"}}]),
        "{detail}"
    );
}

on_both_backends! {
    async fn an_activity_task_is_done_by_an_sdk_worker_on_its_queue(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let rest = Rest::new(&server.http_addr);
        let queue = unique("flow-activities");
        save(
            &rest,
            &format!(
                r#"
    id: external
    inputs:
      - {{id: name, type: STRING}}
    tasks:
      - id: greet
        type: activity
        activityType: "TestActivities::greet"
        taskQueue: {queue}
        input: "{{{{ inputs.name }}}}"
        timeout: PT30S
    outputs:
      - {{id: greeting, value: "{{{{ outputs.greet }}}}"}}
    "#
            ),
        )
        .await;
        let workflow_id = run(&rest, "external", json!({"name": "Ada"})).await;
        let detail = crate::harness::with_worker(
            &client,
            &queue,
            closed(&rest, &workflow_id, Duration::from_secs(30)),
        )
        .await;
        assert_eq!(
            detail["output"],
            json!([{"outputs": {"greeting": "hello, Ada"}}]),
            "{detail}"
        );
        assert_eq!(detail["task_runs"][0]["task_queue"], queue.as_str());
    }
}

on_both_backends! {
    async fn a_failed_execution_restarts_and_a_fixed_flow_replays_reusing_earlier_outputs(backend: Backend) {
        let server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        let ready = server.data_dir().join(unique("ready"));
        let flow = |extra: &str| {
            format!(
                "id: mend\ntasks:\n  - {{id: first, type: return, value: {{n: 41}}}}\n  - {{id: gate, type: shell, commands: [\"test -e {}\"]}}\n{extra}  - {{id: last, type: return, value: \"{{{{ outputs.first.n + 1 }}}}\"}}\noutputs:\n  - {{id: answer, value: \"{{{{ outputs.last }}}}\"}}\n",
                ready.display()
            )
        };
        save(&rest, &flow("")).await;
        let workflow_id = run(&rest, "mend", json!({})).await;
        let failed = closed(&rest, &workflow_id, Duration::from_secs(20)).await;
        assert_eq!(failed["status"], "failed", "{failed}");

        // Restart: the same execution goes on in a new run; `first` is not run again.
        let refused = rest
            .post(
                &format!("/api/v1/executions/{workflow_id}/replay"),
                &json!({"from_task_run": "nope"}),
            )
            .await;
        assert_eq!(refused.error_code(400), "bad_request");
        std::fs::write(&ready, "").unwrap();
        let restarted = rest
            .post(
                &format!("/api/v1/executions/{workflow_id}/restart"),
                &json!({}),
            )
            .await;
        assert_eq!(restarted.status, 200, "{}", restarted.text());
        let restarted = restarted.json();
        assert_eq!(restarted["workflow_id"], workflow_id.as_str());
        assert_eq!(restarted["reused"], json!(["first"]));
        let detail = closed(&rest, &workflow_id, Duration::from_secs(20)).await;
        assert_eq!(detail["run_id"], restarted["run_id"]);
        assert_eq!(
            detail["output"],
            json!([{"outputs": {"answer": 42}}]),
            "{detail}"
        );
        let ran: Vec<&str> = detail["task_runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| run["activity_id"].as_str().unwrap())
            .collect();
        assert_eq!(ran, ["gate", "last"]);
        let again = rest
            .post(
                &format!("/api/v1/executions/{workflow_id}/restart"),
                &json!({}),
            )
            .await;
        assert_eq!(
            again.error_code(409),
            "conflict",
            "a completed execution does not restart"
        );

        // Replay: revision 2 fails on purpose; revision 3 fixes it; the replay of the failed
        // execution on the latest revision reuses what finished before the failure.
        save(
            &rest,
            &flow("  - {id: broken, type: Fail, message: not yet}\n"),
        )
        .await;
        let failing = run(&rest, "mend", json!({})).await;
        assert_eq!(
            closed(&rest, &failing, Duration::from_secs(20)).await["status"],
            "failed"
        );
        assert_eq!(save(&rest, &flow("")).await["revision"], 3);
        let replayed = rest
            .post(&format!("/api/v1/executions/{failing}/replay"), &json!({}))
            .await;
        assert_eq!(replayed.status, 200, "{}", replayed.text());
        let replayed = replayed.json();
        assert_eq!(replayed["revision"], 3);
        let diff = rest.ok("/api/v1/flows/default/mend/diff?from=2").await;
        assert_eq!(
            (diff["from"].clone(), diff["to"].clone()),
            (json!(2), json!(3))
        );
        let diff = diff["diff"].as_str().unwrap();
        assert!(
            diff.contains("--- revision 2\n+++ revision 3\n")
                && diff.contains("-  - {id: broken, type: Fail, message: not yet}"),
            "{diff}"
        );
        assert_eq!(
            rest.ok("/api/v1/flows/default/mend/diff?from=1&to=3").await["diff"],
            "",
            "revision 3 undid revision 2"
        );
        assert_eq!(replayed["reused"], json!(["first", "gate"]));
        let detail = closed(
            &rest,
            replayed["workflow_id"].as_str().unwrap(),
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(detail["status"], "completed", "{detail}");
        assert_eq!(detail["output"], json!([{"outputs": {"answer": 42}}]));
        let ran: Vec<&str> = detail["task_runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| run["activity_id"].as_str().unwrap())
            .collect();
        assert_eq!(ran, ["last"]);
        // What each task run gave, reused ones first.
        let tasks = rest
            .ok(&format!("/api/v1/executions/{}/tasks", replayed["workflow_id"].as_str().unwrap()))
            .await;
        assert_eq!(
            tasks["task_runs"],
            json!([
                {"task_run": "first", "state": "reused", "starts": 0, "outputs": {"n": 41}, "error": null},
                {"task_run": "gate", "state": "reused", "starts": 0, "outputs": {"exitCode": 0, "vars": {}}, "error": null},
                {"task_run": "last", "state": "completed", "starts": 1, "outputs": 42, "error": null},
            ]),
            "{tasks}"
        );
        let failing_tasks = rest.ok(&format!("/api/v1/executions/{failing}/tasks")).await;
        let broken = &failing_tasks["task_runs"].as_array().unwrap().last().unwrap();
        assert_eq!((broken["task_run"].as_str(), broken["state"].as_str()), (Some("broken"), Some("failed")), "{failing_tasks}");
        assert!(broken["error"].as_str().unwrap().contains("not yet"), "{failing_tasks}");
    }
}

on_both_backends! {
    async fn a_webhook_starts_a_run_and_answers_its_outputs(backend: Backend) {
        let server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        save(
            &rest,
            r#"
    id: hooked
    inputs:
      - {id: order, type: INT}
    tasks:
      - {id: price, type: return, value: "{{ inputs.order * 10 }}"}
    outputs:
      - {id: price, value: "{{ outputs.price }}"}
      - {id: via, value: "{{ trigger.type }} {{ trigger.id }} {{ trigger.body.order }}"}
    triggers:
      - {id: shop, type: Webhook, key: a-long-enough-secret-key}
    "#,
        )
        .await;
        let hook = "/api/v1/flows/default/hooked/webhook/a-long-enough-secret-key";
        let answer = rest
            .post(&format!("{hook}?wait=true"), &json!({"order": 7}))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let answer = answer.json();
        assert_eq!(
            (answer["status"].clone(), answer["outputs"].clone()),
            (json!("completed"), json!({"price": 70, "via": "webhook shop 7"}))
        );
        let started = rest.post(hook, &json!({"order": 1})).await.json();
        assert_eq!(
            started["outputs"],
            Value::Null,
            "without wait, it answers at once"
        );
        let detail = closed(
            &rest,
            started["workflow_id"].as_str().unwrap(),
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(detail["output"], json!([{"outputs": {"price": 10, "via": "webhook shop 1"}}]));

        let wrong = rest
            .post(
                "/api/v1/flows/default/hooked/webhook/not-the-key",
                &json!({"order": 1}),
            )
            .await;
        assert_eq!(wrong.error_code(404), "not_found");
        let bad = rest.post(hook, &json!({"order": "seven"})).await;
        assert_eq!(bad.error_code(400), "bad_request");
        assert!(bad.text().contains("input 'order'"), "{}", bad.text());
        let runs = rest.ok("/api/v1/executions?type=hooked").await;
        assert_eq!(
            runs["executions"].as_array().unwrap().len(),
            2,
            "refused calls start nothing"
        );
    }
}

on_both_backends! {
    async fn a_schedule_trigger_starts_runs_until_it_is_removed(backend: Backend) {
        let server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        let ticker = |trigger: &str| {
            format!(
                "id: ticker\ninputs:\n  - {{id: label, type: STRING}}\ntasks:\n  - {{id: say, type: return, value: \"{{{{ inputs.label }}}}\"}}\noutputs:\n  - {{id: said, value: \"{{{{ outputs.say }}}}\"}}\n{trigger}"
            )
        };
        let refused = rest
            .post(
                "/api/v1/flows",
                &json!({"source": ticker("triggers:\n  - {id: tick, type: Schedule, cron: '@every 1s'}\n")}),
            )
            .await;
        assert_eq!(refused.error_code(400), "bad_request");
        assert!(
            refused
                .text()
                .contains("trigger 'tick': input 'label': required"),
            "{}",
            refused.text()
        );
        save(
            &rest,
            &ticker(
                "triggers:\n  - {id: tick, type: Schedule, cron: '@every 1s', inputs: {label: tock}, overlap: BUFFER_ONE, catchupWindow: 10m}\n",
            ),
        )
        .await;
        let schedule = rest.ok("/api/v1/schedules/flow:ticker:tick").await;
        assert_eq!(schedule["workflow_type"], "ticker");
        assert_eq!(
            (schedule["policies"]["overlap"].clone(), schedule["policies"]["catchup_window_ms"].clone()),
            (json!("buffer_one"), json!(600_000.0))
        );
        let runs = eventually(
            &rest,
            "/api/v1/executions?type=ticker&status=completed",
            |page| !page["executions"].as_array().unwrap().is_empty(),
        )
        .await;
        let first = runs["executions"][0]["workflow_id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(first.starts_with("ticker-tick-"), "{first}");
        let detail = rest.ok(&format!("/api/v1/executions/{first}")).await;
        assert_eq!(detail["output"], json!([{"outputs": {"said": "tock"}}]));

        save(&rest, &ticker("")).await;
        let gone = rest.get("/api/v1/schedules/flow:ticker:tick").await;
        assert_eq!(
            gone.error_code(404),
            "not_found",
            "a removed trigger's schedule is deleted"
        );
    }
}

on_both_backends! {
    /// A Schedule trigger backfilled over a past range (as Kestra users backfill): one run
    /// per due time, each reading its own `trigger.date` in the trigger's time zone, and a
    /// replay of one reads the same date.
    async fn a_schedule_trigger_backfills_a_past_range_and_each_run_reads_its_date(backend: Backend) {
        let server = Server::start_on(backend).await;
        let address = server.http_addr.as_str();
        let rest = Rest::new(&server.http_addr);
        save(
            &rest,
            r#"
    id: monthly
    tasks:
      - {id: day, type: return, value: "{{ trigger.date | default('by hand') }}"}
    outputs:
      - {id: day, value: "{{ outputs.day }}"}
    triggers:
      - {id: first, type: Schedule, cron: "0 0 1 * *", timezone: Europe/Paris, overlap: ALLOW_ALL}
    "#,
        )
        .await;
        let backfill = "/api/v1/schedules/flow:monthly:first/backfill";
        for (body, says) in [
            (json!({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}), "'to' is before 'from'"),
            (json!({"from": "yesterday", "to": "2026-01-01T00:00:00Z"}), "RFC 3339"),
            (json!({"to": "2026-01-01T00:00:00Z"}), "'from' is required"),
            (json!({"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z", "overlap": "sometimes"}), "allow_all"),
            (json!({"from": "2000-01-01T00:00:00Z", "to": "2099-01-01T00:00:00Z"}), "more than 1000"),
        ] {
            let refused = rest.post(backfill, &body).await;
            assert_eq!(refused.error_code(400), "bad_request", "{body}");
            assert!(refused.text().contains(says), "{body}: {}", refused.text());
        }
        let missing = rest
            .post("/api/v1/schedules/flow:monthly:nope/backfill", &json!({"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}))
            .await;
        assert_eq!(missing.error_code(404), "not_found");
        let runs = rest.ok("/api/v1/executions?type=monthly").await;
        assert_eq!(runs["executions"], json!([]), "refused backfills start nothing");

        let (ok, out, err) = keel(
            address,
            &[
                "flow", "backfill", "monthly", "--from", "2025-12-31T23:00:00Z", "--to",
                "2026-02-15T00:00:00Z", "-o", "table",
            ],
        )
        .await;
        assert!(ok, "{err}");
        assert!(out.starts_with("flow:monthly:first: 2 runs to take"), "{out}");
        let done = eventually(&rest, "/api/v1/executions?type=monthly&status=completed", |page| {
            page["executions"].as_array().unwrap().len() == 2
        })
        .await;
        let mut days = Vec::new();
        for run in done["executions"].as_array().unwrap() {
            let id = run["workflow_id"].as_str().unwrap();
            let detail = rest.ok(&format!("/api/v1/executions/{id}")).await;
            days.push(detail["output"][0]["outputs"]["day"].as_str().unwrap().to_owned());
        }
        days.sort();
        assert_eq!(days, ["2026-01-01T00:00:00+01:00", "2026-02-01T00:00:00+01:00"]);

        let first = done["executions"][0]["workflow_id"].as_str().unwrap().to_owned();
        let replayed = rest
            .post(&format!("/api/v1/executions/{first}/replay"), &json!({"from_task_run": "day"}))
            .await;
        assert_eq!(replayed.status, 200, "{}", replayed.text());
        let replay = closed(&rest, replayed.json()["workflow_id"].as_str().unwrap(), Duration::from_secs(20)).await;
        let original = rest.ok(&format!("/api/v1/executions/{first}")).await;
        assert_eq!(replay["output"], original["output"], "a replay reads the date its original read");

        let run = run(&rest, "monthly", json!({})).await;
        assert_eq!(
            closed(&rest, &run, Duration::from_secs(20)).await["output"],
            json!([{"outputs": {"day": "by hand"}}])
        );
        save(&rest, "id: plain\ntasks:\n  - {id: a, type: log, message: hi}\n").await;
        let (ok, _, err) = keel(address, &["flow", "backfill", "plain", "--from", "2026-01-01T00:00:00Z", "--to", "2026-02-01T00:00:00Z"]).await;
        assert!(!ok);
        assert_eq!(err.trim(), "keel: flow default/plain has no Schedule trigger");
    }
}

on_both_backends! {
    /// A Schedule trigger's runs due while the server was down (SIGKILL) start when it is
    /// back, within the trigger's catchupWindow, each reading the time it was due.
    async fn a_schedule_trigger_catches_up_runs_missed_while_the_server_was_down(backend: Backend) {
        let mut server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        save(
            &rest,
            r#"
    id: catchup
    tasks:
      - {id: due, type: return, value: "{{ trigger.date }}"}
    outputs:
      - {id: due, value: "{{ outputs.due }}"}
    triggers:
      - {id: tick, type: Schedule, cron: "@every 1s", overlap: ALLOW_ALL, catchupWindow: 1m}
    "#,
        )
        .await;
        let completed = "/api/v1/executions?type=catchup&status=completed&limit=1000";
        eventually(&rest, completed, |page| !page["executions"].as_array().unwrap().is_empty()).await;
        server.kill().await;
        let down = chrono::Utc::now();
        tokio::time::sleep(Duration::from_secs(4)).await;
        let up = chrono::Utc::now();
        server.restart().await;
        let rest = Rest::new(&server.http_addr);

        // Every whole second strictly inside the downtime was due while nothing ran.
        let missed: Vec<String> = (down.timestamp() + 1..up.timestamp())
            .map(|second| {
                chrono::DateTime::from_timestamp(second, 0)
                    .unwrap()
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
            })
            .collect();
        assert!(missed.len() >= 3, "{missed:?}");
        let page = eventually(&rest, completed, |page| {
            let ids: Vec<&str> = page["executions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|run| run["workflow_id"].as_str().unwrap())
                .collect();
            missed
                .iter()
                .all(|due| ids.contains(&format!("catchup-tick-{due}").as_str()))
        })
        .await;
        for due in &missed {
            let id = format!("catchup-tick-{due}");
            assert!(page.to_string().contains(&id));
            let detail = rest.ok(&format!("/api/v1/executions/{id}")).await;
            assert_eq!(detail["output"], json!([{"outputs": {"due": due}}]), "{detail}");
        }
    }
}

on_both_backends! {
    async fn a_flow_trigger_fires_once_on_another_executions_failure(backend: Backend) {
        let server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        save(
            &rest,
            "id: doomed\ntasks:\n  - {id: boom, type: Fail, message: out of stock}\n",
        )
        .await;
        save(
            &rest,
            r#"
    id: alert
    inputs:
      - {id: failed, type: STRING}
    tasks:
      - {id: notify, type: return, value: "{{ inputs.failed }} {{ trigger.status }}"}
    outputs:
      - {id: said, value: "{{ outputs.notify }}"}
    triggers:
      - id: on-failure
        type: Flow
        filter: "WorkflowType = 'doomed'"
        states: [failed]
        inputs: {failed: "{{ trigger.workflow_id }}"}
    "#,
        )
        .await;
        // The watcher reads flows every 2 s; give it a moment to start following.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let doomed = run(&rest, "doomed", json!({})).await;
        assert_eq!(
            closed(&rest, &doomed, Duration::from_secs(20)).await["status"],
            "failed"
        );
        let alerts = eventually(
            &rest,
            "/api/v1/executions?type=alert&status=completed",
            |page| !page["executions"].as_array().unwrap().is_empty(),
        )
        .await;
        let alert = alerts["executions"][0]["workflow_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let detail = rest.ok(&format!("/api/v1/executions/{alert}")).await;
        assert_eq!(
            detail["output"],
            json!([{"outputs": {"said": format!("{doomed} failed")}}])
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let all = rest.ok("/api/v1/executions?type=alert").await;
        assert_eq!(
            all["executions"].as_array().unwrap().len(),
            1,
            "one failure sets the trigger off once"
        );
        let refused = rest
            .post(
                "/api/v1/flows",
                &json!({"source": "id: y\ntasks:\n  - {id: a, type: log, message: hi}\ntriggers:\n  - {id: t, type: Flow, filter: \"WorkflowType = \"}\n"}),
            )
            .await;
        assert_eq!(refused.error_code(400), "bad_request");
        assert!(
            refused.text().contains("trigger 't': filter"),
            "{}",
            refused.text()
        );
    }
}

on_both_backends! {
    async fn a_concurrency_limit_queues_fails_or_cancels_the_runs_beyond_it(backend: Backend) {
        let server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        let flow = |id: &str, behavior: &str| {
            format!(
                "id: {id}\nconcurrency: {{limit: 1, behavior: {behavior}}}\ntasks:\n  - {{id: nap, type: sleep, duration: 1500ms}}\n"
            )
        };
        for (id, behavior) in [
            ("queued", "QUEUE"),
            ("failing", "FAIL"),
            ("cancelling", "CANCEL"),
        ] {
            save(&rest, &flow(id, behavior)).await;
        }
        let first = run(&rest, "queued", json!({})).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let second = run(&rest, "queued", json!({})).await;
        let first_done = closed(&rest, &first, Duration::from_secs(20)).await;
        let second_done = closed(&rest, &second, Duration::from_secs(30)).await;
        assert_eq!(
            (first_done["status"].clone(), second_done["status"].clone()),
            (json!("completed"), json!("completed"))
        );
        let history = rest
            .ok(&format!("/api/v1/executions/{second}/history?limit=1000"))
            .await;
        let nap_started = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|event| event["type"] == "TimerStarted" && event["attributes"]["timerId"] == "nap")
            .expect("the second run napped")["time"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            nap_started.as_str() >= first_done["close_time"].as_str().unwrap(),
            "the queued run started its task only after the first closed: {nap_started} vs {}",
            first_done["close_time"]
        );

        for (id, status) in [("failing", "failed"), ("cancelling", "canceled")] {
            let first = run(&rest, id, json!({})).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            let second = run(&rest, id, json!({})).await;
            let refused = closed(&rest, &second, Duration::from_secs(20)).await;
            assert_eq!(refused["status"], status, "{refused}");
            assert_eq!(
                closed(&rest, &first, Duration::from_secs(20)).await["status"],
                "completed"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_json_schema_accepts_the_examples_and_refuses_mistakes() {
    let server = Server::start().await;
    let rest = Rest::new(&server.http_addr);
    let schema = rest.ok("/api/v1/flows/schema.json").await;
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let mut files: Vec<_> = std::fs::read_dir(examples())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 4);
    for file in files {
        let document =
            keel_flows::schema::yaml_as_json(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&document)
            .map(|error| error.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    }
    for broken in [
        "id: x\ntasks:\n  - {id: a, type: shell, comands: [ls]}\n",
        "id: x\ntasks:\n  - {id: a, type: lgo}\n",
        "id: x\ntasks: []\n",
        "id: x\ntasks:\n  - {id: a, type: log}\n",
    ] {
        let document = keel_flows::schema::yaml_as_json(broken).unwrap();
        assert!(!validator.is_valid(&document), "{broken}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flows_directory_is_applied_and_followed() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::copy(
        examples().join("hello.yaml"),
        directory.path().join("hello.yaml"),
    )
    .unwrap();
    let server = Server::start_with(
        Backend::Sqlite,
        &["--flows", directory.path().to_str().unwrap()],
    )
    .await;
    let rest = Rest::new(&server.http_addr);
    let ids = |page: &Value| -> Vec<String> {
        page["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|flow| flow["id"].as_str().unwrap().to_owned())
            .collect()
    };
    eventually(&rest, "/api/v1/flows", |page| ids(page) == ["hello"]).await;

    std::fs::write(
        directory.path().join("second.yml"),
        "id: second\ntasks:\n  - {id: a, type: log, message: one}\n",
    )
    .unwrap();
    eventually(&rest, "/api/v1/flows", |page| {
        ids(page) == ["hello", "second"]
    })
    .await;
    // A bad edit changes nothing; a good one makes the next revision.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    std::fs::write(
        directory.path().join("second.yml"),
        "id: second\ntasks:\n  - {id: a, type: lgo}\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(rest.ok("/api/v1/flows/default/second").await["revision"], 1);
    std::fs::write(
        directory.path().join("second.yml"),
        "id: second\ntasks:\n  - {id: a, type: log, message: two}\n",
    )
    .unwrap();
    eventually(&rest, "/api/v1/flows/default/second", |flow| {
        flow["revision"] == 2
    })
    .await;

    std::fs::remove_file(directory.path().join("second.yml")).unwrap();
    eventually(&rest, "/api/v1/flows", |page| ids(page) == ["hello"]).await;
}

on_both_backends! {
    async fn a_for_each_interrupted_by_a_sigkill_completes_each_item_once(backend: Backend) {
        let mut server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        save(
            &rest,
            r#"
    id: batch
    tasks:
      - id: each
        type: ForEach
        values: [a, b, c, d, e, f]
        concurrencyLimit: 2
        tasks:
          - {id: wait, type: sleep, duration: 300ms}
          - {id: done, type: return, value: "{{ taskrun.value }}!"}
    outputs:
      - {id: done, value: "{{ outputs.done }}"}
    "#,
        )
        .await;
        let workflow_id = run(&rest, "batch", json!({})).await;
        let path = format!("/api/v1/executions/{workflow_id}");
        eventually(&rest, &path, |run| {
            run["task_runs"]
                .as_array()
                .is_some_and(|runs| runs.iter().any(|run| run["state"] == "completed"))
        })
        .await;
        server.kill().await;
        server.restart().await;
        let rest = Rest::new(&server.http_addr);
        let detail = closed(&rest, &workflow_id, Duration::from_secs(60)).await;
        assert_eq!(detail["status"], "completed", "{detail}");
        assert_eq!(
            detail["output"],
            json!([{"outputs": {"done": {"a": "a!", "b": "b!", "c": "c!", "d": "d!", "e": "e!", "f": "f!"}}}])
        );
        let history = rest
            .ok(&format!(
                "/api/v1/executions/{workflow_id}/history?limit=1000"
            ))
            .await;
        let events = history["events"].as_array().unwrap();
        let completed = events
            .iter()
            .filter(|event| event["type"] == "ActivityTaskCompleted")
            .count();
        let fired = events
            .iter()
            .filter(|event| event["type"] == "TimerFired")
            .count();
        assert_eq!(
            (completed, fired),
            (6, 6),
            "every item's task runs completed exactly once"
        );
    }
}

on_both_backends! {
    async fn failed_flow_executions_restart_and_replay_in_bulk(backend: Backend) {
        let server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        let ready = server.data_dir().join(unique("ready"));
        save(
            &rest,
            &format!(
                "id: gated\ntasks:\n  - {{id: first, type: return, value: 1}}\n  - {{id: gate, type: shell, commands: [\"test -e {}\"]}}\n",
                ready.display()
            ),
        )
        .await;
        let mut failed = Vec::new();
        for _ in 0..3 {
            let id = run(&rest, "gated", json!({})).await;
            assert_eq!(
                closed(&rest, &id, Duration::from_secs(20)).await["status"],
                "failed"
            );
            failed.push(id);
        }
        let dry = rest
            .post(
                "/api/v1/executions/bulk",
                &json!({"action": "restart", "filter": {"type": "gated"}, "dry_run": true}),
            )
            .await;
        assert_eq!(dry.json()["matched"], 3, "{}", dry.text());
        let (ok, out, err) = keel(
            server.http_addr.as_str(),
            &[
                "execution",
                "restart",
                "--query",
                "WorkflowType = 'gated'",
                "--dry-run",
                "-o",
                "table",
            ],
        )
        .await;
        assert!(ok && out.contains("3 executions match"), "{out}{err}");
        std::fs::write(&ready, "").unwrap();
        let done = rest
            .post(
                "/api/v1/executions/bulk",
                &json!({"action": "restart", "filter": {"type": "gated"}}),
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.text());
        assert_eq!(
            (
                done.json()["succeeded"].clone(),
                done.json()["failed"].clone()
            ),
            (json!(3), json!([]))
        );
        for id in &failed {
            assert_eq!(
                closed(&rest, id, Duration::from_secs(20)).await["status"],
                "completed",
                "{id}"
            );
        }
        let none = rest
            .post(
                "/api/v1/executions/bulk",
                &json!({"action": "replay", "filter": {"type": "gated", "status": "completed"}}),
            )
            .await;
        assert_eq!(
            none.json()["matched"],
            0,
            "only failed flow executions are replayed: {}",
            none.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_request_task_calls_an_https_server_it_trusts_and_refuses_one_it_does_not() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;
    // A one-page https server with a certificate of its own authority.
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(issued.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![issued.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let body = r#"{"pong": true}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let flow = format!(
        "id: secure\ntasks:\n  - {{id: ping, type: http.request, uri: \"https://localhost:{port}/ping\"}}\noutputs:\n  - {{id: pong, value: \"{{{{ outputs.ping.body.pong }}}}\"}}\n"
    );

    // A server that does not trust the authority refuses the call, saying why.
    let untrusting = Server::start().await;
    let rest = Rest::new(&untrusting.http_addr);
    save(&rest, &flow).await;
    let refused = closed(
        &rest,
        &run(&rest, "secure", json!({})).await,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(refused["status"], "failed");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TLS"),
        "{}",
        refused["error"]
    );

    // Given the authority with --flow-http-ca, the call goes through.
    let ca = untrusting.data_dir().join("ca.pem");
    std::fs::write(&ca, issued.cert.pem()).unwrap();
    let trusting =
        Server::start_with(Backend::Sqlite, &["--flow-http-ca", ca.to_str().unwrap()]).await;
    let rest = Rest::new(&trusting.http_addr);
    save(&rest, &flow).await;
    let done = closed(
        &rest,
        &run(&rest, "secure", json!({})).await,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(
        done["output"],
        json!([{"outputs": {"pong": true}}]),
        "{done}"
    );
}

on_both_backends! {
    async fn a_random_retry_tries_again_after_a_random_wait_until_it_succeeds(backend: Backend) {
        let server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        let tries = server.data_dir().join(unique("tries"));
        save(
            &rest,
            &format!(
                "id: jitter\ntasks:\n  - id: work\n    type: shell\n    commands: [\"echo x >> {0}\", \"test $(wc -l < {0}) -ge 3\"]\n    retry: {{type: random, minInterval: 100ms, maxInterval: 400ms, maxAttempts: 4}}\n",
                tries.display()
            ),
        )
        .await;
        let workflow_id = run(&rest, "jitter", json!({})).await;
        let detail = closed(&rest, &workflow_id, Duration::from_secs(20)).await;
        assert_eq!(detail["status"], "completed", "{detail}");
        let runs: Vec<(&str, &str)> = detail["task_runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| {
                (
                    run["activity_id"].as_str().unwrap(),
                    run["state"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            runs,
            [
                ("work", "failed"),
                ("work#2", "failed"),
                ("work#3", "completed")
            ]
        );
        let tasks = rest
            .ok(&format!("/api/v1/executions/{workflow_id}/tasks"))
            .await;
        assert_eq!(tasks["tasks"], json!({"work": "completed"}));
    }
}

on_both_backends! {
    async fn shell_tasks_are_off_in_a_namespace_that_says_so(backend: Backend) {
        let server = Server::start_on(backend).await;
        let rest = Rest::new(&server.http_addr);
        let created = rest
            .post(
                "/api/v1/namespaces",
                &json!({"name": "locked", "data": {"keel.flow.shell": "off"}}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        assert_eq!(created.json()["data"], json!({"keel.flow.shell": "off"}));
        let source = |namespace: &str| {
            format!(
                "id: sh\nnamespace: {namespace}\ntasks:\n  - {{id: run, type: shell, commands: [echo hi]}}\n"
            )
        };
        save(&rest, &source("locked")).await;
        save(&rest, &source("default")).await;
        let started = rest
            .post("/api/v1/flows/locked/sh/run", &json!({}))
            .await
            .json();
        let workflow_id = started["workflow_id"].as_str().unwrap();
        let refused = closed_in(&rest, "locked", workflow_id, Duration::from_secs(20)).await;
        assert_eq!(refused["status"], "failed");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("turned off in namespace 'locked'"),
            "{}",
            refused["error"]
        );
        let allowed = run(&rest, "sh", json!({})).await;
        assert_eq!(
            closed(&rest, &allowed, Duration::from_secs(20)).await["status"],
            "completed",
            "other namespaces run shell tasks"
        );
    }
}
