//! The interpreter: a pure function from a flow revision and an execution's history to the
//! commands that move the execution on. It keeps no state between workflow tasks; every
//! decision walks the flow again over what the history says happened, so a crash loses
//! nothing and the same history always gives the same commands.
//!
//! How a flow maps onto the engine:
//! - a runnable task run is an activity (built-in ones on [`TASK_RUNNER_QUEUE`], `activity`
//!   tasks on their own queue), its activity id the task run id: the task id, and inside
//!   a ForEach the item's index (`check[2]`, `inner[0][1]`);
//! - `sleep` and a timed `Pause` are timers, a `Pause` waits for the [`RESUME_SIGNAL`];
//! - a `Subflow` is a child workflow;
//! - choices (an If's branch, a Switch's case, a ForEach's items) and failures before a
//!   task run could start are recorded as markers the first time, and read back after.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use keel_core::command::ScheduleActivity;
use keel_core::event::{ChildInitiated, ChildOutcome};
use keel_core::{Blob, Command, Event, EventKind, Failure, FailureInfo, TimeoutType};
use serde_json::{Map, Value, json};

use crate::document::{Flow, Retry, RetryKind, Task, TaskKind};
use crate::expr::{self, Scope};
use crate::runtime::{
    BUILTIN_PREFIX, BuiltinTask, DECISION_MARKER, Decision, FLOW_TASK_QUEUE, FORMAT, FlowStart,
    RESUME_SIGNAL, Resume, TASK_RUNNER_QUEUE, TaskRunInput,
};

/// How long a task run may take when its task names no timeout.
pub const DEFAULT_TASK_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Built-in task runs heartbeat this often at least; a runner that stops (its server was
/// killed) is noticed after this long, and the task run is started again.
pub const BUILTIN_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times a task run lost with its runner is started again.
pub const MAX_LOST_RUNS: u32 = 5;

/// The execution being decided for.
pub struct Execution<'h> {
    pub namespace: &'h str,
    pub workflow_id: &'h str,
    pub run_id: &'h str,
    pub history: &'h [Event],
}

/// The commands that move `execution` of `flow` on; empty when it waits.
pub fn decide(flow: &Flow, execution: &Execution) -> Vec<Command> {
    walk(flow, execution).0
}

/// The pauses of a running execution that wait for a person to resume them: each task
/// run id with its Pause task's id (whose `onResume` inputs the resume must give).
pub fn waiting_pauses(flow: &Flow, execution: &Execution) -> Vec<(String, String)> {
    walk(flow, execution).1
}

/// Where each task of the flow is in an execution, by task id: `completed`, `running`,
/// `waiting` (a pause waiting for a person), `failed`; a task not reached has no entry. A
/// task with several runs (a loop's items) shows the one that matters most: failed, then
/// waiting, then running.
pub fn task_states(flow: &Flow, execution: &Execution) -> BTreeMap<String, &'static str> {
    match Facts::read(execution.history) {
        Ok(facts) => walk_facts(flow, execution, &facts).2,
        Err(_) => BTreeMap::new(),
    }
}

type Walked = (
    Vec<Command>,
    Vec<(String, String)>,
    BTreeMap<String, &'static str>,
);

fn walk(flow: &Flow, execution: &Execution) -> (Vec<Command>, Vec<(String, String)>) {
    let facts = match Facts::read(execution.history) {
        Ok(facts) => facts,
        Err(message) => return (vec![fail_workflow(&message)], Vec::new()),
    };
    if facts.closed {
        return (Vec::new(), Vec::new());
    }
    if facts.cancel_requested {
        return (vec![Command::CancelWorkflow { details: None }], Vec::new());
    }
    let (commands, waiting, _) = walk_facts(flow, execution, &facts);
    (commands, waiting)
}

fn walk_facts(flow: &Flow, execution: &Execution, facts: &Facts) -> Walked {
    let mut walk = Walk {
        flow,
        facts,
        execution,
        scope: Scope {
            inputs: facts.start.inputs.clone(),
            outputs: Map::new(),
            vars: flow.variables.clone(),
            execution: json!({"id": execution.workflow_id, "run_id": execution.run_id, "namespace": execution.namespace})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            flow: json!({"id": flow.id, "namespace": flow.namespace, "revision": facts.start.revision})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            taskrun: None,
            trigger: Some(trigger_of(flow, execution.history).unwrap_or_else(|| json!({}))),
        },
        commands: Vec::new(),
        touched: 0,
        waiting: Vec::new(),
        states: BTreeMap::new(),
    };
    walk.collect_outputs(&flow.tasks, &Place::root());
    walk.collect_outputs(&flow.errors, &Place::root());
    walk.collect_outputs(&flow.finally, &Place::root());
    let root = Place::root();
    let ended = match walk.list(&flow.tasks, &root) {
        Progress::Running => None,
        Progress::Done => Some(None),
        Progress::Failed(message) => match walk.list(&flow.errors, &root) {
            Progress::Running => None,
            _ => Some(Some(message)),
        },
    };
    if let Some(failure) = ended {
        match walk.list(&flow.finally, &root) {
            Progress::Running => {}
            finally => {
                let failure = failure.or(match finally {
                    Progress::Failed(message) => Some(message),
                    _ => None,
                });
                let close = match failure {
                    Some(message) => fail_workflow(&message),
                    None => match walk.outputs() {
                        Ok(outputs) => Command::CompleteWorkflow {
                            result: Some(keel_wire::json::encode_payloads(&[outputs])),
                        },
                        Err(message) => fail_workflow(&message),
                    },
                };
                walk.commands.push(close);
            }
        }
    }
    (walk.commands, walk.waiting, walk.states)
}

fn fail_workflow(message: &str) -> Command {
    Command::FailWorkflow {
        failure: Failure {
            message: message.to_owned(),
            source: "keel-flows".into(),
            info: FailureInfo::Application {
                failure_type: "FlowFailed".into(),
                non_retryable: true,
                next_retry_delay: None,
            },
            cause: None,
            original: None,
        },
    }
}

/// How a task run ended, as far as the history says.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Pending,
    Completed(Value),
    Failed(String),
    /// Its runner was lost (a heartbeat timeout of a built-in task): start it again.
    Lost,
}

/// What the history says happened.
struct Facts {
    start: FlowStart,
    /// By activity id; a task run started again after its runner was lost has the next
    /// attempt's id (`id#2`).
    activities: HashMap<String, Outcome>,
    timers: HashMap<String, TimerState>,
    /// By child workflow id.
    children: HashMap<String, Outcome>,
    /// Resume inputs by task run id.
    resumes: HashMap<String, Map<String, Value>>,
    decisions: HashMap<String, Decision>,
    cancel_requested: bool,
    closed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimerState {
    Started,
    Fired,
    Canceled,
}

/// The first payload of an encoded `Payloads` as JSON; null when there is none.
fn first_value(blob: Option<&Blob>) -> Value {
    let Some(blob) = blob else {
        return Value::Null;
    };
    keel_wire::json::decode_payloads(blob)
        .and_then(|payloads| payloads.into_iter().next())
        .and_then(|payload| serde_json::from_slice(&payload.data).ok())
        .unwrap_or(Value::Null)
}

/// The decision a decision marker's details record, if they read.
fn recorded_decision(details: &keel_core::BlobMap) -> Option<Decision> {
    let value = first_value(Some(details.get("data")?));
    serde_json::from_value(value).ok()
}

fn failure_message(failure: &Failure) -> String {
    let mut message = failure.message.clone();
    let mut cause = failure.cause.as_deref();
    while let Some(inner) = cause {
        if !inner.message.is_empty() && !message.contains(&inner.message) {
            message = format!("{message}: {}", inner.message);
        }
        cause = inner.cause.as_deref();
    }
    message
}

impl Facts {
    fn read(history: &[Event]) -> Result<Facts, String> {
        let Some(EventKind::WorkflowExecutionStarted(started)) =
            history.first().map(|event| &event.kind)
        else {
            return Err("the history does not start with WorkflowExecutionStarted".into());
        };
        let start = FlowStart::from_payloads(started.input.as_ref())?;
        let mut facts = Facts {
            start,
            activities: HashMap::new(),
            timers: HashMap::new(),
            children: HashMap::new(),
            resumes: HashMap::new(),
            decisions: HashMap::new(),
            cancel_requested: false,
            closed: false,
        };
        let mut activity_ids: HashMap<i64, (String, bool)> = HashMap::new();
        let mut child_ids: HashMap<i64, String> = HashMap::new();
        for event in history {
            match &event.kind {
                EventKind::ActivityTaskScheduled(scheduled) => {
                    let builtin = scheduled.activity_type.starts_with(BUILTIN_PREFIX);
                    activity_ids.insert(event.id, (scheduled.activity_id.clone(), builtin));
                    facts
                        .activities
                        .insert(scheduled.activity_id.clone(), Outcome::Pending);
                }
                EventKind::ActivityTaskCompleted {
                    result,
                    scheduled_event_id,
                    ..
                } => {
                    if let Some((id, _)) = activity_ids.get(scheduled_event_id) {
                        facts
                            .activities
                            .insert(id.clone(), Outcome::Completed(first_value(result.as_ref())));
                    }
                }
                EventKind::ActivityTaskFailed {
                    failure,
                    scheduled_event_id,
                    ..
                } => {
                    if let Some((id, _)) = activity_ids.get(scheduled_event_id) {
                        facts
                            .activities
                            .insert(id.clone(), Outcome::Failed(failure_message(failure)));
                    }
                }
                EventKind::ActivityTaskTimedOut {
                    failure,
                    scheduled_event_id,
                    ..
                } => {
                    if let Some((id, builtin)) = activity_ids.get(scheduled_event_id) {
                        let lost = *builtin
                            && matches!(
                                failure.info,
                                FailureInfo::Timeout {
                                    timeout_type: TimeoutType::Heartbeat,
                                    ..
                                }
                            );
                        let outcome = if lost {
                            Outcome::Lost
                        } else {
                            Outcome::Failed(format!("timed out ({})", failure_message(failure)))
                        };
                        facts.activities.insert(id.clone(), outcome);
                    }
                }
                EventKind::ActivityTaskCanceled {
                    scheduled_event_id, ..
                } => {
                    if let Some((id, _)) = activity_ids.get(scheduled_event_id) {
                        facts
                            .activities
                            .insert(id.clone(), Outcome::Failed("canceled".into()));
                    }
                }
                EventKind::TimerStarted { timer_id, .. } => {
                    facts.timers.insert(timer_id.clone(), TimerState::Started);
                }
                EventKind::TimerFired { timer_id, .. } => {
                    facts.timers.insert(timer_id.clone(), TimerState::Fired);
                }
                EventKind::TimerCanceled { timer_id, .. } => {
                    facts.timers.insert(timer_id.clone(), TimerState::Canceled);
                }
                EventKind::StartChildWorkflowExecutionInitiated(child) => {
                    child_ids.insert(event.id, child.workflow_id.clone());
                    facts
                        .children
                        .insert(child.workflow_id.clone(), Outcome::Pending);
                }
                EventKind::StartChildWorkflowExecutionFailed { workflow_id, .. } => {
                    facts.children.insert(
                        workflow_id.clone(),
                        Outcome::Failed(format!("the subflow execution '{workflow_id}' could not start: it is already running")),
                    );
                }
                EventKind::ChildWorkflowExecutionClosed {
                    initiated_event_id,
                    outcome,
                    ..
                } => {
                    if let Some(id) = child_ids.get(initiated_event_id) {
                        let outcome = match outcome {
                            ChildOutcome::Completed { result } => {
                                Outcome::Completed(first_value(result.as_ref()))
                            }
                            ChildOutcome::Failed { failure, .. } => {
                                Outcome::Failed(failure_message(failure))
                            }
                            ChildOutcome::Canceled { .. } => {
                                Outcome::Failed("the subflow was cancelled".into())
                            }
                            ChildOutcome::TimedOut { .. } => {
                                Outcome::Failed("the subflow timed out".into())
                            }
                            ChildOutcome::Terminated => {
                                Outcome::Failed("the subflow was terminated".into())
                            }
                        };
                        facts.children.insert(id.clone(), outcome);
                    }
                }
                EventKind::WorkflowExecutionSignaled {
                    signal_name, input, ..
                } if signal_name == RESUME_SIGNAL => {
                    if let Ok(resume) =
                        serde_json::from_value::<Resume>(first_value(input.as_ref()))
                        && resume.format == FORMAT
                    {
                        facts
                            .resumes
                            .entry(resume.task_run)
                            .or_insert(resume.inputs);
                    }
                }
                EventKind::MarkerRecorded {
                    marker_name,
                    details,
                    ..
                } if marker_name == DECISION_MARKER => {
                    if let Some(decision) = recorded_decision(details) {
                        facts
                            .decisions
                            .entry(decision.task_run.clone())
                            .or_insert(decision);
                    }
                }
                EventKind::WorkflowExecutionCancelRequested { .. } => facts.cancel_requested = true,
                EventKind::WorkflowExecutionCompleted { .. }
                | EventKind::WorkflowExecutionFailed { .. }
                | EventKind::WorkflowExecutionTimedOut { .. }
                | EventKind::WorkflowExecutionTerminated { .. }
                | EventKind::WorkflowExecutionCanceled { .. }
                | EventKind::WorkflowExecutionContinuedAsNew(_) => facts.closed = true,
                _ => {}
            }
        }
        Ok(facts)
    }

    /// The outcome of a task run's activity, following its later attempts (`id#2`, ...:
    /// re-runs after a lost runner, and a random retry's attempts): the id of its current
    /// attempt, that attempt's number, and its outcome (none: never scheduled).
    fn activity(&self, task_run: &str) -> (String, u32, Option<Outcome>) {
        let (mut id, mut attempt, mut lost) = (task_run.to_owned(), 1, 0);
        loop {
            let outcome = self.activities.get(&id).cloned();
            let next = format!("{task_run}#{}", attempt + 1);
            match outcome {
                Some(Outcome::Lost) if lost >= MAX_LOST_RUNS => {
                    let lost = format!(
                        "its runner was lost {} times (the server stopped while running it)",
                        MAX_LOST_RUNS + 1
                    );
                    return (id, attempt, Some(Outcome::Failed(lost)));
                }
                Some(Outcome::Lost) => lost += 1,
                Some(Outcome::Failed(_)) if self.activities.contains_key(&next) => {}
                other => return (id, attempt, other),
            }
            id = next;
            attempt += 1;
        }
    }
}

/// Where a task run sits: its id suffix inside loops, the loop items it belongs to.
#[derive(Clone, Debug)]
struct Place {
    /// `[2]`, `[0][1]`: the item indexes of the enclosing ForEach loops.
    suffix: String,
    /// The items' values as output keys, outermost first.
    keys: Vec<String>,
    taskrun: Option<Value>,
}

impl Place {
    fn root() -> Place {
        Place {
            suffix: String::new(),
            keys: Vec::new(),
            taskrun: None,
        }
    }

    fn task_run(&self, task: &Task) -> String {
        format!("{}{}", task.id, self.suffix)
    }

    fn item(&self, index: usize, value: &Value) -> Place {
        let key = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let mut keys = self.keys.clone();
        keys.push(key);
        let mut taskrun = json!({"value": value, "index": index});
        if let Some(parent) = &self.taskrun {
            taskrun["parent"] = parent.clone();
        }
        Place {
            suffix: format!("{}[{index}]", self.suffix),
            keys,
            taskrun: Some(taskrun),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Progress {
    Done,
    Running,
    Failed(String),
}

struct Walk<'a> {
    flow: &'a Flow,
    facts: &'a Facts,
    execution: &'a Execution<'a>,
    scope: Scope,
    commands: Vec<Command>,
    /// How many facts the walk has read: a branch that read none has not started.
    touched: usize,
    /// Pauses waiting for a person, by task run id, with their task.
    waiting: Vec<(String, String)>,
    /// Where each task reached is (see [`task_states`]).
    states: BTreeMap<String, &'static str>,
}

impl Walk<'_> {
    /// Records every finished task run's output in the scope before anything is decided,
    /// so that an expression sees the same outputs whatever the walk's order.
    fn collect_outputs(&mut self, tasks: &[Task], place: &Place) {
        for task in tasks {
            let task_run = place.task_run(task);
            let output = match &task.kind {
                TaskKind::Log { .. }
                | TaskKind::Return { .. }
                | TaskKind::HttpRequest { .. }
                | TaskKind::Shell { .. }
                | TaskKind::Activity { .. } => match self.reused(&task_run) {
                    Some(value) => Some(value),
                    None => match self.facts.activity(&task_run).2 {
                        Some(Outcome::Completed(value)) => Some(value),
                        _ => None,
                    },
                },
                TaskKind::Subflow { .. } => match self.reused(&task_run) {
                    Some(value) => Some(value),
                    None => match self.facts.children.get(&self.child_id(&task_run)) {
                        Some(Outcome::Completed(value)) => {
                            Some(value.get("outputs").cloned().unwrap_or(value.clone()))
                        }
                        _ => None,
                    },
                },
                TaskKind::Pause { .. } => self
                    .facts
                    .resumes
                    .get(&task_run)
                    .map(|inputs| Value::Object(inputs.clone())),
                _ => None,
            };
            if let Some(output) = output {
                self.set_output(&task.id, &place.keys, output);
            }
            if let TaskKind::ForEach { tasks, .. } = &task.kind {
                if let Some(Value::Array(items)) = self
                    .facts
                    .decisions
                    .get(&task_run)
                    .map(|decision| &decision.value)
                {
                    for (index, value) in items.iter().enumerate() {
                        self.collect_outputs(tasks, &place.item(index, value));
                    }
                }
            } else {
                for list in task.kind.children() {
                    self.collect_outputs(list, place);
                }
            }
        }
    }

    fn reused(&self, task_run: &str) -> Option<Value> {
        self.facts.start.reused.get(task_run).cloned()
    }

    /// `outputs.<task>` (`outputs.<task>[<item>]...` inside loops).
    fn set_output(&mut self, task_id: &str, keys: &[String], output: Value) {
        let mut slot = self
            .scope
            .outputs
            .entry(task_id.to_owned())
            .or_insert(Value::Null);
        for key in keys {
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            slot = slot
                .as_object_mut()
                .expect("made an object")
                .entry(key.clone())
                .or_insert(Value::Null);
        }
        *slot = output;
    }

    fn scope_at(&self, place: &Place) -> Scope {
        let mut scope = self.scope.clone();
        scope.taskrun = place.taskrun.clone();
        scope
    }

    /// The child workflow id of a Subflow task run.
    fn child_id(&self, task_run: &str) -> String {
        format!("{}:{task_run}", self.execution.workflow_id)
    }

    /// Tasks one after another: the first that is not done decides.
    fn list(&mut self, tasks: &[Task], place: &Place) -> Progress {
        for task in tasks {
            match self.task(task, place) {
                Progress::Done => continue,
                other => return other,
            }
        }
        Progress::Done
    }

    fn task(&mut self, task: &Task, place: &Place) -> Progress {
        let waiting_before = self.waiting.len();
        let progress = self.run(task, place);
        let state = match &progress {
            Progress::Done => "completed",
            Progress::Failed(_) => "failed",
            Progress::Running if self.waiting.len() > waiting_before => "waiting",
            Progress::Running => "running",
        };
        let rank = |state: &str| match state {
            "failed" => 4,
            "waiting" => 3,
            "running" => 2,
            _ => 1,
        };
        let slot = self.states.entry(task.id.clone()).or_insert(state);
        if rank(state) > rank(slot) {
            *slot = state;
        }
        match progress {
            Progress::Failed(message) if task.allow_failure => {
                let _ = message;
                Progress::Done
            }
            // A leaf names itself; a flowable task passes its child's message on.
            Progress::Failed(message) if task.kind.children().is_empty() => {
                Progress::Failed(format!("task '{}' failed: {message}", place.task_run(task)))
            }
            other => other,
        }
    }

    /// Records a decision (a value, or why the task run failed) the first time it is
    /// taken; answers the recorded one after.
    fn decision(
        &mut self,
        task_run: &str,
        evaluate: impl FnOnce(&Self) -> Result<Value, String>,
    ) -> Result<Value, String> {
        if let Some(decision) = self.facts.decisions.get(task_run) {
            self.touched += 1;
            return match &decision.error {
                Some(error) => Err(error.clone()),
                None => Ok(decision.value.clone()),
            };
        }
        let outcome = evaluate(self);
        let decision = Decision {
            format: FORMAT,
            task_run: task_run.to_owned(),
            value: outcome.clone().unwrap_or(Value::Null),
            error: outcome.clone().err(),
        };
        let payload = serde_json::to_value(&decision).expect("a decision serializes");
        self.commands.push(Command::RecordMarker {
            marker_name: DECISION_MARKER.into(),
            details: BTreeMap::from([(
                "data".to_owned(),
                keel_wire::json::encode_payloads(&[payload]),
            )]),
            header: None,
            failure: None,
        });
        outcome
    }

    fn run(&mut self, task: &Task, place: &Place) -> Progress {
        let task_run = place.task_run(task);
        if let Some(decision) = self.facts.decisions.get(&task_run)
            && let Some(error) = &decision.error
        {
            self.touched += 1;
            return Progress::Failed(error.clone());
        }
        match &task.kind {
            TaskKind::Sequential { tasks } => self.list(tasks, place),
            TaskKind::Parallel { tasks, concurrency } => {
                let branches: Vec<&[Task]> = tasks.iter().map(std::slice::from_ref).collect();
                self.branches(
                    &branches,
                    &vec![place.clone(); tasks.len()],
                    concurrency.map(|c| c as usize),
                )
            }
            TaskKind::If {
                condition,
                then,
                otherwise,
            } => {
                let scope = self.scope_at(place);
                match self.decision(&task_run, |_| {
                    expr::render(condition, &scope).map(|value| Value::Bool(expr::truthy(&value)))
                }) {
                    Ok(Value::Bool(true)) => self.list(then, place),
                    Ok(_) => self.list(otherwise, place),
                    Err(error) => Progress::Failed(error),
                }
            }
            TaskKind::Switch {
                value,
                cases,
                defaults,
            } => {
                let scope = self.scope_at(place);
                match self.decision(&task_run, |_| {
                    expr::render_text(value, &scope).map(Value::String)
                }) {
                    Ok(Value::String(case)) => match cases.get(&case) {
                        Some(tasks) => self.list(tasks, place),
                        None if !defaults.is_empty() => self.list(defaults, place),
                        None => {
                            Progress::Failed(format!("no case for value '{case}' and no defaults"))
                        }
                    },
                    Ok(other) => Progress::Failed(format!("the recorded case {other} is not text")),
                    Err(error) => Progress::Failed(error),
                }
            }
            TaskKind::ForEach {
                values,
                concurrency,
                tasks,
            } => {
                let scope = self.scope_at(place);
                let items = self.decision(&task_run, |_| {
                    let value = expr::render_value(values, &scope)?;
                    match value {
                        Value::Array(items) => Ok(Value::Array(items)),
                        Value::String(text) => match serde_json::from_str::<Value>(&text) {
                            Ok(Value::Array(items)) => Ok(Value::Array(items)),
                            _ => Err(format!("'values' gave '{text}', not a list")),
                        },
                        other => Err(format!("'values' gave {other}, not a list")),
                    }
                });
                match items {
                    Ok(Value::Array(items)) => {
                        let places: Vec<Place> = items
                            .iter()
                            .enumerate()
                            .map(|(index, value)| place.item(index, value))
                            .collect();
                        let branches: Vec<&[Task]> = vec![tasks.as_slice(); items.len()];
                        let limit = (*concurrency > 0).then_some(*concurrency as usize);
                        self.branches(&branches, &places, limit)
                    }
                    Ok(other) => {
                        Progress::Failed(format!("the recorded items {other} are not a list"))
                    }
                    Err(error) => Progress::Failed(error),
                }
            }
            TaskKind::Subflow {
                namespace,
                flow_id,
                inputs,
                wait,
                transmit_failed,
            } => {
                if self.reused(&task_run).is_some() {
                    return Progress::Done;
                }
                let child_id = self.child_id(&task_run);
                match self.facts.children.get(&child_id) {
                    None => {
                        let scope = self.scope_at(place);
                        let inputs =
                            match expr::render_value(&Value::Object(inputs.clone()), &scope) {
                                Ok(Value::Object(inputs)) => inputs,
                                Ok(_) => Map::new(),
                                Err(error) => return self.failed_before_start(&task_run, error),
                            };
                        let namespace = namespace
                            .clone()
                            .unwrap_or_else(|| self.flow.namespace.clone());
                        let start = FlowStart {
                            format: FORMAT,
                            namespace: namespace.clone(),
                            flow: flow_id.clone(),
                            revision: None,
                            inputs,
                            reused: BTreeMap::new(),
                            trigger: None,
                        };
                        let same_namespace = namespace == self.execution.namespace;
                        self.commands
                            .push(Command::StartChild(Box::new(ChildInitiated {
                                namespace: if same_namespace {
                                    String::new()
                                } else {
                                    namespace
                                },
                                workflow_id: child_id,
                                workflow_type: flow_id.clone(),
                                task_queue: FLOW_TASK_QUEUE.into(),
                                input: Some(keel_wire::json::encode_payloads(&[start.to_json()])),
                                workflow_execution_timeout: Duration::ZERO,
                                workflow_run_timeout: Duration::ZERO,
                                workflow_task_timeout: Duration::from_secs(10),
                                parent_close_policy: if *wait {
                                    keel_core::event::ParentClosePolicy::Terminate
                                } else {
                                    keel_core::event::ParentClosePolicy::Abandon
                                },
                                control: String::new(),
                                workflow_task_completed_event_id: 0,
                                workflow_id_reuse_policy: Default::default(),
                                retry_policy: None,
                                cron_schedule: String::new(),
                                header: Default::default(),
                                memo: Default::default(),
                                search_attributes: Default::default(),
                            })));
                        if *wait {
                            Progress::Running
                        } else {
                            Progress::Done
                        }
                    }
                    Some(outcome) => {
                        self.touched += 1;
                        match outcome {
                            _ if !*wait => Progress::Done,
                            Outcome::Pending | Outcome::Lost => Progress::Running,
                            Outcome::Completed(_) => Progress::Done,
                            Outcome::Failed(_) if !*transmit_failed => Progress::Done,
                            Outcome::Failed(message) => {
                                Progress::Failed(format!("subflow {flow_id}: {message}"))
                            }
                        }
                    }
                }
            }
            TaskKind::Pause { delay, .. } => {
                if let Some(delay) = delay {
                    return self.timer(&task_run, *delay);
                }
                let timeout_timer = format!("{task_run}~timeout");
                if self.facts.resumes.contains_key(&task_run) {
                    self.touched += 1;
                    if self.facts.timers.get(&timeout_timer) == Some(&TimerState::Started) {
                        self.commands.push(Command::CancelTimer {
                            timer_id: timeout_timer,
                        });
                    }
                    return Progress::Done;
                }
                self.waiting.push((task_run.clone(), task.id.clone()));
                match task.timeout {
                    None => Progress::Running,
                    Some(timeout) => match self.timer(&timeout_timer, timeout) {
                        Progress::Done => Progress::Failed(format!(
                            "not resumed within {}",
                            crate::duration::display(timeout)
                        )),
                        other => other,
                    },
                }
            }
            TaskKind::Sleep { duration } => self.timer(&task_run, *duration),
            TaskKind::Fail { message } => {
                let scope = self.scope_at(place);
                let message = expr::render_text(message, &scope).unwrap_or_else(|error| error);
                self.failed_before_start(&task_run, message)
            }
            TaskKind::Log { .. }
            | TaskKind::Return { .. }
            | TaskKind::HttpRequest { .. }
            | TaskKind::Shell { .. }
            | TaskKind::Activity { .. } => self.activity(task, &task_run, place),
        }
    }

    /// A task run that fails before it could start: recorded, so it stays failed.
    fn failed_before_start(&mut self, task_run: &str, error: String) -> Progress {
        match self.decision(task_run, |_| Err(error)) {
            Err(error) => Progress::Failed(error),
            Ok(_) => Progress::Failed("failed".into()),
        }
    }

    fn timer(&mut self, timer_id: &str, duration: Duration) -> Progress {
        match self.facts.timers.get(timer_id) {
            None => {
                self.commands.push(Command::StartTimer {
                    timer_id: timer_id.to_owned(),
                    start_to_fire_timeout: duration.max(Duration::from_millis(1)),
                });
                Progress::Running
            }
            Some(state) => {
                self.touched += 1;
                match state {
                    TimerState::Started => Progress::Running,
                    TimerState::Fired => Progress::Done,
                    TimerState::Canceled => Progress::Failed("its timer was cancelled".into()),
                }
            }
        }
    }

    /// Branches run side by side, at most `limit` at once; each a list of tasks in its
    /// place. Done when all are done, failed once one failed and none still runs.
    fn branches(
        &mut self,
        branches: &[&[Task]],
        places: &[Place],
        limit: Option<usize>,
    ) -> Progress {
        let mut running = 0;
        let mut failure = None;
        for (tasks, place) in branches.iter().zip(places) {
            let (commands, touched) = (self.commands.len(), self.touched);
            let states = self.states.clone();
            let progress = self.list(tasks, place);
            // A branch whose walk read no fact of the history has not started yet.
            let started = self.touched > touched;
            let at_limit = limit.is_some_and(|limit| running >= limit);
            if !started && progress != Progress::Done && (at_limit || failure.is_some()) {
                // It may not start now: take back what it would have done.
                self.commands.truncate(commands);
                self.states = states;
                continue;
            }
            match progress {
                Progress::Running => running += 1,
                Progress::Failed(message) => {
                    failure.get_or_insert(message);
                }
                Progress::Done => {}
            }
        }
        // A branch held back waits for a running one, so `running > 0` covers it too.
        match failure {
            _ if running > 0 => Progress::Running,
            Some(message) => Progress::Failed(message),
            None => Progress::Done,
        }
    }

    fn activity(&mut self, task: &Task, task_run: &str, place: &Place) -> Progress {
        if self.reused(task_run).is_some() {
            return Progress::Done;
        }
        let (activity_id, attempt, outcome) = self.facts.activity(task_run);
        match outcome {
            Some(Outcome::Completed(_)) => {
                self.touched += 1;
                Progress::Done
            }
            Some(Outcome::Failed(message)) => {
                self.touched += 1;
                let retry = task.retry.as_ref().or(self.flow.retry.as_ref());
                let Some(Retry {
                    kind:
                        RetryKind::Random {
                            min_interval,
                            max_interval,
                        },
                    max_attempts,
                }) = retry
                else {
                    return Progress::Failed(message);
                };
                if attempt >= *max_attempts {
                    return Progress::Failed(message);
                }
                // Wait a random while, then the next attempt.
                let timer_id = format!("{task_run}~retry{attempt}");
                match self.facts.timers.get(&timer_id) {
                    None => {
                        let wait = random_wait(
                            self.execution.run_id,
                            task_run,
                            attempt,
                            *min_interval,
                            *max_interval,
                        );
                        self.commands.push(Command::StartTimer {
                            timer_id,
                            start_to_fire_timeout: wait.max(Duration::from_millis(1)),
                        });
                        Progress::Running
                    }
                    Some(TimerState::Started) => Progress::Running,
                    Some(TimerState::Canceled) => Progress::Failed(message),
                    Some(TimerState::Fired) => {
                        let next = format!("{task_run}#{}", attempt + 1);
                        match self.schedule(task, task_run, &next, place) {
                            Ok(command) => {
                                self.commands.push(command);
                                Progress::Running
                            }
                            Err(error) => self.failed_before_start(task_run, error),
                        }
                    }
                }
            }
            Some(Outcome::Pending) => {
                self.touched += 1;
                Progress::Running
            }
            Some(Outcome::Lost) | None => {
                if activity_id != task_run {
                    self.touched += 1;
                }
                match self.schedule(task, task_run, &activity_id, place) {
                    Ok(command) => {
                        self.commands.push(command);
                        Progress::Running
                    }
                    Err(error) => self.failed_before_start(task_run, error),
                }
            }
        }
    }

    /// The ScheduleActivityTask command of a runnable task run, its expressions rendered.
    fn schedule(
        &self,
        task: &Task,
        task_run: &str,
        activity_id: &str,
        place: &Place,
    ) -> Result<Command, String> {
        let scope = self.scope_at(place);
        let text = |text: &str| expr::render_text(text, &scope);
        let builtin = |task_spec: BuiltinTask| -> (String, String, Value) {
            let activity_type = format!("{BUILTIN_PREFIX}{}", task_spec.type_name());
            let input = TaskRunInput {
                format: FORMAT,
                flow: self.flow.id.clone(),
                task_id: task.id.clone(),
                task_run: task_run.to_owned(),
                task: task_spec,
            };
            (
                activity_type,
                TASK_RUNNER_QUEUE.to_owned(),
                serde_json::to_value(input).expect("a task run input serializes"),
            )
        };
        let mut heartbeat = BUILTIN_HEARTBEAT_TIMEOUT;
        let mut schedule_to_start = Duration::ZERO;
        let (activity_type, task_queue, input) = match &task.kind {
            TaskKind::Log { message, level } => builtin(BuiltinTask::Log {
                level: level.clone(),
                message: text(message)?,
            }),
            TaskKind::Return { value } => builtin(BuiltinTask::Return {
                value: expr::render_value(value, &scope)?,
            }),
            TaskKind::HttpRequest {
                uri,
                method,
                headers,
                body,
                expected_status,
            } => builtin(BuiltinTask::HttpRequest {
                uri: text(uri)?,
                method: method.clone(),
                headers: headers
                    .iter()
                    .map(|(name, value)| Ok((name.clone(), text(value)?)))
                    .collect::<Result<_, String>>()?,
                body: body
                    .as_ref()
                    .map(|body| expr::render_value(body, &scope))
                    .transpose()?,
                expected_status: expected_status.clone(),
            }),
            TaskKind::Shell {
                commands,
                env,
                working_directory,
            } => builtin(BuiltinTask::Shell {
                commands: commands
                    .iter()
                    .map(|command| text(command))
                    .collect::<Result<_, _>>()?,
                env: env
                    .iter()
                    .map(|(name, value)| Ok((name.clone(), text(value)?)))
                    .collect::<Result<_, String>>()?,
                working_directory: working_directory.as_deref().map(text).transpose()?,
            }),
            TaskKind::Activity {
                activity_type,
                task_queue,
                input,
                heartbeat_timeout,
                schedule_to_start_timeout,
            } => {
                heartbeat = heartbeat_timeout.unwrap_or(Duration::ZERO);
                schedule_to_start = schedule_to_start_timeout.unwrap_or(Duration::ZERO);
                let input = match input {
                    Some(input) => expr::render_value(input, &scope)?,
                    None => Value::Null,
                };
                (activity_type.clone(), task_queue.clone(), input)
            }
            other => unreachable!("{} is not a runnable task", other.type_name()),
        };
        let inputs: Vec<Value> = if input.is_null() {
            Vec::new()
        } else {
            vec![input]
        };
        Ok(Command::ScheduleActivity(ScheduleActivity {
            activity_id: activity_id.to_owned(),
            activity_type,
            task_queue,
            header: Default::default(),
            input: (!inputs.is_empty()).then(|| keel_wire::json::encode_payloads(&inputs)),
            schedule_to_close_timeout: Duration::ZERO,
            schedule_to_start_timeout: schedule_to_start,
            start_to_close_timeout: task.timeout.unwrap_or(DEFAULT_TASK_TIMEOUT),
            heartbeat_timeout: heartbeat,
            retry_policy: Some(retry_policy(
                task.retry.as_ref().or(self.flow.retry.as_ref()),
            )),
        }))
    }

    /// The flow's outputs, rendered once its tasks are done.
    fn outputs(&self) -> Result<Value, String> {
        let mut outputs = Map::new();
        for output in &self.flow.outputs {
            let value = expr::render_value(&output.value, &self.scope)
                .map_err(|error| format!("output '{}': {error}", output.id))?;
            outputs.insert(output.id.clone(), value);
        }
        Ok(json!({ "outputs": outputs }))
    }
}

/// A wait between `min` and `max` that looks random but is the same for the same run,
/// task run and attempt (FNV-1a of them), so that deciding again decides the same.
fn random_wait(
    run_id: &str,
    task_run: &str,
    attempt: u32,
    min: Duration,
    max: Duration,
) -> Duration {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in run_id
        .bytes()
        .chain(task_run.bytes())
        .chain(attempt.to_le_bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let span = max.saturating_sub(min).as_millis() as u64;
    min + Duration::from_millis(if span == 0 { 0 } else { hash % (span + 1) })
}

/// The engine's retry policy for a task's retry (no retry when none is given; a random
/// retry is the interpreter's, so the engine tries each attempt once).
pub fn retry_policy(retry: Option<&Retry>) -> keel_core::RetryPolicy {
    let Some(retry) = retry else {
        return keel_core::RetryPolicy {
            initial_interval: Duration::from_secs(1),
            backoff_coefficient: 1.0,
            maximum_interval: Duration::from_secs(1),
            maximum_attempts: 1,
            non_retryable_error_types: Vec::new(),
        };
    };
    let (initial_interval, backoff_coefficient, maximum_interval) = match &retry.kind {
        RetryKind::Random { .. } => return retry_policy(None),
        RetryKind::Constant { interval } => (*interval, 1.0, *interval),
        RetryKind::Exponential {
            interval,
            max_interval,
            multiplier,
        } => (
            *interval,
            *multiplier,
            max_interval.unwrap_or(Duration::ZERO),
        ),
    };
    keel_core::RetryPolicy {
        initial_interval: initial_interval.max(Duration::from_millis(1)),
        backoff_coefficient,
        maximum_interval,
        maximum_attempts: retry.max_attempts.min(i32::MAX as u32) as i32,
        non_retryable_error_types: Vec::new(),
    }
}

/// The outputs of the task runs an execution finished, by task run id, to reuse in a
/// restart or replay: those taken from an earlier execution (its start's `reused`), and
/// those of activities completed in this history, all of them or (with `before`) only
/// those completed before that task run was first scheduled. Subflows are run again.
pub fn finished_outputs(
    history: &[Event],
    before: Option<&str>,
) -> Result<BTreeMap<String, Value>, String> {
    let facts = Facts::read(history)?;
    let base = |activity_id: &str| {
        activity_id
            .split('#')
            .next()
            .unwrap_or(activity_id)
            .to_owned()
    };
    let cutoff = match before {
        None => i64::MAX,
        Some(task_run) => history
            .iter()
            .find_map(|event| match &event.kind {
                EventKind::ActivityTaskScheduled(scheduled)
                    if base(&scheduled.activity_id) == task_run =>
                {
                    Some(event.id)
                }
                EventKind::MarkerRecorded {
                    marker_name,
                    details,
                    ..
                } if marker_name == DECISION_MARKER => recorded_decision(details)
                    .filter(|decision| decision.task_run == task_run)
                    .map(|_| event.id),
                _ => None,
            })
            .ok_or_else(|| format!("task run '{task_run}' did not run in this execution"))?,
    };
    let mut outputs = facts.start.reused.clone();
    if before.is_some() {
        outputs.clear();
    }
    let mut scheduled: HashMap<i64, String> = HashMap::new();
    let mut children: HashMap<i64, String> = HashMap::new();
    for event in history {
        match &event.kind {
            EventKind::ActivityTaskScheduled(activity) => {
                scheduled.insert(event.id, base(&activity.activity_id));
            }
            EventKind::ActivityTaskCompleted {
                result,
                scheduled_event_id,
                ..
            } if event.id < cutoff => {
                if let Some(task_run) = scheduled.get(scheduled_event_id) {
                    outputs.insert(task_run.clone(), first_value(result.as_ref()));
                }
            }
            // A subflow's child is `<workflow id>:<task run>`, and task runs hold no ':'.
            EventKind::StartChildWorkflowExecutionInitiated(child) => {
                if let Some((_, task_run)) = child.workflow_id.rsplit_once(':') {
                    children.insert(event.id, task_run.to_owned());
                }
            }
            EventKind::ChildWorkflowExecutionClosed {
                initiated_event_id,
                outcome: ChildOutcome::Completed { result },
                ..
            } if event.id < cutoff => {
                if let Some(task_run) = children.get(initiated_event_id) {
                    let value = first_value(result.as_ref());
                    let shown = value.get("outputs").cloned().unwrap_or(value);
                    outputs.insert(task_run.clone(), shown);
                }
            }
            _ => {}
        }
    }
    Ok(outputs)
}

/// One task run of an execution, as people read it: what it gave, or why it failed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TaskRunReport {
    /// `pack[2]`: the task and, inside loops, the item.
    pub task_run: String,
    /// `completed`, `failed`, `running` (or waiting), or `reused` (outputs taken from an
    /// earlier execution by a restart or replay).
    pub state: &'static str,
    /// How many times it was started (a lost runner or a random retry starts it again;
    /// the engine's own retries are attempts of one start).
    pub starts: u32,
    pub outputs: Option<Value>,
    pub error: Option<String>,
}

/// Every task run of an execution in the order they began (reused ones first), with their
/// outputs or errors: activities, subflows, resumed pauses, and task runs that failed
/// before they could start (an expression that did not evaluate).
pub fn task_run_reports(history: &[Event]) -> Result<Vec<TaskRunReport>, String> {
    let facts = Facts::read(history)?;
    let reports: Vec<TaskRunReport> = facts
        .start
        .reused
        .iter()
        .map(|(task_run, outputs)| TaskRunReport {
            task_run: task_run.clone(),
            state: "reused",
            starts: 0,
            outputs: Some(outputs.clone()),
            error: None,
        })
        .collect();
    let mut reports = Reports {
        index: reports
            .iter()
            .enumerate()
            .map(|(at, report)| (report.task_run.clone(), at))
            .collect(),
        list: reports,
    };
    for event in history {
        match &event.kind {
            EventKind::ActivityTaskScheduled(activity) => {
                let task_run = activity
                    .activity_id
                    .split('#')
                    .next()
                    .unwrap_or(&activity.activity_id);
                let outcome = facts
                    .activities
                    .get(&activity.activity_id)
                    .cloned()
                    .unwrap_or(Outcome::Pending);
                reports.place(task_run, &outcome, true);
            }
            EventKind::StartChildWorkflowExecutionInitiated(child) => {
                if let Some((_, task_run)) = child.workflow_id.rsplit_once(':') {
                    let outcome = match facts.children.get(&child.workflow_id) {
                        Some(Outcome::Completed(value)) => Outcome::Completed(
                            value.get("outputs").cloned().unwrap_or(value.clone()),
                        ),
                        Some(other) => other.clone(),
                        None => Outcome::Pending,
                    };
                    reports.place(task_run, &outcome, true);
                }
            }
            EventKind::WorkflowExecutionSignaled { signal_name, .. }
                if signal_name == RESUME_SIGNAL =>
            {
                for (task_run, inputs) in &facts.resumes {
                    if !reports.index.contains_key(task_run) {
                        let outcome = Outcome::Completed(Value::Object(inputs.clone()));
                        reports.place(task_run, &outcome, true);
                    }
                }
            }
            EventKind::MarkerRecorded {
                marker_name,
                details,
                ..
            } if marker_name == DECISION_MARKER => {
                if let Some(Decision {
                    task_run,
                    error: Some(error),
                    ..
                }) = recorded_decision(details)
                {
                    reports.place(&task_run, &Outcome::Failed(error), false);
                }
            }
            _ => {}
        }
    }
    Ok(reports.list)
}

/// Task run reports in the order their task runs first appear.
struct Reports {
    list: Vec<TaskRunReport>,
    index: HashMap<String, usize>,
}

impl Reports {
    /// Records where `task_run` is now; `started` counts one more start of it.
    fn place(&mut self, task_run: &str, outcome: &Outcome, started: bool) {
        let (state, outputs, error) = match outcome {
            Outcome::Pending | Outcome::Lost => ("running", None, None),
            Outcome::Completed(value) => ("completed", Some(value.clone()), None),
            Outcome::Failed(message) => ("failed", None, Some(message.clone())),
        };
        let list = &mut self.list;
        let at = *self.index.entry(task_run.to_owned()).or_insert_with(|| {
            list.push(TaskRunReport {
                task_run: task_run.to_owned(),
                state,
                starts: 0,
                outputs: None,
                error: None,
            });
            list.len() - 1
        });
        let report = &mut self.list[at];
        report.state = state;
        report.outputs = outputs;
        report.error = error;
        report.starts += u32::from(started);
    }
}

/// The first task run that failed in a history (an activity that failed or timed out for
/// good), where a replay starts by default.
pub fn first_failed_task_run(history: &[Event]) -> Option<String> {
    let mut scheduled: HashMap<i64, String> = HashMap::new();
    for event in history {
        match &event.kind {
            EventKind::ActivityTaskScheduled(activity) => {
                let base = activity
                    .activity_id
                    .split('#')
                    .next()
                    .unwrap_or(&activity.activity_id);
                scheduled.insert(event.id, base.to_owned());
            }
            EventKind::ActivityTaskFailed {
                scheduled_event_id, ..
            }
            | EventKind::ActivityTaskTimedOut {
                scheduled_event_id, ..
            } => {
                if let Some(task_run) = scheduled.get(scheduled_event_id) {
                    return Some(task_run.clone());
                }
            }
            EventKind::MarkerRecorded {
                marker_name,
                details,
                ..
            } if marker_name == DECISION_MARKER => {
                if let Some(Decision {
                    task_run,
                    error: Some(_),
                    ..
                }) = recorded_decision(details)
                {
                    return Some(task_run);
                }
            }
            _ => {}
        }
    }
    None
}

/// The start payload a flow execution's first event carries.
/// What `{{ trigger }}` reads in an execution's tasks and outputs: what its start carries (a
/// Flow trigger's or webhook's, or an earlier execution's on a replay or restart), else the
/// Schedule trigger that started the run with the time the run was due, in the trigger's
/// time zone (from the start's TemporalScheduledById and TemporalScheduledStartTime);
/// `None` for a run started by hand.
pub fn trigger_of(flow: &Flow, history: &[Event]) -> Option<Value> {
    let Some(EventKind::WorkflowExecutionStarted(started)) =
        history.first().map(|event| &event.kind)
    else {
        return None;
    };
    if let Some(trigger) = FlowStart::from_payloads(started.input.as_ref())
        .ok()
        .and_then(|start| start.trigger)
    {
        return Some(trigger);
    }
    let attribute = |name: &str| {
        started
            .search_attributes
            .get(name)
            .and_then(|attribute| attribute.value.as_ref())
    };
    let (
        Some(keel_core::search::SearchValue::Keyword(schedule)),
        Some(keel_core::search::SearchValue::Datetime(due)),
    ) = (
        attribute("TemporalScheduledById"),
        attribute("TemporalScheduledStartTime"),
    )
    else {
        return None;
    };
    let trigger_id = schedule.strip_prefix(&format!("flow:{}:", flow.id))?;
    let zone = flow
        .triggers
        .iter()
        .find_map(|trigger| match &trigger.kind {
            crate::document::TriggerKind::Schedule { timezone, .. } if trigger.id == trigger_id => {
                timezone.clone()
            }
            _ => None,
        });
    let due = chrono::DateTime::from_timestamp_nanos(*due);
    let date = match zone
        .as_deref()
        .map(keel_core::schedule::spec::time_zone)
        .and_then(Result::ok)
    {
        Some(zone) => due
            .with_timezone(&zone)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => due.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    };
    Some(json!({"type": "schedule", "id": trigger_id, "date": date}))
}

pub fn flow_start(history: &[Event]) -> Result<FlowStart, String> {
    let Some(EventKind::WorkflowExecutionStarted(started)) =
        history.first().map(|event| &event.kind)
    else {
        return Err("the history does not start with WorkflowExecutionStarted".into());
    };
    FlowStart::from_payloads(started.input.as_ref())
}
