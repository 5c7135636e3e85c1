//! Schedules: Create, Describe, Update, Patch, Delete, List and ListScheduleMatchingTimes.
//!
//! A schedule's spec and action are kept as the client sent them (returned by describe and
//! list) next to the core's reading of them.

use keel_core::schedule::spec::{self, Calendar, CronPart, Interval, Range, Spec};
use keel_core::schedule::{
    ActionResult, Backfill, Definition, OverlapPolicy, Patch, Policies, Schedule, ScheduleState,
    StartWorkflow, Trigger,
};
use keel_core::{Namespace, Time};
use prost::Message;
use temporalio_protos::temporal::api::schedule::v1 as sched;

use super::prelude::*;

/// How many future action times describe shows, and list.
const DESCRIBE_FUTURE_TIMES: usize = 10;
const LIST_FUTURE_TIMES: usize = 5;
const LIST_RECENT_ACTIONS: usize = 5;
const DEFAULT_PAGE_SIZE: usize = 1000;
const MAX_MATCHING_TIMES: usize = 1000;

pub(crate) async fn create_schedule(
    frontend: &Frontend,
    request: Request<ws::CreateScheduleRequest>,
) -> Reply<ws::CreateScheduleResponse> {
    let r = request.into_inner();
    frontend.check_memo(r.memo.as_ref())?;
    let namespace = engine_result(frontend.engine.namespace(&r.namespace))?;
    let schedule = r
        .schedule
        .as_ref()
        .ok_or_else(|| Status::invalid_argument("Schedule is not set on request."))?;
    let definition = definition(schedule, &namespace)?;
    let patch = r
        .initial_patch
        .as_ref()
        .map(patch)
        .transpose()?
        .unwrap_or_default();
    let created = engine_result(
        frontend
            .engine
            .create_schedule(
                &r.namespace,
                &r.schedule_id,
                definition,
                patch,
                memo(r.memo.as_ref()),
                search_attributes(r.search_attributes.as_ref(), &namespace)?,
            )
            .await,
    )?;
    Ok(Response::new(ws::CreateScheduleResponse {
        conflict_token: conflict_token(&created),
    }))
}

pub(crate) async fn describe_schedule(
    frontend: &Frontend,
    request: Request<ws::DescribeScheduleRequest>,
) -> Reply<ws::DescribeScheduleResponse> {
    let r = request.into_inner();
    let schedule = engine_result(
        frontend
            .engine
            .describe_schedule(&r.namespace, &r.schedule_id)
            .await,
    )?;
    let now = frontend.engine.now();
    Ok(Response::new(ws::DescribeScheduleResponse {
        schedule: Some(to_schedule(&schedule)),
        info: Some(sched::ScheduleInfo {
            action_count: schedule.action_count,
            missed_catchup_window: schedule.missed_catchup_window,
            overlap_skipped: schedule.overlap_skipped,
            buffer_dropped: schedule.buffer_dropped,
            buffer_size: schedule.buffer.len() as i64,
            running_workflows: schedule
                .running
                .iter()
                .map(|run| common::WorkflowExecution {
                    workflow_id: run.workflow_id.clone(),
                    run_id: run.run_id.clone(),
                })
                .collect(),
            recent_actions: schedule.recent_actions.iter().map(action_result).collect(),
            future_action_times: schedule
                .future_action_times(now, DESCRIBE_FUTURE_TIMES)
                .into_iter()
                .map(timestamp)
                .collect(),
            create_time: Some(timestamp(schedule.create_time)),
            update_time: schedule.update_time.map(timestamp),
            ..Default::default()
        }),
        memo: Some(to_memo(&schedule.memo)),
        search_attributes: Some(crate::search::to_search_attributes(
            &schedule.search_attributes,
        )),
        conflict_token: conflict_token(&schedule),
    }))
}

pub(crate) async fn update_schedule(
    frontend: &Frontend,
    request: Request<ws::UpdateScheduleRequest>,
) -> Reply<ws::UpdateScheduleResponse> {
    let r = request.into_inner();
    let namespace = engine_result(frontend.engine.namespace(&r.namespace))?;
    let schedule = r
        .schedule
        .as_ref()
        .ok_or_else(|| Status::invalid_argument("Schedule is not set on request."))?;
    let definition = definition(schedule, &namespace)?;
    let token = match r.conflict_token.as_slice() {
        [] => None,
        bytes => Some(
            <[u8; 8]>::try_from(bytes)
                .map(i64::from_be_bytes)
                .map_err(|_| {
                    Status::invalid_argument("the conflict token is not one this server issued")
                })?,
        ),
    };
    let attributes = r
        .search_attributes
        .as_ref()
        .map(|s| search_attributes(Some(s), &namespace))
        .transpose()?;
    engine_result(
        frontend
            .engine
            .update_schedule(&r.namespace, &r.schedule_id, definition, token, attributes)
            .await,
    )?;
    Ok(Response::new(ws::UpdateScheduleResponse::default()))
}

pub(crate) async fn patch_schedule(
    frontend: &Frontend,
    request: Request<ws::PatchScheduleRequest>,
) -> Reply<ws::PatchScheduleResponse> {
    let r = request.into_inner();
    let patch = r
        .patch
        .as_ref()
        .map(patch)
        .transpose()?
        .ok_or_else(|| Status::invalid_argument("Patch is not set on request."))?;
    engine_result(
        frontend
            .engine
            .patch_schedule(&r.namespace, &r.schedule_id, patch)
            .await,
    )?;
    Ok(Response::new(ws::PatchScheduleResponse::default()))
}

pub(crate) async fn delete_schedule(
    frontend: &Frontend,
    request: Request<ws::DeleteScheduleRequest>,
) -> Reply<ws::DeleteScheduleResponse> {
    let r = request.into_inner();
    engine_result(
        frontend
            .engine
            .delete_schedule(&r.namespace, &r.schedule_id)
            .await,
    )?;
    Ok(Response::new(ws::DeleteScheduleResponse::default()))
}

pub(crate) async fn count_schedules(
    frontend: &Frontend,
    request: Request<ws::CountSchedulesRequest>,
) -> Reply<ws::CountSchedulesResponse> {
    let r = request.into_inner();
    if !r.query.trim().is_empty() {
        return Err(Status::unimplemented(
            "filtering schedules with a query is not supported yet; count them all",
        ));
    }
    let schedules = engine_result(frontend.engine.schedules(&r.namespace).await)?;
    Ok(Response::new(ws::CountSchedulesResponse {
        count: schedules.len() as i64,
        groups: Vec::new(),
    }))
}

pub(crate) async fn list_schedules(
    frontend: &Frontend,
    request: Request<ws::ListSchedulesRequest>,
) -> Reply<ws::ListSchedulesResponse> {
    let r = request.into_inner();
    if !r.query.trim().is_empty() {
        return Err(Status::unimplemented(
            "filtering schedules with a query is not supported yet; list them all",
        ));
    }
    let schedules = engine_result(frontend.engine.schedules(&r.namespace).await)?;
    let offset: usize = if r.next_page_token.is_empty() {
        0
    } else {
        std::str::from_utf8(&r.next_page_token)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| Status::invalid_argument("invalid NextPageToken"))?
    };
    let page_size = match r.maximum_page_size {
        size if size > 0 => size as usize,
        _ => DEFAULT_PAGE_SIZE,
    };
    let now = frontend.engine.now();
    let page: Vec<&Schedule> = schedules.iter().skip(offset).take(page_size).collect();
    let next_page_token = if offset + page.len() < schedules.len() {
        (offset + page.len()).to_string().into_bytes()
    } else {
        Vec::new()
    };
    let entries = page
        .into_iter()
        .map(|schedule| {
            let recent = &schedule.recent_actions;
            sched::ScheduleListEntry {
                schedule_id: schedule.id.clone(),
                memo: Some(to_memo(&schedule.memo)),
                search_attributes: Some(crate::search::to_search_attributes(
                    &schedule.search_attributes,
                )),
                info: Some(sched::ScheduleListInfo {
                    spec: Some(stored_spec(schedule)),
                    workflow_type: Some(common::WorkflowType {
                        name: schedule.definition.action.params.workflow_type.clone(),
                    }),
                    notes: schedule.definition.state.notes.clone(),
                    paused: schedule.definition.state.paused,
                    recent_actions: recent[recent.len().saturating_sub(LIST_RECENT_ACTIONS)..]
                        .iter()
                        .map(action_result)
                        .collect(),
                    future_action_times: schedule
                        .future_action_times(now, LIST_FUTURE_TIMES)
                        .into_iter()
                        .map(timestamp)
                        .collect(),
                    ..Default::default()
                }),
            }
        })
        .collect();
    Ok(Response::new(ws::ListSchedulesResponse {
        schedules: entries,
        next_page_token,
    }))
}

pub(crate) async fn list_schedule_matching_times(
    frontend: &Frontend,
    request: Request<ws::ListScheduleMatchingTimesRequest>,
) -> Reply<ws::ListScheduleMatchingTimesResponse> {
    let r = request.into_inner();
    let schedule = engine_result(frontend.engine.schedule(&r.namespace, &r.schedule_id).await)?;
    let from = required_time(r.start_time.as_ref(), "StartTime")?;
    let to = required_time(r.end_time.as_ref(), "EndTime")?;
    if to < from {
        return Err(Status::invalid_argument("EndTime is before StartTime"));
    }
    let times = schedule
        .definition
        .spec
        .times_between(from, to, MAX_MATCHING_TIMES);
    Ok(Response::new(ws::ListScheduleMatchingTimesResponse {
        start_time: times.into_iter().map(timestamp).collect(),
    }))
}

fn conflict_token(schedule: &Schedule) -> Vec<u8> {
    schedule.version.to_be_bytes().to_vec()
}

fn required_time(value: Option<&prost_wkt_types::Timestamp>, field: &str) -> Result<Time, Status> {
    value
        .map(from_timestamp)
        .ok_or_else(|| Status::invalid_argument(format!("{field} is not set on request.")))
}

fn from_timestamp(value: &prost_wkt_types::Timestamp) -> Time {
    Time(value.seconds * 1_000_000_000 + value.nanos as i64)
}

/// What a client's Schedule defines, read and checked.
fn definition(schedule: &sched::Schedule, namespace: &Namespace) -> Result<Definition, Status> {
    let spec_proto = schedule
        .spec
        .as_ref()
        .ok_or_else(|| Status::invalid_argument("Schedule.Spec is not set."))?;
    let action_proto = schedule
        .action
        .as_ref()
        .ok_or_else(|| Status::invalid_argument("Schedule.Action is not set."))?;
    let Some(sched::schedule_action::Action::StartWorkflow(start)) = &action_proto.action else {
        return Err(Status::invalid_argument(
            "the schedule's action must start a workflow",
        ));
    };
    let params = super::start::start_request(
        ws::StartWorkflowExecutionRequest {
            namespace: namespace.name.clone(),
            workflow_id: start.workflow_id.clone(),
            workflow_type: start.workflow_type.clone(),
            task_queue: start.task_queue.clone(),
            input: start.input.clone(),
            workflow_execution_timeout: start.workflow_execution_timeout,
            workflow_run_timeout: start.workflow_run_timeout,
            workflow_task_timeout: start.workflow_task_timeout,
            retry_policy: start.retry_policy.clone(),
            cron_schedule: start.cron_schedule.clone(),
            memo: start.memo.clone(),
            search_attributes: start.search_attributes.clone(),
            header: start.header.clone(),
            ..Default::default()
        },
        namespace,
    )?
    .params;
    let policies = schedule.policies.unwrap_or_default();
    let catchup_window = from_duration(policies.catchup_window.as_ref(), "CatchupWindow")?;
    let state = schedule.state.clone().unwrap_or_default();
    Ok(Definition {
        spec: read_spec(spec_proto)?,
        raw_spec: encode(spec_proto),
        action: StartWorkflow {
            workflow_id: start.workflow_id.clone(),
            params,
            raw: encode(action_proto),
        },
        policies: Policies {
            overlap: overlap_policy(policies.overlap_policy).unwrap_or_default(),
            catchup_window: if catchup_window.is_zero() {
                keel_core::schedule::DEFAULT_CATCHUP_WINDOW
            } else {
                catchup_window
            },
            pause_on_failure: policies.pause_on_failure,
            keep_original_workflow_id: policies.keep_original_workflow_id,
        },
        state: ScheduleState {
            notes: state.notes,
            paused: state.paused,
            limited_actions: state.limited_actions,
            remaining_actions: state.remaining_actions,
        },
    })
}

fn read_spec(spec: &sched::ScheduleSpec) -> Result<Spec, Status> {
    let invalid = |why: String| Status::invalid_argument(format!("invalid schedule spec: {why}"));
    if !spec.timezone_data.is_empty() {
        return Err(invalid(
            "time zone data is not supported; name an IANA zone in TimezoneName".into(),
        ));
    }
    let mut calendars = Vec::new();
    let mut intervals = Vec::new();
    for structured in &spec.structured_calendar {
        calendars.push(structured_calendar(structured));
    }
    for calendar in &spec.calendar {
        calendars.push(string_calendar(calendar).map_err(invalid)?);
    }
    for cron in &spec.cron_string {
        match spec::parse_cron(cron).map_err(invalid)? {
            CronPart::Calendar(calendar) => calendars.push(calendar),
            CronPart::Interval(interval) => intervals.push(interval),
        }
    }
    for interval in &spec.interval {
        intervals.push(Interval {
            every: from_duration(interval.interval.as_ref(), "Interval")?,
            phase: from_duration(interval.phase.as_ref(), "Phase")?,
        });
    }
    #[allow(deprecated)]
    let mut exclude: Vec<Calendar> = spec
        .exclude_calendar
        .iter()
        .map(string_calendar)
        .collect::<Result<_, _>>()
        .map_err(invalid)?;
    exclude.extend(
        spec.exclude_structured_calendar
            .iter()
            .map(structured_calendar),
    );
    let read = Spec {
        calendars,
        intervals,
        exclude,
        start_time: spec.start_time.as_ref().map(from_timestamp),
        end_time: spec.end_time.as_ref().map(from_timestamp),
        jitter: from_duration(spec.jitter.as_ref(), "Jitter")?,
        time_zone: spec.timezone_name.clone(),
    };
    read.validate().map_err(invalid)?;
    Ok(read)
}

fn string_calendar(calendar: &sched::CalendarSpec) -> Result<Calendar, String> {
    spec::calendar_of(
        &calendar.second,
        &calendar.minute,
        &calendar.hour,
        &calendar.day_of_month,
        &calendar.month,
        &calendar.year,
        &calendar.day_of_week,
        &calendar.comment,
    )
}

fn structured_calendar(calendar: &sched::StructuredCalendarSpec) -> Calendar {
    let ranges = |ranges: &[sched::Range]| {
        ranges
            .iter()
            .map(|range| Range {
                start: range.start,
                end: range.end,
                step: range.step,
            })
            .collect()
    };
    Calendar {
        second: ranges(&calendar.second),
        minute: ranges(&calendar.minute),
        hour: ranges(&calendar.hour),
        day_of_month: ranges(&calendar.day_of_month),
        month: ranges(&calendar.month),
        year: ranges(&calendar.year),
        day_of_week: ranges(&calendar.day_of_week),
        comment: calendar.comment.clone(),
        time_zone: String::new(),
    }
}

fn overlap_policy(value: i32) -> Option<OverlapPolicy> {
    use enums::ScheduleOverlapPolicy as P;
    Some(match P::try_from(value).ok()? {
        P::Unspecified => return None,
        P::Skip => OverlapPolicy::Skip,
        P::BufferOne => OverlapPolicy::BufferOne,
        P::BufferAll => OverlapPolicy::BufferAll,
        P::CancelOther => OverlapPolicy::CancelOther,
        P::TerminateOther => OverlapPolicy::TerminateOther,
        P::AllowAll => OverlapPolicy::AllowAll,
    })
}

fn to_overlap_policy(policy: OverlapPolicy) -> enums::ScheduleOverlapPolicy {
    use enums::ScheduleOverlapPolicy as P;
    match policy {
        OverlapPolicy::Skip => P::Skip,
        OverlapPolicy::BufferOne => P::BufferOne,
        OverlapPolicy::BufferAll => P::BufferAll,
        OverlapPolicy::CancelOther => P::CancelOther,
        OverlapPolicy::TerminateOther => P::TerminateOther,
        OverlapPolicy::AllowAll => P::AllowAll,
    }
}

fn patch(patch: &sched::SchedulePatch) -> Result<Patch, Status> {
    let backfill = patch
        .backfill_request
        .iter()
        .map(|request| {
            let from = required_time(request.start_time.as_ref(), "BackfillRequest.StartTime")?;
            let to = required_time(request.end_time.as_ref(), "BackfillRequest.EndTime")?;
            if to < from {
                return Err(Status::invalid_argument(
                    "a backfill's end time is before its start time",
                ));
            }
            Ok(Backfill {
                from,
                to,
                overlap: overlap_policy(request.overlap_policy),
            })
        })
        .collect::<Result<_, Status>>()?;
    Ok(Patch {
        trigger: patch.trigger_immediately.as_ref().map(|trigger| Trigger {
            overlap: overlap_policy(trigger.overlap_policy),
        }),
        backfill,
        pause: (!patch.pause.is_empty()).then(|| patch.pause.clone()),
        unpause: (!patch.unpause.is_empty()).then(|| patch.unpause.clone()),
    })
}

/// The spec as Temporal describes it: as given, but with calendars written as strings and
/// cron strings turned into structured calendars (or intervals, for `@every`), after the
/// structured ones given. A cron string with its own `CRON_TZ` stays a string: a structured
/// calendar has no zone of its own.
fn stored_spec(schedule: &Schedule) -> sched::ScheduleSpec {
    let mut spec =
        sched::ScheduleSpec::decode(schedule.definition.raw_spec.0.as_slice()).unwrap_or_default();
    let calendars = std::mem::take(&mut spec.calendar);
    for calendar in &calendars {
        match string_calendar(calendar) {
            Ok(read) => spec.structured_calendar.push(to_structured(&read)),
            Err(_) => spec.calendar.push(calendar.clone()),
        }
    }
    #[allow(deprecated)]
    let excluded = std::mem::take(&mut spec.exclude_calendar);
    for calendar in &excluded {
        match string_calendar(calendar) {
            Ok(read) => spec.exclude_structured_calendar.push(to_structured(&read)),
            #[allow(deprecated)]
            Err(_) => spec.exclude_calendar.push(calendar.clone()),
        }
    }
    let crons = std::mem::take(&mut spec.cron_string);
    for cron in crons {
        match spec::parse_cron(&cron) {
            Ok(CronPart::Calendar(calendar)) if calendar.time_zone.is_empty() => {
                spec.structured_calendar.push(to_structured(&calendar));
            }
            Ok(CronPart::Interval(interval)) => spec.interval.push(sched::IntervalSpec {
                interval: Some(duration(interval.every)),
                phase: Some(duration(interval.phase)),
            }),
            _ => spec.cron_string.push(cron),
        }
    }
    spec
}

/// A calendar as a structured one, its defaults written out as Temporal writes them:
/// second, minute and hour 0, every day of the month, month and day of the week.
fn to_structured(calendar: &Calendar) -> sched::StructuredCalendarSpec {
    let ranges = |ranges: &[Range], default: (i32, i32)| -> Vec<sched::Range> {
        if ranges.is_empty() {
            return vec![sched::Range {
                start: default.0,
                end: default.1,
                step: 1,
            }];
        }
        ranges
            .iter()
            .map(|range| sched::Range {
                start: range.start,
                end: range.end.max(range.start),
                step: range.step.max(1),
            })
            .collect()
    };
    sched::StructuredCalendarSpec {
        second: ranges(&calendar.second, (0, 0)),
        minute: ranges(&calendar.minute, (0, 0)),
        hour: ranges(&calendar.hour, (0, 0)),
        day_of_month: ranges(&calendar.day_of_month, (1, 31)),
        month: ranges(&calendar.month, (1, 12)),
        // Any year is no year at all (a cron string's `*` reads as every year there is).
        year: calendar
            .year
            .iter()
            .filter(|range| !(range.start <= 1970 && range.end >= 9999 && range.step <= 1))
            .map(|range| sched::Range {
                start: range.start,
                end: range.end.max(range.start),
                step: range.step.max(1),
            })
            .collect(),
        day_of_week: ranges(&calendar.day_of_week, (0, 6)),
        comment: calendar.comment.clone(),
    }
}

/// The schedule as describe shows it: spec and action as given, policies and state as
/// they are now.
fn to_schedule(schedule: &Schedule) -> sched::Schedule {
    let definition = &schedule.definition;
    let policies = &definition.policies;
    let state = &definition.state;
    sched::Schedule {
        spec: Some(stored_spec(schedule)),
        action: Some(described_action(&definition.action.raw)),
        policies: Some(sched::SchedulePolicies {
            overlap_policy: to_overlap_policy(policies.overlap) as i32,
            catchup_window: Some(duration(policies.catchup_window)),
            pause_on_failure: policies.pause_on_failure,
            keep_original_workflow_id: policies.keep_original_workflow_id,
        }),
        state: Some(sched::ScheduleState {
            notes: state.notes.clone(),
            paused: state.paused,
            limited_actions: state.limited_actions,
            remaining_actions: state.remaining_actions,
        }),
    }
}

/// The action as given, its task queue marked normal as Temporal marks it.
fn described_action(raw: &keel_core::Blob) -> sched::ScheduleAction {
    let mut action = sched::ScheduleAction::decode(raw.0.as_slice()).unwrap_or_default();
    if let Some(sched::schedule_action::Action::StartWorkflow(start)) = &mut action.action
        && let Some(queue) = &mut start.task_queue
        && queue.kind == enums::TaskQueueKind::Unspecified as i32
    {
        queue.kind = enums::TaskQueueKind::Normal as i32;
    }
    action
}

fn action_result(result: &ActionResult) -> sched::ScheduleActionResult {
    sched::ScheduleActionResult {
        schedule_time: Some(timestamp(result.schedule_time)),
        actual_time: Some(timestamp(result.actual_time)),
        start_workflow_result: Some(common::WorkflowExecution {
            workflow_id: result.workflow_id.clone(),
            run_id: result.run_id.clone(),
        }),
        start_workflow_status: result.status as i32,
    }
}
