//! Task queues, workers and namespaces.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use keel_core::Namespace;
use keel_engine::Engine;
use keel_engine::operators::{QueueKindInfo, TaskQueueInfo};
use serde::Serialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::openapi::{Conflict, Millis, NamespaceParam, NotFound, Timestamp};
use crate::request::{Body, NAMESPACE_PARAMS, NO_PARAMS, Params, json_body};

#[derive(OpenApi)]
#[openapi(paths(list, describe, workers, namespaces, create_namespace))]
pub struct Api;

/// One kind (workflow or activity) of a task queue.
#[derive(Serialize, ToSchema)]
pub struct QueueKind {
    /// Workers polling this queue lately.
    pollers: usize,
    /// Tasks waiting for a worker.
    backlog: u64,
    /// Polls waiting for a task now.
    polls_waiting: u64,
    /// Age of the oldest waiting task; null when none waits.
    oldest_task_age_ms: Option<Millis>,
    /// Tasks handed to workers per second, lately.
    #[schema(minimum = 0)]
    dispatch_rate_per_s: f64,
    /// When a worker last polled; null if none has lately.
    last_poll: Option<Timestamp>,
}

impl From<&QueueKindInfo> for QueueKind {
    fn from(kind: &QueueKindInfo) -> QueueKind {
        QueueKind {
            pollers: kind.pollers.len(),
            backlog: kind.backlog as u64,
            polls_waiting: kind.polls_waiting as u64,
            oldest_task_age_ms: kind.oldest_task_age.map(Millis),
            dispatch_rate_per_s: kind.dispatch_rate_per_second,
            last_poll: kind.last_poll().map(Timestamp),
        }
    }
}

/// A `QueueKind` with the workers polling it.
#[derive(Serialize, ToSchema)]
pub struct QueueKindDetail {
    #[serde(flatten)]
    kind: QueueKind,
    /// The workers polling lately, most recent first.
    poller_list: Vec<Poller>,
}

/// A worker polling a queue.
#[derive(Serialize, ToSchema)]
pub struct Poller {
    /// The worker's identity.
    identity: String,
    /// When it last polled.
    last_poll: Timestamp,
}

impl From<&QueueKindInfo> for QueueKindDetail {
    fn from(kind: &QueueKindInfo) -> QueueKindDetail {
        QueueKindDetail {
            kind: QueueKind::from(kind),
            poller_list: kind
                .pollers
                .iter()
                .map(|poller| Poller {
                    identity: poller.identity.clone(),
                    last_poll: Timestamp(poller.last_access_time),
                })
                .collect(),
        }
    }
}

/// A task queue, its pollers and backlogs.
#[derive(Serialize, ToSchema)]
pub struct TaskQueue {
    /// The queue's name.
    name: String,
    /// Its workflow tasks.
    workflow: QueueKind,
    /// Its activity tasks.
    activity: QueueKind,
}

/// A task queue with the workers polling it.
#[derive(Serialize, ToSchema)]
pub struct TaskQueueDetail {
    /// The queue's name.
    name: String,
    /// Its workflow tasks.
    workflow: QueueKindDetail,
    /// Its activity tasks.
    activity: QueueKindDetail,
}

/// The task queues.
#[derive(Serialize, ToSchema)]
pub struct TaskQueueList {
    /// The namespace's task queues.
    task_queues: Vec<TaskQueue>,
}

/// The queue a path names.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by axum's `Path`; this describes it
pub struct QueueNamePath {
    /// The task queue's name, percent-encoded as one path segment.
    #[param(min_length = 1)]
    name: String,
}

/// List task queues
///
/// The namespace's task queues with their pollers and backlogs.
#[utoipa::path(
    get,
    path = "/api/v1/task-queues",
    operation_id = "listTaskQueues",
    tag = "Task queues",
    params(NamespaceParam),
    responses(
        (status = 200, description = "The namespace's task queues.", body = TaskQueueList),
        (status = 404, response = NotFound),
    ),
)]
pub async fn list(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<TaskQueueList>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let queues = engine.task_queues(params.namespace())?;
    let task_queues = queues
        .iter()
        .map(|info: &TaskQueueInfo| TaskQueue {
            name: info.name.clone(),
            workflow: QueueKind::from(&info.workflow),
            activity: QueueKind::from(&info.activity),
        })
        .collect();
    Ok(Json(TaskQueueList { task_queues }))
}

/// Get a task queue
///
/// One task queue and the workers polling it. Any name is a queue: one nobody polls and
/// nothing waits on answers empty figures.
#[utoipa::path(
    get,
    path = "/api/v1/task-queues/{name}",
    operation_id = "getTaskQueue",
    tag = "Task queues",
    params(QueueNamePath, NamespaceParam),
    responses(
        (status = 200, description = "The queue and the workers polling it.", body = TaskQueueDetail),
        (status = 404, response = NotFound),
    ),
)]
pub async fn describe(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<TaskQueueDetail>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let queue = engine.task_queue(params.namespace(), &name)?;
    Ok(Json(TaskQueueDetail {
        name: queue.name.clone(),
        workflow: QueueKindDetail::from(&queue.workflow),
        activity: QueueKindDetail::from(&queue.activity),
    }))
}

/// A worker seen polling lately.
#[derive(Serialize, ToSchema)]
pub struct Worker {
    /// The worker's identity.
    identity: String,
    /// Names of the queues it polls.
    task_queues: Vec<String>,
    /// When it last polled.
    last_seen: Timestamp,
    /// Tasks it holds now.
    tasks_in_flight: u64,
    /// Polls it has waiting now.
    polls_waiting: u64,
    /// Share of its capacity in use, from 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    utilization: f64,
}

/// The workers.
#[derive(Serialize, ToSchema)]
pub struct WorkerList {
    /// The workers.
    workers: Vec<Worker>,
}

/// List workers
///
/// The workers polling the namespace's task queues lately, with how busy they are.
#[utoipa::path(
    get,
    path = "/api/v1/workers",
    operation_id = "listWorkers",
    tag = "Workers",
    params(NamespaceParam),
    responses(
        (status = 200, description = "The workers seen polling lately.", body = WorkerList),
        (status = 404, response = NotFound),
    ),
)]
pub async fn workers(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<WorkerList>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let workers = engine.workers(params.namespace())?;
    let workers = workers
        .iter()
        .map(|worker| Worker {
            identity: worker.identity.clone(),
            task_queues: worker.task_queues.clone(),
            last_seen: Timestamp(worker.last_seen),
            tasks_in_flight: worker.tasks_in_flight as u64,
            polls_waiting: worker.polls_waiting as u64,
            utilization: worker.utilization,
        })
        .collect();
    Ok(Json(WorkerList { workers }))
}

/// A namespace.
#[derive(Serialize, ToSchema)]
#[schema(as = Namespace)]
pub struct NamespaceView {
    /// The namespace's name.
    name: String,
    /// Its id.
    id: String,
    /// What the namespace is for.
    description: String,
    /// Who to ask about it.
    owner_email: String,
    /// How long closed executions are kept, in days.
    #[schema(minimum = 0)]
    retention_days: f64,
    /// When it was made.
    created: Timestamp,
    /// The custom search attributes it registered, each with its type
    /// (`Keyword`, `Text`, `Int`, `Double`, `Bool`, `Datetime`, `KeywordList`).
    search_attributes: BTreeMap<String, String>,
    /// Its settings as text (Temporal's namespace data), e.g. `keel.flow.shell: off`.
    data: BTreeMap<String, String>,
}

impl From<&Namespace> for NamespaceView {
    fn from(namespace: &Namespace) -> NamespaceView {
        NamespaceView {
            name: namespace.name.clone(),
            id: namespace.id.clone(),
            description: namespace.description.clone(),
            owner_email: namespace.owner_email.clone(),
            retention_days: namespace.retention.as_secs_f64() / 86_400.0,
            created: Timestamp(namespace.created),
            search_attributes: namespace
                .search_attributes
                .iter()
                .map(|(name, kind)| (name.clone(), kind.name().to_owned()))
                .collect(),
            data: namespace.data.clone(),
        }
    }
}

/// The namespaces.
#[derive(Serialize, ToSchema)]
pub struct NamespaceList {
    /// The namespaces, by name.
    namespaces: Vec<NamespaceView>,
}

/// List namespaces
#[utoipa::path(
    get,
    path = "/api/v1/namespaces",
    operation_id = "listNamespaces",
    tag = "Namespaces",
    responses((status = 200, description = "The namespaces.", body = NamespaceList)),
)]
pub async fn namespaces(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<NamespaceList>> {
    Params::parse(raw.as_deref(), NO_PARAMS)?;
    let mut namespaces = engine.namespaces();
    namespaces.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(NamespaceList {
        namespaces: namespaces.iter().map(NamespaceView::from).collect(),
    }))
}

pub const NAMESPACE_FIELDS: &[&str] = &[
    "name",
    "description",
    "owner_email",
    "retention_days",
    "data",
];

/// A namespace to create.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct NamespaceCreate {
    /// The new namespace's name.
    #[schema(min_length = 1)]
    name: String,
    /// How long closed executions are kept, in days (at most 36500); absent: the server's
    /// default.
    #[schema(exclusive_minimum = 0, maximum = 36500)]
    retention_days: Option<f64>,
    /// What the namespace is for.
    description: Option<String>,
    /// Who to ask about it.
    owner_email: Option<String>,
    /// Settings as text, e.g. `{"keel.flow.shell": "off"}` to turn flows' shell tasks off
    /// in this namespace.
    data: Option<BTreeMap<String, String>>,
}

/// Create a namespace
///
/// Creates a namespace; `409 already_exists` if one has that name.
#[utoipa::path(
    post,
    path = "/api/v1/namespaces",
    operation_id = "createNamespace",
    tag = "Namespaces",
    request_body(content = NamespaceCreate, description = "The namespace to create."),
    responses(
        (status = 201, description = "The namespace was created.", body = NamespaceView),
        (status = 409, response = Conflict),
    ),
)]
pub async fn create_namespace(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<NamespaceView>)> {
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
            match body.value("data") {
                None => BTreeMap::new(),
                Some(serde_json::Value::Object(data)) => data
                    .iter()
                    .map(|(key, value)| match value {
                        serde_json::Value::String(text) => Ok((key.clone(), text.clone())),
                        other => Err(ApiError::bad_request(format!(
                            "'data.{key}' must be text, not {other}"
                        ))),
                    })
                    .collect::<ApiResult<_>>()?,
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "'data' must be an object of texts, not {other}"
                    )));
                }
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(NamespaceView::from(&created))))
}
