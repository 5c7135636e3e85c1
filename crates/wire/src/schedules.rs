//! Schedules made by Keel itself (a flow's Schedule triggers) as Temporal's protobuf, so
//! that DescribeSchedule shows them to SDK clients as it shows schedules they made.

use keel_core::Blob;
use prost::Message;
use temporalio_protos::temporal::api::common::v1 as common;
use temporalio_protos::temporal::api::schedule::v1 as sched;
use temporalio_protos::temporal::api::taskqueue::v1 as taskqueue;
use temporalio_protos::temporal::api::workflow::v1 as workflow;

/// A spec of one cron string, read in `time_zone` (empty: UTC).
pub fn cron_spec(cron: &str, time_zone: &str) -> Blob {
    let spec = sched::ScheduleSpec {
        cron_string: vec![cron.to_owned()],
        timezone_name: time_zone.to_owned(),
        ..Default::default()
    };
    Blob(spec.encode_to_vec())
}

/// An action that starts `workflow_type` on `task_queue` with `input` (encoded Payloads).
pub fn start_action(
    workflow_id: &str,
    workflow_type: &str,
    task_queue: &str,
    input: Option<&Blob>,
) -> Blob {
    let input = input.and_then(|blob| common::Payloads::decode(blob.0.as_slice()).ok());
    let action = sched::ScheduleAction {
        action: Some(sched::schedule_action::Action::StartWorkflow(
            workflow::NewWorkflowExecutionInfo {
                workflow_id: workflow_id.to_owned(),
                workflow_type: Some(common::WorkflowType {
                    name: workflow_type.to_owned(),
                }),
                task_queue: Some(taskqueue::TaskQueue {
                    name: task_queue.to_owned(),
                    ..Default::default()
                }),
                input,
                ..Default::default()
            },
        )),
    };
    Blob(action.encode_to_vec())
}
