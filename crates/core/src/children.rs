//! Child workflows: a parent starts them with a command, hears of their start and of how
//! their chain ended, and decides their fate when it closes first.
//!
//! Like requests to other executions (`requests.rs`), every step is recorded before the
//! engine acts on it, and every step the engine reports back is idempotent on this side:
//! a child already known started, or already closed, is refused with NotFound.

use serde::{Deserialize, Serialize};

use crate::Rejection;
use crate::event::{ChildInitiated, ChildOutcome, EventKind, ParentClosePolicy};
use crate::execution::Execution;
use crate::transition::{Effect, Outcome, Tx};
use crate::types::ExecutionKey;

/// A child as its parent keeps track of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Child {
    pub initiated: ChildInitiated,
    /// Known once the child's first run exists.
    pub started: Option<StartedChild>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartedChild {
    pub run_id: String,
    /// Its ChildWorkflowExecutionStarted event; unassigned while that event is buffered.
    pub started_event_id: i64,
}

/// A child run's parent, as the child keeps it (every run of the child's chain).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Parent {
    pub key: ExecutionKey,
    pub initiated_event_id: i64,
    pub close_policy: ParentClosePolicy,
}

/// What a child whose chain ended tells its parent.
#[derive(Clone, Debug, PartialEq)]
pub struct ParentNotice {
    pub parent: ExecutionKey,
    pub initiated_event_id: i64,
    /// The child, named by its chain's first run (as the parent's events name it).
    pub child: ExecutionKey,
    pub workflow_type: String,
    pub outcome: ChildOutcome,
}

/// What a closing parent does to a child still running.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosePolicyAction {
    /// The child's workflow id, with its first run's id (the engine follows its chain).
    pub child: ExecutionKey,
    pub policy: ParentClosePolicy,
}

/// Temporal's StartChildWorkflowExecutionFailedCause codes.
pub mod start_child_failed_cause {
    pub const WORKFLOW_ALREADY_EXISTS: i32 = 1;
    pub const NAMESPACE_NOT_FOUND: i32 = 2;
}

fn no_such_child(initiated_event_id: i64) -> Rejection {
    Rejection::NotFound(format!(
        "no pending child workflow was initiated by event {initiated_event_id}"
    ))
}

impl Execution {
    /// The child's first run exists: the parent's code may go on.
    pub fn child_started(
        &mut self,
        initiated_event_id: i64,
        run_id: &str,
        now: crate::types::Time,
    ) -> Result<Outcome, Rejection> {
        if !self.is_running() {
            return Err(crate::requests::already_completed());
        }
        match self.children.get(&initiated_event_id) {
            Some(child) if child.started.is_none() => {}
            _ => return Err(no_such_child(initiated_event_id)),
        }
        let mut tx = Tx::new(self, now);
        tx.record_child_started(initiated_event_id, run_id);
        Ok(tx.finish())
    }

    /// The child could not be started (`cause`: `start_child_failed_cause`).
    pub fn child_start_failed(
        &mut self,
        initiated_event_id: i64,
        cause: i32,
        now: crate::types::Time,
    ) -> Result<Outcome, Rejection> {
        if !self.is_running() {
            return Err(crate::requests::already_completed());
        }
        let initiated = match self.children.get(&initiated_event_id) {
            Some(child) if child.started.is_none() => child.initiated.clone(),
            _ => return Err(no_such_child(initiated_event_id)),
        };
        let mut tx = Tx::new(self, now);
        tx.ex.children.remove(&initiated_event_id);
        tx.add_workflow_event(EventKind::StartChildWorkflowExecutionFailed {
            namespace: initiated.namespace,
            workflow_id: initiated.workflow_id,
            workflow_type: initiated.workflow_type,
            cause,
            control: initiated.control,
            initiated_event_id,
            workflow_task_completed_event_id: initiated.workflow_task_completed_event_id,
        });
        Ok(tx.finish())
    }

    /// The child's chain ended. Should the news of its start not have arrived yet, it is
    /// recorded first (`first_run_id`).
    pub fn child_closed(
        &mut self,
        initiated_event_id: i64,
        first_run_id: &str,
        outcome: ChildOutcome,
        now: crate::types::Time,
    ) -> Result<Outcome, Rejection> {
        if !self.is_running() {
            return Err(crate::requests::already_completed());
        }
        if !self.children.contains_key(&initiated_event_id) {
            return Err(no_such_child(initiated_event_id));
        }
        let mut tx = Tx::new(self, now);
        if tx.ex.children[&initiated_event_id].started.is_none() {
            tx.record_child_started(initiated_event_id, first_run_id);
        }
        let child = tx
            .ex
            .children
            .remove(&initiated_event_id)
            .expect("checked above");
        let started = child.started.expect("recorded above");
        tx.add_workflow_event(EventKind::ChildWorkflowExecutionClosed {
            initiated_event_id,
            started_event_id: started.started_event_id,
            execution: ExecutionKey {
                namespace: child.initiated.namespace,
                workflow_id: child.initiated.workflow_id,
                run_id: started.run_id,
            },
            workflow_type: child.initiated.workflow_type,
            outcome,
        });
        Ok(tx.finish())
    }
}

impl Tx<'_> {
    pub(crate) fn start_child(&mut self, mut initiated: ChildInitiated, completed_event_id: i64) {
        if initiated.namespace.is_empty() {
            initiated.namespace = self.ex.key.namespace.clone();
        }
        if initiated.task_queue.is_empty() {
            initiated.task_queue = self.ex.started.task_queue.clone();
        }
        initiated.workflow_task_completed_event_id = completed_event_id;
        let initiated_event_id = self.append(EventKind::StartChildWorkflowExecutionInitiated(
            Box::new(initiated.clone()),
        ));
        self.ex.children.insert(
            initiated_event_id,
            Child {
                initiated,
                started: None,
            },
        );
        self.out
            .effects
            .push(Effect::StartChild { initiated_event_id });
    }

    fn record_child_started(&mut self, initiated_event_id: i64, run_id: &str) {
        let child = &self.ex.children[&initiated_event_id];
        let kind = EventKind::ChildWorkflowExecutionStarted {
            initiated_event_id,
            execution: ExecutionKey {
                namespace: child.initiated.namespace.clone(),
                workflow_id: child.initiated.workflow_id.clone(),
                run_id: run_id.to_owned(),
            },
            workflow_type: child.initiated.workflow_type.clone(),
            header: child.initiated.header.clone(),
        };
        // Its id is known now unless a workflow task runs (then it is assigned on flush).
        let started_event_id = if self.workflow_task_running() {
            crate::event::UNASSIGNED_EVENT_ID
        } else {
            self.ex.next_event_id
        };
        self.add_workflow_event(kind);
        if let Some(child) = self.ex.children.get_mut(&initiated_event_id) {
            child.started = Some(StartedChild {
                run_id: run_id.to_owned(),
                started_event_id,
            });
        }
    }

    /// At close: a child run tells its parent how its chain ended (unless a next run carries
    /// the chain on), and a parent hands its running children to their close policies.
    pub(crate) fn close_family(&mut self, outcome: Option<ChildOutcome>) {
        let continues = self
            .out
            .effects
            .iter()
            .any(|effect| matches!(effect, Effect::StartNextRun(_)));
        if let (Some(parent), Some(outcome), false) = (&self.ex.parent, outcome, continues) {
            self.out
                .effects
                .push(Effect::NotifyParent(Box::new(ParentNotice {
                    parent: parent.key.clone(),
                    initiated_event_id: parent.initiated_event_id,
                    child: ExecutionKey {
                        run_id: self.ex.started.first_execution_run_id.clone(),
                        ..self.ex.key.clone()
                    },
                    workflow_type: self.ex.started.workflow_type.clone(),
                    outcome,
                })));
        }
        let children = std::mem::take(&mut self.ex.children);
        let actions: Vec<ClosePolicyAction> = children
            .into_values()
            .filter(|child| child.initiated.parent_close_policy != ParentClosePolicy::Abandon)
            .map(|child| ClosePolicyAction {
                child: ExecutionKey {
                    namespace: child.initiated.namespace,
                    workflow_id: child.initiated.workflow_id,
                    run_id: child.started.map(|s| s.run_id).unwrap_or_default(),
                },
                policy: child.initiated.parent_close_policy,
            })
            .collect();
        if !actions.is_empty() {
            self.out
                .effects
                .push(Effect::ApplyParentClosePolicies(actions));
        }
    }
}
