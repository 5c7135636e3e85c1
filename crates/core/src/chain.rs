//! Chains: a run followed by the next run of the same workflow id. Three things start one,
//! as in Temporal:
//!
//! - a retry policy, when a run fails or times out (attempt + 1, after a backoff);
//! - a cron schedule, when a run closes and no retry follows (attempt 1, at the next fire);
//! - the workflow itself, with ContinueAsNewWorkflowExecution.
//!
//! The core decides that a next run follows and what it is (`NextRun`, pushed as
//! `Effect::StartNextRun`); the engine creates it in the same commit that closes this one,
//! with `Execution::start_next_run`. The execution timeout spans the whole chain; the run
//! timeout starts anew with each run.

use std::time::Duration;

use crate::command::ContinueAsNewSpec;
use crate::cron::CronSchedule;
use crate::event::{ContinuedAsNew, EventKind, Initiator, WorkflowStarted};
use crate::execution::Execution;
use crate::start::NewRun;
use crate::transition::{Effect, Outcome, Tx};
use crate::types::{Blob, ExecutionKey, Failure, RetryState, Status, Time};

/// The run that follows a closing one.
#[derive(Clone, Debug, PartialEq)]
pub struct NextRun {
    pub run_id: String,
    /// Its started event, complete.
    pub started: WorkflowStarted,
    /// How long it waits before its first workflow task.
    pub backoff: Duration,
}

impl Tx<'_> {
    /// Closing after `failure` (`None`: timed out): a retry if the policy allows one, else
    /// the cron schedule's next run. Answers the retry state and the next run's id (empty
    /// when none follows).
    pub(crate) fn follow_failed_run(&mut self, failure: Option<&Failure>) -> (RetryState, String) {
        match retry_delay(self.ex, failure, self.now) {
            Ok(backoff) => {
                let started = self.next_started(
                    Initiator::Retry,
                    self.ex.started.attempt + 1,
                    failure.cloned(),
                    self.ex.started.last_completion_result.clone(),
                );
                (RetryState::InProgress, self.push_next_run(started, backoff))
            }
            Err(state) => {
                let cron = self.follow_by_cron(failure.cloned(), None);
                (state, cron.unwrap_or_default())
            }
        }
    }

    /// Closing after success: the cron schedule's next run, if there is one. Answers its id.
    pub(crate) fn follow_completed_run(&mut self, result: Option<Blob>) -> String {
        self.follow_by_cron(None, result).unwrap_or_default()
    }

    fn follow_by_cron(
        &mut self,
        failure: Option<Failure>,
        last_completion_result: Option<Blob>,
    ) -> Option<String> {
        let next_fire = cron_backoff(&self.ex.started.cron_schedule, self.now)?;
        if self
            .ex
            .execution_expiration
            .is_some_and(|at| self.now.plus(next_fire) >= at)
        {
            return None;
        }
        // A failed cron run hands on the last good result, as Temporal does.
        let last_completion_result =
            last_completion_result.or_else(|| self.ex.started.last_completion_result.clone());
        let started =
            self.next_started(Initiator::CronSchedule, 1, failure, last_completion_result);
        Some(self.push_next_run(started, next_fire))
    }

    /// The workflow asked to continue as a new run: close this one as ContinuedAsNew.
    pub(crate) fn continue_as_new(&mut self, spec: ContinueAsNewSpec, completed_event_id: i64) {
        let prior = &self.ex.started;
        let or = |value: Duration, default: Duration| if value.is_zero() { default } else { value };
        let mut started = self.next_started(
            Initiator::Workflow,
            1,
            spec.failure.clone(),
            spec.last_completion_result.clone(),
        );
        if !spec.workflow_type.is_empty() {
            started.workflow_type = spec.workflow_type;
        }
        if !spec.task_queue.is_empty() {
            started.task_queue = spec.task_queue;
        }
        started.input = spec.input;
        started.workflow_run_timeout = or(spec.workflow_run_timeout, prior.workflow_run_timeout);
        if !started.workflow_execution_timeout.is_zero() {
            started.workflow_run_timeout = started
                .workflow_run_timeout
                .min(started.workflow_execution_timeout);
        }
        started.workflow_task_timeout = or(spec.workflow_task_timeout, prior.workflow_task_timeout);
        if let Some(header) = spec.header {
            started.header = header;
        }
        if let Some(memo) = spec.memo {
            started.memo = memo;
        }
        if let Some(search_attributes) = spec.search_attributes {
            started.search_attributes = crate::search::only_set(search_attributes);
        }
        if let Some(policy) = spec.retry_policy {
            started.retry_policy = Some(crate::commands::default_retry_policy(Some(policy)));
        }
        let event = ContinuedAsNew {
            new_execution_run_id: self.ex.next_run_id.clone(),
            workflow_type: started.workflow_type.clone(),
            task_queue: started.task_queue.clone(),
            input: started.input.clone(),
            workflow_run_timeout: started.workflow_run_timeout,
            workflow_task_timeout: started.workflow_task_timeout,
            workflow_task_completed_event_id: completed_event_id,
            backoff_start_interval: spec.backoff_start_interval,
            initiator: Initiator::Workflow,
            failure: spec.failure,
            last_completion_result: spec.last_completion_result,
            header: started.header.clone(),
            memo: started.memo.clone(),
            search_attributes: started.search_attributes.clone(),
        };
        self.push_next_run(started, spec.backoff_start_interval);
        self.close(
            Status::ContinuedAsNew,
            EventKind::WorkflowExecutionContinuedAsNew(Box::new(event)),
        );
    }

    /// What the next run starts with: this run's definition, the chain's identity, and what
    /// it is told of its predecessor. Memo and search attributes are the current ones.
    fn next_started(
        &self,
        initiator: Initiator,
        attempt: i32,
        continued_failure: Option<Failure>,
        last_completion_result: Option<Blob>,
    ) -> WorkflowStarted {
        WorkflowStarted {
            original_execution_run_id: self.ex.next_run_id.clone(),
            attempt,
            continued_execution_run_id: self.ex.key.run_id.clone(),
            initiator: Some(initiator),
            continued_failure,
            last_completion_result,
            identity: String::new(),
            memo: self.ex.memo.clone(),
            search_attributes: self.ex.search_attributes.clone(),
            ..self.ex.started.clone()
        }
    }

    fn push_next_run(&mut self, mut started: WorkflowStarted, backoff: Duration) -> String {
        let run_id = self.ex.next_run_id.clone();
        debug_assert!(!run_id.is_empty(), "every run knows its successor's id");
        started.first_workflow_task_backoff = backoff;
        self.out
            .effects
            .push(Effect::StartNextRun(Box::new(NextRun {
                run_id: run_id.clone(),
                started,
                backoff,
            })));
        run_id
    }
}

/// How long until the schedule's next fire after `now`; `None` without a (valid) schedule.
pub(crate) fn cron_backoff(schedule: &str, now: Time) -> Option<Duration> {
    if schedule.is_empty() {
        return None;
    }
    let next = CronSchedule::parse(schedule).ok()?.next_after(now)?;
    Some(now.until(next))
}

fn retry_delay(
    ex: &Execution,
    failure: Option<&Failure>,
    now: Time,
) -> Result<Duration, RetryState> {
    let Some(policy) = &ex.started.retry_policy else {
        return Err(RetryState::RetryPolicyNotSet);
    };
    if ex.next_run_id.is_empty() {
        debug_assert!(false, "a run with a retry policy must know its next run id");
        return Err(RetryState::InternalServerError);
    }
    if let Some(failure) = failure
        && (failure.is_non_retryable()
            || failure
                .type_name()
                .is_some_and(|name| policy.non_retryable_error_types.iter().any(|t| t == name)))
    {
        return Err(RetryState::NonRetryableFailure);
    }
    if policy.maximum_attempts > 0 && ex.started.attempt >= policy.maximum_attempts {
        return Err(RetryState::MaximumAttemptsReached);
    }
    let delay = crate::activity::backoff(policy, ex.started.attempt);
    if ex
        .execution_expiration
        .is_some_and(|at| now.plus(delay) >= at)
    {
        return Err(RetryState::Timeout);
    }
    Ok(delay)
}

impl Execution {
    /// The run that follows `previous` as `next` says, waiting out its backoff before its
    /// first workflow task. `next_run_id` is the id this run's own successor will get.
    pub fn start_next_run(
        previous: &Execution,
        next: &NextRun,
        next_run_id: String,
        now: Time,
    ) -> (Execution, Outcome) {
        let key = ExecutionKey {
            run_id: next.run_id.clone(),
            ..previous.key.clone()
        };
        let started = next.started.clone();
        let first_task_at = now.plus(next.backoff);
        let run_timeout = started.workflow_run_timeout;
        let mut execution = Execution::new_run(
            key,
            started.clone(),
            now,
            NewRun {
                start_request_id: String::new(),
                run_expiration: (!run_timeout.is_zero()).then(|| first_task_at.plus(run_timeout)),
                execution_expiration: previous.execution_expiration,
                next_run_id,
                first_workflow_task_at: (!next.backoff.is_zero()).then_some(first_task_at),
            },
        );
        execution.parent = previous.parent.clone();
        let mut tx = Tx::new(&mut execution, now);
        tx.append(EventKind::WorkflowExecutionStarted(Box::new(started)));
        tx.schedule_workflow_task();
        let outcome = tx.finish();
        (execution, outcome)
    }
}
