//! Task queues, workers and namespaces.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use keel_core::Namespace;
use keel_engine::Engine;
use keel_engine::operators::{QueueKindInfo, TaskQueueInfo};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::render;
use crate::request::{Body, NAMESPACE_PARAMS, NO_PARAMS, Params, json_body};

fn queue_kind(kind: &QueueKindInfo, with_pollers: bool) -> Value {
    let mut value = json!({
        "pollers": kind.pollers.len(),
        "backlog": kind.backlog,
        "polls_waiting": kind.polls_waiting,
        "oldest_task_age_ms": render::opt_millis(kind.oldest_task_age),
        "dispatch_rate_per_s": kind.dispatch_rate_per_second,
        "last_poll": render::opt_time(kind.last_poll()),
    });
    if with_pollers {
        value["poller_list"] = kind
            .pollers
            .iter()
            .map(|p| json!({"identity": p.identity, "last_poll": render::time(p.last_access_time)}))
            .collect();
    }
    value
}

fn task_queue(info: &TaskQueueInfo, with_pollers: bool) -> Value {
    json!({
        "name": info.name,
        "workflow": queue_kind(&info.workflow, with_pollers),
        "activity": queue_kind(&info.activity, with_pollers),
    })
}

pub async fn list(State(engine): State<Engine>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let queues = engine.task_queues(params.namespace())?;
    Ok(Json(json!({
        "task_queues": queues.iter().map(|q| task_queue(q, false)).collect::<Vec<_>>(),
    })))
}

pub async fn describe(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let queue = engine.task_queue(params.namespace(), &name)?;
    Ok(Json(task_queue(&queue, true)))
}

pub async fn workers(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let workers = engine.workers(params.namespace())?;
    Ok(Json(json!({
        "workers": workers.iter().map(|w| json!({
            "identity": w.identity,
            "task_queues": w.task_queues,
            "last_seen": render::time(w.last_seen),
            "tasks_in_flight": w.tasks_in_flight,
            "polls_waiting": w.polls_waiting,
            "utilization": w.utilization,
        })).collect::<Vec<_>>(),
    })))
}

fn namespace(namespace: &Namespace) -> Value {
    json!({
        "name": namespace.name,
        "id": namespace.id,
        "description": namespace.description,
        "owner_email": namespace.owner_email,
        "retention_days": namespace.retention.as_secs_f64() / 86_400.0,
        "created": render::time(namespace.created),
        "search_attributes": namespace.search_attributes.iter()
            .map(|(name, kind)| (name.clone(), Value::String(kind.name().to_owned())))
            .collect::<serde_json::Map<_, _>>(),
    })
}

pub async fn namespaces(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), NO_PARAMS)?;
    let mut namespaces = engine.namespaces();
    namespaces.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(json!({
        "namespaces": namespaces.iter().map(namespace).collect::<Vec<_>>(),
    })))
}

pub const NAMESPACE_FIELDS: &[&str] = &["name", "description", "owner_email", "retention_days"];

pub async fn create_namespace(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    Params::parse(raw.as_deref(), NO_PARAMS)?;
    let body = Body::new(json_body(body)?, NAMESPACE_FIELDS)?;
    let name = body
        .string("name")?
        .filter(|name| !name.is_empty())
        .ok_or_else(|| ApiError::bad_request("field 'name' is required"))?;
    let retention = match body.value("retention_days") {
        None => None,
        Some(days) => match days.as_f64() {
            Some(days) if days > 0.0 && days <= 36_500.0 => {
                Some(Duration::from_secs_f64(days * 86_400.0))
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "'retention_days' must be a number of days from 0 to 36500, not {days}"
                )));
            }
        },
    };
    let created = engine
        .register_namespace(
            name,
            body.string("description")?.unwrap_or_default().to_owned(),
            body.string("owner_email")?.unwrap_or_default().to_owned(),
            retention,
            Default::default(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(namespace(&created))))
}
