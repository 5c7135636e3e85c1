//! The store conformance suite (`keel_store::testing`) against SQLite, plus what only a
//! file-backed store has: durability across reopening, and refusing an unusable path.

use std::path::Path;
use std::sync::Arc;

use keel_store::sqlite::SqliteStore;
use keel_store::{Error, testing};

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path)
        .unwrap_or_else(|error| panic!("opening {} failed: {error}", path.display()))
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("keel.db"));
    testing::run_all(&store).await;
    testing::concurrent_tasks(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn committed_data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.db");

    let store = open(&path);
    let first = testing::write_sample(&store).await;
    testing::check_sample(&store, &first).await;
    drop(store);

    let store = open(&path);
    testing::check_sample(&store, &first).await;
    let second = testing::write_sample(&store).await;
    drop(store);

    let store = open(&path);
    testing::check_sample(&store, &first).await;
    testing::check_sample(&store, &second).await;
}

#[test]
fn opening_an_unusable_location_fails_with_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let plain_file = dir.path().join("plain-file");
    std::fs::write(&plain_file, b"not a directory").unwrap();
    let mut paths = vec![
        dir.path().join("no-such-dir").join("keel.db"),
        plain_file.join("keel.db"),
    ];

    // Nobody may create files in /proc, not even root.
    #[cfg(target_os = "linux")]
    if Path::new("/proc/self").exists() {
        paths.push(Path::new("/proc").join("keel-conformance.db"));
    }

    // A directory without write permission; root ignores permissions, so only check it
    // when they are enforced.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let read_only = dir.path().join("read-only");
        std::fs::create_dir(&read_only).unwrap();
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
        if std::fs::write(read_only.join("probe"), b"").is_err() {
            paths.push(read_only.join("keel.db"));
        } else {
            eprintln!("permissions are not enforced here (root?): skipping the read-only case");
        }
    }

    for path in paths {
        match SqliteStore::open(&path) {
            Err(Error::Unavailable(message)) => {
                let shown = path.display().to_string();
                assert!(
                    message.contains(&shown),
                    "the error must name the path {shown}: {message:?}"
                );
                let display = Error::Unavailable(message.clone()).to_string();
                assert!(
                    display.starts_with("store unavailable: cannot open"),
                    "unexpected wording: {display:?}"
                );
            }
            Err(other) => panic!(
                "opening {} must fail with Unavailable, got {other:?}",
                path.display()
            ),
            Ok(_) => panic!("opening {} must fail", path.display()),
        }
        assert!(
            !path.exists(),
            "a failed open must not create {}",
            path.display()
        );
    }
}
