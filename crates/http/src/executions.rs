//! `/api/v1/executions`: list, detail, history, and the actions on one execution.

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use keel_core::overview::Phase;
use keel_core::reset::ResetPoint;
use keel_core::visibility::{CompareOp, Condition, Direction, Field, Filter, SortKey};
use keel_core::{ExecutionKey, Signal};
use keel_engine::{Engine, HistoryRequest, ResetWorkflow};
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, OpenApi, PartialSchema, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::openapi::{Conflict, CursorParam, NamespaceParam, NotFound, RunParam, WorkflowIdPath};
use crate::payloads::{Event, Payload, Payloads};
use crate::render::{
    ExecutionDetail, ExecutionPhase, ExecutionStatus, ExecutionSummaryView, Summary,
};
use crate::request::{
    Body, Params, RUN_PARAMS, decode_cursor, encode_cursor, json_body, parse_time, resolve,
};

#[derive(OpenApi)]
#[openapi(
    paths(list, get, history, cancel, terminate, signal, reset),
    components(schemas(ExecutionFilter))
)]
pub struct Api;

/// The filters of a list, all of which must hold (AND).
#[derive(IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by name (`FILTER_PARAMS`); this describes it
pub struct ExecutionFilter {
    /// Only executions with one of these Temporal statuses; comma-separated
    /// (`status=running,failed`).
    #[param(style = Form, explode = false, min_items = 1)]
    #[schema(schema_with = listed::<ExecutionStatus>)]
    status: Option<Vec<ExecutionStatus>>,
    /// Only executions in one of these board phases; comma-separated
    /// (`phase=pending,running`). See `ExecutionPhase`.
    #[param(style = Form, explode = false, min_items = 1)]
    #[schema(schema_with = listed::<ExecutionPhase>)]
    phase: Option<Vec<ExecutionPhase>>,
    /// Only executions of this workflow type.
    #[serde(rename = "type")]
    workflow_type: Option<String>,
    /// Only executions on this task queue.
    queue: Option<String>,
    /// Only executions handled (or last handled) by the worker with this identity.
    worker: Option<String>,
    /// Only children of the execution with this workflow id.
    parent: Option<String>,
    /// Free text on ids: a workflow id prefix, or an exact run id.
    search: Option<String>,
    /// Only executions started at or after this time.
    #[param(value_type = Option<String>, format = DateTime)]
    #[schema(value_type = Option<String>, format = DateTime)]
    started_after: Option<String>,
    /// Only executions started before this time.
    #[param(value_type = Option<String>, format = DateTime)]
    #[schema(value_type = Option<String>, format = DateTime)]
    started_before: Option<String>,
    /// Only executions closed at or after this time.
    #[param(value_type = Option<String>, format = DateTime)]
    #[schema(value_type = Option<String>, format = DateTime)]
    closed_after: Option<String>,
    /// Only executions closed before this time.
    #[param(value_type = Option<String>, format = DateTime)]
    #[schema(value_type = Option<String>, format = DateTime)]
    closed_before: Option<String>,
    /// A Temporal list filter, e.g. `WorkflowType = 'x' AND StartTime >
    /// '2026-01-01T00:00:00Z'`, combined with the others by AND. It may not order (that is
    /// `sort`).
    query: Option<String>,
}

/// Names in a `filter` object: comma-separated, or a list.
fn listed<T: ToSchema>() -> RefOr<Schema> {
    utoipa::openapi::schema::OneOfBuilder::new()
        .item(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String),
        )
        .item(
            utoipa::openapi::schema::ArrayBuilder::new()
                .items(utoipa::openapi::Ref::from_schema_name(T::name()))
                .min_items(Some(1)),
        )
        .description(Some("Comma-separated, or a list."))
        .into()
}

/// How a list's page is ordered and cut.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by name (`PAGE_PARAMS`); this describes it
pub struct ListPageParams {
    /// Order of the page. `start_time` (the default) and `close_time` sort newest first,
    /// like `-start_time` and `-close_time`; a `+` prefix sorts oldest first.
    #[param(inline, default = "start_time")]
    sort: Option<Sort>,
    /// Page size: at most this many executions.
    #[param(minimum = 1, maximum = 1000, default = 50)]
    limit: Option<i64>,
}

/// The orders of a list.
#[derive(ToSchema)]
#[allow(dead_code)] // read by name (`sort_order`); this describes it
pub enum Sort {
    #[serde(rename = "start_time")]
    StartTime,
    #[serde(rename = "-start_time")]
    StartTimeNewestFirst,
    #[serde(rename = "+start_time")]
    StartTimeOldestFirst,
    #[serde(rename = "close_time")]
    CloseTime,
    #[serde(rename = "-close_time")]
    CloseTimeNewestFirst,
    #[serde(rename = "+close_time")]
    CloseTimeOldestFirst,
}

/// A page of executions.
#[derive(Serialize, ToSchema)]
pub struct ExecutionPage {
    /// This page's executions.
    executions: Vec<Summary>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// What `GET /api/v1/executions/{workflow_id}` takes besides the run.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by name (`GET_PARAMS`); this describes it
pub struct ViewParam {
    /// `summary`: the run's Summary and pending_reason, read without its history.
    #[param(inline, default = "full")]
    view: Option<View>,
}

/// How much of a run to answer.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // read by name; this describes it
pub enum View {
    Full,
    Summary,
}

/// One run, as much of it as asked for.
#[derive(Serialize)]
#[serde(untagged)]
pub enum ExecutionView {
    Full(Box<ExecutionDetail>),
    Summary(Box<ExecutionSummaryView>),
}

impl PartialSchema for ExecutionView {
    fn schema() -> RefOr<Schema> {
        crate::openapi::any_of(&["ExecutionDetail", "ExecutionSummaryView"])
    }
}

impl ToSchema for ExecutionView {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for (name, schema) in [
            ("ExecutionDetail", ExecutionDetail::schema()),
            ("ExecutionSummaryView", ExecutionSummaryView::schema()),
        ] {
            schemas.push((name.into(), schema));
        }
        ExecutionDetail::schemas(schemas);
        ExecutionSummaryView::schemas(schemas);
    }
}

/// What the history route takes besides the run.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by name (`HISTORY_PARAMS`); this describes it
pub struct HistoryParams {
    /// Page size: at most this many events.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<i64>,
    /// `keel` (the default): a page of `Event`s. `temporal`: the whole history as
    /// Temporal's JSON export (`{"events": [...]}` in protobuf JSON, what SDK replayers
    /// load); `cursor` and `limit` do not apply.
    #[param(inline, default = "keel")]
    format: Option<HistoryFormat>,
}

/// The shapes a history is answered in.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // read by name; this describes it
pub enum HistoryFormat {
    Keel,
    Temporal,
}

/// A page of a run's history.
#[derive(Serialize, ToSchema)]
pub struct HistoryPage {
    /// This page's events, in order.
    events: Vec<Event>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// A run's whole history as Temporal's JSON export (what `temporal workflow show -o json`
/// writes), which the SDKs' replayers load.
#[derive(Serialize, ToSchema)]
pub struct TemporalHistory {
    /// Every event of the run, Temporal's `HistoryEvent` in protobuf JSON.
    #[schema(value_type = Vec<Object>)]
    events: Vec<Value>,
}

/// A history, in the format asked for.
#[derive(Serialize)]
#[serde(untagged)]
pub enum HistoryView {
    Keel(HistoryPage),
    Temporal(TemporalHistory),
}

impl PartialSchema for HistoryView {
    fn schema() -> RefOr<Schema> {
        crate::openapi::any_of(&["HistoryPage", "TemporalHistory"])
    }
}

impl ToSchema for HistoryView {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("HistoryPage".into(), HistoryPage::schema()));
        schemas.push(("TemporalHistory".into(), TemporalHistory::schema()));
        HistoryPage::schemas(schemas);
    }
}

/// The run an action applied to.
#[derive(Serialize, ToSchema)]
pub struct ActionResult {
    /// The execution's workflow id.
    workflow_id: String,
    /// The run acted on.
    run_id: String,
}

/// Requests cancellation of the run.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct CancelRequest {
    /// Why, recorded in the history.
    reason: Option<String>,
}

/// Terminates the run.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct TerminateRequest {
    /// Why, recorded in the history.
    reason: Option<String>,
}

/// Sends a signal to the run. Give at most one of `input` and `inputs`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct SignalRequest {
    /// The signal's name.
    #[schema(min_length = 1)]
    name: String,
    /// The signal's input: one payload, any JSON (an array is one payload too). Absent: no
    /// payload.
    input: Option<Payload>,
    /// Several payloads, instead of `input`.
    inputs: Option<Payloads>,
}

/// Resets the execution to an earlier point; it continues in a new run.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct ResetRequest {
    /// Where to reset to: a named point, or the id of a `WorkflowTaskCompleted` event.
    #[schema(default = "last_failed_task")]
    to: Option<ResetTo>,
    /// Why, recorded in the history.
    reason: Option<String>,
    /// Whether signals received after the reset point are sent to the new run.
    #[schema(default = true)]
    reapply_signals: Option<bool>,
    /// Makes a retried reset answer the run the first one made.
    request_id: Option<String>,
}

/// A point of a run's history to reset to.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // read by `ResetPoint::named`; this describes it
pub enum ResetTo {
    Named(ResetPointName),
    /// The id of a `WorkflowTaskCompleted` event.
    EventId(u64),
}

/// The named reset points: the workflow task that failed last, the last completed one, the
/// first one.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code, clippy::enum_variant_names)] // read by `ResetPoint::named`; this describes it
pub enum ResetPointName {
    LastFailedTask,
    LastTask,
    FirstTask,
}

/// The run a reset made.
#[derive(Serialize, ToSchema)]
pub struct ResetResult {
    /// The execution's workflow id.
    workflow_id: String,
    /// The new run.
    run_id: String,
    /// The run that was reset.
    base_run_id: String,
    /// The `WorkflowTaskCompleted` event the new run continues after.
    reset_to_event_id: i64,
}

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

/// List executions
///
/// Executions of the namespace matching all the given filters (AND), newest first by
/// default, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/executions",
    operation_id = "listExecutions",
    tag = "Executions",
    params(NamespaceParam, ExecutionFilter, ListPageParams, CursorParam),
    responses(
        (status = 200, description = "A page of executions.", body = ExecutionPage),
        (status = 404, response = NotFound),
    ),
)]
pub async fn list(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<ExecutionPage>> {
    let known: Vec<&str> = FILTER_PARAMS.iter().chain(PAGE_PARAMS).copied().collect();
    let params = Params::parse(raw.as_deref(), &known)?;
    let mut filter = filter_of(&engine, &params)?;
    filter.order_by = vec![sort_order(&params)?];
    let limit = params.integer("limit", 1, 1000, 50)?;
    let token = decode_cursor(&params)?;
    let page = engine
        .list_executions(params.namespace(), &filter, limit as usize, &token)
        .await?;
    Ok(Json(ExecutionPage {
        executions: page.executions.iter().map(Summary::from).collect(),
        next_cursor: encode_cursor(&page.next_page_token),
    }))
}

/// The list filter a list request's parameters mean. Also what a bulk action's `filter`
/// object means. Values are conditions, never quoted into query text; only `query` is
/// text, in Temporal's list-filter language, and it may not order (that is `sort`).
pub fn filter_of(engine: &Engine, params: &Params) -> ApiResult<Filter> {
    let mut conditions = Vec::new();
    if let Some(statuses) = params.get("status") {
        let statuses = split_list(statuses)
            .map(|name| {
                ExecutionStatus::parse(name).ok_or_else(|| {
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

/// Get an execution
///
/// One run of an execution (the current one unless `run_id` names another) with what the
/// detail view shows.
#[utoipa::path(
    get,
    path = "/api/v1/executions/{workflow_id}",
    operation_id = "getExecution",
    tag = "Executions",
    params(WorkflowIdPath, NamespaceParam, RunParam, ViewParam),
    responses(
        (status = 200, description = "The run's summary, timing, payloads, task runs and children; with `view=summary`, its Summary and pending_reason only.", body = ExecutionView),
        (status = 404, response = NotFound),
    ),
)]
pub async fn get(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<ExecutionView>> {
    let params = Params::parse(raw.as_deref(), GET_PARAMS)?;
    let key = resolve(&engine, &params, &workflow_id).await?;
    match params.get("view").unwrap_or("full") {
        "full" => {
            let run = engine
                .overview(&key)
                .await
                .map_err(|e| not_found(e, &key))?;
            Ok(Json(ExecutionView::Full(Box::new(ExecutionDetail::from(
                &run,
            )))))
        }
        // What a list shows of the run, and why it waits: no history is read.
        "summary" => {
            let execution = engine
                .describe(&key)
                .await
                .map_err(|e| not_found(e, &key))?;
            Ok(Json(ExecutionView::Summary(Box::new(
                ExecutionSummaryView {
                    summary: Summary::from(&keel_engine::ExecutionSummary::of(&execution)),
                    pending_reason: engine.pending_reason(&execution).as_ref().map(Into::into),
                },
            ))))
        }
        other => Err(ApiError::bad_request(format!(
            "view must be full or summary, not '{other}'"
        ))),
    }
}

/// Get an execution's history
#[utoipa::path(
    get,
    path = "/api/v1/executions/{workflow_id}/history",
    operation_id = "getExecutionHistory",
    tag = "Executions",
    params(WorkflowIdPath, NamespaceParam, RunParam, CursorParam, HistoryParams),
    responses(
        (status = 200, description = "A page of events; with `format=temporal`, the whole history as Temporal's JSON export.", body = HistoryView),
        (status = 404, response = NotFound),
    ),
)]
pub async fn history(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<HistoryView>> {
    let params = Params::parse(raw.as_deref(), HISTORY_PARAMS)?;
    let key = resolve(&engine, &params, &workflow_id).await?;
    match params.get("format") {
        None | Some("keel") => {}
        Some("temporal") => {
            let events = whole_history(&engine, &key).await?;
            let export = keel_wire::json::history_export(&events);
            let events = match export.get("events") {
                Some(Value::Array(events)) => events.clone(),
                _ => Vec::new(),
            };
            return Ok(Json(HistoryView::Temporal(TemporalHistory { events })));
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
    Ok(Json(HistoryView::Keel(HistoryPage {
        events: page.events.iter().map(Event::from).collect(),
        next_cursor: encode_cursor(&page.next_page_token),
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
            ExecutionStatus::from(execution.status).name()
        )));
    }
    Ok((key, body))
}

fn acted_on(key: &ExecutionKey) -> Json<ActionResult> {
    Json(ActionResult {
        workflow_id: key.workflow_id.clone(),
        run_id: key.run_id.clone(),
    })
}

/// Cancel an execution
///
/// Requests cancellation of the execution's current run (or of `run_id`).
#[utoipa::path(
    post,
    path = "/api/v1/executions/{workflow_id}/cancel",
    operation_id = "cancelExecution",
    tag = "Executions",
    params(WorkflowIdPath, NamespaceParam, RunParam),
    request_body(content = Option<CancelRequest>, description = "The action's parameters; an empty body is `{}`."),
    responses(
        (status = 200, description = "The run whose cancellation was requested.", body = ActionResult),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn cancel(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ActionResult>> {
    let (key, body) =
        running_target(&engine, &workflow_id, raw.as_deref(), body, REASON_FIELDS).await?;
    let reason = body.string("reason")?.unwrap_or_default().to_owned();
    cancel_run(&engine, &key, reason).await?;
    Ok(acted_on(&key))
}

pub async fn cancel_run(engine: &Engine, key: &ExecutionKey, reason: String) -> ApiResult<()> {
    let request = keel_core::CancelRequest {
        reason,
        identity: IDENTITY.into(),
        external: None,
    };
    engine
        .request_cancel(key, request)
        .await
        .map_err(|e| not_found(e, key))
}

/// Terminate an execution
///
/// Terminates the execution's current run (or `run_id`).
#[utoipa::path(
    post,
    path = "/api/v1/executions/{workflow_id}/terminate",
    operation_id = "terminateExecution",
    tag = "Executions",
    params(WorkflowIdPath, NamespaceParam, RunParam),
    request_body(content = Option<TerminateRequest>, description = "The action's parameters; an empty body is `{}`."),
    responses(
        (status = 200, description = "The run that was terminated.", body = ActionResult),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn terminate(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ActionResult>> {
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

/// Signal an execution
///
/// Sends a signal to the execution's current run (or to `run_id`).
#[utoipa::path(
    post,
    path = "/api/v1/executions/{workflow_id}/signal",
    operation_id = "signalExecution",
    tag = "Executions",
    params(WorkflowIdPath, NamespaceParam, RunParam),
    request_body(content = SignalRequest, description = "The action's parameters."),
    responses(
        (status = 200, description = "The run that was signalled.", body = ActionResult),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn signal(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ActionResult>> {
    let (key, body) =
        running_target(&engine, &workflow_id, raw.as_deref(), body, SIGNAL_FIELDS).await?;
    engine
        .signal(&key, signal_from(&body)?)
        .await
        .map_err(|e| not_found(e, &key))?;
    Ok(acted_on(&key))
}

/// Reset an execution
///
/// Resets the execution's current run (or `run_id`) to an earlier point; the execution continues in a new run. `409 conflict` when the run has no such point.
#[utoipa::path(
    post,
    path = "/api/v1/executions/{workflow_id}/reset",
    operation_id = "resetExecution",
    tag = "Executions",
    params(WorkflowIdPath, NamespaceParam, RunParam),
    request_body(content = Option<ResetRequest>, description = "The action's parameters; an empty body is `{}`."),
    responses(
        (status = 200, description = "The new run.", body = ResetResult),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn reset(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ResetResult>> {
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
    Ok(Json(ResetResult {
        workflow_id: key.workflow_id,
        run_id: new_run_id,
        base_run_id: key.run_id,
        reset_to_event_id: finish_event_id,
    }))
}
