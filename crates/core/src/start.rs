//! Starting a run: validation, defaults, and its first events.

use std::time::Duration;

use crate::Rejection;
use crate::commands::{default_retry_policy, validate_retry_policy};
use crate::event::{EventKind, WorkflowStarted};
use crate::execution::Execution;
use crate::requests::Signal;
use crate::search::SearchAttributes;
use crate::transition::{Outcome, Tx};
use crate::types::{Blob, BlobMap, ExecutionKey, Failure, RetryPolicy, Status, Time};

const MAX_ID_LENGTH: usize = 1000;

/// StartWorkflowExecution as the core needs it; zero durations mean "not set".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StartParams {
    pub workflow_type: String,
    pub task_queue: String,
    pub input: Option<Blob>,
    pub workflow_execution_timeout: Duration,
    pub workflow_run_timeout: Duration,
    pub workflow_task_timeout: Duration,
    pub identity: String,
    pub request_id: String,
    pub memo: BlobMap,
    pub search_attributes: SearchAttributes,
    pub header: BlobMap,
    pub retry_policy: Option<RetryPolicy>,
    pub cron_schedule: String,
    /// The id a retry of this run will get (see `Execution::next_run_id`).
    pub next_run_id: String,
    /// Set when a parent workflow starts this one as its child.
    pub parent: Option<ParentStart>,
}

/// What a start may add to its parameters, none of it kept beyond the run's first event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartOptions {
    /// SignalWithStart's signal, recorded before the first workflow task so the workflow
    /// sees it at once.
    pub signal: Option<Signal>,
    /// Holds the first workflow task back (Temporal's WorkflowStartDelay); nothing arriving
    /// meanwhile brings it forward, as on Temporal's server.
    pub start_delay: Duration,
    /// The failure of the run this one follows (a schedule's last failed run).
    pub continued_failure: Option<Failure>,
    /// The result of the last run that completed (a schedule's, a cron's).
    pub last_completion_result: Option<Blob>,
}

/// The parent of a child workflow being started.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParentStart {
    pub parent: crate::children::Parent,
    /// The first workflow of the tree the parent belongs to.
    pub root: ExecutionKey,
}

impl StartParams {
    /// Refuses what Temporal refuses, with its wording where it has one.
    pub fn validate(&self, workflow_id: &str) -> Result<(), Rejection> {
        let invalid = |message: &str| Err(Rejection::InvalidArgument(message.to_owned()));
        if workflow_id.is_empty() {
            return invalid("WorkflowId is not set on request.");
        }
        if workflow_id.len() > MAX_ID_LENGTH {
            return invalid("WorkflowId exceeds length limit.");
        }
        if self.workflow_type.is_empty() {
            return invalid("WorkflowType is not set on request.");
        }
        if self.workflow_type.len() > MAX_ID_LENGTH {
            return invalid("WorkflowType exceeds length limit.");
        }
        if self.task_queue.is_empty() {
            return invalid("TaskQueue is not set on request.");
        }
        if self.task_queue.len() > MAX_ID_LENGTH {
            return invalid("TaskQueue exceeds length limit.");
        }
        if self.request_id.len() > MAX_ID_LENGTH {
            return invalid("RequestId exceeds length limit.");
        }
        if !self.cron_schedule.is_empty() {
            crate::cron::CronSchedule::parse(&self.cron_schedule)
                .map_err(Rejection::InvalidArgument)?;
        }
        if let Some(policy) = &self.retry_policy {
            // As Temporal: unset fields take their defaults before the checks.
            validate_retry_policy(&default_retry_policy(Some(policy.clone())))
                .map_err(Rejection::InvalidArgument)?;
        }
        Ok(())
    }
}

/// What differs between the ways a run begins (a start, a retry).
pub(crate) struct NewRun {
    pub start_request_id: String,
    pub run_expiration: Option<Time>,
    pub execution_expiration: Option<Time>,
    pub next_run_id: String,
    pub first_workflow_task_at: Option<Time>,
}

impl Execution {
    /// The state of a run that has only just begun, before its first event.
    pub(crate) fn new_run(
        key: ExecutionKey,
        started: WorkflowStarted,
        now: Time,
        run: NewRun,
    ) -> Execution {
        Execution {
            key,
            status: Status::Running,
            version: 0,
            next_event_id: 1,
            start_time: now,
            close_time: None,
            start_request_id: run.start_request_id,
            memo: started.memo.clone(),
            search_attributes: started.search_attributes.clone(),
            run_expiration: run.run_expiration,
            execution_expiration: run.execution_expiration,
            started,
            workflow_task: None,
            previous_started_event_id: 0,
            stickiness: None,
            activities: Default::default(),
            timers: Default::default(),
            buffered: Vec::new(),
            last_worker_identity: String::new(),
            next_run_id: run.next_run_id,
            first_workflow_task_at: run.first_workflow_task_at,
            cancel_requested: false,
            signal_request_ids: Default::default(),
            external_requests: Default::default(),
            children: Default::default(),
            parent: None,
            updates: Default::default(),
            history_size_bytes: 0,
            first_task_started_time: None,
        }
    }

    /// A new run with its first two events: started, and the first workflow task.
    pub fn start(
        key: ExecutionKey,
        params: StartParams,
        now: Time,
    ) -> Result<(Execution, Outcome), Rejection> {
        Execution::start_with(key, params, StartOptions::default(), now)
    }

    /// A new run, with what [`StartOptions`] adds to the request's parameters.
    pub fn start_with(
        key: ExecutionKey,
        params: StartParams,
        options: StartOptions,
        now: Time,
    ) -> Result<(Execution, Outcome), Rejection> {
        let StartOptions {
            signal,
            start_delay,
            continued_failure,
            last_completion_result,
        } = options;
        params.validate(&key.workflow_id)?;
        if !start_delay.is_zero() && !params.cron_schedule.is_empty() {
            return Err(Rejection::InvalidArgument(
                "CronSchedule and WorkflowStartDelay may not be used together.".into(),
            ));
        }
        let execution_timeout = params.workflow_execution_timeout;
        let mut run_timeout = params.workflow_run_timeout;
        if run_timeout.is_zero()
            || (!execution_timeout.is_zero() && run_timeout > execution_timeout)
        {
            run_timeout = execution_timeout;
        }
        let mut task_timeout = params.workflow_task_timeout;
        if task_timeout.is_zero() {
            task_timeout = crate::transition::default_workflow_task_timeout();
        }
        if !run_timeout.is_zero() {
            task_timeout = task_timeout.min(run_timeout);
        }
        let execution_expiration =
            (!execution_timeout.is_zero()).then(|| now.plus(execution_timeout));
        // A cron workflow's first run waits for the schedule's first fire.
        let backoff = crate::chain::cron_backoff(&params.cron_schedule, now)
            .unwrap_or_default()
            .max(start_delay);
        let first_task_at = now.plus(backoff);
        let started = WorkflowStarted {
            workflow_type: params.workflow_type,
            task_queue: params.task_queue,
            input: params.input,
            workflow_execution_timeout: execution_timeout,
            workflow_run_timeout: run_timeout,
            workflow_task_timeout: task_timeout,
            identity: params.identity,
            original_execution_run_id: key.run_id.clone(),
            first_execution_run_id: key.run_id.clone(),
            attempt: 1,
            execution_expiration_time: execution_expiration,
            memo: params.memo,
            search_attributes: crate::search::only_set(params.search_attributes),
            header: params.header,
            retry_policy: params
                .retry_policy
                .map(|policy| default_retry_policy(Some(policy))),
            cron_schedule: params.cron_schedule,
            continued_execution_run_id: String::new(),
            initiator: None,
            continued_failure,
            first_workflow_task_backoff: backoff,
            last_completion_result,
            parent: params.parent.as_ref().map(|p| crate::event::ParentRef {
                execution: p.parent.key.clone(),
                initiated_event_id: p.parent.initiated_event_id,
                root: p.root.clone(),
            }),
        };
        let mut execution = Execution::new_run(
            key,
            started.clone(),
            now,
            NewRun {
                start_request_id: params.request_id,
                run_expiration: (!run_timeout.is_zero()).then(|| first_task_at.plus(run_timeout)),
                execution_expiration,
                next_run_id: params.next_run_id,
                first_workflow_task_at: (!backoff.is_zero()).then_some(first_task_at),
            },
        );
        execution.parent = params.parent.map(|p| p.parent);
        let mut tx = Tx::new(&mut execution, now);
        tx.append(EventKind::WorkflowExecutionStarted(Box::new(started)));
        if let Some(signal) = signal {
            tx.signal(signal);
        }
        tx.schedule_workflow_task();
        let outcome = tx.finish();
        Ok((execution, outcome))
    }
}
