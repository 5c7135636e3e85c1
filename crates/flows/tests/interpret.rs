//! The interpreter over simulated histories: what each kind of task schedules, in which
//! order, and how the flow ends.

mod sim;

use keel_core::Command;
use keel_core::event::ChildOutcome;
use serde_json::json;
use sim::Sim;

#[test]
fn sequential_tasks_run_one_after_another_and_outputs_flow_on() {
    let mut sim = Sim::start(
        r#"
id: greet
tasks:
  - id: first
    type: return
    value: {name: "{{ inputs.who }}"}
  - id: second
    type: log
    message: "hello {{ outputs.first.name }}"
outputs:
  - id: said
    value: "{{ outputs.first.name }}!"
"#,
        json!({"who": "ada"}),
    );
    // The flow takes no declared inputs but was given one: starting refuses that, here
    // the start is made by hand.
    sim.step();
    assert_eq!(sim.open_ids(), ["first"]);
    sim.run_builtin("first");
    sim.step();
    let open = sim.open_activities();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].1, "keel.log");
    assert_eq!(open[0].2["task"]["message"], "hello ada");
    sim.run_builtin("second");
    sim.step();
    assert_eq!(sim.closed, Some(Ok(json!({"outputs": {"said": "ada!"}}))));
}

#[test]
fn parallel_branches_respect_their_limit() {
    let mut sim = Sim::start(
        r#"
id: fan
tasks:
  - id: all
    type: Parallel
    concurrency: 2
    tasks:
      - {id: a, type: log, message: a}
      - {id: b, type: log, message: b}
      - {id: c, type: log, message: c}
"#,
        json!({}),
    );
    sim.step();
    assert_eq!(sim.open_ids(), ["a", "b"]);
    sim.run_builtin("b");
    sim.step();
    assert_eq!(sim.open_ids(), ["a", "c"]);
    sim.run_builtin("a");
    sim.run_builtin("c");
    sim.step();
    assert!(matches!(sim.closed, Some(Ok(_))));
}

#[test]
fn for_each_runs_an_item_at_a_time_and_keys_outputs_by_item() {
    let mut sim = Sim::start(
        r#"
id: loop
inputs:
  - {id: items, type: ARRAY}
tasks:
  - id: each
    type: ForEach
    values: "{{ inputs.items }}"
    tasks:
      - id: double
        type: return
        value: "{{ taskrun.value * 2 }}"
outputs:
  - id: doubled
    value: "{{ outputs.double }}"
"#,
        json!({"items": [1, 2, 3]}),
    );
    sim.step();
    assert_eq!(sim.open_ids(), ["double[0]"]);
    sim.run_builtin("double[0]");
    sim.step();
    assert_eq!(sim.open_ids(), ["double[1]"]);
    let closed = sim.run_builtins_to_end();
    assert_eq!(
        closed,
        Some(Ok(
            json!({"outputs": {"doubled": {"1": 2, "2": 4, "3": 6}}})
        ))
    );
}

#[test]
fn for_each_with_no_limit_starts_every_item() {
    let mut sim = Sim::start(
        "id: loop\ntasks:\n  - id: each\n    type: ForEach\n    values: [a, b, c]\n    concurrencyLimit: 0\n    tasks:\n      - {id: say, type: log, message: '{{ taskrun.value }}'}\n",
        json!({}),
    );
    sim.step();
    assert_eq!(sim.open_ids(), ["say[0]", "say[1]", "say[2]"]);
}

#[test]
fn if_and_switch_take_one_branch_and_record_it() {
    let yaml = r#"
id: choose
inputs:
  - {id: n, type: INT}
  - {id: mode, type: SELECT, values: [fast, slow]}
tasks:
  - id: big
    type: If
    condition: "{{ inputs.n > 10 }}"
    then:
      - {id: yes, type: log, message: big}
    else:
      - {id: no, type: log, message: small}
  - id: route
    type: Switch
    value: "{{ inputs.mode }}"
    cases:
      fast: [{id: quick, type: log, message: quick}]
    defaults: [{id: careful, type: log, message: careful}]
"#;
    let mut sim = Sim::start(yaml, json!({"n": 3, "mode": "slow"}));
    let commands = sim.step();
    assert!(
        matches!(&commands[0], Command::RecordMarker { .. }),
        "{commands:?}"
    );
    assert_eq!(sim.open_ids(), ["no"]);
    sim.run_builtin("no");
    sim.step();
    assert_eq!(sim.open_ids(), ["careful"]);
}

#[test]
fn a_failure_runs_the_errors_tasks_then_fails_the_flow() {
    let mut sim = Sim::start(
        r#"
id: breaks
tasks:
  - {id: work, type: shell, commands: [exit 1]}
  - {id: never, type: log, message: never}
errors:
  - {id: alert, type: log, level: error, message: "it broke"}
finally:
  - {id: cleanup, type: log, message: done}
"#,
        json!({}),
    );
    sim.step();
    sim.fail("work", "exit code 1");
    sim.step();
    assert_eq!(sim.open_ids(), ["alert"]);
    sim.run_builtin("alert");
    sim.step();
    assert_eq!(sim.open_ids(), ["cleanup"]);
    sim.run_builtin("cleanup");
    sim.step();
    let Some(Err(message)) = &sim.closed else {
        panic!("{:?}", sim.closed)
    };
    assert!(
        message.contains("task 'work' failed: exit code 1"),
        "{message}"
    );
}

#[test]
fn allow_failure_lets_the_flow_go_on() {
    let mut sim = Sim::start(
        "id: lenient\ntasks:\n  - {id: flaky, type: shell, commands: [false], allowFailure: true}\n  - {id: next, type: log, message: next}\n",
        json!({}),
    );
    sim.step();
    sim.fail("flaky", "exit code 1");
    sim.step();
    assert_eq!(sim.open_ids(), ["next"]);
}

#[test]
fn an_expression_that_fails_fails_its_task_for_good() {
    let mut sim = Sim::start(
        "id: typo\ntasks:\n  - {id: say, type: log, message: '{{ inputs.nmae }}'}\n",
        json!({}),
    );
    let commands = sim.step();
    assert!(
        matches!(&commands[0], Command::RecordMarker { .. }),
        "{commands:?}"
    );
    let Some(Err(message)) = &sim.closed else {
        panic!("{:?}", sim.closed)
    };
    assert!(
        message.contains("say") && message.contains("undefined"),
        "{message}"
    );
}

#[test]
fn a_pause_waits_for_a_resume_and_its_inputs_become_outputs() {
    let mut sim = Sim::start(
        r#"
id: approval
tasks:
  - id: approve
    type: Pause
    timeout: PT1H
    onResume:
      - {id: ok, type: BOOLEAN}
  - id: after
    type: log
    message: "approved: {{ outputs.approve.ok }}"
"#,
        json!({}),
    );
    sim.step();
    assert_eq!(sim.open_timers(), ["approve~timeout"]);
    assert!(sim.step().is_empty(), "nothing to do while paused");
    sim.resume("approve", json!({"ok": true}));
    let commands = sim.step();
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, Command::CancelTimer { .. })),
        "{commands:?}"
    );
    assert_eq!(
        sim.open_activities()[0].2["task"]["message"],
        "approved: true"
    );
}

#[test]
fn a_pause_not_resumed_in_time_fails() {
    let mut sim = Sim::start(
        "id: p\ntasks:\n  - {id: approve, type: Pause, timeout: 1m}\n",
        json!({}),
    );
    sim.step();
    sim.fire("approve~timeout");
    sim.step();
    let Some(Err(message)) = &sim.closed else {
        panic!("{:?}", sim.closed)
    };
    assert!(message.contains("not resumed within 1m"), "{message}");
}

#[test]
fn sleep_is_a_timer() {
    let mut sim = Sim::start(
        "id: s\ntasks:\n  - {id: nap, type: sleep, duration: PT5S}\n",
        json!({}),
    );
    let commands = sim.step();
    assert!(
        matches!(&commands[0], Command::StartTimer { timer_id, start_to_fire_timeout }
        if timer_id == "nap" && start_to_fire_timeout.as_secs() == 5)
    );
    sim.fire("nap");
    sim.step();
    assert!(matches!(sim.closed, Some(Ok(_))));
}

#[test]
fn a_subflow_is_a_child_whose_outputs_come_back() {
    let mut sim = Sim::start(
        "id: parent\ntasks:\n  - {id: child, type: Subflow, flowId: billing, inputs: {amount: 5}}\noutputs:\n  - {id: total, value: '{{ outputs.child.total }}'}\n",
        json!({}),
    );
    sim.step();
    let children = sim.children();
    assert_eq!(children[0].0, "exec:child");
    assert_eq!(children[0].1, "billing");
    assert_eq!(children[0].2["inputs"], json!({"amount": 5}));
    assert_eq!(
        children[0].2["revision"],
        json!(null),
        "the worker fills in the latest revision"
    );
    sim.close_child(
        "exec:child",
        ChildOutcome::Completed {
            result: sim::payload(json!({"outputs": {"total": 42}})),
        },
    );
    sim.step();
    assert_eq!(sim.closed, Some(Ok(json!({"outputs": {"total": 42}}))));
}

#[test]
fn a_built_in_task_run_lost_with_its_server_runs_again() {
    let mut sim = Sim::start(
        "id: crash\ntasks:\n  - {id: work, type: shell, commands: [sleep 60]}\n",
        json!({}),
    );
    sim.step();
    sim.lose("work");
    sim.step();
    assert_eq!(sim.open_ids(), ["work#2"]);
    sim.run_builtin("work#2");
    sim.step();
    assert!(matches!(sim.closed, Some(Ok(_))));
}

#[test]
fn an_activity_task_goes_to_its_queue_with_its_retry() {
    let mut sim = Sim::start(
        r#"
id: external
tasks:
  - id: charge
    type: activity
    activityType: Charge
    taskQueue: payments
    input: {amount: 3}
    timeout: PT30S
    retry: {type: exponential, interval: 2s, maxAttempts: 4, maxInterval: 1m}
"#,
        json!({}),
    );
    let commands = sim.step();
    let Command::ScheduleActivity(activity) = &commands[0] else {
        panic!("{commands:?}")
    };
    assert_eq!(
        (
            activity.activity_type.as_str(),
            activity.task_queue.as_str()
        ),
        ("Charge", "payments")
    );
    assert_eq!(activity.start_to_close_timeout.as_secs(), 30);
    let retry = activity.retry_policy.as_ref().unwrap();
    assert_eq!(
        (
            retry.maximum_attempts,
            retry.backoff_coefficient,
            retry.maximum_interval.as_secs()
        ),
        (4, 2.0, 60)
    );
    assert_eq!(sim::value(activity.input.as_ref()), json!({"amount": 3}));
}

#[test]
fn replayed_task_runs_are_not_run_again() {
    let flow = keel_flows::parse(
        "id: r\ntasks:\n  - {id: one, type: return, value: 1}\n  - {id: two, type: return, value: '{{ outputs.one + 1 }}'}\noutputs:\n  - {id: two, value: '{{ outputs.two }}'}\n",
    )
    .unwrap();
    let mut start = keel_flows::runtime::FlowStart::new("default", "r", 2, Default::default());
    start.reused.insert("one".into(), json!(10));
    let mut sim = Sim::with_start(flow, start);
    sim.step();
    assert_eq!(sim.open_ids(), ["two"]);
    assert_eq!(sim.open_activities()[0].2["task"]["value"], 11);
}

#[test]
fn finished_outputs_are_those_before_the_chosen_task_run() {
    let mut sim = Sim::start(
        "id: three\ntasks:\n  - {id: a, type: return, value: 1}\n  - {id: b, type: shell, commands: [x]}\n  - {id: c, type: return, value: 3}\n",
        json!({}),
    );
    sim.step();
    sim.run_builtin("a");
    sim.step();
    sim.lose("b");
    sim.step();
    sim.fail("b#2", "broke");
    sim.step();
    assert!(matches!(sim.closed, Some(Err(_))));
    let all = keel_flows::interpret::finished_outputs(&sim.history, None).unwrap();
    assert_eq!(all, [("a".to_owned(), json!(1))].into());
    assert_eq!(
        keel_flows::interpret::first_failed_task_run(&sim.history).as_deref(),
        Some("b")
    );
    let before_b = keel_flows::interpret::finished_outputs(&sim.history, Some("b")).unwrap();
    assert_eq!(before_b, [("a".to_owned(), json!(1))].into());
    let before_a = keel_flows::interpret::finished_outputs(&sim.history, Some("a")).unwrap();
    assert!(before_a.is_empty());
    assert!(keel_flows::interpret::finished_outputs(&sim.history, Some("c")).is_err());
}

#[test]
fn task_states_say_where_each_task_is() {
    let mut sim = Sim::start(
        r#"
id: states
tasks:
  - id: first
    type: return
    value: 1
  - id: both
    type: Parallel
    concurrency: 1
    tasks:
      - {id: wait, type: Pause}
      - {id: later, type: log, message: later}
  - {id: never, type: log, message: never}
"#,
        json!({}),
    );
    sim.step();
    sim.run_builtin("first");
    sim.step();
    let states = keel_flows::interpret::task_states(
        &sim.flow,
        &keel_flows::interpret::Execution {
            namespace: "default",
            workflow_id: "exec",
            run_id: "run",
            history: &sim.history,
        },
    );
    let expected: std::collections::BTreeMap<String, &str> = [
        ("first", "completed"),
        ("both", "waiting"),
        ("wait", "waiting"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(
        states, expected,
        "a branch held back by the limit is not reached yet"
    );
}

#[test]
fn a_random_retry_waits_a_random_while_between_attempts_then_gives_up() {
    let mut sim = Sim::start(
        r#"
id: jittery
tasks:
  - id: call
    type: shell
    commands: [flaky]
    retry: {type: random, minInterval: 1s, maxInterval: 5s, maxAttempts: 3}
"#,
        json!({}),
    );
    let commands = sim.step();
    let Command::ScheduleActivity(first) = &commands[0] else {
        panic!("{commands:?}")
    };
    assert_eq!(
        first.retry_policy.as_ref().unwrap().maximum_attempts,
        1,
        "the engine tries each attempt once"
    );
    for attempt in 1..=2 {
        let id = if attempt == 1 {
            "call".to_owned()
        } else {
            format!("call#{attempt}")
        };
        sim.fail(&id, "boom");
        let commands = sim.step();
        let Command::StartTimer {
            timer_id,
            start_to_fire_timeout,
        } = &commands[0]
        else {
            panic!("{commands:?}")
        };
        assert_eq!(timer_id, &format!("call~retry{attempt}"));
        assert!(
            (1..=5).contains(&start_to_fire_timeout.as_secs()),
            "{start_to_fire_timeout:?}"
        );
        sim.fire(timer_id);
        sim.step();
        assert_eq!(sim.open_ids(), [format!("call#{}", attempt + 1)]);
    }
    sim.fail("call#3", "boom");
    sim.step();
    let Some(Err(message)) = &sim.closed else {
        panic!("{:?}", sim.closed)
    };
    assert!(message.contains("task 'call' failed: boom"), "{message}");
}

#[test]
fn a_random_retry_that_succeeds_keeps_the_attempts_output() {
    let mut sim = Sim::start(
        "id: j\ntasks:\n  - {id: call, type: return, value: 7, retry: {type: random, minInterval: 0s, maxInterval: 1s, maxAttempts: 2}}\noutputs:\n  - {id: v, value: '{{ outputs.call }}'}\n",
        json!({}),
    );
    sim.step();
    sim.fail("call", "boom");
    sim.step();
    sim.fire("call~retry1");
    sim.step();
    sim.run_builtin("call#2");
    sim.step();
    assert_eq!(sim.closed, Some(Ok(json!({"outputs": {"v": 7}}))));
}

#[test]
fn a_finished_subflow_is_reused_by_a_replay_rather_than_run_again() {
    let yaml = "id: p\ntasks:\n  - {id: child, type: Subflow, flowId: billing}\n  - {id: after, type: shell, commands: [x]}\noutputs:\n  - {id: total, value: '{{ outputs.child.total }}'}\n";
    let mut sim = Sim::start(yaml, json!({}));
    sim.step();
    sim.close_child(
        "exec:child",
        ChildOutcome::Completed {
            result: sim::payload(json!({"outputs": {"total": 42}})),
        },
    );
    sim.step();
    sim.fail("after", "broke");
    sim.step();
    let reused = keel_flows::interpret::finished_outputs(&sim.history, None).unwrap();
    assert_eq!(reused, [("child".to_owned(), json!({"total": 42}))].into());

    let mut start = keel_flows::runtime::FlowStart::new("default", "p", 1, Default::default());
    start.reused = reused;
    let mut replay = Sim::with_start(keel_flows::parse(yaml).unwrap(), start);
    replay.step();
    assert!(replay.children().is_empty(), "the subflow is not run again");
    assert_eq!(replay.open_ids(), ["after"]);
    replay.run_builtin("after");
    replay.step();
    assert_eq!(replay.closed, Some(Ok(json!({"outputs": {"total": 42}}))));
}

const NIGHTLY: &str = r#"
id: nightly
tasks:
  - {id: day, type: return, value: "{{ trigger.date | default('by hand') }}"}
outputs:
  - {id: day, value: "{{ outputs.day }}"}
triggers:
  - {id: midnight, type: Schedule, cron: "0 0 * * *", timezone: Europe/Paris}
"#;

/// A run its Schedule trigger started reads the time it was due, in the trigger's time
/// zone, as `trigger.date`; a run started by hand has no `trigger.date`.
#[test]
fn a_scheduled_run_reads_when_it_was_due() {
    use keel_core::EventKind;
    use keel_core::search::{SearchAttribute, SearchValue};

    let mut scheduled = Sim::start(NIGHTLY, json!({}));
    let EventKind::WorkflowExecutionStarted(started) = &mut scheduled.history[0].kind else {
        unreachable!()
    };
    let due = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00+01:00").unwrap();
    for (name, value) in [
        (
            "TemporalScheduledById",
            SearchValue::Keyword("flow:nightly:midnight".into()),
        ),
        (
            "TemporalScheduledStartTime",
            SearchValue::Datetime(due.timestamp_nanos_opt().unwrap()),
        ),
    ] {
        started.search_attributes.insert(
            name.into(),
            SearchAttribute {
                payload: keel_core::Blob(Vec::new()),
                value: Some(value),
            },
        );
    }
    assert_eq!(
        keel_flows::interpret::trigger_of(&scheduled.flow, &scheduled.history),
        Some(json!({"type": "schedule", "id": "midnight", "date": "2026-01-01T00:00:00+01:00"}))
    );
    assert_eq!(
        scheduled.run_builtins_to_end(),
        Some(Ok(json!({"outputs": {"day": "2026-01-01T00:00:00+01:00"}})))
    );

    let mut by_hand = Sim::start(NIGHTLY, json!({}));
    assert_eq!(
        keel_flows::interpret::trigger_of(&by_hand.flow, &by_hand.history),
        None
    );
    assert_eq!(
        by_hand.run_builtins_to_end(),
        Some(Ok(json!({"outputs": {"day": "by hand"}})))
    );
}

/// What each task run gave, in the order they ran: outputs, errors, and those reused from
/// an earlier execution.
#[test]
fn task_run_reports_show_outputs_and_errors_in_order() {
    use keel_flows::interpret::task_run_reports;

    let yaml = r#"
id: report
tasks:
  - {id: first, type: return, value: {n: 1}}
  - id: each
    type: ForEach
    values: [x, y]
    tasks:
      - {id: echo, type: return, value: "{{ taskrun.value }}"}
  - {id: bad, type: return, value: "{{ outputs.first.missing + 1 }}"}
"#;
    let mut sim = Sim::start(yaml, json!({}));
    let closed = sim.run_builtins_to_end();
    assert!(matches!(closed, Some(Err(_))), "{closed:?}");
    let reports = task_run_reports(&sim.history).unwrap();
    let seen: Vec<(&str, &str, u32)> = reports
        .iter()
        .map(|report| (report.task_run.as_str(), report.state, report.starts))
        .collect();
    assert_eq!(
        seen,
        [
            ("first", "completed", 1),
            ("echo[0]", "completed", 1),
            ("echo[1]", "completed", 1),
            ("bad", "failed", 0)
        ]
    );
    assert_eq!(reports[0].outputs, Some(json!({"n": 1})));
    assert_eq!(reports[2].outputs, Some(json!("y")));
    assert!(
        reports[3].error.as_deref().unwrap().contains("undefined"),
        "{:?}",
        reports[3]
    );

    let mut start = keel_flows::runtime::FlowStart::new("default", "report", 1, Default::default());
    start.reused.insert("first".into(), json!({"n": 1}));
    let sim = Sim::with_start(keel_flows::parse(yaml).unwrap(), start);
    let reports = task_run_reports(&sim.history).unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        (reports[0].state, reports[0].outputs.clone()),
        ("reused", Some(json!({"n": 1})))
    );
}
