//! A JSON Schema of flow documents, served for editors (`/api/v1/flows/schema.json`) so
//! they check documents as people type. The reader in `document.rs` is the authority; a
//! test checks that the schema names every task type and accepts the examples.

use serde_json::{Value, json};

use crate::document::TASK_TYPES;
use crate::inputs::InputType;

/// The schema, draft 2020-12.
pub fn schema() -> Value {
    let text = json!({"type": "string"});
    let duration = json!({"type": "string", "description": "ISO 8601 (PT1M30S) or short (90s, 1h30m, 250ms)."});
    let tasks = json!({"type": "array", "items": {"$ref": "#/$defs/task"}});
    let any = json!({});
    let map_of_text = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let specific: Vec<(&str, Value, Vec<&str>)> = vec![
        ("Sequential", json!({"tasks": tasks}), vec!["tasks"]),
        (
            "Parallel",
            json!({"tasks": tasks, "concurrency": {"type": "integer", "minimum": 0}}),
            vec!["tasks"],
        ),
        (
            "If",
            json!({"condition": text, "then": tasks, "else": tasks}),
            vec!["condition", "then"],
        ),
        (
            "Switch",
            json!({"value": text, "cases": {"type": "object", "additionalProperties": tasks}, "defaults": tasks}),
            vec!["value", "cases"],
        ),
        (
            "ForEach",
            json!({"values": {"type": ["array", "string"]}, "concurrencyLimit": {"type": "integer", "minimum": 0}, "tasks": tasks}),
            vec!["values", "tasks"],
        ),
        (
            "Subflow",
            json!({"namespace": text, "flowId": text, "inputs": {"type": "object"}, "wait": {"type": "boolean"},
                   "transmitFailed": {"type": "boolean"}}),
            vec!["flowId"],
        ),
        (
            "Pause",
            json!({"delay": duration, "onResume": {"type": "array", "items": {"$ref": "#/$defs/input"}}}),
            vec![],
        ),
        ("Fail", json!({"message": text}), vec![]),
        (
            "log",
            json!({"message": text, "level": {"enum": ["trace", "debug", "info", "warn", "error", "TRACE", "DEBUG", "INFO", "WARN", "ERROR"]}}),
            vec!["message"],
        ),
        ("sleep", json!({"duration": duration}), vec!["duration"]),
        ("return", json!({"value": any}), vec![]),
        (
            "http.request",
            json!({"uri": text, "method": text, "headers": map_of_text, "body": any,
                   "expectedStatus": {"type": ["integer", "array"], "items": {"type": "integer"}}}),
            vec!["uri"],
        ),
        (
            "shell",
            json!({"commands": {"type": ["string", "array"], "items": {"type": "string"}, "minItems": 1},
                   "env": map_of_text, "workingDirectory": text}),
            vec!["commands"],
        ),
        (
            "activity",
            json!({"activityType": text, "taskQueue": text, "input": any, "heartbeatTimeout": duration,
                   "scheduleToStartTimeout": duration}),
            vec!["activityType", "taskQueue"],
        ),
    ];
    assert_eq!(
        specific.len(),
        TASK_TYPES.len(),
        "every task type has a schema"
    );
    let variants: Vec<Value> = specific
        .into_iter()
        .map(|(name, properties, required)| {
            let mut all = json!({
                "id": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
                "type": {"const": name},
                "description": {"type": "string"},
                "allowFailure": {"type": "boolean"},
                "retry": {"$ref": "#/$defs/retry"},
                "timeout": duration,
            });
            all.as_object_mut()
                .expect("object")
                .extend(properties.as_object().expect("object").clone());
            let mut needed = vec!["id", "type"];
            needed.extend(required);
            json!({
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {"properties": all, "required": needed, "additionalProperties": false},
            })
        })
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "keel-flow.schema.json",
        "title": "Keel flow",
        "type": "object",
        "required": ["id", "tasks"],
        "additionalProperties": false,
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
            "namespace": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
            "description": text,
            "labels": map_of_text,
            "variables": {"type": "object"},
            "inputs": {"type": "array", "items": {"$ref": "#/$defs/input"}},
            "tasks": {"type": "array", "items": {"$ref": "#/$defs/task"}, "minItems": 1},
            "outputs": {"type": "array", "items": {
                "type": "object", "required": ["id", "value"], "additionalProperties": false,
                "properties": {"id": text, "value": any},
            }},
            "errors": tasks,
            "finally": tasks,
            "triggers": {"type": "array", "items": {"$ref": "#/$defs/trigger"}},
            "retry": {"$ref": "#/$defs/retry"},
            "timeout": duration,
            "concurrency": {
                "type": "object", "required": ["limit"], "additionalProperties": false,
                "properties": {"limit": {"type": "integer", "minimum": 1},
                               "behavior": {"enum": ["QUEUE", "CANCEL", "FAIL"]}},
            },
        },
        "$defs": {
            "task": {
                "type": "object",
                "required": ["id", "type"],
                "properties": {"type": {"enum": TASK_TYPES}},
                "allOf": variants,
            },
            "input": {
                "type": "object",
                "required": ["id"],
                "additionalProperties": false,
                "properties": {
                    "id": text,
                    "type": {"enum": InputType::NAMES},
                    "description": text,
                    "required": {"type": "boolean"},
                    "defaults": any,
                    "pattern": text,
                    "min": {"type": "number"},
                    "max": {"type": "number"},
                    "values": {"type": "array"},
                },
            },
            "retry": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "type": {"enum": ["constant", "exponential", "random"]},
                    "interval": duration,
                    "minInterval": duration,
                    "maxInterval": duration,
                    "multiplier": {"type": "number", "minimum": 1},
                    "maxAttempts": {"type": "integer", "minimum": 1},
                },
            },
            "trigger": {
                "type": "object",
                "required": ["id", "type"],
                "properties": {"type": {"enum": ["Schedule", "Webhook", "Flow"]}},
                "allOf": [
                    {"if": {"properties": {"type": {"const": "Schedule"}}}, "then": {
                        "required": ["cron"], "additionalProperties": false,
                        "properties": {"id": text, "type": text, "cron": text, "timezone": text, "inputs": {"type": "object"},
                                       "overlap": {"enum": ["SKIP", "BUFFER_ONE", "BUFFER_ALL", "CANCEL_OTHER", "TERMINATE_OTHER", "ALLOW_ALL"]},
                                       "catchupWindow": duration}}},
                    {"if": {"properties": {"type": {"const": "Webhook"}}}, "then": {
                        "required": ["key"], "additionalProperties": false,
                        "properties": {"id": text, "type": text, "key": {"type": "string", "minLength": 16}}}},
                    {"if": {"properties": {"type": {"const": "Flow"}}}, "then": {
                        "required": ["filter"], "additionalProperties": false,
                        "properties": {"id": text, "type": text, "filter": text, "states": {"type": "array", "items": text},
                                       "inputs": {"type": "object"}}}},
                ],
            },
        },
    })
}

/// A flow document's YAML as JSON (what editors check against the schema); `Err` names
/// the YAML problem.
pub fn yaml_as_json(text: &str) -> Result<Value, crate::Problem> {
    crate::yaml::load(text).map(|node| crate::yaml::value(&node))
}
