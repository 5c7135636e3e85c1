//! `/api/v1/schedules`: the namespace's schedules with their next times and recent actions,
//! and pause, unpause, trigger and delete. Creating and editing schedules stays with the
//! SDKs and the Temporal API (their specs are Temporal's).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use keel_core::schedule::{ActionResult, OverlapPolicy, Patch, Schedule, Trigger};
use keel_engine::Engine;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::render;
use crate::request::{Body, NAMESPACE_PARAMS, Params, json_body};

/// Next action times listed per schedule, and on one schedule's page.
const LIST_NEXT_TIMES: usize = 3;
const DETAIL_NEXT_TIMES: usize = 10;

pub async fn list(State(engine): State<Engine>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let now = engine.now();
    let schedules = engine.schedules(params.namespace()).await?;
    Ok(Json(json!({
        "schedules": schedules.iter().map(|s| summary(s, now, LIST_NEXT_TIMES)).collect::<Vec<_>>(),
    })))
}

pub async fn get(
    State(engine): State<Engine>,
    Path(schedule_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let schedule = engine
        .describe_schedule(params.namespace(), &schedule_id)
        .await?;
    let mut answer = summary(&schedule, engine.now(), DETAIL_NEXT_TIMES);
    let policies = &schedule.definition.policies;
    let state = &schedule.definition.state;
    let extra = json!({
        "policies": {
            "overlap": overlap(policies.overlap),
            "catchup_window_ms": render::millis(policies.catchup_window),
            "pause_on_failure": policies.pause_on_failure,
        },
        "remaining_actions": state.limited_actions.then_some(state.remaining_actions),
        "running": schedule.running.iter().map(action).collect::<Vec<_>>(),
        "missed_catchup_window": schedule.missed_catchup_window,
        "overlap_skipped": schedule.overlap_skipped,
        "create_time": render::time(schedule.create_time),
        "update_time": render::opt_time(schedule.update_time),
    });
    if let (Value::Object(fields), Value::Object(extra)) = (&mut answer, extra) {
        fields.extend(extra);
    }
    Ok(Json(answer))
}

/// `POST /api/v1/schedules/{id}/{pause|unpause|trigger}`.
pub const ACT_FIELDS: &[&str] = &["note"];

pub async fn act(
    State(engine): State<Engine>,
    Path((schedule_id, verb)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let body = Body::new(json_body(body)?, ACT_FIELDS)?;
    let note = body.string("note")?.unwrap_or_default().to_owned();
    let patch = match verb.as_str() {
        "pause" => Patch {
            pause: Some(if note.is_empty() {
                "paused from the REST API".into()
            } else {
                note
            }),
            ..Patch::default()
        },
        "unpause" => Patch {
            unpause: Some(if note.is_empty() {
                "unpaused from the REST API".into()
            } else {
                note
            }),
            ..Patch::default()
        },
        "trigger" => Patch {
            trigger: Some(Trigger::default()),
            ..Patch::default()
        },
        other => {
            return Err(ApiError::not_found(format!(
                "no action '{other}' on a schedule; there are pause, unpause and trigger"
            )));
        }
    };
    engine
        .patch_schedule(params.namespace(), &schedule_id, patch)
        .await?;
    Ok(Json(json!({"schedule_id": schedule_id, "done": verb})))
}

pub async fn delete(
    State(engine): State<Engine>,
    Path(schedule_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    engine
        .delete_schedule(params.namespace(), &schedule_id)
        .await?;
    Ok(Json(json!({"schedule_id": schedule_id, "deleted": true})))
}

fn summary(schedule: &Schedule, now: keel_core::Time, next_times: usize) -> Value {
    let definition = &schedule.definition;
    let params = &definition.action.params;
    json!({
        "schedule_id": schedule.id,
        "spec": definition.spec.describe(),
        "workflow_id": definition.action.workflow_id,
        "workflow_type": params.workflow_type,
        "task_queue": params.task_queue,
        "paused": definition.state.paused,
        "notes": definition.state.notes,
        "next_action_times": schedule
            .future_action_times(now, next_times)
            .into_iter()
            .map(render::time)
            .collect::<Vec<_>>(),
        "recent_actions": schedule.recent_actions.iter().rev().map(action).collect::<Vec<_>>(),
        "action_count": schedule.action_count,
    })
}

fn action(result: &ActionResult) -> Value {
    json!({
        "schedule_time": render::time(result.schedule_time),
        "actual_time": render::time(result.actual_time),
        "workflow_id": result.workflow_id,
        "run_id": result.run_id,
        "status": render::status(result.status),
    })
}

fn overlap(policy: OverlapPolicy) -> &'static str {
    match policy {
        OverlapPolicy::Skip => "skip",
        OverlapPolicy::BufferOne => "buffer_one",
        OverlapPolicy::BufferAll => "buffer_all",
        OverlapPolicy::CancelOther => "cancel_other",
        OverlapPolicy::TerminateOther => "terminate_other",
        OverlapPolicy::AllowAll => "allow_all",
    }
}
