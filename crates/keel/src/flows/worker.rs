//! The flow worker: takes flow executions' workflow tasks, reads the revision each runs,
//! and completes the task with what the interpreter decides.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_core::{Command, Completion};
use keel_engine::{Engine, PolledWorkflowTask};
use keel_flows::Flow;
use keel_flows::interpret::{Execution, decide};
use keel_flows::runtime::{FLOW_TASK_QUEUE, FlowStart};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::watch;

/// How long one poll waits for a task.
const POLL: Duration = Duration::from_secs(30);
/// How long to wait after the engine refused a poll (the store is down, say).
const BACKOFF: Duration = Duration::from_secs(1);

pub struct Worker {
    engine: Engine,
    identity: String,
    /// Parsed revisions, which never change once saved: (namespace, flow, revision).
    revisions: Mutex<HashMap<(String, String, i64), Arc<Flow>>>,
}

impl Worker {
    pub fn new(engine: Engine, identity: String) -> Worker {
        Worker {
            engine,
            identity,
            revisions: Mutex::new(HashMap::new()),
        }
    }

    async fn revision(
        &self,
        namespace: &str,
        flow_id: &str,
        revision: i64,
    ) -> Result<Arc<Flow>, String> {
        let key = (namespace.to_owned(), flow_id.to_owned(), revision);
        if let Some(flow) = self.revisions.lock().get(&key) {
            return Ok(flow.clone());
        }
        let stored = self
            .engine
            .flow_revision(namespace, flow_id, Some(revision))
            .await
            .map_err(|error| error.to_string())?;
        let flow = keel_flows::parse(&stored.source).map_err(|problems| {
            format!("revision {revision} of flow '{flow_id}' does not read: {problems}")
        })?;
        let flow = Arc::new(flow);
        self.revisions.lock().insert(key, flow.clone());
        Ok(flow)
    }

    /// The commands for one workflow task.
    async fn decide(&self, task: &PolledWorkflowTask) -> Vec<Command> {
        let start = keel_flows::interpret::flow_start(&task.history);
        let flow = match start {
            Ok(FlowStart {
                revision: Some(revision),
                flow,
                ..
            }) => {
                self.revision(&task.key.namespace, &flow, i64::from(revision))
                    .await
            }
            Ok(FlowStart { flow, .. }) => Err(format!(
                "flow '{flow}' does not exist in namespace '{}'",
                task.key.namespace
            )),
            Err(error) => Err(error),
        };
        let flow = match flow {
            Ok(flow) => flow,
            Err(message) => return vec![fail(&message)],
        };
        if let Some(concurrency) = &flow.concurrency
            && !admitted(&task.history)
        {
            let cancelled = task.history.iter().any(|event| {
                matches!(
                    event.kind,
                    keel_core::EventKind::WorkflowExecutionCancelRequested { .. }
                )
            });
            if cancelled {
                return vec![Command::CancelWorkflow { details: None }];
            }
            match self.admit(task, concurrency).await {
                Admission::Admitted => {
                    let mut commands = vec![admission_marker()];
                    commands.extend(self.decide_admitted(&flow, task).await);
                    return commands;
                }
                Admission::Refused(command) => return vec![*command],
                Admission::Wait(waits) => {
                    return vec![Command::StartTimer {
                        timer_id: format!("{QUEUE_TIMER}{waits}"),
                        start_to_fire_timeout: queue_backoff(waits),
                    }];
                }
            }
        }
        self.decide_admitted(&flow, task).await
    }

    /// Whether a run of a flow with a concurrency limit may go on: it may while fewer of
    /// the flow's runs that started before it are running than the limit (so queued runs
    /// go in the order they started).
    async fn admit(
        &self,
        task: &PolledWorkflowTask,
        concurrency: &keel_flows::document::Concurrency,
    ) -> Admission {
        use keel_core::visibility::{CompareOp, Condition, Field, Filter};
        use keel_flows::document::ConcurrencyBehavior;
        let started = task
            .history
            .first()
            .map_or(keel_core::Time(0), |event| event.time);
        let ahead = Filter::all_of([
            Condition::equals(Field::WorkflowType, task.workflow_type.clone()),
            Condition::status_in(&[keel_core::Status::Running]),
            Condition::time(Field::StartTime, CompareOp::Lt, started),
        ]);
        let running = match self
            .engine
            .count_executions(&task.key.namespace, &ahead)
            .await
        {
            Ok(running) => running,
            // Cannot tell: look again shortly rather than exceed the limit.
            Err(_) => return Admission::Wait(queue_waits(&task.history)),
        };
        if running < i64::from(concurrency.limit) {
            return Admission::Admitted;
        }
        let why = format!(
            "the flow's concurrency limit of {} running executions is reached",
            concurrency.limit
        );
        match concurrency.behavior {
            ConcurrencyBehavior::Queue => Admission::Wait(queue_waits(&task.history)),
            ConcurrencyBehavior::Fail => Admission::Refused(Box::new(fail(&why))),
            ConcurrencyBehavior::Cancel => Admission::Refused(Box::new(Command::CancelWorkflow {
                details: Some(keel_wire::json::encode_payloads(&[Value::String(why)])),
            })),
        }
    }

    async fn decide_admitted(&self, flow: &Flow, task: &PolledWorkflowTask) -> Vec<Command> {
        let mut commands = decide(
            flow,
            &Execution {
                namespace: &task.key.namespace,
                workflow_id: &task.key.workflow_id,
                run_id: &task.key.run_id,
                history: &task.history,
            },
        );
        for command in &mut commands {
            if let Command::StartChild(child) = command {
                self.pin_subflow_revision(&task.key.namespace, child).await;
            }
        }
        commands
    }

    /// A subflow starts on the latest revision of its flow, recorded in its start.
    async fn pin_subflow_revision(
        &self,
        parent_namespace: &str,
        child: &mut keel_core::event::ChildInitiated,
    ) {
        let Ok(mut start) = FlowStart::from_payloads(child.input.as_ref()) else {
            return;
        };
        let namespace = if child.namespace.is_empty() {
            parent_namespace
        } else {
            &child.namespace
        };
        if let Ok(latest) = self
            .engine
            .flow_revision(namespace, &start.flow, None)
            .await
        {
            start.revision = u32::try_from(latest.revision).ok();
            child.input = Some(keel_wire::json::encode_payloads(&[start.to_json()]));
        }
    }
}

/// The marker recorded when a run of a flow with a concurrency limit is let through.
const ADMITTED_MARKER: &str = "keel.flow.admitted";
/// The timers a queued run waits on before looking again: `keel.flow.queued#<n>`.
const QUEUE_TIMER: &str = "keel.flow.queued#";

enum Admission {
    Admitted,
    Refused(Box<Command>),
    /// Look again after this many waits so far.
    Wait(u32),
}

fn admitted(history: &[keel_core::Event]) -> bool {
    history.iter().any(|event| {
        matches!(&event.kind, keel_core::EventKind::MarkerRecorded { marker_name, .. } if marker_name == ADMITTED_MARKER)
    })
}

fn admission_marker() -> Command {
    Command::RecordMarker {
        marker_name: ADMITTED_MARKER.into(),
        details: Default::default(),
        header: None,
        failure: None,
    }
}

/// How many times a queued run has waited already.
fn queue_waits(history: &[keel_core::Event]) -> u32 {
    history
        .iter()
        .filter(|event| {
            matches!(&event.kind, keel_core::EventKind::TimerStarted { timer_id, .. } if timer_id.starts_with(QUEUE_TIMER))
        })
        .count() as u32
}

/// A queued run looks again after 1 s, then less often, up to every 30 s.
fn queue_backoff(waits: u32) -> Duration {
    Duration::from_secs(1u64 << waits.min(5)).min(Duration::from_secs(30))
}

fn fail(message: &str) -> Command {
    Command::FailWorkflow {
        failure: keel_core::Failure {
            message: message.to_owned(),
            source: "keel-flows".into(),
            info: keel_core::FailureInfo::Application {
                failure_type: "FlowFailed".into(),
                non_retryable: true,
                next_retry_delay: None,
            },
            cause: None,
            original: None,
        },
    }
}

/// Takes a namespace's flow workflow tasks until `stopped`.
pub async fn poll(worker: Arc<Worker>, namespace: String, mut stopped: watch::Receiver<bool>) {
    loop {
        let polled = tokio::select! {
            polled = worker.engine.poll_workflow_task(&namespace, FLOW_TASK_QUEUE, &worker.identity, Instant::now() + POLL) => polled,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        let task = match polled {
            Ok(Some(task)) => task,
            Ok(None) => continue,
            Err(keel_engine::Error::NotFound(_)) => return, // the namespace is gone
            Err(error) => {
                tracing::warn!(%namespace, %error, "the flow worker cannot poll; retrying");
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        };
        if task.query.is_some() {
            let answer = keel_engine::QueryAnswer::Failed {
                message:
                    "flow executions answer no queries; read their outputs and history instead"
                        .into(),
                failure: None,
            };
            let _ = worker.engine.answer_query(&task.token, answer).await;
            continue;
        }
        let commands = worker.decide(&task).await;
        let completion = Completion {
            commands,
            identity: worker.identity.clone(),
            ..Completion::default()
        };
        if let Err(error) = worker
            .engine
            .complete_workflow_task(&task.token, completion, Vec::new())
            .await
        {
            tracing::warn!(key = ?task.key, %error, "the flow worker's decision was refused");
        }
    }
}
