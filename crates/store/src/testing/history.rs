//! Reading a run's history by range.

use keel_core::Event;

use crate::CurrentRunChange;

use super::fixtures::{
    at, create_run, create_write, new_namespace, ok, run_key, started, task_retried, update_write,
};
use crate::Store;

/// History ranges: `first_event_id` and `max_events`, id order whatever the insertion
/// order, runs of one workflow id kept apart.
pub async fn history_ranges(store: &dyn Store) {
    let ns = new_namespace(store, "history").await;
    let key = run_key(&ns, "long", "run-1");
    let mut run = create_run(store, key.clone(), "flow", "q", at(1)).await;
    for round in 0..3 {
        let (next, events) = task_retried(&run.execution, at(10 + round));
        let mut written = events.clone();
        if round == 1 {
            // The store orders by id, not by insertion.
            written.reverse();
        }
        ok(
            store
                .commit(vec![update_write(&run.execution, &next, &written)])
                .await,
            "an update appending events",
        );
        run.execution = next;
        run.events.extend(events);
    }
    let all = run.events.clone();
    assert_eq!(
        all.iter().map(|event| event.id).collect::<Vec<_>>(),
        (1..=14).collect::<Vec<_>>(),
        "suite bug: unexpected event ids"
    );
    let cases: [(i64, usize, &[Event]); 10] = [
        (1, usize::MAX, &all),
        (1, 4, &all[..4]),
        (5, 3, &all[4..7]),
        (10, 100, &all[9..]),
        (14, 1, &all[13..]),
        (15, 10, &[]),
        (0, usize::MAX, &all),
        (-5, 2, &all[..2]),
        (3, 0, &[]),
        (2, 1, &all[1..2]),
    ];
    for (first_event_id, max_events, want) in cases {
        assert_eq!(
            ok(
                store.history(&key, first_event_id, max_events).await,
                "history()"
            ),
            want,
            "store conformance: history(first_event_id: {first_event_id}, max_events: {max_events}) \
             must return the events with ids >= first_event_id, in id order, at most max_events"
        );
    }

    let other_key = run_key(&ns, "long", "run-2");
    let (other, other_events) = started(other_key.clone(), "flow", "q", at(20));
    ok(
        store
            .commit(vec![create_write(
                &other,
                &other_events,
                CurrentRunChange::Keep,
            )])
            .await,
        "creating another run of the workflow id with make_current: Keep",
    );
    assert_eq!(
        ok(store.history(&other_key, 1, usize::MAX).await, "history()"),
        other_events,
        "store conformance: history() must return only the named run's events"
    );
    assert_eq!(
        ok(store.history(&key, 1, usize::MAX).await, "history()"),
        all,
        "store conformance: another run of the same workflow id must not change this run's history"
    );
    assert_eq!(
        ok(store.current_run(&ns, "long").await, "current_run()").map(|current| current.run_id),
        Some("run-1".to_owned()),
        "store conformance: a create with make_current: Keep must leave the current run alone"
    );
    assert_eq!(
        ok(
            store
                .history(&run_key(&ns, "long", "no-such-run"), 1, usize::MAX)
                .await,
            "history() of an unknown run"
        ),
        Vec::<Event>::new(),
        "store conformance: an unknown run has no events"
    );
}
