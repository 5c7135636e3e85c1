//! Temporal's wire format as JSON, for the HTTP frontend: histories in the protobuf JSON
//! that Temporal's tools export and the SDKs' replayers load, and payloads shown as the
//! JSON values they carry. Only this crate knows protobuf, so the rendering lives here.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use keel_core::{Blob, Event};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use serde_json::{Map, Value, json};
use temporalio_protos::temporal::api::common::v1 as common;

use crate::history::{to_history, to_history_event};

/// Every message `temporalio-protos` knows, as `build.rs` copied its descriptor set.
static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/temporal_descriptors.bin"));

const JSON_ENCODING: &str = "json/plain";
const NULL_ENCODING: &str = "binary/null";

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(DESCRIPTORS).expect("temporalio-protos' descriptor set decodes")
    })
}

/// `message` in protobuf's canonical JSON mapping.
fn proto_json<M: Message>(message: &M, full_name: &str) -> Value {
    let descriptor = pool()
        .get_message_by_name(full_name)
        .unwrap_or_else(|| panic!("{full_name} is in the descriptor set"));
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .expect("a message decodes with its own descriptor");
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
        .expect("protobuf JSON of a decoded message")
}

/// A whole history as Temporal exports it (`{"events": [...]}`, protobuf JSON).
pub fn history_export(events: &[Event]) -> Value {
    proto_json(&to_history(events), "temporal.api.history.v1.History")
}

/// One event for people: its id, time, type and attributes, with payloads shown as the
/// values they carry.
pub fn event(event: &Event) -> Value {
    let proto = proto_json(
        &to_history_event(event),
        "temporal.api.history.v1.HistoryEvent",
    );
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
    let proto = proto_json(
        &crate::convert::to_failure(failure),
        "temporal.api.failure.v1.Failure",
    );
    readable_failure(&proto)
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

/// Encoded `Payloads` as a JSON array of their values; `Null` for none.
pub fn payloads(blob: Option<&Blob>) -> Value {
    let Some(blob) = blob else {
        return Value::Null;
    };
    match common::Payloads::decode(blob.0.as_slice()) {
        Ok(payloads) => Value::Array(payloads.payloads.iter().map(payload_value).collect()),
        Err(_) => undecodable(blob),
    }
}

/// An encoded `Payload` (a memo entry, a search attribute) as its value.
pub fn payload(blob: &Blob) -> Value {
    match common::Payload::decode(blob.0.as_slice()) {
        Ok(payload) => payload_value(&payload),
        Err(_) => undecodable(blob),
    }
}

/// JSON values as `Payloads` in the SDKs' default encoding (`json/plain`).
pub fn encode_payloads(values: &[Value]) -> Blob {
    let payloads = common::Payloads {
        payloads: values
            .iter()
            .map(|value| common::Payload {
                metadata: [("encoding".to_owned(), JSON_ENCODING.as_bytes().to_vec())].into(),
                data: serde_json::to_vec(value).expect("a JSON value serialises"),
                ..Default::default()
            })
            .collect(),
    };
    Blob(payloads.encode_to_vec())
}

fn undecodable(blob: &Blob) -> Value {
    json!({"encoding": "unknown", "data_base64": BASE64.encode(&blob.0)})
}

fn payload_value(payload: &common::Payload) -> Value {
    let encoding = payload
        .metadata
        .get("encoding")
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .unwrap_or_default();
    shown(&encoding, &payload.data)
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

/// An update request as Temporal encodes it (`temporal.api.update.v1.Request`), from a
/// name and JSON arguments: what a client that is not an SDK (the REST API) sends.
pub fn encode_update_request(update_id: &str, name: &str, args: &[Value], identity: &str) -> Blob {
    use temporalio_protos::temporal::api::update::v1 as update;
    let request = update::Request {
        meta: Some(update::Meta {
            update_id: update_id.to_owned(),
            identity: identity.to_owned(),
        }),
        input: Some(update::Input {
            name: name.to_owned(),
            args: (!args.is_empty()).then(|| {
                common::Payloads::decode(&encode_payloads(args).0[..])
                    .expect("payloads just encoded decode")
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    Blob(request.encode_to_vec())
}

/// A stored update outcome (`temporal.api.update.v1.Outcome`) as JSON: `{"result": [..]}`
/// for success, `{"failure": Failure}` for a rejection or a failed handler.
pub fn update_outcome(blob: &Blob) -> Value {
    use temporalio_protos::temporal::api::update::v1 as update;
    match update::Outcome::decode(&blob.0[..]) {
        Ok(update::Outcome {
            value: Some(update::outcome::Value::Success(payloads)),
        }) => json!({"result": payloads_json(&payloads)}),
        Ok(update::Outcome {
            value: Some(update::outcome::Value::Failure(failure)),
        }) => {
            json!({"failure": readable_failure(&proto_json(&failure, "temporal.api.failure.v1.Failure"))})
        }
        Ok(update::Outcome { value: None }) => json!({"result": null}),
        Err(error) => {
            json!({"failure": {"message": format!("the stored outcome does not decode: {error}")}})
        }
    }
}

fn payloads_json(values: &common::Payloads) -> Value {
    payloads(Some(&Blob(values.encode_to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_as_json_values() {
        let values = vec![json!({"order": 7}), json!("text"), json!(null)];
        let blob = encode_payloads(&values);
        assert_eq!(payloads(Some(&blob)), Value::Array(values));
        assert_eq!(payloads(None), Value::Null);
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
