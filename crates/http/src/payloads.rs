//! How REST shows Temporal's payloads, events and failures to people: payloads as the JSON
//! values they carry, events and failures with their payloads so shown. The wire format
//! itself (protobuf JSON, payload encodings) is `keel_wire::json`'s.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use keel_core::Blob;
use keel_wire::json::{self as wire, JSON_ENCODING, NULL_ENCODING};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::openapi::Timestamp;

/// One payload as shown: the JSON value it carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Payload(pub Value);

impl PartialSchema for Payload {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some(
                "One payload: its JSON value when its encoding is `json/plain`, `null` for \
                 `binary/null`, and otherwise `{\"encoding\": \"...\", \"data_base64\": \"...\"}`.",
            ))
            .examples([
                json!({"order": 42}),
                Value::Null,
                json!({"encoding": "binary/protobuf", "data_base64": "CgRhYmNk"}),
            ])
            .into()
    }
}

impl ToSchema for Payload {}

/// Several payloads, as Temporal carries inputs and outputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Payloads(pub Vec<Payload>);

impl PartialSchema for Payloads {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(utoipa::openapi::Ref::from_schema_name(Payload::name()))
            .description(Some(
                "Several payloads (Temporal carries inputs and outputs as lists).",
            ))
            .into()
    }
}

impl ToSchema for Payloads {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Payload::name().into_owned(), Payload::schema()));
    }
}

/// One history event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Event {
    /// The event's id, from 1, in history order.
    #[schema(minimum = 1)]
    event_id: i64,
    /// When the event happened.
    time: Timestamp,
    /// Temporal's event type, e.g. `WorkflowExecutionStarted`.
    #[serde(rename = "type")]
    event_type: &'static str,
    /// The event's attributes, Temporal's, in protobuf JSON, with payloads shown as the
    /// values they carry.
    #[schema(value_type = Object)]
    attributes: Value,
}

impl From<&keel_core::Event> for Event {
    fn from(event: &keel_core::Event) -> Event {
        let proto = wire::event_json(event);
        let attributes = proto
            .as_object()
            .and_then(|fields| {
                fields
                    .iter()
                    .find(|(name, _)| name.ends_with("EventAttributes"))
                    .map(|(_, value)| value.clone())
            })
            .unwrap_or_else(|| json!({}));
        Event {
            event_id: event.id,
            time: Timestamp(event.time),
            event_type: event.kind.name(),
            attributes: readable(attributes),
        }
    }
}

/// A failure, with the chain of its causes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Failure {
    /// What went wrong.
    message: String,
    /// The SDK or component that produced the failure, or null.
    source: Option<String>,
    kind: FailureKind,
    /// The error type the failing code named; null for kinds without one.
    #[serde(rename = "type")]
    error_type: Option<String>,
    /// Whether retrying is pointless.
    non_retryable: bool,
    /// The failing code's stack trace, when it sent one.
    stack_trace: Option<String>,
    /// The kind's details as Temporal records them (payloads shown as values); null for an
    /// unknown kind.
    #[schema(value_type = Option<Object>)]
    info: Value,
    /// The failure that caused this one, or null.
    #[schema(no_recursion)]
    cause: Option<Box<Failure>>,
}

/// What kind of failure it is (which of Temporal's failure infos it carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Application,
    Timeout,
    Canceled,
    Terminated,
    Server,
    ResetWorkflow,
    Activity,
    ChildWorkflowExecution,
    NexusOperationExecution,
    NexusHandler,
    Unknown,
}

impl FailureKind {
    /// The kind of the failure info a protobuf JSON field names.
    fn of_info(field: &str) -> FailureKind {
        match field {
            "applicationFailureInfo" => FailureKind::Application,
            "timeoutFailureInfo" => FailureKind::Timeout,
            "canceledFailureInfo" => FailureKind::Canceled,
            "terminatedFailureInfo" => FailureKind::Terminated,
            "serverFailureInfo" => FailureKind::Server,
            "resetWorkflowFailureInfo" => FailureKind::ResetWorkflow,
            "activityFailureInfo" => FailureKind::Activity,
            "childWorkflowExecutionFailureInfo" => FailureKind::ChildWorkflowExecution,
            "nexusOperationExecutionFailureInfo" => FailureKind::NexusOperationExecution,
            "nexusHandlerFailureInfo" => FailureKind::NexusHandler,
            _ => FailureKind::Unknown,
        }
    }
}

impl From<&keel_core::Failure> for Failure {
    fn from(failure: &keel_core::Failure) -> Failure {
        Failure::from_proto_json(&wire::failure_json(failure))
    }
}

impl Failure {
    /// A failure the server itself reports, with only a kind and a message.
    pub fn new(kind: FailureKind, message: &str) -> Failure {
        Failure {
            message: message.to_owned(),
            source: None,
            kind,
            error_type: None,
            non_retryable: false,
            stack_trace: None,
            info: Value::Null,
            cause: None,
        }
    }

    /// A failure as Temporal's protobuf JSON has it (which leaves out empty fields).
    fn from_proto_json(proto: &Value) -> Failure {
        let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
        let info = proto.as_object().and_then(|fields| {
            fields
                .iter()
                .find(|(name, _)| name.ends_with("FailureInfo"))
        });
        let kind = info.map_or(FailureKind::Unknown, |(name, _)| FailureKind::of_info(name));
        let info = info.map_or(Value::Null, |(_, value)| readable(value.clone()));
        Failure {
            message: text(proto.get("message")).unwrap_or_default(),
            source: text(proto.get("source")),
            kind,
            error_type: text(info.get("type")),
            non_retryable: info
                .get("nonRetryable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            stack_trace: text(proto.get("stackTrace")),
            info,
            cause: proto
                .get("cause")
                .map(|cause| Box::new(Failure::from_proto_json(cause))),
        }
    }
}

/// Encoded `Payloads` as their values; none for none. Bytes that do not decode are shown
/// as one payload of unknown encoding.
pub fn payloads(blob: Option<&Blob>) -> Option<Payloads> {
    let blob = blob?;
    let shown = match wire::decode_payloads(blob) {
        Some(payloads) => payloads
            .iter()
            .map(|p| Payload(shown(&p.encoding, &p.data)))
            .collect(),
        None => vec![Payload(undecodable(blob))],
    };
    Some(Payloads(shown))
}

/// An encoded `Payload` (a memo entry, a search attribute) as its value.
pub fn payload(blob: &Blob) -> Value {
    match wire::decode_payload(blob) {
        Some(payload) => shown(&payload.encoding, &payload.data),
        None => undecodable(blob),
    }
}

/// A stored update outcome: its result, or why it was rejected or failed.
pub enum UpdateOutcome {
    Succeeded(Option<Payloads>),
    Failed(Failure),
}

impl From<&Blob> for UpdateOutcome {
    fn from(blob: &Blob) -> UpdateOutcome {
        match wire::update_outcome(blob) {
            wire::UpdateOutcome::Succeeded(result) => {
                UpdateOutcome::Succeeded(payloads(result.as_ref()))
            }
            wire::UpdateOutcome::Failed(failure) => {
                UpdateOutcome::Failed(Failure::from_proto_json(&failure))
            }
            wire::UpdateOutcome::Undecodable(error) => UpdateOutcome::Failed(Failure::new(
                FailureKind::Unknown,
                &format!("the stored outcome does not decode: {error}"),
            )),
        }
    }
}

fn undecodable(blob: &Blob) -> Value {
    json!({"encoding": "unknown", "data_base64": BASE64.encode(&blob.0)})
}

/// A payload's data as shown: its JSON value, `null`, or its encoding and bytes.
fn shown(encoding: &str, data: &[u8]) -> Value {
    match encoding {
        NULL_ENCODING => Value::Null,
        JSON_ENCODING => serde_json::from_slice(data)
            .unwrap_or_else(|_| json!({"encoding": encoding, "data_base64": BASE64.encode(data)})),
        _ => json!({"encoding": encoding, "data_base64": BASE64.encode(data)}),
    }
}

/// Replaces every payload in protobuf JSON (`{"metadata": {"encoding": ..}, "data": ..}`,
/// bytes in base64) by the value it carries.
fn readable(value: Value) -> Value {
    match value {
        Value::Object(fields) => {
            if let Some(shown) = payload_in_proto_json(&fields) {
                return shown;
            }
            Value::Object(
                fields
                    .into_iter()
                    .map(|(name, value)| (name, readable(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(readable).collect()),
        other => other,
    }
}

fn payload_in_proto_json(fields: &Map<String, Value>) -> Option<Value> {
    let metadata = fields.get("metadata")?.as_object()?;
    if fields
        .keys()
        .any(|name| name != "metadata" && name != "data")
    {
        return None;
    }
    let encoding = BASE64.decode(metadata.get("encoding")?.as_str()?).ok()?;
    let data = match fields.get("data") {
        Some(data) => BASE64.decode(data.as_str()?).ok()?,
        None => Vec::new(),
    };
    Some(shown(&String::from_utf8_lossy(&encoding), &data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_as_json_values() {
        let values = vec![json!({"order": 7}), json!("text"), json!(null)];
        let blob = wire::encode_payloads(&values);
        let shown = payloads(Some(&blob)).unwrap().0;
        assert_eq!(shown, values.into_iter().map(Payload).collect::<Vec<_>>());
        assert_eq!(payloads(None), None);
    }

    #[test]
    fn payloads_in_proto_json_become_values() {
        let proto = json!({"input": {"payloads": [
            {"metadata": {"encoding": BASE64.encode("json/plain")}, "data": BASE64.encode("[1,2]")},
            {"metadata": {"encoding": BASE64.encode("binary/null")}},
            {"metadata": {"encoding": BASE64.encode("binary/protobuf")}, "data": BASE64.encode("x")},
        ]}});
        assert_eq!(
            readable(proto),
            json!({"input": {"payloads": [[1, 2], null,
                {"encoding": "binary/protobuf", "data_base64": BASE64.encode("x")}]}})
        );
    }
}
