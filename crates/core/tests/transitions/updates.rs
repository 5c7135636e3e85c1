//! Workflow updates: admitted, carried to the worker, then accepted and completed or
//! rejected through the messages of a workflow task completion.

use keel_core::event::EventKind;
use keel_core::transition::failed_cause;
use keel_core::updates::UpdateMessage;
use keel_core::{Blob, Completion};

use crate::harness::*;

fn accept(update_id: &str) -> (String, UpdateMessage) {
    (
        format!("{update_id}/accept"),
        UpdateMessage::Accept {
            update_id: update_id.into(),
            message_id: format!("{update_id}/request"),
            sequencing_event_id: 1,
            request: Blob(b"request".to_vec()),
        },
    )
}

fn respond(update_id: &str) -> (String, UpdateMessage) {
    (
        format!("{update_id}/respond"),
        UpdateMessage::Respond {
            update_id: update_id.into(),
            identity: WORKER.into(),
            outcome: Blob(b"outcome".to_vec()),
        },
    )
}

#[test]
fn an_update_is_carried_to_the_worker_then_accepted_and_completed_in_history() {
    let mut h = started_with(vec![]);
    h.apply(|ex, now| unit(ex.admit_update("u1", Blob(b"request".to_vec()), now)))
        .unwrap();
    assert_eq!(h.ex.admitted_updates().len(), 1);
    // Admitting the same id again changes nothing.
    h.apply(|ex, now| unit(ex.admit_update("u1", Blob(b"other".to_vec()), now)))
        .unwrap();
    h.take_workflow_task();
    let result = h.complete_with(Completion {
        messages: vec![accept("u1"), respond("u1")],
        ..completion()
    });
    assert!(result.rejected_updates.is_empty());
    let accepted = h.last("WorkflowExecutionUpdateAccepted");
    match h.event(h.last("WorkflowExecutionUpdateCompleted")) {
        EventKind::WorkflowExecutionUpdateCompleted {
            update_id,
            accepted_event_id,
            ..
        } => {
            assert_eq!(update_id, "u1");
            assert_eq!(*accepted_event_id, accepted);
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ex.admitted_updates().is_empty());
    assert!(
        h.ex.workflow_task.is_none(),
        "nothing left for the workflow to do"
    );
}

#[test]
fn a_rejected_update_leaves_no_update_events_and_its_outcome_goes_to_the_caller() {
    let mut h = started_with(vec![]);
    h.apply(|ex, now| unit(ex.admit_update("u1", Blob(b"request".to_vec()), now)))
        .unwrap();
    h.take_workflow_task();
    let result = h.complete_with(Completion {
        messages: vec![(
            "u1/reject".into(),
            UpdateMessage::Reject {
                update_id: "u1".into(),
                outcome: Blob(b"refused".to_vec()),
            },
        )],
        ..completion()
    });
    assert_eq!(
        result.rejected_updates,
        [("u1".to_owned(), Blob(b"refused".to_vec()))]
    );
    assert!(
        !h.history()
            .iter()
            .any(|name| name.starts_with("WorkflowExecutionUpdate"))
    );
    assert!(h.ex.updates.is_empty(), "the id may be used again");
}

#[test]
fn update_messages_must_follow_the_update_lifecycle() {
    let mut h = started_with(vec![]);
    h.apply(|ex, now| unit(ex.admit_update("u1", Blob(b"request".to_vec()), now)))
        .unwrap();
    let task = h.take_workflow_task();
    let refused = h
        .respond(
            task,
            Completion {
                messages: vec![respond("u1")],
                ..completion()
            },
        )
        .unwrap();
    assert!(refused.command_error.unwrap().contains("admitted"));
    match h.event(h.last("WorkflowTaskFailed")) {
        EventKind::WorkflowTaskFailed { cause, .. } => {
            assert_eq!(*cause, failed_cause::BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE)
        }
        other => panic!("{other:?}"),
    }
    let task = h.take_workflow_task();
    let unknown = h
        .respond(
            task,
            Completion {
                messages: vec![accept("nobody")],
                ..completion()
            },
        )
        .unwrap();
    assert!(unknown.command_error.unwrap().contains("not known"));
}

#[test]
fn an_update_arriving_during_a_workflow_task_keeps_the_workflow_from_closing_unseen() {
    let mut h = started_with(vec![]);
    h.apply(|ex, now| unit(ex.signal(signal("wake", ""), now)))
        .unwrap();
    h.take_workflow_task();
    h.apply(|ex, now| unit(ex.admit_update("late", Blob(b"request".to_vec()), now)))
        .unwrap();
    let refused = h.complete(vec![complete_workflow()]);
    assert!(refused.command_error.unwrap().contains("unhandled updates"));
    match h.event(h.last("WorkflowTaskFailed")) {
        EventKind::WorkflowTaskFailed { cause, .. } => {
            assert_eq!(*cause, failed_cause::UNHANDLED_UPDATE)
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ex.is_running());
}

/// As on Temporal, continuing as new is not held back by an update that arrived during the
/// workflow task: the run continues, the update stays admitted in it (its caller is told to
/// send it again), and the next run takes it.
#[test]
fn an_update_arriving_during_a_workflow_task_does_not_hold_back_continue_as_new() {
    let mut h = Harness::start_with(keel_core::StartParams {
        next_run_id: "run-2".into(),
        ..params()
    });
    h.take_workflow_task();
    h.complete(vec![]);
    h.apply(|ex, now| unit(ex.signal(signal("wake", ""), now)))
        .unwrap();
    h.take_workflow_task();
    h.apply(|ex, now| unit(ex.admit_update("late", Blob(b"request".to_vec()), now)))
        .unwrap();
    let done = h.complete(vec![keel_core::Command::ContinueAsNew(Box::default())]);
    assert!(done.command_error.is_none(), "{done:?}");
    assert_eq!(h.ex.status, keel_core::Status::ContinuedAsNew);
    assert!(matches!(
        h.ex.updates.get("late"),
        Some(keel_core::updates::UpdateStage::Admitted { .. })
    ));
}
