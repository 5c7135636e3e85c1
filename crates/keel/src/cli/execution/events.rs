//! Reading Temporal history events as they arrive on the stream: the milestone lines
//! `logs --follow` prints and the run state `watch` shows.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cli::table::text;

/// `WorkflowExecutionStarted`, also when the server spells it `EVENT_TYPE_WORKFLOW_EXECUTION_STARTED`.
pub fn event_type(event: &Value) -> String {
    let raw = event["type"]
        .as_str()
        .or(event["event_type"].as_str())
        .unwrap_or("");
    let Some(upper) = raw.strip_prefix("EVENT_TYPE_") else {
        return raw.to_string();
    };
    upper
        .split('_')
        .map(|word| {
            let lower = word.to_lowercase();
            let mut chars = lower.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        })
        .collect::<Vec<String>>()
        .join("")
}

/// An attribute in protobuf JSON (`activityId`) or with proto names (`activity_id`); the
/// attributes may also still be wrapped in their `...EventAttributes` object.
fn attribute<'a>(event: &'a Value, camel: &str, snake: &str) -> &'a Value {
    let mut attributes = &event["attributes"];
    if let Some(map) = attributes.as_object()
        && map.len() == 1
        && let Some((key, inner)) = map.iter().next()
        && key.to_lowercase().ends_with("attributes")
    {
        attributes = inner;
    }
    if attributes[camel].is_null() {
        &attributes[snake]
    } else {
        &attributes[camel]
    }
}

/// A name nested as `{"name": ..}` (workflow type, task queue), or the value itself.
fn name_of(value: &Value) -> String {
    if value["name"].is_null() {
        text(value)
    } else {
        text(&value["name"])
    }
}

/// Turns history events into the milestone lines a person follows.
#[derive(Default)]
pub struct Milestones {
    /// Scheduled event id to activity id: later activity events refer to the scheduling one.
    activity_ids: BTreeMap<String, String>,
}

impl Milestones {
    pub fn describe(&mut self, event: &Value) -> Option<(&'static str, String)> {
        let scheduled_id = text(attribute(event, "scheduledEventId", "scheduled_event_id"));
        let activity = self
            .activity_ids
            .get(&scheduled_id)
            .cloned()
            .unwrap_or_else(|| "?".to_string());
        let failure = text(&attribute(event, "failure", "failure")["message"]);
        let described = match event_type(event).as_str() {
            "WorkflowExecutionStarted" => (
                "info",
                format!(
                    "execution started: {} on queue {}",
                    name_of(attribute(event, "workflowType", "workflow_type")),
                    name_of(attribute(event, "taskQueue", "task_queue"))
                ),
            ),
            "ActivityTaskScheduled" => {
                let activity_id = text(attribute(event, "activityId", "activity_id"));
                self.activity_ids
                    .insert(text(&event["event_id"]), activity_id);
                return None;
            }
            "ActivityTaskStarted" => (
                "info",
                format!(
                    "task run {activity} started (attempt {})",
                    text(attribute(event, "attempt", "attempt"))
                ),
            ),
            "ActivityTaskCompleted" => ("info", format!("task run {activity} completed")),
            "ActivityTaskFailed" => ("warn", format!("task run {activity} failed: {failure}")),
            "ActivityTaskTimedOut" => ("warn", format!("task run {activity} timed out")),
            "ActivityTaskCanceled" => ("warn", format!("task run {activity} canceled")),
            "TimerStarted" => (
                "info",
                format!(
                    "timer {} started ({})",
                    text(attribute(event, "timerId", "timer_id")),
                    text(attribute(
                        event,
                        "startToFireTimeout",
                        "start_to_fire_timeout"
                    ))
                ),
            ),
            "TimerFired" => (
                "info",
                format!(
                    "timer {} fired",
                    text(attribute(event, "timerId", "timer_id"))
                ),
            ),
            "WorkflowExecutionSignaled" => (
                "info",
                format!(
                    "signal {} received",
                    text(attribute(event, "signalName", "signal_name"))
                ),
            ),
            "WorkflowExecutionCancelRequested" => ("warn", "cancellation requested".to_string()),
            "WorkflowExecutionCompleted" => ("info", "execution completed".to_string()),
            "WorkflowExecutionFailed" => ("error", format!("execution failed: {failure}")),
            "WorkflowExecutionTimedOut" => ("error", "execution timed out".to_string()),
            "WorkflowExecutionCanceled" => ("warn", "execution canceled".to_string()),
            "WorkflowExecutionTerminated" => (
                "error",
                format!(
                    "execution terminated: {}",
                    text(attribute(event, "reason", "reason"))
                ),
            ),
            "WorkflowExecutionContinuedAsNew" => (
                "info",
                format!(
                    "execution continued as new in run {}",
                    text(attribute(
                        event,
                        "newExecutionRunId",
                        "new_execution_run_id"
                    ))
                ),
            ),
            _ => return None,
        };
        Some(described)
    }
}

/// What `watch` knows about the run, rebuilt from its history events.
#[derive(Default)]
pub struct RunState {
    pub n_events: u64,
    pub status: String,
    pub closed: bool,
    /// The time of the latest event.
    pub last_time: Value,
    /// `Some(true)` once a worker took the workflow task, `Some(false)` while it waits.
    workflow_task_started: Option<bool>,
    /// Open task runs by scheduled event id: (activity id, started).
    task_runs: BTreeMap<String, (String, bool)>,
}

impl RunState {
    pub fn apply(&mut self, event: &Value) {
        self.n_events += 1;
        self.last_time = event["time"].clone();
        let scheduled_id = text(attribute(event, "scheduledEventId", "scheduled_event_id"));
        match event_type(event).as_str() {
            "WorkflowExecutionStarted" => self.status = "running".to_string(),
            "WorkflowTaskScheduled" => self.workflow_task_started = Some(false),
            "WorkflowTaskStarted" => self.workflow_task_started = Some(true),
            "WorkflowTaskCompleted" | "WorkflowTaskFailed" | "WorkflowTaskTimedOut" => {
                self.workflow_task_started = None
            }
            "ActivityTaskScheduled" => {
                let activity_id = text(attribute(event, "activityId", "activity_id"));
                self.task_runs
                    .insert(text(&event["event_id"]), (activity_id, false));
            }
            "ActivityTaskStarted" => {
                if let Some(task_run) = self.task_runs.get_mut(&scheduled_id) {
                    task_run.1 = true;
                }
            }
            "ActivityTaskCompleted"
            | "ActivityTaskFailed"
            | "ActivityTaskTimedOut"
            | "ActivityTaskCanceled" => {
                self.task_runs.remove(&scheduled_id);
            }
            closing => {
                let status = match closing {
                    "WorkflowExecutionCompleted" => "completed",
                    "WorkflowExecutionFailed" => "failed",
                    "WorkflowExecutionTimedOut" => "timed_out",
                    "WorkflowExecutionCanceled" => "canceled",
                    "WorkflowExecutionTerminated" => "terminated",
                    "WorkflowExecutionContinuedAsNew" => "continued_as_new",
                    _ => return,
                };
                self.status = status.to_string();
                self.closed = true;
            }
        }
    }

    /// The board's phase, as the server defines it in docs/rest-api.md.
    pub fn phase(&self) -> &'static str {
        if self.closed {
            return match self.status.as_str() {
                "completed" | "continued_as_new" => "completed",
                "canceled" => "cancelled",
                _ => "failed",
            };
        }
        let any_task_started = self.workflow_task_started == Some(true)
            || self.task_runs.values().any(|(_, started)| *started);
        let any_task_waiting = self.workflow_task_started == Some(false)
            || self.task_runs.values().any(|(_, started)| !*started);
        if !any_task_started && any_task_waiting {
            "pending"
        } else {
            "running"
        }
    }

    pub fn current_task(&self) -> String {
        if self.closed {
            return "-".to_string();
        }
        if let Some((activity_id, _)) = self.task_runs.values().find(|(_, started)| *started) {
            return format!("task run {activity_id} running");
        }
        if let Some((activity_id, _)) = self.task_runs.values().next() {
            return format!("task run {activity_id} waiting for a worker");
        }
        match self.workflow_task_started {
            Some(true) => "workflow task running".to_string(),
            Some(false) => "workflow task waiting for a worker".to_string(),
            None => "waiting (timers, signals or children)".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn history_events_become_milestones_and_run_state() {
        let history = [
            json!({"event_id": 1, "type": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
                   "attributes": {"workflowType": {"name": "Order"}, "taskQueue": {"name": "orders"}}}),
            json!({"event_id": 2, "type": "WorkflowTaskScheduled", "attributes": {}}),
            json!({"event_id": 3, "type": "WorkflowTaskStarted", "attributes": {}}),
            json!({"event_id": 4, "type": "WorkflowTaskCompleted", "attributes": {}}),
            json!({"event_id": 5, "type": "ActivityTaskScheduled", "attributes": {"activityId": "charge"}}),
            json!({"event_id": 6, "type": "ActivityTaskStarted", "attributes": {"scheduledEventId": "5", "attempt": 2}}),
            json!({"event_id": 7, "type": "ActivityTaskFailed",
                   "attributes": {"activityTaskFailedEventAttributes": {"scheduledEventId": "5", "failure": {"message": "card declined"}}}}),
            json!({"event_id": 8, "type": "WorkflowExecutionFailed", "attributes": {"failure": {"message": "gave up"}}}),
        ];
        let mut milestones = Milestones::default();
        let mut state = RunState::default();
        let mut lines = Vec::new();
        let mut phases = Vec::new();
        for event in &history {
            lines.extend(
                milestones
                    .describe(event)
                    .map(|(level, message)| format!("{level} {message}")),
            );
            state.apply(event);
            phases.push(format!(
                "{} {} {}",
                state.status,
                state.phase(),
                state.current_task()
            ));
        }
        assert_eq!(
            lines,
            [
                "info execution started: Order on queue orders",
                "info task run charge started (attempt 2)",
                "warn task run charge failed: card declined",
                "error execution failed: gave up",
            ]
        );
        assert_eq!(
            phases[1],
            "running pending workflow task waiting for a worker"
        );
        assert_eq!(
            phases[4],
            "running pending task run charge waiting for a worker"
        );
        assert_eq!(phases[5], "running running task run charge running");
        assert_eq!(phases[7], "failed failed -");
        assert_eq!(state.n_events, 8);
    }
}
