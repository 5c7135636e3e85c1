//! Reading requests strictly: query strings with only the parameters a route knows, JSON
//! bodies with clear messages, times, cursors and the run a path names.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as CURSOR;
use keel_core::{ExecutionKey, Time};
use keel_engine::Engine;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

pub const DEFAULT_NAMESPACE: &str = "default";

/// A query string's parameters, each given at most once.
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parses `raw`, refusing parameters not in `known` and repeated ones.
    pub fn parse(raw: Option<&str>, known: &[&str]) -> ApiResult<Params> {
        let mut params = HashMap::new();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            if !known.contains(&name.as_ref()) {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter '{name}'; this route takes: {}",
                    known.join(", ")
                )));
            }
            if params
                .insert(name.to_string(), value.into_owned())
                .is_some()
            {
                return Err(ApiError::bad_request(format!(
                    "query parameter '{name}' is given more than once"
                )));
            }
        }
        Ok(Params(params))
    }

    /// A parameter's value; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    pub fn namespace(&self) -> &str {
        self.get("namespace").unwrap_or(DEFAULT_NAMESPACE)
    }

    pub fn run_id(&self) -> &str {
        self.get("run_id").unwrap_or_default()
    }

    /// An integer parameter within `min..=max`, or `default` when absent.
    pub fn integer(&self, name: &str, min: i64, max: i64, default: i64) -> ApiResult<i64> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.parse::<i64>() {
            Ok(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(ApiError::bad_request(format!(
                "query parameter '{name}' must be an integer from {min} to {max}, not '{raw}'"
            ))),
        }
    }

    pub fn time(&self, name: &str) -> ApiResult<Option<Time>> {
        self.get(name).map(|raw| parse_time(name, raw)).transpose()
    }
}

/// An RFC 3339 time, as `name` of a request.
pub fn parse_time(name: &str, raw: &str) -> ApiResult<Time> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .ok()
        .and_then(|time| time.timestamp_nanos_opt())
        .map(Time)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "'{name}' must be an RFC 3339 time such as 2026-01-02T03:04:05Z, not '{raw}'"
            ))
        })
}

/// A JSON object body; an empty body is `{}`.
pub fn json_body(body: Result<Bytes, BytesRejection>) -> ApiResult<serde_json::Map<String, Value>> {
    let body = body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(format!(
                "the request body is larger than {} bytes",
                crate::MAX_BODY_BYTES
            ))
        } else {
            ApiError::bad_request(format!("cannot read the request body: {rejection}"))
        }
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(ApiError::bad_request(
            "the request body must be a JSON object",
        )),
        Err(error) => Err(ApiError::bad_request(format!(
            "the request body is not valid JSON: {error}"
        ))),
    }
}

/// Reads a body's fields, refusing those it does not know.
pub struct Body {
    fields: serde_json::Map<String, Value>,
}

impl Body {
    pub fn new(fields: serde_json::Map<String, Value>, known: &[&str]) -> ApiResult<Body> {
        if let Some(unknown) = fields.keys().find(|name| !known.contains(&name.as_str())) {
            return Err(ApiError::bad_request(format!(
                "unknown field '{unknown}' in the request body; known fields: {}",
                known.join(", ")
            )));
        }
        Ok(Body { fields })
    }

    pub fn value(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).filter(|value| !value.is_null())
    }

    pub fn string(&self, name: &str) -> ApiResult<Option<&str>> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(ApiError::bad_request(format!(
                "field '{name}' must be a string, not {other}"
            ))),
        }
    }

    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(other) => Err(ApiError::bad_request(format!(
                "field '{name}' must be true or false, not {other}"
            ))),
        }
    }
}

/// The run a request names: `run_id`, or the workflow id's current run.
pub async fn resolve(
    engine: &Engine,
    params: &Params,
    workflow_id: &str,
) -> ApiResult<ExecutionKey> {
    let run_id = params.run_id();
    let key = engine
        .resolve(params.namespace(), workflow_id, run_id)
        .await
        .map_err(|error| match error {
            keel_engine::Error::NotFound(_) => ApiError::not_found(format!(
                "execution '{workflow_id}' not found in namespace '{}'",
                params.namespace()
            )),
            other => other.into(),
        })?;
    Ok(key)
}

pub fn encode_cursor(token: &[u8]) -> Option<String> {
    (!token.is_empty()).then(|| CURSOR.encode(token))
}

pub fn decode_cursor(params: &Params) -> ApiResult<Vec<u8>> {
    match params.get("cursor") {
        None => Ok(Vec::new()),
        Some(cursor) => CURSOR.decode(cursor).map_err(|_| {
            ApiError::bad_request(format!("'{cursor}' is not a cursor this API gave"))
        }),
    }
}

/// The query parameters a route takes, named once for its handler (which refuses any
/// other) and for the route table (which a test checks against the OpenAPI document).
pub const NO_PARAMS: &[&str] = &[];
/// `?namespace=`, which every route about a namespace's things takes.
pub const NAMESPACE_PARAMS: &[&str] = &["namespace"];
/// A run of an execution: its namespace and, optionally, which run.
pub const RUN_PARAMS: &[&str] = &["namespace", "run_id"];
/// A body that must be empty (`{}`) or absent.
pub const NO_FIELDS: &[&str] = &[];
