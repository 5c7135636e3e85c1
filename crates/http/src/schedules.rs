//! `/api/v1/schedules`: the namespace's schedules with their next times and recent actions,
//! and pause, unpause, trigger, backfill and delete. Creating and editing schedules stays with the
//! SDKs and the Temporal API (their specs are Temporal's).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use keel_core::schedule::{
    ActionResult, Backfill, MAX_DUE_PER_WAKE, OverlapPolicy, Patch, Schedule, Trigger,
};
use keel_engine::Engine;
use serde::Serialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::openapi::{Millis, NamespaceParam, NotFound, Timestamp};
use crate::render::ExecutionStatus;
use crate::request::{Body, NAMESPACE_PARAMS, Params, json_body, parse_time};

#[derive(OpenApi)]
#[openapi(paths(list, get, delete, act, backfill))]
pub struct Api;

/// Next action times listed per schedule, and on one schedule's page.
const LIST_NEXT_TIMES: usize = 3;
const DETAIL_NEXT_TIMES: usize = 10;

/// A schedule, as the list shows it; its spec in words.
#[derive(Serialize, ToSchema)]
pub struct ScheduleSummary {
    schedule_id: String,
    /// The spec in words, e.g. `every 1h; at 09:30 on Mon–Fri (UTC)`.
    spec: String,
    /// The workflow id its runs get (each with the time it was due appended).
    workflow_id: String,
    workflow_type: String,
    task_queue: String,
    paused: bool,
    /// Why it was paused or unpaused, as the last person to do so said.
    notes: String,
    /// When it acts next.
    next_action_times: Vec<Timestamp>,
    /// What it did lately, the latest first.
    recent_actions: Vec<ScheduleAction>,
    /// How many runs it has started.
    action_count: i64,
}

/// One schedule, with its policies and the runs of it still going.
#[derive(Serialize, ToSchema)]
pub struct ScheduleDetail {
    #[serde(flatten)]
    summary: ScheduleSummary,
    policies: SchedulePolicies,
    /// Runs it may still start; null when it has no limit.
    remaining_actions: Option<i64>,
    /// Its runs that are running now.
    running: Vec<ScheduleAction>,
    /// Actions skipped for being later than the catch-up window.
    missed_catchup_window: i64,
    /// Actions skipped by the overlap policy.
    overlap_skipped: i64,
    create_time: Timestamp,
    update_time: Option<Timestamp>,
}

/// How a schedule behaves when runs overlap, are late or fail.
#[derive(Serialize, ToSchema)]
pub struct SchedulePolicies {
    /// What to do when a run is due while the last one still runs.
    overlap: Overlap,
    /// How late an action may still be taken (after downtime).
    catchup_window_ms: Millis,
    /// Whether a failed run pauses the schedule.
    pause_on_failure: bool,
}

/// Temporal's overlap policies.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    Skip,
    BufferOne,
    BufferAll,
    CancelOther,
    TerminateOther,
    AllowAll,
}

impl Overlap {
    const NAMES: &[&str] = &[
        "skip",
        "buffer_one",
        "buffer_all",
        "cancel_other",
        "terminate_other",
        "allow_all",
    ];

    /// A policy by its REST name (`allow_all`), or Temporal's (`ALLOW_ALL`).
    fn parse(name: &str) -> Option<OverlapPolicy> {
        Some(match name.to_ascii_lowercase().as_str() {
            "skip" => OverlapPolicy::Skip,
            "buffer_one" => OverlapPolicy::BufferOne,
            "buffer_all" => OverlapPolicy::BufferAll,
            "cancel_other" => OverlapPolicy::CancelOther,
            "terminate_other" => OverlapPolicy::TerminateOther,
            "allow_all" => OverlapPolicy::AllowAll,
            _ => return None,
        })
    }
}

impl From<OverlapPolicy> for Overlap {
    fn from(policy: OverlapPolicy) -> Overlap {
        match policy {
            OverlapPolicy::Skip => Overlap::Skip,
            OverlapPolicy::BufferOne => Overlap::BufferOne,
            OverlapPolicy::BufferAll => Overlap::BufferAll,
            OverlapPolicy::CancelOther => Overlap::CancelOther,
            OverlapPolicy::TerminateOther => Overlap::TerminateOther,
            OverlapPolicy::AllowAll => Overlap::AllowAll,
        }
    }
}

/// A run a schedule started.
#[derive(Serialize, ToSchema)]
pub struct ScheduleAction {
    /// When it was due.
    schedule_time: Timestamp,
    /// When it was started.
    actual_time: Timestamp,
    workflow_id: String,
    run_id: String,
    status: ExecutionStatus,
}

impl From<&ActionResult> for ScheduleAction {
    fn from(result: &ActionResult) -> ScheduleAction {
        ScheduleAction {
            schedule_time: Timestamp(result.schedule_time),
            actual_time: Timestamp(result.actual_time),
            workflow_id: result.workflow_id.clone(),
            run_id: result.run_id.clone(),
            status: result.status.into(),
        }
    }
}

/// The namespace's schedules.
#[derive(Serialize, ToSchema)]
pub struct ScheduleList {
    schedules: Vec<ScheduleSummary>,
}

/// The schedule a path names.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by axum's `Path`; this describes it
pub struct ScheduleIdPath {
    /// The schedule's id.
    #[param(min_length = 1)]
    schedule_id: String,
}

/// What `POST .../{action}` does.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // read by axum's `Path`; this describes it
pub enum ScheduleVerb {
    Pause,
    Unpause,
    Trigger,
}

/// The schedule and action a path names.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by axum's `Path`; this describes it
pub struct ScheduleActionPath {
    /// The schedule's id.
    #[param(min_length = 1)]
    schedule_id: String,
    /// What to do.
    #[param(inline)]
    action: ScheduleVerb,
}

/// List schedules
#[utoipa::path(
    get,
    path = "/api/v1/schedules",
    operation_id = "listSchedules",
    tag = "Schedules",
    params(NamespaceParam),
    responses(
        (status = 200, description = "The namespace's schedules.", body = ScheduleList),
        (status = 404, response = NotFound),
    ),
)]
pub async fn list(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<ScheduleList>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let now = engine.now();
    let schedules = engine.schedules(params.namespace()).await?;
    Ok(Json(ScheduleList {
        schedules: schedules
            .iter()
            .map(|schedule| summary(schedule, now, LIST_NEXT_TIMES))
            .collect(),
    }))
}

/// One schedule
#[utoipa::path(
    get,
    path = "/api/v1/schedules/{schedule_id}",
    operation_id = "getSchedule",
    tag = "Schedules",
    params(ScheduleIdPath, NamespaceParam),
    responses(
        (
            status = 200,
            description = "The schedule with its next 10 times, policies and running workflows.",
            body = ScheduleDetail,
        ),
        (status = 404, response = NotFound),
    ),
)]
pub async fn get(
    State(engine): State<Engine>,
    Path(schedule_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<ScheduleDetail>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let schedule = engine
        .describe_schedule(params.namespace(), &schedule_id)
        .await?;
    let policies = &schedule.definition.policies;
    let state = &schedule.definition.state;
    Ok(Json(ScheduleDetail {
        summary: summary(&schedule, engine.now(), DETAIL_NEXT_TIMES),
        policies: SchedulePolicies {
            overlap: policies.overlap.into(),
            catchup_window_ms: Millis(policies.catchup_window),
            pause_on_failure: policies.pause_on_failure,
        },
        remaining_actions: state.limited_actions.then_some(state.remaining_actions),
        running: schedule.running.iter().map(ScheduleAction::from).collect(),
        missed_catchup_window: schedule.missed_catchup_window,
        overlap_skipped: schedule.overlap_skipped,
        create_time: Timestamp(schedule.create_time),
        update_time: schedule.update_time.map(Timestamp),
    }))
}

/// `POST /api/v1/schedules/{id}/{pause|unpause|trigger}`.
pub const ACT_FIELDS: &[&str] = &["note"];

/// What to say with a pause or unpause.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct ScheduleNote {
    /// Why: kept on the schedule for the next person.
    note: Option<String>,
}

/// What a schedule action did.
#[derive(Serialize, ToSchema)]
pub struct ScheduleActed {
    schedule_id: String,
    /// The action done: pause, unpause or trigger.
    done: String,
}

/// Pause, unpause or trigger a schedule
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{schedule_id}/{action}",
    operation_id = "actOnSchedule",
    tag = "Schedules",
    params(ScheduleActionPath, NamespaceParam),
    request_body(content = Option<ScheduleNote>),
    responses(
        (status = 200, description = "Done.", body = ScheduleActed),
        (status = 404, response = NotFound),
    ),
)]
pub async fn act(
    State(engine): State<Engine>,
    Path((schedule_id, verb)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ScheduleActed>> {
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
                "no action '{other}' on a schedule; there are pause, unpause, trigger and backfill"
            )));
        }
    };
    engine
        .patch_schedule(params.namespace(), &schedule_id, patch)
        .await?;
    Ok(Json(ScheduleActed {
        schedule_id,
        done: verb,
    }))
}

/// `POST /api/v1/schedules/{id}/backfill`.
pub const BACKFILL_FIELDS: &[&str] = &["from", "to", "overlap"];

/// A past range whose action times a schedule takes now.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct BackfillRequest {
    /// The range's start (RFC 3339), included.
    from: String,
    /// The range's end (RFC 3339), included.
    to: String,
    /// The overlap policy for these runs (e.g. `allow_all`); absent: the schedule's own.
    overlap: Option<Overlap>,
}

/// What a backfill will start.
#[derive(Serialize, ToSchema)]
pub struct ScheduleBackfilled {
    schedule_id: String,
    /// The spec's action times in the range, each taken as a run (under the overlap
    /// policy) whatever the catch-up window says.
    times: Vec<Timestamp>,
}

/// Backfill a schedule
///
/// Takes the actions the schedule's spec would have taken in a past (or any) range, as
/// Temporal's backfill does; at most 1000 action times per request.
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{schedule_id}/backfill",
    operation_id = "backfillSchedule",
    tag = "Schedules",
    params(ScheduleIdPath, NamespaceParam),
    request_body(content = BackfillRequest),
    responses(
        (status = 200, description = "The action times taken.", body = ScheduleBackfilled),
        (status = 404, response = NotFound),
    ),
)]
pub async fn backfill(
    State(engine): State<Engine>,
    Path(schedule_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ScheduleBackfilled>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let body = Body::new(json_body(body)?, BACKFILL_FIELDS)?;
    let time = |name: &str| -> ApiResult<_> {
        let raw = body
            .string(name)?
            .ok_or_else(|| ApiError::bad_request(format!("field '{name}' is required")))?;
        parse_time(name, raw)
    };
    let (from, to) = (time("from")?, time("to")?);
    if to < from {
        return Err(ApiError::bad_request(
            "'to' is before 'from': a backfill's range ends after it starts",
        ));
    }
    let overlap = body
        .string("overlap")?
        .map(|name| {
            Overlap::parse(name).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "'overlap' must be one of {}, not '{name}'",
                    Overlap::NAMES.join(", ")
                ))
            })
        })
        .transpose()?;
    let schedule = engine
        .describe_schedule(params.namespace(), &schedule_id)
        .await?;
    let times = schedule
        .definition
        .spec
        .times_between(from, to, MAX_DUE_PER_WAKE + 1);
    if times.len() > MAX_DUE_PER_WAKE {
        return Err(ApiError::bad_request(format!(
            "the range holds more than {MAX_DUE_PER_WAKE} action times; backfill it in parts"
        )));
    }
    engine
        .patch_schedule(
            params.namespace(),
            &schedule_id,
            Patch {
                backfill: vec![Backfill { from, to, overlap }],
                ..Patch::default()
            },
        )
        .await?;
    Ok(Json(ScheduleBackfilled {
        schedule_id,
        times: times.into_iter().map(Timestamp).collect(),
    }))
}

/// What a deleted schedule was.
#[derive(Serialize, ToSchema)]
pub struct ScheduleDeleted {
    schedule_id: String,
    deleted: bool,
}

/// Delete a schedule
///
/// The workflows it started go on.
#[utoipa::path(
    delete,
    path = "/api/v1/schedules/{schedule_id}",
    operation_id = "deleteSchedule",
    tag = "Schedules",
    params(ScheduleIdPath, NamespaceParam),
    responses(
        (status = 200, description = "Deleted.", body = ScheduleDeleted),
        (status = 404, response = NotFound),
    ),
)]
pub async fn delete(
    State(engine): State<Engine>,
    Path(schedule_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<ScheduleDeleted>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    engine
        .delete_schedule(params.namespace(), &schedule_id)
        .await?;
    Ok(Json(ScheduleDeleted {
        schedule_id,
        deleted: true,
    }))
}

fn summary(schedule: &Schedule, now: keel_core::Time, next_times: usize) -> ScheduleSummary {
    let definition = &schedule.definition;
    let params = &definition.action.params;
    ScheduleSummary {
        schedule_id: schedule.id.clone(),
        spec: definition.spec.describe(),
        workflow_id: definition.action.workflow_id.clone(),
        workflow_type: params.workflow_type.clone(),
        task_queue: params.task_queue.clone(),
        paused: definition.state.paused,
        notes: definition.state.notes.clone(),
        next_action_times: schedule
            .future_action_times(now, next_times)
            .into_iter()
            .map(Timestamp)
            .collect(),
        recent_actions: schedule
            .recent_actions
            .iter()
            .rev()
            .map(ScheduleAction::from)
            .collect(),
        action_count: schedule.action_count,
    }
}
