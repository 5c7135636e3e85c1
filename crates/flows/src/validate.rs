//! The checks a flow document must pass besides its shape: unique ids, expressions that
//! parse and read only what exists, triggers that make sense.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::document::{Flow, Task, TaskKind, TriggerKind};
use crate::error::{Location, Problem};
use crate::expr;

/// Adds the problems of `flow` to `problems`.
pub fn check(flow: &Flow, problems: &mut Vec<Problem>) {
    let mut report = |at: Option<Location>, message: String| problems.push(Problem { at, message });
    if !flow.id.is_empty() && !is_name(&flow.id) {
        report(
            None,
            format!(
                "flow id '{}' may hold only letters, digits, '-', '_' and '.'",
                flow.id
            ),
        );
    }
    if !is_name(&flow.namespace) {
        report(
            None,
            format!(
                "namespace '{}' may hold only letters, digits, '-', '_' and '.'",
                flow.namespace
            ),
        );
    }
    let mut seen: BTreeMap<&str, Option<Location>> = BTreeMap::new();
    for task in flow.all_tasks() {
        if task.id.is_empty() {
            continue;
        }
        if !is_task_id(&task.id) {
            report(
                task.at,
                format!(
                    "task id '{}' may hold only letters, digits, '-' and '_'",
                    task.id
                ),
            );
        }
        if let Some(first) = seen.insert(&task.id, task.at) {
            let first = first.map_or(String::new(), |at| format!(" (first at {at})"));
            report(
                task.at,
                format!("task id '{}' is used twice{first}", task.id),
            );
        }
    }
    let task_ids: BTreeSet<&str> = seen.keys().copied().collect();
    for (what, ids) in [
        (
            "input",
            flow.inputs
                .iter()
                .map(|input| (input.id.as_str(), input.at))
                .collect::<Vec<_>>(),
        ),
        (
            "output",
            flow.outputs
                .iter()
                .map(|output| (output.id.as_str(), output.at))
                .collect(),
        ),
        (
            "trigger",
            flow.triggers
                .iter()
                .map(|trigger| (trigger.id.as_str(), trigger.at))
                .collect(),
        ),
    ] {
        let mut seen = BTreeSet::new();
        for (id, at) in ids {
            if !seen.insert(id) {
                report(at, format!("{what} id '{id}' is used twice"));
            }
        }
    }
    let mut checker = Checker {
        task_ids: &task_ids,
        problems: Vec::new(),
    };
    for list in [&flow.tasks, &flow.errors, &flow.finally] {
        checker.tasks(list, false);
    }
    for output in &flow.outputs {
        checker.value(
            &output.value,
            output.at,
            &format!("output '{}'", output.id),
            false,
        );
    }
    for trigger in &flow.triggers {
        let what = format!("trigger '{}'", trigger.id);
        match &trigger.kind {
            TriggerKind::Schedule { cron, timezone, .. } => {
                // Read as the schedule it becomes will read it.
                if let Err(error) = keel_core::schedule::spec::parse_cron(cron) {
                    checker.report(trigger.at, format!("{what}: cron '{cron}': {error}"));
                }
                if let Some(zone) = timezone
                    && let Err(error) = keel_core::schedule::spec::time_zone(zone)
                {
                    checker.report(
                        trigger.at,
                        format!("{what}: {error} (name one such as Europe/Paris)"),
                    );
                }
            }
            TriggerKind::Webhook { key } => {
                if key.len() < 16 {
                    checker.report(trigger.at, format!("{what}: a webhook key must be at least 16 characters (it is the webhook's password)"));
                }
            }
            TriggerKind::Flow { states, .. } => {
                let known = crate::runtime::CLOSED_STATES;
                for state in states {
                    if !known.contains(&state.as_str()) {
                        checker.report(
                            trigger.at,
                            format!("{what}: '{state}' is not one of {}", known.join(", ")),
                        );
                    }
                }
            }
        }
    }
    problems.extend(checker.problems);
}

/// Flow ids and namespaces: what a workflow type and a URL path segment carry safely.
pub fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 200
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Task ids also name task runs (`id[2]` inside a loop), so no dots or brackets.
pub fn is_task_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 100
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
}

struct Checker<'f> {
    task_ids: &'f BTreeSet<&'f str>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, at: Option<Location>, message: String) {
        self.problems.push(Problem { at, message });
    }

    fn tasks(&mut self, tasks: &[Task], in_loop: bool) {
        for task in tasks {
            self.task(task, in_loop);
        }
    }

    /// The expressions in one text: they parse, read known roots, name existing tasks.
    fn text(&mut self, text: &str, at: Option<Location>, what: &str, in_loop: bool) {
        match expr::check(text) {
            Err(error) => self.report(at, format!("{what}: {error}")),
            Ok(names) => {
                for name in names {
                    let mut parts = name.split('.');
                    match (parts.next(), parts.next()) {
                        (Some("outputs"), Some(task)) if !self.task_ids.contains(task) => {
                            self.report(
                                at,
                                format!("{what}: outputs.{task} names no task of this flow"),
                            );
                        }
                        (Some("taskrun"), _) if !in_loop => {
                            self.report(
                                at,
                                format!("{what}: 'taskrun' exists only inside a ForEach"),
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn value(&mut self, value: &Value, at: Option<Location>, what: &str, in_loop: bool) {
        match value {
            Value::String(text) => self.text(text, at, what, in_loop),
            Value::Array(items) => items
                .iter()
                .for_each(|item| self.value(item, at, what, in_loop)),
            Value::Object(fields) => fields
                .values()
                .for_each(|field| self.value(field, at, what, in_loop)),
            _ => {}
        }
    }

    fn task(&mut self, task: &Task, in_loop: bool) {
        let what = format!("task '{}'", task.id);
        let at = task.at;
        let empty = |tasks: &[Task]| tasks.is_empty();
        match &task.kind {
            TaskKind::Sequential { tasks } | TaskKind::Parallel { tasks, .. } => {
                if empty(tasks) {
                    self.report(at, format!("{what} has no tasks"));
                }
                self.tasks(tasks, in_loop);
            }
            TaskKind::If {
                condition,
                then,
                otherwise,
            } => {
                self.text(condition, at, &what, in_loop);
                if empty(then) {
                    self.report(at, format!("{what} has no 'then' tasks"));
                }
                self.tasks(then, in_loop);
                self.tasks(otherwise, in_loop);
            }
            TaskKind::Switch {
                value,
                cases,
                defaults,
            } => {
                self.text(value, at, &what, in_loop);
                for tasks in cases.values() {
                    self.tasks(tasks, in_loop);
                }
                self.tasks(defaults, in_loop);
            }
            TaskKind::ForEach { values, tasks, .. } => {
                match values {
                    Value::Array(_) => {}
                    Value::String(text) if expr::is_template(text) => {}
                    _ => self.report(
                        at,
                        format!("{what}: 'values' must be a list, or an expression giving one"),
                    ),
                }
                self.value(values, at, &what, in_loop);
                if empty(tasks) {
                    self.report(at, format!("{what} has no tasks"));
                }
                self.tasks(tasks, true);
            }
            TaskKind::Subflow {
                namespace,
                flow_id,
                inputs,
                ..
            } => {
                if !is_name(flow_id) {
                    self.report(at, format!("{what}: flowId '{flow_id}' is not a flow id"));
                }
                if let Some(namespace) = namespace
                    && !is_name(namespace)
                {
                    self.report(
                        at,
                        format!("{what}: namespace '{namespace}' is not a namespace name"),
                    );
                }
                self.value(&Value::Object(inputs.clone()), at, &what, in_loop);
            }
            TaskKind::Pause { .. } | TaskKind::Sleep { .. } => {}
            TaskKind::Fail { message } => self.text(message, at, &what, in_loop),
            TaskKind::Log { message, .. } => self.text(message, at, &what, in_loop),
            TaskKind::Return { value } => self.value(value, at, &what, in_loop),
            TaskKind::HttpRequest {
                uri, headers, body, ..
            } => {
                self.text(uri, at, &what, in_loop);
                for header in headers.values() {
                    self.text(header, at, &what, in_loop);
                }
                if let Some(body) = body {
                    self.value(body, at, &what, in_loop);
                }
            }
            TaskKind::Shell {
                commands,
                env,
                working_directory,
            } => {
                for command in commands {
                    self.text(command, at, &what, in_loop);
                }
                for value in env.values() {
                    self.text(value, at, &what, in_loop);
                }
                if let Some(directory) = working_directory {
                    self.text(directory, at, &what, in_loop);
                }
            }
            TaskKind::Activity { input, .. } => {
                if let Some(input) = input {
                    self.value(input, at, &what, in_loop);
                }
            }
        }
    }
}
