//! The server's own flow machinery: the worker that decides flow executions (the
//! interpreter of `keel-flows` over each workflow task) and the runner of built-in task
//! runs (`log`, `return`, `shell`, `http.request`). Both poll the engine in process, a
//! poller per namespace, exactly as an SDK worker polls over gRPC; so a flow execution
//! is an ordinary execution, and a server killed in the middle loses nothing.

mod directory;
mod runner;
mod triggers;
mod worker;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use keel_engine::Engine;
use tokio::sync::watch;

pub use runner::{RunnerOptions, tls_config};

/// How often new namespaces are looked for.
const NAMESPACE_SCAN: Duration = Duration::from_secs(2);

/// Starts the flow worker and the task runner on every namespace, now and as namespaces
/// are created; they stop when `stopped` turns true.
pub fn spawn(
    engine: Engine,
    options: RunnerOptions,
    directory: Option<std::path::PathBuf>,
    stopped: watch::Receiver<bool>,
) {
    if let Some(directory) = directory {
        tokio::spawn(directory::follow(
            engine.clone(),
            directory,
            stopped.clone(),
        ));
    }
    let identity = format!("keel-flows@{}", std::process::id());
    let options = Arc::new(options);
    let worker = Arc::new(worker::Worker::new(engine.clone(), identity.clone()));
    tokio::spawn(triggers::watch_closes(engine.clone(), stopped.clone()));
    tokio::spawn(async move {
        let mut served = HashSet::new();
        let mut stop = stopped.clone();
        loop {
            for namespace in engine.namespaces() {
                if served.insert(namespace.name.clone()) {
                    tokio::spawn(worker::poll(
                        worker.clone(),
                        namespace.name.clone(),
                        stopped.clone(),
                    ));
                    tokio::spawn(runner::poll(
                        engine.clone(),
                        options.clone(),
                        identity.clone(),
                        namespace.name.clone(),
                        stopped.clone(),
                    ));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(NAMESPACE_SCAN) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    });
}
