//! Workflow retry policies: a run that fails or runs out of time is followed by a new run of
//! the same workflow id, as Temporal does, after a backoff.

use std::time::Duration;

use crate::event::{EventKind, Initiator, WorkflowStarted};
use crate::execution::Execution;
use crate::start::NewRun;
use crate::transition::{Effect, Outcome, RetryRun, Tx};
use crate::types::{ExecutionKey, Failure, RetryState, Time};

impl Tx<'_> {
    /// Whether the run is retried after `failure` (`None`: it timed out), and how; pushes the
    /// effect that creates the next run when it is.
    pub(crate) fn retry_workflow(&mut self, failure: Option<&Failure>) -> (RetryState, String) {
        match retry_delay(self.ex, failure, self.now) {
            Ok(backoff) => {
                let run_id = self.ex.next_run_id.clone();
                self.out.effects.push(Effect::StartRetry(RetryRun {
                    run_id: run_id.clone(),
                    failure: failure.cloned(),
                    backoff,
                }));
                (RetryState::InProgress, run_id)
            }
            Err(state) => (state, String::new()),
        }
    }
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
    /// The run that retries `previous`: the same workflow, the next attempt, waiting out the
    /// backoff before its first workflow task. The execution timeout still counts from the
    /// first run; the run timeout starts anew. `next_run_id` is the id this run's own retry
    /// would get.
    pub fn start_retry(
        previous: &Execution,
        retry: &RetryRun,
        next_run_id: String,
        now: Time,
    ) -> (Execution, Outcome) {
        let key = ExecutionKey {
            run_id: retry.run_id.clone(),
            ..previous.key.clone()
        };
        let prior = &previous.started;
        let started = WorkflowStarted {
            original_execution_run_id: key.run_id.clone(),
            attempt: prior.attempt + 1,
            continued_execution_run_id: previous.key.run_id.clone(),
            initiator: Some(Initiator::Retry),
            continued_failure: retry.failure.clone(),
            first_workflow_task_backoff: retry.backoff,
            identity: String::new(),
            ..prior.clone()
        };
        let first_task_at = now.plus(retry.backoff);
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
                first_workflow_task_at: (!retry.backoff.is_zero()).then_some(first_task_at),
            },
        );
        let mut tx = Tx::new(&mut execution, now);
        tx.append(EventKind::WorkflowExecutionStarted(Box::new(started)));
        if retry.backoff.is_zero() {
            tx.schedule_workflow_task();
        }
        let outcome = tx.finish();
        (execution, outcome)
    }
}
