//! `POST /api/v1/executions/bulk`: cancel, terminate or signal every running execution a
//! filter matches, as one request; a dry run only counts them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use keel_core::ExecutionKey;
use keel_core::visibility::{Condition, Filter};
use keel_engine::Engine;
use serde::Serialize;
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::executions::{
    ExecutionFilter, FILTER_PARAMS, IDENTITY, SignalRequest, cancel_run, filter_of,
    query_condition, signal_from,
};
use crate::openapi::{NamespaceParam, NotFound};
use crate::request::{Body, NAMESPACE_PARAMS, Params, json_body};

#[derive(OpenApi)]
#[openapi(paths(bulk))]
pub struct Api;

/// At most this many executions are acted on by one request.
pub const MAX_BULK: usize = 10_000;

enum Action {
    Cancel,
    Terminate,
    Signal(keel_core::Signal),
    /// Flow executions that failed: restart each (see `flows::restart`).
    Restart,
    /// Flow executions that failed: replay each on `revision` (default the latest).
    Replay(Option<i64>),
}

pub const BULK_FIELDS: &[&str] = &[
    "action", "query", "filter", "reason", "signal", "dry_run", "revision",
];

/// Acts on every execution matching `query` or `filter` (exactly one of them): cancel,
/// terminate and signal act on the running ones; restart and replay on the flow executions
/// that failed, timed out, were cancelled or terminated.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct BulkRequest {
    action: BulkAction,
    /// A Temporal list filter selecting the executions.
    query: Option<String>,
    /// The list's parameters, instead of `query`.
    filter: Option<ExecutionFilter>,
    /// Why, recorded in each history (cancel, terminate).
    reason: Option<String>,
    /// The signal to send; required by action `signal`.
    signal: Option<SignalRequest>,
    /// Only count the matching executions; change nothing.
    #[schema(default = false)]
    dry_run: Option<bool>,
    /// For `replay`: the flow revision to replay on; absent: each flow's latest.
    #[schema(minimum = 1)]
    revision: Option<i64>,
}

/// What to do to every matching execution: cancel, terminate or signal the running ones,
/// or restart or replay the flow executions that failed, timed out, were cancelled or
/// terminated.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // read by name; this describes it
pub enum BulkAction {
    Cancel,
    Terminate,
    Signal,
    Restart,
    Replay,
}

/// A dry run's count, or the outcome of the action.
#[derive(Serialize, ToSchema)]
pub struct BulkResult {
    /// Whether it was a dry run, which changed nothing.
    dry_run: bool,
    /// How many executions the action applies to matched.
    #[schema(minimum = 0)]
    matched: u64,
    /// On how many the action succeeded; null for a dry run.
    #[schema(minimum = 0)]
    succeeded: Option<u64>,
    /// The executions the action failed on; null for a dry run.
    failed: Option<Vec<BulkFailure>>,
}

/// An execution the bulk action failed on.
#[derive(Serialize, ToSchema)]
pub struct BulkFailure {
    /// The execution's workflow id.
    workflow_id: String,
    /// The run's id.
    run_id: String,
    /// Why the action failed on it.
    error: String,
}

/// Cancel, terminate or signal executions in bulk
///
/// Applies one action to every running execution matching a filter. A dry run counts them
/// and changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/executions/bulk",
    operation_id = "bulkExecutions",
    tag = "Executions",
    params(NamespaceParam),
    request_body(content = BulkRequest, description = "The action and the executions it applies to."),
    responses(
        (status = 200, description = "A dry run's count, or the outcome of the action.", body = BulkResult),
        (status = 404, response = NotFound),
    ),
)]
pub async fn bulk(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<BulkResult>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let body = Body::new(json_body(body)?, BULK_FIELDS)?;
    let action = match body.string("action")? {
        Some("cancel") => Action::Cancel,
        Some("terminate") => Action::Terminate,
        Some("signal") => {
            let Some(Value::Object(signal)) = body.value("signal") else {
                return Err(ApiError::bad_request(
                    "a signal action needs 'signal': {\"name\": .., \"input\": ..}",
                ));
            };
            let signal = Body::new(signal.clone(), &["name", "input", "inputs"])?;
            Action::Signal(signal_from(&signal)?)
        }
        Some("restart") => Action::Restart,
        Some("replay") => Action::Replay(crate::flows::revision_field(&body)?),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "action '{other}' is not one of cancel, terminate, signal, restart, replay"
            )));
        }
        None => return Err(ApiError::bad_request("field 'action' is required")),
    };
    let filter = match (body.string("query")?, body.value("filter")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("give 'query' or 'filter', not both"));
        }
        (Some(query), None) => Filter::all_of(query_condition(&engine, params.namespace(), query)?),
        (None, Some(Value::Object(filter))) => {
            let raw = filter_as_query_string(filter)?;
            filter_of(&engine, &Params::parse(Some(&raw), FILTER_PARAMS)?)?
        }
        (None, Some(other)) => {
            return Err(ApiError::bad_request(format!(
                "'filter' must be an object of list parameters, not {other}"
            )));
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "a bulk action needs 'query' (a list filter) or 'filter' (list parameters)",
            ));
        }
    };
    let filter = match action {
        Action::Restart | Action::Replay(_) => {
            use keel_core::Status;
            filter
                .and(Condition::status_in(&[
                    Status::Failed,
                    Status::TimedOut,
                    Status::Canceled,
                    Status::Terminated,
                ]))
                .and(Condition::equals(
                    keel_core::visibility::Field::TaskQueue,
                    keel_flows::runtime::FLOW_TASK_QUEUE,
                ))
        }
        _ => filter.and(Condition::status_in(&[keel_core::Status::Running])),
    };
    let namespace = params.namespace();
    let matched = engine.count_executions(namespace, &filter).await?;
    if body.bool("dry_run")?.unwrap_or(false) {
        return Ok(Json(BulkResult {
            dry_run: true,
            matched: matched as u64,
            succeeded: None,
            failed: None,
        }));
    }
    if matched as usize > MAX_BULK {
        return Err(ApiError::bad_request(format!(
            "{matched} executions match; one bulk action takes at most {MAX_BULK}: narrow the filter"
        )));
    }
    let reason = body.string("reason")?.unwrap_or_default().to_owned();
    // Collect first, act after: acting changes what the filter matches.
    let mut keys: Vec<ExecutionKey> = Vec::new();
    let mut token = Vec::new();
    loop {
        let page = engine
            .list_executions(namespace, &filter, 1000, &token)
            .await?;
        keys.extend(page.executions.into_iter().map(|summary| summary.key));
        if page.next_page_token.is_empty() || keys.len() >= MAX_BULK {
            break;
        }
        token = page.next_page_token;
    }
    let mut succeeded = 0;
    let mut failed = Vec::new();
    for key in &keys {
        let result = match &action {
            Action::Cancel => cancel_run(&engine, key, reason.clone()).await,
            Action::Terminate => engine
                .terminate(key, &reason, None, IDENTITY)
                .await
                .map_err(ApiError::from),
            Action::Signal(signal) => {
                let mut signal = signal.clone();
                signal.request_id = uuid::Uuid::new_v4().to_string();
                engine.signal(key, signal).await.map_err(ApiError::from)
            }
            Action::Restart => crate::flows::restart_run(&engine, key.clone())
                .await
                .map(drop),
            Action::Replay(revision) => {
                crate::flows::replay_run(&engine, key.clone(), None, *revision, None)
                    .await
                    .map(drop)
            }
        };
        match result {
            Ok(()) => succeeded += 1,
            Err(error) => failed.push(BulkFailure {
                workflow_id: key.workflow_id.clone(),
                run_id: key.run_id.clone(),
                error: error.message,
            }),
        }
    }
    Ok(Json(BulkResult {
        dry_run: false,
        matched: keys.len() as u64,
        succeeded: Some(succeeded),
        failed: Some(failed),
    }))
}

/// A `filter` object's fields as the list route's query string.
fn filter_as_query_string(filter: &serde_json::Map<String, Value>) -> ApiResult<String> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in filter {
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Array(items) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ApiError::bad_request(format!("filter '{name}' must hold strings")))?
                .join(","),
            other => {
                return Err(ApiError::bad_request(format!(
                    "filter '{name}' must be a string, not {other}"
                )));
            }
        };
        query.append_pair(name, &text);
    }
    Ok(query.finish())
}
