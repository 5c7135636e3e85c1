//! Schedules: the operations clients call, and the runner that wakes each schedule at its
//! next action time, starts its workflows and records what it did.
//!
//! The store holds each schedule (version-checked); memory holds only when each is due next.
//! Every start's workflow id and request id come from its due time, so a start carried out
//! again (after a crash between starting and recording, or by two nodes at once) finds the
//! workflow it started before instead of starting another.

use std::collections::BTreeMap;
use std::time::Duration;

use keel_core::requests::CancelRequest;
use keel_core::schedule::{Decision, Definition, Patch, Schedule};
use keel_core::search::{SearchAttribute, SearchAttributeType, SearchAttributes, SearchValue};
use keel_core::{BlobMap, Status, Time};

use crate::start::StartRequest;
use crate::wakes::{self, Wakes};
use crate::{Engine, Error, Result};

/// How often a schedule waiting for its running workflow to close looks again.
const CLOSE_POLL: Duration = Duration::from_secs(1);
/// Who the runner's starts, cancellations and terminations say they came from.
const IDENTITY: &str = "keel-scheduler";

#[derive(Default)]
pub(crate) struct Schedules {
    /// When each schedule is due next.
    pub(crate) wakes: Wakes,
    /// One change to schedules at a time on a node: the runner and the calls take turns.
    turn: tokio::sync::Mutex<()>,
}

/// How the wake loop runs schedules.
pub(crate) fn wake_kind() -> wakes::Kind {
    wakes::Kind {
        name: "schedule",
        wakes: |inner| &inner.schedules.wakes,
        recover: |engine| Box::pin(engine.recover_schedules()),
        act: |engine, namespace, id| Box::pin(engine.run_schedule(namespace, id)),
        retry: CLOSE_POLL,
    }
}

impl Engine {
    pub async fn create_schedule(
        &self,
        namespace: &str,
        schedule_id: &str,
        definition: Definition,
        patch: Patch,
        memo: BlobMap,
        search_attributes: SearchAttributes,
    ) -> Result<Schedule> {
        self.namespace(namespace)?;
        if schedule_id.is_empty() {
            return Err(Error::InvalidArgument(
                "ScheduleId is not set on request.".into(),
            ));
        }
        let now = self.now();
        let mut schedule = Schedule::new(
            namespace.to_owned(),
            schedule_id.to_owned(),
            definition,
            memo,
            search_attributes,
            now,
        )
        .map_err(Error::InvalidArgument)?;
        schedule.apply(patch, now);
        let _turn = self.inner.schedules.turn.lock().await;
        match self.inner.store.create_schedule(&schedule).await {
            Err(keel_store::Error::AlreadyExists(_)) => {
                return Err(Error::AlreadyStarted {
                    message: "schedule with this ID is already registered".into(),
                    start_request_id: String::new(),
                    run_id: String::new(),
                });
            }
            other => other?,
        }
        self.arm_schedule(&schedule, now);
        Ok(schedule)
    }

    pub async fn schedule(&self, namespace: &str, schedule_id: &str) -> Result<Schedule> {
        self.namespace(namespace)?;
        self.inner
            .store
            .schedule(namespace, schedule_id)
            .await?
            .ok_or_else(|| schedule_not_found(schedule_id))
    }

    /// A schedule as describe shows it: its workflows that have closed since it last woke
    /// are shown closed (the runner records them when it next wakes).
    pub async fn describe_schedule(&self, namespace: &str, schedule_id: &str) -> Result<Schedule> {
        let mut schedule = self.schedule(namespace, schedule_id).await?;
        self.note_closed_workflows(&mut schedule, self.now())
            .await?;
        Ok(schedule)
    }

    /// Tells the schedule which of its running workflows have closed (a deleted one counts
    /// as terminated).
    async fn note_closed_workflows(&self, schedule: &mut Schedule, now: Time) -> Result<()> {
        for running in schedule.running.clone() {
            let key = running.key(&schedule.namespace);
            let Some(execution) = self.inner.store.execution(&key).await? else {
                schedule.workflow_closed(&running.run_id, Status::Terminated, None, now);
                continue;
            };
            if execution.status == Status::Running {
                continue;
            }
            let outcome = self.closed_outcome(&execution).await?;
            schedule.workflow_closed(&running.run_id, execution.status, outcome, now);
        }
        Ok(())
    }

    /// A closed run's result (completed) or failure (failed or timed out), from its
    /// closing event; `None` for other ends.
    async fn closed_outcome(
        &self,
        execution: &keel_core::Execution,
    ) -> Result<Option<std::result::Result<Option<keel_core::Blob>, keel_core::Failure>>> {
        let last = execution.next_event_id - 1;
        let events = self.inner.store.history(&execution.key, last, 1).await?;
        Ok(events
            .into_iter()
            .next()
            .and_then(|event| match event.kind {
                keel_core::EventKind::WorkflowExecutionCompleted { result, .. } => Some(Ok(result)),
                keel_core::EventKind::WorkflowExecutionFailed { failure, .. } => Some(Err(failure)),
                keel_core::EventKind::WorkflowExecutionTimedOut { .. } => {
                    Some(Err(keel_core::Failure {
                        message: "workflow timed out".into(),
                        source: "Server".into(),
                        info: keel_core::FailureInfo::Timeout {
                            timeout_type: keel_core::TimeoutType::StartToClose,
                            last_heartbeat_details: None,
                        },
                        cause: None,
                        original: None,
                    }))
                }
                _ => None,
            }))
    }

    pub async fn schedules(&self, namespace: &str) -> Result<Vec<Schedule>> {
        self.namespace(namespace)?;
        Ok(self.inner.store.schedules(Some(namespace)).await?)
    }

    /// Replaces what a schedule does. `conflict_token`, when given, must be the version the
    /// caller read.
    pub async fn update_schedule(
        &self,
        namespace: &str,
        schedule_id: &str,
        definition: Definition,
        conflict_token: Option<i64>,
        search_attributes: Option<SearchAttributes>,
    ) -> Result<()> {
        self.change_schedule(namespace, schedule_id, |schedule, now| {
            if let Some(token) = conflict_token
                && token != schedule.version
            {
                return Err(Error::FailedPrecondition(
                    "mismatched conflict token: the schedule changed since it was read".into(),
                ));
            }
            schedule
                .update(definition.clone(), now)
                .map_err(Error::InvalidArgument)?;
            if let Some(attributes) = &search_attributes {
                schedule.search_attributes = attributes.clone();
            }
            Ok(())
        })
        .await
    }

    pub async fn patch_schedule(
        &self,
        namespace: &str,
        schedule_id: &str,
        patch: Patch,
    ) -> Result<()> {
        self.change_schedule(namespace, schedule_id, |schedule, now| {
            schedule.apply(patch.clone(), now);
            Ok(())
        })
        .await
    }

    pub async fn delete_schedule(&self, namespace: &str, schedule_id: &str) -> Result<()> {
        self.namespace(namespace)?;
        let _turn = self.inner.schedules.turn.lock().await;
        match self
            .inner
            .store
            .delete_schedule(namespace, schedule_id)
            .await
        {
            Err(keel_store::Error::NotFound(_)) => return Err(schedule_not_found(schedule_id)),
            other => other?,
        }
        self.inner
            .schedules
            .wakes
            .set((namespace.to_owned(), schedule_id.to_owned()), None);
        Ok(())
    }

    async fn change_schedule(
        &self,
        namespace: &str,
        schedule_id: &str,
        change: impl Fn(&mut Schedule, Time) -> Result<()>,
    ) -> Result<()> {
        self.namespace(namespace)?;
        let _turn = self.inner.schedules.turn.lock().await;
        for _ in 0..8 {
            let mut schedule = self.schedule(namespace, schedule_id).await?;
            let read = schedule.version;
            let now = self.now();
            change(&mut schedule, now)?;
            schedule.version += 1;
            match self.inner.store.update_schedule(&schedule, read).await {
                Ok(()) => {
                    self.arm_schedule(&schedule, now);
                    return Ok(());
                }
                // Another node's runner recorded an action meanwhile: apply the change again.
                Err(keel_store::Error::Conflict(_)) => continue,
                Err(keel_store::Error::NotFound(_)) => return Err(schedule_not_found(schedule_id)),
                Err(error) => return Err(error.into()),
            }
        }
        Err(Error::Unavailable(format!(
            "schedule '{schedule_id}' kept changing; try again"
        )))
    }

    fn arm_schedule(&self, schedule: &Schedule, now: Time) {
        self.inner.schedules.wakes.set(
            (schedule.namespace.clone(), schedule.id.clone()),
            schedule.next_wake(now, CLOSE_POLL),
        );
    }

    /// Loads every schedule's next wake; with a shared store, again every few seconds.
    pub(crate) async fn recover_schedules(&self) -> Result<()> {
        let now = self.now();
        let schedules = self.inner.store.schedules(None).await?;
        let mut wakes = BTreeMap::new();
        for schedule in &schedules {
            if let Some(wake) = schedule.next_wake(now, CLOSE_POLL) {
                wakes.insert((schedule.namespace.clone(), schedule.id.clone()), wake);
            }
        }
        self.inner.schedules.wakes.replace(wakes);
        Ok(())
    }

    /// Takes whatever actions a schedule has due.
    async fn run_schedule(&self, namespace: &str, schedule_id: &str) -> Result<()> {
        let _turn = self.inner.schedules.turn.lock().await;
        let key = (namespace.to_owned(), schedule_id.to_owned());
        let Some(mut schedule) = self.inner.store.schedule(namespace, schedule_id).await? else {
            self.inner.schedules.wakes.set(key, None);
            return Ok(());
        };
        let before = schedule.clone();
        let now = self.now();
        self.note_closed_workflows(&mut schedule, now).await?;
        schedule.collect_due(now);
        for decision in schedule.decide() {
            match decision {
                Decision::Start(start) => {
                    let keel_core::schedule::StartIds {
                        workflow_id,
                        request_id,
                    } = schedule.start_of(&start);
                    let request =
                        self.scheduled_start(&schedule, &start, workflow_id.clone(), request_id);
                    match self.start_workflow(request).await {
                        Ok(result) => schedule.started(&start, workflow_id, result.run_id),
                        // A workflow of that id runs (one kept its original id): not started.
                        Err(Error::AlreadyStarted { .. }) => schedule.overlap_skipped += 1,
                        Err(error) => {
                            // Try again at the next wake; what was started is kept.
                            schedule.buffer.insert(0, start);
                            self.record_schedule(&before, &mut schedule, now).await?;
                            return Err(error);
                        }
                    }
                }
                Decision::Cancel(runs) => {
                    for run in runs {
                        let run_key = run.key(namespace);
                        let request = CancelRequest {
                            reason: "the schedule's overlap policy cancels the running workflow"
                                .into(),
                            identity: IDENTITY.into(),
                            external: None,
                        };
                        match self.request_cancel(&run_key, request).await {
                            Ok(()) | Err(Error::NotFound(_)) => {}
                            Err(error) => return Err(error),
                        }
                    }
                }
                Decision::Terminate(runs) => {
                    for run in runs {
                        let run_key = run.key(namespace);
                        let reason =
                            "the schedule's overlap policy terminates the running workflow";
                        match self.terminate(&run_key, reason, None, IDENTITY).await {
                            Ok(()) | Err(Error::NotFound(_)) => {}
                            Err(error) => return Err(error),
                        }
                    }
                }
            }
        }
        self.record_schedule(&before, &mut schedule, now).await
    }

    /// Commits what a run of the schedule changed and arms its next wake.
    async fn record_schedule(
        &self,
        before: &Schedule,
        schedule: &mut Schedule,
        now: Time,
    ) -> Result<()> {
        if schedule != before {
            schedule.version = before.version + 1;
            match self
                .inner
                .store
                .update_schedule(schedule, before.version)
                .await
            {
                Ok(()) => {}
                // Changed or deleted by a call or another node meanwhile: read it again
                // soon (the starts made are found again by their request ids).
                Err(keel_store::Error::Conflict(_)) => {
                    self.inner
                        .schedules
                        .wakes
                        .set((schedule.namespace.clone(), schedule.id.clone()), Some(now));
                    return Ok(());
                }
                Err(keel_store::Error::NotFound(_)) => {
                    self.inner
                        .schedules
                        .wakes
                        .set((schedule.namespace.clone(), schedule.id.clone()), None);
                    return Ok(());
                }
                Err(error) => return Err(error.into()),
            }
        }
        self.arm_schedule(schedule, now);
        Ok(())
    }

    /// The start of a schedule's workflow for one due time: the action's parameters, plus
    /// the schedule's id and the due time as search attributes (as Temporal sets them).
    fn scheduled_start(
        &self,
        schedule: &Schedule,
        start: &keel_core::schedule::BufferedStart,
        workflow_id: String,
        request_id: String,
    ) -> StartRequest {
        let mut params = schedule.definition.action.params.clone();
        params.request_id = request_id;
        params.identity = IDENTITY.into();
        if let Some(encode) = self.inner.options.encode_search_value {
            let mut set = |name: &str, value: SearchValue, kind: SearchAttributeType| {
                let payload = encode(&value, kind);
                params.search_attributes.insert(
                    name.to_owned(),
                    SearchAttribute {
                        payload,
                        value: Some(value),
                    },
                );
            };
            set(
                "TemporalScheduledById",
                SearchValue::Keyword(schedule.id.clone()),
                SearchAttributeType::Keyword,
            );
            set(
                "TemporalScheduledStartTime",
                SearchValue::Datetime(start.nominal.0),
                SearchAttributeType::Datetime,
            );
        }
        StartRequest {
            namespace: schedule.namespace.clone(),
            workflow_id,
            params,
            reuse_policy: Default::default(),
            conflict_policy: Default::default(),
            signal: None,
            start_delay: std::time::Duration::ZERO,
            // What Temporal's schedules hand each run: the last completed run's result, and
            // the failure of a run that failed since.
            continued_failure: schedule.last_failure.clone(),
            last_completion_result: schedule.last_completion_result.clone(),
        }
    }
}

fn schedule_not_found(schedule_id: &str) -> Error {
    Error::NotFound(format!("schedule '{schedule_id}' not found"))
}
