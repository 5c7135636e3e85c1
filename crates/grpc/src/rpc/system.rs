//! GetSystemInfo and GetClusterInfo: what this server is and can do.

use super::prelude::*;
use crate::describe::CLUSTER_NAME;

pub(crate) async fn get_system_info(
    _frontend: &Frontend,
    _request: Request<ws::GetSystemInfoRequest>,
) -> Reply<ws::GetSystemInfoResponse> {
    // Only what Keel really does is advertised: SDKs change behaviour on these flags.
    let capabilities = ws::get_system_info_response::Capabilities {
        signal_and_query_header: false,
        internal_error_differentiation: true,
        activity_failure_include_heartbeat: true,
        supports_schedules: false,
        encoded_failure_attributes: true,
        build_id_based_versioning: false,
        upsert_memo: true,
        eager_workflow_start: false,
        sdk_metadata: true,
        count_group_by_execution_status: false,
        nexus: false,
        ..Default::default()
    };
    Ok(Response::new(ws::GetSystemInfoResponse {
        server_version: env!("CARGO_PKG_VERSION").into(),
        capabilities: Some(capabilities),
    }))
}

pub(crate) async fn get_cluster_info(
    _frontend: &Frontend,
    _request: Request<ws::GetClusterInfoRequest>,
) -> Reply<ws::GetClusterInfoResponse> {
    Ok(Response::new(ws::GetClusterInfoResponse {
        server_version: env!("CARGO_PKG_VERSION").into(),
        cluster_name: CLUSTER_NAME.into(),
        cluster_id: "keel".into(),
        history_shard_count: 1,
        persistence_store: "sqlite".into(),
        visibility_store: "sqlite".into(),
        ..Default::default()
    }))
}
