//! Several `keel server` nodes on one PostgreSQL database: workers and clients talk to
//! different nodes, a node dies mid-run, the database restarts — and every workflow still
//! completes exactly once with a gap-free history.

use std::time::{Duration, Instant};

use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::enums::v1::EventType;

use crate::harness::{
    Server, assert_well_formed, count, event_types, history, postgres_cluster, unique, with_workers,
};
use crate::rest_client::Rest;
use crate::workflows::{FanOut, Greeting, Pipeline, Sleeper};

/// Three nodes on a fresh database of the shared test cluster.
async fn three_nodes() -> Vec<Server> {
    let url = postgres_cluster().create_database();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Server::node(&url).await);
    }
    nodes
}

/// Asserts the workflow ran one run that completed once, with a gap-free history.
async fn assert_completed_once(client: &Client, workflow_id: &str) {
    let events = history(client, workflow_id).await;
    assert_well_formed(&events);
    let types = event_types(&events);
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == EventType::WorkflowExecutionCompleted)
            .count(),
        1,
        "{workflow_id} must complete exactly once: {types:?}"
    );
    assert_eq!(
        types.last(),
        Some(&EventType::WorkflowExecutionCompleted),
        "{workflow_id}: {types:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_and_clients_may_talk_to_different_nodes() {
    let nodes = three_nodes().await;
    let [a, b, c] = [
        nodes[0].client().await,
        nodes[1].client().await,
        nodes[2].client().await,
    ];
    let queue = unique("spread");
    // Only node A has a worker; workflows are started through B and awaited through C.
    let ((), clean) = with_workers(&[&a], &queue, async {
        let mut latencies = Vec::new();
        for i in 0..10 {
            let id = unique(&format!("greeting-{i}"));
            let began = Instant::now();
            b.start_workflow(
                Greeting::run,
                format!("node {i}"),
                WorkflowStartOptions::new(&queue, &id).build(),
            )
            .await
            .unwrap();
            let result = c
                .get_workflow_handle::<Greeting>(&id)
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();
            latencies.push(began.elapsed());
            assert_eq!(result, format!("hello, node {i}"));
            assert_completed_once(&c, &id).await;
        }
        latencies.sort();
        let median = latencies[latencies.len() / 2];
        println!("start on B, work on A, result on C: median {median:?}");
        // A task committed on one node reaches a poller waiting on another at once, not
        // after some polling interval.
        assert!(
            median < Duration::from_millis(500),
            "median {median:?} for a one-activity workflow across nodes"
        );

        // A timer armed by one node fires, and the workflow goes on, whoever watches it.
        let sleeper = unique("sleeper");
        c.start_workflow(
            Sleeper::run,
            1u64,
            WorkflowStartOptions::new(&queue, &sleeper).build(),
        )
        .await
        .unwrap();
        let value = b
            .get_workflow_handle::<Sleeper>(&sleeper)
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap();
        assert_eq!(value, 2);
        let types = event_types(&history(&a, &sleeper).await);
        assert_eq!(
            types
                .iter()
                .filter(|t| **t == EventType::TimerFired)
                .count(),
            1,
            "the timer fired once: {types:?}"
        );
    })
    .await;
    assert_eq!(clean, [true]);

    // Two nodes racing to start one workflow id: exactly one run is created.
    let contested = unique("contested");
    let start = |client: Client| {
        let (queue, contested) = (queue.clone(), contested.clone());
        async move {
            client
                .start_workflow(
                    Greeting::run,
                    "race".to_owned(),
                    WorkflowStartOptions::new(&queue, &contested).build(),
                )
                .await
        }
    };
    let (from_b, from_c) = tokio::join!(start(b.clone()), start(c.clone()));
    assert!(
        from_b.is_ok() != from_c.is_ok(),
        "exactly one of two racing starts must win: {:?} / {:?}",
        from_b.map(|h| h.run_id().map(str::to_owned)),
        from_c.map(|h| h.run_id().map(str::to_owned))
    );
    assert_eq!(count(&a, &format!("WorkflowId = '{contested}'")).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_registered_on_one_node_is_usable_on_the_others() {
    use temporalio_client::grpc::WorkflowService;
    use temporalio_client::tonic::Request;
    use temporalio_common::protos::temporal::api::workflowservice::v1::{
        DescribeNamespaceRequest, RegisterNamespaceRequest,
    };

    let nodes = three_nodes().await;
    let a = nodes[0].client().await;
    let c = nodes[2].client().await;
    // Node C knows the namespace's absence before A registers it.
    let describe = |client: Client, name: String| async move {
        WorkflowService::describe_namespace(
            &mut client.clone(),
            Request::new(DescribeNamespaceRequest {
                namespace: name,
                ..Default::default()
            }),
        )
        .await
    };
    let name = unique("shared-ns");
    assert!(describe(c.clone(), name.clone()).await.is_err());
    WorkflowService::register_namespace(
        &mut a.clone(),
        Request::new(RegisterNamespaceRequest {
            namespace: name.clone(),
            description: "registered on A".into(),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match describe(c.clone(), name.clone()).await {
            Ok(described) => {
                let info = described.into_inner().namespace_info.unwrap();
                assert_eq!(info.description, "registered on A");
                break;
            }
            Err(status) => assert!(
                Instant::now() < deadline,
                "node C never learned of the namespace: {status}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_a_node_during_200_workflows_loses_nothing() {
    const N: usize = 200;
    let mut nodes = three_nodes().await;
    let clients = [
        nodes[0].client().await,
        nodes[1].client().await,
        nodes[2].client().await,
    ];
    let queue = unique("survive");
    let ids: Vec<String> = (0..N).map(|i| unique(&format!("pipeline-{i}"))).collect();
    let [a, b, c] = &clients;
    let ((), clean) = with_workers(&[a, b, c], &queue, async {
        for (i, id) in ids.iter().enumerate() {
            clients[i % 3]
                .start_workflow(
                    Pipeline::run,
                    i as u32,
                    WorkflowStartOptions::new(&queue, id).build(),
                )
                .await
                .unwrap();
        }
        // Kill node A (with its worker's connection) while the run is in full swing.
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(
            b,
            &format!("TaskQueue = '{queue}' AND ExecutionStatus = 'Completed'"),
        )
        .await
            < (N / 5) as i64
        {
            assert!(Instant::now() < deadline, "workflows made no progress");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        nodes[0].kill().await;
        let killed_at = Instant::now();

        // Everything completes through the two survivors.
        for (i, id) in ids.iter().enumerate() {
            let client = if i % 2 == 0 { b } else { c };
            let result = client
                .get_workflow_handle::<Pipeline>(id)
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();
            assert_eq!(result, i as u32 + 3, "{id}");
        }
        println!(
            "all {N} workflows completed {:?} after the kill",
            killed_at.elapsed()
        );
    })
    .await;
    assert_eq!(
        &clean[1..],
        [true, true],
        "the survivors' workers shut down cleanly"
    );
    for id in &ids {
        assert_completed_once(b, id).await;
        let types = event_types(&history(c, id).await);
        assert_eq!(
            types
                .iter()
                .filter(|t| **t == EventType::TimerFired)
                .count(),
            1,
            "{id}: the timer fired once: {types:?}"
        );
    }
    let everything = format!("TaskQueue = '{queue}'");
    assert_eq!(
        count(c, &everything).await,
        N as i64,
        "one run per workflow"
    );
    assert_eq!(
        count(
            c,
            &format!("{everything} AND ExecutionStatus = 'Completed'")
        )
        .await,
        N as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_joining_any_node_finds_the_work_waiting_for_it() {
    let nodes = three_nodes().await;
    let [a, b, c] = [
        nodes[0].client().await,
        nodes[1].client().await,
        nodes[2].client().await,
    ];
    let queue = unique("backlog");
    // A worker polls the queue through A, then goes away.
    let ((), clean) = with_workers(&[&a], &queue, async {}).await;
    assert_eq!(clean, [true]);
    // Work piles up, started through B, while no worker runs anywhere.
    let ids: Vec<String> = (0..20).map(|i| unique(&format!("waiting-{i}"))).collect();
    for (i, id) in ids.iter().enumerate() {
        b.start_workflow(
            Greeting::run,
            format!("#{i}"),
            WorkflowStartOptions::new(&queue, id).build(),
        )
        .await
        .unwrap();
    }
    // A worker joins through C, which has heard of none of it until now.
    let ((), clean) = with_workers(&[&c], &queue, async {
        for (i, id) in ids.iter().enumerate() {
            let result = tokio::time::timeout(
                Duration::from_secs(30),
                a.get_workflow_handle::<Greeting>(id)
                    .get_result(WorkflowGetResultOptions::default()),
            )
            .await
            .unwrap_or_else(|_| panic!("{id} was never worked by the worker that joined"))
            .unwrap();
            assert_eq!(result, format!("hello, #{i}"));
        }
    })
    .await;
    assert_eq!(clean, [true]);
    for id in &ids {
        assert_completed_once(&b, id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_dispatching_more_tasks_than_a_notice_holds_reaches_the_other_nodes() {
    let nodes = three_nodes().await;
    let a = nodes[0].client().await;
    let b = nodes[1].client().await;
    // The workflow runs on B's worker and schedules its 100 activities on a queue that only
    // A's worker polls: too many tasks for one notice, so A must read them from the store.
    let (workflow_queue, activity_queue) = (unique("fan-out"), unique("fan-out-activities"));
    let id = unique("fan-out");
    let (rest_a, rest_b) = (
        Rest::new(&nodes[0].http_addr),
        Rest::new(&nodes[1].http_addr),
    );
    let work = async {
        // Both workers are polling (each on its own node) before the activities exist.
        polled(&rest_a, &activity_queue, "activity").await;
        polled(&rest_b, &workflow_queue, "workflow").await;
        b.start_workflow(
            FanOut::run,
            (activity_queue.clone(), 100u32),
            WorkflowStartOptions::new(&workflow_queue, &id).build(),
        )
        .await
        .unwrap();
        tokio::time::timeout(
            Duration::from_secs(60),
            b.get_workflow_handle::<FanOut>(&id)
                .get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .unwrap_or_else(|_| {
            panic!("the fan-out did not finish in time");
        })
        .unwrap()
    };
    let ((sum, clean_a), clean_b) = with_workers(&[&b], &workflow_queue, async {
        with_workers(&[&a], &activity_queue, work).await
    })
    .await;
    assert_eq!(sum, (1..=100).sum::<u32>());
    assert_eq!((clean_a, clean_b), (vec![true], vec![true]));
    assert_completed_once(&b, &id).await;
    let types = event_types(&history(&a, &id).await);
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == EventType::ActivityTaskCompleted)
            .count(),
        100
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_node_describes_the_workers_polling_another() {
    use temporalio_client::grpc::WorkflowService;
    use temporalio_client::tonic::Request;
    use temporalio_common::protos::temporal::api::enums::v1::TaskQueueType;
    use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
    use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeTaskQueueRequest;

    let nodes = three_nodes().await;
    let a = nodes[0].client().await;
    let c = nodes[2].client().await;
    let queue = unique("described");
    let describe = |kind: TaskQueueType| {
        let (c, queue) = (c.clone(), queue.clone());
        async move {
            WorkflowService::describe_task_queue(
                &mut c.clone(),
                Request::new(DescribeTaskQueueRequest {
                    namespace: "default".into(),
                    task_queue: Some(TaskQueue {
                        name: queue,
                        ..Default::default()
                    }),
                    task_queue_type: kind as i32,
                    ..Default::default()
                }),
            )
            .await
            .unwrap()
            .into_inner()
            .pollers
        }
    };
    assert!(describe(TaskQueueType::Workflow).await.is_empty());
    // The worker polls node A only; node C learns of it from A's notices.
    let ((), clean) = with_workers(&[&a], &queue, async {
        let deadline = Instant::now() + Duration::from_secs(20);
        for kind in [TaskQueueType::Workflow, TaskQueueType::Activity] {
            loop {
                let pollers = describe(kind).await;
                if let Some(poller) = pollers.first() {
                    assert_eq!(poller.identity, "keel-it");
                    assert!(poller.last_access_time.is_some());
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "node C never listed the worker polling {kind:?} on node A"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    })
    .await;
    assert_eq!(clean, [true]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_queries_and_updates_reach_a_worker_on_another_node() {
    use temporalio_client::{
        WorkflowExecuteUpdateOptions, WorkflowQueryOptions, WorkflowSignalOptions,
    };

    use crate::workflows::Accumulator;

    let nodes = three_nodes().await;
    let (a, b) = (nodes[0].client().await, nodes[1].client().await);
    let queue = unique("interactions");
    let workflow_id = unique("accumulator");
    // The only worker polls node A; every call goes through node B.
    let ((), clean) = with_workers(&[&a], &queue, async {
        let handle = b
            .start_workflow(
                Accumulator::run,
                (),
                WorkflowStartOptions::new(&queue, &workflow_id).build(),
            )
            .await
            .unwrap();
        let mut expected = 0;
        for n in 1..=5u32 {
            handle
                .signal(Accumulator::add, n, WorkflowSignalOptions::default())
                .await
                .unwrap();
            expected += n;
            // Asked right after the signal: the answer must count it, although the
            // workflow task runs on another node.
            let total = tokio::time::timeout(
                Duration::from_secs(20),
                handle.query(Accumulator::total, (), WorkflowQueryOptions::default()),
            )
            .await
            .expect("answered in time")
            .unwrap();
            assert_eq!(total, expected, "after signal {n}");
        }
        let total = handle
            .execute_update(
                Accumulator::add_checked,
                10,
                WorkflowExecuteUpdateOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(total, expected + 10);
        handle
            .signal(Accumulator::finish, (), WorkflowSignalOptions::default())
            .await
            .unwrap();
        let result = handle
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap();
        assert_eq!(result, (expected + 10, 6));
    })
    .await;
    assert!(clean.iter().all(|c| *c));
    assert_completed_once(&b, &workflow_id).await;
}

/// Waits until a worker polls `queue` for `kind` tasks on the node `rest` talks to.
async fn polled(rest: &Rest, queue: &str, kind: &str) {
    for _ in 0..400 {
        let described = rest.ok(&format!("/api/v1/task-queues/{queue}")).await;
        if described[kind]["pollers"].as_u64().unwrap_or(0) > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no worker polled {queue} for {kind} tasks");
}
