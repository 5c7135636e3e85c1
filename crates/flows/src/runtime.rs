//! What a flow execution stores and sends, beside the document: the start payload its
//! first event carries, the rendered task a built-in task run gets, the markers its
//! decisions are recorded in, and the resume signal. Each carries a format version (these
//! are stored in histories and must read back after upgrades); `tests/stored.rs` pins them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The task queue flow executions' workflow tasks go to; the server's flow worker polls it.
pub const FLOW_TASK_QUEUE: &str = "keel-flows";
/// The task queue of built-in task runs; the server's task runner polls it.
pub const TASK_RUNNER_QUEUE: &str = "keel-flow-tasks";
/// The signal that resumes a paused task run.
pub const RESUME_SIGNAL: &str = "keel.flow.resume";
/// The marker a flow's decisions are recorded in.
pub const DECISION_MARKER: &str = "keel.flow.decision";
/// Activity types of the built-in tasks: `keel.` and the task type.
pub const BUILTIN_PREFIX: &str = "keel.";

pub const FORMAT: u32 = 1;
/// A start payload that carries a `trigger`: format 1 and that field. Starts without one are
/// still written as format 1, as before.
pub const START_WITH_TRIGGER_FORMAT: u32 = 2;

/// What a flow execution starts with: which flow, at which revision, with which inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowStart {
    pub format: u32,
    pub namespace: String,
    pub flow: String,
    /// None only in a subflow's start, which the flow worker fills with the subflow's
    /// latest revision before sending it.
    pub revision: Option<u32>,
    pub inputs: Map<String, Value>,
    /// Outputs of task runs taken from an earlier execution (a replay or restart), by task
    /// run id: those task runs are not run again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reused: BTreeMap<String, Value>,
    /// What `{{ trigger }}` reads in the execution (format 2): the Flow trigger or webhook
    /// that started it, or what an earlier execution's read, kept by a replay or restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Value>,
}

impl FlowStart {
    pub fn new(
        namespace: &str,
        flow: &str,
        revision: u32,
        inputs: Map<String, Value>,
    ) -> FlowStart {
        FlowStart {
            format: FORMAT,
            namespace: namespace.to_owned(),
            flow: flow.to_owned(),
            revision: Some(revision),
            inputs,
            reused: BTreeMap::new(),
            trigger: None,
        }
    }

    /// The start with what `{{ trigger }}` reads in it (`None`: nothing).
    pub fn with_trigger(mut self, trigger: Option<Value>) -> FlowStart {
        self.format = if trigger.is_some() {
            START_WITH_TRIGGER_FORMAT
        } else {
            FORMAT
        };
        self.trigger = trigger;
        self
    }

    /// A start payload as a workflow's input carries it (encoded `Payloads`, the first
    /// one the start).
    pub fn from_payloads(input: Option<&keel_core::Blob>) -> Result<FlowStart, String> {
        let value = input
            .and_then(keel_wire::json::decode_payloads)
            .and_then(|payloads| payloads.into_iter().next())
            .and_then(|payload| serde_json::from_slice::<Value>(&payload.data).ok())
            .ok_or_else(|| {
                "the execution was not started as a flow execution (it has no flow start input)"
                    .to_owned()
            })?;
        FlowStart::from_json(&value)
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a flow start serializes")
    }

    /// Reads a start payload; a format this version does not know is refused by name.
    pub fn from_json(value: &Value) -> Result<FlowStart, String> {
        let format = value.get("format").and_then(Value::as_u64);
        if format != Some(FORMAT as u64) && format != Some(START_WITH_TRIGGER_FORMAT as u64) {
            return Err(format!(
                "the flow start has format {}, and this server reads formats {FORMAT} and {START_WITH_TRIGGER_FORMAT}",
                format.map_or("(none)".to_owned(), |f| f.to_string())
            ));
        }
        serde_json::from_value(value.clone())
            .map_err(|error| format!("the flow start does not read: {error}"))
    }
}

/// What a built-in task run gets: its task with every expression already rendered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRunInput {
    pub format: u32,
    pub flow: String,
    pub task_id: String,
    pub task_run: String,
    pub task: BuiltinTask,
}

/// A built-in task, rendered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum BuiltinTask {
    Log {
        level: String,
        message: String,
    },
    Return {
        value: Value,
    },
    #[serde(rename = "http.request")]
    HttpRequest {
        uri: String,
        method: String,
        headers: BTreeMap<String, String>,
        body: Option<Value>,
        expected_status: Vec<u16>,
    },
    Shell {
        commands: Vec<String>,
        env: BTreeMap<String, String>,
        working_directory: Option<String>,
    },
}

impl BuiltinTask {
    pub fn type_name(&self) -> &'static str {
        match self {
            BuiltinTask::Log { .. } => "log",
            BuiltinTask::Return { .. } => "return",
            BuiltinTask::HttpRequest { .. } => "http.request",
            BuiltinTask::Shell { .. } => "shell",
        }
    }
}

/// A decision recorded in the history the first time it is taken, so later workflow tasks
/// read it rather than evaluate again: the branch an If or Switch took, a ForEach's items,
/// or why a task run failed before it could start (an expression that did not evaluate).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub format: u32,
    pub task_run: String,
    /// What was decided; null with an error.
    #[serde(default)]
    pub value: Value,
    /// Why the task run failed instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The resume signal's payload: the paused task run, and the inputs a person gave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    pub format: u32,
    pub task_run: String,
    #[serde(default)]
    pub inputs: Map<String, Value>,
}

/// How long a flow's workflow task may take: deciding is pure and quick.
pub const WORKFLOW_TASK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What starting an execution of `flow` at `revision` sends the engine: its workflow type
/// is the flow's id, its queue the flow worker's, its input the [`FlowStart`].
pub fn start_params(
    flow: &crate::Flow,
    start: &FlowStart,
    identity: &str,
    request_id: &str,
) -> keel_core::StartParams {
    keel_core::StartParams {
        workflow_type: flow.id.clone(),
        task_queue: FLOW_TASK_QUEUE.into(),
        input: Some(keel_wire::json::encode_payloads(&[start.to_json()])),
        workflow_execution_timeout: flow.timeout.unwrap_or_default(),
        workflow_run_timeout: std::time::Duration::ZERO,
        workflow_task_timeout: WORKFLOW_TASK_TIMEOUT,
        identity: identity.to_owned(),
        request_id: request_id.to_owned(),
        ..Default::default()
    }
}

/// The states a Flow trigger names: how a run closed, in the REST API's words.
pub const CLOSED_STATES: [&str; 5] = ["completed", "failed", "canceled", "terminated", "timed_out"];

/// The state a Flow trigger names for a run's status; none while it runs or when it
/// continued as new (its chain goes on).
pub fn closed_state(status: keel_core::Status) -> Option<&'static str> {
    use keel_core::Status;
    Some(match status {
        Status::Completed => CLOSED_STATES[0],
        Status::Failed => CLOSED_STATES[1],
        Status::Canceled => CLOSED_STATES[2],
        Status::Terminated => CLOSED_STATES[3],
        Status::TimedOut => CLOSED_STATES[4],
        Status::Running | Status::ContinuedAsNew => return None,
    })
}
