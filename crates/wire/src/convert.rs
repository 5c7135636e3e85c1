//! Translation between Temporal's protobuf messages and the core's types. Only this crate
//! knows protobuf; everything the core keeps opaque is stored as encoded protobuf bytes.

use std::time::Duration;

use crate::Invalid;
use keel_core as core;
use keel_core::{Blob, BlobMap, Time};
use prost::Message;
use prost_wkt_types::{Duration as ProtoDuration, Timestamp};
use temporalio_protos::temporal::api::common::v1 as common;
use temporalio_protos::temporal::api::enums::v1 as enums;
use temporalio_protos::temporal::api::failure::v1 as failure;
use temporalio_protos::temporal::api::taskqueue::v1 as taskqueue;

pub fn timestamp(time: Time) -> Timestamp {
    Timestamp {
        seconds: time.0.div_euclid(1_000_000_000),
        nanos: time.0.rem_euclid(1_000_000_000) as i32,
    }
}

pub fn opt_timestamp(time: Option<Time>) -> Option<Timestamp> {
    time.map(timestamp)
}

pub fn duration(duration: Duration) -> ProtoDuration {
    ProtoDuration {
        seconds: duration.as_secs() as i64,
        nanos: duration.subsec_nanos() as i32,
    }
}

/// A duration Temporal always sets (zero included), such as a workflow task's timeout.
pub fn opt_duration(value: Duration) -> Option<ProtoDuration> {
    Some(duration(value))
}

/// A duration zero means "none" for, such as a workflow's run or execution timeout: Temporal
/// leaves it absent then, and the SDKs show it as unset rather than as zero.
pub fn unset_if_zero(value: Duration) -> Option<ProtoDuration> {
    (!value.is_zero()).then(|| duration(value))
}

/// A duration field from a request; negative values are refused.
pub fn from_duration(value: Option<&ProtoDuration>, field: &str) -> Result<Duration, Invalid> {
    let Some(value) = value else {
        return Ok(Duration::ZERO);
    };
    if value.seconds < 0 || value.nanos < 0 {
        return Err(Invalid(format!("{field} must not be negative")));
    }
    Ok(Duration::new(value.seconds as u64, value.nanos as u32))
}

pub fn encode<M: Message>(message: &M) -> Blob {
    Blob(message.encode_to_vec())
}

pub fn payloads(value: Option<&common::Payloads>) -> Option<Blob> {
    value.map(encode)
}

pub fn to_payloads(blob: &Option<Blob>) -> Option<common::Payloads> {
    blob.as_ref()
        .map(|b| common::Payloads::decode(b.0.as_slice()).unwrap_or_default())
}

pub fn payload_map(fields: &std::collections::HashMap<String, common::Payload>) -> BlobMap {
    fields
        .iter()
        .map(|(name, payload)| (name.clone(), encode(payload)))
        .collect()
}

pub fn to_payload_map(map: &BlobMap) -> std::collections::HashMap<String, common::Payload> {
    map.iter()
        .map(|(name, blob)| {
            (
                name.clone(),
                common::Payload::decode(blob.0.as_slice()).unwrap_or_default(),
            )
        })
        .collect()
}

pub fn memo(value: Option<&common::Memo>) -> BlobMap {
    value.map(|m| payload_map(&m.fields)).unwrap_or_default()
}

/// The memo a workflow upserts: a key whose value has no data (the SDKs' null) is removed,
/// as on Temporal, so it is kept as an empty blob, which the merge reads as "remove".
pub fn upserted_memo(value: Option<&common::Memo>) -> BlobMap {
    value
        .map(|m| {
            m.fields
                .iter()
                .map(|(name, payload)| {
                    let blob = if payload.data.is_empty() {
                        Blob::default()
                    } else {
                        encode(payload)
                    };
                    (name.clone(), blob)
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn to_memo(map: &BlobMap) -> common::Memo {
    common::Memo {
        fields: to_payload_map(map),
    }
}

pub fn header(value: Option<&common::Header>) -> BlobMap {
    value.map(|h| payload_map(&h.fields)).unwrap_or_default()
}

pub fn to_header(map: &BlobMap) -> common::Header {
    common::Header {
        fields: to_payload_map(map),
    }
}

/// Marker details: a map of Payloads, each stored encoded.
pub fn payloads_map(fields: &std::collections::HashMap<String, common::Payloads>) -> BlobMap {
    fields
        .iter()
        .map(|(name, value)| (name.clone(), encode(value)))
        .collect()
}

pub fn to_payloads_map(map: &BlobMap) -> std::collections::HashMap<String, common::Payloads> {
    map.iter()
        .map(|(name, blob)| {
            (
                name.clone(),
                common::Payloads::decode(blob.0.as_slice()).unwrap_or_default(),
            )
        })
        .collect()
}

pub fn retry_policy(
    value: Option<&common::RetryPolicy>,
) -> Result<Option<core::RetryPolicy>, Invalid> {
    let Some(policy) = value else { return Ok(None) };
    Ok(Some(core::RetryPolicy {
        initial_interval: from_duration(
            policy.initial_interval.as_ref(),
            "RetryPolicy.InitialInterval",
        )?,
        backoff_coefficient: policy.backoff_coefficient,
        maximum_interval: from_duration(
            policy.maximum_interval.as_ref(),
            "RetryPolicy.MaximumInterval",
        )?,
        maximum_attempts: policy.maximum_attempts,
        non_retryable_error_types: policy.non_retryable_error_types.clone(),
    }))
}

pub fn to_retry_policy(policy: &core::RetryPolicy) -> common::RetryPolicy {
    common::RetryPolicy {
        initial_interval: Some(duration(policy.initial_interval)),
        backoff_coefficient: policy.backoff_coefficient,
        maximum_interval: Some(duration(policy.maximum_interval)),
        maximum_attempts: policy.maximum_attempts,
        non_retryable_error_types: policy.non_retryable_error_types.clone(),
    }
}

/// A failure reported by a client: what the engine needs, plus the exact original.
pub fn failure(value: &failure::Failure) -> core::Failure {
    let mut converted = failure_fields(value);
    converted.original = Some(encode(value));
    converted
}

/// A failure the request must carry.
pub fn required_failure(value: Option<&failure::Failure>) -> Result<core::Failure, Invalid> {
    value
        .map(failure)
        .ok_or_else(|| Invalid("Failure is not set on request.".into()))
}

fn failure_fields(value: &failure::Failure) -> core::Failure {
    use failure::failure::FailureInfo as Info;
    let info = match &value.failure_info {
        Some(Info::ApplicationFailureInfo(app)) => core::FailureInfo::Application {
            failure_type: app.r#type.clone(),
            non_retryable: app.non_retryable,
            next_retry_delay: app
                .next_retry_delay
                .as_ref()
                .filter(|d| d.seconds >= 0 && d.nanos >= 0)
                .map(|d| Duration::new(d.seconds as u64, d.nanos as u32)),
        },
        Some(Info::TimeoutFailureInfo(timeout)) => core::FailureInfo::Timeout {
            timeout_type: timeout_type_from(timeout.timeout_type),
            last_heartbeat_details: payloads(timeout.last_heartbeat_details.as_ref()),
        },
        Some(Info::CanceledFailureInfo(_)) => core::FailureInfo::Canceled,
        Some(Info::TerminatedFailureInfo(_)) => core::FailureInfo::Terminated,
        Some(Info::ServerFailureInfo(server)) => core::FailureInfo::Server {
            non_retryable: server.non_retryable,
        },
        Some(Info::ResetWorkflowFailureInfo(_)) => core::FailureInfo::Reset,
        _ => core::FailureInfo::Other,
    };
    core::Failure {
        message: value.message.clone(),
        source: value.source.clone(),
        info,
        cause: value
            .cause
            .as_ref()
            .map(|cause| Box::new(failure_fields(cause))),
        original: None,
    }
}

pub fn to_failure(value: &core::Failure) -> failure::Failure {
    if let Some(original) = &value.original
        && let Ok(decoded) = failure::Failure::decode(original.0.as_slice())
    {
        return decoded;
    }
    use failure::failure::FailureInfo as Info;
    let failure_info = match &value.info {
        core::FailureInfo::Application {
            failure_type,
            non_retryable,
            next_retry_delay,
        } => Some(Info::ApplicationFailureInfo(
            failure::ApplicationFailureInfo {
                r#type: failure_type.clone(),
                non_retryable: *non_retryable,
                next_retry_delay: next_retry_delay.map(duration),
                ..Default::default()
            },
        )),
        core::FailureInfo::Timeout {
            timeout_type,
            last_heartbeat_details,
        } => Some(Info::TimeoutFailureInfo(failure::TimeoutFailureInfo {
            timeout_type: to_timeout_type(*timeout_type) as i32,
            last_heartbeat_details: to_payloads(last_heartbeat_details),
        })),
        core::FailureInfo::Canceled => Some(Info::CanceledFailureInfo(Default::default())),
        core::FailureInfo::Terminated => Some(Info::TerminatedFailureInfo(Default::default())),
        core::FailureInfo::Server { non_retryable } => {
            Some(Info::ServerFailureInfo(failure::ServerFailureInfo {
                non_retryable: *non_retryable,
            }))
        }
        core::FailureInfo::Reset => Some(Info::ResetWorkflowFailureInfo(Default::default())),
        core::FailureInfo::Other => None,
    };
    failure::Failure {
        message: value.message.clone(),
        source: value.source.clone(),
        cause: value
            .cause
            .as_ref()
            .map(|cause| Box::new(to_failure(cause))),
        failure_info,
        ..Default::default()
    }
}

pub fn to_timeout_type(value: core::TimeoutType) -> enums::TimeoutType {
    match value {
        core::TimeoutType::StartToClose => enums::TimeoutType::StartToClose,
        core::TimeoutType::ScheduleToStart => enums::TimeoutType::ScheduleToStart,
        core::TimeoutType::ScheduleToClose => enums::TimeoutType::ScheduleToClose,
        core::TimeoutType::Heartbeat => enums::TimeoutType::Heartbeat,
    }
}

fn timeout_type_from(value: i32) -> core::TimeoutType {
    match enums::TimeoutType::try_from(value) {
        Ok(enums::TimeoutType::ScheduleToStart) => core::TimeoutType::ScheduleToStart,
        Ok(enums::TimeoutType::ScheduleToClose) => core::TimeoutType::ScheduleToClose,
        Ok(enums::TimeoutType::Heartbeat) => core::TimeoutType::Heartbeat,
        _ => core::TimeoutType::StartToClose,
    }
}

pub fn to_retry_state(value: core::RetryState) -> i32 {
    value as i32
}

pub fn to_status(value: core::Status) -> i32 {
    value.code()
}

pub fn to_task_queue(queue: &core::TaskQueue) -> taskqueue::TaskQueue {
    taskqueue::TaskQueue {
        name: queue.name.clone(),
        kind: match queue.kind {
            core::QueueKind::Normal => enums::TaskQueueKind::Normal as i32,
            core::QueueKind::Sticky => enums::TaskQueueKind::Sticky as i32,
        },
        normal_name: if queue.kind == core::QueueKind::Sticky {
            queue.normal_name.clone()
        } else {
            String::new()
        },
    }
}

pub fn normal_task_queue(name: &str) -> taskqueue::TaskQueue {
    to_task_queue(&core::TaskQueue::normal(name))
}

/// The name in an optional WorkflowType; empty when absent (validation names the field).
pub fn workflow_type_name(value: Option<&common::WorkflowType>) -> String {
    value.map(|t| t.name.clone()).unwrap_or_default()
}

/// The name in an optional TaskQueue; empty when absent.
pub fn queue_name(value: Option<&taskqueue::TaskQueue>) -> String {
    value.map(|q| q.name.clone()).unwrap_or_default()
}

pub fn workflow_execution(key: &core::ExecutionKey) -> common::WorkflowExecution {
    common::WorkflowExecution {
        workflow_id: key.workflow_id.clone(),
        run_id: key.run_id.clone(),
    }
}

/// Task queue name from a request, which must be set.
pub fn task_queue_name(queue: Option<&taskqueue::TaskQueue>) -> Result<&str, Invalid> {
    match queue {
        Some(queue) if !queue.name.is_empty() => Ok(&queue.name),
        _ => Err(Invalid("TaskQueue is not set on request.".into())),
    }
}

/// Temporal's WorkflowIdReusePolicy as core's (unset or unknown: allow duplicates).
pub fn reuse_policy(value: i32) -> keel_core::reuse::ReusePolicy {
    match enums::WorkflowIdReusePolicy::try_from(value) {
        Ok(enums::WorkflowIdReusePolicy::AllowDuplicateFailedOnly) => {
            keel_core::reuse::ReusePolicy::AllowDuplicateFailedOnly
        }
        Ok(enums::WorkflowIdReusePolicy::RejectDuplicate) => {
            keel_core::reuse::ReusePolicy::RejectDuplicate
        }
        Ok(enums::WorkflowIdReusePolicy::TerminateIfRunning) => {
            keel_core::reuse::ReusePolicy::TerminateIfRunning
        }
        _ => keel_core::reuse::ReusePolicy::AllowDuplicate,
    }
}
