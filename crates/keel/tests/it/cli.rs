//! `keel server` as a command: clear one-line errors, clean shutdown, help.

use std::process::{Command, Stdio};
use std::time::Duration;

fn keel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_keel"))
}

/// Runs keel expecting it to fail; returns its stderr.
fn fails(args: &[&str]) -> String {
    let output = keel()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running keel");
    assert!(!output.status.success(), "keel {args:?} should fail");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one readable line, got: {stderr}");
    lines[0].to_owned()
}

#[test]
fn a_taken_port_or_unusable_data_dir_is_one_clear_line() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let data_dir = data_dir.to_str().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();

    let line = fails(&[
        "server",
        "--grpc-addr",
        &taken,
        "--http-addr",
        "127.0.0.1:0",
        "--data-dir",
        data_dir,
    ]);
    assert!(
        line.contains("cannot listen on gRPC address") && line.contains(&taken),
        "{line}"
    );
    let line = fails(&[
        "server",
        "--grpc-addr",
        "127.0.0.1:0",
        "--http-addr",
        &taken,
        "--data-dir",
        data_dir,
    ]);
    assert!(line.contains("cannot listen on HTTP address"), "{line}");

    let file = temp.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let line = fails(&[
        "server",
        "--grpc-addr",
        "127.0.0.1:0",
        "--http-addr",
        "127.0.0.1:0",
        "--data-dir",
        file.to_str().unwrap(),
    ]);
    assert!(line.contains("is unusable"), "{line}");

    let line = fails(&[
        "server",
        "--grpc-addr",
        "not-an-address",
        "--data-dir",
        data_dir,
    ]);
    assert!(line.contains("not-an-address"), "{line}");
    let line = fails(&["server", "--log-level", "loud=[", "--data-dir", data_dir]);
    assert!(line.contains("--log-level"), "{line}");
}

#[test]
fn a_bad_or_unreachable_database_is_one_clear_line() {
    let line = fails(&["server", "--db", "postgres://keel@127.0.0.1:notaport/db"]);
    assert!(line.contains("invalid PostgreSQL URL"), "{line}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("postgres://keel@127.0.0.1:{port}/keel");
    let started = std::time::Instant::now();
    let line = fails(&["server", "--db", &url]);
    assert!(
        line.contains(&format!("cannot use PostgreSQL at 127.0.0.1:{port}/keel"))
            && line.contains("refused"),
        "{line}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "fails at once");

    // The same through the environment.
    let output = keel()
        .arg("server")
        .env("KEEL_DB_URL", &url)
        .stdin(Stdio::null())
        .output()
        .expect("running keel");
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("cannot use PostgreSQL at"), "{stderr}");
}

#[test]
fn sigterm_shuts_the_server_down_cleanly() {
    let temp = tempfile::tempdir().unwrap();
    let mut child = keel()
        .args([
            "server",
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(temp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    for _ in 0..3 {
        std::io::BufRead::read_line(&mut stdout, &mut banner).unwrap();
    }
    assert!(
        banner.contains("grpc: 127.0.0.1:") && banner.contains("http: http://127.0.0.1:"),
        "{banner}"
    );
    assert!(
        banner.contains("keel.db"),
        "the banner says where the data lives: {banner}"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "clean exit after SIGTERM, got {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    panic!("keel did not stop within 5 s of SIGTERM");
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["server", "--help"],
        vec!["doctor", "--help"],
        vec!["execution", "--help"],
        vec!["plan", "--help"],
    ] {
        let output = keel().args(&args).output().unwrap();
        assert!(output.status.success(), "{args:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.contains("Usage:"), "{args:?}: {text}");
    }
    let server_help =
        String::from_utf8(keel().args(["server", "--help"]).output().unwrap().stdout).unwrap();
    for flag in [
        "--grpc-addr",
        "--http-addr",
        "--data-dir",
        "--log-level",
        "KEEL_GRPC_ADDR",
        "KEEL_DATA_DIR",
    ] {
        assert!(server_help.contains(flag), "server --help mentions {flag}");
    }
}
