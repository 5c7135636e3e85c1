//! A stand-in for the engine in the interpreter's tests: it turns the interpreter's
//! commands into the events the engine records for them, and lets a test say what the
//! outside world did (an activity completed, a timer fired, a person resumed a pause).

#![allow(dead_code)]

use std::time::Duration;

use keel_core::event::{ActivityScheduled, ChildOutcome, WorkflowStarted};
use keel_core::{
    Blob, Command, Event, EventKind, Failure, FailureInfo, RetryPolicy, RetryState, Time,
};
use keel_flows::Flow;
use keel_flows::interpret::{Execution, decide};
use keel_flows::runtime::{FORMAT, FlowStart, RESUME_SIGNAL, Resume};
use serde_json::{Value, json};

pub struct Sim {
    pub flow: Flow,
    pub history: Vec<Event>,
    pub closed: Option<Result<Value, String>>,
}

pub fn value(blob: Option<&Blob>) -> Value {
    blob.and_then(keel_wire::json::decode_payloads)
        .and_then(|payloads| payloads.into_iter().next())
        .map(|payload| serde_json::from_slice(&payload.data).unwrap())
        .unwrap_or(Value::Null)
}

pub fn payload(value: Value) -> Option<Blob> {
    Some(keel_wire::json::encode_payloads(&[value]))
}

impl Sim {
    pub fn start(yaml: &str, inputs: Value) -> Sim {
        let flow = keel_flows::parse(yaml).unwrap_or_else(|problems| panic!("{problems}"));
        let start = FlowStart::new(
            &flow.namespace,
            &flow.id,
            1,
            inputs.as_object().unwrap().clone(),
        );
        Sim::with_start(flow, start)
    }

    pub fn with_start(flow: Flow, start: FlowStart) -> Sim {
        let started = WorkflowStarted {
            workflow_type: flow.id.clone(),
            task_queue: keel_flows::runtime::FLOW_TASK_QUEUE.into(),
            input: payload(start.to_json()),
            workflow_execution_timeout: Duration::ZERO,
            workflow_run_timeout: Duration::ZERO,
            workflow_task_timeout: Duration::from_secs(10),
            identity: "test".into(),
            original_execution_run_id: "run".into(),
            first_execution_run_id: "run".into(),
            attempt: 1,
            execution_expiration_time: None,
            memo: Default::default(),
            search_attributes: Default::default(),
            header: Default::default(),
            retry_policy: None,
            cron_schedule: String::new(),
            continued_execution_run_id: String::new(),
            initiator: None,
            continued_failure: None,
            first_workflow_task_backoff: Duration::ZERO,
            last_completion_result: None,
            parent: None,
        };
        let mut sim = Sim {
            flow,
            history: Vec::new(),
            closed: None,
        };
        sim.record(EventKind::WorkflowExecutionStarted(Box::new(started)));
        sim
    }

    pub fn record(&mut self, kind: EventKind) -> i64 {
        let id = self.history.len() as i64 + 1;
        self.history.push(Event {
            id,
            time: Time(id * 1_000_000),
            kind,
        });
        id
    }

    /// The interpreter's commands for the history so far (without applying them).
    pub fn commands(&self) -> Vec<Command> {
        decide(
            &self.flow,
            &Execution {
                namespace: "default",
                workflow_id: "exec",
                run_id: "run",
                history: &self.history,
            },
        )
    }

    /// One workflow task: decide, and record what the commands do. Answers the commands.
    pub fn step(&mut self) -> Vec<Command> {
        let commands = self.commands();
        assert_eq!(
            commands,
            self.commands(),
            "the same history decides the same"
        );
        for command in commands.clone() {
            match command {
                Command::ScheduleActivity(activity) => {
                    self.record(EventKind::ActivityTaskScheduled(Box::new(
                        ActivityScheduled {
                            activity_id: activity.activity_id,
                            activity_type: activity.activity_type,
                            task_queue: activity.task_queue,
                            header: activity.header,
                            input: activity.input,
                            schedule_to_close_timeout: activity.schedule_to_close_timeout,
                            schedule_to_start_timeout: activity.schedule_to_start_timeout,
                            start_to_close_timeout: activity.start_to_close_timeout,
                            heartbeat_timeout: activity.heartbeat_timeout,
                            workflow_task_completed_event_id: 0,
                            retry_policy: activity.retry_policy.unwrap_or(RetryPolicy {
                                initial_interval: Duration::from_secs(1),
                                backoff_coefficient: 2.0,
                                maximum_interval: Duration::ZERO,
                                maximum_attempts: 0,
                                non_retryable_error_types: Vec::new(),
                            }),
                        },
                    )));
                }
                Command::StartTimer {
                    timer_id,
                    start_to_fire_timeout,
                } => {
                    self.record(EventKind::TimerStarted {
                        timer_id,
                        start_to_fire_timeout,
                        workflow_task_completed_event_id: 0,
                    });
                }
                Command::CancelTimer { timer_id } => {
                    self.record(EventKind::TimerCanceled {
                        timer_id,
                        started_event_id: 0,
                        workflow_task_completed_event_id: 0,
                        identity: String::new(),
                    });
                }
                Command::RecordMarker {
                    marker_name,
                    details,
                    header,
                    failure,
                } => {
                    self.record(EventKind::MarkerRecorded {
                        marker_name,
                        details,
                        workflow_task_completed_event_id: 0,
                        header,
                        failure,
                    });
                }
                Command::StartChild(child) => {
                    self.record(EventKind::StartChildWorkflowExecutionInitiated(child));
                }
                Command::CompleteWorkflow { result } => {
                    self.closed = Some(Ok(value(result.as_ref())));
                    self.record(EventKind::WorkflowExecutionCompleted {
                        result,
                        workflow_task_completed_event_id: 0,
                        new_execution_run_id: String::new(),
                    });
                }
                Command::FailWorkflow { failure } => {
                    self.closed = Some(Err(failure.message.clone()));
                    self.record(EventKind::WorkflowExecutionFailed {
                        failure,
                        retry_state: RetryState::NonRetryableFailure,
                        workflow_task_completed_event_id: 0,
                        new_execution_run_id: String::new(),
                    });
                }
                Command::CancelWorkflow { details } => {
                    self.closed = Some(Err("cancelled".into()));
                    self.record(EventKind::WorkflowExecutionCanceled {
                        details,
                        workflow_task_completed_event_id: 0,
                    });
                }
                other => panic!("the interpreter gave {other:?}"),
            }
        }
        commands
    }

    fn scheduled_event(&self, activity_id: &str) -> (i64, ActivityScheduled) {
        self.history
            .iter()
            .find_map(|event| match &event.kind {
                EventKind::ActivityTaskScheduled(scheduled)
                    if scheduled.activity_id == activity_id =>
                {
                    Some((event.id, (**scheduled).clone()))
                }
                _ => None,
            })
            .unwrap_or_else(|| {
                panic!(
                    "no activity '{activity_id}' was scheduled: {:?}",
                    self.open_activities()
                )
            })
    }

    /// Activities scheduled and not closed: (id, type, input).
    pub fn open_activities(&self) -> Vec<(String, String, Value)> {
        let mut open = Vec::new();
        for event in &self.history {
            match &event.kind {
                EventKind::ActivityTaskScheduled(scheduled) => open.push((
                    event.id,
                    scheduled.activity_id.clone(),
                    scheduled.activity_type.clone(),
                    value(scheduled.input.as_ref()),
                )),
                EventKind::ActivityTaskCompleted {
                    scheduled_event_id, ..
                }
                | EventKind::ActivityTaskFailed {
                    scheduled_event_id, ..
                }
                | EventKind::ActivityTaskTimedOut {
                    scheduled_event_id, ..
                } => {
                    open.retain(|(id, ..)| id != scheduled_event_id);
                }
                _ => {}
            }
        }
        open.into_iter()
            .map(|(_, id, kind, input)| (id, kind, input))
            .collect()
    }

    pub fn open_ids(&self) -> Vec<String> {
        self.open_activities()
            .into_iter()
            .map(|(id, ..)| id)
            .collect()
    }

    pub fn complete(&mut self, activity_id: &str, result: Value) {
        let (scheduled_event_id, _) = self.scheduled_event(activity_id);
        self.record(EventKind::ActivityTaskCompleted {
            result: payload(result),
            scheduled_event_id,
            started_event_id: 0,
            identity: "worker".into(),
        });
    }

    /// Completes an open activity as the built-in runner would: `return` gives its value,
    /// the others an empty output.
    pub fn run_builtin(&mut self, activity_id: &str) {
        let (_, scheduled) = self.scheduled_event(activity_id);
        let input = value(scheduled.input.as_ref());
        let output = match input["task"]["type"].as_str() {
            Some("return") => input["task"]["value"].clone(),
            _ => json!({}),
        };
        self.complete(activity_id, output);
    }

    pub fn fail(&mut self, activity_id: &str, message: &str) {
        let (scheduled_event_id, _) = self.scheduled_event(activity_id);
        self.record(EventKind::ActivityTaskFailed {
            failure: Failure {
                message: message.into(),
                source: "test".into(),
                info: FailureInfo::Application {
                    failure_type: "Error".into(),
                    non_retryable: false,
                    next_retry_delay: None,
                },
                cause: None,
                original: None,
            },
            scheduled_event_id,
            started_event_id: 0,
            identity: "worker".into(),
            retry_state: RetryState::MaximumAttemptsReached,
        });
    }

    /// The runner of a built-in task run stopped heartbeating (its server was killed).
    pub fn lose(&mut self, activity_id: &str) {
        let (scheduled_event_id, _) = self.scheduled_event(activity_id);
        self.record(EventKind::ActivityTaskTimedOut {
            failure: Failure::timeout(keel_core::TimeoutType::Heartbeat, None, None),
            scheduled_event_id,
            started_event_id: 0,
            retry_state: RetryState::Timeout,
        });
    }

    pub fn open_timers(&self) -> Vec<String> {
        let mut open = Vec::new();
        for event in &self.history {
            match &event.kind {
                EventKind::TimerStarted { timer_id, .. } => open.push(timer_id.clone()),
                EventKind::TimerFired { timer_id, .. }
                | EventKind::TimerCanceled { timer_id, .. } => open.retain(|id| id != timer_id),
                _ => {}
            }
        }
        open
    }

    pub fn fire(&mut self, timer_id: &str) {
        assert!(
            self.open_timers().contains(&timer_id.to_owned()),
            "no open timer {timer_id}"
        );
        self.record(EventKind::TimerFired {
            timer_id: timer_id.into(),
            started_event_id: 0,
        });
    }

    pub fn resume(&mut self, task_run: &str, inputs: Value) {
        let resume = Resume {
            format: FORMAT,
            task_run: task_run.into(),
            inputs: inputs.as_object().unwrap().clone(),
        };
        self.record(EventKind::WorkflowExecutionSignaled {
            signal_name: RESUME_SIGNAL.into(),
            input: payload(serde_json::to_value(resume).unwrap()),
            identity: "person".into(),
            header: Default::default(),
            external: None,
        });
    }

    /// The child workflows started: (workflow id, workflow type, input).
    pub fn children(&self) -> Vec<(String, String, Value)> {
        self.history
            .iter()
            .filter_map(|event| match &event.kind {
                EventKind::StartChildWorkflowExecutionInitiated(child) => Some((
                    child.workflow_id.clone(),
                    child.workflow_type.clone(),
                    value(child.input.as_ref()),
                )),
                _ => None,
            })
            .collect()
    }

    pub fn close_child(&mut self, workflow_id: &str, outcome: ChildOutcome) {
        let initiated = self
            .history
            .iter()
            .find_map(|event| match &event.kind {
                EventKind::StartChildWorkflowExecutionInitiated(child)
                    if child.workflow_id == workflow_id =>
                {
                    Some(event.id)
                }
                _ => None,
            })
            .expect("the child was started");
        self.record(EventKind::ChildWorkflowExecutionClosed {
            initiated_event_id: initiated,
            started_event_id: 0,
            execution: keel_core::ExecutionKey {
                namespace: "default".into(),
                workflow_id: workflow_id.into(),
                run_id: "child-run".into(),
            },
            workflow_type: "child".into(),
            outcome,
        });
    }

    /// Runs every open built-in activity and fires every timer until the flow closes or
    /// only outside work remains; answers how it closed.
    pub fn run_builtins_to_end(&mut self) -> Option<Result<Value, String>> {
        for _ in 0..1000 {
            self.step();
            if self.closed.is_some() {
                return self.closed.clone();
            }
            let builtins: Vec<String> = self
                .open_activities()
                .into_iter()
                .filter(|(_, kind, _)| kind.starts_with("keel."))
                .map(|(id, ..)| id)
                .collect();
            let timers = self.open_timers();
            if builtins.is_empty() && timers.is_empty() {
                return None;
            }
            for id in builtins {
                self.run_builtin(&id);
            }
            for timer in timers {
                self.fire(&timer);
            }
        }
        panic!("the flow did not settle in 1000 steps");
    }
}
