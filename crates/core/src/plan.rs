//! Planned runs: work saved to start later, that is not an execution yet.
//!
//! A planned run names what to start (workflow type, task queue, input, workflow id) and,
//! optionally, when. It becomes an execution when an operator starts it or its start time
//! comes; then it is gone, and the execution is what remains. Its start's request id is fixed
//! when the plan is made, so starting it again (after a crash between the start and the
//! plan's removal, or from two nodes at once) finds the run started before instead of
//! starting another.

use serde::{Deserialize, Serialize};

use crate::{Blob, Rejection, Time};

/// The longest id, name or note a plan takes, as Temporal limits ids.
const MAX_FIELD_LENGTH: usize = 1000;
/// The longest note.
const MAX_NOTE_LENGTH: usize = 4000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    pub namespace: String,
    pub id: String,
    /// Bumped by every committed change; the store compares it.
    pub version: i64,
    pub what: PlannedStart,
    /// When it starts by itself; never, without one.
    pub start_at: Option<Time>,
    /// What a person wrote about it.
    pub note: String,
    /// The request id its start sends (see the module's comment).
    pub request_id: String,
    pub create_time: Time,
    pub update_time: Option<Time>,
    /// Why its last start failed, until it starts or is edited.
    pub start_error: Option<String>,
}

/// What a planned run starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedStart {
    pub workflow_type: String,
    pub task_queue: String,
    /// The workflow id the run gets; the plan's id when it was not given.
    pub workflow_id: String,
    /// Encoded Temporal payloads, as a start request carries them.
    pub input: Option<Blob>,
}

/// A change to a planned run; `None` (or [`FieldEdit::Keep`]) leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanEdit {
    pub workflow_type: Option<String>,
    pub task_queue: Option<String>,
    pub workflow_id: Option<String>,
    pub input: FieldEdit<Blob>,
    pub start_at: FieldEdit<Time>,
    pub note: Option<String>,
}

/// An edit of a field that may also be empty.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum FieldEdit<T> {
    /// Leave it as it is.
    #[default]
    Keep,
    /// Empty it (no input; no start time, so a person starts the plan).
    Clear,
    Set(T),
}

impl<T> FieldEdit<T> {
    /// The field after this edit.
    pub fn applied_to(self, current: Option<T>) -> Option<T> {
        match self {
            FieldEdit::Keep => current,
            FieldEdit::Clear => None,
            FieldEdit::Set(value) => Some(value),
        }
    }
}

impl PlannedRun {
    /// A new plan, checked. `workflow_id` defaults to the plan's id.
    pub fn new(
        namespace: String,
        id: String,
        mut what: PlannedStart,
        start_at: Option<Time>,
        note: String,
        request_id: String,
        now: Time,
    ) -> Result<PlannedRun, Rejection> {
        check_id("plan id", &id)?;
        if what.workflow_id.is_empty() {
            what.workflow_id = id.clone();
        }
        let plan = PlannedRun {
            namespace,
            id,
            version: 1,
            what,
            start_at,
            note,
            request_id,
            create_time: now,
            update_time: None,
            start_error: None,
        };
        plan.check()?;
        Ok(plan)
    }

    /// Applies an edit, checked; nothing changes when it is refused.
    pub fn edit(&mut self, edit: PlanEdit, now: Time) -> Result<(), Rejection> {
        let mut next = self.clone();
        if let Some(workflow_type) = edit.workflow_type {
            next.what.workflow_type = workflow_type;
        }
        if let Some(task_queue) = edit.task_queue {
            next.what.task_queue = task_queue;
        }
        if let Some(workflow_id) = edit.workflow_id {
            next.what.workflow_id = if workflow_id.is_empty() {
                next.id.clone()
            } else {
                workflow_id
            };
        }
        next.what.input = edit.input.applied_to(next.what.input.take());
        next.start_at = edit.start_at.applied_to(next.start_at.take());
        if let Some(note) = edit.note {
            next.note = note;
        }
        next.check()?;
        next.update_time = Some(now);
        next.start_error = None;
        *self = next;
        Ok(())
    }

    /// Whether it starts by itself at `now`.
    pub fn is_due(&self, now: Time) -> bool {
        self.start_at.is_some_and(|at| at <= now)
    }

    fn check(&self) -> Result<(), Rejection> {
        check_id("workflow type", &self.what.workflow_type)?;
        check_id("task queue", &self.what.task_queue)?;
        check_id("workflow id", &self.what.workflow_id)?;
        if self.note.len() > MAX_NOTE_LENGTH {
            return Err(Rejection::InvalidArgument(format!(
                "the note is {} bytes; at most {MAX_NOTE_LENGTH} are kept",
                self.note.len()
            )));
        }
        Ok(())
    }
}

fn check_id(what: &str, value: &str) -> Result<(), Rejection> {
    if value.trim().is_empty() {
        return Err(Rejection::InvalidArgument(format!(
            "the {what} is required"
        )));
    }
    if value.len() > MAX_FIELD_LENGTH {
        return Err(Rejection::InvalidArgument(format!(
            "the {what} is {} bytes; at most {MAX_FIELD_LENGTH} are allowed",
            value.len()
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Rejection::InvalidArgument(format!(
            "the {what} contains a control character"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(workflow_type: &str, task_queue: &str) -> PlannedStart {
        PlannedStart {
            workflow_type: workflow_type.into(),
            task_queue: task_queue.into(),
            workflow_id: String::new(),
            input: None,
        }
    }

    fn plan() -> PlannedRun {
        PlannedRun::new(
            "default".into(),
            "nightly-report".into(),
            start("Report", "reports"),
            None,
            String::new(),
            "req-1".into(),
            Time(10),
        )
        .unwrap()
    }

    #[test]
    fn a_plan_without_a_workflow_id_starts_its_run_under_the_plans_id() {
        assert_eq!(plan().what.workflow_id, "nightly-report");
        assert_eq!(plan().version, 1);
    }

    #[test]
    fn a_plan_needs_a_type_and_a_queue_and_names_the_missing_one() {
        let refused = PlannedRun::new(
            "default".into(),
            "p".into(),
            start("Report", " "),
            None,
            String::new(),
            "r".into(),
            Time(0),
        )
        .unwrap_err();
        assert_eq!(
            refused,
            Rejection::InvalidArgument("the task queue is required".into())
        );
        let refused = PlannedRun::new(
            "default".into(),
            "bad\nid".into(),
            start("Report", "q"),
            None,
            String::new(),
            "r".into(),
            Time(0),
        )
        .unwrap_err();
        assert!(refused.to_string().contains("control character"));
    }

    #[test]
    fn a_refused_edit_changes_nothing() {
        let mut plan = plan();
        let before = plan.clone();
        let refused = plan.edit(
            PlanEdit {
                task_queue: Some("elsewhere".into()),
                workflow_type: Some(String::new()),
                ..PlanEdit::default()
            },
            Time(20),
        );
        assert!(refused.is_err());
        assert_eq!(plan, before);
    }

    #[test]
    fn an_edit_changes_only_what_it_names_and_an_empty_workflow_id_means_the_plans_id() {
        let mut plan = plan();
        plan.edit(
            PlanEdit {
                workflow_id: Some("custom".into()),
                start_at: FieldEdit::Set(Time(100)),
                ..PlanEdit::default()
            },
            Time(20),
        )
        .unwrap();
        assert_eq!(plan.what.workflow_id, "custom");
        assert_eq!(plan.what.task_queue, "reports");
        assert_eq!(plan.update_time, Some(Time(20)));
        assert!(!plan.is_due(Time(99)));
        assert!(plan.is_due(Time(100)));
        plan.edit(
            PlanEdit {
                workflow_id: Some(String::new()),
                start_at: FieldEdit::Clear,
                ..PlanEdit::default()
            },
            Time(30),
        )
        .unwrap();
        assert_eq!(plan.what.workflow_id, "nightly-report");
        assert!(!plan.is_due(Time(i64::MAX)));
    }
}
