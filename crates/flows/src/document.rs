//! The flow document: what a flow declares, read from YAML with every problem located.

use std::collections::BTreeMap;
use std::time::Duration;

use marked_yaml::Node;
use serde_json::Value;

use crate::error::{Location, Problem, Problems};
use crate::inputs::{Input, InputType};
use crate::yaml::{self, Fields, problem};

/// A flow: inputs, tasks and what happens around them. One revision of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    pub id: String,
    /// The Keel namespace its executions run in.
    pub namespace: String,
    pub description: String,
    pub labels: BTreeMap<String, String>,
    /// Values the expressions read as `vars.name`.
    pub variables: serde_json::Map<String, Value>,
    pub inputs: Vec<Input>,
    pub tasks: Vec<Task>,
    pub outputs: Vec<Output>,
    /// Tasks run when the flow fails.
    pub errors: Vec<Task>,
    /// Tasks run when the flow ends, whether it failed or not.
    pub finally: Vec<Task>,
    pub triggers: Vec<Trigger>,
    /// The retry of tasks that name none.
    pub retry: Option<Retry>,
    /// How long an execution may take in all.
    pub timeout: Option<Duration>,
    pub concurrency: Option<Concurrency>,
}

/// One task: what it does, and how failures of it are handled.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// Unique within the flow; names its task runs and its outputs.
    pub id: String,
    pub description: String,
    pub kind: TaskKind,
    /// A failure of this task does not fail the flow.
    pub allow_failure: bool,
    pub retry: Option<Retry>,
    pub timeout: Option<Duration>,
    pub at: Option<Location>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TaskKind {
    Sequential {
        tasks: Vec<Task>,
    },
    Parallel {
        tasks: Vec<Task>,
        /// At most this many branches at once; none: all.
        concurrency: Option<u32>,
    },
    If {
        condition: String,
        then: Vec<Task>,
        otherwise: Vec<Task>,
    },
    Switch {
        value: String,
        cases: BTreeMap<String, Vec<Task>>,
        defaults: Vec<Task>,
    },
    ForEach {
        /// A list, or an expression giving one.
        values: Value,
        /// Items run at once; 1 (the default) runs them one after another, 0 all at once.
        concurrency: u32,
        tasks: Vec<Task>,
    },
    Subflow {
        namespace: Option<String>,
        flow_id: String,
        inputs: serde_json::Map<String, Value>,
        /// Wait for the subflow to end, and take its outputs.
        wait: bool,
        /// Fail when the subflow fails (only when waiting).
        transmit_failed: bool,
    },
    Pause {
        /// Resume by itself after this long; none: wait for a person to resume it.
        delay: Option<Duration>,
        /// Inputs a person gives when resuming.
        on_resume: Vec<Input>,
    },
    Fail {
        message: String,
    },
    Log {
        message: String,
        level: String,
    },
    Sleep {
        duration: Duration,
    },
    Return {
        value: Value,
    },
    HttpRequest {
        uri: String,
        method: String,
        headers: BTreeMap<String, String>,
        body: Option<Value>,
        /// Statuses that count as success; none: any 2xx.
        expected_status: Vec<u16>,
    },
    Shell {
        commands: Vec<String>,
        env: BTreeMap<String, String>,
        working_directory: Option<String>,
    },
    Activity {
        activity_type: String,
        task_queue: String,
        input: Option<Value>,
        heartbeat_timeout: Option<Duration>,
        schedule_to_start_timeout: Option<Duration>,
    },
}

/// The task types, as documents name them.
pub const TASK_TYPES: &[&str] = &[
    "Sequential",
    "Parallel",
    "If",
    "Switch",
    "ForEach",
    "Subflow",
    "Pause",
    "Fail",
    "log",
    "sleep",
    "return",
    "http.request",
    "shell",
    "activity",
];

impl TaskKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            TaskKind::Sequential { .. } => "Sequential",
            TaskKind::Parallel { .. } => "Parallel",
            TaskKind::If { .. } => "If",
            TaskKind::Switch { .. } => "Switch",
            TaskKind::ForEach { .. } => "ForEach",
            TaskKind::Subflow { .. } => "Subflow",
            TaskKind::Pause { .. } => "Pause",
            TaskKind::Fail { .. } => "Fail",
            TaskKind::Log { .. } => "log",
            TaskKind::Sleep { .. } => "sleep",
            TaskKind::Return { .. } => "return",
            TaskKind::HttpRequest { .. } => "http.request",
            TaskKind::Shell { .. } => "shell",
            TaskKind::Activity { .. } => "activity",
        }
    }

    /// The task lists it holds, each with the name of its property.
    pub fn children(&self) -> Vec<&[Task]> {
        match self {
            TaskKind::Sequential { tasks }
            | TaskKind::Parallel { tasks, .. }
            | TaskKind::ForEach { tasks, .. } => vec![tasks],
            TaskKind::If {
                then, otherwise, ..
            } => vec![then, otherwise],
            TaskKind::Switch {
                cases, defaults, ..
            } => cases
                .values()
                .map(Vec::as_slice)
                .chain(std::iter::once(defaults.as_slice()))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// A flow output: a value computed when the flow's tasks are done.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    pub id: String,
    pub value: Value,
    pub at: Option<Location>,
}

/// How a task is retried.
#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    pub kind: RetryKind,
    /// All attempts, the first included.
    pub max_attempts: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RetryKind {
    Constant {
        interval: Duration,
    },
    Exponential {
        interval: Duration,
        max_interval: Option<Duration>,
        multiplier: f64,
    },
    /// A wait picked at random between the two before each new attempt (the interpreter
    /// retries these itself, on a timer).
    Random {
        min_interval: Duration,
        max_interval: Duration,
    },
}

/// What happens when more executions of the flow would run than its limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Concurrency {
    pub limit: u32,
    pub behavior: ConcurrencyBehavior,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConcurrencyBehavior {
    /// Wait for a running one to end.
    Queue,
    /// Start it cancelled.
    Cancel,
    /// Start it failed.
    Fail,
}

/// What starts executions of the flow besides a person.
#[derive(Clone, Debug, PartialEq)]
pub struct Trigger {
    pub id: String,
    pub kind: TriggerKind,
    pub at: Option<Location>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TriggerKind {
    Schedule {
        cron: String,
        timezone: Option<String>,
        inputs: serde_json::Map<String, Value>,
        /// What to do when a run is due while the last one still runs.
        overlap: keel_core::schedule::OverlapPolicy,
        /// How late (after downtime) a missed run is still started; none: the default.
        catchup_window: Option<Duration>,
    },
    Webhook {
        key: String,
    },
    /// Executions matching a list filter reaching one of the states.
    Flow {
        filter: String,
        states: Vec<String>,
        inputs: serde_json::Map<String, Value>,
    },
}

/// Reads a flow document. Every problem is reported with its line and column; a document
/// with any problem gives no flow.
pub fn parse(text: &str) -> Result<Flow, Problems> {
    let root = yaml::load(text).map_err(|problem| Problems(vec![problem]))?;
    let mut problems = Vec::new();
    let flow = read_flow(&root, &mut problems);
    crate::validate::check(&flow, &mut problems);
    if problems.is_empty() {
        Ok(flow)
    } else {
        problems.sort_by_key(|problem| problem.at);
        problems.dedup();
        Err(Problems(problems))
    }
}

/// Keeps `result`'s value, or records its problem and gives `default`.
fn keep<T>(result: Result<T, Problem>, problems: &mut Vec<Problem>, default: T) -> T {
    result.unwrap_or_else(|problem| {
        problems.push(problem);
        default
    })
}

fn read_flow(root: &Node, problems: &mut Vec<Problem>) -> Flow {
    let mut fields = match Fields::of(root, "a flow") {
        Ok(fields) => fields,
        Err(problem) => {
            problems.push(problem);
            return Flow::empty();
        }
    };
    let id = keep(
        fields.required_text("id", "a flow"),
        problems,
        String::new(),
    );
    let namespace =
        keep(fields.text("namespace"), problems, None).unwrap_or_else(|| "default".into());
    let description = keep(fields.text("description"), problems, None).unwrap_or_default();
    let labels = keep(fields.text_map("labels"), problems, Default::default());
    let variables = match fields.get("variables") {
        None => Default::default(),
        Some(node @ Node::Mapping(_)) => match yaml::value(node) {
            Value::Object(map) => map,
            _ => Default::default(),
        },
        Some(other) => {
            problems.push(problem(
                other,
                "'variables' must be a mapping of names to values",
            ));
            Default::default()
        }
    };
    let inputs = read_inputs(
        keep(fields.list("inputs"), problems, &[]),
        "an input",
        problems,
    );
    let task_nodes = keep(fields.list("tasks"), problems, &[]);
    if task_nodes.is_empty() {
        problems.push(fields.missing("tasks", "a flow"));
    }
    let tasks = read_tasks(task_nodes, problems);
    let outputs = keep(fields.list("outputs"), problems, &[])
        .iter()
        .filter_map(|node| keep(read_output(node), problems, None))
        .collect();
    let errors = read_tasks(keep(fields.list("errors"), problems, &[]), problems);
    let finally = read_tasks(keep(fields.list("finally"), problems, &[]), problems);
    let triggers = keep(fields.list("triggers"), problems, &[])
        .iter()
        .filter_map(|node| keep(read_trigger(node), problems, None))
        .collect();
    let retry = match fields.get("retry") {
        None => None,
        Some(node) => keep(read_retry(node).map(Some), problems, None),
    };
    let timeout = keep(fields.duration("timeout"), problems, None);
    let concurrency = match fields.get("concurrency") {
        None => None,
        Some(node) => keep(read_concurrency(node).map(Some), problems, None),
    };
    problems.extend(fields.unknown("a flow"));
    Flow {
        id,
        namespace,
        description,
        labels,
        variables,
        inputs,
        tasks,
        outputs,
        errors,
        finally,
        triggers,
        retry,
        timeout,
        concurrency,
    }
}

impl Flow {
    fn empty() -> Flow {
        Flow {
            id: String::new(),
            namespace: String::new(),
            description: String::new(),
            labels: BTreeMap::new(),
            variables: Default::default(),
            inputs: Vec::new(),
            tasks: Vec::new(),
            outputs: Vec::new(),
            errors: Vec::new(),
            finally: Vec::new(),
            triggers: Vec::new(),
            retry: None,
            timeout: None,
            concurrency: None,
        }
    }

    /// Every task of the flow, nested ones included, in document order.
    pub fn all_tasks(&self) -> Vec<&Task> {
        fn walk<'t>(tasks: &'t [Task], out: &mut Vec<&'t Task>) {
            for task in tasks {
                out.push(task);
                for list in task.kind.children() {
                    walk(list, out);
                }
            }
        }
        let mut out = Vec::new();
        for list in [&self.tasks, &self.errors, &self.finally] {
            walk(list, &mut out);
        }
        out
    }
}

fn read_tasks(nodes: &[Node], problems: &mut Vec<Problem>) -> Vec<Task> {
    nodes
        .iter()
        .filter_map(|node| read_task(node, problems))
        .collect()
}

/// A list property of a flowable task, holding tasks.
fn task_list(fields: &mut Fields, key: &'static str, problems: &mut Vec<Problem>) -> Vec<Task> {
    read_tasks(keep(fields.list(key), problems, &[]), problems)
}

fn read_task(node: &Node, problems: &mut Vec<Problem>) -> Option<Task> {
    let mut fields = keep(Fields::of(node, "a task").map(Some), problems, None)?;
    let id = keep(
        fields.required_text("id", "a task"),
        problems,
        String::new(),
    );
    let type_name = keep(
        fields.required_text("type", "a task"),
        problems,
        String::new(),
    );
    let what = format!("{type_name} task '{id}'");
    let description = keep(fields.text("description"), problems, None).unwrap_or_default();
    let allow_failure = keep(fields.bool("allowFailure"), problems, None).unwrap_or(false);
    let retry = match fields.get("retry") {
        None => None,
        Some(node) => keep(read_retry(node).map(Some), problems, None),
    };
    let timeout = keep(fields.duration("timeout"), problems, None);
    let kind = match type_name.as_str() {
        "Sequential" => Some(TaskKind::Sequential {
            tasks: task_list(&mut fields, "tasks", problems),
        }),
        "Parallel" => Some(TaskKind::Parallel {
            concurrency: keep(fields.unsigned("concurrency"), problems, None)
                .filter(|limit| *limit > 0)
                .map(|limit| limit.min(u32::MAX as u64) as u32),
            tasks: task_list(&mut fields, "tasks", problems),
        }),
        "If" => Some(TaskKind::If {
            condition: keep(
                fields.required_text("condition", &what),
                problems,
                String::new(),
            ),
            then: task_list(&mut fields, "then", problems),
            otherwise: task_list(&mut fields, "else", problems),
        }),
        "Switch" => {
            let value = keep(
                fields.required_text("value", &what),
                problems,
                String::new(),
            );
            let mut cases = BTreeMap::new();
            match fields.get("cases") {
                Some(Node::Mapping(mapping)) => {
                    for (case, tasks) in mapping.iter() {
                        let tasks = match tasks {
                            Node::Sequence(items) => read_tasks(items, problems),
                            other => {
                                problems.push(problem(
                                    other,
                                    format!("case '{}' must be a list of tasks", case.as_str()),
                                ));
                                Vec::new()
                            }
                        };
                        cases.insert(case.as_str().to_owned(), tasks);
                    }
                }
                Some(other) => {
                    problems.push(problem(other, "'cases' must map values to lists of tasks"))
                }
                None => problems.push(fields.missing("cases", &what)),
            }
            Some(TaskKind::Switch {
                value,
                cases,
                defaults: task_list(&mut fields, "defaults", problems),
            })
        }
        "ForEach" => Some(TaskKind::ForEach {
            values: match fields.get("values") {
                Some(node) => yaml::value(node),
                None => {
                    problems.push(fields.missing("values", &what));
                    Value::Null
                }
            },
            concurrency: keep(fields.unsigned("concurrencyLimit"), problems, None)
                .unwrap_or(1)
                .min(u32::MAX as u64) as u32,
            tasks: task_list(&mut fields, "tasks", problems),
        }),
        "Subflow" => Some(TaskKind::Subflow {
            namespace: keep(fields.text("namespace"), problems, None),
            flow_id: keep(
                fields.required_text("flowId", &what),
                problems,
                String::new(),
            ),
            inputs: keep(object(&mut fields, "inputs"), problems, Default::default()),
            wait: keep(fields.bool("wait"), problems, None).unwrap_or(true),
            transmit_failed: keep(fields.bool("transmitFailed"), problems, None).unwrap_or(true),
        }),
        "Pause" => Some(TaskKind::Pause {
            delay: keep(fields.duration("delay"), problems, None),
            on_resume: read_inputs(
                keep(fields.list("onResume"), problems, &[]),
                "a resume input",
                problems,
            ),
        }),
        "Fail" => Some(TaskKind::Fail {
            message: keep(fields.text("message"), problems, None)
                .unwrap_or_else(|| format!("task '{id}' failed the flow")),
        }),
        "log" => {
            Some(TaskKind::Log {
                message: keep(
                    fields.required_text("message", &what),
                    problems,
                    String::new(),
                ),
                level: {
                    let level =
                        keep(fields.text("level"), problems, None).unwrap_or_else(|| "info".into());
                    let level = level.to_ascii_lowercase();
                    if !["trace", "debug", "info", "warn", "error"].contains(&level.as_str()) {
                        problems.push(problem(node, format!("{what}: level '{level}' is not one of trace, debug, info, warn, error")));
                    }
                    level
                },
            })
        }
        "sleep" => Some(TaskKind::Sleep {
            duration: match keep(fields.duration("duration"), problems, None) {
                Some(duration) => duration,
                None => {
                    if fields
                        .node()
                        .as_mapping()
                        .is_some_and(|m| m.get_node("duration").is_none())
                    {
                        problems.push(fields.missing("duration", &what));
                    }
                    Duration::ZERO
                }
            },
        }),
        "return" => Some(TaskKind::Return {
            value: fields.get("value").map(yaml::value).unwrap_or(Value::Null),
        }),
        "http.request" => Some(TaskKind::HttpRequest {
            uri: keep(fields.required_text("uri", &what), problems, String::new()),
            method: keep(fields.text("method"), problems, None)
                .unwrap_or_else(|| "GET".into())
                .to_ascii_uppercase(),
            headers: keep(fields.text_map("headers"), problems, BTreeMap::new()),
            body: fields.get("body").map(yaml::value),
            expected_status: match fields.get("expectedStatus") {
                None => Vec::new(),
                Some(node) => match yaml::value(node) {
                    Value::Number(n) => n.as_u64().map(|n| n as u16).into_iter().collect(),
                    Value::Array(items) => items
                        .iter()
                        .filter_map(|n| n.as_u64())
                        .map(|n| n as u16)
                        .collect(),
                    _ => {
                        problems.push(problem(
                            node,
                            "'expectedStatus' must be a status or a list of them",
                        ));
                        Vec::new()
                    }
                },
            },
        }),
        "shell" => Some(TaskKind::Shell {
            commands: match fields.get("commands") {
                Some(Node::Scalar(command)) => vec![command.as_str().to_owned()],
                Some(list @ Node::Sequence(items)) if items.is_empty() => {
                    problems.push(problem(list, format!("{what} has no commands")));
                    Vec::new()
                }
                Some(Node::Sequence(items)) => items
                    .iter()
                    .filter_map(|item| match item {
                        Node::Scalar(command) => Some(command.as_str().to_owned()),
                        other => {
                            problems.push(problem(other, "each command must be text"));
                            None
                        }
                    })
                    .collect(),
                Some(other) => {
                    problems.push(problem(other, "'commands' must be a list of command lines"));
                    Vec::new()
                }
                None => {
                    problems.push(fields.missing("commands", &what));
                    Vec::new()
                }
            },
            env: keep(fields.text_map("env"), problems, BTreeMap::new()),
            working_directory: keep(fields.text("workingDirectory"), problems, None),
        }),
        "activity" => Some(TaskKind::Activity {
            activity_type: keep(
                fields.required_text("activityType", &what),
                problems,
                String::new(),
            ),
            task_queue: keep(
                fields.required_text("taskQueue", &what),
                problems,
                String::new(),
            ),
            input: fields.get("input").map(yaml::value),
            heartbeat_timeout: keep(fields.duration("heartbeatTimeout"), problems, None),
            schedule_to_start_timeout: keep(
                fields.duration("scheduleToStartTimeout"),
                problems,
                None,
            ),
        }),
        "" => None,
        other => {
            let type_node = fields.node().as_mapping().and_then(|m| m.get_node("type"));
            problems.push(problem(
                type_node.unwrap_or(node),
                format!(
                    "unknown task type '{other}'; the types are {}",
                    TASK_TYPES.join(", ")
                ),
            ));
            None
        }
    };
    let kind = kind?;
    problems.extend(fields.unknown(&what));
    Some(Task {
        id,
        description,
        kind,
        allow_failure,
        retry,
        timeout,
        at: yaml::at(node),
    })
}

/// A mapping of names to free-form values.
fn object(
    fields: &mut Fields,
    key: &'static str,
) -> Result<serde_json::Map<String, Value>, Problem> {
    match fields.get(key) {
        None => Ok(Default::default()),
        Some(node) => match yaml::value(node) {
            Value::Object(map) => Ok(map),
            Value::Null => Ok(Default::default()),
            _ => Err(problem(
                node,
                format!("'{key}' must be a mapping of names to values"),
            )),
        },
    }
}

fn read_inputs(nodes: &[Node], what: &str, problems: &mut Vec<Problem>) -> Vec<Input> {
    nodes
        .iter()
        .filter_map(|node| keep(read_input(node, what).map(Some), problems, None))
        .collect()
}

fn read_input(node: &Node, what: &str) -> Result<Input, Problem> {
    let mut fields = Fields::of(node, what)?;
    let id = fields.required_text("id", what)?;
    let type_text = fields.text("type")?.unwrap_or_else(|| "STRING".into());
    let input_type = InputType::named(&type_text).ok_or_else(|| {
        problem(
            fields.get("type").unwrap_or(node),
            format!(
                "input '{id}': type '{type_text}' is not one of {}",
                InputType::NAMES.join(", ")
            ),
        )
    })?;
    let input = Input {
        description: fields.text("description")?.unwrap_or_default(),
        required: fields.bool("required")?.unwrap_or(true),
        default: fields.get("defaults").map(yaml::value),
        pattern: fields.text("pattern")?,
        min: fields.number("min")?,
        max: fields.number("max")?,
        values: match fields.get("values") {
            None => Vec::new(),
            Some(node) => match yaml::value(node) {
                Value::Array(items) => items
                    .into_iter()
                    .map(|item| match item {
                        Value::String(text) => text,
                        other => other.to_string(),
                    })
                    .collect(),
                _ => {
                    return Err(problem(
                        node,
                        format!("input '{id}': 'values' must be a list"),
                    ));
                }
            },
        },
        id,
        input_type,
        at: yaml::at(node),
    };
    let problems = fields.unknown(&format!("input '{}'", input.id));
    if let Some(problem) = problems.into_iter().next() {
        return Err(problem);
    }
    input
        .check_definition()
        .map_err(|message| problem(node, message))?;
    Ok(input)
}

fn read_output(node: &Node) -> Result<Option<Output>, Problem> {
    let mut fields = Fields::of(node, "an output")?;
    let id = fields.required_text("id", "an output")?;
    let value = fields
        .required("value", &format!("output '{id}'"))
        .map(yaml::value)?;
    if let Some(problem) = fields.unknown(&format!("output '{id}'")).into_iter().next() {
        return Err(problem);
    }
    Ok(Some(Output {
        id,
        value,
        at: yaml::at(node),
    }))
}

fn read_retry(node: &Node) -> Result<Retry, Problem> {
    let mut fields = Fields::of(node, "'retry'")?;
    let kind_name = fields.text("type")?.unwrap_or_else(|| "constant".into());
    let random = kind_name.eq_ignore_ascii_case("random");
    let interval = if random {
        Duration::ZERO
    } else {
        fields
            .duration("interval")?
            .ok_or_else(|| problem(node, "a retry needs 'interval'"))?
    };
    let max_attempts = fields.unsigned("maxAttempts")?.unwrap_or(3);
    if max_attempts == 0 {
        return Err(problem(
            node,
            "'maxAttempts' counts every attempt and must be at least 1",
        ));
    }
    let kind = match kind_name.to_ascii_lowercase().as_str() {
        "constant" => RetryKind::Constant { interval },
        "exponential" => RetryKind::Exponential {
            interval,
            max_interval: fields.duration("maxInterval")?,
            multiplier: {
                let multiplier = fields.number("multiplier")?.unwrap_or(2.0);
                if multiplier < 1.0 {
                    return Err(problem(node, "'multiplier' must be at least 1"));
                }
                multiplier
            },
        },
        "random" => {
            let min_interval = fields
                .duration("minInterval")?
                .ok_or_else(|| problem(node, "a random retry needs 'minInterval'"))?;
            let max_interval = fields
                .duration("maxInterval")?
                .ok_or_else(|| problem(node, "a random retry needs 'maxInterval'"))?;
            if min_interval > max_interval {
                return Err(problem(node, "'minInterval' is above 'maxInterval'"));
            }
            RetryKind::Random {
                min_interval,
                max_interval,
            }
        }
        other => {
            return Err(problem(
                node,
                format!("retry type '{other}' is not one of constant, exponential, random"),
            ));
        }
    };
    if let Some(problem) = fields.unknown("'retry'").into_iter().next() {
        return Err(problem);
    }
    Ok(Retry {
        kind,
        max_attempts: max_attempts.min(u32::MAX as u64) as u32,
    })
}

fn read_concurrency(node: &Node) -> Result<Concurrency, Problem> {
    let mut fields = Fields::of(node, "'concurrency'")?;
    let limit = fields
        .unsigned("limit")?
        .filter(|limit| *limit > 0)
        .ok_or_else(|| problem(node, "'concurrency' needs a 'limit' of at least 1"))?;
    let behavior = match fields
        .text("behavior")?
        .unwrap_or_else(|| "QUEUE".into())
        .to_ascii_uppercase()
        .as_str()
    {
        "QUEUE" => ConcurrencyBehavior::Queue,
        "CANCEL" => ConcurrencyBehavior::Cancel,
        "FAIL" => ConcurrencyBehavior::Fail,
        other => {
            return Err(problem(
                node,
                format!("concurrency behavior '{other}' is not one of QUEUE, CANCEL, FAIL"),
            ));
        }
    };
    if let Some(problem) = fields.unknown("'concurrency'").into_iter().next() {
        return Err(problem);
    }
    Ok(Concurrency {
        limit: limit.min(u32::MAX as u64) as u32,
        behavior,
    })
}

fn read_trigger(node: &Node) -> Result<Option<Trigger>, Problem> {
    let mut fields = Fields::of(node, "a trigger")?;
    let id = fields.required_text("id", "a trigger")?;
    let type_name = fields.required_text("type", "a trigger")?;
    let what = format!("{type_name} trigger '{id}'");
    let kind = match type_name.as_str() {
        "Schedule" => TriggerKind::Schedule {
            cron: fields.required_text("cron", &what)?,
            timezone: fields.text("timezone")?,
            inputs: object(&mut fields, "inputs")?,
            overlap: {
                use keel_core::schedule::OverlapPolicy;
                let given = fields.text("overlap")?.unwrap_or_else(|| "SKIP".into());
                match given.to_ascii_uppercase().as_str() {
                    "SKIP" => OverlapPolicy::Skip,
                    "BUFFER_ONE" => OverlapPolicy::BufferOne,
                    "BUFFER_ALL" => OverlapPolicy::BufferAll,
                    "CANCEL_OTHER" => OverlapPolicy::CancelOther,
                    "TERMINATE_OTHER" => OverlapPolicy::TerminateOther,
                    "ALLOW_ALL" => OverlapPolicy::AllowAll,
                    other => {
                        return Err(problem(
                            node,
                            format!(
                                "{what}: overlap '{other}' is not one of SKIP, BUFFER_ONE, BUFFER_ALL, CANCEL_OTHER, TERMINATE_OTHER, ALLOW_ALL"
                            ),
                        ));
                    }
                }
            },
            catchup_window: fields.duration("catchupWindow")?,
        },
        "Webhook" => TriggerKind::Webhook {
            key: fields.required_text("key", &what)?,
        },
        "Flow" => TriggerKind::Flow {
            filter: fields.required_text("filter", &what)?,
            states: match fields.get("states") {
                None => vec!["failed".into()],
                Some(node) => match yaml::value(node) {
                    Value::Array(items) => items
                        .iter()
                        .map(|item| item.as_str().map(str::to_ascii_lowercase))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| problem(node, "'states' must be a list of statuses"))?,
                    _ => return Err(problem(node, "'states' must be a list of statuses")),
                },
            },
            inputs: object(&mut fields, "inputs")?,
        },
        other => {
            return Err(problem(
                node,
                format!("unknown trigger type '{other}'; the types are Schedule, Webhook, Flow"),
            ));
        }
    };
    if let Some(problem) = fields.unknown(&what).into_iter().next() {
        return Err(problem);
    }
    Ok(Some(Trigger {
        id,
        kind,
        at: yaml::at(node),
    }))
}

/// The changes from one revision's document to another's, as a unified diff (empty when
/// they are the same).
pub fn diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}
