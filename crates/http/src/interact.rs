//! Asking a run and counting runs: `POST .../query` and `GET /api/v1/executions-count`.

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use keel_engine::{Engine, QueryOutcome, RejectCondition, UpdateWaitStage, WorkflowQuery};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::executions::{FILTER_PARAMS, filter_of, handler_name, inputs_from, not_found};
use crate::request::{Body, NAMESPACE_PARAMS, Params, RUN_PARAMS, json_body, resolve};

/// How long a query or an update waits for a worker's answer unless the request says
/// otherwise.
const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ANSWER_TIMEOUT_MS: u64 = 60_000;

pub const QUERY_FIELDS: &[&str] = &["name", "input", "inputs", "timeout_ms"];
pub const UPDATE_FIELDS: &[&str] = &["name", "input", "inputs", "timeout_ms", "update_id"];

pub async fn query(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), RUN_PARAMS)?;
    let body = Body::new(json_body(body)?, QUERY_FIELDS)?;
    let name = handler_name(&body, "query")?;
    let inputs = inputs_from(&body)?;
    let timeout = timeout_of(&body)?;
    let key = resolve(&engine, &params, &workflow_id).await?;
    let question = WorkflowQuery {
        query_type: name,
        args: (!inputs.is_empty()).then(|| keel_wire::json::encode_payloads(&inputs)),
        header: Default::default(),
    };
    let outcome = engine
        .query(
            &key,
            question,
            RejectCondition::None,
            Instant::now() + timeout,
        )
        .await
        .map_err(|e| not_found(e, &key))?;
    match outcome {
        QueryOutcome::Answered(result) => Ok(Json(json!({
            "workflow_id": key.workflow_id,
            "run_id": key.run_id,
            "result": crate::payloads::payloads(result.as_ref()),
        }))),
        QueryOutcome::Rejected(status) => Err(ApiError::conflict(format!(
            "the query was rejected: the run is {status:?}"
        ))),
    }
}

/// `POST .../update`: admits an update and waits (until `timeout_ms`) for its outcome.
pub async fn update(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), RUN_PARAMS)?;
    let body = Body::new(json_body(body)?, UPDATE_FIELDS)?;
    let name = handler_name(&body, "update")?;
    let inputs = inputs_from(&body)?;
    let timeout = timeout_of(&body)?;
    let update_id = body
        .string("update_id")?
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let key = resolve(&engine, &params, &workflow_id).await?;
    let request = keel_wire::json::encode_update_request(
        &update_id,
        &name,
        &inputs,
        crate::executions::IDENTITY,
    );
    let status = engine
        .update_workflow(
            &key,
            &update_id,
            request,
            UpdateWaitStage::Completed,
            Instant::now() + timeout,
        )
        .await
        .map_err(|e| not_found(e, &key))?;
    let mut answer = json!({
        "workflow_id": key.workflow_id,
        "run_id": key.run_id,
        "update_id": update_id,
        "stage": match status.stage {
            UpdateWaitStage::Admitted => "admitted",
            UpdateWaitStage::Accepted => "accepted",
            UpdateWaitStage::Completed => "completed",
        },
    });
    let outcome = if status.aborted {
        Some(
            json!({"failure": {"message": "the run closed before the update completed", "kind": "application"}}),
        )
    } else {
        status.outcome.as_ref().map(crate::payloads::update_outcome)
    };
    if let (Value::Object(fields), Some(Value::Object(outcome))) = (&mut answer, outcome) {
        fields.extend(outcome);
    }
    Ok(Json(answer))
}

fn timeout_of(body: &Body) -> ApiResult<Duration> {
    match body.value("timeout_ms") {
        None => Ok(DEFAULT_ANSWER_TIMEOUT),
        Some(value) => match value.as_u64() {
            Some(ms) if (1..=MAX_ANSWER_TIMEOUT_MS).contains(&ms) => Ok(Duration::from_millis(ms)),
            _ => Err(ApiError::bad_request(format!(
                "field 'timeout_ms' must be an integer from 1 to {MAX_ANSWER_TIMEOUT_MS}, not {value}"
            ))),
        },
    }
}

/// How many executions a filter matches: the list route's filter parameters, no paging.
pub async fn count(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let known: Vec<&str> = FILTER_PARAMS
        .iter()
        .chain(NAMESPACE_PARAMS)
        .copied()
        .collect();
    let params = Params::parse(raw.as_deref(), &known)?;
    let count = engine
        .count_executions(params.namespace(), &filter_of(&engine, &params)?)
        .await?;
    Ok(Json(json!({ "count": count })))
}
