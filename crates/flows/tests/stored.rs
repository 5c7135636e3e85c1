//! The shapes a flow execution stores in its history, pinned: a start payload, a built-in
//! task run's input, a decision marker and a resume signal written by format 1 must read
//! back, and must still be written the same way.

use keel_flows::runtime::{
    BuiltinTask, Decision, FORMAT, FlowStart, Resume, START_WITH_TRIGGER_FORMAT, TaskRunInput,
};
use serde_json::{Value, json};

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    stored: Value,
    expected: T,
) {
    let read: T = serde_json::from_value(stored.clone()).expect("the stored shape reads");
    assert_eq!(read, expected);
    assert_eq!(
        serde_json::to_value(&read).unwrap(),
        stored,
        "written as before"
    );
}

#[test]
fn format_1_reads_back_and_is_written_the_same() {
    assert_eq!(
        FORMAT, 1,
        "a new format needs new pinned shapes beside these"
    );
    let mut start = FlowStart::new(
        "default",
        "orders",
        3,
        json!({"n": 1}).as_object().unwrap().clone(),
    );
    round_trip(
        json!({"format": 1, "namespace": "default", "flow": "orders", "revision": 3, "inputs": {"n": 1}}),
        start.clone(),
    );
    start.reused.insert("fetch".into(), json!({"status": 200}));
    start.revision = None;
    round_trip(
        json!({"format": 1, "namespace": "default", "flow": "orders", "revision": null, "inputs": {"n": 1},
               "reused": {"fetch": {"status": 200}}}),
        start,
    );
    round_trip(
        json!({"format": 1, "flow": "orders", "task_id": "sh", "task_run": "sh[2]",
               "task": {"type": "shell", "commands": ["echo hi"], "env": {"A": "b"}, "working_directory": null}}),
        TaskRunInput {
            format: 1,
            flow: "orders".into(),
            task_id: "sh".into(),
            task_run: "sh[2]".into(),
            task: BuiltinTask::Shell {
                commands: vec!["echo hi".into()],
                env: [("A".to_owned(), "b".to_owned())].into(),
                working_directory: None,
            },
        },
    );
    round_trip(
        json!({"type": "http.request", "uri": "http://x", "method": "POST", "headers": {}, "body": {"a": 1}, "expected_status": [201]}),
        BuiltinTask::HttpRequest {
            uri: "http://x".into(),
            method: "POST".into(),
            headers: Default::default(),
            body: Some(json!({"a": 1})),
            expected_status: vec![201],
        },
    );
    round_trip(
        json!({"type": "log", "level": "info", "message": "m"}),
        BuiltinTask::Log {
            level: "info".into(),
            message: "m".into(),
        },
    );
    round_trip(
        json!({"type": "return", "value": [1]}),
        BuiltinTask::Return { value: json!([1]) },
    );
    round_trip(
        json!({"format": 1, "task_run": "each", "value": [1, 2]}),
        Decision {
            format: 1,
            task_run: "each".into(),
            value: json!([1, 2]),
            error: None,
        },
    );
    round_trip(
        json!({"format": 1, "task_run": "say", "value": null, "error": "undefined value"}),
        Decision {
            format: 1,
            task_run: "say".into(),
            value: Value::Null,
            error: Some("undefined value".into()),
        },
    );
    round_trip(
        json!({"format": 1, "task_run": "approve", "inputs": {"ok": true}}),
        Resume {
            format: 1,
            task_run: "approve".into(),
            inputs: json!({"ok": true}).as_object().unwrap().clone(),
        },
    );
}

/// Format 2 is a start payload that carries what `{{ trigger }}` reads; a start without one
/// is still written as format 1.
#[test]
fn a_start_with_a_trigger_is_format_2_and_reads_back() {
    assert_eq!(START_WITH_TRIGGER_FORMAT, 2);
    let inputs = json!({"n": 1}).as_object().unwrap().clone();
    let trigger = json!({"type": "webhook", "id": "hook", "body": {"n": 1}});
    let stored = json!({"format": 2, "namespace": "default", "flow": "orders", "revision": 3,
                        "inputs": {"n": 1}, "trigger": trigger});
    let start = FlowStart::new("default", "orders", 3, inputs.clone()).with_trigger(Some(trigger));
    round_trip(stored.clone(), start.clone());
    assert_eq!(FlowStart::from_json(&stored).unwrap(), start);
    let plain = FlowStart::new("default", "orders", 3, inputs).with_trigger(None);
    assert_eq!(plain.to_json()["format"], 1);
}

#[test]
fn a_start_of_an_unknown_format_is_refused_by_name() {
    let error = FlowStart::from_json(&json!({"format": 3, "flow": "x"})).unwrap_err();
    assert!(
        error.contains("format 3") && error.contains("reads formats 1 and 2"),
        "{error}"
    );
}
