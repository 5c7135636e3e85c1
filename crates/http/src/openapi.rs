//! The OpenAPI document of the REST API, generated from the handlers' own types: each
//! handler carries `#[utoipa::path]` naming its parameters, body and answers, and the
//! answers are the structs it serializes, so the document cannot describe a shape the
//! server does not send. Each module lists its operations in an `Api` struct; this one
//! joins them, adds what every operation shares (its error answers) and serves the result.
//! Tests check the document against the route table both ways (lib.rs) and every request
//! and answer of the REST tests against its schemas (the integration suite).

use std::sync::LazyLock;
use std::time::Duration;

use keel_core::Time;
use serde::{Serialize, Serializer};
use serde_json::{Value, json};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, OpenApi, PartialSchema, ToSchema};

/// The document, built once.
pub fn document() -> &'static str {
    static DOCUMENT: LazyLock<String> =
        LazyLock::new(|| serde_json::to_string_pretty(&build()).expect("the document serializes"));
    &DOCUMENT
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Keel REST API",
        description = "Keel is a durable execution engine that speaks Temporal's gRPC API. Its REST API, served on the HTTP address (`--http-addr`, default `127.0.0.1:8233`), lets operators list, inspect, follow and act on workflow executions and see task queues, workers, namespaces, analytics and metrics. It takes and answers JSON; routes concerning executions take `?namespace=` (default `default`). Times are RFC 3339 strings in UTC, durations are milliseconds (floating point, `*_ms`), and payloads are shown as JSON when their encoding is `json/plain`, as `null` for `binary/null`, and otherwise as `{\"encoding\", \"data_base64\"}`. Every error is a 4xx or 5xx status with `{\"error\": {\"code\", \"message\"}}`.",
    ),
    servers((url = "http://127.0.0.1:8233")),
    tags(
        (name = "Executions", description = "Workflow executions: list, inspect, act on."),
        (name = "Streams", description = "Live server-sent event streams."),
        (name = "Task queues", description = "Task queues, their pollers and backlogs."),
        (name = "Workers", description = "Workers polling task queues."),
        (name = "Namespaces", description = "Namespaces."),
        (name = "Analytics", description = "Figures over a time range."),
        (name = "Operations", description = "Health, metrics and this document."),
        (name = "Schedules", description = "Schedules made through the Temporal API, shown and acted on."),
        (name = "Plans", description = "Planned runs: starts saved for later."),
        (name = "Flows", description = "Declarative YAML flows: revisions, checks, runs and resumes."),
    ),
    components(schemas(ErrorBody)),
)]
struct Keel;

/// Every module's operations in one document, with the shared error answers added.
fn build() -> Value {
    let mut generated = Keel::openapi();
    for part in [
        crate::executions::Api::openapi(),
        crate::logs::Api::openapi(),
        crate::interact::Api::openapi(),
        crate::bulk::Api::openapi(),
        crate::streams::Api::openapi(),
        crate::queues::Api::openapi(),
        crate::analytics::Api::openapi(),
        crate::schedules::Api::openapi(),
        crate::plans::Api::openapi(),
        crate::flows::Api::openapi(),
        crate::operations::Api::openapi(),
    ] {
        generated.merge(part);
    }
    let mut document = serde_json::to_value(generated).expect("the document serializes");
    require_every_answered_field(&mut document);
    unwrap_descriptions(&mut document);
    add_error_answers(&mut document);
    document
}

/// Marks every property of the schemas answers use as required: an answer's struct
/// serializes every field (`null` when it has no value), so a client may count on each
/// key. (utoipa counts an `Option` field as optional, which fits request bodies only.)
/// The REST tests validate every answer against the document, so a field an answer leaves
/// out fails them.
fn require_every_answered_field(document: &mut Value) {
    let mut answered = std::collections::BTreeSet::new();
    let mut pending: Vec<Value> = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|operations| operations.as_object().expect("path item").values())
        .filter_map(|operation| operation.get("responses").cloned())
        .collect();
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(fields) => {
                if let Some(Value::String(reference)) = fields.get("$ref")
                    && let Some(name) = reference.strip_prefix("#/components/schemas/")
                    && answered.insert(name.to_owned())
                {
                    pending.push(document["components"]["schemas"][name].clone());
                }
                pending.extend(fields.into_iter().map(|(_, value)| value));
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    for name in answered {
        // Not `document[..][&name]`, which would add a null schema for a name that is
        // missing, hiding it from the check that every reference resolves.
        let Some(schema) = document
            .pointer_mut(&format!("/components/schemas/{name}"))
            .filter(|schema| !schema.is_null())
        else {
            continue;
        };
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            let every: Vec<Value> = properties.keys().cloned().map(Value::String).collect();
            schema["required"] = Value::Array(every);
        }
    }
}

/// Doc comments wrap at 100 columns; a description is one paragraph per blank line.
fn unwrap_descriptions(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                match field {
                    Value::String(text) if name == "description" => {
                        *text = text
                            .split("\n\n")
                            .map(|paragraph| paragraph.split('\n').collect::<Vec<_>>().join(" "))
                            .collect::<Vec<_>>()
                            .join("\n\n");
                    }
                    other => unwrap_descriptions(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_descriptions),
        _ => {}
    }
}

/// The error answers, each named once under `components/responses`, and referenced from
/// every operation that can give it: a refused Host or Origin and a server error from all,
/// bad input from those taking parameters or a body; a body that is not JSON or too large from those taking one. A handler
/// lists `404` and `409` itself, with `response = NotFound` or `Conflict`.
fn add_error_answers(document: &mut Value) {
    let answers = [
        (
            "BadRequest",
            "A malformed body, query string or filter; the message names the bad part.",
            "bad_request",
            "query parameter 'limit' must be an integer from 1 to 1000, not '0'".to_owned(),
        ),
        (
            "NotFound",
            "The execution, run or namespace does not exist.",
            "not_found",
            "execution 'order-1' not found in namespace 'default'".to_owned(),
        ),
        (
            "Conflict",
            "The thing exists already (`already_exists`), or the execution is not in a state that allows this (`conflict`, e.g. cancelling a closed one).",
            "conflict",
            "execution 'order-1' is already closed (completed)".to_owned(),
        ),
        (
            "PayloadTooLarge",
            "The request body is larger than the server takes.",
            "payload_too_large",
            format!(
                "the request body is larger than {} bytes",
                crate::MAX_BODY_BYTES
            ),
        ),
        (
            "ServerError",
            "The server could not answer: `data_loss` (a stored row of the run does not decode; `keel doctor` lists them), `unimplemented`, `unavailable` (try again) or `timeout`.",
            "unavailable",
            "the store is busy; try again".to_owned(),
        ),
        (
            "Forbidden",
            "The request's Host or Origin is not one this server answers (a guard against DNS rebinding and cross-site requests).",
            "forbidden",
            "requests for host 'evil.example' are refused; this server answers localhost"
                .to_owned(),
        ),
        (
            "UnsupportedMediaType",
            "The request has a body that is not `application/json`.",
            "unsupported_media_type",
            "a request body must be sent as application/json".to_owned(),
        ),
    ];
    for (name, description, code, message) in answers {
        document["components"]["responses"][name] = json!({
            "description": description,
            "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "example": {"error": {"code": code, "message": message}},
            }},
        });
    }
    let reference = |name: &str| json!({"$ref": format!("#/components/responses/{name}")});
    let paths = document["paths"].as_object_mut().expect("paths");
    for operations in paths.values_mut() {
        let item = operations.as_object_mut().expect("path item");
        let operations = item.iter_mut().filter(|(key, _)| *key != "parameters");
        for (_, operation) in operations {
            let takes_body = operation.get("requestBody").is_some();
            let takes_input = takes_body || operation.get("parameters").is_some();
            let responses = operation["responses"].as_object_mut().expect("responses");
            if takes_input {
                responses.insert("400".into(), reference("BadRequest"));
            }
            responses.insert("403".into(), reference("Forbidden"));
            responses.insert("5XX".into(), reference("ServerError"));
            if takes_body {
                responses.insert("413".into(), reference("PayloadTooLarge"));
                responses.insert("415".into(), reference("UnsupportedMediaType"));
            }
        }
    }
}

/// Every 4xx or 5xx answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
}

/// Stable, for scripts to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: a malformed body, query string or filter; the message names the bad part.
    BadRequest,
    /// 403: a Host or Origin this server does not answer.
    Forbidden,
    /// 404.
    NotFound,
    /// 405.
    MethodNotAllowed,
    /// 409: it exists already.
    AlreadyExists,
    /// 409: the execution is not in a state that allows this.
    Conflict,
    /// 413.
    PayloadTooLarge,
    /// 415: a request with a body that is not `application/json`.
    UnsupportedMediaType,
    /// 500: what is stored of the run does not decode; the message names it, and
    /// `keel doctor` lists every such row.
    DataLoss,
    /// 501.
    Unimplemented,
    /// 503: try again.
    Unavailable,
    /// 504.
    Timeout,
}

/// A time as the API writes it: RFC 3339 in UTC, with as many fraction digits as it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub Time);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::render::time(self.0).serialize(serializer)
    }
}

impl PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("An RFC 3339 time in UTC."))
            .examples([json!("2026-12-05T10:00:00.25Z")])
            .into()
    }
}

impl ToSchema for Timestamp {}

impl From<Time> for Timestamp {
    fn from(time: Time) -> Timestamp {
        Timestamp(time)
    }
}

/// A duration as the API writes it: milliseconds, with a fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Millis(pub Duration);

impl Serialize for Millis {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0.as_secs_f64() * 1000.0)
    }
}

impl PartialSchema for Millis {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(0))
            .description(Some("A duration in milliseconds."))
            .into()
    }
}

impl ToSchema for Millis {}

/// Any JSON value, as a flow's data is (inputs, outputs, defaults).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct AnyJson(pub Value);

impl PartialSchema for AnyJson {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
            .description(Some("Any JSON value."))
            .into()
    }
}

impl ToSchema for AnyJson {}

/// `?namespace=`, which every route about a namespace's things takes.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by name (request::NAMESPACE_PARAMS); this describes it
pub struct NamespaceParam {
    /// The namespace the request concerns.
    #[param(default = "default", min_length = 1)]
    namespace: Option<String>,
}

/// The execution a path names.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by axum's `Path`; this describes it
pub struct WorkflowIdPath {
    /// The execution's workflow id, percent-encoded as one path segment (a `/` in the id is
    /// sent as `%2F`).
    #[param(min_length = 1)]
    workflow_id: String,
}

/// `?run_id=`, which every route about one run of an execution takes.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by name (request::RUN_PARAMS); this describes it
pub struct RunParam {
    /// A run of the execution other than the current one; absent: the current (latest)
    /// run.
    #[param(min_length = 1)]
    run_id: Option<String>,
}

/// `?cursor=`, which paged routes take.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by name (request::decode_cursor); this describes it
pub struct CursorParam {
    /// The `next_cursor` of the previous page, unchanged (opaque); absent: the first page.
    cursor: Option<String>,
}

/// An answer that is one of several schemas which may overlap (a detail view is also a
/// summary), so `anyOf` rather than utoipa's `oneOf`.
pub fn any_of(names: &[&str]) -> RefOr<Schema> {
    let mut any = utoipa::openapi::schema::AnyOfBuilder::new();
    for name in names {
        any = any.item(utoipa::openapi::Ref::from_schema_name(*name));
    }
    any.into()
}

/// `response = NotFound` in a handler's `#[utoipa::path]`: a reference to the shared
/// answer, which [`add_error_answers`] writes.
pub struct NotFound;

/// `response = Conflict`: as [`NotFound`].
pub struct Conflict;

macro_rules! shared_answer {
    ($name:ident) => {
        impl<'a> utoipa::ToResponse<'a> for $name {
            fn response() -> (&'a str, RefOr<utoipa::openapi::Response>) {
                (
                    stringify!($name),
                    utoipa::openapi::ResponseBuilder::new()
                        .description("written by add_error_answers")
                        .build()
                        .into(),
                )
            }
        }
    };
}

shared_answer!(NotFound);
shared_answer!(Conflict);
