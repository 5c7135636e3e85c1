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
    let python = std::env::var_os("KEEL_TEST_PYTHON").unwrap_or_else(|| {
        panic!(
            "KEEL_TEST_PYTHON is not set: run `export KEEL_TEST_PYTHON=\"$(scripts/python-env.sh)\"` \
             (a venv with the pinned temporalio) first, or run scripts/test.sh"
        )
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/python/sdk_check.py");
    let server = Server::start().await;

    let mut child = Command::new(&python)
        .arg(script)
        .arg(&server.grpc_addr)
        .arg(&server.http_addr)
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
        Ok(status) => Some(status.expect("waiting for sdk_check.py")),
        Err(_) => {
            child.kill().await.expect("killing sdk_check.py");
            None
        }
    };
    let stdout = stdout.await.expect("reading stdout");
    let stderr = stderr.await.expect("reading stderr");
    let Some(status) = status else {
        panic!(
            "sdk_check.py did not finish within {TIMEOUT:?}:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
    };
    assert!(
        status.success(),
        "sdk_check.py failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        status
    );
    assert!(
        stdout.contains("all scenarios passed"),
        "sdk_check.py exited cleanly without finishing:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    println!("{stdout}");
}

async fn read_all(mut pipe: impl AsyncRead + Unpin) -> String {
    let mut bytes = Vec::new();
    pipe.read_to_end(&mut bytes).await.expect("reading a pipe");
    String::from_utf8_lossy(&bytes).into_owned()
}
