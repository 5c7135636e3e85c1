//! What is stored must stay readable, and what is not must be named, not hidden: one run
//! whose stored state does not decode is data loss for that run only.

use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::{Code, Request};
use temporalio_client::{WorkflowGetResultOptions, WorkflowSignalOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeWorkflowExecutionRequest, GetWorkflowExecutionHistoryRequest,
};

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

        // One event of a finished run garbled too: its history is data loss, naming the event;
        // the run's summary still reads.
        let damaged = &healthy[0];
        server
            .run_sql(&format!(
                "UPDATE history SET data = {garbage} WHERE event_id = 3 AND execution = \
                 (SELECT id FROM executions WHERE workflow_id = '{damaged}')"
            ))
            .await;
        let history = GetWorkflowExecutionHistoryRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution { workflow_id: damaged.clone(), run_id: String::new() }),
            ..Default::default()
        };
        let refused = WorkflowService::get_workflow_execution_history(&mut client.clone(), Request::new(history))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::DataLoss, "{refused}");
        assert!(refused.message().contains(damaged) && refused.message().contains("event 3"), "{refused}");
        let summary = rest.ok(&format!("/api/v1/executions/{damaged}?view=summary")).await;
        assert_eq!(summary["status"], "completed", "{summary}");

        let doctor = server.store_command("doctor").output().unwrap();
        assert!(!doctor.status.success(), "doctor must fail on a broken row");
        let stdout = String::from_utf8_lossy(&doctor.stdout);
        let named: Vec<&str> = stdout.lines().collect();
        assert_eq!(named.len(), 2, "{stdout}");
        assert!(named.iter().any(|row| row.contains(&broken) && row.contains("state")), "{stdout}");
        assert!(named.iter().any(|row| row.contains(damaged) && row.contains("event 3")), "{stdout}");
        let stderr = String::from_utf8_lossy(&doctor.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("2 stored rows"), "{stderr}");

        server.run_sql(&format!("DELETE FROM executions WHERE workflow_id IN ('{broken}', '{damaged}')")).await;
        let doctor = server.store_command("doctor").output().unwrap();
        assert!(doctor.status.success(), "{}", String::from_utf8_lossy(&doctor.stderr));
    }
}

/// Databases written by earlier Keels, each holding finished runs of many kinds and runs
/// caught mid-way: waiting for a signal, on an overdue timer, on a child, on a task no
/// worker has taken yet. SQLite's are database files (`<name>.db`), PostgreSQL's are
/// `pg_dump` output (`<name>.sql`). New ones are added (never replacing the older ones)
/// with `KEEL_WRITE_FIXTURE=<name> cargo test -p keel --test it stored_data::databases`,
/// which writes both before the checks run.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stored");

/// What each fixture holds, by workflow id.
mod fixture {
    pub const QUEUE: &str = "fixture";
    /// A queue no worker polled while the fixture was written.
    pub const LATER_QUEUE: &str = "fixture-later";
    pub const GREETED: &str = "greeted";
    pub const FLAKY: &str = "flaky";
    pub const FANNED_OUT: &str = "fanned-out";
    pub const TERMINATED: &str = "terminated";
    pub const ACCUMULATING: &str = "accumulating";
    pub const SLEEPING: &str = "sleeping";
    pub const PARENT: &str = "parent";
    pub const CHILD: &str = "parent-child";
    pub const QUEUED: &str = "queued";
    pub const SCHEDULE: &str = "nightly";
    pub const PLAN: &str = "later";

    /// Fixtures written before Keel had flows; every later one holds those below.
    pub const WITHOUT_FLOWS: &[&str] = &["format-1"];
    pub const FLOWS_NAMESPACE: &str = "flows";
    pub const FLOW: &str = "stored";
    /// Two revisions: the second only adds a description.
    pub const FLOW_SOURCE: &str = r#"
id: stored
namespace: flows
inputs:
  - {id: items, type: ARRAY}
  - {id: ask, type: BOOLEAN, defaults: false}
tasks:
  - id: each
    type: ForEach
    values: "{{ inputs.items }}"
    tasks:
      - {id: shout, type: return, value: "{{ taskrun.value | upper }}"}
  - id: gate
    type: If
    condition: "{{ inputs.ask }}"
    then:
      - id: approve
        type: Pause
        onResume:
          - {id: note, type: STRING}
  - id: done
    type: return
    value: "{{ outputs.approve.note if inputs.ask else 'none' }}"
outputs:
  - {id: shouted, value: "{{ outputs.shout }}"}
  - {id: note, value: "{{ outputs.done }}"}
"#;
    /// A run of revision 1 that completed.
    pub const FLOW_DONE: &str = "stored-done";
    /// A run of revision 2 waiting to be resumed.
    pub const FLOW_PAUSED: &str = "stored-paused";
}

/// Saves the fixture's flow (two revisions) and runs it twice: once to the end, once to
/// its pause.
async fn write_flows(rest: &Rest) {
    use serde_json::json;
    let created = rest
        .post(
            "/api/v1/namespaces",
            &json!({"name": fixture::FLOWS_NAMESPACE}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let save = |source: String| async move {
        let saved = rest
            .post("/api/v1/flows", &json!({ "source": source }))
            .await;
        assert_eq!(saved.status, 200, "{}", saved.text());
    };
    let run = |workflow_id: &'static str, inputs: serde_json::Value| async move {
        let path = format!(
            "/api/v1/flows/{}/{}/run",
            fixture::FLOWS_NAMESPACE,
            fixture::FLOW
        );
        let started = rest
            .post(
                &path,
                &json!({"workflow_id": workflow_id, "inputs": inputs}),
            )
            .await;
        assert_eq!(started.status, 200, "{}", started.text());
    };
    save(fixture::FLOW_SOURCE.to_owned()).await;
    run(fixture::FLOW_DONE, json!({"items": ["a", "b"]})).await;
    let done = crate::flows::closed_in(
        rest,
        fixture::FLOWS_NAMESPACE,
        fixture::FLOW_DONE,
        std::time::Duration::from_secs(30),
    )
    .await;
    assert_eq!(done["status"], "completed", "{done}");
    save(format!("description: revised\n{}", fixture::FLOW_SOURCE)).await;
    run(fixture::FLOW_PAUSED, json!({"items": ["c"], "ask": true})).await;
    crate::rest::eventually(
        rest,
        &format!(
            "/api/v1/executions/{}/resume?namespace={}",
            fixture::FLOW_PAUSED,
            fixture::FLOWS_NAMESPACE
        ),
        |waiting| waiting.to_string().contains("approve"),
    )
    .await;
}

/// The fixture's flow reads as saved, its completed run shows its outputs and replays
/// reusing them, and its paused run resumes and completes.
async fn check_flows(rest: &Rest) {
    use serde_json::json;
    let namespace = fixture::FLOWS_NAMESPACE;
    let revisions = rest
        .ok(&format!(
            "/api/v1/flows/{namespace}/{}/revisions",
            fixture::FLOW
        ))
        .await;
    let numbers: Vec<i64> = revisions["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|revision| revision["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers.len(), 2, "{revisions}");
    assert!(numbers.contains(&1) && numbers.contains(&2), "{revisions}");
    let diff = rest
        .ok(&format!("/api/v1/flows/{namespace}/{}/diff", fixture::FLOW))
        .await;
    assert!(
        diff["diff"]
            .as_str()
            .unwrap()
            .contains("+description: revised"),
        "{diff}"
    );

    let done = rest
        .ok(&format!(
            "/api/v1/executions/{}?namespace={namespace}",
            fixture::FLOW_DONE
        ))
        .await;
    let expected = json!([{"outputs": {"shouted": {"a": "A", "b": "B"}, "note": "none"}}]);
    assert_eq!(done["output"], expected, "{done}");
    let replayed = rest
        .post(
            &format!(
                "/api/v1/executions/{}/replay?namespace={namespace}",
                fixture::FLOW_DONE
            ),
            &json!({"from_task_run": "done", "revision": 1}),
        )
        .await;
    assert_eq!(replayed.status, 200, "{}", replayed.text());
    let replayed = replayed.json();
    let replay = crate::flows::closed_in(
        rest,
        namespace,
        replayed["workflow_id"].as_str().unwrap(),
        std::time::Duration::from_secs(30),
    )
    .await;
    assert_eq!(replay["output"], expected, "{replay}");
    let ran: Vec<&str> = replay["task_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["activity_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ran,
        ["done"],
        "only what follows `done` runs again: {replay}"
    );

    let resumed = rest
        .post(
            &format!(
                "/api/v1/executions/{}/resume?namespace={namespace}",
                fixture::FLOW_PAUSED
            ),
            &json!({"inputs": {"note": "kept"}}),
        )
        .await;
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    let paused = crate::flows::closed_in(
        rest,
        namespace,
        fixture::FLOW_PAUSED,
        std::time::Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        paused["output"],
        json!([{"outputs": {"shouted": {"c": "C"}, "note": "kept"}}]),
        "{paused}"
    );
    assert_eq!(paused["input"][0]["revision"], 2, "{paused}");
}

/// Writes a fixture with today's Keel: a SQLite database file, or a PostgreSQL dump.
async fn write_fixture(backend: Backend, path: &std::path::Path) {
    use crate::workflows::{ChildPlan, FanOut, Flaky, Greeting, Parent, Sleeper};
    use temporalio_client::schedules::{CreateScheduleOptions, ScheduleAction, ScheduleSpec};
    use temporalio_client::{WorkflowExecuteUpdateOptions, WorkflowTerminateOptions};
    use temporalio_common::protos::temporal::api::enums::v1::EventType;

    let mut server = Server::start_on(backend).await;
    let client = server.client().await;
    let start = |id: &str| WorkflowStartOptions::new(fixture::QUEUE, id).build();
    with_worker(&client, fixture::QUEUE, async {
        let greeted = client
            .start_workflow(Greeting::run, "fixture".to_owned(), start(fixture::GREETED))
            .await
            .unwrap();
        greeted
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap();
        let flaky = client
            .start_workflow(Flaky::run, (), start(fixture::FLAKY))
            .await
            .unwrap();
        assert_eq!(
            flaky
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap(),
            3
        );
        let fanned = client
            .start_workflow(
                FanOut::run,
                (fixture::QUEUE.to_owned(), 3),
                start(fixture::FANNED_OUT),
            )
            .await
            .unwrap();
        assert_eq!(
            fanned
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap(),
            6
        );
        let terminated = client
            .start_workflow(Accumulator::run, (), start(fixture::TERMINATED))
            .await
            .unwrap();
        terminated
            .terminate(
                WorkflowTerminateOptions::builder()
                    .reason("fixture")
                    .build(),
            )
            .await
            .unwrap();

        let accumulating = client
            .start_workflow(Accumulator::run, (), start(fixture::ACCUMULATING))
            .await
            .unwrap();
        accumulating
            .signal(Accumulator::add, 5, WorkflowSignalOptions::default())
            .await
            .unwrap();
        let total = accumulating
            .execute_update(
                Accumulator::add_checked,
                2,
                WorkflowExecuteUpdateOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(total, 7);
        client
            .start_workflow(Sleeper::run, 2u64, start(fixture::SLEEPING))
            .await
            .unwrap();
        client
            .start_workflow(
                Parent::run,
                (fixture::CHILD.to_owned(), ChildPlan::AwaitSleeper(2)),
                start(fixture::PARENT),
            )
            .await
            .unwrap();
        crate::harness::wait_for_event(&client, fixture::SLEEPING, EventType::TimerStarted).await;
        crate::harness::wait_for_event(
            &client,
            fixture::PARENT,
            EventType::ChildWorkflowExecutionStarted,
        )
        .await;
        crate::harness::wait_for_event(&client, fixture::CHILD, EventType::TimerStarted).await;
    })
    .await;
    client
        .start_workflow(
            Greeting::run,
            "later".to_owned(),
            WorkflowStartOptions::new(fixture::LATER_QUEUE, fixture::QUEUED).build(),
        )
        .await
        .unwrap();
    client
        .create_schedule(
            fixture::SCHEDULE,
            CreateScheduleOptions::builder()
                .action(ScheduleAction::start_workflow(
                    Greeting::run,
                    "nightly".to_owned(),
                    fixture::QUEUE,
                    "nightly-run",
                ))
                .spec(ScheduleSpec::from_interval(std::time::Duration::from_secs(
                    86_400,
                )))
                .paused(true)
                .build(),
        )
        .await
        .unwrap();
    let rest = Rest::new(&server.http_addr);
    let planned = rest
        .post(
            "/api/v1/plans",
            &serde_json::json!({"id": fixture::PLAN, "workflow_type": "Greeting", "task_queue": fixture::QUEUE, "input": "planned"}),
        )
        .await;
    assert_eq!(planned.status, 201, "{}", planned.text());
    write_flows(&rest).await;

    server.kill().await;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(path);
    match backend {
        Backend::Sqlite => {
            // SIGKILL leaves the last commits in the WAL; fold them into one file.
            let db = rusqlite::Connection::open(server.data_dir().join("keel.db")).unwrap();
            db.execute("VACUUM INTO ?", [path.to_str().unwrap()])
                .unwrap();
        }
        Backend::Postgres => {
            let url = server.db_url().expect("a PostgreSQL server");
            let dump = crate::harness::postgres_cluster().dump(url);
            std::fs::write(path, dump).unwrap();
        }
    }
}

/// The fixtures of one backend, by the extension of their files.
fn fixtures(extension: &str) -> Vec<std::path::PathBuf> {
    let mut fixtures: Vec<_> = std::fs::read_dir(FIXTURES)
        .expect("the fixtures directory")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .collect();
    fixtures.sort();
    assert!(
        !fixtures.is_empty(),
        "no .{extension} fixtures in {FIXTURES}"
    );
    fixtures
}

on_both_backends! {
    /// Every fixture opens, decodes throughout, and its runs caught mid-way complete with
    /// today's Keel.
    async fn databases_written_by_earlier_keels_read_and_their_runs_complete(backend: Backend) {
        let extension = match backend {
            Backend::Sqlite => "db",
            Backend::Postgres => "sql",
        };
        if let Ok(name) = std::env::var("KEEL_WRITE_FIXTURE") {
            let path = std::path::Path::new(FIXTURES).join(format!("{name}.{extension}"));
            write_fixture(backend, &path).await;
        }
        for fixture in fixtures(extension) {
            match backend {
                Backend::Sqlite => {
                    let temp = tempfile::tempdir().unwrap();
                    std::fs::copy(&fixture, temp.path().join("keel.db")).unwrap();
                    let server = Server::start_in(temp.path()).await;
                    check_fixture(&server, &fixture).await;
                }
                Backend::Postgres => {
                    let url = crate::harness::postgres_cluster().restore(&fixture);
                    let server = Server::node(&url).await;
                    check_fixture(&server, &fixture).await;
                }
            }
        }
    }
}

/// A server on a fixture: nothing is broken in it, its runs caught mid-way complete, and
/// what it holds reads as it was written.
async fn check_fixture(server: &Server, fixture_db: &std::path::Path) {
    use crate::harness::{assert_well_formed, history};
    use crate::workflows::{Greeting, Parent, Sleeper};

    let doctor = server.store_command("doctor").output().unwrap();
    assert!(
        doctor.status.success(),
        "{}: {}{}",
        fixture_db.display(),
        String::from_utf8_lossy(&doctor.stdout),
        String::from_utf8_lossy(&doctor.stderr)
    );
    let client = server.client().await;
    assert_eq!(
        count(&client, "ExecutionStatus = 'Completed'").await,
        3,
        "{}",
        fixture_db.display()
    );
    assert_eq!(count(&client, "ExecutionStatus = 'Terminated'").await, 1);
    assert_eq!(count(&client, "ExecutionStatus = 'Running'").await, 5);

    with_worker(&client, fixture::QUEUE, async {
        let accumulating = client.get_workflow_handle::<Accumulator>(fixture::ACCUMULATING);
        assert_eq!(
            accumulating
                .query(
                    Accumulator::total,
                    (),
                    temporalio_client::WorkflowQueryOptions::default()
                )
                .await
                .unwrap(),
            7
        );
        accumulating
            .signal(Accumulator::finish, (), WorkflowSignalOptions::default())
            .await
            .unwrap();
        assert_eq!(
            accumulating
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap(),
            (7, 2)
        );
        let sleeping = client.get_workflow_handle::<Sleeper>(fixture::SLEEPING);
        assert_eq!(
            sleeping
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap(),
            2
        );
        let parent = client.get_workflow_handle::<Parent>(fixture::PARENT);
        assert_eq!(
            parent
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap(),
            "2"
        );
    })
    .await;
    with_worker(&client, fixture::LATER_QUEUE, async {
        let queued = client.get_workflow_handle::<Greeting>(fixture::QUEUED);
        assert_eq!(
            queued
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap(),
            "hello, later"
        );
    })
    .await;
    for id in [
        fixture::GREETED,
        fixture::FLAKY,
        fixture::FANNED_OUT,
        fixture::ACCUMULATING,
        fixture::PARENT,
    ] {
        assert_well_formed(&history(&client, id).await);
    }

    let rest = Rest::new(&server.http_addr);
    let flaky = rest
        .ok(&format!("/api/v1/executions/{}", fixture::FLAKY))
        .await;
    let earlier = &flaky["task_runs"][0]["earlier_attempts"];
    assert_eq!(earlier.as_array().map(Vec::len), Some(2), "{flaky}");
    let schedule = rest
        .ok(&format!("/api/v1/schedules/{}", fixture::SCHEDULE))
        .await;
    assert_eq!(schedule["paused"], true, "{schedule}");
    let plan = rest.ok(&format!("/api/v1/plans/{}", fixture::PLAN)).await;
    assert_eq!(plan["workflow_type"], "Greeting", "{plan}");

    let name = fixture_db.file_stem().unwrap().to_str().unwrap();
    if !fixture::WITHOUT_FLOWS.contains(&name) {
        check_flows(&rest).await;
    }
}
