//! Random flows under random outcomes: the interpreter never panics, decides the same
//! from the same history (checked at every step by the simulator), never schedules a task
//! run twice, and every flow ends once its task runs end.

mod sim;

use std::collections::HashSet;

use keel_core::Command;
use proptest::prelude::*;
use serde_json::{Value, json};
use sim::Sim;

/// A random task tree as a JSON document (which is YAML too); ids numbered in order.
fn task(depth: u32) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(json!({"type": "log", "message": "hello"})),
        Just(json!({"type": "return", "value": {"n": 1}})),
        Just(json!({"type": "shell", "commands": ["work"]})),
        Just(json!({"type": "sleep", "duration": "1s"})),
        Just(json!({"type": "shell", "commands": ["work"], "allowFailure": true})),
        Just(json!({"type": "shell", "commands": ["work"],
                    "retry": {"type": "random", "minInterval": "1s", "maxInterval": "2s", "maxAttempts": 3}})),
        Just(json!({"type": "Fail", "message": "stop", "allowFailure": true})),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    let list = prop::collection::vec(task(depth - 1), 1..4);
    prop_oneof![
        3 => leaf,
        1 => list.clone().prop_map(|tasks| json!({"type": "Sequential", "tasks": tasks})),
        1 => (list.clone(), 0u32..3).prop_map(|(tasks, limit)| json!({"type": "Parallel", "tasks": tasks, "concurrency": limit})),
        1 => (list.clone(), 0u32..3, 0usize..4).prop_map(|(tasks, limit, n)| {
            json!({"type": "ForEach", "values": (0..n).collect::<Vec<_>>(), "concurrencyLimit": limit, "tasks": tasks})
        }),
        1 => (list.clone(), list.clone(), any::<bool>()).prop_map(|(then, otherwise, flag)| {
            json!({"type": "If", "condition": if flag { "{{ true }}" } else { "{{ false }}" }, "then": then, "else": otherwise})
        }),
        1 => (list.clone(), list).prop_map(|(a, b)| json!({"type": "Switch", "value": "b", "cases": {"a": a, "b": b}})),
    ]
    .boxed()
}

/// Gives every task a unique id, in document order.
fn number(value: &mut Value, next: &mut usize) {
    match value {
        Value::Object(fields) => {
            if fields.contains_key("type") {
                fields.insert("id".into(), json!(format!("t{next}")));
                *next += 1;
            }
            for (name, field) in fields.iter_mut() {
                // A retry has a `type` too, but is no task.
                if name != "retry" {
                    number(field, next);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| number(item, next)),
        _ => {}
    }
}

/// What happens to each open task run at a step.
#[derive(Clone, Copy, Debug)]
enum Fate {
    Wait,
    Complete,
    Fail,
    Lose,
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![2 => Just(Fate::Wait), 5 => Just(Fate::Complete), 1 => Just(Fate::Fail), 1 => Just(Fate::Lose)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_flow_ends_and_never_runs_a_task_run_twice(
        tasks in prop::collection::vec(task(3), 1..4),
        errors in prop::collection::vec(task(1), 0..2),
        fates in prop::collection::vec(fate(), 200),
    ) {
        let mut document = json!({"id": "random", "tasks": tasks, "errors": errors});
        number(&mut document, &mut 0);
        let mut sim = Sim::start(&document.to_string(), json!({}));
        let mut scheduled = HashSet::new();
        let mut fates = fates.into_iter().cycle();
        for _ in 0..2000 {
            for command in sim.step() {
                if let Command::ScheduleActivity(activity) = command {
                    prop_assert!(scheduled.insert(activity.activity_id.clone()), "scheduled twice: {}", activity.activity_id);
                }
            }
            if sim.closed.is_some() {
                break;
            }
            let open = sim.open_ids();
            let timers = sim.open_timers();
            prop_assert!(!open.is_empty() || !timers.is_empty(), "the flow waits on nothing: {document}");
            for id in open {
                match fates.next().unwrap() {
                    Fate::Wait => {}
                    Fate::Complete => sim.complete(&id, json!({})),
                    Fate::Fail => sim.fail(&id, "it broke"),
                    Fate::Lose => sim.lose(&id),
                }
            }
            for timer in timers {
                sim.fire(&timer);
            }
        }
        prop_assert!(sim.closed.is_some(), "the flow never ended: {document}");
    }
}
