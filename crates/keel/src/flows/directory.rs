//! `keel server --flows DIR`: the flow documents of a directory are the source of truth.
//! Each `.yaml`/`.yml` file is applied at start and again whenever it changes; a file
//! removed deletes its flow. A file with a problem is reported (with its line and
//! column) and changes nothing: the flow keeps its last good revision.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use keel_engine::Engine;
use tokio::sync::watch;

/// How often the directory is looked at.
const SCAN: Duration = Duration::from_secs(1);

/// What a file was when last applied: its modification time and the flow it holds.
struct Seen {
    modified: SystemTime,
    flow: Option<(String, String)>,
}

fn documents(directory: &Path) -> BTreeMap<PathBuf, SystemTime> {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .filter_map(|path| {
            let modified = std::fs::metadata(&path)
                .and_then(|meta| meta.modified())
                .ok()?;
            Some((path, modified))
        })
        .collect()
}

/// Applies the directory's documents now, then keeps following it until `stopped`.
pub async fn follow(engine: Engine, directory: PathBuf, mut stopped: watch::Receiver<bool>) {
    if !directory.is_dir() {
        tracing::error!(directory = %directory.display(), "--flows names no directory; no flows are loaded from it");
        return;
    }
    let mut seen: BTreeMap<PathBuf, Seen> = BTreeMap::new();
    loop {
        let now = documents(&directory);
        for (path, modified) in &now {
            if seen
                .get(path)
                .is_some_and(|known| known.modified == *modified)
            {
                continue;
            }
            let flow = apply(&engine, path).await;
            let previous = seen.insert(
                path.clone(),
                Seen {
                    modified: *modified,
                    flow: flow.clone(),
                },
            );
            // A file that now holds another flow (its id changed) no longer keeps the old one.
            if let Some(Seen {
                flow: Some(old), ..
            }) = previous
                && flow.is_some()
                && flow.as_ref() != Some(&old)
            {
                remove(&engine, &old, path).await;
            }
        }
        let gone: Vec<PathBuf> = seen
            .keys()
            .filter(|path| !now.contains_key(*path))
            .cloned()
            .collect();
        for path in gone {
            if let Some(Seen {
                flow: Some(flow), ..
            }) = seen.remove(&path)
            {
                remove(&engine, &flow, &path).await;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(SCAN) => {}
            _ = async { let _ = stopped.wait_for(|stop| *stop).await; } => return,
        }
    }
}

/// Applies one file; answers the flow it holds, or none when it was refused.
async fn apply(engine: &Engine, path: &Path) -> Option<(String, String)> {
    let source = match std::fs::read_to_string(path) {
        Ok(source) => source,
        Err(error) => {
            tracing::error!(file = %path.display(), %error, "cannot read a flow document");
            return None;
        }
    };
    match keel_http::flows::apply(engine, &source).await {
        Ok(saved) => {
            if saved.created {
                tracing::info!(file = %path.display(), flow = %saved.id, revision = saved.revision, "flow saved");
            }
            Some((saved.namespace, saved.id))
        }
        Err(error) => {
            tracing::error!(file = %path.display(), error = %error.message, "flow document refused; the flow keeps its last revision");
            None
        }
    }
}

async fn remove(engine: &Engine, (namespace, flow_id): &(String, String), path: &Path) {
    match keel_http::flows::remove(engine, namespace, flow_id).await {
        Ok(()) => {
            tracing::info!(file = %path.display(), flow = %flow_id, "flow deleted with its file")
        }
        Err(error) => {
            tracing::warn!(flow = %flow_id, error = %error.message, "cannot delete a flow whose file is gone")
        }
    }
}
