//! Many commits at once: from one task, and from many tasks in parallel.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use keel_core::{Event, Execution, ExecutionKey, Namespace};

use crate::CurrentRunChange;

use super::fixtures::{
    Run, advance, assert_stored, at, create_run, create_write, filter, namespace_named,
    new_namespace, ok, refused, run_key, started, stored, task_retried, terminated, unique,
    update_write,
};
use crate::{Result, Store};

/// Many commits in flight at once: independent ones all succeed; of competing ones exactly
/// one wins and the others are refused without a trace.
pub async fn concurrent_commits(store: &dyn Store) {
    let ns = new_namespace(store, "concurrent").await;
    let runs: Vec<Run> = (0..50)
        .map(|i| {
            let key = run_key(&ns, &format!("c-{i}"), &format!("run-{i}"));
            let (execution, events) = started(key, "concurrent", "q", at(i));
            Run { execution, events }
        })
        .collect();
    // Namespace writes go in among the commits: a store may write them another way.
    let prefix = unique("ns-concurrent");
    let namespaces: Vec<Namespace> = (0..10)
        .map(|i| namespace_named(&format!("{prefix}-{i:02}")))
        .collect();
    let mut calls = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        calls.push(store.commit(vec![create_write(
            &run.execution,
            &run.events,
            CurrentRunChange::First,
        )]));
        if let Some(namespace) = namespaces.get(i) {
            calls.push(store.create_namespace(namespace.clone()));
        }
    }
    for result in join_all(calls).await {
        ok(
            result,
            "one of 50 concurrent creates of different workflow ids and 10 concurrent \
             create_namespace calls with different names",
        );
    }
    let listed = ok(store.namespaces().await, "namespaces()");
    let ours: Vec<Namespace> = listed
        .into_iter()
        .filter(|namespace| namespace.name.starts_with(&format!("{prefix}-")))
        .collect();
    assert_eq!(
        ours, namespaces,
        "store conformance: every namespace created concurrently must be there, once"
    );

    // Ten creates race for one namespace name.
    let name = format!("{prefix}-contested");
    let contenders: Vec<Namespace> = (0..10)
        .map(|i| Namespace {
            description: format!("contender {i}"),
            ..namespace_named(&name)
        })
        .collect();
    let results = join_all(
        contenders
            .iter()
            .map(|namespace| store.create_namespace(namespace.clone())),
    )
    .await;
    let winner = single_winner(
        results,
        "AlreadyExists",
        "10 concurrent create_namespace calls with one name",
    );
    let listed = ok(store.namespaces().await, "namespaces()");
    assert_eq!(
        listed
            .into_iter()
            .filter(|namespace| namespace.name == name)
            .collect::<Vec<_>>(),
        vec![contenders[winner].clone()],
        "store conformance: the namespace must be stored once, as its one successful create wrote it"
    );

    for run in &runs {
        assert_stored(store, run, "a run created concurrently with 49 others").await;
    }
    assert_eq!(
        ok(
            store.count_executions(&ns, &filter("")).await,
            "count_executions"
        ),
        50,
        "store conformance: every one of 50 concurrent creates must be counted"
    );
    let listed = ok(
        store.list_executions(&ns, &filter(""), 1000, &[]).await,
        "list_executions",
    );
    let keys: BTreeSet<ExecutionKey> = listed.executions.into_iter().map(|s| s.key).collect();
    assert_eq!(
        keys,
        runs.iter().map(|run| run.key().clone()).collect(),
        "store conformance: every one of 50 concurrent creates must be listed once"
    );

    // Twenty starts race for one workflow id, each expecting no current run.
    let contenders: Vec<Run> = (0..20)
        .map(|i| {
            let (execution, events) = started(
                run_key(&ns, "race", &format!("run-{i}")),
                "race",
                "q",
                at(i),
            );
            Run { execution, events }
        })
        .collect();
    let results = join_all(contenders.iter().map(|run| {
        store.commit(vec![create_write(
            &run.execution,
            &run.events,
            CurrentRunChange::First,
        )])
    }))
    .await;
    let winner = single_winner(
        results,
        "Conflict",
        "20 concurrent creates of one workflow id",
    );
    let mut winner_run = contenders[winner].clone();
    assert_eq!(
        ok(store.current_run(&ns, "race").await, "current_run()").map(|c| c.run_id),
        Some(winner_run.key().run_id.clone()),
        "store conformance: the winning create must be the current run"
    );
    for (i, run) in contenders.iter().enumerate() {
        if i == winner {
            assert_stored(store, run, "the winning create").await;
        } else {
            let lost = stored(store, run.key()).await;
            assert!(
                lost.execution.is_none() && lost.history.is_empty(),
                "store conformance: a create that lost a race must leave no trace, found {lost:?}"
            );
        }
    }

    // Twenty updates race from one version.
    let transitions: Vec<(Execution, Vec<Event>)> = (0..20)
        .map(|i| terminated(&winner_run.execution, &format!("reason-{i}"), at(100)))
        .collect();
    let results = join_all(transitions.iter().map(|(next, events)| {
        store.commit(vec![update_write(&winner_run.execution, next, events)])
    }))
    .await;
    let winner = single_winner(
        results,
        "Conflict",
        "20 concurrent updates from one version",
    );
    winner_run.execution = transitions[winner].0.clone();
    winner_run.events.extend(transitions[winner].1.clone());
    assert_stored(store, &winner_run, "the winning update").await;

    // Good creates and stale updates interleaved: each is decided on its own.
    let before = stored(store, winner_run.key()).await;
    let goods: Vec<Run> = (0..25)
        .map(|i| {
            let key = run_key(&ns, &format!("mixed-{i}"), &format!("run-{i}"));
            let (execution, events) = started(key, "mixed", "q", at(i));
            Run { execution, events }
        })
        .collect();
    let (stale, stale_events) = terminated(&contenders[0].execution, "stale", at(200));
    let mut writes = Vec::new();
    for good in &goods {
        writes.push(create_write(
            &good.execution,
            &good.events,
            CurrentRunChange::First,
        ));
        writes.push(update_write(
            &contenders[0].execution,
            &stale,
            &stale_events,
        ));
    }
    let results = join_all(writes.into_iter().map(|write| store.commit(vec![write]))).await;
    for (i, result) in results.into_iter().enumerate() {
        if i % 2 == 0 {
            ok(result, "a create committed alongside refused updates");
        } else {
            refused(
                result,
                &["Conflict"],
                "a stale update committed alongside good creates",
            );
        }
    }
    for good in &goods {
        assert_stored(store, good, "a create committed alongside refused updates").await;
    }
    assert_eq!(
        stored(store, winner_run.key()).await,
        before,
        "store conformance: refused concurrent updates must change nothing"
    );
}

/// Fifty tokio tasks each create, update and terminate a run of their own, in parallel on
/// a multi-threaded runtime: every commit succeeds and every result is visible.
pub async fn concurrent_tasks(store: Arc<dyn Store>) {
    let ns = new_namespace(&*store, "tasks").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let store = store.clone();
        let ns = ns.clone();
        tasks.spawn(async move {
            let key = run_key(&ns, &format!("task-{i}"), &format!("run-{i}"));
            let mut run = create_run(&*store, key.clone(), "task", "q", at(i)).await;
            // Workers append log lines while the run's commits go on.
            let line = crate::LogLine {
                seq: 0,
                time: at(50 + i),
                level: "info".into(),
                message: format!("line of task {i}"),
                task_run: String::new(),
                worker: "w".into(),
            };
            let (appended, ()) = tokio::join!(store.append_logs(&key, vec![line]), async {
                let retried = task_retried(&run.execution, at(100 + i));
                advance(&*store, &mut run, retried).await;
            });
            ok(appended, "append_logs() beside commits");
            let done = terminated(&run.execution, "finished", at(200 + i));
            advance(&*store, &mut run, done).await;
            run
        });
    }
    let mut runs = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(run) => runs.push(run),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("store conformance: a task did not finish: {error}"),
        }
    }
    for run in &runs {
        assert_stored(&*store, run, "a run written by one of 50 parallel tasks").await;
        let logs = ok(store.logs(&run.execution.key, 0, 10).await, "logs()");
        assert_eq!(
            logs.len(),
            1,
            "store conformance: the line appended beside commits"
        );
    }
    for (query, want) in [("", 50), ("ExecutionStatus = 'Terminated'", 50)] {
        assert_eq!(
            ok(
                store.count_executions(&ns, &filter(query)).await,
                "count_executions"
            ),
            want,
            "store conformance: count_executions({query:?}) after 50 parallel tasks"
        );
    }
    let running = ok(store.running_executions().await, "running_executions()");
    assert!(
        running
            .iter()
            .all(|execution| execution.key.namespace != ns),
        "store conformance: terminated runs must not be in running_executions()"
    );
}

/// The index of the only success; every other result must be a `loser_error`.
#[track_caller]
fn single_winner(results: Vec<Result<()>>, loser_error: &str, what: &str) -> usize {
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "store conformance: of {what}, exactly one must succeed; these did: {winners:?}"
    );
    for result in results.into_iter().filter(|result| result.is_err()) {
        refused(result, &[loser_error], &format!("a loser of {what}"));
    }
    winners[0]
}

/// Polls all `futures` concurrently in the calling task and returns their outputs in order.
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|output| output.expect("every future finished"))
        .collect()
}
