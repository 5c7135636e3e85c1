//! Filtering on custom search attributes, and filters a store cannot answer.

use keel_core::search::{SearchAttribute, SearchAttributes, SearchValue};
use keel_core::{Blob, Event, Execution, ExecutionKey, StartParams, Time};

use crate::CurrentRunChange;

use super::fixtures::{
    at, completed_with, create_run, create_write, filter, keyword, new_namespace, ok, refused,
    run_key, typed, update_write,
};
use crate::Store;

/// A filter the store cannot answer (an operator a search attribute's type does not have)
/// is refused with InvalidArgument naming the problem.
pub async fn untranslatable_filters(store: &dyn Store) {
    let ns = new_namespace(store, "badquery").await;
    create_run(store, run_key(&ns, "wf", "run-1"), "flow", "q", at(1)).await;
    let cases = [
        ("Tags > 'a'", "Tags"),
        ("Notes IN ('a')", "Notes"),
        ("Done BETWEEN false AND true", "Done"),
    ];
    for (query, problem) in cases {
        let listed = refused(
            store.list_executions(&ns, &filter(query), 10, &[]).await,
            &["InvalidArgument"],
            &format!("list_executions with the untranslatable filter {query:?}"),
        );
        let counted = refused(
            store.count_executions(&ns, &filter(query)).await,
            &["InvalidArgument"],
            &format!("count_executions with the untranslatable filter {query:?}"),
        );
        for message in [listed, counted] {
            assert!(
                message.contains(problem),
                "store conformance: the refusal of the filter {query:?} must name the problem \
                 ({problem}); it says {message:?}"
            );
        }
    }
}

/// Custom search attributes of every type filter as Temporal's do, follow upserts, and go
/// with a deleted run.
pub async fn search_attribute_filters(store: &dyn Store) {
    let ns = new_namespace(store, "search").await;
    let attributes = |color: &str, size: i64, tags: &[&str], notes: &str| {
        SearchAttributes::from([
            keyword("Color", color),
            typed("Size", SearchValue::Int(size)),
            typed(
                "Tags",
                SearchValue::KeywordList(tags.iter().map(|t| t.to_string()).collect()),
            ),
            typed("Notes", SearchValue::Text(notes.into())),
            typed("Weight", SearchValue::Double(size as f64 / 2.0)),
            typed("Done", SearchValue::Bool(size > 2)),
            typed("Due", SearchValue::Datetime(at(size).0)),
        ])
    };
    let red = started_with(
        run_key(&ns, "red", "run-1"),
        attributes("red", 3, &["a", "b"], "The quick brown fox"),
        at(1),
    );
    let blue = started_with(
        run_key(&ns, "blue", "run-1"),
        attributes("blue", 1, &["b"], "lazy dog"),
        at(2),
    );
    let bare = started_with(
        run_key(&ns, "bare", "run-1"),
        SearchAttributes::new(),
        at(3),
    );
    let writes = [&red, &blue, &bare]
        .map(|(execution, events)| create_write(execution, events, CurrentRunChange::First));
    ok(
        store.commit(writes.to_vec()).await,
        "creating runs with search attributes",
    );
    expect_matches(store, &ns, "Color = 'red'", &["red"]).await;
    expect_matches(store, &ns, "Color != 'red'", &["blue"]).await;
    expect_matches(
        store,
        &ns,
        "Color IN ('red', 'blue') AND Size >= 2",
        &["red"],
    )
    .await;
    expect_matches(store, &ns, "Color STARTS_WITH 'bl'", &["blue"]).await;
    expect_matches(store, &ns, "Size BETWEEN 1 AND 3", &["red", "blue"]).await;
    expect_matches(store, &ns, "Size IS NULL", &["bare"]).await;
    expect_matches(store, &ns, "Size IS NOT NULL", &["red", "blue"]).await;
    expect_matches(store, &ns, "Tags = 'b'", &["red", "blue"]).await;
    expect_matches(store, &ns, "Tags != 'a'", &["blue", "bare"]).await;
    expect_matches(store, &ns, "Tags IN ('a', 'z')", &["red"]).await;
    expect_matches(store, &ns, "Tags NOT IN ('b')", &["bare"]).await;
    expect_matches(store, &ns, "Notes = 'QUICK cat'", &["red"]).await;
    expect_matches(store, &ns, "Notes != 'dog'", &["red", "bare"]).await;
    expect_matches(store, &ns, "Weight > 1.0", &["red"]).await;
    expect_matches(store, &ns, "Done = true", &["red"]).await;
    expect_matches(store, &ns, "Due < '2024-01-01T00:00:02Z'", &["blue"]).await;
    // The listing returns what the run carries.
    let page = ok(
        store
            .list_executions(&ns, &filter("Color = 'red'"), 10, &[])
            .await,
        "list_executions",
    );
    assert_eq!(
        page.executions[0].search_attributes, red.0.search_attributes,
        "store conformance: a listed run must carry its search attributes"
    );

    // An upsert changes what filters see: blue becomes red-ish and loses its size.
    let (upserted, events) = search_attributes_upserted(
        &blue.0,
        SearchAttributes::from([
            keyword("Color", "purple"),
            (
                "Size".to_owned(),
                SearchAttribute {
                    payload: Blob(b"null".to_vec()),
                    value: None,
                },
            ),
        ]),
        at(4),
    );
    ok(
        store
            .commit(vec![update_write(&blue.0, &upserted, &events)])
            .await,
        "an upsert of search attributes",
    );
    expect_matches(store, &ns, "Color = 'purple'", &["blue"]).await;
    expect_matches(store, &ns, "Color = 'blue'", &[]).await;
    expect_matches(store, &ns, "Size IS NULL", &["blue", "bare"]).await;
    expect_matches(store, &ns, "Tags = 'b'", &["red", "blue"]).await;

    ok(store.delete_execution(&red.0.key).await, "deleting a run");
    expect_matches(store, &ns, "Tags = 'a'", &[]).await;
}

/// Lists and counts with `query`, expecting exactly the workflow ids `want`.
async fn expect_matches(store: &dyn Store, ns: &str, query: &str, want: &[&str]) {
    let page = ok(
        store.list_executions(ns, &filter(query), 100, &[]).await,
        &format!("list_executions({query:?})"),
    );
    let mut got: Vec<&str> = page
        .executions
        .iter()
        .map(|s| s.key.workflow_id.as_str())
        .collect();
    got.sort();
    let mut want = want.to_vec();
    want.sort();
    assert_eq!(got, want, "store conformance: list_executions({query:?})");
    assert_eq!(
        ok(
            store.count_executions(ns, &filter(query)).await,
            "count_executions"
        ),
        want.len() as i64,
        "store conformance: count_executions({query:?})"
    );
}

/// A new run with these search attributes.
fn started_with(
    key: ExecutionKey,
    search_attributes: SearchAttributes,
    now: Time,
) -> (Execution, Vec<Event>) {
    let params = StartParams {
        workflow_type: "searched".into(),
        task_queue: "q".into(),
        request_id: format!("request-{}-{}", key.workflow_id, key.run_id),
        search_attributes,
        ..StartParams::default()
    };
    let (execution, outcome) =
        Execution::start(key, params, now).expect("suite bug: the core refused a start");
    (execution, outcome.events)
}

/// The pending workflow task starts and completes with an upsert of search attributes.
fn search_attributes_upserted(
    execution: &Execution,
    upsert: SearchAttributes,
    now: Time,
) -> (Execution, Vec<Event>) {
    completed_with(
        execution,
        keel_core::Command::UpsertSearchAttributes {
            search_attributes: upsert,
        },
        now,
    )
}
