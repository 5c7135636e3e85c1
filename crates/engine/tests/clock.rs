//! The engine under a clock the test moves: timers, retries, timeouts and run timeouts act
//! exactly when their time comes and not a moment before, with no real waiting for them. The
//! store is the real embedded SQLite in a temporary directory; the worker is the test,
//! talking to the engine's own API.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_core::event::EventKind;
use keel_core::{
    Command, Completion, ExecutionKey, Failure, FailureInfo, RetryPolicy, ScheduleActivity,
    StartParams, Status, Time,
};
use keel_engine::{
    ActivityOutcome, ActivityTarget, Clock, Engine, HistoryRequest, Options, PolledActivityTask,
    PolledWorkflowTask, StartRequest,
};
use keel_store::sqlite::SqliteStore;

const QUEUE: &str = "clocked";
const WORKER: &str = "test-worker";
/// 2026-12-05T00:00:00Z: any fixed time does.
const T0: Time = Time(1_796_428_800_000_000_000);

/// An engine on a fresh SQLite store and a manual clock.
struct Rig {
    engine: Engine,
    clock: Clock,
    _dir: tempfile::TempDir,
}

impl Rig {
    async fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("keel.db")).unwrap();
        let clock = Clock::manual(T0);
        let options = Options {
            clock: clock.clone(),
            ..Options::default()
        };
        let engine = Engine::start(Arc::new(store), options).await.unwrap();
        Rig {
            engine,
            clock,
            _dir: dir,
        }
    }

    async fn start(&self, workflow_id: &str, params: StartParams) -> ExecutionKey {
        let started = self
            .engine
            .start_workflow(StartRequest {
                namespace: "default".into(),
                workflow_id: workflow_id.into(),
                params: StartParams {
                    workflow_type: "Clocked".into(),
                    task_queue: QUEUE.into(),
                    request_id: format!("start-{workflow_id}"),
                    ..params
                },
                ..StartRequest::default()
            })
            .await
            .unwrap();
        ExecutionKey {
            namespace: "default".into(),
            workflow_id: workflow_id.into(),
            run_id: started.run_id,
        }
    }

    /// The workflow task a worker polling now gets, if one is due: a poll that waits
    /// briefly in real time, which is all a task that is already due needs.
    async fn workflow_task(&self) -> Option<PolledWorkflowTask> {
        self.poll_workflow(Duration::from_millis(200)).await
    }

    /// The workflow task that is due now, however busy the machine.
    async fn due_workflow_task(&self) -> PolledWorkflowTask {
        self.poll_workflow(Duration::from_secs(10))
            .await
            .expect("a workflow task is due")
    }

    async fn poll_workflow(&self, wait: Duration) -> Option<PolledWorkflowTask> {
        let deadline = Instant::now() + wait;
        self.engine
            .poll_workflow_task("default", QUEUE, WORKER, deadline)
            .await
            .unwrap()
    }

    async fn activity_task(&self) -> Option<PolledActivityTask> {
        self.poll_activity(Duration::from_millis(200)).await
    }

    async fn due_activity_task(&self) -> PolledActivityTask {
        self.poll_activity(Duration::from_secs(10))
            .await
            .expect("an activity task is due")
    }

    async fn poll_activity(&self, wait: Duration) -> Option<PolledActivityTask> {
        let deadline = Instant::now() + wait;
        self.engine
            .poll_activity_task("default", QUEUE, WORKER, deadline)
            .await
            .unwrap()
    }

    async fn complete(&self, task: &PolledWorkflowTask, commands: Vec<Command>) {
        let completion = Completion {
            commands,
            identity: WORKER.into(),
            ..Completion::default()
        };
        self.engine
            .complete_workflow_task(&task.token, completion, Vec::new())
            .await
            .unwrap();
    }

    async fn fail(&self, task: &PolledActivityTask) {
        self.engine
            .finish_activity(
                ActivityTarget::Token(task.token.clone()),
                ActivityOutcome::Failed {
                    failure: failure("boom"),
                    last_heartbeat_details: None,
                },
                WORKER,
            )
            .await
            .unwrap();
    }

    /// Moves the clock and gives what became due a moment to happen.
    async fn advance(&self, by: Duration) {
        self.clock.advance(by);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    async fn status(&self, key: &ExecutionKey) -> Status {
        self.engine.describe(key).await.unwrap().status
    }

    async fn event_names(&self, key: &ExecutionKey) -> Vec<&'static str> {
        let page = self
            .engine
            .history(HistoryRequest {
                key: key.clone(),
                page_token: Vec::new(),
                page_size: 1000,
                wait_new_event: false,
                close_event_only: false,
                deadline: Instant::now() + Duration::from_secs(1),
            })
            .await
            .unwrap();
        page.events.iter().map(|event| event.kind.name()).collect()
    }
}

fn activity(start_to_close: Duration, retry: RetryPolicy) -> Command {
    Command::ScheduleActivity(ScheduleActivity {
        activity_id: "a".into(),
        activity_type: "Step".into(),
        task_queue: QUEUE.into(),
        start_to_close_timeout: start_to_close,
        retry_policy: Some(retry),
        ..ScheduleActivity::default()
    })
}

fn retry(initial: Duration, maximum_attempts: i32) -> RetryPolicy {
    RetryPolicy {
        initial_interval: initial,
        backoff_coefficient: 2.0,
        maximum_interval: Duration::ZERO,
        maximum_attempts,
        non_retryable_error_types: Vec::new(),
    }
}

fn failure(message: &str) -> Failure {
    Failure {
        message: message.into(),
        source: "test".into(),
        info: FailureInfo::Application {
            failure_type: "Boom".into(),
            non_retryable: false,
            next_retry_delay: None,
        },
        cause: None,
        original: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_fires_when_the_clock_reaches_it_and_not_before() {
    let rig = Rig::new().await;
    let key = rig.start("timer", StartParams::default()).await;
    let task = rig.due_workflow_task().await;
    rig.complete(
        &task,
        vec![Command::StartTimer {
            timer_id: "hour".into(),
            start_to_fire_timeout: Duration::from_secs(3600),
        }],
    )
    .await;

    rig.advance(Duration::from_secs(3599)).await;
    assert!(rig.workflow_task().await.is_none(), "fired a second early");
    assert!(!rig.event_names(&key).await.contains(&"TimerFired"));

    rig.advance(Duration::from_secs(1)).await;
    let task = rig.due_workflow_task().await;
    let fired = task
        .history
        .iter()
        .find(|event| matches!(event.kind, EventKind::TimerFired { .. }))
        .expect("TimerFired in the task's history");
    assert_eq!(fired.time, T0.plus(Duration::from_secs(3600)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_activity_is_retried_after_its_backoff_and_the_backoff_doubles() {
    let rig = Rig::new().await;
    rig.start("retry", StartParams::default()).await;
    let task = rig.due_workflow_task().await;
    let step = activity(Duration::from_secs(60), retry(Duration::from_secs(10), 3));
    rig.complete(&task, vec![step]).await;

    let first = rig.due_activity_task().await;
    assert_eq!(first.attempt, 1);
    rig.fail(&first).await;
    rig.advance(Duration::from_secs(9)).await;
    assert!(
        rig.activity_task().await.is_none(),
        "retried before its backoff"
    );
    rig.advance(Duration::from_secs(1)).await;
    let second = rig.due_activity_task().await;
    assert_eq!(second.attempt, 2);

    rig.fail(&second).await;
    rig.advance(Duration::from_secs(19)).await;
    assert!(
        rig.activity_task().await.is_none(),
        "the second backoff is 20 s"
    );
    rig.advance(Duration::from_secs(1)).await;
    assert_eq!(rig.due_activity_task().await.attempt, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activity_that_overruns_start_to_close_times_out_and_is_retried() {
    let rig = Rig::new().await;
    let key = rig.start("overrun", StartParams::default()).await;
    let task = rig.due_workflow_task().await;
    let step = activity(Duration::from_secs(30), retry(Duration::from_secs(1), 2));
    rig.complete(&task, vec![step]).await;
    let first = rig.due_activity_task().await;

    rig.advance(Duration::from_secs(29)).await;
    assert!(rig.activity_task().await.is_none());
    rig.advance(Duration::from_secs(1)).await;
    assert!(
        rig.activity_task().await.is_none(),
        "the backoff comes first"
    );
    rig.advance(Duration::from_secs(1)).await;
    let second = rig.due_activity_task().await;
    assert_eq!(second.attempt, 2);
    // The overrunning attempt's late result is refused: its attempt is over.
    let late = rig
        .engine
        .finish_activity(
            ActivityTarget::Token(first.token),
            ActivityOutcome::Completed(None),
            WORKER,
        )
        .await;
    assert!(late.is_err(), "a timed-out attempt's result must not count");

    // The last attempt overruns too: the workflow hears of the timeout.
    rig.advance(Duration::from_secs(30)).await;
    let task = rig.due_workflow_task().await;
    assert!(
        task.history
            .iter()
            .any(|event| matches!(event.kind, EventKind::ActivityTaskTimedOut { .. }))
    );
    assert!(
        rig.event_names(&key)
            .await
            .contains(&"ActivityTaskTimedOut")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_task_nobody_completes_times_out_and_is_given_out_again() {
    let rig = Rig::new().await;
    let params = StartParams {
        workflow_task_timeout: Duration::from_secs(10),
        ..StartParams::default()
    };
    let key = rig.start("stalled", params).await;
    let first = rig.due_workflow_task().await;
    assert_eq!(first.attempt, 1);

    rig.advance(Duration::from_secs(9)).await;
    assert!(rig.workflow_task().await.is_none());
    rig.advance(Duration::from_secs(1)).await;
    let second = rig.due_workflow_task().await;
    assert_eq!(second.attempt, 2);
    assert!(
        rig.event_names(&key)
            .await
            .contains(&"WorkflowTaskTimedOut")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_timeout_closes_the_run_when_it_comes() {
    let rig = Rig::new().await;
    let params = StartParams {
        workflow_run_timeout: Duration::from_secs(3600),
        ..StartParams::default()
    };
    let key = rig.start("bounded", params).await;
    let task = rig.due_workflow_task().await;
    rig.complete(&task, Vec::new()).await;

    rig.advance(Duration::from_secs(3599)).await;
    assert_eq!(rig.status(&key).await, Status::Running);
    rig.advance(Duration::from_secs(1)).await;
    assert_eq!(rig.status(&key).await, Status::TimedOut);
    assert_eq!(
        rig.event_names(&key).await.last(),
        Some(&"WorkflowExecutionTimedOut")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_poller_gets_a_task_the_moment_it_is_dispatched() {
    let rig = Rig::new().await;
    let engine = rig.engine.clone();
    let waiting = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(10);
        engine
            .poll_workflow_task("default", QUEUE, WORKER, deadline)
            .await
            .unwrap()
    });
    // Let the poll reach the queue first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let key = rig.start("matched", StartParams::default()).await;
    let task = waiting
        .await
        .unwrap()
        .expect("the waiting poll gets the task");
    assert_eq!(task.key, key);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The task went to the poller, not to the queue as well.
    assert!(rig.workflow_task().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_starts_its_workflow_at_each_due_time() {
    use keel_core::schedule::spec::Interval;
    use keel_core::schedule::{Definition, Patch, Policies, ScheduleState, Spec, StartWorkflow};
    use keel_core::visibility::Filter;

    let rig = Rig::new().await;
    let definition = Definition {
        spec: Spec {
            intervals: vec![Interval {
                every: Duration::from_secs(3600),
                phase: Duration::ZERO,
            }],
            ..Spec::default()
        },
        raw_spec: keel_core::Blob(Vec::new()),
        action: StartWorkflow {
            workflow_id: "hourly".into(),
            params: StartParams {
                workflow_type: "Clocked".into(),
                task_queue: QUEUE.into(),
                ..StartParams::default()
            },
            raw: keel_core::Blob(Vec::new()),
        },
        policies: Policies::default(),
        state: ScheduleState::default(),
    };
    rig.engine
        .create_schedule(
            "default",
            "hourly",
            definition,
            Patch::default(),
            Default::default(),
            Default::default(),
        )
        .await
        .unwrap();
    let everything = Filter::everything();
    let runs = || rig.engine.count_executions("default", &everything);

    rig.advance(Duration::from_secs(3599)).await;
    assert_eq!(runs().await.unwrap(), 0, "started before its time");
    rig.advance(Duration::from_secs(1)).await;
    let task = rig.due_workflow_task().await;
    assert!(
        task.key.workflow_id.starts_with("hourly-"),
        "{}",
        task.key.workflow_id
    );
    assert_eq!(runs().await.unwrap(), 1);
    // Done before the next due time, so the default overlap policy (skip) lets it start.
    rig.complete(&task, vec![Command::CompleteWorkflow { result: None }])
        .await;

    rig.advance(Duration::from_secs(3600)).await;
    let next = rig.due_workflow_task().await;
    assert_ne!(next.key, task.key, "a second run");
    assert_eq!(runs().await.unwrap(), 2, "one start per due time");
    rig.complete(&next, vec![Command::CompleteWorkflow { result: None }])
        .await;

    // Paused, hours pass and nothing starts; unpaused, the next due time starts again.
    let pause = Patch {
        pause: Some("maintenance".into()),
        ..Patch::default()
    };
    rig.engine
        .patch_schedule("default", "hourly", pause)
        .await
        .unwrap();
    rig.advance(Duration::from_secs(3 * 3600)).await;
    assert!(rig.workflow_task().await.is_none());
    assert_eq!(runs().await.unwrap(), 2, "nothing starts while paused");
    let unpause = Patch {
        unpause: Some("done".into()),
        ..Patch::default()
    };
    rig.engine
        .patch_schedule("default", "hourly", unpause)
        .await
        .unwrap();
    rig.advance(Duration::from_secs(3600)).await;
    rig.due_workflow_task().await;
    assert_eq!(runs().await.unwrap(), 3);
}
