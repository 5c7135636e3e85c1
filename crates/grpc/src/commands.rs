//! A workflow task's commands as core commands (`keel_wire::commands`), refused as gRPC's
//! INVALID_ARGUMENT when malformed.

use keel_core::{Command, Namespace};
use temporalio_protos::temporal::api::command::v1 as proto;
use tonic::Status;

pub fn commands(
    commands: &[proto::Command],
    namespace: &Namespace,
) -> Result<Vec<Command>, Status> {
    keel_wire::commands::commands(commands, namespace).map_err(crate::convert::invalid)
}
