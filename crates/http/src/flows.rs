//! `/api/v1/flows`: declarative flows. Save a flow document (each change a new revision),
//! read, list, validate and delete flows, read their revisions, and run one with typed
//! inputs. Resuming a paused flow execution is `POST /api/v1/executions/{id}/resume`.
//!
//! Documents are checked by `keel-flows` before anything is stored: a document with a
//! problem is refused with its line and column, and nothing changes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use keel_engine::{Engine, FlowRevision};
use keel_flows::inputs::{Input, InputType};
use keel_flows::runtime::{FlowStart, RESUME_SIGNAL, Resume};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::executions::{IDENTITY, not_found, whole_history};
use crate::openapi::{
    AnyJson, Conflict, NamespaceParam, NotFound, RunParam, Timestamp, WorkflowIdPath,
};
use crate::request::{Body, NAMESPACE_PARAMS, NO_PARAMS, Params, RUN_PARAMS, json_body, resolve};

#[derive(OpenApi)]
#[openapi(
    paths(
        list, save, validate, schema, get, delete, revisions, diff, run, webhook, tasks, waiting,
        resume, restart, replay
    ),
    components(schemas(TaskNode, TaskBranch))
)]
pub struct Api;

pub const SAVE_FIELDS: &[&str] = &["source"];
pub const GET_PARAMS: &[&str] = &["revision"];
pub const RUN_FIELDS: &[&str] = &["inputs", "workflow_id", "revision"];
pub const RESUME_FIELDS: &[&str] = &["task_run", "inputs"];
pub const WEBHOOK_PARAMS: &[&str] = &["wait"];
pub const DIFF_PARAMS: &[&str] = &["from", "to"];
pub const REPLAY_FIELDS: &[&str] = &["from_task_run", "revision", "workflow_id"];

/// A flow as lists show it: its latest revision.
#[derive(Serialize, ToSchema)]
pub struct FlowSummary {
    namespace: String,
    id: String,
    /// The latest revision, from 1.
    revision: i64,
    description: String,
    labels: std::collections::BTreeMap<String, String>,
    /// The inputs a run takes.
    inputs: Vec<FlowInput>,
    /// How many tasks it has, nested ones included.
    task_count: usize,
    /// When the latest revision was saved.
    updated: Timestamp,
}

/// A typed input of a flow (or of a pause's resume).
#[derive(Serialize, ToSchema)]
pub struct FlowInput {
    id: String,
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "STRING")]
    input_type: &'static str,
    description: String,
    required: bool,
    /// The value used when none is given; null when there is none.
    default: AnyJson,
    /// STRING: a regular expression the whole value must match.
    pattern: Option<String>,
    min: Option<f64>,
    max: Option<f64>,
    /// SELECT: the values to choose from.
    values: Vec<String>,
}

impl From<&Input> for FlowInput {
    fn from(input: &Input) -> FlowInput {
        FlowInput {
            id: input.id.clone(),
            input_type: input.input_type.name(),
            description: input.description.clone(),
            required: input.required && input.default.is_none(),
            default: AnyJson(input.default.clone().unwrap_or(Value::Null)),
            pattern: input.pattern.clone(),
            min: input.min,
            max: input.max,
            values: if input.input_type == InputType::Select {
                input.values.clone()
            } else {
                Vec::new()
            },
        }
    }
}

/// One revision of a flow, with its document.
#[derive(Serialize, ToSchema)]
pub struct FlowDetail {
    #[serde(flatten)]
    summary: FlowSummary,
    /// The flow document as saved.
    source: String,
    /// Its tasks as a graph: `tasks`, then `errors` and `finally`.
    topology: Vec<TaskBranch>,
}

/// A list of tasks that run one after another.
#[derive(Serialize, ToSchema)]
pub struct TaskBranch {
    /// What the list is: `tasks`, `then`, `else`, a Switch's case, `defaults`, `errors`,
    /// `finally`, or a Parallel's branch (its task's id).
    name: String,
    #[schema(no_recursion)]
    tasks: Vec<TaskNode>,
}

/// A task of the flow, with the lists of tasks it holds.
#[derive(Serialize, ToSchema)]
pub struct TaskNode {
    id: String,
    #[serde(rename = "type")]
    task_type: &'static str,
    /// Whether its branches run side by side (Parallel) rather than one of them (If,
    /// Switch) or one after another.
    parallel: bool,
    /// Whether its branch runs once per item (ForEach).
    each: bool,
    /// For a Subflow: the flow it runs (`namespace/id`); else null.
    subflow: Option<String>,
    #[schema(no_recursion)]
    branches: Vec<TaskBranch>,
}

fn topology(name: &str, tasks: &[keel_flows::Task], flow_namespace: &str) -> TaskBranch {
    use keel_flows::TaskKind;
    TaskBranch {
        name: name.to_owned(),
        tasks: tasks
            .iter()
            .map(|task| {
                let branches = match &task.kind {
                    TaskKind::Sequential { tasks } | TaskKind::ForEach { tasks, .. } => {
                        vec![topology("tasks", tasks, flow_namespace)]
                    }
                    TaskKind::Parallel { tasks, .. } => tasks
                        .iter()
                        .map(|branch| {
                            topology(&branch.id, std::slice::from_ref(branch), flow_namespace)
                        })
                        .collect(),
                    TaskKind::If {
                        then, otherwise, ..
                    } => vec![
                        topology("then", then, flow_namespace),
                        topology("else", otherwise, flow_namespace),
                    ],
                    TaskKind::Switch {
                        cases, defaults, ..
                    } => cases
                        .iter()
                        .map(|(case, tasks)| topology(case, tasks, flow_namespace))
                        .chain(
                            (!defaults.is_empty())
                                .then(|| topology("defaults", defaults, flow_namespace)),
                        )
                        .collect(),
                    _ => Vec::new(),
                };
                TaskNode {
                    id: task.id.clone(),
                    task_type: task.kind.type_name(),
                    parallel: matches!(task.kind, TaskKind::Parallel { .. }),
                    each: matches!(task.kind, TaskKind::ForEach { .. }),
                    subflow: match &task.kind {
                        TaskKind::Subflow {
                            namespace, flow_id, ..
                        } => Some(format!(
                            "{}/{flow_id}",
                            namespace.as_deref().unwrap_or(flow_namespace)
                        )),
                        _ => None,
                    },
                    branches,
                }
            })
            .collect(),
    }
}

/// A stored revision read again. Saved documents were checked, so one that no longer
/// reads is data loss, named.
fn read_revision(stored: &FlowRevision) -> ApiResult<keel_flows::Flow> {
    keel_flows::parse(&stored.source).map_err(|problems| {
        ApiError::from(keel_engine::Error::DataLoss(format!(
            "revision {} of flow '{}' in namespace '{}' no longer reads: {problems}",
            stored.revision, stored.flow_id, stored.namespace
        )))
    })
}

/// A flow execution's run: its history, the start it was given, and the flow revision it
/// runs. 409 when the run is not a flow execution.
async fn flow_run(
    engine: &Engine,
    key: &keel_core::ExecutionKey,
) -> ApiResult<(Vec<keel_core::Event>, FlowStart, keel_flows::Flow)> {
    let history = whole_history(engine, key).await?;
    let start = keel_flows::interpret::flow_start(&history).map_err(|_| {
        ApiError::conflict(format!(
            "execution '{}' is not a flow execution",
            key.workflow_id
        ))
    })?;
    let stored = engine
        .flow_revision(&key.namespace, &start.flow, start.revision.map(i64::from))
        .await?;
    let flow = read_revision(&stored)?;
    Ok((history, start, flow))
}

/// The interpreter's view of a run.
fn run_view<'h>(
    key: &'h keel_core::ExecutionKey,
    history: &'h [keel_core::Event],
) -> keel_flows::interpret::Execution<'h> {
    keel_flows::interpret::Execution {
        namespace: &key.namespace,
        workflow_id: &key.workflow_id,
        run_id: &key.run_id,
        history,
    }
}

/// A body's `inputs`: an object of input values (none: no inputs).
fn inputs_field(body: &Body) -> ApiResult<Map<String, Value>> {
    match body.value("inputs") {
        None => Ok(Map::new()),
        Some(Value::Object(inputs)) => Ok(inputs.clone()),
        Some(other) => Err(ApiError::bad_request(format!(
            "field 'inputs' must be an object of input values, not {other}"
        ))),
    }
}

fn summary(stored: &FlowRevision) -> ApiResult<FlowSummary> {
    let flow = read_revision(stored)?;
    Ok(FlowSummary {
        namespace: stored.namespace.clone(),
        id: stored.flow_id.clone(),
        revision: stored.revision,
        description: flow.description.clone(),
        labels: flow.labels.clone(),
        inputs: flow.inputs.iter().map(FlowInput::from).collect(),
        task_count: flow.all_tasks().len(),
        updated: Timestamp(stored.created),
    })
}

/// The namespace's flows.
#[derive(Serialize, ToSchema)]
pub struct FlowList {
    flows: Vec<FlowSummary>,
}

/// List flows
#[utoipa::path(
    get,
    path = "/api/v1/flows",
    operation_id = "listFlows",
    tag = "Flows",
    params(NamespaceParam),
    responses(
        (status = 200, description = "The latest revision of each of the namespace's flows.", body = FlowList),
        (status = 404, response = NotFound),
    ),
)]
pub async fn list(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<FlowList>> {
    let params = Params::parse(raw.as_deref(), NAMESPACE_PARAMS)?;
    let flows = engine.flows(params.namespace()).await?;
    Ok(Json(FlowList {
        flows: flows.iter().map(summary).collect::<ApiResult<_>>()?,
    }))
}

/// A flow document to save or check.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct FlowSource {
    /// The flow document, YAML. Its `namespace` (default `default`) and `id` say which
    /// flow it is.
    #[schema(min_length = 1)]
    source: String,
}

/// A saved flow.
#[derive(Serialize, ToSchema)]
pub struct FlowSaved {
    pub namespace: String,
    pub id: String,
    /// The latest revision.
    pub revision: i64,
    /// Whether this save made a new revision (false: the document was unchanged).
    pub created: bool,
}

/// The document a body's `source` holds, read and checked.
fn source_of(body: &Body) -> ApiResult<(String, Result<keel_flows::Flow, keel_flows::Problems>)> {
    let source = body
        .string("source")?
        .filter(|source| !source.trim().is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("field 'source' (the flow document, YAML) is required")
        })?
        .to_owned();
    let parsed = keel_flows::parse(&source);
    Ok((source, parsed))
}

/// Save a flow
///
/// Saves a flow document. A changed document becomes the flow's next revision; an
/// unchanged one makes none. A document with a problem is refused (400, naming its line
/// and column) and nothing is stored.
#[utoipa::path(
    post,
    path = "/api/v1/flows",
    operation_id = "saveFlow",
    tag = "Flows",
    request_body(content = FlowSource, description = "The flow document."),
    responses(
        (status = 200, description = "The flow's latest revision.", body = FlowSaved),
        (status = 404, response = NotFound),
    ),
)]
pub async fn save(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<FlowSaved>> {
    Params::parse(raw.as_deref(), NO_PARAMS)?;
    let body = Body::new(json_body(body)?, SAVE_FIELDS)?;
    let (source, _) = source_of(&body)?;
    Ok(Json(apply(&engine, &source).await?))
}

/// Saves a flow document (refused whole when it has a problem) and makes its schedule
/// triggers' schedules follow: what `POST /api/v1/flows`, `keel flow apply` and
/// `keel server --flows DIR` do.
pub async fn apply(engine: &Engine, source: &str) -> ApiResult<FlowSaved> {
    let flow = keel_flows::parse(source).map_err(|problems| {
        ApiError::bad_request(format!("the flow document is refused: {problems}"))
    })?;
    let schedules = schedule_triggers(&flow)?;
    for trigger in &flow.triggers {
        if let keel_flows::document::TriggerKind::Flow { filter, .. } = &trigger.kind {
            engine
                .parse_query(&flow.namespace, filter)
                .map_err(|error| {
                    ApiError::bad_request(format!("trigger '{}': filter: {error}", trigger.id))
                })?;
        }
    }
    let (saved, created) = engine.save_flow(&flow.namespace, &flow.id, source).await?;
    sync_schedules(engine, &flow, saved.revision, schedules).await?;
    Ok(FlowSaved {
        namespace: saved.namespace,
        id: saved.flow_id,
        revision: saved.revision,
        created,
    })
}

/// Deletes a flow and its schedule triggers' schedules.
pub async fn remove(engine: &Engine, namespace: &str, flow_id: &str) -> ApiResult<()> {
    engine.delete_flow(namespace, flow_id).await?;
    for schedule in engine.schedules(namespace).await? {
        if schedule.id.starts_with(&schedule_prefix(flow_id)) {
            engine.delete_schedule(namespace, &schedule.id).await?;
        }
    }
    Ok(())
}

/// What a check of a flow document found.
#[derive(Serialize, ToSchema)]
pub struct Validation {
    valid: bool,
    /// Every problem, in document order; empty when valid.
    problems: Vec<ValidationProblem>,
}

/// One problem of a flow document.
#[derive(Serialize, ToSchema)]
pub struct ValidationProblem {
    /// 1-based; null for a problem of the document as a whole.
    line: Option<usize>,
    column: Option<usize>,
    message: String,
}

/// Check a flow document
///
/// Reads and checks a flow document without saving it: every problem with its line and
/// column, for editors.
#[utoipa::path(
    post,
    path = "/api/v1/flows/validate",
    operation_id = "validateFlow",
    tag = "Flows",
    request_body(content = FlowSource, description = "The flow document."),
    responses((status = 200, description = "What the check found.", body = Validation)),
)]
pub async fn validate(
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Validation>> {
    Params::parse(raw.as_deref(), NO_PARAMS)?;
    let body = Body::new(json_body(body)?, SAVE_FIELDS)?;
    let (_, parsed) = source_of(&body)?;
    let problems = match parsed {
        Ok(_) => Vec::new(),
        Err(problems) => problems
            .0
            .into_iter()
            .map(|problem| ValidationProblem {
                line: problem.at.map(|at| at.line),
                column: problem.at.map(|at| at.column),
                message: problem.message,
            })
            .collect(),
    };
    Ok(Json(Validation {
        valid: problems.is_empty(),
        problems,
    }))
}

/// The flow a path names.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by axum's `Path`; this describes it
pub struct FlowPath {
    /// The flow's namespace.
    #[param(min_length = 1)]
    namespace: String,
    /// The flow's id.
    #[param(min_length = 1)]
    flow_id: String,
}

/// Which revision to read.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by name (`GET_PARAMS`); this describes it
pub struct RevisionParam {
    /// A revision number; absent: the latest.
    #[param(minimum = 1)]
    revision: Option<i64>,
}

fn revision_param(params: &Params) -> ApiResult<Option<i64>> {
    params
        .get("revision")
        .map(|_| params.integer("revision", 1, i64::MAX, 1))
        .transpose()
}

/// Get a flow
#[utoipa::path(
    get,
    path = "/api/v1/flows/{namespace}/{flow_id}",
    operation_id = "getFlow",
    tag = "Flows",
    params(FlowPath, RevisionParam),
    responses(
        (status = 200, description = "The revision, with its document.", body = FlowDetail),
        (status = 404, response = NotFound),
    ),
)]
pub async fn get(
    State(engine): State<Engine>,
    Path((namespace, flow_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<FlowDetail>> {
    let params = Params::parse(raw.as_deref(), GET_PARAMS)?;
    let stored = engine
        .flow_revision(&namespace, &flow_id, revision_param(&params)?)
        .await?;
    let flow = read_revision(&stored)?;
    let mut graph = vec![topology("tasks", &flow.tasks, &flow.namespace)];
    for (name, tasks) in [("errors", &flow.errors), ("finally", &flow.finally)] {
        if !tasks.is_empty() {
            graph.push(topology(name, tasks, &flow.namespace));
        }
    }
    Ok(Json(FlowDetail {
        summary: summary(&stored)?,
        source: stored.source,
        topology: graph,
    }))
}

/// A deleted flow.
#[derive(Serialize, ToSchema)]
pub struct FlowDeleted {
    namespace: String,
    id: String,
    deleted: bool,
}

/// Delete a flow
///
/// The flow leaves lists and can no longer be run; its revisions stay, and its running
/// executions go on. Saving it again restores it.
#[utoipa::path(
    delete,
    path = "/api/v1/flows/{namespace}/{flow_id}",
    operation_id = "deleteFlow",
    tag = "Flows",
    params(FlowPath),
    responses(
        (status = 200, description = "The flow was deleted.", body = FlowDeleted),
        (status = 404, response = NotFound),
    ),
)]
pub async fn delete(
    State(engine): State<Engine>,
    Path((namespace, flow_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<FlowDeleted>> {
    Params::parse(raw.as_deref(), NO_PARAMS)?;
    remove(&engine, &namespace, &flow_id).await?;
    Ok(Json(FlowDeleted {
        namespace,
        id: flow_id,
        deleted: true,
    }))
}

/// A flow's revisions.
#[derive(Serialize, ToSchema)]
pub struct RevisionList {
    /// Oldest first.
    revisions: Vec<RevisionInfo>,
}

#[derive(Serialize, ToSchema)]
pub struct RevisionInfo {
    revision: i64,
    /// When it was saved.
    created: Timestamp,
    /// The flow document of this revision.
    source: String,
}

/// List a flow's revisions
#[utoipa::path(
    get,
    path = "/api/v1/flows/{namespace}/{flow_id}/revisions",
    operation_id = "listFlowRevisions",
    tag = "Flows",
    params(FlowPath),
    responses(
        (status = 200, description = "Every revision, oldest first.", body = RevisionList),
        (status = 404, response = NotFound),
    ),
)]
pub async fn revisions(
    State(engine): State<Engine>,
    Path((namespace, flow_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<RevisionList>> {
    Params::parse(raw.as_deref(), NO_PARAMS)?;
    let revisions = engine.flow_revisions(&namespace, &flow_id).await?;
    Ok(Json(RevisionList {
        revisions: revisions
            .into_iter()
            .map(|stored| RevisionInfo {
                revision: stored.revision,
                created: Timestamp(stored.created),
                source: stored.source,
            })
            .collect(),
    }))
}

/// What to run.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct FlowRunRequest {
    /// The inputs, by id: JSON values, or text read into each input's type.
    #[schema(value_type = Option<Object>)]
    inputs: Option<Map<String, Value>>,
    /// The execution's workflow id; generated when absent.
    workflow_id: Option<String>,
    /// The revision to run; absent: the latest.
    #[schema(minimum = 1)]
    revision: Option<i64>,
}

/// An execution a flow run started.
#[derive(Serialize, ToSchema)]
pub struct FlowRunStarted {
    namespace: String,
    workflow_id: String,
    run_id: String,
    /// The revision it runs.
    revision: i64,
}

/// Run a flow
///
/// Starts an execution of the flow with the given inputs, checked against the flow's
/// typed inputs first: a bad input is refused (400, naming it) and nothing starts.
#[utoipa::path(
    post,
    path = "/api/v1/flows/{namespace}/{flow_id}/run",
    operation_id = "runFlow",
    tag = "Flows",
    params(FlowPath),
    request_body(content = Option<FlowRunRequest>, description = "The inputs; an empty body is `{}`."),
    responses(
        (status = 200, description = "The execution started.", body = FlowRunStarted),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn run(
    State(engine): State<Engine>,
    Path((namespace, flow_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<FlowRunStarted>> {
    Params::parse(raw.as_deref(), NO_PARAMS)?;
    let body = Body::new(json_body(body)?, RUN_FIELDS)?;
    let given = inputs_field(&body)?;
    let revision = revision_field(&body)?;
    let workflow_id = body.string("workflow_id")?.map(str::to_owned);
    let started = start_flow(
        &engine,
        &namespace,
        &flow_id,
        revision,
        &given,
        workflow_id,
        Carried::default(),
    )
    .await?;
    Ok(Json(started))
}

/// What a new execution carries besides its inputs.
#[derive(Default)]
pub struct Carried {
    /// Outputs of an earlier execution's task runs, which are not run again.
    pub reused: std::collections::BTreeMap<String, Value>,
    /// What `{{ trigger }}` reads.
    pub trigger: Option<Value>,
}

/// Starts an execution of a flow revision (the latest when `None`) with `given` inputs,
/// checked first.
pub async fn start_flow(
    engine: &Engine,
    namespace: &str,
    flow_id: &str,
    revision: Option<i64>,
    given: &Map<String, Value>,
    workflow_id: Option<String>,
    carried: Carried,
) -> ApiResult<FlowRunStarted> {
    let stored = engine.flow_revision(namespace, flow_id, revision).await?;
    let flow = read_revision(&stored)?;
    let inputs = keel_flows::inputs::resolve(&flow.inputs, given)
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let workflow_id = workflow_id.unwrap_or_else(|| {
        let uuid = uuid::Uuid::new_v4().simple().to_string();
        format!("{flow_id}-{}", &uuid[..12])
    });
    let revision = u32::try_from(stored.revision)
        .map_err(|_| ApiError::bad_request("the revision is too large"))?;
    let mut start =
        FlowStart::new(namespace, flow_id, revision, inputs).with_trigger(carried.trigger);
    start.reused = carried.reused;
    let request_id = uuid::Uuid::new_v4().to_string();
    let result = engine
        .start_workflow(keel_engine::StartRequest {
            namespace: namespace.to_owned(),
            workflow_id: workflow_id.clone(),
            params: keel_flows::runtime::start_params(&flow, &start, IDENTITY, &request_id),
            ..Default::default()
        })
        .await?;
    Ok(FlowRunStarted {
        namespace: namespace.to_owned(),
        workflow_id,
        run_id: result.run_id,
        revision: stored.revision,
    })
}

/// A closed flow execution's run (named by its key): its key, status, history and start.
async fn closed_flow_run_of(
    engine: &Engine,
    key: keel_core::ExecutionKey,
) -> ApiResult<(
    keel_core::ExecutionKey,
    keel_core::Status,
    Vec<keel_core::Event>,
    FlowStart,
)> {
    let workflow_id = key.workflow_id.clone();
    let execution = engine
        .describe(&key)
        .await
        .map_err(|e| not_found(e, &key))?;
    if execution.is_running() {
        return Err(ApiError::conflict(format!(
            "execution '{workflow_id}' is still running"
        )));
    }
    let history = whole_history(engine, &key).await?;
    let start = keel_flows::interpret::flow_start(&history).map_err(|_| {
        ApiError::conflict(format!("execution '{workflow_id}' is not a flow execution"))
    })?;
    Ok((key, execution.status, history, start))
}

/// A restart or replay: the execution started, and the task runs whose outputs it reuses.
#[derive(Serialize, ToSchema)]
pub struct Rerun {
    #[serde(flatten)]
    started: FlowRunStarted,
    /// The task runs not run again: their outputs come from the earlier run.
    reused: Vec<String>,
}

/// Restart a failed flow execution
///
/// The execution continues in a new run of the same workflow id, on the same revision:
/// every task run that completed keeps its outputs and is not run again; the failed ones
/// (and what follows them) run. 409 unless the run failed, timed out, was cancelled or
/// terminated.
#[utoipa::path(
    post,
    path = "/api/v1/executions/{workflow_id}/restart",
    operation_id = "restartExecution",
    tag = "Flows",
    params(WorkflowIdPath, NamespaceParam, RunParam),
    request_body(content = Option<crate::plans::NoFields>, description = "No fields; an empty body is `{}`."),
    responses(
        (status = 200, description = "The new run.", body = Rerun),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn restart(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Rerun>> {
    Body::new(json_body(body)?, crate::request::NO_FIELDS)?;
    let params = Params::parse(raw.as_deref(), RUN_PARAMS)?;
    let key = resolve(&engine, &params, &workflow_id).await?;
    Ok(Json(restart_run(&engine, key).await?))
}

/// Restarts one closed flow execution's run (see `restart`).
pub async fn restart_run(engine: &Engine, key: keel_core::ExecutionKey) -> ApiResult<Rerun> {
    let (key, status, history, start) = closed_flow_run_of(engine, key).await?;
    if status == keel_core::Status::Completed || status == keel_core::Status::ContinuedAsNew {
        return Err(ApiError::conflict(format!(
            "execution '{}' {}: only a failed one restarts; replay it instead",
            key.workflow_id,
            crate::render::ExecutionStatus::from(status).name()
        )));
    }
    let reused =
        keel_flows::interpret::finished_outputs(&history, None).map_err(ApiError::conflict)?;
    let names = reused.keys().cloned().collect();
    let started = start_flow(
        engine,
        &key.namespace,
        &start.flow,
        start.revision.map(i64::from),
        &start.inputs,
        Some(key.workflow_id.clone()),
        Carried {
            reused,
            trigger: carried_trigger(engine, &key, &history, &start).await?,
        },
    )
    .await?;
    Ok(Rerun {
        started,
        reused: names,
    })
}

/// What a replay runs.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct ReplayRequest {
    /// The task run to run from: those that finished before it was scheduled keep their
    /// outputs. Absent: the first task run that failed.
    from_task_run: Option<String>,
    /// The revision to run; absent: the flow's latest (a fixed one, say).
    #[schema(minimum = 1)]
    revision: Option<i64>,
    /// The new execution's workflow id; generated when absent.
    workflow_id: Option<String>,
}

/// Replay a flow execution
///
/// Starts a new execution of the flow with the same inputs, on the latest revision (or
/// `revision`), which keeps the outputs of every task run that finished before
/// `from_task_run` (default: the first that failed) and runs from there.
#[utoipa::path(
    post,
    path = "/api/v1/executions/{workflow_id}/replay",
    operation_id = "replayExecution",
    tag = "Flows",
    params(WorkflowIdPath, NamespaceParam, RunParam),
    request_body(content = Option<ReplayRequest>, description = "Where to replay from; an empty body is `{}`."),
    responses(
        (status = 200, description = "The new execution.", body = Rerun),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn replay(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Rerun>> {
    let body = Body::new(json_body(body)?, REPLAY_FIELDS)?;
    let params = Params::parse(raw.as_deref(), RUN_PARAMS)?;
    let key = resolve(&engine, &params, &workflow_id).await?;
    let revision = revision_field(&body)?;
    let from = body.string("from_task_run")?.map(str::to_owned);
    let new_id = body.string("workflow_id")?.map(str::to_owned);
    Ok(Json(
        replay_run(&engine, key, from, revision, new_id).await?,
    ))
}

/// A body's `revision`, when given: a revision number.
pub fn revision_field(body: &Body) -> ApiResult<Option<i64>> {
    match body.value("revision") {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            .filter(|revision| *revision >= 1)
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "field 'revision' must be a revision number, not {value}"
                ))
            }),
    }
}

/// What `{{ trigger }}` read in an earlier run, for a restart or replay of it to read too.
async fn carried_trigger(
    engine: &Engine,
    key: &keel_core::ExecutionKey,
    history: &[keel_core::Event],
    start: &FlowStart,
) -> ApiResult<Option<Value>> {
    let stored = engine
        .flow_revision(&key.namespace, &start.flow, start.revision.map(i64::from))
        .await?;
    let flow = read_revision(&stored)?;
    Ok(keel_flows::interpret::trigger_of(&flow, history))
}

/// Replays one closed flow execution's run (see `replay`).
pub async fn replay_run(
    engine: &Engine,
    key: keel_core::ExecutionKey,
    from: Option<String>,
    revision: Option<i64>,
    new_id: Option<String>,
) -> ApiResult<Rerun> {
    let (key, _, history, start) = closed_flow_run_of(engine, key).await?;
    let from = from.or_else(|| keel_flows::interpret::first_failed_task_run(&history));
    let reused = keel_flows::interpret::finished_outputs(&history, from.as_deref())
        .map_err(ApiError::bad_request)?;
    let new_id = new_id.unwrap_or_else(|| {
        let uuid = uuid::Uuid::new_v4().simple().to_string();
        format!("{}-replay-{}", key.workflow_id, &uuid[..8])
    });
    let names = reused.keys().cloned().collect();
    let started = start_flow(
        engine,
        &key.namespace,
        &start.flow,
        revision,
        &start.inputs,
        Some(new_id),
        Carried {
            reused,
            trigger: carried_trigger(engine, &key, &history, &start).await?,
        },
    )
    .await?;
    Ok(Rerun {
        started,
        reused: names,
    })
}

/// Resumes a paused task run.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read field by field (`Body`); this describes it
pub struct ResumeRequest {
    /// The paused task run (e.g. `approve`, or `approve[2]` inside a loop); needed only
    /// when more than one waits.
    task_run: Option<String>,
    /// The pause's `onResume` inputs, by id.
    #[schema(value_type = Option<Object>)]
    inputs: Option<Map<String, Value>>,
}

/// A resumed task run.
#[derive(Serialize, ToSchema)]
pub struct Resumed {
    workflow_id: String,
    run_id: String,
    task_run: String,
}

/// Resume a paused flow execution
///
/// Resumes a Pause task run that waits for a person, with its `onResume` inputs checked
/// first (400 naming a bad one). 409 when nothing waits.
#[utoipa::path(
    post,
    path = "/api/v1/executions/{workflow_id}/resume",
    operation_id = "resumeExecution",
    tag = "Flows",
    params(WorkflowIdPath, NamespaceParam, RunParam),
    request_body(content = Option<ResumeRequest>, description = "Which pause, and its inputs; an empty body is `{}`."),
    responses(
        (status = 200, description = "The task run was resumed.", body = Resumed),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn resume(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Resumed>> {
    let params = Params::parse(raw.as_deref(), RUN_PARAMS)?;
    let body = Body::new(json_body(body)?, RESUME_FIELDS)?;
    let key = resolve(&engine, &params, &workflow_id).await?;
    let execution = engine
        .describe(&key)
        .await
        .map_err(|e| not_found(e, &key))?;
    if !execution.is_running() {
        return Err(ApiError::conflict(format!(
            "execution '{workflow_id}' is not running"
        )));
    }
    let (history, _, flow) = flow_run(&engine, &key).await?;
    let waiting = keel_flows::interpret::waiting_pauses(&flow, &run_view(&key, &history));
    let wanted = body.string("task_run")?;
    let (task_run, task_id) = match (wanted, waiting.as_slice()) {
        (_, []) => {
            return Err(ApiError::conflict(format!(
                "execution '{workflow_id}' has no pause waiting to be resumed"
            )));
        }
        (None, [one]) => one.clone(),
        (None, many) => {
            let names: Vec<&str> = many.iter().map(|(run, _)| run.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "several pauses wait ({}); name one as 'task_run'",
                names.join(", ")
            )));
        }
        (Some(wanted), waiting) => waiting
            .iter()
            .find(|(run, _)| run == wanted)
            .cloned()
            .ok_or_else(|| {
                ApiError::conflict(format!(
                    "task run '{wanted}' is not a pause waiting to be resumed"
                ))
            })?,
    };
    let on_resume = flow
        .all_tasks()
        .into_iter()
        .find(|task| task.id == task_id)
        .and_then(|task| match &task.kind {
            keel_flows::TaskKind::Pause { on_resume, .. } => Some(on_resume.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let given = inputs_field(&body)?;
    let inputs = keel_flows::inputs::resolve(&on_resume, &given)
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let resume = Resume {
        format: keel_flows::runtime::FORMAT,
        task_run: task_run.clone(),
        inputs,
    };
    let signal = keel_core::Signal {
        name: RESUME_SIGNAL.into(),
        input: Some(keel_wire::json::encode_payloads(&[serde_json::to_value(
            resume,
        )
        .expect("a resume serializes")])),
        header: Default::default(),
        identity: IDENTITY.into(),
        request_id: uuid::Uuid::new_v4().to_string(),
        external: None,
    };
    engine
        .signal(&key, signal)
        .await
        .map_err(|e| not_found(e, &key))?;
    Ok(Json(Resumed {
        workflow_id: key.workflow_id,
        run_id: key.run_id,
        task_run,
    }))
}

/// The flow and webhook key a path names.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by axum's `Path`; this describes it
pub struct WebhookPath {
    /// The flow's namespace.
    #[param(min_length = 1)]
    namespace: String,
    /// The flow's id.
    #[param(min_length = 1)]
    flow_id: String,
    /// The `key` of one of the flow's Webhook triggers: the webhook's password.
    #[param(min_length = 1)]
    key: String,
}

/// Whether to wait for the execution.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by name (`WEBHOOK_PARAMS`); this describes it
pub struct WebhookParams {
    /// Wait (up to a minute) for the execution to end, and answer its outputs.
    #[param(default = false)]
    wait: Option<bool>,
}

/// The flow's inputs, by id, as a JSON object.
#[derive(ToSchema)]
#[allow(dead_code)] // read as a whole; this describes it
#[schema(value_type = Object)]
pub struct WebhookInputs(Map<String, Value>);

/// An execution a webhook started, and with `wait=true` how it ended.
#[derive(Serialize, ToSchema)]
pub struct WebhookAnswer {
    namespace: String,
    workflow_id: String,
    run_id: String,
    revision: i64,
    status: crate::render::ExecutionStatus,
    /// The flow's outputs, once it completed; else null.
    outputs: AnyJson,
}

/// How long `wait=true` waits for the execution.
const WEBHOOK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Start a flow from a webhook
///
/// Starts an execution of the flow, its inputs the request body's fields, when the path's
/// key is the key of one of its Webhook triggers (404 otherwise). With `wait=true` the
/// answer comes when the execution ends (or after a minute, still running), with its
/// outputs.
#[utoipa::path(
    post,
    path = "/api/v1/flows/{namespace}/{flow_id}/webhook/{key}",
    operation_id = "flowWebhook",
    tag = "Flows",
    params(WebhookPath, WebhookParams),
    request_body(content = Option<WebhookInputs>, description = "The inputs; an empty body is `{}`."),
    responses(
        (status = 200, description = "The execution started (and, waiting, how it ended).", body = WebhookAnswer),
        (status = 404, response = NotFound),
    ),
)]
pub async fn webhook(
    State(engine): State<Engine>,
    Path((namespace, flow_id, key)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<WebhookAnswer>> {
    let params = Params::parse(raw.as_deref(), WEBHOOK_PARAMS)?;
    let wait = match params.get("wait") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "query parameter 'wait' must be true or false, not '{other}'"
            )));
        }
    };
    let inputs = json_body(body)?;
    let refused = || {
        ApiError::not_found(format!(
            "flow '{flow_id}' in namespace '{namespace}' has no webhook with this key"
        ))
    };
    let stored = engine
        .flow_revision(&namespace, &flow_id, None)
        .await
        .map_err(|_| refused())?;
    let flow = keel_flows::parse(&stored.source).map_err(|_| refused())?;
    let trigger_id = flow
        .triggers
        .iter()
        .find(|trigger| match &trigger.kind {
            keel_flows::document::TriggerKind::Webhook { key: expected } => {
                same_secret(expected, &key)
            }
            _ => false,
        })
        .map(|trigger| trigger.id.clone())
        .ok_or_else(refused)?;
    let trigger = serde_json::json!({"type": "webhook", "id": trigger_id, "body": inputs});
    let started = start_flow(
        &engine,
        &namespace,
        &flow_id,
        Some(stored.revision),
        &inputs,
        None,
        Carried {
            trigger: Some(trigger),
            ..Carried::default()
        },
    )
    .await?;
    let key = keel_core::ExecutionKey {
        namespace: namespace.clone(),
        workflow_id: started.workflow_id.clone(),
        run_id: started.run_id.clone(),
    };
    let deadline = std::time::Instant::now() + WEBHOOK_WAIT;
    let mut execution = engine.describe(&key).await?;
    while wait && execution.is_running() && std::time::Instant::now() < deadline {
        engine
            .wait_for_run(&key, execution.next_event_id, deadline)
            .await?;
        execution = engine.describe(&key).await?;
    }
    let outputs = if execution.status == keel_core::Status::Completed {
        let history = whole_history(&engine, &key).await?;
        history.last().and_then(|event| match &event.kind {
            keel_core::EventKind::WorkflowExecutionCompleted { result, .. } => result
                .as_ref()
                .and_then(keel_wire::json::decode_payloads)
                .and_then(|payloads| payloads.into_iter().next())
                .and_then(|payload| serde_json::from_slice::<Value>(&payload.data).ok())
                .and_then(|value| value.get("outputs").cloned()),
            _ => None,
        })
    } else {
        None
    };
    Ok(Json(WebhookAnswer {
        namespace,
        workflow_id: started.workflow_id,
        run_id: started.run_id,
        revision: started.revision,
        status: execution.status.into(),
        outputs: AnyJson(outputs.unwrap_or(Value::Null)),
    }))
}

/// Compares secrets in time that does not depend on where they differ.
fn same_secret(expected: &str, given: &str) -> bool {
    let (expected, given) = (expected.as_bytes(), given.as_bytes());
    let mut difference = expected.len() ^ given.len();
    for (index, byte) in expected.iter().enumerate() {
        difference |= usize::from(byte ^ given.get(index).copied().unwrap_or(0));
    }
    difference == 0
}

/// The schedules a flow's Schedule triggers are kept in: `flow:<id>:<trigger id>`.
fn schedule_prefix(flow_id: &str) -> String {
    format!("flow:{flow_id}:")
}

/// A Schedule trigger, checked: its id, cron, time zone and inputs.
struct ScheduleTrigger {
    id: String,
    cron: String,
    time_zone: String,
    spec: keel_core::schedule::Spec,
    inputs: Map<String, Value>,
    policies: keel_core::schedule::Policies,
}

/// The flow's Schedule triggers, each checked before anything is saved: its cron as
/// Temporal's schedules read it, and its inputs against the flow's.
fn schedule_triggers(flow: &keel_flows::Flow) -> ApiResult<Vec<ScheduleTrigger>> {
    use keel_core::schedule::spec::{CronPart, parse_cron};
    let mut triggers = Vec::new();
    for trigger in &flow.triggers {
        let keel_flows::document::TriggerKind::Schedule {
            cron,
            timezone,
            inputs,
            overlap,
            catchup_window,
        } = &trigger.kind
        else {
            continue;
        };
        let refused =
            |why: String| ApiError::bad_request(format!("trigger '{}': {why}", trigger.id));
        let time_zone = timezone.clone().unwrap_or_default();
        keel_core::schedule::spec::time_zone(&time_zone).map_err(refused)?;
        let mut spec = keel_core::schedule::Spec {
            time_zone: time_zone.clone(),
            ..Default::default()
        };
        match parse_cron(cron).map_err(|why| refused(format!("cron '{cron}': {why}")))? {
            CronPart::Calendar(calendar) => spec.calendars.push(calendar),
            CronPart::Interval(interval) => spec.intervals.push(interval),
        }
        let inputs = keel_flows::inputs::resolve(&flow.inputs, inputs)
            .map_err(|error| refused(error.to_string()))?;
        triggers.push(ScheduleTrigger {
            id: trigger.id.clone(),
            cron: cron.clone(),
            time_zone,
            spec,
            inputs,
            policies: keel_core::schedule::Policies {
                overlap: *overlap,
                catchup_window: catchup_window
                    .unwrap_or(keel_core::schedule::DEFAULT_CATCHUP_WINDOW),
                ..Default::default()
            },
        });
    }
    Ok(triggers)
}

/// Makes the flow's schedules what its Schedule triggers say, starting `revision`: new
/// triggers become schedules, changed ones are updated (keeping what they did so far),
/// and removed ones are deleted.
async fn sync_schedules(
    engine: &Engine,
    flow: &keel_flows::Flow,
    revision: i64,
    triggers: Vec<ScheduleTrigger>,
) -> ApiResult<()> {
    let namespace = &flow.namespace;
    let prefix = schedule_prefix(&flow.id);
    let existing: Vec<String> = engine
        .schedules(namespace)
        .await?
        .into_iter()
        .map(|schedule| schedule.id)
        .filter(|id| id.starts_with(&prefix))
        .collect();
    let revision =
        u32::try_from(revision).map_err(|_| ApiError::bad_request("the revision is too large"))?;
    let mut wanted = Vec::new();
    for trigger in triggers {
        let schedule_id = format!("{prefix}{}", trigger.id);
        let start = FlowStart::new(namespace, &flow.id, revision, trigger.inputs);
        let workflow_id = format!("{}-{}", flow.id, trigger.id);
        let params = keel_flows::runtime::start_params(flow, &start, "keel-flow-trigger", "");
        let raw = keel_wire::schedules::start_action(
            &workflow_id,
            &params.workflow_type,
            &params.task_queue,
            params.input.as_ref(),
        );
        let definition = keel_core::schedule::Definition {
            spec: trigger.spec,
            raw_spec: keel_wire::schedules::cron_spec(&trigger.cron, &trigger.time_zone),
            action: keel_core::schedule::StartWorkflow {
                workflow_id,
                params,
                raw,
            },
            policies: trigger.policies,
            state: Default::default(),
        };
        if existing.contains(&schedule_id) {
            engine
                .update_schedule(namespace, &schedule_id, definition, None, None)
                .await?;
        } else {
            engine
                .create_schedule(
                    namespace,
                    &schedule_id,
                    definition,
                    Default::default(),
                    Default::default(),
                    Default::default(),
                )
                .await?;
        }
        wanted.push(schedule_id);
    }
    for stale in existing.iter().filter(|id| !wanted.contains(id)) {
        engine.delete_schedule(namespace, stale).await?;
    }
    Ok(())
}

/// A JSON Schema.
#[derive(ToSchema)]
#[allow(dead_code)] // answered as JSON; this describes it
#[schema(value_type = Object)]
pub struct JsonSchema(Value);

/// The flow document's JSON Schema
///
/// For editors (a YAML language server, say) to check flow documents as people type.
/// The server's own reading (`POST /api/v1/flows/validate`) is the authority: it also
/// checks expressions, ids and references.
#[utoipa::path(
    get,
    path = "/api/v1/flows/schema.json",
    operation_id = "flowSchema",
    tag = "Flows",
    responses((status = 200, description = "The JSON Schema (draft 2020-12) of flow documents.", body = JsonSchema)),
)]
pub async fn schema(RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), NO_PARAMS)?;
    Ok(Json(keel_flows::schema::schema()))
}

/// Which revisions to compare.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by name (`DIFF_PARAMS`); this describes it
pub struct DiffParams {
    /// The older revision; absent: the one before `to`.
    #[param(minimum = 1)]
    from: Option<i64>,
    /// The newer revision; absent: the latest.
    #[param(minimum = 1)]
    to: Option<i64>,
}

/// The changes between two revisions of a flow.
#[derive(Serialize, ToSchema)]
pub struct RevisionDiff {
    from: i64,
    to: i64,
    /// A unified diff of the two documents; empty when they are the same.
    diff: String,
}

/// Compare two revisions of a flow
#[utoipa::path(
    get,
    path = "/api/v1/flows/{namespace}/{flow_id}/diff",
    operation_id = "diffFlowRevisions",
    tag = "Flows",
    params(FlowPath, DiffParams),
    responses(
        (status = 200, description = "The changes from `from` to `to`.", body = RevisionDiff),
        (status = 404, response = NotFound),
    ),
)]
pub async fn diff(
    State(engine): State<Engine>,
    Path((namespace, flow_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<RevisionDiff>> {
    let params = Params::parse(raw.as_deref(), DIFF_PARAMS)?;
    let revision = |name: &str| {
        params
            .get(name)
            .map(|_| params.integer(name, 1, i64::MAX, 1))
            .transpose()
    };
    let (from, to) = (revision("from")?, revision("to")?);
    let newer = engine.flow_revision(&namespace, &flow_id, to).await?;
    let from = from.unwrap_or((newer.revision - 1).max(1));
    let older = engine
        .flow_revision(&namespace, &flow_id, Some(from))
        .await?;
    Ok(Json(RevisionDiff {
        from: older.revision,
        to: newer.revision,
        diff: keel_flows::document::diff(
            &older.source,
            &newer.source,
            &format!("revision {}", older.revision),
            &format!("revision {}", newer.revision),
        ),
    }))
}

/// The pauses of a flow execution that wait for a person.
#[derive(Serialize, ToSchema)]
pub struct WaitingPauses {
    waiting: Vec<WaitingPause>,
}

/// A pause that waits, and the inputs its resume takes.
#[derive(Serialize, ToSchema)]
pub struct WaitingPause {
    task_run: String,
    inputs: Vec<FlowInput>,
}

/// The pauses waiting for a person
///
/// What a Resume form needs: each paused task run of the execution that waits for a person,
/// with its `onResume` inputs. Empty when none waits (or the run is closed).
#[utoipa::path(
    get,
    path = "/api/v1/executions/{workflow_id}/resume",
    operation_id = "listWaitingPauses",
    tag = "Flows",
    params(WorkflowIdPath, NamespaceParam, RunParam),
    responses(
        (status = 200, description = "The waiting pauses.", body = WaitingPauses),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn waiting(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<WaitingPauses>> {
    let params = Params::parse(raw.as_deref(), RUN_PARAMS)?;
    let key = resolve(&engine, &params, &workflow_id).await?;
    let (history, _, flow) = flow_run(&engine, &key).await?;
    let waiting = keel_flows::interpret::waiting_pauses(&flow, &run_view(&key, &history));
    let tasks = flow.all_tasks();
    Ok(Json(WaitingPauses {
        waiting: waiting
            .into_iter()
            .map(|(task_run, task_id)| {
                let inputs = tasks
                    .iter()
                    .find(|task| task.id == task_id)
                    .and_then(|task| match &task.kind {
                        keel_flows::TaskKind::Pause { on_resume, .. } => {
                            Some(on_resume.iter().map(FlowInput::from).collect())
                        }
                        _ => None,
                    })
                    .unwrap_or_default();
                WaitingPause { task_run, inputs }
            })
            .collect(),
    }))
}

/// Where each task of a flow execution is.
#[derive(Serialize, ToSchema)]
pub struct TaskStates {
    /// By task id: `completed`, `running`, `waiting` (a pause waiting for a person) or
    /// `failed`; a task not reached is left out.
    tasks: std::collections::BTreeMap<String, String>,
    /// Every task run in the order they began (reused ones first), with what it gave.
    task_runs: Vec<FlowTaskRun>,
}

/// One task run of a flow execution.
#[derive(Serialize, ToSchema)]
pub struct FlowTaskRun {
    /// `pack[2]`: the task and, inside loops, the item.
    task_run: String,
    /// `completed`, `failed`, `running` (or waiting), or `reused` (taken from an earlier
    /// execution by a restart or replay).
    state: String,
    /// How many times it was started: a lost runner or a random retry starts it again (the
    /// engine's own retries are attempts of one start, in the timeline).
    starts: u32,
    /// What it gave: an activity's result, a subflow's outputs, a pause's resume inputs;
    /// null until it completes.
    outputs: AnyJson,
    /// Why it failed.
    error: Option<String>,
}

/// Where each task of a flow execution is, and what each task run gave
///
/// What the topology colours its tasks by, decided from the execution's history the way the
/// flow worker decides; and each task run's outputs or error.
#[utoipa::path(
    get,
    path = "/api/v1/executions/{workflow_id}/tasks",
    operation_id = "flowTaskStates",
    tag = "Flows",
    params(WorkflowIdPath, NamespaceParam, RunParam),
    responses(
        (status = 200, description = "Each reached task's state.", body = TaskStates),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn tasks(
    State(engine): State<Engine>,
    Path(workflow_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<TaskStates>> {
    let params = Params::parse(raw.as_deref(), RUN_PARAMS)?;
    let key = resolve(&engine, &params, &workflow_id).await?;
    let (history, _, flow) = flow_run(&engine, &key).await?;
    let states = keel_flows::interpret::task_states(&flow, &run_view(&key, &history));
    let task_runs = keel_flows::interpret::task_run_reports(&history)
        .map_err(ApiError::conflict)?
        .into_iter()
        .map(|report| FlowTaskRun {
            task_run: report.task_run,
            state: report.state.to_owned(),
            starts: report.starts,
            outputs: AnyJson(report.outputs.unwrap_or(Value::Null)),
            error: report.error,
        })
        .collect();
    Ok(Json(TaskStates {
        tasks: states
            .into_iter()
            .map(|(id, state)| (id, state.to_owned()))
            .collect(),
        task_runs,
    }))
}
