//! The mutable state of one run: everything the engine needs besides the history itself.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::{ActivityScheduled, EventKind, WorkflowStarted};
use crate::search::SearchAttributes;
use crate::types::{
    Blob, BlobMap, ExecutionKey, Failure, Status, Stickiness, TaskQueue, Time, TimeoutType,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub key: ExecutionKey,
    pub status: Status,
    /// Bumped by every committed transition; the store compares it before writing.
    pub version: i64,
    pub next_event_id: i64,
    pub start_time: Time,
    pub close_time: Option<Time>,
    pub start_request_id: String,
    pub started: WorkflowStarted,
    pub run_expiration: Option<Time>,
    pub execution_expiration: Option<Time>,
    pub memo: BlobMap,
    pub search_attributes: SearchAttributes,
    pub workflow_task: Option<WorkflowTask>,
    /// Started event of the last completed workflow task: what a sticky worker has seen.
    pub previous_started_event_id: i64,
    pub stickiness: Option<Stickiness>,
    pub activities: BTreeMap<i64, Activity>,
    pub timers: BTreeMap<String, Timer>,
    /// Events that arrived while a workflow task was running, with the time each happened.
    /// They are appended after that task's completion so the worker's view of history stays
    /// consistent.
    pub buffered: Vec<(Time, EventKind)>,
    /// Identity of the worker that last took a task of this run.
    pub last_worker_identity: String,
    /// The id the next run of the chain gets if this one is retried. Chosen by the engine at
    /// start, so the core needs no randomness.
    pub next_run_id: String,
    /// A retried run waits out its backoff before its first workflow task.
    pub first_workflow_task_at: Option<Time>,
    /// Someone asked the workflow to cancel itself.
    #[serde(default)]
    pub cancel_requested: bool,
    /// Request ids of the signals recorded, so a retried signal is recorded once.
    #[serde(default)]
    pub signal_request_ids: BTreeSet<String>,
    /// Signals and cancellation requests this run sent and has not heard the fate of, by
    /// their initiated event id.
    #[serde(default)]
    pub external_requests: BTreeMap<i64, crate::requests::ExternalRequest>,
    /// Child workflows this run started (or is starting) that have not closed, by their
    /// initiated event id.
    #[serde(default)]
    pub children: BTreeMap<i64, crate::children::Child>,
    /// Set when this run belongs to a child workflow.
    #[serde(default)]
    pub parent: Option<crate::children::Parent>,
    /// Updates admitted, accepted or completed in this run, by update id.
    #[serde(default)]
    pub updates: BTreeMap<String, crate::updates::UpdateStage>,
    /// The size of this run's history as stored, in bytes.
    #[serde(default)]
    pub history_size_bytes: i64,
    /// When a worker first took one of this run's workflow tasks.
    #[serde(default)]
    pub first_task_started_time: Option<Time>,
}

/// When a workflow is told it should continue as new (Temporal's defaults,
/// `limit.historyCount.suggestContinueAsNew` and `limit.historySize.suggestContinueAsNew`):
/// its history has this many events, or this many bytes.
pub const SUGGEST_CONTINUE_AS_NEW_EVENTS: i64 = 4 * 1024;
pub const SUGGEST_CONTINUE_AS_NEW_BYTES: i64 = 4 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowTask {
    pub scheduled_event_id: i64,
    pub attempt: i32,
    pub task_queue: TaskQueue,
    pub start_to_close_timeout: Duration,
    pub scheduled_time: Time,
    pub started: Option<StartedTask>,
    /// A retry after a failed or timed-out attempt on the normal queue. As in Temporal, its
    /// scheduled and started events are not written unless it completes: they hold the
    /// ids `scheduled_event_id` and `scheduled_event_id + 1` in reserve, and the worker is
    /// shown them at the end of its history. A run whose code keeps failing thus does not
    /// grow its history with every retry.
    pub transient: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartedTask {
    pub event_id: i64,
    pub time: Time,
    pub identity: String,
    pub request_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub scheduled_event_id: i64,
    pub scheduled: ActivityScheduled,
    pub first_scheduled_time: Time,
    pub attempt: i32,
    /// When the current attempt was (or, while backing off, will be) put on the queue.
    pub attempt_scheduled_time: Time,
    pub state: ActivityState,
    pub last_failure: Option<Failure>,
    pub last_heartbeat_time: Option<Time>,
    pub heartbeat_details: Option<Blob>,
    pub cancel_requested: bool,
    /// The ActivityTaskCancelRequested event, once the workflow asked to cancel.
    pub cancel_requested_event_id: i64,
    pub last_worker_identity: String,
}

impl Activity {
    /// A newly scheduled activity: its first attempt, on the queue from `now`.
    pub(crate) fn scheduled(
        scheduled_event_id: i64,
        scheduled: ActivityScheduled,
        now: Time,
    ) -> Activity {
        Activity {
            scheduled_event_id,
            scheduled,
            first_scheduled_time: now,
            attempt: 1,
            attempt_scheduled_time: now,
            state: ActivityState::Scheduled,
            last_failure: None,
            last_heartbeat_time: None,
            heartbeat_details: None,
            cancel_requested: false,
            cancel_requested_event_id: 0,
            last_worker_identity: String::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ActivityState {
    /// Waiting out the retry backoff until `attempt_scheduled_time`.
    Backoff,
    /// On the queue, no worker has it.
    Scheduled,
    /// A worker has it.
    Started {
        time: Time,
        identity: String,
        request_id: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timer {
    pub started_event_id: i64,
    pub fire_time: Time,
}

/// A clock the engine must watch for one run; `Execution::fire_deadlines` acts on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Deadline {
    RunTimeout,
    ExecutionTimeout,
    FirstWorkflowTask,
    WorkflowTaskStartToClose {
        scheduled_event_id: i64,
        attempt: i32,
    },
    WorkflowTaskScheduleToStart {
        scheduled_event_id: i64,
        attempt: i32,
    },
    ActivityTimeout {
        scheduled_event_id: i64,
        attempt: i32,
        timeout_type: TimeoutType,
    },
    ActivityRetry {
        scheduled_event_id: i64,
        attempt: i32,
    },
    Timer {
        timer_id: String,
    },
}

impl Execution {
    pub fn is_running(&self) -> bool {
        self.status.is_running()
    }

    pub fn history_length(&self) -> i64 {
        self.next_event_id - 1
    }

    pub fn task_queue(&self) -> &str {
        &self.started.task_queue
    }

    pub fn workflow_type(&self) -> &str {
        &self.started.workflow_type
    }

    /// When the run's work begins: its start, after the backoff of a start delay, a retry or
    /// a cron run (Temporal's ExecutionTime).
    pub fn execution_time(&self) -> Time {
        self.start_time
            .plus(self.started.first_workflow_task_backoff)
    }

    /// Every clock that can act on this run, earliest first. Derived from state alone, so a
    /// restarted engine re-arms exactly what was pending.
    pub fn deadlines(&self) -> Vec<(Time, Deadline)> {
        let mut deadlines = Vec::new();
        if !self.is_running() {
            return deadlines;
        }
        if let Some(at) = self.run_expiration {
            deadlines.push((at, Deadline::RunTimeout));
        }
        if let Some(at) = self.execution_expiration {
            deadlines.push((at, Deadline::ExecutionTimeout));
        }
        if let Some(at) = self.first_workflow_task_at {
            deadlines.push((at, Deadline::FirstWorkflowTask));
        }
        if let Some(task) = &self.workflow_task {
            let (scheduled_event_id, attempt) = (task.scheduled_event_id, task.attempt);
            match &task.started {
                Some(started) => deadlines.push((
                    started.time.plus(task.start_to_close_timeout),
                    Deadline::WorkflowTaskStartToClose {
                        scheduled_event_id,
                        attempt,
                    },
                )),
                None => {
                    if let Some(sticky) = &self.stickiness
                        && task.task_queue.name == sticky.queue
                        && !sticky.schedule_to_start_timeout.is_zero()
                    {
                        deadlines.push((
                            task.scheduled_time.plus(sticky.schedule_to_start_timeout),
                            Deadline::WorkflowTaskScheduleToStart {
                                scheduled_event_id,
                                attempt,
                            },
                        ));
                    }
                }
            }
        }
        for activity in self.activities.values() {
            activity.deadlines(&mut deadlines);
        }
        for (timer_id, timer) in &self.timers {
            deadlines.push((
                timer.fire_time,
                Deadline::Timer {
                    timer_id: timer_id.clone(),
                },
            ));
        }
        deadlines.sort_by_key(|(at, _)| *at);
        deadlines
    }

    /// The unwritten scheduled and started events of a running transient workflow task,
    /// which a worker taking it must see at the end of its history.
    pub fn transient_events(&self) -> Vec<crate::event::Event> {
        let Some(task) = self.workflow_task.as_ref().filter(|t| t.transient) else {
            return Vec::new();
        };
        let mut events = vec![crate::event::Event {
            id: task.scheduled_event_id,
            time: task.scheduled_time,
            kind: task.scheduled_event(),
        }];
        if let Some(started) = &task.started {
            events.push(crate::event::Event {
                id: started.event_id,
                time: started.time,
                kind: task.started_event(started),
            });
        }
        events
    }

    /// Whether the history has grown enough that the workflow should continue as new.
    pub fn should_continue_as_new(&self) -> bool {
        self.history_length() >= SUGGEST_CONTINUE_AS_NEW_EVENTS
            || self.history_size_bytes >= SUGGEST_CONTINUE_AS_NEW_BYTES
    }

    pub fn next_deadline(&self) -> Option<Time> {
        self.deadlines().first().map(|(at, _)| *at)
    }
}

impl WorkflowTask {
    pub(crate) fn scheduled_event(&self) -> EventKind {
        EventKind::WorkflowTaskScheduled {
            task_queue: self.task_queue.clone(),
            start_to_close_timeout: self.start_to_close_timeout,
            attempt: self.attempt,
        }
    }

    pub(crate) fn started_event(&self, started: &StartedTask) -> EventKind {
        EventKind::WorkflowTaskStarted {
            scheduled_event_id: self.scheduled_event_id,
            identity: started.identity.clone(),
            request_id: started.request_id.clone(),
            history_size_bytes: 0,
            suggest_continue_as_new: false,
        }
    }
}

impl Activity {
    fn deadlines(&self, deadlines: &mut Vec<(Time, Deadline)>) {
        let (scheduled_event_id, attempt) = (self.scheduled_event_id, self.attempt);
        let timeout = |timeout_type| Deadline::ActivityTimeout {
            scheduled_event_id,
            attempt,
            timeout_type,
        };
        let spec = &self.scheduled;
        if !spec.schedule_to_close_timeout.is_zero() {
            deadlines.push((
                self.first_scheduled_time
                    .plus(spec.schedule_to_close_timeout),
                timeout(TimeoutType::ScheduleToClose),
            ));
        }
        match &self.state {
            ActivityState::Backoff => deadlines.push((
                self.attempt_scheduled_time,
                Deadline::ActivityRetry {
                    scheduled_event_id,
                    attempt,
                },
            )),
            ActivityState::Scheduled => {
                if !spec.schedule_to_start_timeout.is_zero() {
                    deadlines.push((
                        self.attempt_scheduled_time
                            .plus(spec.schedule_to_start_timeout),
                        timeout(TimeoutType::ScheduleToStart),
                    ));
                }
            }
            ActivityState::Started { time, .. } => {
                if !spec.start_to_close_timeout.is_zero() {
                    deadlines.push((
                        time.plus(spec.start_to_close_timeout),
                        timeout(TimeoutType::StartToClose),
                    ));
                }
                if !spec.heartbeat_timeout.is_zero() {
                    let last_beat = self.last_heartbeat_time.unwrap_or(*time).max(*time);
                    deadlines.push((
                        last_beat.plus(spec.heartbeat_timeout),
                        timeout(TimeoutType::Heartbeat),
                    ));
                }
            }
        }
    }
}
