//! `/api/v1/plans`: planned runs, saved starts that are not executions yet. Create, read,
//! edit and delete them; start one now (`POST .../{id}/start`), or let its `start_at` come.
//! A started plan is gone and its run is answered.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use keel_core::plan::{FieldEdit, PlanEdit, PlannedRun, PlannedStart};
use keel_engine::Engine;
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::executions::inputs_from;
use crate::openapi::{Conflict, NamespaceParam, NotFound, Timestamp};
use crate::payloads::{Payloads, payloads};
use crate::request::{Body, NAMESPACE_PARAMS, NO_FIELDS, Params, json_body, parse_time};

#[derive(OpenApi)]
#[openapi(paths(list, create, get, edit, delete, start))]
pub struct Api;

/// Work saved to start later. Starting it (by hand or at start_at) removes it; the
/// execution is what remains.
#[derive(Serialize, ToSchema)]
#[schema(as = PlannedRun)]
pub struct PlanView {
    namespace: String,
    id: String,
    /// Bumped by every change; send it back to edit or delete only what you read.
    version: i64,
    workflow_type: String,
    task_queue: String,
    workflow_id: String,
    /// The input payloads; null when the run starts without input.
    input: Option<Payloads>,
    start_at: Option<Timestamp>,
    note: String,
    create_time: Timestamp,
    update_time: Option<Timestamp>,
    /// Why its last start at start_at failed (it is tried again every 30 s until edited,
    /// started or deleted).
    start_error: Option<String>,
}

impl From<&PlannedRun> for PlanView {
    fn from(plan: &PlannedRun) -> PlanView {
        PlanView {
            namespace: plan.namespace.clone(),
            id: plan.id.clone(),
            version: plan.version,
            workflow_type: plan.what.workflow_type.clone(),
            task_queue: plan.what.task_queue.clone(),
            workflow_id: plan.what.workflow_id.clone(),
            input: payloads(plan.what.input.as_ref()),
            start_at: plan.start_at.map(Timestamp),
            note: plan.note.clone(),
            create_time: Timestamp(plan.create_time),
            update_time: plan.update_time.map(Timestamp),
            start_error: plan.start_error.clone(),
        }
    }
}

/// The namespace's planned runs.
#[derive(Serialize, ToSchema)]
pub struct PlanList {
    plans: Vec<PlanView>,
}

/// A new plan.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct PlanCreate {
    /// The plan's id; generated when absent.
    id: Option<String>,
    /// The workflow type to start.
    workflow_type: String,
    /// The task queue its workers poll.
    task_queue: String,
    /// The workflow id the run gets; the plan's id when empty.
    workflow_id: Option<String>,
    /// The workflow's one input, any JSON value.
    input: Option<Value>,
    /// Several inputs (instead of input).
    inputs: Option<Vec<Value>>,
    /// When it starts by itself; null or absent: when a person starts it.
    start_at: Option<Timestamp>,
    #[schema(max_length = 4000)]
    note: Option<String>,
}

/// What an edit changes: only the fields given.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct PlanChange {
    /// The workflow type to start.
    workflow_type: Option<String>,
    /// The task queue its workers poll.
    task_queue: Option<String>,
    /// The workflow id the run gets; the plan's id when empty.
    workflow_id: Option<String>,
    /// The workflow's one input, any JSON value.
    input: Option<Value>,
    /// Several inputs (instead of input).
    inputs: Option<Vec<Value>>,
    /// When it starts by itself; null: when a person starts it; absent: unchanged.
    start_at: Option<Timestamp>,
    #[schema(max_length = 4000)]
    note: Option<String>,
    /// Change it only if the plan is still at this version.
    version: Option<i64>,
}

/// A start that must have no fields (`{}` or no body).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// A deleted plan.
#[derive(Serialize, ToSchema)]
pub struct PlanDeleted {
    id: String,
    deleted: bool,
}

/// The run a started plan became.
#[derive(Serialize, ToSchema)]
pub struct PlanStarted {
    id: String,
    started: bool,
    namespace: String,
    workflow_id: String,
    run_id: String,
}

/// The plan a path names.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by axum's `Path`; this describes it
pub struct PlanIdPath {
    /// The plan's id.
    plan_id: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by name (`DELETE_PARAMS`); this describes it
pub struct DeleteParams {
    /// The namespace the request concerns.
    #[param(default = "default", min_length = 1)]
    namespace: Option<String>,
    /// Only if the plan is still at this version.
    #[param(minimum = 1)]
    version: Option<i64>,
}

/// What a new plan says.
pub const CREATE_FIELDS: &[&str] = &[
    "id",
    "workflow_type",
    "task_queue",
    "workflow_id",
    "input",
    "inputs",
    "start_at",
    "note",
];
/// What an edit may change, and the version it expects.
pub const EDIT_FIELDS: &[&str] = &[
    "workflow_type",
    "task_queue",
    "workflow_id",
    "input",
    "inputs",
    "start_at",
    "note",
    "version",
];

/// List planned runs
///
/// The soonest first; those without a start time last.
#[utoipa::path(
    get,
    path = "/api/v1/plans",
    operation_id = "listPlans",
    tag = "Plans",
    params(NamespaceParam),
    responses(
        (status = 200, description = "The namespace's planned runs.", body = PlanList),
        (status = 404, response = NotFound),
    ),
)]
pub async fn list(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<PlanList>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let plans = engine.plans(params.namespace()).await?;
    Ok(Json(PlanList {
        plans: plans.iter().map(PlanView::from).collect(),
    }))
}

/// Save a planned run
#[utoipa::path(
    post,
    path = "/api/v1/plans",
    operation_id = "createPlan",
    tag = "Plans",
    params(NamespaceParam),
    request_body = PlanCreate,
    responses(
        (status = 201, description = "Saved.", body = PlanView),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn create(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<PlanView>)> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let body = Body::new(json_body(body)?, CREATE_FIELDS)?;
    let required = |name: &str, what: &str| -> ApiResult<String> {
        body.string(name)?
            .filter(|value| !value.trim().is_empty())
            .map(str::to_owned)
            .ok_or_else(|| ApiError::bad_request(format!("field '{name}' ({what}) is required")))
    };
    let what = PlannedStart {
        workflow_type: required("workflow_type", "the workflow type to start")?,
        task_queue: required("task_queue", "the task queue its workers poll")?,
        workflow_id: body.string("workflow_id")?.unwrap_or_default().to_owned(),
        input: input_of(&body)?.applied_to(None),
    };
    let created = engine
        .create_plan(
            params.namespace(),
            body.string("id")?.unwrap_or_default(),
            what,
            start_at_of(&body)?.applied_to(None),
            body.string("note")?.unwrap_or_default().to_owned(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(PlanView::from(&created))))
}

/// One planned run
#[utoipa::path(
    get,
    path = "/api/v1/plans/{plan_id}",
    operation_id = "getPlan",
    tag = "Plans",
    params(PlanIdPath, NamespaceParam),
    responses(
        (status = 200, description = "The plan.", body = PlanView),
        (status = 404, response = NotFound),
    ),
)]
pub async fn get(
    State(engine): State<Engine>,
    Path(plan_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<PlanView>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let plan = engine.plan(params.namespace(), &plan_id).await?;
    Ok(Json(PlanView::from(&plan)))
}

/// Change a planned run
///
/// Changes only the fields given; start_at null clears the start time. With version, only
/// if the plan is still at that version (409 otherwise).
#[utoipa::path(
    patch,
    path = "/api/v1/plans/{plan_id}",
    operation_id = "editPlan",
    tag = "Plans",
    params(PlanIdPath, NamespaceParam),
    request_body = PlanChange,
    responses(
        (status = 200, description = "The changed plan.", body = PlanView),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn edit(
    State(engine): State<Engine>,
    Path(plan_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<PlanView>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let fields = json_body(body)?;
    let start_at_given = fields.contains_key("start_at");
    let body = Body::new(fields, EDIT_FIELDS)?;
    let text =
        |name: &str| -> ApiResult<Option<String>> { Ok(body.string(name)?.map(str::to_owned)) };
    let edit = PlanEdit {
        workflow_type: text("workflow_type")?,
        task_queue: text("task_queue")?,
        workflow_id: text("workflow_id")?,
        input: input_of(&body)?,
        // `"start_at": null` clears it: the plan then waits for a person to start it.
        start_at: if start_at_given {
            start_at_of(&body)?
        } else {
            FieldEdit::Keep
        },
        note: text("note")?,
    };
    let version = match body.value("version") {
        None => None,
        Some(value) => Some(value.as_i64().ok_or_else(|| {
            ApiError::bad_request(format!(
                "field 'version' must be the plan's version number, not {value}"
            ))
        })?),
    };
    let edited = engine
        .edit_plan(params.namespace(), &plan_id, edit, version)
        .await?;
    Ok(Json(PlanView::from(&edited)))
}

pub const DELETE_PARAMS: &[&str] = &["namespace", "version"];

/// Delete a planned run
#[utoipa::path(
    delete,
    path = "/api/v1/plans/{plan_id}",
    operation_id = "deletePlan",
    tag = "Plans",
    params(PlanIdPath, DeleteParams),
    responses(
        (status = 200, description = "Deleted.", body = PlanDeleted),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn delete(
    State(engine): State<Engine>,
    Path(plan_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<PlanDeleted>> {
    let params = Params::parse(raw.as_deref(), DELETE_PARAMS)?;
    let version = params
        .get("version")
        .map(|_| params.integer("version", 1, i64::MAX, 1))
        .transpose()?;
    engine
        .delete_plan(params.namespace(), &plan_id, version)
        .await?;
    Ok(Json(PlanDeleted {
        id: plan_id,
        deleted: true,
    }))
}

/// Start a planned run now
///
/// Starts its workflow and removes the plan. Starting the same plan twice at once starts
/// one run.
#[utoipa::path(
    post,
    path = "/api/v1/plans/{plan_id}/start",
    operation_id = "startPlan",
    tag = "Plans",
    params(PlanIdPath, NamespaceParam),
    request_body(content = Option<NoFields>),
    responses(
        (status = 200, description = "The run it became.", body = PlanStarted),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn start(
    State(engine): State<Engine>,
    Path(plan_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<PlanStarted>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    Body::new(json_body(body)?, NO_FIELDS)?;
    let run = engine.start_plan(params.namespace(), &plan_id).await?;
    Ok(Json(PlanStarted {
        id: plan_id,
        started: true,
        namespace: run.namespace,
        workflow_id: run.workflow_id,
        run_id: run.run_id,
    }))
}

/// The payloads of `input`/`inputs` when either is given (`inputs: []` clears the input).
fn input_of(body: &Body) -> ApiResult<FieldEdit<keel_core::Blob>> {
    if body.value("input").is_none() && body.value("inputs").is_none() {
        return Ok(FieldEdit::Keep);
    }
    let inputs = inputs_from(body)?;
    Ok(if inputs.is_empty() {
        FieldEdit::Clear
    } else {
        FieldEdit::Set(keel_wire::json::encode_payloads(&inputs))
    })
}

/// `start_at` as given: a time, or nothing (`null`, or absent) for no start time.
fn start_at_of(body: &Body) -> ApiResult<FieldEdit<keel_core::Time>> {
    Ok(match body.string("start_at")? {
        None => FieldEdit::Clear,
        Some(raw) => FieldEdit::Set(parse_time("start_at", raw)?),
    })
}
