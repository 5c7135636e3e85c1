//! Responses that describe executions, namespaces and task queues.

use keel_core::{ActivityState, Execution, Namespace};
use keel_engine::ExecutionSummary;
use temporalio_protos::temporal::api::common::v1 as common;
use temporalio_protos::temporal::api::enums::v1 as enums;
use temporalio_protos::temporal::api::namespace::v1 as namespace;
use temporalio_protos::temporal::api::replication::v1 as replication;
use temporalio_protos::temporal::api::workflow::v1 as workflow;

use crate::convert::*;
use crate::search::to_search_attributes;
use temporalio_protos::temporal::api::workflowservice::v1 as ws;

pub const CLUSTER_NAME: &str = "active";

pub fn execution_info(summary: &ExecutionSummary) -> workflow::WorkflowExecutionInfo {
    workflow::WorkflowExecutionInfo {
        execution: Some(workflow_execution(&summary.key)),
        r#type: Some(common::WorkflowType {
            name: summary.workflow_type.clone(),
        }),
        start_time: Some(timestamp(summary.start_time)),
        close_time: opt_timestamp(summary.close_time),
        status: to_status(summary.status),
        history_length: summary.history_length,
        execution_time: Some(timestamp(summary.execution_time)),
        memo: Some(to_memo(&summary.memo)),
        search_attributes: Some(to_search_attributes(&summary.search_attributes)),
        task_queue: summary.task_queue.clone(),
        parent_execution: summary.parent.as_ref().map(workflow_execution),
        parent_namespace_id: summary
            .parent
            .as_ref()
            .map(|parent| parent.namespace.clone())
            .unwrap_or_default(),
        execution_duration: summary
            .close_time
            .map(|close| duration(summary.start_time.until(close))),
        ..Default::default()
    }
}

pub fn describe_execution(execution: &Execution) -> ws::DescribeWorkflowExecutionResponse {
    let started = &execution.started;
    let pending_activities = execution
        .activities
        .values()
        .map(|activity| {
            let spec = &activity.scheduled;
            let (state, last_started_time) = match &activity.state {
                ActivityState::Started { time, .. } if activity.cancel_requested => {
                    (enums::PendingActivityState::CancelRequested, Some(*time))
                }
                ActivityState::Started { time, .. } => {
                    (enums::PendingActivityState::Started, Some(*time))
                }
                ActivityState::Scheduled | ActivityState::Backoff => {
                    (enums::PendingActivityState::Scheduled, None)
                }
            };
            let backing_off = activity.state == ActivityState::Backoff;
            workflow::PendingActivityInfo {
                activity_id: spec.activity_id.clone(),
                activity_type: Some(common::ActivityType {
                    name: spec.activity_type.clone(),
                }),
                state: state as i32,
                heartbeat_details: to_payloads(&activity.heartbeat_details),
                last_heartbeat_time: opt_timestamp(activity.last_heartbeat_time),
                last_started_time: opt_timestamp(last_started_time),
                attempt: activity.attempt,
                maximum_attempts: spec.retry_policy.maximum_attempts,
                scheduled_time: Some(timestamp(activity.attempt_scheduled_time)),
                expiration_time: (!spec.schedule_to_close_timeout.is_zero()).then(|| {
                    timestamp(
                        activity
                            .first_scheduled_time
                            .plus(spec.schedule_to_close_timeout),
                    )
                }),
                last_failure: activity.last_failure.as_ref().map(to_failure),
                last_worker_identity: activity.last_worker_identity.clone(),
                next_attempt_schedule_time: backing_off
                    .then(|| timestamp(activity.attempt_scheduled_time)),
                ..Default::default()
            }
        })
        .collect();
    let pending_workflow_task =
        execution
            .workflow_task
            .as_ref()
            .map(|task| workflow::PendingWorkflowTaskInfo {
                state: if task.started.is_some() {
                    enums::PendingWorkflowTaskState::Started as i32
                } else {
                    enums::PendingWorkflowTaskState::Scheduled as i32
                },
                scheduled_time: Some(timestamp(task.scheduled_time)),
                original_scheduled_time: Some(timestamp(task.scheduled_time)),
                started_time: task.started.as_ref().map(|s| timestamp(s.time)),
                attempt: task.attempt,
            });
    ws::DescribeWorkflowExecutionResponse {
        execution_config: Some(workflow::WorkflowExecutionConfig {
            task_queue: Some(normal_task_queue(&started.task_queue)),
            workflow_execution_timeout: unset_if_zero(started.workflow_execution_timeout),
            workflow_run_timeout: unset_if_zero(started.workflow_run_timeout),
            default_workflow_task_timeout: opt_duration(started.workflow_task_timeout),
            ..Default::default()
        }),
        workflow_execution_info: Some(workflow::WorkflowExecutionInfo {
            parent_execution: started
                .parent
                .as_ref()
                .map(|p| workflow_execution(&p.execution)),
            parent_namespace_id: started
                .parent
                .as_ref()
                .map(|p| p.execution.namespace.clone())
                .unwrap_or_default(),
            root_execution: Some(workflow_execution(
                started.parent.as_ref().map_or(&execution.key, |p| &p.root),
            )),
            history_size_bytes: execution.history_size_bytes,
            ..execution_info(&ExecutionSummary::of(execution))
        }),
        pending_activities,
        pending_workflow_task,
        pending_children: execution
            .children
            .iter()
            .map(
                |(initiated_event_id, child)| workflow::PendingChildExecutionInfo {
                    workflow_id: child.initiated.workflow_id.clone(),
                    run_id: child
                        .started
                        .as_ref()
                        .map(|s| s.run_id.clone())
                        .unwrap_or_default(),
                    workflow_type_name: child.initiated.workflow_type.clone(),
                    initiated_id: *initiated_event_id,
                    parent_close_policy: child.initiated.parent_close_policy as i32,
                },
            )
            .collect(),
        ..Default::default()
    }
}

pub fn describe_namespace(ns: &Namespace) -> ws::DescribeNamespaceResponse {
    ws::DescribeNamespaceResponse {
        namespace_info: Some(namespace::NamespaceInfo {
            name: ns.name.clone(),
            state: enums::NamespaceState::Registered as i32,
            description: ns.description.clone(),
            owner_email: ns.owner_email.clone(),
            data: ns.data.clone().into_iter().collect(),
            id: ns.id.clone(),
            capabilities: Some(namespace::namespace_info::Capabilities::default()),
            supports_schedules: false,
            ..Default::default()
        }),
        config: Some(namespace::NamespaceConfig {
            workflow_execution_retention_ttl: Some(duration(ns.retention)),
            bad_binaries: Some(namespace::BadBinaries::default()),
            history_archival_state: enums::ArchivalState::Disabled as i32,
            visibility_archival_state: enums::ArchivalState::Disabled as i32,
            ..Default::default()
        }),
        replication_config: Some(replication::NamespaceReplicationConfig {
            active_cluster_name: CLUSTER_NAME.into(),
            clusters: vec![replication::ClusterReplicationConfig {
                cluster_name: CLUSTER_NAME.into(),
                ..Default::default()
            }],
            state: enums::ReplicationState::Normal as i32,
        }),
        failover_version: 0,
        is_global_namespace: false,
        ..Default::default()
    }
}
