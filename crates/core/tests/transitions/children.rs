//! Child workflows: started and closed as the parent sees them, parent-close policies, and
//! the notice a child's chain sends its parent when it ends.

use keel_core::event::{ChildOutcome, EventKind, ParentClosePolicy};
use keel_core::{Command, Effect, ExecutionKey, ParentStart, StartParams};

use crate::harness::*;

#[test]
fn a_child_started_and_closed_while_the_parent_works_refers_to_the_right_events() {
    let mut h = started_with(vec![child_command("kid", ParentClosePolicy::Terminate)]);
    let initiated = h.last("StartChildWorkflowExecutionInitiated");
    assert!(h.effects.contains(&Effect::StartChild {
        initiated_event_id: initiated
    }));
    match h.event(initiated) {
        EventKind::StartChildWorkflowExecutionInitiated(child) => {
            assert_eq!(child.namespace, "default", "the parent's namespace");
            assert_eq!(child.task_queue, "tq", "the parent's queue");
        }
        other => panic!("{other:?}"),
    }
    // Both news arrive while a workflow task runs: buffered, then numbered on flush.
    h.apply(|ex, now| unit(ex.signal(signal("wake", ""), now)))
        .unwrap();
    h.take_workflow_task();
    h.apply(|ex, now| unit(ex.child_started(initiated, "kid-run", now)))
        .unwrap();
    let done = ChildOutcome::Completed { result: blob("ok") };
    h.apply(|ex, now| unit(ex.child_closed(initiated, "kid-run", done.clone(), now)))
        .unwrap();
    not_found(h.apply(|ex, now| unit(ex.child_started(initiated, "kid-run", now))));
    not_found(h.apply(|ex, now| unit(ex.child_closed(initiated, "kid-run", done, now))));
    h.complete(vec![]);
    let started = h.last("ChildWorkflowExecutionStarted");
    match h.event(h.last("ChildWorkflowExecutionCompleted")) {
        EventKind::ChildWorkflowExecutionClosed {
            initiated_event_id,
            started_event_id,
            execution,
            ..
        } => {
            assert_eq!(*initiated_event_id, initiated);
            assert_eq!(*started_event_id, started);
            assert_eq!(execution.run_id, "kid-run");
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ex.children.is_empty());
}

#[test]
fn a_closing_parent_hands_running_children_to_their_policies() {
    let mut h = started_with(vec![
        child_command("terminated", ParentClosePolicy::Terminate),
        child_command("cancelled", ParentClosePolicy::RequestCancel),
        child_command("abandoned", ParentClosePolicy::Abandon),
    ]);
    let first = h.last("StartChildWorkflowExecutionInitiated") - 2;
    h.apply(|ex, now| unit(ex.child_started(first, "t-run", now)))
        .unwrap();
    h.take_workflow_task();
    h.complete(vec![complete_workflow()]);
    let actions = h
        .effects
        .iter()
        .find_map(|effect| match effect {
            Effect::ApplyParentClosePolicies(actions) => Some(actions.clone()),
            _ => None,
        })
        .expect("policies to apply");
    let named: Vec<(&str, &str, ParentClosePolicy)> = actions
        .iter()
        .map(|a| {
            (
                a.child.workflow_id.as_str(),
                a.child.run_id.as_str(),
                a.policy,
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            ("terminated", "t-run", ParentClosePolicy::Terminate),
            ("cancelled", "", ParentClosePolicy::RequestCancel)
        ]
    );
}

#[test]
fn a_child_tells_its_parent_only_when_its_chain_ends() {
    let parent_key = ExecutionKey {
        namespace: "default".into(),
        workflow_id: "parent".into(),
        run_id: "parent-run".into(),
    };
    let mut h = Harness::start_with(StartParams {
        next_run_id: "run-2".into(),
        parent: Some(ParentStart {
            parent: keel_core::children::Parent {
                key: parent_key.clone(),
                initiated_event_id: 5,
                close_policy: ParentClosePolicy::Terminate,
            },
            root: parent_key.clone(),
        }),
        ..params()
    });
    h.take_workflow_task();
    h.complete(vec![Command::ContinueAsNew(Box::default())]);
    assert!(
        !h.effects
            .iter()
            .any(|e| matches!(e, Effect::NotifyParent(_))),
        "the next run carries on"
    );
    let mut next = follow(&h, "run-3");
    assert_eq!(
        next.ex.parent, h.ex.parent,
        "the parent link passes down the chain"
    );
    next.take_workflow_task();
    next.complete(vec![complete_workflow()]);
    let notice = next
        .effects
        .iter()
        .find_map(|effect| match effect {
            Effect::NotifyParent(notice) => Some(notice.clone()),
            _ => None,
        })
        .expect("the parent is told");
    assert_eq!(notice.parent, parent_key);
    assert_eq!(notice.initiated_event_id, 5);
    assert_eq!(
        notice.child.run_id, "run-1",
        "named by the chain's first run"
    );
    assert!(matches!(notice.outcome, ChildOutcome::Completed { .. }));
}
