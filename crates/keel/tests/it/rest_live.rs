//! Live views over REST: one execution's events and log lines as server-sent events,
//! resumed with Last-Event-ID; log lines appended and read back among history milestones;
//! and the namespace feed a board subscribes to.

use std::time::Duration;

use serde_json::{Value, json};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};

use crate::harness::{Server, unique, with_worker};
use crate::rest_client::{Rest, Sse};
use crate::workflows::{Accumulator, Greeting};

const WITHIN: Duration = Duration::from_secs(20);

fn event_id(event: &Sse) -> i64 {
    event.data["event_id"].as_i64().expect("an event id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_follow_a_running_execution_and_resume() {
    let server = Server::start().await;
    let client = server.client().await;
    let rest = Rest::new(&server.http_addr);
    let queue = unique("live");
    let workflow_id = unique("live-acc");
    let greeted = unique("live-greet");

    with_worker(&client, &queue, async {
        // The board's feed, opened before anything starts.
        let mut feed = rest.events("/api/v1/stream/executions", None).await;

        let handle = client
            .start_workflow(Accumulator::run, (), WorkflowStartOptions::new(&queue, &workflow_id).build())
            .await
            .unwrap();
        let path = format!("/api/v1/executions/{workflow_id}/stream");
        let mut stream = rest.events(&path, None).await;
        // The history so far, then the run's state once it waits for signals.
        let opening = stream
            .until(WITHIN, |e| e.event == "history" && e.data["type"] == "WorkflowTaskCompleted")
            .await;
        let history: Vec<&Sse> = opening.iter().filter(|e| e.event == "history").collect();
        assert_eq!(history[0].data["type"], "WorkflowExecutionStarted");
        for (index, event) in history.iter().enumerate() {
            assert_eq!(event_id(event), index as i64 + 1, "events in order, none missing");
        }
        assert!(opening.iter().any(|e| e.event == "log"
            && e.data["source"] == "history"
            && e.data["message"].as_str().unwrap().contains("started on task queue")));

        // A worker's log line and a signal arrive live, in that order.
        let appended = rest
            .post(
                &format!("/api/v1/executions/{workflow_id}/logs"),
                &json!({"lines": [{"message": "charging card", "level": "info", "worker": "billing-1", "task_run": "charge"}]}),
            )
            .await;
        assert_eq!(appended.status, 200, "{}", appended.text());
        assert_eq!(appended.json()["appended"], 1);
        let line = stream.until(WITHIN, |e| e.event == "log" && e.data["source"] == "worker").await;
        let line = line.last().unwrap();
        assert_eq!(line.data["message"], "charging card");
        assert_eq!(line.data["worker"], "billing-1");
        assert_eq!(line.data["task_run"], "charge");
        let signalled = rest
            .post(&format!("/api/v1/executions/{workflow_id}/signal"), &json!({"name": "add", "input": 2}))
            .await;
        assert_eq!(signalled.status, 200, "{}", signalled.text());
        let seen = stream
            .until(WITHIN, |e| e.event == "history" && e.data["type"] == "WorkflowExecutionSignaled")
            .await;
        let signal = seen.last().unwrap();
        assert_eq!(signal.data["attributes"]["signalName"], "add");
        assert_eq!(signal.data["attributes"]["input"]["payloads"], json!([2]));
        let resume_from = signal.id.clone().expect("events carry ids");

        rest.post(&format!("/api/v1/executions/{workflow_id}/signal"), &json!({"name": "finish"}))
            .await;
        let rest_of_run = stream.until(WITHIN, |e| e.event == "closed").await;
        assert_eq!(rest_of_run.last().unwrap().data["status"], "completed");
        assert!(rest_of_run.iter().any(|e| e.event == "history" && e.data["type"] == "WorkflowExecutionCompleted"));
        assert!(stream.next(WITHIN).await.is_none(), "the stream ends once the run closed");
        assert_eq!(handle.get_result(WorkflowGetResultOptions::default()).await.unwrap(), (2, 1));

        // Resuming after the signal replays nothing before it: the next history event is
        // the one after it, and the worker's line (seen before) does not come again.
        let mut resumed = rest.events(&path, Some(&resume_from)).await;
        let after = resumed.until(WITHIN, |e| e.event == "closed").await;
        let first = after.iter().find(|e| e.event == "history").expect("history after the signal");
        assert_eq!(event_id(first), event_id(signal) + 1);
        assert!(!after.iter().any(|e| e.event == "log" && e.data["source"] == "worker"));
        assert!(after.iter().any(|e| e.event == "history" && e.data["type"] == "WorkflowExecutionCompleted"));
        let bad = rest
            .request("GET", &path, &[("Last-Event-ID", "yesterday")], None)
            .await;
        assert_eq!(bad.error_code(400), "bad_request");

        // The log, read back: milestones and the worker's line in time order, paged.
        let logs = rest.ok(&format!("/api/v1/executions/{workflow_id}/logs")).await;
        let lines = logs["lines"].as_array().unwrap();
        let messages: Vec<&str> = lines.iter().map(|l| l["message"].as_str().unwrap()).collect();
        let position = |text: &str| {
            messages
                .iter()
                .position(|m| m.contains(text))
                .unwrap_or_else(|| panic!("'{text}' in {messages:?}"))
        };
        assert!(position("started on task queue") < position("charging card"));
        assert!(position("charging card") < position("signal 'add' received"));
        assert!(position("signal 'finish' received") < position("execution completed"));
        let first_two = rest.ok(&format!("/api/v1/executions/{workflow_id}/logs?limit=2")).await;
        assert_eq!(first_two["lines"].as_array().unwrap().len(), 2);
        let after = first_two["next_after"].as_str().unwrap();
        let rest_of_log = rest
            .ok(&format!("/api/v1/executions/{workflow_id}/logs?after={after}&limit=1000"))
            .await;
        assert_eq!(rest_of_log["lines"].as_array().unwrap().len(), lines.len() - 2);
        assert_eq!(rest_of_log["lines"][0], lines[2]);

        // The board's feed saw the run start and close, and sees a new one.
        let greeting = client
            .start_workflow(Greeting::run, "feed".to_owned(), WorkflowStartOptions::new(&queue, &greeted).build())
            .await
            .unwrap();
        greeting.get_result(WorkflowGetResultOptions::default()).await.unwrap();
        let changes = feed
            .until(WITHIN, |e| e.data["workflow_id"] == greeted.as_str() && e.data["status"] == "completed")
            .await;
        // Each change: status, phase, and what the run is on (`doing`).
        let of = |id: &str| -> Vec<(String, String, Value)> {
            changes
                .iter()
                .filter(|e| e.event == "execution" && e.data["workflow_id"] == id)
                .map(|e| {
                    (
                        e.data["status"].as_str().unwrap().to_owned(),
                        e.data["phase"].as_str().unwrap().to_owned(),
                        e.data["doing"].clone(),
                    )
                })
                .collect()
        };
        let accumulator_changes = of(&workflow_id);
        assert_eq!(accumulator_changes.first().unwrap().0, "running");
        let last = accumulator_changes.last().unwrap();
        assert_eq!((last.0.as_str(), last.1.as_str(), &last.2), ("completed", "completed", &Value::Null));
        let greeting_changes = of(&greeted);
        assert!(
            greeting_changes.iter().any(|(status, phase, _)| status == "running" && phase == "pending"),
            "{greeting_changes:?}"
        );
        assert!(
            greeting_changes.iter().any(|(_, _, doing)| doing["kind"] == "activity" && doing["name"] == "TestActivities::greet"),
            "the feed says when the run is on its activity: {greeting_changes:?}"
        );
        for pair in accumulator_changes.windows(2) {
            assert_ne!(pair[0], pair[1], "a change is sent only when status, phase or doing changes");
        }
    })
    .await;
}

/// With two nodes on one PostgreSQL database, one node's views follow what the other node
/// does: its namespace feed shows a run the other node started and completed, and its
/// stream of that run brings a log line appended on the other node at once (not at the
/// stream's next periodic look, 15 s later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_nodes_streams_follow_what_another_node_does() {
    let url = crate::harness::postgres_cluster().create_database();
    let worked = Server::node(&url).await;
    let watching = Server::node(&url).await;
    let client = worked.client().await;
    let here = Rest::new(&watching.http_addr);
    let there = Rest::new(&worked.http_addr);
    let queue = unique("feed-nodes");
    let workflow_id = unique("feed-nodes-acc");
    let mut feed = here.events("/api/v1/stream/executions", None).await;
    with_worker(&client, &queue, async {
        let handle = client
            .start_workflow(
                Accumulator::run,
                (),
                WorkflowStartOptions::new(&queue, &workflow_id).build(),
            )
            .await
            .unwrap();
        let path = format!("/api/v1/executions/{workflow_id}/stream");
        let mut stream = here.events(&path, None).await;
        stream
            .until(WITHIN, |e| {
                e.event == "history" && e.data["type"] == "WorkflowTaskCompleted"
            })
            .await;
        let appended = there
            .post(
                &format!("/api/v1/executions/{workflow_id}/logs"),
                &json!({"message": "from the other node"}),
            )
            .await;
        assert_eq!(appended.status, 200, "{}", appended.text());
        let line = stream
            .until(Duration::from_secs(5), |e| {
                e.event == "log" && e.data["source"] == "worker"
            })
            .await;
        assert_eq!(line.last().unwrap().data["message"], "from the other node");
        there
            .post(
                &format!("/api/v1/executions/{workflow_id}/signal"),
                &json!({"name": "finish"}),
            )
            .await;
        stream.until(WITHIN, |e| e.event == "closed").await;
        handle
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap();
    })
    .await;
    let changes = feed
        .until(WITHIN, |e| {
            e.data["workflow_id"] == workflow_id.as_str() && e.data["status"] == "completed"
        })
        .await;
    assert!(
        changes
            .iter()
            .any(|e| e.data["workflow_id"] == workflow_id.as_str() && e.data["status"] == "running"),
        "the start reached the other node's feed too: {changes:#?}"
    );
}
