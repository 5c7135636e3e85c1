//! Workflows and activities the integration tests run, written with the official Rust SDK.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use temporalio_common::RetryPolicy;
use temporalio_common::search_attributes::SearchAttributeKey;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityCancellationType, ActivityExecutionError, ActivityOptions, ApplicationFailure,
    CancellableFuture, ChildWorkflowOptions, ContinueAsNewOptions, LocalActivityOptions,
    ParentClosePolicy, SignalWorkflowOptions, SyncWorkflowContext, WorkflowCancellationToken,
    WorkflowContext, WorkflowContextView, WorkflowResult, WorkflowTermination,
};

/// When each attempt of an activity started, by workflow id: how tests observe retries
/// and their backoff from the worker's side.
type AttemptLog = HashMap<String, Vec<(u32, Instant)>>;
static ATTEMPTS: Mutex<Option<AttemptLog>> = Mutex::new(None);

fn record_attempt(ctx: &ActivityContext) -> u32 {
    let info = ctx.info();
    let workflow_id = info.workflow_id.clone().unwrap_or_default();
    let mut attempts = ATTEMPTS.lock().unwrap();
    attempts
        .get_or_insert_with(HashMap::new)
        .entry(workflow_id)
        .or_default()
        .push((info.attempt, Instant::now()));
    info.attempt
}

/// Workflow ids whose activity saw its cancellation.
static CANCELLED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record_cancellation(ctx: &ActivityContext) {
    let workflow_id = ctx.info().workflow_id.clone().unwrap_or_default();
    CANCELLED.lock().unwrap().push(workflow_id);
}

pub fn saw_cancellation(workflow_id: &str) -> bool {
    CANCELLED.lock().unwrap().iter().any(|id| id == workflow_id)
}

pub fn attempts_of(workflow_id: &str) -> Vec<(u32, Instant)> {
    let attempts = ATTEMPTS.lock().unwrap();
    attempts
        .as_ref()
        .and_then(|a| a.get(workflow_id).cloned())
        .unwrap_or_default()
}

pub fn retry(initial: Duration, maximum_attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(initial)
        .backoff_coefficient(2.0)
        .maximum_attempts(maximum_attempts)
        .build()
}

async fn sleep_unless_cancelled(
    ctx: &ActivityContext,
    duration: Duration,
) -> Result<(), ActivityError> {
    tokio::select! {
        _ = tokio::time::sleep(duration) => Ok(()),
        _ = ctx.cancelled() => Err(ActivityError::cancelled()),
    }
}

pub struct TestActivities;

#[activities]
impl TestActivities {
    #[activity]
    pub async fn greet(_ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        Ok(format!("hello, {name}"))
    }

    #[activity]
    pub async fn add_one(_ctx: ActivityContext, n: u32) -> Result<u32, ActivityError> {
        Ok(n + 1)
    }

    /// Fails while its workflow id is marked broken (see [`break_for`]).
    #[activity]
    pub async fn mendable(ctx: ActivityContext, input: String) -> Result<String, ActivityError> {
        let workflow_id = ctx.info().workflow_id.clone().unwrap_or_default();
        if BROKEN.lock().unwrap().contains(&workflow_id) {
            return Err(ActivityError::application(ApplicationFailure::new(
                "the activity is broken",
            )));
        }
        Ok(format!("mended {input}"))
    }

    /// Fails its first two attempts.
    #[activity]
    pub async fn flaky(ctx: ActivityContext, _input: ()) -> Result<u32, ActivityError> {
        let attempt = record_attempt(&ctx);
        if attempt < 3 {
            return Err(ActivityError::application(ApplicationFailure::new(
                format!("attempt {attempt} failed"),
            )));
        }
        Ok(attempt)
    }

    /// Overruns its start-to-close timeout on the first attempt only.
    #[activity]
    pub async fn slow_first(ctx: ActivityContext, _input: ()) -> Result<u32, ActivityError> {
        let attempt = record_attempt(&ctx);
        if attempt == 1 {
            sleep_unless_cancelled(&ctx, Duration::from_secs(6)).await?;
        }
        Ok(attempt)
    }

    #[activity]
    pub async fn reject(_ctx: ActivityContext, _input: ()) -> Result<(), ActivityError> {
        Err(ActivityError::application(
            ApplicationFailure::builder("the input is unacceptable")
                .type_name("Bad".to_owned())
                .non_retryable(true)
                .build(),
        ))
    }

    /// Heartbeats once and then stalls on its first attempt; the second attempt returns what
    /// the first one reported, plus one.
    #[activity]
    pub async fn stall_after_heartbeat(
        ctx: ActivityContext,
        _input: (),
    ) -> Result<u32, ActivityError> {
        let attempt = record_attempt(&ctx);
        if attempt == 1 {
            ctx.record_heartbeat(41u32)
                .await
                .map_err(|e| ActivityError::application(ApplicationFailure::new(e.to_string())))?;
            sleep_unless_cancelled(&ctx, Duration::from_secs(10)).await?;
            return Ok(0);
        }
        let details: Option<u32> = ctx
            .heartbeat_details()
            .deserialize()
            .map_err(|e| ActivityError::application(ApplicationFailure::new(e.to_string())))?;
        Ok(details.unwrap_or(0) + 1)
    }

    /// Heartbeats until the server tells it the workflow cancelled it.
    #[activity]
    pub async fn until_cancelled(ctx: ActivityContext, _input: ()) -> Result<(), ActivityError> {
        record_attempt(&ctx);
        for beat in 0..300u32 {
            if ctx.is_cancelled() {
                record_cancellation(&ctx);
                return Err(ActivityError::cancelled());
            }
            let _ = ctx.record_heartbeat(beat).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    #[activity]
    pub async fn sleep_millis(ctx: ActivityContext, millis: u64) -> Result<u64, ActivityError> {
        record_attempt(&ctx);
        sleep_unless_cancelled(&ctx, Duration::from_millis(millis)).await?;
        Ok(millis)
    }
}

#[workflow]
#[derive(Default)]
pub struct Greeting;

#[workflow_methods]
impl Greeting {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        let options = ActivityOptions::start_to_close_timeout(Duration::from_secs(10));
        Ok(ctx
            .execute_activity(TestActivities::greet, name, options)
            .await?)
    }
}

/// Three sequential activities, then a one-second timer.
#[workflow]
#[derive(Default)]
pub struct Pipeline;

#[workflow_methods]
impl Pipeline {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, start: u32) -> WorkflowResult<u32> {
        let mut value = start;
        for _ in 0..3 {
            let options = ActivityOptions::start_to_close_timeout(Duration::from_secs(10));
            value = ctx
                .execute_activity(TestActivities::add_one, value, options)
                .await?;
        }
        ctx.timer(Duration::from_secs(1)).await;
        Ok(value)
    }
}

#[workflow]
#[derive(Default)]
pub struct Flaky;

#[workflow_methods]
impl Flaky {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<u32> {
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
            .retry_policy(retry(Duration::from_millis(300), 5))
            .build();
        Ok(ctx
            .execute_activity(TestActivities::flaky, (), options)
            .await?)
    }
}

#[workflow]
#[derive(Default)]
pub struct SlowFirst;

#[workflow_methods]
impl SlowFirst {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<u32> {
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(1))
            .retry_policy(retry(Duration::from_millis(100), 3))
            .build();
        Ok(ctx
            .execute_activity(TestActivities::slow_first, (), options)
            .await?)
    }
}

#[workflow]
#[derive(Default)]
pub struct Rejecting;

#[workflow_methods]
impl Rejecting {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<()> {
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
            .retry_policy(retry(Duration::from_millis(100), 10))
            .build();
        ctx.execute_activity(TestActivities::reject, (), options)
            .await?;
        Ok(())
    }
}

#[workflow]
#[derive(Default)]
pub struct Heartbeats;

#[workflow_methods]
impl Heartbeats {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<u32> {
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
            .heartbeat_timeout(Duration::from_secs(1))
            .retry_policy(retry(Duration::from_millis(100), 2))
            .build();
        Ok(ctx
            .execute_activity(TestActivities::stall_after_heartbeat, (), options)
            .await?)
    }
}

/// Waits on a durable timer, then runs one activity.
#[workflow]
#[derive(Default)]
pub struct Sleeper;

#[workflow_methods]
impl Sleeper {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, seconds: u64) -> WorkflowResult<u32> {
        ctx.timer(Duration::from_secs(seconds)).await;
        let options = ActivityOptions::start_to_close_timeout(Duration::from_secs(10));
        Ok(ctx
            .execute_activity(TestActivities::add_one, 1u32, options)
            .await?)
    }
}

/// One activity that takes a while.
#[workflow]
#[derive(Default)]
pub struct LongActivity;

#[workflow_methods]
impl LongActivity {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, millis: u64) -> WorkflowResult<u64> {
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
            .retry_policy(retry(Duration::from_millis(200), 0))
            .build();
        Ok(ctx
            .execute_activity(TestActivities::sleep_millis, millis, options)
            .await?)
    }
}

/// Schedules `n` activities at once on the task queue `queue` and sums what they return.
#[workflow]
#[derive(Default)]
pub struct FanOut;

#[workflow_methods]
impl FanOut {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: (String, u32)) -> WorkflowResult<u32> {
        let (queue, n) = input;
        let calls = (0..n).map(|i| {
            let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
                .task_queue(queue.clone())
                .build();
            ctx.execute_activity(TestActivities::add_one, i, options)
        });
        let mut sum = 0;
        // The SDK's own join_all: a general-purpose one wakes the workflow from outside the
        // SDK, which it rejects as nondeterministic.
        for result in temporalio_sdk::workflows::join_all(calls).await {
            sum += result?;
        }
        Ok(sum)
    }
}

pub fn register<S: temporalio_sdk::worker_options_builder::State>(
    options: temporalio_sdk::WorkerOptionsBuilder<S>,
) -> temporalio_sdk::WorkerOptionsBuilder<S> {
    options
        .register_workflow::<Greeting>()
        .unwrap()
        .register_workflow::<FanOut>()
        .unwrap()
        .register_workflow::<Pipeline>()
        .unwrap()
        .register_workflow::<Flaky>()
        .unwrap()
        .register_workflow::<SlowFirst>()
        .unwrap()
        .register_workflow::<Rejecting>()
        .unwrap()
        .register_workflow::<Heartbeats>()
        .unwrap()
        .register_workflow::<Sleeper>()
        .unwrap()
        .register_workflow::<LongActivity>()
        .unwrap()
        .register_workflow::<PanicsOnce>()
        .unwrap()
        .register_workflow::<LocalSteps>()
        .unwrap()
        .register_workflow::<CancelsActivity>()
        .unwrap()
        .register_workflow::<FailsTwice>()
        .unwrap()
        .register_workflow::<Accumulator>()
        .unwrap()
        .register_workflow::<CleansUp>()
        .unwrap()
        .register_workflow::<Messenger>()
        .unwrap()
        .register_workflow::<Countdown>()
        .unwrap()
        .register_workflow::<Parent>()
        .unwrap()
        .register_workflow::<Labeled>()
        .unwrap()
        .register_workflow::<Mended>()
        .unwrap()
        .register_workflow::<Mistyped>()
        .unwrap()
        .register_activities(TestActivities)
}

/// Upserts `Stage` as an Int, which the tests register as a Keyword: its workflow tasks
/// fail with BAD_SEARCH_ATTRIBUTES.
#[workflow]
#[derive(Default)]
pub struct Mistyped;

#[workflow_methods]
impl Mistyped {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<()> {
        ctx.upsert_search_attributes([SearchAttributeKey::<i64>::int("Stage").value_set(5)]);
        ctx.timer(Duration::from_secs(1)).await;
        Ok(())
    }
}

/// Workflow ids whose `mendable` activity fails.
static BROKEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Makes `workflow_id`'s `mendable` activity fail (`true`) or succeed.
pub fn break_for(workflow_id: &str, broken: bool) {
    let mut ids = BROKEN.lock().unwrap();
    ids.retain(|id| id != workflow_id);
    if broken {
        ids.push(workflow_id.to_owned());
    }
}

/// Runs the `mendable` activity once (no retries) and answers its result.
#[workflow]
#[derive(Default)]
pub struct Mended;

#[workflow_methods]
impl Mended {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: String) -> WorkflowResult<String> {
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
            .retry_policy(retry(Duration::from_millis(100), 1))
            .build();
        Ok(ctx
            .execute_activity(TestActivities::mendable, input, options)
            .await?)
    }
}

/// How often each workflow id's workflow code has panicked.
static PANICKED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Its first `panics` workflow tasks panic (failing the task, not the workflow); then it
/// runs one activity.
#[workflow]
#[derive(Default)]
pub struct PanicsOnce;

#[workflow_methods]
impl PanicsOnce {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, panics: u32) -> WorkflowResult<u32> {
        let workflow_id = ctx.info().workflow_id().to_owned();
        let panicked_before = {
            let mut panicked = PANICKED.lock().unwrap();
            let count = panicked.iter().filter(|id| **id == workflow_id).count() as u32;
            panicked.push(workflow_id);
            count
        };
        if panicked_before < panics {
            panic!("deliberate panic in workflow task {}", panicked_before + 1);
        }
        let options = ActivityOptions::start_to_close_timeout(Duration::from_secs(10));
        Ok(ctx
            .execute_activity(TestActivities::add_one, 41u32, options)
            .await?)
    }
}

/// Two local activities: no activity tasks, only markers in history.
#[workflow]
#[derive(Default)]
pub struct LocalSteps;

#[workflow_methods]
impl LocalSteps {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, start: u32) -> WorkflowResult<u32> {
        let options = LocalActivityOptions::builder()
            .start_to_close_timeout(Duration::from_secs(5))
            .build();
        let once = ctx
            .execute_local_activity(TestActivities::add_one, start, options.clone())
            .await?;
        Ok(ctx
            .execute_local_activity(TestActivities::add_one, once, options)
            .await?)
    }
}

/// Starts an activity, lets it run for a second, cancels it and waits for the worker to
/// confirm. Returns whether the activity ended as cancelled.
#[workflow]
#[derive(Default)]
pub struct CancelsActivity;

#[workflow_methods]
impl CancelsActivity {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<bool> {
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(60))
            .heartbeat_timeout(Duration::from_secs(1))
            .cancellation_type(ActivityCancellationType::WaitCancellationCompleted)
            .build();
        let activity = ctx.execute_activity(TestActivities::until_cancelled, (), options);
        ctx.timer(Duration::from_secs(1)).await;
        activity.cancel();
        Ok(matches!(
            activity.await,
            Err(ActivityExecutionError::Cancelled(_))
        ))
    }
}

/// Fails its first two runs; started with a retry policy, the third run succeeds.
#[workflow]
#[derive(Default)]
pub struct FailsTwice;

#[workflow_methods]
impl FailsTwice {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<u32> {
        let attempt = ctx.info().attempt();
        if attempt < 3 {
            return Err(ApplicationFailure::new(format!("run attempt {attempt} failed")).into());
        }
        Ok(attempt)
    }
}

/// Adds up the numbers signalled to it until the `finish` signal; answers the total and
/// how many numbers it got.
#[workflow]
#[derive(Default)]
pub struct Accumulator {
    total: u32,
    received: u32,
    finished: bool,
}

#[workflow_methods]
impl Accumulator {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<(u32, u32)> {
        ctx.wait_condition(|s| s.finished).await?;
        Ok(ctx.state(|s| (s.total, s.received)))
    }

    #[signal]
    pub fn add(&mut self, _ctx: &mut SyncWorkflowContext<Self>, n: u32) {
        self.total += n;
        self.received += 1;
    }

    #[signal]
    pub fn finish(&mut self, _ctx: &mut SyncWorkflowContext<Self>) {
        self.finished = true;
    }

    #[query]
    pub fn total(&self, _ctx: &WorkflowContextView) -> u32 {
        self.total
    }

    /// Adds `n` and answers the new total; the validator refuses zero.
    #[update]
    pub fn add_checked(&mut self, _ctx: &mut SyncWorkflowContext<Self>, n: u32) -> u32 {
        self.total += n;
        self.received += 1;
        self.total
    }

    #[update_validator(add_checked)]
    pub fn refuse_zero(
        &self,
        _ctx: &WorkflowContextView,
        n: &u32,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if *n == 0 {
            return Err("zero adds nothing".into());
        }
        Ok(())
    }
}

/// Waits until it is cancelled, then cleans up through an activity (which the
/// cancellation must not cancel) and closes as cancelled.
#[workflow]
#[derive(Default)]
pub struct CleansUp;

#[workflow_methods]
impl CleansUp {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<()> {
        ctx.cancelled().await;
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
            .cancellation_token(WorkflowCancellationToken::new())
            .build();
        ctx.execute_activity(TestActivities::add_one, 0u32, options)
            .await?;
        Err(WorkflowTermination::cancelled())
    }
}

/// Signals the Accumulator `target` (7, then finish), cancels the workflow `victim`, and
/// tries to signal a workflow that does not exist. Answers whether that last signal failed.
#[workflow]
#[derive(Default)]
pub struct Messenger;

#[workflow_methods]
impl Messenger {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: (String, String),
    ) -> WorkflowResult<bool> {
        let (target, victim) = input;
        let target = ctx.external_workflow(target, None);
        target
            .signal(Accumulator::add, 7, SignalWorkflowOptions::default())
            .await?;
        target
            .signal(Accumulator::finish, (), SignalWorkflowOptions::default())
            .await?;
        ctx.external_workflow(victim, None)
            .cancel(Some("the messenger says stop".into()))
            .await?;
        let missing = ctx
            .external_workflow("no-such-workflow", None)
            .signal(Accumulator::add, 1, SignalWorkflowOptions::default())
            .await;
        Ok(missing.is_err())
    }
}

/// Counts down by continuing as new once per step; the last run answers how many runs it
/// took, from what each run was handed.
#[workflow]
#[derive(Default)]
pub struct Countdown;

#[workflow_methods]
impl Countdown {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: (u32, u32)) -> WorkflowResult<u32> {
        let (left, runs_so_far) = input;
        if left == 0 {
            return Ok(runs_so_far + 1);
        }
        let options = ActivityOptions::start_to_close_timeout(Duration::from_secs(10));
        let left = ctx
            .execute_activity(TestActivities::add_one, left, options)
            .await?
            - 2;
        match ctx.continue_as_new((left, runs_so_far + 1), ContinueAsNewOptions::default()) {
            Err(continue_as_new) => Err(continue_as_new),
        }
    }
}

/// What the Parent workflow does with its child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ChildPlan {
    /// Runs a Greeting child and answers its result.
    AwaitGreeting,
    /// Runs a Rejecting child (it fails) and answers what it heard.
    AwaitFailure,
    /// Runs a Sleeper child (a timer of this many seconds, then an activity).
    AwaitSleeper(u64),
    /// Starts a CleansUp child (it waits to be cancelled) and closes at once under the
    /// given parent close policy.
    LeaveBehind(ClosePolicy),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ClosePolicy {
    Terminate,
    RequestCancel,
    Abandon,
}

/// Starts one child workflow with the id it is given, as its plan says.
#[workflow]
#[derive(Default)]
pub struct Parent;

#[workflow_methods]
impl Parent {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: (String, ChildPlan),
    ) -> WorkflowResult<String> {
        let (child_id, plan) = input;
        let options = |policy| {
            ChildWorkflowOptions::builder()
                .workflow_id(child_id.clone())
                .parent_close_policy(policy)
                .build()
        };
        match plan {
            ChildPlan::AwaitGreeting => {
                let child = ctx
                    .start_child_workflow(
                        Greeting::run,
                        "child".to_owned(),
                        options(ParentClosePolicy::Terminate),
                    )
                    .await?;
                Ok(child.result().await?)
            }
            ChildPlan::AwaitSleeper(seconds) => {
                let child = ctx
                    .start_child_workflow(
                        Sleeper::run,
                        seconds,
                        options(ParentClosePolicy::Terminate),
                    )
                    .await?;
                Ok(child.result().await?.to_string())
            }
            ChildPlan::AwaitFailure => {
                let child = ctx
                    .start_child_workflow(Rejecting::run, (), options(ParentClosePolicy::Terminate))
                    .await?;
                match child.result().await {
                    Ok(()) => Ok("the child succeeded".to_owned()),
                    Err(error) => Ok(format!("the child failed: {error}")),
                }
            }
            ChildPlan::LeaveBehind(policy) => {
                let policy = match policy {
                    ClosePolicy::Terminate => ParentClosePolicy::Terminate,
                    ClosePolicy::RequestCancel => ParentClosePolicy::RequestCancel,
                    ClosePolicy::Abandon => ParentClosePolicy::Abandon,
                };
                ctx.start_child_workflow(CleansUp::run, (), options(policy))
                    .await?;
                Ok("left it running".to_owned())
            }
        }
    }
}

pub const STAGE: SearchAttributeKey<String> = SearchAttributeKey::keyword("Stage");
pub const SCORE: SearchAttributeKey<i64> = SearchAttributeKey::int("Score");
pub const LABELS: SearchAttributeKey<Vec<String>> = SearchAttributeKey::keyword_list("Labels");

/// Marks itself `Stage = working` with its score and labels, waits for `finish`, then
/// marks itself `Stage = done` and unsets its score.
#[workflow]
#[derive(Default)]
pub struct Labeled {
    finished: bool,
}

#[workflow_methods]
impl Labeled {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, score: i64) -> WorkflowResult<()> {
        ctx.upsert_search_attributes([
            STAGE.value_set("working".into()),
            SCORE.value_set(score),
            LABELS.value_set(vec!["new".into(), format!("score-{score}")]),
        ]);
        ctx.wait_condition(|s| s.finished).await?;
        ctx.upsert_search_attributes([STAGE.value_set("done".into()), SCORE.value_unset()]);
        Ok(())
    }

    #[signal]
    pub fn finish(&mut self, _ctx: &mut SyncWorkflowContext<Self>) {
        self.finished = true;
    }
}
