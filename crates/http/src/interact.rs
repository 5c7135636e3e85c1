//! Asking a run and counting runs: `POST .../query` and `GET /api/v1/executions-count`.

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use keel_engine::{Engine, QueryOutcome, RejectCondition, UpdateWaitStage, WorkflowQuery};
use serde::Serialize;

use utoipa::{OpenApi, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::executions::{
    ExecutionFilter, FILTER_PARAMS, filter_of, handler_name, inputs_from, not_found,
};
use crate::openapi::{Conflict, NamespaceParam, NotFound, RunParam, WorkflowIdPath};
use crate::payloads::{Failure, FailureKind, Payloads, UpdateOutcome, payloads};
use crate::request::{Body, NAMESPACE_PARAMS, Params, RUN_PARAMS, json_body, resolve};

#[derive(OpenApi)]
#[openapi(paths(query, update, count))]
pub struct Api;

/// How long a query or an update waits for a worker's answer unless the request says
/// otherwise.
const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ANSWER_TIMEOUT_MS: u64 = 60_000;

pub const QUERY_FIELDS: &[&str] = &["name", "input", "inputs", "timeout_ms"];
pub const UPDATE_FIELDS: &[&str] = &["name", "input", "inputs", "timeout_ms", "update_id"];

/// A query to ask a run.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct QueryRequest {
    /// The query's name (`__stack_trace` and `__temporal_workflow_metadata` are built into
    /// the SDKs).
    #[schema(min_length = 1)]
    name: String,
    /// One argument, any JSON value.
    input: Option<crate::payloads::Payload>,
    /// Several arguments, instead of `input`.
    inputs: Option<Payloads>,
    /// How long to wait for a worker's answer, in milliseconds (default 10000).
    #[schema(minimum = 1, maximum = 60000)]
    timeout_ms: Option<u64>,
}

/// A worker's answer to a query.
#[derive(Serialize, ToSchema)]
pub struct QueryResult {
    workflow_id: String,
    run_id: String,
    /// The answer's payloads, or null.
    result: Option<Payloads>,
}

/// Query an execution
///
/// Asks the run a query through a worker and answers its result. Also works on closed
/// runs, if a worker for its queue runs.
#[utoipa::path(
    post,
    path = "/api/v1/executions/{workflow_id}/query",
    operation_id = "queryExecution",
    tag = "Executions",
    params(WorkflowIdPath, NamespaceParam, RunParam),
    request_body(content = QueryRequest, description = "The query and its arguments."),
    responses(
        (status = 200, description = "The worker's answer.", body = QueryResult),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn query(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<QueryResult>> {
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
        QueryOutcome::Answered(result) => Ok(Json(QueryResult {
            workflow_id: key.workflow_id,
            run_id: key.run_id,
            result: payloads(result.as_ref()),
        })),
        QueryOutcome::Rejected(status) => Err(ApiError::conflict(format!(
            "the query was rejected: the run is {status:?}"
        ))),
    }
}

/// An update to send a run.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct UpdateRequest {
    /// The update's name.
    #[schema(min_length = 1)]
    name: String,
    /// One argument, any JSON value.
    input: Option<crate::payloads::Payload>,
    /// Several arguments, instead of `input`.
    inputs: Option<Payloads>,
    /// How long to wait for the outcome, in milliseconds (default 10000).
    #[schema(minimum = 1, maximum = 60000)]
    timeout_ms: Option<u64>,
    /// Idempotency: an id already used answers that update's outcome.
    update_id: Option<String>,
}

/// Where an update stands, with its result or failure once completed.
#[derive(Serialize, ToSchema)]
pub struct UpdateResult {
    workflow_id: String,
    run_id: String,
    update_id: String,
    stage: UpdateStage,
    /// The handler's result payloads once it completed successfully; else null.
    result: Option<Payloads>,
    /// Why the update was rejected or failed; else null.
    failure: Option<Failure>,
}

/// How far an update got: admitted (waiting for a worker), accepted by the validator, or
/// completed.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdateStage {
    Admitted,
    Accepted,
    Completed,
}

/// Update an execution
///
/// Admits an update (validated by the workflow's validator, then run by its handler) and
/// waits up to `timeout_ms` for its outcome.
#[utoipa::path(
    post,
    path = "/api/v1/executions/{workflow_id}/update",
    operation_id = "updateExecution",
    tag = "Executions",
    params(WorkflowIdPath, NamespaceParam, RunParam),
    request_body(content = UpdateRequest, description = "The update and its arguments."),
    responses(
        (status = 200, description = "Where the update stands, with its result or failure once completed.", body = UpdateResult),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn update(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<UpdateResult>> {
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
    let (result, failure) = if status.aborted {
        let failure = Failure::new(
            FailureKind::Application,
            "the run closed before the update completed",
        );
        (None, Some(failure))
    } else {
        match status.outcome.as_ref().map(UpdateOutcome::from) {
            None => (None, None),
            Some(UpdateOutcome::Succeeded(result)) => (result, None),
            Some(UpdateOutcome::Failed(failure)) => (None, Some(failure)),
        }
    };
    Ok(Json(UpdateResult {
        workflow_id: key.workflow_id,
        run_id: key.run_id,
        update_id,
        stage: match status.stage {
            UpdateWaitStage::Admitted => UpdateStage::Admitted,
            UpdateWaitStage::Accepted => UpdateStage::Accepted,
            UpdateWaitStage::Completed => UpdateStage::Completed,
        },
        result,
        failure,
    }))
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

/// How many executions match.
#[derive(Serialize, ToSchema)]
pub struct CountResult {
    #[schema(minimum = 0)]
    count: i64,
}

/// Count executions
///
/// How many executions the list filters match (the same parameters as the list, without
/// paging).
#[utoipa::path(
    get,
    path = "/api/v1/executions-count",
    operation_id = "countExecutions",
    tag = "Executions",
    params(NamespaceParam, ExecutionFilter),
    responses(
        (status = 200, description = "The count.", body = CountResult),
        (status = 404, response = NotFound),
    ),
)]
pub async fn count(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<CountResult>> {
    let known: Vec<&str> = FILTER_PARAMS
        .iter()
        .chain(NAMESPACE_PARAMS)
        .copied()
        .collect();
    let params = Params::parse(raw.as_deref(), &known)?;
    let count = engine
        .count_executions(params.namespace(), &filter_of(&engine, &params)?)
        .await?;
    Ok(Json(CountResult { count }))
}
