//! The store conformance suite (`keel_store::testing`) against PostgreSQL, plus what only a
//! shared, networked store has: notices between handles, a schema migrated once for
//! several processes, and clear errors for bad or unreachable databases.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_store::postgres::PostgresStore;
use keel_store::testing::{self, PostgresCluster};
use keel_store::{Error, Store};

async fn connect(url: &str) -> PostgresStore {
    PostgresStore::connect(url)
        .await
        .unwrap_or_else(|error| panic!("connecting to {url} failed: {error}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_passes_the_conformance_suite() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database();
    let store = connect(&url).await;
    testing::run_all(&store).await;
    testing::concurrent_tasks(Arc::new(store.clone())).await;
    let other = connect(&url).await;
    testing::notices(&store, &other).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn committed_data_survives_reconnecting_and_a_database_restart() {
    let mut cluster = PostgresCluster::start();
    let url = cluster.create_database();
    let store = connect(&url).await;
    let first = testing::write_sample(&store).await;
    drop(store);

    let store = connect(&url).await;
    testing::check_sample(&store, &first).await;

    cluster.restart();
    // The pool notices its connections are gone and opens new ones.
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(error) = store.namespaces().await {
        assert!(
            Instant::now() < deadline,
            "the store did not recover after the database restarted: {error}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    testing::check_sample(&store, &first).await;
    let second = testing::write_sample(&store).await;
    testing::check_sample(&store, &second).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn processes_starting_together_migrate_the_schema_once() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database();
    let connects = (0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { PostgresStore::connect(&url).await })
    });
    for connected in futures::future::join_all(connects).await {
        connected
            .expect("connect task")
            .unwrap_or_else(|error| panic!("a concurrent connect failed: {error}"));
    }
    let store = connect(&url).await;
    testing::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_database_is_unavailable_and_then_recovers() {
    let mut cluster = PostgresCluster::start();
    let url = cluster.create_database();
    let store = connect(&url).await;
    let mut feed = store.notices().expect("a feed");
    cluster.stop();
    let started = Instant::now();
    match store.namespaces().await {
        Err(Error::Unavailable(_)) => {}
        other => panic!("a call while the database is down must be Unavailable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a call while the database is down must fail within the connect timeout, took {:?}",
        started.elapsed()
    );
    cluster.restart();
    let sample = loop {
        if store.namespaces().await.is_ok() {
            break testing::write_sample(&store).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    testing::check_sample(&store, &sample).await;
    // The listener lost its connection: readers are told they may have missed messages.
    let missed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match feed.recv().await {
                Ok(keel_store::Received::Missed) => return,
                Ok(_) => {}
                Err(error) => panic!("the feed ended: {error}"),
            }
        }
    })
    .await;
    assert!(
        missed.is_ok(),
        "no Missed notice after the listener reconnected"
    );
}

#[tokio::test]
async fn bad_urls_and_unreachable_databases_are_clear_errors() {
    match PostgresStore::connect("postgres://keel@127.0.0.1:notaport/db").await {
        Err(Error::InvalidArgument(message)) => {
            assert!(message.starts_with("invalid PostgreSQL URL"), "{message}");
        }
        Err(other) => panic!("a malformed URL must be InvalidArgument, got {other:?}"),
        Ok(_) => panic!("a malformed URL must be refused"),
    }
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://keel@127.0.0.1:{closed_port}/nowhere");
    let started = Instant::now();
    match PostgresStore::connect(&url).await {
        Err(Error::Unavailable(message)) => assert!(
            message.contains(&format!("127.0.0.1:{closed_port}/nowhere")),
            "the error must say which database: {message}"
        ),
        Err(other) => panic!("an unreachable database must be Unavailable, got {other:?}"),
        Ok(_) => panic!("an unreachable database must be refused"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_keel_is_refused() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database();
    drop(connect(&url).await);
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("a plain connection");
    tokio::spawn(connection);
    client
        .batch_execute("INSERT INTO schema_version (version) VALUES (999)")
        .await
        .unwrap();
    match PostgresStore::connect(&url).await {
        Err(Error::Unavailable(message)) => assert!(
            message.contains("schema version 999, newer than this keel knows"),
            "{message}"
        ),
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("a database from a newer keel must be refused"),
    }
}

/// A notice on the channel that this store cannot read (not its shape, or not base64) is
/// not ignored: readers hear `Missed`, and resynchronise from the database.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_notice_tells_readers_they_missed_something() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database();
    let store = connect(&url).await;
    let mut feed = store.notices().expect("a shared store has a notice feed");
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    for garbage in ["no-origin-at-all", "someone-else:***not base64***"] {
        client
            .execute("SELECT pg_notify('keel', $1)", &[&garbage])
            .await
            .unwrap();
        let heard = tokio::time::timeout(Duration::from_secs(10), feed.recv())
            .await
            .unwrap_or_else(|_| panic!("nothing heard after {garbage:?}"))
            .unwrap();
        assert_eq!(heard, keel_store::Received::Missed, "after {garbage:?}");
    }
}
