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
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::executions::inputs_from;
use crate::render;
use crate::request::{Body, NAMESPACE_PARAMS, NO_FIELDS, Params, json_body, parse_time};

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

pub async fn list(State(engine): State<Engine>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let plans = engine.plans(params.namespace()).await?;
    Ok(Json(json!({
        "plans": plans.iter().map(plan).collect::<Vec<_>>(),
    })))
}

pub async fn create(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
    Ok((StatusCode::CREATED, Json(plan(&created))))
}

pub async fn get(
    State(engine): State<Engine>,
    Path(plan_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    Ok(Json(plan(
        &engine.plan(params.namespace(), &plan_id).await?,
    )))
}

/// `PATCH`: changes the fields given; `version`, when given, must be the one read.
pub async fn edit(
    State(engine): State<Engine>,
    Path(plan_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(plan(&edited)))
}

pub const DELETE_PARAMS: &[&str] = &["namespace", "version"];

pub async fn delete(
    State(engine): State<Engine>,
    Path(plan_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), DELETE_PARAMS)?;
    let version = params
        .get("version")
        .map(|_| params.integer("version", 1, i64::MAX, 1))
        .transpose()?;
    engine
        .delete_plan(params.namespace(), &plan_id, version)
        .await?;
    Ok(Json(json!({"id": plan_id, "deleted": true})))
}

/// `POST .../{id}/start`: starts it now; answers the run it became.
pub async fn start(
    State(engine): State<Engine>,
    Path(plan_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    Body::new(json_body(body)?, NO_FIELDS)?;
    let run = engine.start_plan(params.namespace(), &plan_id).await?;
    Ok(Json(json!({
        "id": plan_id,
        "started": true,
        "namespace": run.namespace,
        "workflow_id": run.workflow_id,
        "run_id": run.run_id,
    })))
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

fn plan(plan: &PlannedRun) -> Value {
    json!({
        "namespace": plan.namespace,
        "id": plan.id,
        "version": plan.version,
        "workflow_type": plan.what.workflow_type,
        "task_queue": plan.what.task_queue,
        "workflow_id": plan.what.workflow_id,
        "input": crate::payloads::payloads(plan.what.input.as_ref()),
        "start_at": render::opt_time(plan.start_at),
        "note": plan.note,
        "create_time": render::time(plan.create_time),
        "update_time": render::opt_time(plan.update_time),
        "start_error": plan.start_error,
    })
}
