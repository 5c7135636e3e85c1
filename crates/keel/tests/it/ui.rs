//! The web UI in a real browser: `ui/tests/browser/ui.browser.mjs` drives headless
//! chromium (Debian's, through playwright-core) against this server, with workers and
//! clients of the official Python SDK. Needs `KEEL_TEST_PYTHON` (scripts/python-env.sh) and
//! `KEEL_TEST_CHROMIUM` (scripts/browser-env.sh, which also installs ui/node_modules);
//! scripts/test.sh exports both. Screenshots of every page, light and dark, land in
//! `target/ui-screenshots/`.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::harness::Server;

const TIMEOUT: Duration = Duration::from_secs(300);

fn required(name: &str, script: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run `export {name}=\"$({script})\"` first, or run scripts/test.sh"
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_shows_runs_live_and_acts_on_them() {
    let python = required("KEEL_TEST_PYTHON", "scripts/python-env.sh");
    let chromium = required("KEEL_TEST_CHROMIUM", "scripts/browser-env.sh");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let server = Server::start().await;

    let child = Command::new("node")
        .arg("--test")
        .arg("--test-concurrency=1")
        .arg("ui/tests/browser/ui.browser.mjs")
        .current_dir(root)
        .env("KEEL_GRPC", &server.grpc_addr)
        .env("KEEL_HTTP", &server.http_addr)
        .env("KEEL_TEST_PYTHON", python)
        .env("KEEL_TEST_CHROMIUM", chromium)
        .env("KEEL_SCREENSHOTS", format!("{root}/target/ui-screenshots"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (scripts/browser-env.sh installs it)");
    let output = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the browser tests did not finish within {TIMEOUT:?}"))
        .expect("waiting for node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser tests failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("# fail 0") && !stdout.contains("# pass 0"),
        "the browser tests ran nothing:\n{stdout}"
    );
    println!("{stdout}");
}
