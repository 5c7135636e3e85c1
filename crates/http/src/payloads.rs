//! How REST shows Temporal's payloads, events and failures to people: payloads as the JSON
//! values they carry, events and failures with their payloads so shown. The wire format
//! itself (protobuf JSON, payload encodings) is `keel_wire::json`'s.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use keel_core::{Blob, Event};
use keel_wire::json::{self as wire, JSON_ENCODING, NULL_ENCODING, UpdateOutcome};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

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

/// One event for people: its id, time, type and attributes, with payloads shown as the
/// values they carry.
pub fn event(event: &Event) -> Value {
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
    json!({
        "event_id": event.id,
        "time": proto.get("eventTime").cloned().unwrap_or(Value::Null),
        "type": event.kind.name(),
        "attributes": readable(attributes),
    })
}

/// A failure and its causes for people: message, kind, type, details, stack trace.
pub fn failure(failure: &keel_core::Failure) -> Value {
    readable_failure(&wire::failure_json(failure))
}

fn readable_failure(proto: &Value) -> Value {
    let field = |name: &str| proto.get(name).cloned().unwrap_or(Value::Null);
    let info = proto.as_object().and_then(|fields| {
        fields
            .iter()
            .find(|(name, _)| name.ends_with("FailureInfo"))
    });
    let kind = info.map_or("unknown".to_owned(), |(name, _)| {
        snake_case(name.trim_end_matches("FailureInfo"))
    });
    let info = info.map_or(Value::Null, |(_, value)| readable(value.clone()));
    json!({
        "message": field("message"),
        "source": field("source"),
        "kind": kind,
        "type": info.get("type").cloned().unwrap_or(Value::Null),
        "non_retryable": info.get("nonRetryable").cloned().unwrap_or(Value::Bool(false)),
        "stack_trace": field("stackTrace"),
        "info": info,
        "cause": proto.get("cause").map_or(Value::Null, readable_failure),
    })
}

fn snake_case(camel: &str) -> String {
    let mut snake = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            snake.push('_');
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
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

/// A stored update outcome as JSON: `{"result": [..]}` for success, `{"failure": Failure}`
/// for a rejection or a failed handler.
pub fn update_outcome(blob: &Blob) -> Value {
    match wire::update_outcome(blob) {
        UpdateOutcome::Succeeded(result) => json!({"result": payloads(result.as_ref())}),
        UpdateOutcome::Failed(failure) => json!({"failure": readable_failure(&failure)}),
        UpdateOutcome::Undecodable(error) => {
            json!({"failure": {"message": format!("the stored outcome does not decode: {error}")}})
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
