//! Namespaces: describe, list, register, update.

use super::prelude::*;
use crate::describe;

pub(crate) async fn describe_namespace(
    frontend: &Frontend,
    request: Request<ws::DescribeNamespaceRequest>,
) -> Reply<ws::DescribeNamespaceResponse> {
    let request = request.into_inner();
    let namespace = if request.namespace.is_empty() {
        frontend
            .engine
            .namespaces()
            .into_iter()
            .find(|ns| ns.id == request.id)
            .ok_or_else(|| to_status(keel_engine::Error::NamespaceNotFound(request.id.clone())))?
    } else {
        engine_result(frontend.engine.namespace(&request.namespace))?
    };
    Ok(Response::new(describe::describe_namespace(&namespace)))
}

pub(crate) async fn list_namespaces(
    frontend: &Frontend,
    _request: Request<ws::ListNamespacesRequest>,
) -> Reply<ws::ListNamespacesResponse> {
    let namespaces = frontend
        .engine
        .namespaces()
        .iter()
        .map(describe::describe_namespace)
        .collect();
    Ok(Response::new(ws::ListNamespacesResponse {
        namespaces,
        next_page_token: Vec::new(),
    }))
}

pub(crate) async fn register_namespace(
    frontend: &Frontend,
    request: Request<ws::RegisterNamespaceRequest>,
) -> Reply<ws::RegisterNamespaceResponse> {
    let request = request.into_inner();
    let retention = from_duration(
        request.workflow_execution_retention_period.as_ref(),
        "WorkflowExecutionRetentionPeriod",
    )?;
    engine_result(
        frontend
            .engine
            .register_namespace(
                &request.namespace,
                request.description,
                request.owner_email,
                Some(retention),
                request.data.into_iter().collect(),
            )
            .await,
    )?;
    Ok(Response::new(ws::RegisterNamespaceResponse {}))
}

pub(crate) async fn update_namespace(
    frontend: &Frontend,
    request: Request<ws::UpdateNamespaceRequest>,
) -> Reply<ws::UpdateNamespaceResponse> {
    let request = request.into_inner();
    let retention = match request
        .config
        .as_ref()
        .and_then(|c| c.workflow_execution_retention_ttl.as_ref())
    {
        Some(ttl) => Some(from_duration(Some(ttl), "WorkflowExecutionRetentionTtl")?),
        None => None,
    };
    let info = request.update_info.clone();
    let namespace = engine_result(
        frontend
            .engine
            .update_namespace(&request.namespace, |ns| {
                if let Some(info) = info {
                    if !info.description.is_empty() {
                        ns.description = info.description;
                    }
                    if !info.owner_email.is_empty() {
                        ns.owner_email = info.owner_email;
                    }
                    ns.data.extend(info.data);
                }
                if let Some(retention) = retention.filter(|r| !r.is_zero()) {
                    ns.retention = retention;
                }
            })
            .await,
    )?;
    let described = describe::describe_namespace(&namespace);
    Ok(Response::new(ws::UpdateNamespaceResponse {
        namespace_info: described.namespace_info,
        config: described.config,
        replication_config: described.replication_config,
        failover_version: 0,
        is_global_namespace: false,
    }))
}
