//! Schedules: workflows started on a calendar or an interval.
//!
//! A [`Schedule`] is pure state. The engine wakes it at [`Schedule::next_wake`], tells it
//! which of its workflows have closed ([`Schedule::workflow_closed`]), lets it collect the
//! times that came due ([`Schedule::collect_due`]), asks what to do about them under the
//! overlap policy ([`Schedule::decide`]), carries that out, and records each start
//! ([`Schedule::started`]). Every start has a workflow id and request id derived from its
//! nominal time, so carrying a decision out twice (after a crash, or on two nodes) starts one
//! workflow.

pub mod spec;
mod words;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::search::SearchAttributes;
use crate::start::StartParams;
use crate::types::Blob;
use crate::types::{BlobMap, ExecutionKey, Failure, Status, Time};
pub use spec::Spec;

/// How many recent actions a schedule remembers.
const RECENT_ACTIONS: usize = 10;
/// How many due times one wake-up takes at most (a long outage is caught up in steps).
pub const MAX_DUE_PER_WAKE: usize = 1000;
/// Temporal's default catch-up window.
pub const DEFAULT_CATCHUP_WINDOW: Duration = Duration::from_secs(365 * 24 * 3600);
/// The shortest catch-up window Temporal allows.
pub const MIN_CATCHUP_WINDOW: Duration = Duration::from_secs(10);

/// What to do when an action is due while the schedule's last workflow still runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverlapPolicy {
    /// Do not start it.
    #[default]
    Skip,
    /// Start it once the running one closes; keep at most one waiting.
    BufferOne,
    /// Start each once the one before closes.
    BufferAll,
    /// Ask the running one to cancel, and start once it has closed.
    CancelOther,
    /// Terminate the running one and start at once.
    TerminateOther,
    /// Start it anyway.
    AllowAll,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policies {
    pub overlap: OverlapPolicy,
    /// How late a due time may be acted on (after an outage, say); later ones are missed.
    pub catchup_window: Duration,
    /// Pause the schedule when one of its workflows fails or times out.
    pub pause_on_failure: bool,
    /// Start workflows with the action's workflow id as it is, without the time appended.
    pub keep_original_workflow_id: bool,
}

impl Default for Policies {
    fn default() -> Policies {
        Policies {
            overlap: OverlapPolicy::Skip,
            catchup_window: DEFAULT_CATCHUP_WINDOW,
            pause_on_failure: false,
            keep_original_workflow_id: false,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleState {
    pub notes: String,
    pub paused: bool,
    /// When set, only `remaining_actions` more actions are taken.
    pub limited_actions: bool,
    pub remaining_actions: i64,
}

/// The workflow a schedule starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartWorkflow {
    pub workflow_id: String,
    pub params: StartParams,
    /// The action as the client gave it (encoded by the frontend), returned by describe.
    pub raw: Blob,
}

/// What the client defines: when, what, and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    pub spec: Spec,
    /// The spec as the client gave it (encoded by the frontend), returned by describe.
    pub raw_spec: Blob,
    pub action: StartWorkflow,
    pub policies: Policies,
    pub state: ScheduleState,
}

/// The workflow id and request id a schedule's start uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartIds {
    pub workflow_id: String,
    pub request_id: String,
}

/// A due action waiting to be taken.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BufferedStart {
    /// The time the spec named (or the trigger's time).
    pub nominal: Time,
    /// When it was due, with jitter.
    pub actual: Time,
    pub overlap: OverlapPolicy,
    /// Asked for by a trigger or a backfill rather than the spec.
    pub manual: bool,
}

/// A workflow the schedule started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    pub schedule_time: Time,
    pub actual_time: Time,
    pub workflow_id: String,
    pub run_id: String,
    pub status: Status,
}

impl ActionResult {
    /// The run it started, in the schedule's `namespace`.
    pub fn key(&self, namespace: &str) -> ExecutionKey {
        ExecutionKey {
            namespace: namespace.to_owned(),
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub namespace: String,
    pub id: String,
    /// Bumped by every committed change; the store compares it (and clients send it back as
    /// the conflict token).
    pub version: i64,
    pub definition: Definition,
    pub memo: BlobMap,
    pub search_attributes: SearchAttributes,
    pub create_time: Time,
    pub update_time: Option<Time>,
    pub action_count: i64,
    pub missed_catchup_window: i64,
    pub overlap_skipped: i64,
    pub buffer_dropped: i64,
    /// Newest last.
    pub recent_actions: Vec<ActionResult>,
    /// Started workflows not yet seen closed.
    pub running: Vec<ActionResult>,
    pub buffer: Vec<BufferedStart>,
    /// Spec times up to here have been acted on (or missed, or skipped while paused).
    pub processed_until: Time,
    /// Set when the running workflows were asked to cancel for a waiting start.
    #[serde(default)]
    pub cancel_requested: bool,
    /// The result of the last workflow it started that completed, handed to the next.
    #[serde(default)]
    pub last_completion_result: Option<Blob>,
    /// The failure of a workflow it started that failed or timed out since the last that
    /// completed, handed to the next.
    #[serde(default)]
    pub last_failure: Option<Failure>,
}

/// Taking a schedule's action now, outside its spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trigger {
    /// The overlap policy this start follows; the schedule's when `None`.
    pub overlap: Option<OverlapPolicy>,
}

/// One-off changes to a schedule (PatchSchedule, or a create's initial patch).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Patch {
    /// Take the action now.
    pub trigger: Option<Trigger>,
    pub backfill: Vec<Backfill>,
    /// Pause, with this note.
    pub pause: Option<String>,
    /// Unpause, with this note.
    pub unpause: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Backfill {
    pub from: Time,
    pub to: Time,
    pub overlap: Option<OverlapPolicy>,
}

/// What the engine must do for a schedule now.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Start the action for this due time (workflow id and request id from [`Schedule::start_of`]).
    Start(BufferedStart),
    /// Ask these running workflows to cancel.
    Cancel(Vec<ActionResult>),
    /// Terminate these running workflows.
    Terminate(Vec<ActionResult>),
}

impl Schedule {
    pub fn new(
        namespace: String,
        id: String,
        definition: Definition,
        memo: BlobMap,
        search_attributes: SearchAttributes,
        now: Time,
    ) -> Result<Schedule, String> {
        validate(&definition)?;
        Ok(Schedule {
            namespace,
            id,
            version: 1,
            definition,
            memo,
            search_attributes,
            create_time: now,
            update_time: None,
            action_count: 0,
            missed_catchup_window: 0,
            overlap_skipped: 0,
            buffer_dropped: 0,
            recent_actions: Vec::new(),
            running: Vec::new(),
            buffer: Vec::new(),
            processed_until: now,
            cancel_requested: false,
            last_completion_result: None,
            last_failure: None,
        })
    }

    /// Replaces what the schedule does; times already due are not acted on again.
    pub fn update(&mut self, definition: Definition, now: Time) -> Result<(), String> {
        validate(&definition)?;
        self.definition = definition;
        self.update_time = Some(now);
        self.processed_until = self.processed_until.max(now);
        Ok(())
    }

    pub fn pause(&mut self, note: &str, now: Time) {
        self.definition.state.paused = true;
        self.definition.state.notes = note.to_owned();
        self.update_time = Some(now);
    }

    /// Unpausing does not catch up on the times that passed while paused.
    pub fn unpause(&mut self, note: &str, now: Time) {
        self.definition.state.paused = false;
        self.definition.state.notes = note.to_owned();
        self.update_time = Some(now);
        self.processed_until = self.processed_until.max(now);
    }

    pub fn apply(&mut self, patch: Patch, now: Time) {
        if let Some(note) = patch.pause {
            let note = if note.is_empty() {
                "Paused via API"
            } else {
                &note
            };
            self.pause(note, now);
        }
        if let Some(note) = patch.unpause {
            let note = if note.is_empty() {
                "Unpaused via API"
            } else {
                &note
            };
            self.unpause(note, now);
        }
        if let Some(trigger) = patch.trigger {
            self.trigger(trigger.overlap, now);
        }
        for backfill in patch.backfill {
            self.backfill(backfill.from, backfill.to, backfill.overlap);
        }
    }

    /// Takes the action now, under `overlap` (the schedule's policy when `None`).
    pub fn trigger(&mut self, overlap: Option<OverlapPolicy>, now: Time) {
        self.buffer.push(BufferedStart {
            nominal: now,
            actual: now,
            overlap: overlap.unwrap_or(self.definition.policies.overlap),
            manual: true,
        });
    }

    /// Takes the actions the spec would have taken in `from..=to`, regardless of the
    /// catch-up window.
    pub fn backfill(&mut self, from: Time, to: Time, overlap: Option<OverlapPolicy>) {
        let overlap = overlap.unwrap_or(self.definition.policies.overlap);
        for nominal in self
            .definition
            .spec
            .times_between(from, to, MAX_DUE_PER_WAKE)
        {
            self.buffer.push(BufferedStart {
                nominal,
                actual: nominal,
                overlap,
                manual: true,
            });
        }
    }

    fn actions_left(&self) -> bool {
        let state = &self.definition.state;
        !state.limited_actions || state.remaining_actions > 0
    }

    /// The action time for a spec time: jittered by a fixed amount for that time, so every
    /// node computes the same.
    fn jittered(&self, nominal: Time) -> Time {
        let jitter = self.definition.spec.jitter.as_nanos() as u64;
        if jitter == 0 {
            return nominal;
        }
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        for byte in self.id.bytes().chain(nominal.0.to_le_bytes()) {
            hash = (hash ^ byte as u64).wrapping_mul(0x0100_0000_01b3);
        }
        Time(nominal.0 + (hash % jitter) as i64)
    }

    /// The next spec time after `after` with its action time.
    fn next_spec_time(&self, after: Time) -> Option<(Time, Time)> {
        let nominal = self.definition.spec.next_after(after)?;
        Some((nominal, self.jittered(nominal)))
    }

    /// Moves the spec times that came due by `now` into the buffer, or counts them missed
    /// (older than the catch-up window) or drops them (paused, or no actions left).
    pub fn collect_due(&mut self, now: Time) {
        let window = self.definition.policies.catchup_window;
        for _ in 0..MAX_DUE_PER_WAKE {
            let Some((nominal, actual)) = self.next_spec_time(self.processed_until) else {
                break;
            };
            if actual > now {
                break;
            }
            self.processed_until = nominal;
            if self.definition.state.paused || !self.actions_left() {
                continue;
            }
            if actual.plus(window) < now {
                self.missed_catchup_window += 1;
                continue;
            }
            self.buffer.push(BufferedStart {
                nominal,
                actual,
                overlap: self.definition.policies.overlap,
                manual: false,
            });
        }
        if self.definition.state.paused {
            self.processed_until = self.processed_until.max(now);
        }
    }

    /// What to do with the buffer given the workflows still running.
    pub fn decide(&mut self) -> Vec<Decision> {
        let mut decisions = Vec::new();
        let mut running = !self.running.is_empty();
        let mut waiting = Vec::new();
        for start in std::mem::take(&mut self.buffer) {
            if !self.actions_left() {
                self.buffer_dropped += 1;
                continue;
            }
            if !running || start.overlap == OverlapPolicy::AllowAll {
                self.take_action();
                decisions.push(Decision::Start(start));
                running = true;
                continue;
            }
            match start.overlap {
                OverlapPolicy::Skip => self.overlap_skipped += 1,
                OverlapPolicy::BufferOne => {
                    if waiting.is_empty() {
                        waiting.push(start);
                    } else {
                        self.buffer_dropped += 1;
                    }
                }
                OverlapPolicy::BufferAll => waiting.push(start),
                OverlapPolicy::CancelOther => {
                    if !self.cancel_requested {
                        self.cancel_requested = true;
                        decisions.push(Decision::Cancel(self.running.clone()));
                    }
                    // Only the newest waits for the cancelled one to close.
                    self.buffer_dropped += waiting.len() as i64;
                    waiting = vec![start];
                }
                OverlapPolicy::TerminateOther => {
                    decisions.push(Decision::Terminate(std::mem::take(&mut self.running)));
                    self.take_action();
                    decisions.push(Decision::Start(start));
                }
                OverlapPolicy::AllowAll => unreachable!("started above"),
            }
        }
        self.buffer = waiting;
        decisions
    }

    fn take_action(&mut self) {
        let state = &mut self.definition.state;
        if state.limited_actions {
            state.remaining_actions -= 1;
        }
    }

    /// The ids the workflow started for `start` gets: the same for every node and every
    /// repetition, so a start repeated after a crash finds the run started before.
    pub fn start_of(&self, start: &BufferedStart) -> StartIds {
        let action = &self.definition.action;
        let workflow_id = if self.definition.policies.keep_original_workflow_id {
            action.workflow_id.clone()
        } else {
            format!("{}-{}", action.workflow_id, rfc3339_seconds(start.nominal))
        };
        let request_id = format!(
            "schedule:{}:{}:{}",
            self.namespace, self.id, start.nominal.0
        );
        StartIds {
            workflow_id,
            request_id,
        }
    }

    /// Records a workflow the schedule started.
    pub fn started(&mut self, start: &BufferedStart, workflow_id: String, run_id: String) {
        let result = ActionResult {
            schedule_time: start.nominal,
            actual_time: start.actual,
            workflow_id,
            run_id,
            status: Status::Running,
        };
        self.action_count += 1;
        if !self.running.iter().any(|r| r.run_id == result.run_id) {
            self.running.push(result.clone());
        }
        self.recent_actions.push(result);
        let excess = self.recent_actions.len().saturating_sub(RECENT_ACTIONS);
        self.recent_actions.drain(..excess);
    }

    /// A workflow the schedule started has closed with `status`; `outcome` is its result
    /// when it completed, or its failure when it failed or timed out.
    pub fn workflow_closed(
        &mut self,
        run_id: &str,
        status: Status,
        outcome: Option<Result<Option<Blob>, Failure>>,
        now: Time,
    ) {
        let was_running = self.running.iter().any(|r| r.run_id == run_id);
        self.running.retain(|r| r.run_id != run_id);
        match outcome {
            Some(Ok(result)) if was_running => {
                self.last_completion_result = result;
                self.last_failure = None;
            }
            Some(Err(failure)) if was_running => self.last_failure = Some(failure),
            _ => {}
        }
        if self.running.is_empty() {
            self.cancel_requested = false;
        }
        for action in &mut self.recent_actions {
            if action.run_id == run_id {
                action.status = status;
            }
        }
        if self.definition.policies.pause_on_failure
            && matches!(status, Status::Failed | Status::TimedOut)
        {
            self.pause(
                &format!("paused because a workflow it started ended as {status:?}"),
                now,
            );
        }
    }

    /// When the engine should wake the schedule next: the next action time, or soon while
    /// starts wait for running workflows to close (`poll`); `None` when nothing is coming.
    pub fn next_wake(&self, now: Time, poll: Duration) -> Option<Time> {
        let mut wake = None;
        if !self.buffer.is_empty() || (!self.running.is_empty() && self.needs_closes()) {
            wake = Some(if self.running.is_empty() {
                now
            } else {
                now.plus(poll)
            });
        }
        if !self.definition.state.paused
            && self.actions_left()
            && let Some((_, actual)) = self.next_spec_time(self.processed_until)
        {
            wake = Some(wake.map_or(actual, |w: Time| w.min(actual)));
        }
        wake
    }

    /// Whether closes of running workflows matter now (recent action statuses are kept
    /// up to date regardless, when the schedule next wakes).
    fn needs_closes(&self) -> bool {
        self.definition.policies.pause_on_failure || !self.buffer.is_empty()
    }

    /// The next `count` action times (nominal) from `now`, as describe shows them.
    pub fn future_action_times(&self, now: Time, count: usize) -> Vec<Time> {
        if self.definition.state.paused {
            return Vec::new();
        }
        let mut left = if self.definition.state.limited_actions {
            self.definition.state.remaining_actions.max(0) as usize
        } else {
            count
        };
        left = left.min(count);
        let mut times = Vec::new();
        let mut after = self.processed_until.max(now);
        while times.len() < left {
            match self.next_spec_time(after) {
                Some((nominal, actual)) => {
                    times.push(actual);
                    after = nominal;
                }
                None => break,
            }
        }
        times
    }
}

fn validate(definition: &Definition) -> Result<(), String> {
    definition.spec.validate()?;
    if definition.action.workflow_id.is_empty() {
        return Err("the schedule's action needs a workflow id".into());
    }
    if definition.action.params.workflow_type.is_empty() {
        return Err("the schedule's action needs a workflow type".into());
    }
    if definition.action.params.task_queue.is_empty() {
        return Err("the schedule's action needs a task queue".into());
    }
    if definition.policies.catchup_window < MIN_CATCHUP_WINDOW {
        return Err(format!(
            "the catch-up window must be at least {} seconds",
            MIN_CATCHUP_WINDOW.as_secs()
        ));
    }
    Ok(())
}

/// `2024-01-02T03:04:05Z`, as Temporal appends to a scheduled workflow's id.
fn rfc3339_seconds(time: Time) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(time.0.div_euclid(1_000_000_000), 0)
        .map(|at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::spec::Interval;

    const T0: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z

    fn secs(n: i64) -> Time {
        Time(T0 + n * 1_000_000_000)
    }

    fn every_ten_seconds(overlap: OverlapPolicy) -> Schedule {
        let definition = Definition {
            spec: Spec {
                intervals: vec![Interval {
                    every: Duration::from_secs(10),
                    phase: Duration::ZERO,
                }],
                ..Spec::default()
            },
            raw_spec: Blob::default(),
            action: StartWorkflow {
                workflow_id: "report".into(),
                params: StartParams {
                    workflow_type: "Report".into(),
                    task_queue: "q".into(),
                    ..StartParams::default()
                },
                raw: Blob::default(),
            },
            policies: Policies {
                overlap,
                ..Policies::default()
            },
            state: ScheduleState::default(),
        };
        Schedule::new(
            "default".into(),
            "nightly".into(),
            definition,
            BlobMap::new(),
            SearchAttributes::new(),
            secs(0),
        )
        .unwrap()
    }

    fn starts(decisions: &[Decision]) -> Vec<Time> {
        decisions
            .iter()
            .filter_map(|d| match d {
                Decision::Start(start) => Some(start.nominal),
                _ => None,
            })
            .collect()
    }

    fn start_all(schedule: &mut Schedule, decisions: &[Decision]) {
        for decision in decisions {
            if let Decision::Start(start) = decision {
                let workflow_id = schedule.start_of(start).workflow_id;
                let run_id = format!("run-{}", start.nominal.0);
                schedule.started(start, workflow_id, run_id);
            }
        }
    }

    #[test]
    fn due_times_start_one_workflow_each_with_a_time_stamped_id() {
        let mut schedule = every_ten_seconds(OverlapPolicy::Skip);
        assert_eq!(
            schedule.next_wake(secs(0), Duration::from_secs(1)),
            Some(secs(10))
        );
        schedule.collect_due(secs(10));
        let decisions = schedule.decide();
        assert_eq!(starts(&decisions), [secs(10)]);
        let Decision::Start(start) = &decisions[0] else {
            unreachable!()
        };
        let StartIds {
            workflow_id,
            request_id,
        } = schedule.start_of(start);
        assert_eq!(workflow_id, "report-2024-01-01T00:00:10Z");
        assert_eq!(
            request_id,
            format!("schedule:default:nightly:{}", secs(10).0)
        );
        start_all(&mut schedule, &decisions);
        assert_eq!(schedule.action_count, 1);
        assert_eq!(schedule.running.len(), 1);
        // Still running at the next time: skipped.
        schedule.collect_due(secs(20));
        assert!(schedule.decide().is_empty());
        assert_eq!(schedule.overlap_skipped, 1);
        schedule.workflow_closed(
            &format!("run-{}", secs(10).0),
            Status::Completed,
            None,
            secs(25),
        );
        assert_eq!(schedule.recent_actions[0].status, Status::Completed);
        schedule.collect_due(secs(30));
        assert_eq!(starts(&schedule.decide()), [secs(30)]);
    }

    /// As Temporal's schedules: the next run gets the last completed run's result, and the
    /// failure of a run that failed since (cleared by the next completion).
    #[test]
    fn the_last_result_and_failure_are_kept_for_the_next_run() {
        let mut schedule = every_ten_seconds(OverlapPolicy::AllowAll);
        let run = |schedule: &mut Schedule, at: u64, outcome| {
            schedule.collect_due(secs(at as i64));
            let decisions = schedule.decide();
            start_all(schedule, &decisions);
            let run_id = format!("run-{}", secs(at as i64).0);
            let status = match &outcome {
                Some(Ok(_)) => Status::Completed,
                _ => Status::Failed,
            };
            schedule.workflow_closed(&run_id, status, outcome, secs(at as i64 + 1));
        };
        let failure = |message: &str| Failure {
            message: message.into(),
            source: String::new(),
            info: crate::types::FailureInfo::Other,
            cause: None,
            original: None,
        };
        run(&mut schedule, 10, Some(Ok(Some(Blob(vec![1])))));
        assert_eq!(schedule.last_completion_result, Some(Blob(vec![1])));
        run(&mut schedule, 20, Some(Err(failure("boom"))));
        assert_eq!(schedule.last_completion_result, Some(Blob(vec![1])));
        assert_eq!(schedule.last_failure, Some(failure("boom")));
        run(&mut schedule, 30, Some(Ok(Some(Blob(vec![3])))));
        assert_eq!(schedule.last_completion_result, Some(Blob(vec![3])));
        assert_eq!(schedule.last_failure, None);
        // A run it does not know (closed already, or never its own) changes nothing.
        schedule.workflow_closed(
            "elsewhere",
            Status::Failed,
            Some(Err(failure("x"))),
            secs(40),
        );
        assert_eq!(schedule.last_failure, None);
    }

    #[test]
    fn buffering_policies_wait_for_the_running_workflow() {
        let mut one = every_ten_seconds(OverlapPolicy::BufferOne);
        one.collect_due(secs(10));
        let first = one.decide();
        start_all(&mut one, &first);
        one.collect_due(secs(30));
        assert!(one.decide().is_empty());
        assert_eq!((one.buffer.len(), one.buffer_dropped), (1, 1));
        assert_eq!(
            one.next_wake(secs(30), Duration::from_secs(1)),
            Some(secs(31))
        );
        one.workflow_closed(
            &format!("run-{}", secs(10).0),
            Status::Completed,
            None,
            secs(31),
        );
        assert_eq!(starts(&one.decide()), [secs(20)]);

        let mut all = every_ten_seconds(OverlapPolicy::BufferAll);
        all.collect_due(secs(10));
        let first = all.decide();
        start_all(&mut all, &first);
        all.collect_due(secs(30));
        assert!(all.decide().is_empty());
        assert_eq!(all.buffer.len(), 2);

        let mut cancel = every_ten_seconds(OverlapPolicy::CancelOther);
        cancel.collect_due(secs(10));
        let first = cancel.decide();
        start_all(&mut cancel, &first);
        cancel.collect_due(secs(20));
        let decisions = cancel.decide();
        assert!(matches!(&decisions[..], [Decision::Cancel(running)] if running.len() == 1));
        cancel.collect_due(secs(30));
        assert!(cancel.decide().is_empty(), "asked once");

        let mut terminate = every_ten_seconds(OverlapPolicy::TerminateOther);
        terminate.collect_due(secs(10));
        let first = terminate.decide();
        start_all(&mut terminate, &first);
        terminate.collect_due(secs(20));
        let decisions = terminate.decide();
        assert!(matches!(&decisions[0], Decision::Terminate(running) if running.len() == 1));
        assert_eq!(starts(&decisions), [secs(20)]);
    }

    #[test]
    fn late_times_outside_the_catchup_window_are_missed() {
        let mut schedule = every_ten_seconds(OverlapPolicy::AllowAll);
        schedule.definition.policies.catchup_window = Duration::from_secs(15);
        schedule.collect_due(secs(100));
        assert_eq!(schedule.missed_catchup_window, 8, "10 through 80");
        assert_eq!(starts(&schedule.decide()), [secs(90), secs(100)]);
    }

    #[test]
    fn paused_schedules_skip_times_and_do_not_catch_up() {
        let mut schedule = every_ten_seconds(OverlapPolicy::AllowAll);
        schedule.pause("maintenance", secs(5));
        assert_eq!(schedule.next_wake(secs(5), Duration::from_secs(1)), None);
        schedule.collect_due(secs(45));
        assert!(schedule.decide().is_empty());
        assert!(schedule.future_action_times(secs(45), 3).is_empty());
        schedule.unpause("", secs(47));
        schedule.collect_due(secs(50));
        assert_eq!(starts(&schedule.decide()), [secs(50)]);
        // A trigger works whether paused or not.
        schedule.pause("again", secs(51));
        schedule.trigger(None, secs(52));
        assert_eq!(starts(&schedule.decide()), [secs(52)]);
    }

    #[test]
    fn limited_actions_run_out_and_failures_can_pause() {
        let mut schedule = every_ten_seconds(OverlapPolicy::AllowAll);
        schedule.definition.state.limited_actions = true;
        schedule.definition.state.remaining_actions = 2;
        schedule.definition.policies.pause_on_failure = true;
        assert_eq!(
            schedule.future_action_times(secs(0), 5),
            [secs(10), secs(20)]
        );
        schedule.collect_due(secs(30));
        let decisions = schedule.decide();
        assert_eq!(starts(&decisions), [secs(10), secs(20)]);
        start_all(&mut schedule, &decisions);
        assert_eq!(schedule.definition.state.remaining_actions, 0);
        schedule.collect_due(secs(60));
        assert!(schedule.decide().is_empty());
        schedule.workflow_closed(
            &format!("run-{}", secs(10).0),
            Status::Failed,
            None,
            secs(61),
        );
        assert!(schedule.definition.state.paused);
    }

    #[test]
    fn backfills_take_the_spec_times_of_a_past_range() {
        let mut schedule = every_ten_seconds(OverlapPolicy::Skip);
        schedule.backfill(secs(-30), secs(-10), Some(OverlapPolicy::AllowAll));
        assert_eq!(
            starts(&schedule.decide()),
            [secs(-30), secs(-20), secs(-10)]
        );
    }
}
