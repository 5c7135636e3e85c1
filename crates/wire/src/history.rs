//! History events in Temporal's wire form.

use keel_core::event::ChildOutcome;
use keel_core::{Event, EventKind};
use temporalio_protos::temporal::api::common::v1 as common;
use temporalio_protos::temporal::api::enums::v1::EventType;
use temporalio_protos::temporal::api::history::v1 as history;
use temporalio_protos::temporal::api::history::v1::history_event::Attributes;

use crate::convert::*;
use crate::search::to_search_attributes;

pub fn to_history(events: &[Event]) -> history::History {
    history::History {
        events: events.iter().map(to_history_event).collect(),
    }
}

pub fn to_history_event(event: &Event) -> history::HistoryEvent {
    let (event_type, attributes) = attributes(&event.kind);
    history::HistoryEvent {
        event_id: event.id,
        event_time: Some(timestamp(event.time)),
        event_type: event_type as i32,
        task_id: event.id,
        attributes: Some(attributes),
        ..Default::default()
    }
}

fn attributes(kind: &EventKind) -> (EventType, Attributes) {
    use history as h;
    match kind {
        EventKind::WorkflowExecutionStarted(started) => (
            EventType::WorkflowExecutionStarted,
            Attributes::WorkflowExecutionStartedEventAttributes(
                h::WorkflowExecutionStartedEventAttributes {
                    workflow_type: Some(common::WorkflowType {
                        name: started.workflow_type.clone(),
                    }),
                    task_queue: Some(normal_task_queue(&started.task_queue)),
                    input: to_payloads(&started.input),
                    workflow_execution_timeout: unset_if_zero(started.workflow_execution_timeout),
                    workflow_run_timeout: unset_if_zero(started.workflow_run_timeout),
                    workflow_task_timeout: opt_duration(started.workflow_task_timeout),
                    identity: started.identity.clone(),
                    original_execution_run_id: started.original_execution_run_id.clone(),
                    first_execution_run_id: started.first_execution_run_id.clone(),
                    attempt: started.attempt,
                    workflow_execution_expiration_time: opt_timestamp(
                        started.execution_expiration_time,
                    ),
                    memo: (!started.memo.is_empty()).then(|| to_memo(&started.memo)),
                    search_attributes: (!started.search_attributes.is_empty())
                        .then(|| to_search_attributes(&started.search_attributes)),
                    header: Some(to_header(&started.header)),
                    retry_policy: started.retry_policy.as_ref().map(to_retry_policy),
                    cron_schedule: started.cron_schedule.clone(),
                    continued_execution_run_id: started.continued_execution_run_id.clone(),
                    initiator: started.initiator.map_or(0, |initiator| initiator as i32),
                    continued_failure: started.continued_failure.as_ref().map(to_failure),
                    first_workflow_task_backoff: (!started.first_workflow_task_backoff.is_zero())
                        .then(|| duration(started.first_workflow_task_backoff)),
                    last_completion_result: to_payloads(&started.last_completion_result),
                    parent_workflow_namespace: started
                        .parent
                        .as_ref()
                        .map(|p| p.execution.namespace.clone())
                        .unwrap_or_default(),
                    parent_workflow_execution: started
                        .parent
                        .as_ref()
                        .map(|p| workflow_execution(&p.execution)),
                    parent_initiated_event_id: started
                        .parent
                        .as_ref()
                        .map_or(0, |p| p.initiated_event_id),
                    root_workflow_execution: started
                        .parent
                        .as_ref()
                        .map(|p| workflow_execution(&p.root)),
                    ..Default::default()
                },
            ),
        ),
        EventKind::WorkflowExecutionCompleted {
            result,
            workflow_task_completed_event_id,
            new_execution_run_id,
        } => (
            EventType::WorkflowExecutionCompleted,
            Attributes::WorkflowExecutionCompletedEventAttributes(
                h::WorkflowExecutionCompletedEventAttributes {
                    result: to_payloads(result),
                    workflow_task_completed_event_id: *workflow_task_completed_event_id,
                    new_execution_run_id: new_execution_run_id.clone(),
                    ..Default::default()
                },
            ),
        ),
        EventKind::WorkflowExecutionFailed {
            failure,
            retry_state,
            workflow_task_completed_event_id,
            new_execution_run_id,
        } => (
            EventType::WorkflowExecutionFailed,
            Attributes::WorkflowExecutionFailedEventAttributes(
                h::WorkflowExecutionFailedEventAttributes {
                    failure: Some(to_failure(failure)),
                    retry_state: to_retry_state(*retry_state),
                    workflow_task_completed_event_id: *workflow_task_completed_event_id,
                    new_execution_run_id: new_execution_run_id.clone(),
                },
            ),
        ),
        EventKind::WorkflowExecutionTimedOut {
            retry_state,
            new_execution_run_id,
        } => (
            EventType::WorkflowExecutionTimedOut,
            Attributes::WorkflowExecutionTimedOutEventAttributes(
                h::WorkflowExecutionTimedOutEventAttributes {
                    retry_state: to_retry_state(*retry_state),
                    new_execution_run_id: new_execution_run_id.clone(),
                },
            ),
        ),
        EventKind::WorkflowExecutionTerminated {
            reason,
            details,
            identity,
        } => (
            EventType::WorkflowExecutionTerminated,
            Attributes::WorkflowExecutionTerminatedEventAttributes(
                h::WorkflowExecutionTerminatedEventAttributes {
                    reason: reason.clone(),
                    details: to_payloads(details),
                    identity: identity.clone(),
                    ..Default::default()
                },
            ),
        ),
        EventKind::WorkflowTaskScheduled {
            task_queue,
            start_to_close_timeout,
            attempt,
        } => (
            EventType::WorkflowTaskScheduled,
            Attributes::WorkflowTaskScheduledEventAttributes(
                h::WorkflowTaskScheduledEventAttributes {
                    task_queue: Some(to_task_queue(task_queue)),
                    start_to_close_timeout: opt_duration(*start_to_close_timeout),
                    attempt: *attempt,
                },
            ),
        ),
        EventKind::WorkflowTaskStarted {
            scheduled_event_id,
            identity,
            request_id,
            history_size_bytes,
            suggest_continue_as_new,
        } => (
            EventType::WorkflowTaskStarted,
            Attributes::WorkflowTaskStartedEventAttributes(h::WorkflowTaskStartedEventAttributes {
                suggest_continue_as_new: *suggest_continue_as_new,
                scheduled_event_id: *scheduled_event_id,
                identity: identity.clone(),
                request_id: request_id.clone(),
                history_size_bytes: *history_size_bytes,
                ..Default::default()
            }),
        ),
        EventKind::WorkflowTaskCompleted {
            scheduled_event_id,
            started_event_id,
            identity,
            binary_checksum,
            sdk_metadata,
            metering_metadata,
        } => (
            EventType::WorkflowTaskCompleted,
            Attributes::WorkflowTaskCompletedEventAttributes(
                h::WorkflowTaskCompletedEventAttributes {
                    scheduled_event_id: *scheduled_event_id,
                    started_event_id: *started_event_id,
                    identity: identity.clone(),
                    binary_checksum: binary_checksum.clone(),
                    sdk_metadata: sdk_metadata
                        .as_ref()
                        .and_then(|b| prost::Message::decode(b.0.as_slice()).ok()),
                    metering_metadata: metering_metadata
                        .as_ref()
                        .and_then(|b| prost::Message::decode(b.0.as_slice()).ok()),
                    ..Default::default()
                },
            ),
        ),
        EventKind::WorkflowTaskTimedOut {
            scheduled_event_id,
            started_event_id,
            timeout_type,
        } => (
            EventType::WorkflowTaskTimedOut,
            Attributes::WorkflowTaskTimedOutEventAttributes(
                h::WorkflowTaskTimedOutEventAttributes {
                    scheduled_event_id: *scheduled_event_id,
                    started_event_id: *started_event_id,
                    timeout_type: to_timeout_type(*timeout_type) as i32,
                },
            ),
        ),
        EventKind::WorkflowTaskFailed {
            scheduled_event_id,
            started_event_id,
            cause,
            failure,
            identity,
            base_run_id,
            new_run_id,
        } => (
            EventType::WorkflowTaskFailed,
            Attributes::WorkflowTaskFailedEventAttributes(h::WorkflowTaskFailedEventAttributes {
                scheduled_event_id: *scheduled_event_id,
                started_event_id: *started_event_id,
                cause: *cause,
                failure: failure.as_ref().map(to_failure),
                identity: identity.clone(),
                base_run_id: base_run_id.clone(),
                new_run_id: new_run_id.clone(),
                ..Default::default()
            }),
        ),
        EventKind::ActivityTaskScheduled(scheduled) => (
            EventType::ActivityTaskScheduled,
            Attributes::ActivityTaskScheduledEventAttributes(
                h::ActivityTaskScheduledEventAttributes {
                    activity_id: scheduled.activity_id.clone(),
                    activity_type: Some(common::ActivityType {
                        name: scheduled.activity_type.clone(),
                    }),
                    task_queue: Some(normal_task_queue(&scheduled.task_queue)),
                    header: Some(to_header(&scheduled.header)),
                    input: to_payloads(&scheduled.input),
                    schedule_to_close_timeout: opt_duration(scheduled.schedule_to_close_timeout),
                    schedule_to_start_timeout: opt_duration(scheduled.schedule_to_start_timeout),
                    start_to_close_timeout: opt_duration(scheduled.start_to_close_timeout),
                    heartbeat_timeout: opt_duration(scheduled.heartbeat_timeout),
                    workflow_task_completed_event_id: scheduled.workflow_task_completed_event_id,
                    retry_policy: Some(to_retry_policy(&scheduled.retry_policy)),
                    ..Default::default()
                },
            ),
        ),
        EventKind::ActivityTaskStarted {
            scheduled_event_id,
            identity,
            request_id,
            attempt,
            last_failure,
        } => (
            EventType::ActivityTaskStarted,
            Attributes::ActivityTaskStartedEventAttributes(h::ActivityTaskStartedEventAttributes {
                scheduled_event_id: *scheduled_event_id,
                identity: identity.clone(),
                request_id: request_id.clone(),
                attempt: *attempt,
                last_failure: last_failure.as_ref().map(to_failure),
                ..Default::default()
            }),
        ),
        EventKind::ActivityTaskCompleted {
            result,
            scheduled_event_id,
            started_event_id,
            identity,
        } => (
            EventType::ActivityTaskCompleted,
            Attributes::ActivityTaskCompletedEventAttributes(
                h::ActivityTaskCompletedEventAttributes {
                    result: to_payloads(result),
                    scheduled_event_id: *scheduled_event_id,
                    started_event_id: *started_event_id,
                    identity: identity.clone(),
                    ..Default::default()
                },
            ),
        ),
        EventKind::ActivityTaskFailed {
            failure,
            scheduled_event_id,
            started_event_id,
            identity,
            retry_state,
        } => (
            EventType::ActivityTaskFailed,
            Attributes::ActivityTaskFailedEventAttributes(h::ActivityTaskFailedEventAttributes {
                failure: Some(to_failure(failure)),
                scheduled_event_id: *scheduled_event_id,
                started_event_id: *started_event_id,
                identity: identity.clone(),
                retry_state: to_retry_state(*retry_state),
                ..Default::default()
            }),
        ),
        EventKind::ActivityTaskTimedOut {
            failure,
            scheduled_event_id,
            started_event_id,
            retry_state,
        } => (
            EventType::ActivityTaskTimedOut,
            Attributes::ActivityTaskTimedOutEventAttributes(
                h::ActivityTaskTimedOutEventAttributes {
                    failure: Some(to_failure(failure)),
                    scheduled_event_id: *scheduled_event_id,
                    started_event_id: *started_event_id,
                    retry_state: to_retry_state(*retry_state),
                },
            ),
        ),
        EventKind::ActivityTaskCancelRequested {
            scheduled_event_id,
            workflow_task_completed_event_id,
        } => (
            EventType::ActivityTaskCancelRequested,
            Attributes::ActivityTaskCancelRequestedEventAttributes(
                h::ActivityTaskCancelRequestedEventAttributes {
                    scheduled_event_id: *scheduled_event_id,
                    workflow_task_completed_event_id: *workflow_task_completed_event_id,
                },
            ),
        ),
        EventKind::ActivityTaskCanceled {
            details,
            latest_cancel_requested_event_id,
            scheduled_event_id,
            started_event_id,
            identity,
        } => (
            EventType::ActivityTaskCanceled,
            Attributes::ActivityTaskCanceledEventAttributes(
                h::ActivityTaskCanceledEventAttributes {
                    details: to_payloads(details),
                    latest_cancel_requested_event_id: *latest_cancel_requested_event_id,
                    scheduled_event_id: *scheduled_event_id,
                    started_event_id: *started_event_id,
                    identity: identity.clone(),
                    ..Default::default()
                },
            ),
        ),
        EventKind::TimerStarted {
            timer_id,
            start_to_fire_timeout,
            workflow_task_completed_event_id,
        } => (
            EventType::TimerStarted,
            Attributes::TimerStartedEventAttributes(h::TimerStartedEventAttributes {
                timer_id: timer_id.clone(),
                start_to_fire_timeout: opt_duration(*start_to_fire_timeout),
                workflow_task_completed_event_id: *workflow_task_completed_event_id,
            }),
        ),
        EventKind::TimerFired {
            timer_id,
            started_event_id,
        } => (
            EventType::TimerFired,
            Attributes::TimerFiredEventAttributes(h::TimerFiredEventAttributes {
                timer_id: timer_id.clone(),
                started_event_id: *started_event_id,
            }),
        ),
        EventKind::TimerCanceled {
            timer_id,
            started_event_id,
            workflow_task_completed_event_id,
            identity,
        } => (
            EventType::TimerCanceled,
            Attributes::TimerCanceledEventAttributes(h::TimerCanceledEventAttributes {
                timer_id: timer_id.clone(),
                started_event_id: *started_event_id,
                workflow_task_completed_event_id: *workflow_task_completed_event_id,
                identity: identity.clone(),
            }),
        ),
        EventKind::MarkerRecorded {
            marker_name,
            details,
            workflow_task_completed_event_id,
            header,
            failure,
        } => (
            EventType::MarkerRecorded,
            Attributes::MarkerRecordedEventAttributes(h::MarkerRecordedEventAttributes {
                marker_name: marker_name.clone(),
                details: to_payloads_map(details),
                workflow_task_completed_event_id: *workflow_task_completed_event_id,
                header: header.as_ref().map(to_header),
                failure: failure.as_ref().map(to_failure),
            }),
        ),
        EventKind::UpsertWorkflowSearchAttributes {
            workflow_task_completed_event_id,
            search_attributes,
        } => (
            EventType::UpsertWorkflowSearchAttributes,
            Attributes::UpsertWorkflowSearchAttributesEventAttributes(
                h::UpsertWorkflowSearchAttributesEventAttributes {
                    workflow_task_completed_event_id: *workflow_task_completed_event_id,
                    search_attributes: Some(to_search_attributes(search_attributes)),
                },
            ),
        ),
        EventKind::WorkflowPropertiesModified {
            workflow_task_completed_event_id,
            upserted_memo,
        } => (
            EventType::WorkflowPropertiesModified,
            Attributes::WorkflowPropertiesModifiedEventAttributes(
                h::WorkflowPropertiesModifiedEventAttributes {
                    workflow_task_completed_event_id: *workflow_task_completed_event_id,
                    upserted_memo: Some(to_memo(upserted_memo)),
                },
            ),
        ),
        EventKind::WorkflowExecutionSignaled {
            signal_name,
            input,
            identity,
            header,
            external,
        } => (
            EventType::WorkflowExecutionSignaled,
            Attributes::WorkflowExecutionSignaledEventAttributes(
                h::WorkflowExecutionSignaledEventAttributes {
                    signal_name: signal_name.clone(),
                    input: to_payloads(input),
                    identity: identity.clone(),
                    header: Some(to_header(header)),
                    external_workflow_execution: external.as_ref().map(workflow_execution),
                    ..Default::default()
                },
            ),
        ),
        EventKind::WorkflowExecutionCancelRequested {
            cause,
            identity,
            external_initiated_event_id,
            external,
        } => (
            EventType::WorkflowExecutionCancelRequested,
            Attributes::WorkflowExecutionCancelRequestedEventAttributes(
                h::WorkflowExecutionCancelRequestedEventAttributes {
                    cause: cause.clone(),
                    external_initiated_event_id: *external_initiated_event_id,
                    external_workflow_execution: external.as_ref().map(workflow_execution),
                    identity: identity.clone(),
                },
            ),
        ),
        EventKind::WorkflowExecutionCanceled {
            details,
            workflow_task_completed_event_id,
        } => (
            EventType::WorkflowExecutionCanceled,
            Attributes::WorkflowExecutionCanceledEventAttributes(
                h::WorkflowExecutionCanceledEventAttributes {
                    workflow_task_completed_event_id: *workflow_task_completed_event_id,
                    details: to_payloads(details),
                },
            ),
        ),
        EventKind::WorkflowExecutionContinuedAsNew(event) => (
            EventType::WorkflowExecutionContinuedAsNew,
            Attributes::WorkflowExecutionContinuedAsNewEventAttributes(
                h::WorkflowExecutionContinuedAsNewEventAttributes {
                    new_execution_run_id: event.new_execution_run_id.clone(),
                    workflow_type: Some(common::WorkflowType {
                        name: event.workflow_type.clone(),
                    }),
                    task_queue: Some(normal_task_queue(&event.task_queue)),
                    input: to_payloads(&event.input),
                    workflow_run_timeout: unset_if_zero(event.workflow_run_timeout),
                    workflow_task_timeout: opt_duration(event.workflow_task_timeout),
                    workflow_task_completed_event_id: event.workflow_task_completed_event_id,
                    backoff_start_interval: opt_duration(event.backoff_start_interval),
                    initiator: event.initiator as i32,
                    failure: event.failure.as_ref().map(to_failure),
                    last_completion_result: to_payloads(&event.last_completion_result),
                    header: Some(to_header(&event.header)),
                    memo: (!event.memo.is_empty()).then(|| to_memo(&event.memo)),
                    search_attributes: (!event.search_attributes.is_empty())
                        .then(|| to_search_attributes(&event.search_attributes)),
                    ..Default::default()
                },
            ),
        ),
        EventKind::WorkflowExecutionUpdateAccepted {
            update_id,
            accepted_request_message_id,
            accepted_request_sequencing_event_id,
            accepted_request,
        } => (
            EventType::WorkflowExecutionUpdateAccepted,
            Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(
                h::WorkflowExecutionUpdateAcceptedEventAttributes {
                    protocol_instance_id: update_id.clone(),
                    accepted_request_message_id: accepted_request_message_id.clone(),
                    accepted_request_sequencing_event_id: *accepted_request_sequencing_event_id,
                    accepted_request: decode_or_default(accepted_request),
                },
            ),
        ),
        EventKind::WorkflowExecutionUpdateCompleted {
            update_id,
            identity,
            accepted_event_id,
            outcome,
        } => (
            EventType::WorkflowExecutionUpdateCompleted,
            Attributes::WorkflowExecutionUpdateCompletedEventAttributes(
                h::WorkflowExecutionUpdateCompletedEventAttributes {
                    meta: Some(temporalio_protos::temporal::api::update::v1::Meta {
                        update_id: update_id.clone(),
                        identity: identity.clone(),
                    }),
                    accepted_event_id: *accepted_event_id,
                    outcome: decode_or_default(outcome),
                },
            ),
        ),
        EventKind::StartChildWorkflowExecutionInitiated(child) => (
            EventType::StartChildWorkflowExecutionInitiated,
            Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(
                h::StartChildWorkflowExecutionInitiatedEventAttributes {
                    namespace: child.namespace.clone(),
                    workflow_id: child.workflow_id.clone(),
                    workflow_type: Some(common::WorkflowType {
                        name: child.workflow_type.clone(),
                    }),
                    task_queue: Some(normal_task_queue(&child.task_queue)),
                    input: to_payloads(&child.input),
                    workflow_execution_timeout: unset_if_zero(child.workflow_execution_timeout),
                    workflow_run_timeout: unset_if_zero(child.workflow_run_timeout),
                    workflow_task_timeout: opt_duration(child.workflow_task_timeout),
                    parent_close_policy: child.parent_close_policy as i32,
                    control: child.control.clone(),
                    workflow_task_completed_event_id: child.workflow_task_completed_event_id,
                    workflow_id_reuse_policy: to_reuse_policy(child.workflow_id_reuse_policy),
                    retry_policy: child.retry_policy.as_ref().map(to_retry_policy),
                    cron_schedule: child.cron_schedule.clone(),
                    header: Some(to_header(&child.header)),
                    memo: (!child.memo.is_empty()).then(|| to_memo(&child.memo)),
                    search_attributes: (!child.search_attributes.is_empty())
                        .then(|| to_search_attributes(&child.search_attributes)),
                    ..Default::default()
                },
            ),
        ),
        EventKind::StartChildWorkflowExecutionFailed {
            namespace,
            workflow_id,
            workflow_type,
            cause,
            control,
            initiated_event_id,
            workflow_task_completed_event_id,
        } => (
            EventType::StartChildWorkflowExecutionFailed,
            Attributes::StartChildWorkflowExecutionFailedEventAttributes(
                h::StartChildWorkflowExecutionFailedEventAttributes {
                    namespace: namespace.clone(),
                    workflow_id: workflow_id.clone(),
                    workflow_type: Some(common::WorkflowType {
                        name: workflow_type.clone(),
                    }),
                    cause: *cause,
                    control: control.clone(),
                    initiated_event_id: *initiated_event_id,
                    workflow_task_completed_event_id: *workflow_task_completed_event_id,
                    ..Default::default()
                },
            ),
        ),
        EventKind::ChildWorkflowExecutionStarted {
            initiated_event_id,
            execution,
            workflow_type,
            header,
        } => (
            EventType::ChildWorkflowExecutionStarted,
            Attributes::ChildWorkflowExecutionStartedEventAttributes(
                h::ChildWorkflowExecutionStartedEventAttributes {
                    namespace: execution.namespace.clone(),
                    initiated_event_id: *initiated_event_id,
                    workflow_execution: Some(workflow_execution(execution)),
                    workflow_type: Some(common::WorkflowType {
                        name: workflow_type.clone(),
                    }),
                    header: Some(to_header(header)),
                    ..Default::default()
                },
            ),
        ),
        EventKind::ChildWorkflowExecutionClosed {
            initiated_event_id,
            started_event_id,
            execution,
            workflow_type,
            outcome,
        } => child_closed(
            *initiated_event_id,
            *started_event_id,
            execution,
            workflow_type,
            outcome,
        ),
        EventKind::SignalExternalWorkflowExecutionInitiated(signal) => (
            EventType::SignalExternalWorkflowExecutionInitiated,
            Attributes::SignalExternalWorkflowExecutionInitiatedEventAttributes(
                h::SignalExternalWorkflowExecutionInitiatedEventAttributes {
                    workflow_task_completed_event_id: signal.workflow_task_completed_event_id,
                    namespace: signal.target.namespace.clone(),
                    workflow_execution: Some(workflow_execution(&signal.target)),
                    signal_name: signal.signal_name.clone(),
                    input: to_payloads(&signal.input),
                    control: signal.control.clone(),
                    child_workflow_only: signal.child_workflow_only,
                    header: Some(to_header(&signal.header)),
                    ..Default::default()
                },
            ),
        ),
        EventKind::ExternalWorkflowExecutionSignaled {
            initiated_event_id,
            target,
            control,
        } => (
            EventType::ExternalWorkflowExecutionSignaled,
            Attributes::ExternalWorkflowExecutionSignaledEventAttributes(
                h::ExternalWorkflowExecutionSignaledEventAttributes {
                    initiated_event_id: *initiated_event_id,
                    namespace: target.namespace.clone(),
                    workflow_execution: Some(workflow_execution(target)),
                    control: control.clone(),
                    ..Default::default()
                },
            ),
        ),
        EventKind::SignalExternalWorkflowExecutionFailed {
            cause,
            initiated_event_id,
            target,
            control,
        } => (
            EventType::SignalExternalWorkflowExecutionFailed,
            Attributes::SignalExternalWorkflowExecutionFailedEventAttributes(
                h::SignalExternalWorkflowExecutionFailedEventAttributes {
                    cause: *cause,
                    initiated_event_id: *initiated_event_id,
                    namespace: target.namespace.clone(),
                    workflow_execution: Some(workflow_execution(target)),
                    control: control.clone(),
                    ..Default::default()
                },
            ),
        ),
        EventKind::RequestCancelExternalWorkflowExecutionInitiated(cancel) => (
            EventType::RequestCancelExternalWorkflowExecutionInitiated,
            Attributes::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(
                h::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes {
                    workflow_task_completed_event_id: cancel.workflow_task_completed_event_id,
                    namespace: cancel.target.namespace.clone(),
                    workflow_execution: Some(workflow_execution(&cancel.target)),
                    control: cancel.control.clone(),
                    child_workflow_only: cancel.child_workflow_only,
                    reason: cancel.reason.clone(),
                    ..Default::default()
                },
            ),
        ),
        EventKind::ExternalWorkflowExecutionCancelRequested {
            initiated_event_id,
            target,
        } => (
            EventType::ExternalWorkflowExecutionCancelRequested,
            Attributes::ExternalWorkflowExecutionCancelRequestedEventAttributes(
                h::ExternalWorkflowExecutionCancelRequestedEventAttributes {
                    initiated_event_id: *initiated_event_id,
                    namespace: target.namespace.clone(),
                    workflow_execution: Some(workflow_execution(target)),
                    ..Default::default()
                },
            ),
        ),
        EventKind::RequestCancelExternalWorkflowExecutionFailed {
            cause,
            initiated_event_id,
            target,
            control,
        } => (
            EventType::RequestCancelExternalWorkflowExecutionFailed,
            Attributes::RequestCancelExternalWorkflowExecutionFailedEventAttributes(
                h::RequestCancelExternalWorkflowExecutionFailedEventAttributes {
                    cause: *cause,
                    initiated_event_id: *initiated_event_id,
                    namespace: target.namespace.clone(),
                    workflow_execution: Some(workflow_execution(target)),
                    control: control.clone(),
                    ..Default::default()
                },
            ),
        ),
    }
}

fn child_closed(
    initiated_event_id: i64,
    started_event_id: i64,
    execution: &keel_core::ExecutionKey,
    workflow_type: &str,
    outcome: &ChildOutcome,
) -> (EventType, Attributes) {
    use history as h;
    let namespace = execution.namespace.clone();
    let workflow_execution = Some(workflow_execution(execution));
    let workflow_type = Some(common::WorkflowType {
        name: workflow_type.to_owned(),
    });
    match outcome {
        ChildOutcome::Completed { result } => (
            EventType::ChildWorkflowExecutionCompleted,
            Attributes::ChildWorkflowExecutionCompletedEventAttributes(
                h::ChildWorkflowExecutionCompletedEventAttributes {
                    result: to_payloads(result),
                    namespace,
                    workflow_execution,
                    workflow_type,
                    initiated_event_id,
                    started_event_id,
                    ..Default::default()
                },
            ),
        ),
        ChildOutcome::Failed {
            failure,
            retry_state,
        } => (
            EventType::ChildWorkflowExecutionFailed,
            Attributes::ChildWorkflowExecutionFailedEventAttributes(
                h::ChildWorkflowExecutionFailedEventAttributes {
                    failure: Some(to_failure(failure)),
                    namespace,
                    workflow_execution,
                    workflow_type,
                    initiated_event_id,
                    started_event_id,
                    retry_state: to_retry_state(*retry_state),
                    ..Default::default()
                },
            ),
        ),
        ChildOutcome::Canceled { details } => (
            EventType::ChildWorkflowExecutionCanceled,
            Attributes::ChildWorkflowExecutionCanceledEventAttributes(
                h::ChildWorkflowExecutionCanceledEventAttributes {
                    details: to_payloads(details),
                    namespace,
                    workflow_execution,
                    workflow_type,
                    initiated_event_id,
                    started_event_id,
                    ..Default::default()
                },
            ),
        ),
        ChildOutcome::TimedOut { retry_state } => (
            EventType::ChildWorkflowExecutionTimedOut,
            Attributes::ChildWorkflowExecutionTimedOutEventAttributes(
                h::ChildWorkflowExecutionTimedOutEventAttributes {
                    namespace,
                    workflow_execution,
                    workflow_type,
                    initiated_event_id,
                    started_event_id,
                    retry_state: to_retry_state(*retry_state),
                    ..Default::default()
                },
            ),
        ),
        ChildOutcome::Terminated => (
            EventType::ChildWorkflowExecutionTerminated,
            Attributes::ChildWorkflowExecutionTerminatedEventAttributes(
                h::ChildWorkflowExecutionTerminatedEventAttributes {
                    namespace,
                    workflow_execution,
                    workflow_type,
                    initiated_event_id,
                    started_event_id,
                    ..Default::default()
                },
            ),
        ),
    }
}

fn to_reuse_policy(policy: keel_core::reuse::ReusePolicy) -> i32 {
    use keel_core::reuse::ReusePolicy;
    use temporalio_protos::temporal::api::enums::v1::WorkflowIdReusePolicy as Proto;
    (match policy {
        ReusePolicy::AllowDuplicate => Proto::AllowDuplicate,
        ReusePolicy::AllowDuplicateFailedOnly => Proto::AllowDuplicateFailedOnly,
        ReusePolicy::RejectDuplicate => Proto::RejectDuplicate,
        ReusePolicy::TerminateIfRunning => Proto::TerminateIfRunning,
    }) as i32
}

/// An opaque value the frontend encoded itself; it always decodes.
fn decode_or_default<M: prost::Message + Default>(blob: &keel_core::Blob) -> Option<M> {
    Some(M::decode(&blob.0[..]).unwrap_or_default())
}
