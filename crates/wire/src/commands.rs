//! Workflow task commands from Temporal's wire form into the core's.

use crate::Invalid;
use keel_core::command::{
    Command, ContinueAsNewSpec, ExternalCancelSpec, ExternalSignalSpec, ExternalTarget,
    ScheduleActivity,
};
use keel_core::event::{ChildInitiated, ParentClosePolicy};
use temporalio_protos::temporal::api::command::v1 as proto;
use temporalio_protos::temporal::api::command::v1::command::Attributes;
use temporalio_protos::temporal::api::common::v1 as common;
use temporalio_protos::temporal::api::enums::v1 as enums;
use temporalio_protos::temporal::api::enums::v1::CommandType;

use crate::convert::*;
use crate::search::search_attributes;
use keel_core::Namespace;

/// The search attributes a command sets, if it sets any.
fn search_attributes_of(attributes: &Attributes) -> Option<&common::SearchAttributes> {
    match attributes {
        Attributes::UpsertWorkflowSearchAttributesCommandAttributes(a) => {
            a.search_attributes.as_ref()
        }
        Attributes::ContinueAsNewWorkflowExecutionCommandAttributes(a) => {
            a.search_attributes.as_ref()
        }
        Attributes::StartChildWorkflowExecutionCommandAttributes(a) => a.search_attributes.as_ref(),
        _ => None,
    }
}

/// The commands of a workflow task of `namespace` (whose search attributes they may set).
pub fn commands(
    commands: &[proto::Command],
    namespace: &Namespace,
) -> Result<Vec<Command>, Invalid> {
    commands.iter().map(|c| command(c, namespace)).collect()
}

fn command(command: &proto::Command, namespace: &Namespace) -> Result<Command, Invalid> {
    let missing = || {
        let name = CommandType::try_from(command.command_type)
            .map(|t| t.as_str_name())
            .unwrap_or("UNKNOWN");
        Invalid(format!("command {name} has no attributes"))
    };
    let attributes = command.attributes.as_ref().ok_or_else(missing)?;
    // Search attributes the namespace does not know, or of the wrong type, fail the workflow
    // task (BAD_SEARCH_ATTRIBUTES), as in Temporal, rather than the call.
    // Read once here; the command below takes them from `checked`.
    let checked = match search_attributes_of(attributes)
        .map(|given| search_attributes(Some(given), namespace))
        .transpose()
    {
        Ok(checked) => checked,
        Err(refusal) => {
            return Ok(Command::Invalid {
                cause: keel_core::transition::failed_cause::BAD_SEARCH_ATTRIBUTES,
                message: refusal.0,
            });
        }
    };
    Ok(match attributes {
        Attributes::ScheduleActivityTaskCommandAttributes(a) => {
            Command::ScheduleActivity(ScheduleActivity {
                activity_id: a.activity_id.clone(),
                activity_type: a
                    .activity_type
                    .as_ref()
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
                task_queue: queue_name(a.task_queue.as_ref()),
                header: header(a.header.as_ref()),
                input: payloads(a.input.as_ref()),
                schedule_to_close_timeout: from_duration(
                    a.schedule_to_close_timeout.as_ref(),
                    "ScheduleToCloseTimeout",
                )?,
                schedule_to_start_timeout: from_duration(
                    a.schedule_to_start_timeout.as_ref(),
                    "ScheduleToStartTimeout",
                )?,
                start_to_close_timeout: from_duration(
                    a.start_to_close_timeout.as_ref(),
                    "StartToCloseTimeout",
                )?,
                heartbeat_timeout: from_duration(a.heartbeat_timeout.as_ref(), "HeartbeatTimeout")?,
                retry_policy: retry_policy(a.retry_policy.as_ref())?,
            })
        }
        Attributes::RequestCancelActivityTaskCommandAttributes(a) => {
            Command::RequestCancelActivity {
                scheduled_event_id: a.scheduled_event_id,
            }
        }
        Attributes::StartTimerCommandAttributes(a) => Command::StartTimer {
            timer_id: a.timer_id.clone(),
            start_to_fire_timeout: from_duration(
                a.start_to_fire_timeout.as_ref(),
                "StartToFireTimeout",
            )?,
        },
        Attributes::CancelTimerCommandAttributes(a) => Command::CancelTimer {
            timer_id: a.timer_id.clone(),
        },
        Attributes::CompleteWorkflowExecutionCommandAttributes(a) => Command::CompleteWorkflow {
            result: payloads(a.result.as_ref()),
        },
        Attributes::FailWorkflowExecutionCommandAttributes(a) => Command::FailWorkflow {
            failure: a
                .failure
                .as_ref()
                .map(failure)
                .ok_or_else(|| Invalid("FailWorkflowExecutionCommand has no failure".into()))?,
        },
        Attributes::RecordMarkerCommandAttributes(a) => Command::RecordMarker {
            marker_name: a.marker_name.clone(),
            details: payloads_map(&a.details),
            header: a.header.as_ref().map(|h| header(Some(h))),
            failure: a.failure.as_ref().map(failure),
        },
        Attributes::UpsertWorkflowSearchAttributesCommandAttributes(_) => {
            Command::UpsertSearchAttributes {
                search_attributes: checked.unwrap_or_default(),
            }
        }
        Attributes::ModifyWorkflowPropertiesCommandAttributes(a) => Command::ModifyProperties {
            upserted_memo: upserted_memo(a.upserted_memo.as_ref()),
        },
        Attributes::ContinueAsNewWorkflowExecutionCommandAttributes(a) => {
            Command::ContinueAsNew(Box::new(ContinueAsNewSpec {
                workflow_type: workflow_type_name(a.workflow_type.as_ref()),
                task_queue: queue_name(a.task_queue.as_ref()),
                input: payloads(a.input.as_ref()),
                workflow_run_timeout: from_duration(
                    a.workflow_run_timeout.as_ref(),
                    "WorkflowRunTimeout",
                )?,
                workflow_task_timeout: from_duration(
                    a.workflow_task_timeout.as_ref(),
                    "WorkflowTaskTimeout",
                )?,
                backoff_start_interval: from_duration(
                    a.backoff_start_interval.as_ref(),
                    "BackoffStartInterval",
                )?,
                retry_policy: retry_policy(a.retry_policy.as_ref())?,
                failure: a.failure.as_ref().map(failure),
                last_completion_result: payloads(a.last_completion_result.as_ref()),
                header: a.header.as_ref().map(|h| header(Some(h))),
                memo: a.memo.as_ref().map(|m| memo(Some(m))),
                search_attributes: checked,
            }))
        }
        Attributes::StartChildWorkflowExecutionCommandAttributes(a) => {
            Command::StartChild(Box::new(ChildInitiated {
                namespace: a.namespace.clone(),
                workflow_id: a.workflow_id.clone(),
                workflow_type: workflow_type_name(a.workflow_type.as_ref()),
                task_queue: queue_name(a.task_queue.as_ref()),
                input: payloads(a.input.as_ref()),
                workflow_execution_timeout: from_duration(
                    a.workflow_execution_timeout.as_ref(),
                    "WorkflowExecutionTimeout",
                )?,
                workflow_run_timeout: from_duration(
                    a.workflow_run_timeout.as_ref(),
                    "WorkflowRunTimeout",
                )?,
                workflow_task_timeout: from_duration(
                    a.workflow_task_timeout.as_ref(),
                    "WorkflowTaskTimeout",
                )?,
                parent_close_policy: parent_close_policy(a.parent_close_policy),
                control: a.control.clone(),
                workflow_task_completed_event_id: 0,
                workflow_id_reuse_policy: crate::convert::reuse_policy(a.workflow_id_reuse_policy),
                retry_policy: retry_policy(a.retry_policy.as_ref())?,
                cron_schedule: a.cron_schedule.clone(),
                header: header(a.header.as_ref()),
                memo: memo(a.memo.as_ref()),
                search_attributes: checked.unwrap_or_default(),
            }))
        }
        Attributes::ProtocolMessageCommandAttributes(a) => Command::ProtocolMessage {
            message_id: a.message_id.clone(),
        },
        Attributes::CancelWorkflowExecutionCommandAttributes(a) => Command::CancelWorkflow {
            details: payloads(a.details.as_ref()),
        },
        Attributes::SignalExternalWorkflowExecutionCommandAttributes(a) => Command::SignalExternal(
            external_target(
                &a.namespace,
                a.execution.as_ref(),
                &a.control,
                a.child_workflow_only,
            ),
            ExternalSignalSpec {
                signal_name: a.signal_name.clone(),
                input: payloads(a.input.as_ref()),
                header: header(a.header.as_ref()),
            },
        ),
        Attributes::RequestCancelExternalWorkflowExecutionCommandAttributes(a) => {
            let execution = common::WorkflowExecution {
                workflow_id: a.workflow_id.clone(),
                run_id: a.run_id.clone(),
            };
            Command::RequestCancelExternal(
                external_target(
                    &a.namespace,
                    Some(&execution),
                    &a.control,
                    a.child_workflow_only,
                ),
                ExternalCancelSpec {
                    reason: a.reason.clone(),
                },
            )
        }
        _ => Command::Unsupported {
            name: CommandType::try_from(command.command_type)
                .map(|t| t.as_str_name().to_owned())
                .unwrap_or_else(|_| format!("type {}", command.command_type)),
        },
    })
}

fn external_target(
    namespace: &str,
    execution: Option<&common::WorkflowExecution>,
    control: &str,
    child_workflow_only: bool,
) -> ExternalTarget {
    ExternalTarget {
        namespace: namespace.to_owned(),
        workflow_id: execution.map(|e| e.workflow_id.clone()).unwrap_or_default(),
        run_id: execution.map(|e| e.run_id.clone()).unwrap_or_default(),
        control: control.to_owned(),
        child_workflow_only,
    }
}

/// Unspecified means Terminate, as in Temporal.
fn parent_close_policy(value: i32) -> ParentClosePolicy {
    match enums::ParentClosePolicy::try_from(value) {
        Ok(enums::ParentClosePolicy::Abandon) => ParentClosePolicy::Abandon,
        Ok(enums::ParentClosePolicy::RequestCancel) => ParentClosePolicy::RequestCancel,
        _ => ParentClosePolicy::Terminate,
    }
}
