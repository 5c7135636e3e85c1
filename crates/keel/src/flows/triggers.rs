//! Flow triggers: a flow starts when executions matching its filter reach one of its
//! states (any workflow or flow: "any Payment that failed"). The watcher follows the
//! engine's feed of closing runs only while some flow has such a trigger (the feed costs
//! commits something only while followed), and starts each triggered run under a workflow
//! id made from the trigger and the run that set it off, refusing duplicates: a run sets
//! a trigger off once, whichever node sees it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use keel_core::reuse::ReusePolicy;
use keel_core::visibility::{Condition, Field};
use keel_engine::{Engine, ExecutionSummary};
use keel_flows::Flow;
use keel_flows::document::TriggerKind;
use keel_flows::expr::{self, Scope};
use keel_flows::runtime::FlowStart;
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, watch};

/// How often the flows with Flow triggers are read again.
const REFRESH: Duration = Duration::from_secs(2);

/// A flow's Flow trigger, as read from its latest revision.
struct Watch {
    flow: Flow,
    revision: i64,
    trigger_id: String,
    filter: String,
    states: Vec<String>,
    inputs: Map<String, Value>,
}

/// The Flow triggers of the flows last read, by (namespace, flow id): a revision is parsed
/// once, not at every refresh.
#[derive(Default)]
struct Watches {
    by_flow: HashMap<FlowKey, (i64, Vec<Arc<Watch>>)>,
}

/// A flow's namespace and id.
type FlowKey = (String, String);

impl Watches {
    /// Reads every namespace's flows again, parsing only revisions not seen before, and
    /// answers all their Flow triggers.
    async fn refresh(&mut self, engine: &Engine) -> Vec<Arc<Watch>> {
        let mut seen = HashMap::new();
        for namespace in engine.namespaces() {
            let Ok(flows) = engine.flows(&namespace.name).await else {
                continue;
            };
            for stored in flows {
                let key = (namespace.name.clone(), stored.flow_id.clone());
                let watches = match self.by_flow.remove(&key) {
                    Some((revision, watches)) if revision == stored.revision => watches,
                    _ => flow_triggers(&stored.source, stored.revision),
                };
                seen.insert(key, (stored.revision, watches));
            }
        }
        self.by_flow = seen;
        self.by_flow
            .values()
            .flat_map(|(_, watches)| watches.iter().cloned())
            .collect()
    }
}

/// The Flow triggers of one revision's document (none when it no longer parses).
fn flow_triggers(source: &str, revision: i64) -> Vec<Arc<Watch>> {
    let Ok(flow) = keel_flows::parse(source) else {
        return Vec::new();
    };
    flow.triggers
        .iter()
        .filter_map(|trigger| match &trigger.kind {
            TriggerKind::Flow {
                filter,
                states,
                inputs,
            } => Some(Arc::new(Watch {
                flow: flow.clone(),
                revision,
                trigger_id: trigger.id.clone(),
                filter: filter.clone(),
                states: states.clone(),
                inputs: inputs.clone(),
            })),
            _ => None,
        })
        .collect()
}

/// Follows closing runs and starts the flows they trigger, until `stopped`.
pub async fn watch_closes(engine: Engine, mut stopped: watch::Receiver<bool>) {
    let mut feed: Option<broadcast::Receiver<ExecutionSummary>> = None;
    let mut watches = Watches::default();
    let mut current = Vec::new();
    let mut refresh = tokio::time::interval(REFRESH);
    loop {
        tokio::select! {
            _ = async { let _ = stopped.wait_for(|stop| *stop).await; } => return,
            _ = refresh.tick() => {
                current = watches.refresh(&engine).await;
                if current.is_empty() {
                    feed = None;
                } else if feed.is_none() {
                    feed = Some(engine.watch_changes());
                }
            }
            change = async { feed.as_mut().expect("followed").recv().await }, if feed.is_some() => {
                match change {
                    Ok(summary) if summary.close_time.is_some() => {
                        for watch in &current {
                            fire(&engine, watch, &summary).await;
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "the flow trigger watcher fell behind; some closes were not looked at");
                    }
                    Err(broadcast::error::RecvError::Closed) => feed = None,
                }
            }
        }
    }
}

/// Starts `watch`'s flow if the closed run matches it.
async fn fire(engine: &Engine, watch: &Watch, summary: &ExecutionSummary) {
    let key = &summary.key;
    let Some(status) = keel_flows::runtime::closed_state(summary.status) else {
        return;
    };
    // A flow never sets itself off: an alert flow that fails must not alert about itself.
    if key.namespace != watch.flow.namespace
        || summary.workflow_type == watch.flow.id
        || !watch.states.iter().any(|state| state == status)
    {
        return;
    }
    let matches = async {
        let filter = engine.parse_query(&key.namespace, &watch.filter)?;
        let filter = filter
            .and(Condition::equals(
                Field::WorkflowId,
                key.workflow_id.clone(),
            ))
            .and(Condition::equals(Field::RunId, key.run_id.clone()));
        engine.count_executions(&key.namespace, &filter).await
    };
    match matches.await {
        Ok(count) if count > 0 => {}
        Ok(_) => return,
        Err(error) => {
            tracing::warn!(flow = %watch.flow.id, trigger = %watch.trigger_id, %error, "a flow trigger's filter does not run");
            return;
        }
    }
    // What `{{ trigger }}` reads, in the trigger's inputs and in the run's tasks.
    let trigger = json!({
        "type": "flow",
        "id": watch.trigger_id,
        "namespace": key.namespace,
        "workflow_id": key.workflow_id,
        "run_id": key.run_id,
        "workflow_type": summary.workflow_type,
        "status": status,
    });
    let scope = Scope {
        trigger: Some(trigger.clone()),
        ..Scope::default()
    };
    let outcome = async {
        let inputs = match expr::render_value(&Value::Object(watch.inputs.clone()), &scope)? {
            Value::Object(inputs) => inputs,
            _ => Map::new(),
        };
        let inputs = keel_flows::inputs::resolve(&watch.flow.inputs, &inputs)
            .map_err(|error| error.to_string())?;
        let revision =
            u32::try_from(watch.revision).map_err(|_| "the revision is too large".to_owned())?;
        let start = FlowStart::new(&watch.flow.namespace, &watch.flow.id, revision, inputs)
            .with_trigger(Some(trigger));
        let workflow_id = format!("{}-{}-{}", watch.flow.id, watch.trigger_id, key.run_id);
        let params = keel_flows::runtime::start_params(
            &watch.flow,
            &start,
            "keel-flow-trigger",
            &workflow_id,
        );
        engine
            .start_workflow(keel_engine::StartRequest {
                namespace: watch.flow.namespace.clone(),
                workflow_id,
                params,
                reuse_policy: ReusePolicy::RejectDuplicate,
                ..Default::default()
            })
            .await
            .map_err(|error| error.to_string())
    };
    match outcome.await {
        Ok(_) => {}
        Err(error) if error.contains("already") => {} // set off already, here or by another node
        Err(error) => {
            tracing::warn!(flow = %watch.flow.id, trigger = %watch.trigger_id, run = %key.run_id, %error, "a flow trigger could not start its flow");
        }
    }
}
