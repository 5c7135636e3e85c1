//! The operator verbs of the built `keel` binary against a real server whose executions an
//! SDK worker runs: JSON for scripts, tables for people, live logs, bulk actions behind a
//! confirmation, and one readable line with a non-zero exit on every error.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::harness::{Server, keel, unique, with_worker};
use crate::rest::eventually;
use crate::rest_client::Rest;
use crate::workflows::{Accumulator, Greeting};

/// Starts `keel ARGS --address ADDRESS` with its output piped, for commands that follow.
fn spawn_keel(address: &str, args: &[&str]) -> tokio::process::Child {
    Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(args)
        .args(["--address", address])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("starting keel {args:?}: {e}"))
}

/// Runs keel expecting JSON on stdout.
async fn keel_json(address: &str, args: &[&str]) -> Value {
    let (ok, stdout, stderr) = keel(address, args).await;
    assert!(ok, "keel {args:?} failed: {stderr}");
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("keel {args:?} printed no JSON ({e}): {stdout}"))
}

/// Runs keel expecting it to fail; answers its one stderr line.
async fn keel_fails(address: &str, args: &[&str]) -> String {
    let (ok, stdout, stderr) = keel(address, args).await;
    assert!(!ok, "keel {args:?} should fail; printed {stdout}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one readable line, got: {stderr}");
    lines[0].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_manage_executions_from_the_command_line() {
    let server = Server::start().await;
    let client = server.client().await;
    let address = server.http_addr.as_str();
    let rest = Rest::new(address);
    let queue = unique("cli");
    let greeted = unique("cli-greet");
    let followed = unique("cli-follow");
    let batch = unique("cli-batch");

    with_worker(&client, &queue, async {
        client
            .start_workflow(
                Greeting::run,
                "cli".to_owned(),
                WorkflowStartOptions::new(&queue, &greeted).build(),
            )
            .await
            .unwrap()
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap();

        // Lists and details, as JSON and as tables.
        let listed = keel_json(
            address,
            &["execution", "list", "--status", "completed", "-o", "json"],
        )
        .await;
        assert_eq!(
            listed["executions"][0]["workflow_id"],
            greeted.as_str(),
            "{listed}"
        );
        let detail = keel_json(address, &["execution", "get", &greeted, "-o", "json"]).await;
        assert_eq!(detail["output"], json!(["hello, cli"]));
        let (ok, table, _) = keel(
            address,
            &["execution", "list", "--type", "Greeting", "-o", "table"],
        )
        .await;
        assert!(ok);
        let header = table
            .lines()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        assert!(
            header.contains("WORKFLOW") && header.contains("STATUS"),
            "{table}"
        );
        assert!(
            table.contains(&greeted) && table.contains("completed"),
            "{table}"
        );
        let (ok, shown, _) = keel(address, &["execution", "get", &greeted, "-o", "table"]).await;
        assert!(ok && shown.contains("TestActivities::greet"), "{shown}");
        let history = keel_json(address, &["execution", "history", &greeted, "--export"]).await;
        assert_eq!(
            history["events"][0]["eventType"],
            "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
        );

        // Logs followed while the run goes on: the command ends when the run does.
        let handle = client
            .start_workflow(
                Accumulator::run,
                (),
                WorkflowStartOptions::new(&queue, &followed).build(),
            )
            .await
            .unwrap();
        let mut follow = spawn_keel(
            address,
            &["execution", "logs", &followed, "--follow", "-o", "table"],
        );
        let watch = spawn_keel(address, &["execution", "watch", &followed, "-o", "json"]);
        let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("a first line while the run goes on")
            .unwrap()
            .unwrap_or_default();
        assert!(first.contains("started"), "{first}");
        let appended = rest
            .post(
                &format!("/api/v1/executions/{followed}/logs"),
                &json!({"message": "reticulating splines", "level": "warn"}),
            )
            .await;
        assert_eq!(appended.status, 200, "{}", appended.text());
        let (ok, _, stderr) = keel(
            address,
            &["execution", "signal", &followed, "add", "--input", "3"],
        )
        .await;
        assert!(ok, "{stderr}");
        let (ok, _, stderr) = keel(address, &["execution", "signal", &followed, "finish"]).await;
        assert!(ok, "{stderr}");
        let mut rest_of_log = Vec::new();
        let read = async {
            while let Some(line) = lines.next_line().await.unwrap() {
                rest_of_log.push(line);
            }
        };
        tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .expect("logs --follow ends with the run");
        let status = follow.wait().await.unwrap();
        assert!(status.success());
        let text = rest_of_log.join("\n");
        assert!(text.contains("reticulating splines"), "{text}");
        assert!(text.contains("signal 'add' received"), "{text}");
        assert!(text.contains("execution completed"), "{text}");
        assert_eq!(
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap(),
            (3, 1)
        );
        let watched = tokio::time::timeout(Duration::from_secs(20), watch.wait_with_output())
            .await
            .expect("watch ends with the run")
            .unwrap();
        assert!(
            watched.status.success(),
            "{}",
            String::from_utf8_lossy(&watched.stderr)
        );
        let states: Vec<Value> = String::from_utf8_lossy(&watched.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect();
        assert!(
            states.iter().any(|s| s["status"] == "running"
                && s["doing"] == "waiting (timers, signals or children)"),
            "{states:?}"
        );
        let last = states.last().unwrap();
        assert_eq!(last["status"], "completed", "{states:?}");
        assert_eq!(last["phase"], "completed");

        // Bulk: a count, a refusal without a terminal or --yes, then the action.
        for i in 0..2 {
            client
                .start_workflow(
                    Accumulator::run,
                    (),
                    WorkflowStartOptions::new(&queue, format!("{batch}-{i}")).build(),
                )
                .await
                .unwrap();
        }
        let query = format!("WorkflowId STARTS_WITH '{batch}'");
        let line = keel_fails(
            address,
            &[
                "execution",
                "terminate",
                "--query",
                &query,
                "--reason",
                "cleanup",
            ],
        )
        .await;
        assert!(line.contains("--yes"), "{line}");
        assert_eq!(
            rest.ok(&format!("/api/v1/executions?search={batch}&status=running"))
                .await["executions"]
                .as_array()
                .unwrap()
                .len(),
            2,
            "a refused bulk action terminates nothing"
        );
        let (ok, _, stderr) = keel(
            address,
            &[
                "execution",
                "terminate",
                "--query",
                &query,
                "--reason",
                "cleanup",
                "--yes",
            ],
        )
        .await;
        assert!(ok, "{stderr}");
        assert!(stderr.contains("2 executions match"), "{stderr}");
        eventually(
            &rest,
            &format!("/api/v1/executions?search={batch}&status=terminated"),
            |page| page["executions"].as_array().unwrap().len() == 2,
        )
        .await;

        // Workers, queues, namespaces, analytics.
        let workers = keel_json(address, &["worker", "list", "-o", "json"]).await;
        assert!(
            workers["workers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["task_queues"].as_array().unwrap().contains(&json!(queue))),
            "{workers}"
        );
        let described = keel_json(address, &["queue", "describe", &queue, "-o", "json"]).await;
        assert!(
            described["workflow"]["pollers"].as_u64().unwrap() >= 1,
            "{described}"
        );
        let (ok, _, stderr) = keel(
            address,
            &["namespace", "create", "ops", "--retention-days", "3"],
        )
        .await;
        assert!(ok, "{stderr}");
        let namespaces = keel_json(address, &["namespace", "list", "-o", "json"]).await;
        let names: Vec<&str> = namespaces["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["default", "ops"]);
        let analytics = keel_json(address, &["analytics", "-o", "json"]).await;
        assert_eq!(analytics["executions"]["completed"], 2, "{analytics}");
        assert_eq!(analytics["executions"]["terminated"], 2, "{analytics}");

        // Errors: one line, non-zero, nothing changed.
        let line = keel_fails(address, &["execution", "get", "nobody-has-this-id"]).await;
        assert!(
            line.starts_with("keel: ") && line.contains("not found"),
            "{line}"
        );
        let line = keel_fails(
            address,
            &[
                "execution",
                "signal",
                &greeted,
                "add",
                "--input",
                "{not json",
            ],
        )
        .await;
        assert!(line.contains("JSON"), "{line}");
        let line = keel_fails(address, &["execution", "cancel", &greeted]).await;
        assert!(line.contains("closed"), "{line}");
        let line = keel_fails(address, &["execution", "list", "--status", "sleeping"]).await;
        assert!(line.contains("sleeping"), "{line}");
        let line = keel_fails(address, &["namespace", "create", "ops"]).await;
        assert!(line.contains("ops"), "{line}");
        let line = keel_fails("http://127.0.0.1:1", &["execution", "list"]).await;
        assert!(line.contains("cannot reach"), "{line}");
        let line = keel_fails("https://example.com", &["worker", "list"]).await;
        assert!(line.contains("https"), "{line}");
        let after = keel_json(address, &["execution", "get", &greeted, "-o", "json"]).await;
        assert_eq!(after["history_length"], detail["history_length"]);
    })
    .await;
}
