//! Signals and cancellation requests a workflow sends to other workflows: initiated by a
//! command, resolved once when their delivery is reported.

use keel_core::command::{ExternalCancelSpec, ExternalSignalSpec, ExternalTarget};
use keel_core::event::EventKind;
use keel_core::requests::external_failed_cause;
use keel_core::transition::failed_cause;
use keel_core::{Command, Completion, Effect, ExecutionKey, ExternalOutcome, Status};

use crate::harness::*;

fn other_workflow() -> ExecutionKey {
    ExecutionKey {
        namespace: "default".into(),
        workflow_id: "other".into(),
        run_id: String::new(),
    }
}

fn signal_other(name: &str) -> Command {
    Command::SignalExternal(
        ExternalTarget {
            workflow_id: "other".into(),
            control: "ctl".into(),
            ..ExternalTarget::default()
        },
        ExternalSignalSpec {
            signal_name: name.into(),
            ..ExternalSignalSpec::default()
        },
    )
}

#[test]
fn a_signal_to_another_workflow_is_initiated_then_resolved_once() {
    let mut h = started_with(vec![signal_other("ping")]);
    let initiated = h.last("SignalExternalWorkflowExecutionInitiated");
    match h.event(initiated) {
        EventKind::SignalExternalWorkflowExecutionInitiated(signal) => {
            assert_eq!(signal.target, other_workflow(), "own namespace filled in");
            assert_eq!(signal.signal_name, "ping");
            assert_eq!(signal.control, "ctl");
        }
        other => panic!("{other:?}"),
    }
    assert!(h.effects.contains(&Effect::DeliverExternalRequest {
        initiated_event_id: initiated
    }));
    assert_eq!(h.ex.external_requests.len(), 1);
    let delivered = ExternalOutcome::Delivered {
        run_id: "target-run".into(),
    };
    h.apply(|ex, now| unit(ex.resolve_external_request(initiated, delivered.clone(), now)))
        .unwrap();
    assert_eq!(
        h.history_after(initiated),
        ["ExternalWorkflowExecutionSignaled", "WorkflowTaskScheduled"]
    );
    match h.event(initiated + 1) {
        EventKind::ExternalWorkflowExecutionSignaled {
            initiated_event_id,
            target,
            control,
        } => {
            assert_eq!(*initiated_event_id, initiated);
            assert_eq!(target.run_id, "target-run");
            assert_eq!(control, "ctl");
        }
        other => panic!("{other:?}"),
    }
    assert!(h.ex.external_requests.is_empty());
    // A second report of the same delivery (after a crash) is refused and changes nothing.
    not_found(h.apply(|ex, now| unit(ex.resolve_external_request(initiated, delivered, now))));
}

#[test]
fn an_undeliverable_cancel_request_is_reported_to_the_workflow() {
    let mut h = started_with(vec![Command::RequestCancelExternal(
        ExternalTarget {
            namespace: "elsewhere".into(),
            workflow_id: "missing".into(),
            ..ExternalTarget::default()
        },
        ExternalCancelSpec::default(),
    )]);
    let initiated = h.last("RequestCancelExternalWorkflowExecutionInitiated");
    let failed = ExternalOutcome::Failed {
        cause: external_failed_cause::NAMESPACE_NOT_FOUND,
    };
    h.apply(|ex, now| unit(ex.resolve_external_request(initiated, failed, now)))
        .unwrap();
    match h.event(initiated + 1) {
        EventKind::RequestCancelExternalWorkflowExecutionFailed { cause, target, .. } => {
            assert_eq!(*cause, external_failed_cause::NAMESPACE_NOT_FOUND);
            assert_eq!(target.namespace, "elsewhere");
            assert_eq!(target.workflow_id, "missing");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn requests_to_other_workflows_need_a_workflow_id_and_a_signal_name() {
    let mut h = Harness::start();
    let task = h.take_workflow_task();
    let mut nameless = signal_other("");
    let result = h
        .respond(
            task,
            Completion {
                commands: vec![nameless.clone()],
                ..completion()
            },
        )
        .unwrap();
    assert!(result.command_error.unwrap().contains("SignalName"));
    let failed = h.last("WorkflowTaskFailed");
    match h.event(failed) {
        EventKind::WorkflowTaskFailed { cause, .. } => {
            assert_eq!(
                *cause,
                failed_cause::BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES
            )
        }
        other => panic!("{other:?}"),
    }
    if let Command::SignalExternal(target, spec) = &mut nameless {
        target.workflow_id.clear();
        spec.signal_name = "x".into();
    }
    let task = h.take_workflow_task();
    let result = h
        .respond(
            task,
            Completion {
                commands: vec![nameless],
                ..completion()
            },
        )
        .unwrap();
    assert!(result.command_error.unwrap().contains("WorkflowId"));
    assert!(h.ex.external_requests.is_empty());
}

#[test]
fn requests_not_yet_delivered_die_with_the_run() {
    let h = started_with(vec![signal_other("ping"), complete_workflow()]);
    assert_eq!(h.ex.status, Status::Completed);
    assert!(h.ex.external_requests.is_empty());
}
