//! The JSON the REST API answers with about executions. These are the API's shapes
//! (docs/rest-api.md), built here from engine types so that domain types never become wire
//! types by accident; each derives its OpenAPI schema (`openapi.rs`).

use keel_core::attempts::EndedAttempt;
use keel_core::overview::{self, ChildRunState, Phase, TaskRunState};
use keel_core::search::SearchAttributes;
use keel_core::{ActivityState, BlobMap, Execution, Status, Time};
use keel_engine::ExecutionSummary;
use keel_engine::operators::{PendingCause, RunOverview};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::openapi::{Millis, Timestamp};
use crate::payloads::{Failure, Payload, Payloads, payload, payloads};

pub fn time(time: Time) -> Value {
    let seconds = time.0.div_euclid(1_000_000_000);
    let nanos = time.0.rem_euclid(1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(seconds, nanos) {
        Some(time) => Value::String(time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        None => Value::Null,
    }
}

/// Temporal's status of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Running,
    Completed,
    Failed,
    #[serde(alias = "cancelled")]
    Canceled,
    Terminated,
    ContinuedAsNew,
    TimedOut,
}

impl From<Status> for ExecutionStatus {
    fn from(status: Status) -> ExecutionStatus {
        match status {
            Status::Running => ExecutionStatus::Running,
            Status::Completed => ExecutionStatus::Completed,
            Status::Failed => ExecutionStatus::Failed,
            Status::Canceled => ExecutionStatus::Canceled,
            Status::Terminated => ExecutionStatus::Terminated,
            Status::ContinuedAsNew => ExecutionStatus::ContinuedAsNew,
            Status::TimedOut => ExecutionStatus::TimedOut,
        }
    }
}

impl ExecutionStatus {
    /// The status's name in the API (its JSON string), for messages and metric labels.
    pub fn name(self) -> String {
        match serde_json::to_value(self) {
            Ok(Value::String(name)) => name,
            _ => unreachable!("a unit variant serializes as its name"),
        }
    }

    /// The status a REST name stands for, in any case (both spellings of cancelled are
    /// taken).
    pub fn parse(name: &str) -> Option<Status> {
        let name = Value::String(name.to_ascii_lowercase());
        serde_json::from_value::<ExecutionStatus>(name)
            .ok()
            .map(Status::from)
    }
}

impl From<ExecutionStatus> for Status {
    fn from(status: ExecutionStatus) -> Status {
        match status {
            ExecutionStatus::Running => Status::Running,
            ExecutionStatus::Completed => Status::Completed,
            ExecutionStatus::Failed => Status::Failed,
            ExecutionStatus::Canceled => Status::Canceled,
            ExecutionStatus::Terminated => Status::Terminated,
            ExecutionStatus::ContinuedAsNew => Status::ContinuedAsNew,
            ExecutionStatus::TimedOut => Status::TimedOut,
        }
    }
}

/// The column of the board an execution sits in: `pending` (running, but its current task
/// waits in a queue and no worker has taken it), `running`, `completed` (completed or
/// continued as new), `failed` (failed, timed out or terminated), `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionPhase {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl From<Phase> for ExecutionPhase {
    fn from(phase: Phase) -> ExecutionPhase {
        match phase {
            Phase::Pending => ExecutionPhase::Pending,
            Phase::Running => ExecutionPhase::Running,
            Phase::Completed => ExecutionPhase::Completed,
            Phase::Failed => ExecutionPhase::Failed,
            Phase::Cancelled => ExecutionPhase::Cancelled,
        }
    }
}

/// One run of an execution.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExecutionRef {
    /// The execution's workflow id.
    pub workflow_id: String,
    /// The run's id.
    pub run_id: String,
}

/// One run of an execution, as a list row shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Summary {
    /// The namespace of the execution.
    namespace: String,
    /// The execution's workflow id.
    workflow_id: String,
    /// The run's id.
    run_id: String,
    workflow_type: String,
    /// The task queue of its workflow tasks.
    task_queue: String,
    status: ExecutionStatus,
    phase: ExecutionPhase,
    /// When the run started.
    start_time: Timestamp,
    /// When the run closed; null while it runs.
    close_time: Option<Timestamp>,
    /// Start to close; null while it runs.
    duration_ms: Option<Millis>,
    /// Number of events in the run's history.
    #[schema(minimum = 0)]
    history_length: i64,
    /// The parent run, for a child workflow; else null.
    parent: Option<ExecutionRef>,
    /// Identity of the worker that handles (or last handled) the run; null if none has.
    worker: Option<String>,
    /// What the run is on now; null once it closed.
    doing: Option<Doing>,
}

impl From<&ExecutionSummary> for Summary {
    fn from(summary: &ExecutionSummary) -> Summary {
        Summary {
            namespace: summary.key.namespace.clone(),
            workflow_id: summary.key.workflow_id.clone(),
            run_id: summary.key.run_id.clone(),
            workflow_type: summary.workflow_type.clone(),
            task_queue: summary.task_queue.clone(),
            status: summary.status.into(),
            phase: summary.phase.into(),
            start_time: Timestamp(summary.start_time),
            close_time: summary.close_time.map(Timestamp),
            duration_ms: summary
                .close_time
                .map(|close| Millis(summary.start_time.until(close))),
            history_length: summary.history_length,
            parent: summary.parent.as_ref().map(|parent| ExecutionRef {
                workflow_id: parent.workflow_id.clone(),
                run_id: parent.run_id.clone(),
            }),
            worker: named(&summary.worker),
            doing: summary.doing.as_ref().map(Doing::from),
        }
    }
}

/// What `view=summary` answers: the run as lists show it, and why it waits, read without
/// its history.
#[derive(Serialize, ToSchema)]
pub struct ExecutionSummaryView {
    #[serde(flatten)]
    pub summary: Summary,
    /// Why a Pending run waits; null when it does not.
    pub pending_reason: Option<PendingReason>,
}

/// What a running run is on now. `others` counts the other open activities, children or
/// timers.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Doing {
    /// Its oldest open activity.
    Activity {
        /// The activity type.
        name: String,
        attempt: i32,
        /// Whether it waits out a retry backoff.
        backing_off: bool,
        others: usize,
    },
    /// Its oldest open child workflow.
    Child {
        /// The child's workflow type.
        name: String,
        others: usize,
    },
    /// Its soonest timer.
    Timer { fires_at: Timestamp, others: usize },
    /// A workflow task is queued or with a worker.
    WorkflowTask,
    /// Its work begins at `at`: a start delay, a cron fire or a retry's backoff.
    Starting { at: Timestamp },
    /// Nothing the run scheduled is open, so only a signal, an update or a cancellation
    /// from outside can move it.
    WaitingForInput,
}

impl From<&overview::Doing> for Doing {
    fn from(doing: &overview::Doing) -> Doing {
        match doing {
            overview::Doing::Activity {
                activity_type,
                attempt,
                backing_off,
                others,
            } => Doing::Activity {
                name: activity_type.clone(),
                attempt: *attempt,
                backing_off: *backing_off,
                others: *others,
            },
            overview::Doing::Child {
                workflow_type,
                others,
            } => Doing::Child {
                name: workflow_type.clone(),
                others: *others,
            },
            overview::Doing::Timer { fires_at, others } => Doing::Timer {
                fires_at: Timestamp(*fires_at),
                others: *others,
            },
            overview::Doing::Deciding => Doing::WorkflowTask,
            overview::Doing::Starting { at } => Doing::Starting { at: Timestamp(*at) },
            overview::Doing::WaitingForInput => Doing::WaitingForInput,
        }
    }
}

/// A `Summary` plus what the detail view shows.
#[derive(Serialize, ToSchema)]
pub struct ExecutionDetail {
    #[serde(flatten)]
    summary: Summary,
    /// When a worker first picked the run up; null until one has.
    started_time: Option<Timestamp>,
    /// From the first workflow task being due to a worker taking it; null until a worker
    /// has.
    queue_wait_ms: Option<Millis>,
    /// The workflow's input payloads; null when it has none.
    input: Option<Payloads>,
    /// The workflow's result payloads; null unless it completed.
    output: Option<Payloads>,
    /// How the run failed; null unless it failed.
    error: Option<Failure>,
    /// The run's memo, by key.
    memo: std::collections::BTreeMap<String, Payload>,
    /// The run's search attributes, by name.
    search_attributes: std::collections::BTreeMap<String, Payload>,
    /// Whether cancellation of the run has been requested.
    cancel_requested: bool,
    /// The run's activities with their attempts, in scheduling order.
    task_runs: Vec<TaskRun>,
    /// The child workflows the run started.
    children: Vec<Child>,
    pending: PendingWork,
    /// Why no worker has taken the run's task, while its phase is `pending`; else null.
    pending_reason: Option<PendingReason>,
}

impl From<&RunOverview> for ExecutionDetail {
    fn from(run: &RunOverview) -> ExecutionDetail {
        let execution = &run.execution;
        let overview = &run.overview;
        let task_runs: Vec<TaskRun> = overview.task_runs.iter().map(TaskRun::from).collect();
        ExecutionDetail {
            summary: Summary::from(&ExecutionSummary::of(execution)),
            started_time: execution.first_task_started_time.map(Timestamp),
            queue_wait_ms: execution.queue_wait().map(Millis),
            input: payloads(overview.input.as_ref()),
            output: payloads(overview.output.as_ref()),
            error: overview.error.as_ref().map(Failure::from),
            memo: memo(&execution.memo),
            search_attributes: search_attributes(&execution.search_attributes),
            cancel_requested: execution.cancel_requested,
            children: overview.children.iter().map(Child::from).collect(),
            pending: PendingWork {
                workflow_task: execution
                    .workflow_task
                    .as_ref()
                    .map(|task| WorkflowTaskPending {
                        state: if task.started.is_some() {
                            WorkflowTaskState::Started
                        } else {
                            WorkflowTaskState::Scheduled
                        },
                        attempt: task.attempt,
                        task_queue: task.task_queue.name.clone(),
                        scheduled_time: Timestamp(task.scheduled_time),
                        started_time: task.started.as_ref().map(|started| Timestamp(started.time)),
                        worker: task
                            .started
                            .as_ref()
                            .map(|started| started.identity.clone()),
                    }),
                activities: task_runs
                    .iter()
                    .filter(|task_run| !task_run.state.is_closed())
                    .cloned()
                    .collect(),
                timers: execution
                    .timers
                    .iter()
                    .map(|(timer_id, timer)| PendingTimer {
                        timer_id: timer_id.clone(),
                        fires_at: Timestamp(timer.fire_time),
                    })
                    .collect(),
            },
            task_runs,
            pending_reason: run.pending.as_ref().map(PendingReason::from),
        }
    }
}

/// What the run waits on now.
#[derive(Serialize, ToSchema)]
pub struct PendingWork {
    /// The pending workflow task, or null.
    workflow_task: Option<WorkflowTaskPending>,
    /// Activities not closed yet.
    activities: Vec<TaskRun>,
    /// Timers not fired yet.
    timers: Vec<PendingTimer>,
}

/// The run's workflow task that has not completed yet.
#[derive(Serialize, ToSchema)]
pub struct WorkflowTaskPending {
    state: WorkflowTaskState,
    /// The task's attempt, from 1.
    #[schema(minimum = 1)]
    attempt: i32,
    /// The task queue it waits on (the worker's sticky queue while one keeps the run).
    task_queue: String,
    /// When the task was scheduled.
    scheduled_time: Timestamp,
    /// When a worker took it; null until one has.
    started_time: Option<Timestamp>,
    /// The worker that took it; null until one has.
    worker: Option<String>,
}

/// Whether a worker has taken the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowTaskState {
    Scheduled,
    Started,
}

/// A timer of the run that has not fired yet.
#[derive(Serialize, ToSchema)]
#[schema(as = Timer)]
pub struct PendingTimer {
    /// The timer's id.
    timer_id: String,
    /// When the timer fires.
    fires_at: Timestamp,
}

/// What a running run is doing now, as its live stream shows it.
#[derive(Serialize, ToSchema)]
pub struct CurrentWork {
    /// The state of its workflow task; null when it has none.
    workflow_task: Option<WorkflowTaskState>,
    /// Its open activities.
    activities: Vec<CurrentActivity>,
}

/// An open activity of a running run.
#[derive(Serialize, ToSchema)]
pub struct CurrentActivity {
    activity_id: String,
    activity_type: String,
    state: CurrentActivityState,
    #[schema(minimum = 1)]
    attempt: i32,
    /// The worker running it; null unless started.
    worker: Option<String>,
}

/// Where an open activity is.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CurrentActivityState {
    Scheduled,
    Started,
    BackingOff,
}

impl From<&Execution> for CurrentWork {
    fn from(execution: &Execution) -> CurrentWork {
        CurrentWork {
            workflow_task: execution.workflow_task.as_ref().map(|task| {
                if task.started.is_some() {
                    WorkflowTaskState::Started
                } else {
                    WorkflowTaskState::Scheduled
                }
            }),
            activities: execution
                .activities
                .values()
                .map(|activity| {
                    let (state, worker) = match &activity.state {
                        ActivityState::Backoff => (CurrentActivityState::BackingOff, None),
                        ActivityState::Scheduled => (CurrentActivityState::Scheduled, None),
                        ActivityState::Started { identity, .. } => {
                            (CurrentActivityState::Started, Some(identity.clone()))
                        }
                    };
                    CurrentActivity {
                        activity_id: activity.scheduled.activity_id.clone(),
                        activity_type: activity.scheduled.activity_type.clone(),
                        state,
                        attempt: activity.attempt,
                        worker,
                    }
                })
                .collect(),
        }
    }
}

fn memo(memo: &BlobMap) -> std::collections::BTreeMap<String, Payload> {
    memo.iter()
        .map(|(name, blob)| (name.clone(), Payload(payload(blob))))
        .collect()
}

fn search_attributes(attributes: &SearchAttributes) -> std::collections::BTreeMap<String, Payload> {
    attributes
        .iter()
        .map(|(name, attribute)| (name.clone(), Payload(payload(&attribute.payload))))
        .collect()
}

/// An identity, or none when empty.
fn named(identity: &str) -> Option<String> {
    (!identity.is_empty()).then(|| identity.to_owned())
}

/// An activity of a run with its attempts.
#[derive(Clone, Serialize, ToSchema)]
pub struct TaskRun {
    /// The id of the activity's ActivityTaskScheduled event.
    scheduled_event_id: i64,
    /// The activity's id within the run.
    activity_id: String,
    activity_type: String,
    /// The task queue the activity is dispatched on.
    task_queue: String,
    state: TaskRunStatus,
    /// The current (or last) attempt, from 1.
    #[schema(minimum = 1)]
    attempt: i32,
    /// When the activity was scheduled.
    scheduled_time: Timestamp,
    /// When the current (or last) attempt started; null until one has.
    started_time: Option<Timestamp>,
    /// When the activity closed; null until it has.
    close_time: Option<Timestamp>,
    /// Start of the last attempt to close; null until it closed.
    duration_ms: Option<Millis>,
    /// Identity of the worker running (or that last ran) the activity; null if none has.
    worker: Option<String>,
    /// The activity's input payloads.
    input: Option<Payloads>,
    /// The activity's result payloads; null unless it completed.
    output: Option<Payloads>,
    /// How the activity failed for good; else null.
    error: Option<Failure>,
    /// The failure of the previous attempt, while retrying; else null.
    last_failure: Option<Failure>,
    /// The attempts before the current (or last) one, which Temporal's history does not
    /// keep.
    earlier_attempts: Vec<Attempt>,
}

impl From<&overview::TaskRun> for TaskRun {
    fn from(run: &overview::TaskRun) -> TaskRun {
        TaskRun {
            scheduled_event_id: run.scheduled_event_id,
            activity_id: run.activity_id.clone(),
            activity_type: run.activity_type.clone(),
            task_queue: run.task_queue.clone(),
            state: run.state.into(),
            attempt: run.attempt,
            scheduled_time: Timestamp(run.scheduled_time),
            started_time: run.started_time.map(Timestamp),
            close_time: run.close_time.map(Timestamp),
            duration_ms: run
                .started_time
                .zip(run.close_time)
                .map(|(start, close)| Millis(start.until(close))),
            worker: named(&run.worker),
            input: payloads(run.input.as_ref()),
            output: payloads(run.output.as_ref()),
            error: run.error.as_ref().map(Failure::from),
            last_failure: run.last_failure.as_ref().map(Failure::from),
            earlier_attempts: run.earlier_attempts.iter().map(Attempt::from).collect(),
        }
    }
}

/// Where an activity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskRunStatus {
    Scheduled,
    Running,
    BackingOff,
    Completed,
    Failed,
    TimedOut,
    Canceled,
}

impl TaskRunStatus {
    fn is_closed(self) -> bool {
        !matches!(
            self,
            TaskRunStatus::Scheduled | TaskRunStatus::Running | TaskRunStatus::BackingOff
        )
    }
}

impl From<TaskRunState> for TaskRunStatus {
    fn from(state: TaskRunState) -> TaskRunStatus {
        match state {
            TaskRunState::Scheduled => TaskRunStatus::Scheduled,
            TaskRunState::Running => TaskRunStatus::Running,
            TaskRunState::BackingOff => TaskRunStatus::BackingOff,
            TaskRunState::Completed => TaskRunStatus::Completed,
            TaskRunState::Failed => TaskRunStatus::Failed,
            TaskRunState::TimedOut => TaskRunStatus::TimedOut,
            TaskRunState::Canceled => TaskRunStatus::Canceled,
        }
    }
}

/// An attempt of an activity that ended and was retried.
#[derive(Clone, Serialize, ToSchema)]
pub struct Attempt {
    #[schema(minimum = 1)]
    attempt: i32,
    scheduled_time: Timestamp,
    /// Null when it timed out before a worker took it.
    started_time: Option<Timestamp>,
    end_time: Timestamp,
    /// When the next attempt went on the queue.
    retry_time: Timestamp,
    worker: Option<String>,
    failure: Failure,
}

impl From<&EndedAttempt> for Attempt {
    fn from(attempt: &EndedAttempt) -> Attempt {
        Attempt {
            attempt: attempt.attempt,
            scheduled_time: Timestamp(attempt.scheduled_time),
            started_time: attempt.started_time.map(Timestamp),
            end_time: Timestamp(attempt.end_time),
            retry_time: Timestamp(attempt.retry_time),
            worker: named(&attempt.worker),
            failure: Failure::from(&attempt.failure),
        }
    }
}

/// A child workflow a run started.
#[derive(Serialize, ToSchema)]
pub struct Child {
    /// The child's workflow id.
    workflow_id: String,
    /// The child's run id; null until it has started.
    run_id: Option<String>,
    /// The child's workflow type.
    workflow_type: String,
    state: ChildState,
}

impl From<&overview::ChildRun> for Child {
    fn from(child: &overview::ChildRun) -> Child {
        Child {
            workflow_id: child.workflow_id.clone(),
            run_id: child.run_id.clone(),
            workflow_type: child.workflow_type.clone(),
            state: child.state.into(),
        }
    }
}

/// Where a child workflow is.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChildState {
    Starting,
    StartFailed,
    Running,
    Completed,
    Failed,
    Canceled,
    TimedOut,
    Terminated,
}

impl From<ChildRunState> for ChildState {
    fn from(state: ChildRunState) -> ChildState {
        match state {
            ChildRunState::Starting => ChildState::Starting,
            ChildRunState::StartFailed => ChildState::StartFailed,
            ChildRunState::Running => ChildState::Running,
            ChildRunState::Completed => ChildState::Completed,
            ChildRunState::Failed => ChildState::Failed,
            ChildRunState::Canceled => ChildState::Canceled,
            ChildRunState::TimedOut => ChildState::TimedOut,
            ChildRunState::Terminated => ChildState::Terminated,
        }
    }
}

/// Why no worker has taken a pending run's task.
#[derive(Serialize, ToSchema)]
pub struct PendingReason {
    code: PendingCode,
    /// The reason in words, naming the queue.
    message: String,
    /// The queue the task waits on.
    task_queue: String,
    /// Since when it waits.
    waiting_since: Timestamp,
    /// For `queue_typo`: the queue of a similar name that workers poll; else null.
    similar_queue: Option<String>,
    /// For `no_worker`: the worker that polled the queue last and when (it may have
    /// exited: a worker whose connection closed stops counting at once), or null if none
    /// ever did.
    last_worker: Option<LastWorker>,
}

/// `no_worker`: no worker polls the task's queue lately; `workers_busy`: workers poll it
/// but all are busy; `queue_typo`: no worker polls it but one polls a queue of a similar
/// name.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PendingCode {
    NoWorker,
    WorkersBusy,
    QueueTypo,
}

/// The worker that polled a queue last.
#[derive(Serialize, ToSchema)]
pub struct LastWorker {
    identity: String,
    /// When it polled last.
    last_seen: Timestamp,
}

impl From<&keel_engine::operators::PendingReason> for PendingReason {
    fn from(reason: &keel_engine::operators::PendingReason) -> PendingReason {
        let (code, similar_queue) = match &reason.cause {
            PendingCause::NoWorker => (PendingCode::NoWorker, None),
            PendingCause::QueueTypo { similar_queue } => {
                (PendingCode::QueueTypo, Some(similar_queue.clone()))
            }
            PendingCause::WorkersBusy => (PendingCode::WorkersBusy, None),
        };
        PendingReason {
            code,
            message: reason.message.clone(),
            task_queue: reason.task_queue.clone(),
            waiting_since: Timestamp(reason.since),
            similar_queue,
            last_worker: reason.last_worker.as_ref().map(|worker| LastWorker {
                identity: worker.identity.clone(),
                last_seen: Timestamp(worker.last_access_time),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_read_back_in_any_case() {
        for status in [
            Status::Running,
            Status::Completed,
            Status::Failed,
            Status::Canceled,
            Status::Terminated,
            Status::ContinuedAsNew,
            Status::TimedOut,
        ] {
            let name = ExecutionStatus::from(status).name();
            assert_eq!(ExecutionStatus::parse(&name), Some(status), "{name}");
            assert_eq!(ExecutionStatus::parse(&name.to_uppercase()), Some(status));
        }
        assert_eq!(
            ExecutionStatus::name(ExecutionStatus::TimedOut),
            "timed_out"
        );
        assert_eq!(ExecutionStatus::parse("Cancelled"), Some(Status::Canceled));
        assert_eq!(ExecutionStatus::parse("done"), None);
    }
}
