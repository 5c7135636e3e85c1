//! Reading flow documents: a full one reads, and each kind of mistake is one located
//! problem.

use keel_flows::document::{ConcurrencyBehavior, RetryKind, TaskKind, TriggerKind};
use keel_flows::inputs::InputType;
use keel_flows::{Location, parse};

const FULL: &str = r#"
id: orders
namespace: default
description: Process a batch of orders.
labels:
  team: shop
variables:
  greeting: hello
inputs:
  - id: items
    type: ARRAY
  - id: mode
    type: SELECT
    values: [fast, careful]
    defaults: fast
tasks:
  - id: hello
    type: log
    message: "{{ vars.greeting }}, {{ inputs.items | length }} items"
  - id: branches
    type: Parallel
    concurrency: 2
    tasks:
      - id: left
        type: shell
        commands:
          - echo left
      - id: right
        type: http.request
        uri: http://127.0.0.1:9/ping
        expectedStatus: [200, 204]
  - id: each
    type: ForEach
    values: "{{ inputs.items }}"
    concurrencyLimit: 0
    tasks:
      - id: one
        type: return
        value:
          item: "{{ taskrun.value }}"
  - id: route
    type: Switch
    value: "{{ inputs.mode }}"
    cases:
      fast:
        - id: quick
          type: sleep
          duration: PT1S
    defaults:
      - id: slow
        type: activity
        activityType: inspect
        taskQueue: inspectors
        retry:
          type: exponential
          interval: 1s
          maxAttempts: 5
  - id: approve
    type: Pause
    timeout: PT1H
    onResume:
      - id: approved
        type: BOOLEAN
outputs:
  - id: greeting
    value: "{{ outputs.hello }}"
errors:
  - id: alert
    type: log
    level: error
    message: failed
triggers:
  - id: nightly
    type: Schedule
    cron: "0 2 * * *"
    timezone: Europe/Paris
concurrency:
  limit: 1
  behavior: FAIL
"#;

#[test]
fn a_full_document_reads() {
    let flow = parse(FULL).unwrap_or_else(|problems| panic!("{problems}"));
    assert_eq!(flow.id, "orders");
    assert_eq!(flow.labels["team"], "shop");
    assert_eq!(flow.inputs[1].input_type, InputType::Select);
    assert_eq!(flow.tasks.len(), 5);
    let TaskKind::Parallel { tasks, concurrency } = &flow.tasks[1].kind else {
        panic!("{:?}", flow.tasks[1].kind)
    };
    assert_eq!((tasks.len(), *concurrency), (2, Some(2)));
    let TaskKind::ForEach { concurrency, .. } = &flow.tasks[2].kind else {
        panic!()
    };
    assert_eq!(*concurrency, 0);
    let TaskKind::Switch {
        cases, defaults, ..
    } = &flow.tasks[3].kind
    else {
        panic!()
    };
    assert_eq!(cases["fast"][0].id, "quick");
    let retry = defaults[0].retry.as_ref().unwrap();
    assert_eq!(retry.max_attempts, 5);
    assert!(matches!(retry.kind, RetryKind::Exponential { multiplier, .. } if multiplier == 2.0));
    assert_eq!(
        flow.tasks[4].timeout,
        Some(std::time::Duration::from_secs(3600))
    );
    assert!(matches!(
        flow.triggers[0].kind,
        TriggerKind::Schedule { .. }
    ));
    assert_eq!(
        flow.concurrency.unwrap().behavior,
        ConcurrencyBehavior::Fail
    );
    assert_eq!(
        flow.tasks[0].at,
        Some(Location {
            line: 17,
            column: 5
        })
    );
}

/// The first problem of `text`, as one line.
fn problem(text: &str) -> String {
    parse(text)
        .expect_err("the document is refused")
        .to_string()
}

#[test]
fn each_mistake_is_reported_with_its_line_and_column() {
    let cases = [
        (
            "id: x\ntasks:\n  - id: a\n    type: log\n    message: [unclosed\n",
            "line 6",
            "invalid YAML",
        ),
        (
            "id: x\ntasks:\n  - id: a\n    type: lgo\n    message: hi\n",
            "line 4, column 11",
            "unknown task type 'lgo'",
        ),
        (
            "id: x\ntasks:\n  - id: a\n    type: shell\n    comands: [ls]\n",
            "line 5, column 5",
            "did you mean it instead of 'comands'",
        ),
        (
            "id: x\ntasks:\n  - id: a\n    type: log\n    message: \"{{ outputs.b.x }}\"\n",
            "line 3, column 5",
            "outputs.b names no task",
        ),
        (
            "id: x\ntasks:\n  - id: a\n    type: log\n    message: \"{{ inputs.x + }}\"\n",
            "line 3, column 5",
            "task 'a'",
        ),
        (
            "id: x\ntasks:\n  - id: a\n    type: log\n    message: hi\n  - id: a\n    type: log\n    message: again\n",
            "line 6, column 5",
            "used twice",
        ),
        (
            "id: x\ntasks:\n  - id: a\n    type: sleep\n    duration: soon\n",
            "line 5",
            "not a duration",
        ),
        (
            "id: x\ntasks:\n  - id: a\n    type: log\n    message: \"{{ taskrun.value }}\"\n",
            "line 3",
            "only inside a ForEach",
        ),
        (
            "id: x\ninputs:\n  - id: n\n    type: INT\n    min: 5\n    max: 1\ntasks:\n  - id: a\n    type: log\n    message: hi\n",
            "line 3",
            "'min' is above 'max'",
        ),
        (
            "id: x\ntasks:\n  - id: a\n    type: log\n    message: hi\ntriggers:\n  - id: t\n    type: Schedule\n    cron: every day\n",
            "line 7",
            "cron",
        ),
        ("id: x\ntasks: []\n", "", "needs 'tasks'"),
        (
            "id: x\ntasks:\n  - {id: a, type: log, message: hi}\ntriggers:\n  - {id: t, type: Schedule, cron: '@daily', overlap: SOMETIMES}\n",
            "line 5",
            "overlap 'SOMETIMES' is not one of",
        ),
        (
            "id: x\ntasks:\n  - id: a\n    type: log\n    message: hi\n    retry:\n      type: fibonacci\n      interval: 1s\n",
            "line 7",
            "retry type 'fibonacci'",
        ),
        ("id: x\nid: y\ntasks: []\n", "line 2", "'id' is given twice"),
    ];
    for (text, at, says) in cases {
        let problem = problem(text);
        assert!(
            problem.contains(at) && problem.contains(says),
            "{text}\n=> {problem}"
        );
    }
}

#[test]
fn an_empty_task_list_is_refused() {
    let problem = problem("id: x\ntasks:\n  - id: p\n    type: Parallel\n    tasks: []\n");
    assert!(problem.contains("task 'p' has no tasks"), "{problem}");
}
