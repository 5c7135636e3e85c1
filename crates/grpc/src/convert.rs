//! Temporal's messages to and from core's types (`keel_wire::convert`), with the wire
//! crate's refusals of client input as the gRPC status the SDKs expect.

use std::time::Duration;

pub use keel_wire::convert::*;
use prost_wkt_types::Duration as ProtoDuration;
use temporalio_protos::temporal::api::common::v1 as common;
use temporalio_protos::temporal::api::failure::v1 as failure;
use temporalio_protos::temporal::api::taskqueue::v1 as taskqueue;
use tonic::Status;

/// A refusal of what a client sent, as gRPC's INVALID_ARGUMENT.
pub fn invalid(refusal: keel_wire::Invalid) -> Status {
    Status::invalid_argument(refusal.0)
}

pub fn from_duration(value: Option<&ProtoDuration>, field: &str) -> Result<Duration, Status> {
    keel_wire::convert::from_duration(value, field).map_err(invalid)
}

pub fn retry_policy(
    value: Option<&common::RetryPolicy>,
) -> Result<Option<keel_core::RetryPolicy>, Status> {
    keel_wire::convert::retry_policy(value).map_err(invalid)
}

pub fn required_failure(value: Option<&failure::Failure>) -> Result<keel_core::Failure, Status> {
    keel_wire::convert::required_failure(value).map_err(invalid)
}

pub fn task_queue_name(queue: Option<&taskqueue::TaskQueue>) -> Result<&str, Status> {
    keel_wire::convert::task_queue_name(queue).map_err(invalid)
}
