//! Temporal's own JSON and payloads: histories and failures in the protobuf JSON that
//! Temporal's tools export and the SDKs' replayers load, payloads decoded into their encoding
//! and bytes, JSON values encoded as the SDKs' default payloads, and update messages.
//! How REST shows these to people is the HTTP frontend's business.

use std::sync::OnceLock;

use keel_core::{Blob, Event};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use serde_json::Value;
use temporalio_protos::temporal::api::common::v1 as common;
use temporalio_protos::temporal::api::update::v1 as update;

use crate::history::{to_history, to_history_event};

/// Every message `temporalio-protos` knows, as `build.rs` copied its descriptor set.
static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/temporal_descriptors.bin"));

/// The SDKs' encoding of a JSON value.
pub const JSON_ENCODING: &str = "json/plain";
/// The SDKs' encoding of "no value".
pub const NULL_ENCODING: &str = "binary/null";

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

/// One event as Temporal's `HistoryEvent` in protobuf JSON.
pub fn event_json(event: &Event) -> Value {
    proto_json(
        &to_history_event(event),
        "temporal.api.history.v1.HistoryEvent",
    )
}

/// A failure and its causes as Temporal's `Failure` in protobuf JSON.
pub fn failure_json(failure: &keel_core::Failure) -> Value {
    proto_json(
        &crate::convert::to_failure(failure),
        "temporal.api.failure.v1.Failure",
    )
}

/// One payload: how it is encoded and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    pub encoding: String,
    pub data: Vec<u8>,
}

impl Payload {
    fn of(payload: &common::Payload) -> Payload {
        Payload {
            encoding: payload
                .metadata
                .get("encoding")
                .map(|e| String::from_utf8_lossy(e).into_owned())
                .unwrap_or_default(),
            data: payload.data.clone(),
        }
    }
}

/// Encoded `Payloads`; `None` when the bytes are not Temporal's `Payloads`.
pub fn decode_payloads(blob: &Blob) -> Option<Vec<Payload>> {
    let payloads = common::Payloads::decode(blob.0.as_slice()).ok()?;
    Some(payloads.payloads.iter().map(Payload::of).collect())
}

/// An encoded `Payload` (a memo entry, a search attribute); `None` when it is not one.
pub fn decode_payload(blob: &Blob) -> Option<Payload> {
    common::Payload::decode(blob.0.as_slice())
        .ok()
        .map(|payload| Payload::of(&payload))
}

/// JSON values as `Payloads` in the SDKs' default encoding (`json/plain`).
pub fn encode_payloads(values: &[Value]) -> Blob {
    Blob(json_payloads(values).encode_to_vec())
}

fn json_payloads(values: &[Value]) -> common::Payloads {
    common::Payloads {
        payloads: values
            .iter()
            .map(|value| common::Payload {
                metadata: [("encoding".to_owned(), JSON_ENCODING.as_bytes().to_vec())].into(),
                data: value.to_string().into_bytes(),
                ..Default::default()
            })
            .collect(),
    }
}

/// An update request as Temporal encodes it (`temporal.api.update.v1.Request`), from a
/// name and JSON arguments: what a client that is not an SDK (the REST API) sends.
pub fn encode_update_request(update_id: &str, name: &str, args: &[Value], identity: &str) -> Blob {
    let request = update::Request {
        meta: Some(update::Meta {
            update_id: update_id.to_owned(),
            identity: identity.to_owned(),
        }),
        input: Some(update::Input {
            name: name.to_owned(),
            args: (!args.is_empty()).then(|| json_payloads(args)),
            ..Default::default()
        }),
        ..Default::default()
    };
    Blob(request.encode_to_vec())
}

/// A stored update outcome (`temporal.api.update.v1.Outcome`).
#[derive(Clone, Debug, PartialEq)]
pub enum UpdateOutcome {
    /// The handler's result, as encoded `Payloads` (`None`: no result).
    Succeeded(Option<Blob>),
    /// The rejection or the handler's failure, as `Failure` in protobuf JSON.
    Failed(Value),
    /// The bytes are not an outcome.
    Undecodable(String),
}

pub fn update_outcome(blob: &Blob) -> UpdateOutcome {
    match update::Outcome::decode(&blob.0[..]) {
        Ok(update::Outcome {
            value: Some(update::outcome::Value::Success(payloads)),
        }) => UpdateOutcome::Succeeded(Some(Blob(payloads.encode_to_vec()))),
        Ok(update::Outcome {
            value: Some(update::outcome::Value::Failure(failure)),
        }) => UpdateOutcome::Failed(proto_json(&failure, "temporal.api.failure.v1.Failure")),
        Ok(update::Outcome { value: None }) => UpdateOutcome::Succeeded(None),
        Err(error) => UpdateOutcome::Undecodable(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_values_encode_as_the_sdks_default_payloads() {
        let values = vec![json!({"order": 7}), json!("text"), json!(null)];
        let decoded = decode_payloads(&encode_payloads(&values)).unwrap();
        assert!(decoded.iter().all(|p| p.encoding == JSON_ENCODING));
        let back: Vec<Value> = decoded
            .iter()
            .map(|p| serde_json::from_slice(&p.data).unwrap())
            .collect();
        assert_eq!(back, values);
        assert_eq!(decode_payloads(&Blob(vec![0xff, 0xff])), None);
    }

    #[test]
    fn an_update_request_carries_its_name_id_and_arguments() {
        let blob = encode_update_request("u-1", "add", &[json!(3)], "rest");
        let request = update::Request::decode(&blob.0[..]).unwrap();
        assert_eq!(request.meta.unwrap().update_id, "u-1");
        let input = request.input.unwrap();
        assert_eq!(input.name, "add");
        assert_eq!(input.args.unwrap().payloads[0].data, b"3");
    }
}
