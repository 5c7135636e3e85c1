//! Search attributes on the wire (`keel_wire::search`), refused as gRPC's INVALID_ARGUMENT
//! when they do not fit the namespace's attributes.

use keel_core::Namespace;
use keel_core::search::SearchAttributes;
pub use keel_wire::search::*;
use temporalio_protos::temporal::api::common::v1 as common;
use tonic::Status;

pub fn search_attributes(
    value: Option<&common::SearchAttributes>,
    namespace: &Namespace,
) -> Result<SearchAttributes, Status> {
    keel_wire::search::search_attributes(value, namespace).map_err(crate::convert::invalid)
}
