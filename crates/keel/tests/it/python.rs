//! The official Temporal Python SDK (`temporalio` from PyPI) against Keel: a second real SDK
//! beside the Rust one. `python/sdk_check.py` runs a worker and a client in one process and
//! checks activities, timers, activity retries, workflow failure, id conflicts, visibility,
//! local activities, typed search attributes, a schedule on a calendar, and that the REST API's
//! history export replays in the SDK's replayer. The interpreter comes from `KEEL_TEST_PYTHON`, the venv that
//! `scripts/python-env.sh` makes (scripts/test.sh exports it).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::harness::Server;

const TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_runs_workflows_and_activities() {
    let server = Server::start().await;
    let stdout = run_script("sdk_check.py", &[&server.grpc_addr, &server.http_addr])
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert!(
        stdout.contains("all scenarios passed"),
        "sdk_check.py exited cleanly without finishing:\n{stdout}"
    );
    println!("{stdout}");
}

/// Runs `script` (in `tests/it/python/`) with the venv's interpreter: its stdout when it
/// exits 0, else what it printed and how it ended.
pub async fn run_script(script: &str, args: &[&str]) -> Result<String, String> {
    let python = std::env::var_os("KEEL_TEST_PYTHON").unwrap_or_else(|| {
        panic!(
            "KEEL_TEST_PYTHON is not set: run `export KEEL_TEST_PYTHON=\"$(scripts/python-env.sh)\"` \
             (a venv with the pinned temporalio) first, or run scripts/test.sh"
        )
    });
    let path = format!("{}/tests/it/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(&python)
        .arg(&path)
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run KEEL_TEST_PYTHON={}: {e}; run scripts/python-env.sh",
                python.to_string_lossy()
            )
        });
    // Read both pipes while it runs, so a timeout still shows how far it got.
    let stdout = tokio::spawn(read_all(child.stdout.take().expect("piped stdout")));
    let stderr = tokio::spawn(read_all(child.stderr.take().expect("piped stderr")));
    let status = match tokio::time::timeout(TIMEOUT, child.wait()).await {
        Ok(status) => Some(status.expect("waiting for the script")),
        Err(_) => {
            child.kill().await.expect("killing the script");
            None
        }
    };
    let stdout = stdout.await.expect("reading stdout");
    let stderr = stderr.await.expect("reading stderr");
    match status {
        Some(status) if status.success() => Ok(stdout),
        Some(status) => Err(format!(
            "{script} {args:?} failed ({status}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        )),
        None => Err(format!(
            "{script} {args:?} did not finish within {TIMEOUT:?}:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        )),
    }
}

async fn read_all(mut pipe: impl AsyncRead + Unpin) -> String {
    let mut bytes = Vec::new();
    pipe.read_to_end(&mut bytes).await.expect("reading a pipe");
    String::from_utf8_lossy(&bytes).into_owned()
}
