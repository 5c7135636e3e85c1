//! `/api/v1/executions`: list, detail, history, and the actions on one execution.

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use keel_core::overview::Phase;
use keel_core::reset::ResetPoint;
use keel_core::visibility::{CompareOp, Condition, Direction, Field, Filter, SortKey};
use keel_core::{CancelRequest, ExecutionKey, Signal};
use keel_engine::{Engine, HistoryRequest, ResetWorkflow};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::render;
use crate::request::{
    Body, Params, RUN_PARAMS, decode_cursor, encode_cursor, json_body, parse_time, resolve,
};

/// Who the history records as having acted, for actions taken over REST.
pub const IDENTITY: &str = "keel-rest";

/// The list parameters that filter: the list route's, and a bulk action's `filter` object.
pub const FILTER_PARAMS: &[&str] = &[
    "status",
    "phase",
    "type",
    "queue",
    "worker",
    "parent",
    "search",
    "started_after",
    "started_before",
    "closed_after",
    "closed_before",
    "query",
];
/// What the list route takes besides the filter.
pub const PAGE_PARAMS: &[&str] = &["namespace", "sort", "limit", "cursor"];
/// What one execution's route takes.
pub const GET_PARAMS: &[&str] = &["namespace", "run_id", "view"];
pub const HISTORY_PARAMS: &[&str] = &["namespace", "run_id", "cursor", "limit", "format"];
/// The body fields the actions on one run take.
pub const REASON_FIELDS: &[&str] = &["reason"];
pub const SIGNAL_FIELDS: &[&str] = &["name", "input", "inputs"];
pub const RESET_FIELDS: &[&str] = &["to", "reason", "reapply_signals", "request_id"];

pub async fn list(State(engine): State<Engine>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let known: Vec<&str> = FILTER_PARAMS.iter().chain(PAGE_PARAMS).copied().collect();
    let params = Params::parse(raw.as_deref(), &known)?;
    let mut filter = filter_of(&engine, &params)?;
    filter.order_by = vec![sort_order(&params)?];
    let limit = params.integer("limit", 1, 1000, 50)?;
    let token = decode_cursor(&params)?;
    let page = engine
        .list_executions(params.namespace(), &filter, limit as usize, &token)
        .await?;
    Ok(Json(json!({
        "executions": page.executions.iter().map(render::summary).collect::<Vec<_>>(),
        "next_cursor": encode_cursor(&page.next_page_token),
    })))
}

/// The list filter a list request's parameters mean. Also what a bulk action's `filter`
/// object means. Values are conditions, never quoted into query text; only `query` is
/// text, in Temporal's list-filter language, and it may not order (that is `sort`).
pub fn filter_of(engine: &Engine, params: &Params) -> ApiResult<Filter> {
    let mut conditions = Vec::new();
    if let Some(statuses) = params.get("status") {
        let statuses = split_list(statuses)
            .map(|name| {
                render::parse_status(name).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "status '{name}' is not one of running, completed, failed, canceled, terminated, timed_out, continued_as_new"
                    ))
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        conditions.push(Condition::status_in(&statuses));
    }
    if let Some(phases) = params.get("phase") {
        let phases = split_list(phases)
            .map(|name| {
                Phase::from_name(name).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "phase '{name}' is not one of pending, running, completed, failed, cancelled"
                    ))
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        conditions.push(Condition::phase_in(&phases));
    }
    for (param, field) in [
        ("type", Field::WorkflowType),
        ("queue", Field::TaskQueue),
        ("worker", Field::WorkerIdentity),
        ("parent", Field::ParentWorkflowId),
    ] {
        if let Some(value) = params.get(param) {
            conditions.push(Condition::equals(field, value));
        }
    }
    if let Some(text) = params.get("search") {
        let mut alternatives = vec![Condition::starts_with(Field::WorkflowId, text)];
        if uuid::Uuid::parse_str(text).is_ok() {
            alternatives.push(Condition::equals(Field::RunId, text));
        }
        conditions.extend(Condition::any(alternatives));
    }
    for (param, field, op) in [
        ("started_after", Field::StartTime, CompareOp::Ge),
        ("started_before", Field::StartTime, CompareOp::Lt),
        ("closed_after", Field::CloseTime, CompareOp::Ge),
        ("closed_before", Field::CloseTime, CompareOp::Lt),
    ] {
        if let Some(raw) = params.get(param) {
            conditions.push(Condition::time(field, op, parse_time(param, raw)?));
        }
    }
    if let Some(query) = params.get("query") {
        conditions.extend(query_condition(engine, params.namespace(), query)?);
    }
    Ok(Filter::all_of(conditions))
}

/// The condition of a `query` written in Temporal's list-filter language; ordering is the
/// `sort` parameter's, so a query that orders is refused (an ORDER BY inside a quoted value
/// is only text, and fine).
pub fn query_condition(
    engine: &Engine,
    namespace: &str,
    query: &str,
) -> ApiResult<Option<Condition>> {
    let parsed = engine.parse_query(namespace, query)?;
    if !parsed.order_by.is_empty() {
        return Err(ApiError::bad_request(
            "'query' may not contain ORDER BY; use the 'sort' parameter",
        ));
    }
    Ok(parsed.condition)
}

/// The order a list request's `sort` means.
fn sort_order(params: &Params) -> ApiResult<SortKey> {
    Ok(match params.get("sort").unwrap_or("start_time") {
        "start_time" | "-start_time" => SortKey::new(Field::StartTime, Direction::Desc),
        "+start_time" => SortKey::new(Field::StartTime, Direction::Asc),
        "close_time" | "-close_time" => SortKey::new(Field::CloseTime, Direction::Desc),
        "+close_time" => SortKey::new(Field::CloseTime, Direction::Asc),
        other => {
            return Err(ApiError::bad_request(format!(
                "sort '{other}' is not one of start_time, -start_time, +start_time, close_time, -close_time, +close_time"
            )));
        }
    })
}

fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

pub async fn get(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), GET_PARAMS)?;
    let key = resolve(&engine, &params, &workflow_id).await?;
    match params.get("view").unwrap_or("full") {
        "full" => {
            let run = engine
                .overview(&key)
                .await
                .map_err(|e| not_found(e, &key))?;
            Ok(Json(render::detail(&run)))
        }
        // What a list shows of the run, and why it waits: no history is read.
        "summary" => {
            let execution = engine
                .describe(&key)
                .await
                .map_err(|e| not_found(e, &key))?;
            let mut answer = render::summary(&keel_engine::ExecutionSummary::of(&execution));
            answer["pending_reason"] = engine
                .pending_reason(&execution)
                .as_ref()
                .map_or(Value::Null, render::pending_reason);
            Ok(Json(answer))
        }
        other => Err(ApiError::bad_request(format!(
            "view must be full or summary, not '{other}'"
        ))),
    }
}

pub async fn history(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), HISTORY_PARAMS)?;
    let key = resolve(&engine, &params, &workflow_id).await?;
    match params.get("format") {
        None | Some("keel") => {}
        Some("temporal") => {
            let events = whole_history(&engine, &key).await?;
            return Ok(Json(keel_wire::json::history_export(&events)));
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "format '{other}' is not one of keel, temporal"
            )));
        }
    }
    let limit = params.integer("limit", 1, 1000, 100)?;
    let page = engine
        .history(HistoryRequest {
            key: key.clone(),
            page_token: decode_cursor(&params)?,
            page_size: limit as usize,
            wait_new_event: false,
            close_event_only: false,
            deadline: Instant::now() + Duration::from_secs(10),
        })
        .await
        .map_err(|e| not_found(e, &key))?;
    Ok(Json(json!({
        "events": page.events.iter().map(crate::payloads::event).collect::<Vec<_>>(),
        "next_cursor": encode_cursor(&page.next_page_token),
    })))
}

pub async fn whole_history(
    engine: &Engine,
    key: &ExecutionKey,
) -> ApiResult<Vec<keel_core::Event>> {
    // `events` answers nothing for a run that does not exist; describe says NotFound.
    engine.describe(key).await.map_err(|e| not_found(e, key))?;
    Ok(engine.events(key, 1, usize::MAX).await?)
}

/// A run the engine says does not exist, in the API's words.
pub fn not_found(error: keel_engine::Error, key: &ExecutionKey) -> ApiError {
    match error {
        keel_engine::Error::NotFound(_) => ApiError::not_found(format!(
            "execution '{}' run '{}' not found in namespace '{}'",
            key.workflow_id, key.run_id, key.namespace
        )),
        other => other.into(),
    }
}

/// What an action on one run starts with: its query string and body read (only the
/// `fields` given are allowed), and the run it names, which must still be running (a
/// closed one is 409 rather than the engine's NotFound).
async fn running_target(
    engine: &Engine,
    workflow_id: &str,
    raw_query: Option<&str>,
    body: Result<Bytes, BytesRejection>,
    fields: &[&str],
) -> ApiResult<(ExecutionKey, Body)> {
    let params = Params::parse(raw_query, RUN_PARAMS)?;
    let body = Body::new(json_body(body)?, fields)?;
    let key = resolve(engine, &params, workflow_id).await?;
    let execution = engine
        .describe(&key)
        .await
        .map_err(|e| not_found(e, &key))?;
    if !execution.is_running() {
        return Err(ApiError::conflict(format!(
            "execution '{}' is already closed ({})",
            key.workflow_id,
            render::status(execution.status)
        )));
    }
    Ok((key, body))
}

fn acted_on(key: &ExecutionKey) -> Json<Value> {
    Json(json!({"workflow_id": key.workflow_id, "run_id": key.run_id}))
}

pub async fn cancel(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let (key, body) =
        running_target(&engine, &workflow_id, raw.as_deref(), body, REASON_FIELDS).await?;
    let reason = body.string("reason")?.unwrap_or_default().to_owned();
    cancel_run(&engine, &key, reason).await?;
    Ok(acted_on(&key))
}

pub async fn cancel_run(engine: &Engine, key: &ExecutionKey, reason: String) -> ApiResult<()> {
    let request = CancelRequest {
        reason,
        identity: IDENTITY.into(),
        external: None,
    };
    engine
        .request_cancel(key, request)
        .await
        .map_err(|e| not_found(e, key))
}

pub async fn terminate(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let (key, body) =
        running_target(&engine, &workflow_id, raw.as_deref(), body, REASON_FIELDS).await?;
    let reason = body.string("reason")?.unwrap_or_default();
    engine
        .terminate(&key, reason, None, IDENTITY)
        .await
        .map_err(|e| not_found(e, &key))?;
    Ok(acted_on(&key))
}

/// A signal's name and payloads from a body's `name` and `input` (one value) or `inputs`
/// (several).
pub fn signal_from(body: &Body) -> ApiResult<Signal> {
    let name = handler_name(body, "signal")?;
    let inputs = inputs_from(body)?;
    Ok(Signal {
        name,
        input: (!inputs.is_empty()).then(|| keel_wire::json::encode_payloads(&inputs)),
        header: Default::default(),
        identity: IDENTITY.into(),
        request_id: uuid::Uuid::new_v4().to_string(),
        external: None,
    })
}

/// The `name` a signal, query or update body must give: the handler it calls.
pub fn handler_name(body: &Body, what: &str) -> ApiResult<String> {
    body.string("name")?
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::bad_request(format!("field 'name' (the {what}'s name) is required"))
        })
}

/// The payloads a body gives as `input` (one JSON value) or `inputs` (an array of them).
pub fn inputs_from(body: &Body) -> ApiResult<Vec<Value>> {
    Ok(match (body.value("input"), body.value("inputs")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("give 'input' or 'inputs', not both"));
        }
        (Some(input), None) => vec![input.clone()],
        (None, Some(Value::Array(inputs))) => inputs.clone(),
        (None, Some(other)) => {
            return Err(ApiError::bad_request(format!(
                "field 'inputs' must be an array of values, not {other}"
            )));
        }
        (None, None) => Vec::new(),
    })
}

pub async fn signal(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let (key, body) =
        running_target(&engine, &workflow_id, raw.as_deref(), body, SIGNAL_FIELDS).await?;
    engine
        .signal(&key, signal_from(&body)?)
        .await
        .map_err(|e| not_found(e, &key))?;
    Ok(acted_on(&key))
}

pub async fn reset(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), RUN_PARAMS)?;
    let body = Body::new(json_body(body)?, RESET_FIELDS)?;
    let key = resolve(&engine, &params, &workflow_id).await?;
    let events = whole_history(&engine, &key).await?;
    let point = match body.value("to") {
        None => ResetPoint::LastFailedTask,
        Some(Value::String(name)) => ResetPoint::named(name).ok_or_else(|| {
            ApiError::bad_request(format!(
                "'to' must be {}, or an event id, not '{name}'",
                ResetPoint::NAMES.join(", ")
            ))
        })?,
        Some(Value::Number(number)) => ResetPoint::Event(number.as_i64().ok_or_else(|| {
            ApiError::bad_request(format!("'to' must be a whole event id, not {number}"))
        })?),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "'to' must be {}, or an event id, not {other}",
                ResetPoint::NAMES.join(", ")
            )));
        }
    };
    let finish_event_id = point.find(&events).map_err(ApiError::conflict)?;
    let new_run_id = engine
        .reset_workflow(ResetWorkflow {
            key: key.clone(),
            workflow_task_finish_event_id: finish_event_id,
            reason: body
                .string("reason")?
                .unwrap_or("reset over REST")
                .to_owned(),
            request_id: body
                .string("request_id")?
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned),
            reapply_signals: body.bool("reapply_signals")?.unwrap_or(true),
        })
        .await
        .map_err(|e| not_found(e, &key))?;
    Ok(Json(json!({
        "workflow_id": key.workflow_id,
        "run_id": new_run_id,
        "base_run_id": key.run_id,
        "reset_to_event_id": finish_event_id,
    })))
}
