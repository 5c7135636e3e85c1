//! Listing and counting runs: filters, orderings, pagination, namespaces kept apart.

use keel_core::Status;
use keel_core::visibility::parse_rfc3339_nanos;

use crate::CurrentRunChange;

use super::fixtures::{
    advance, assert_stored, at, create_run, create_write, filter, new_namespace, ok, refused,
    run_key, sort_summaries, started, task_retried, terminated, unique,
};
use crate::{ExecutionSummary, Page, Store};

/// `list_executions` and `count_executions` with filters and orderings.
pub async fn list_filters(store: &dyn Store) {
    for (text, seconds) in [
        ("2024-01-01T00:00:05Z", 5),
        ("2024-01-01T00:00:10Z", 10),
        ("2024-01-01T00:00:20Z", 20),
        ("2024-01-01T00:00:30Z", 30),
    ] {
        assert_eq!(
            parse_rfc3339_nanos(text),
            Ok(at(seconds).0),
            "suite bug: wrong timestamp"
        );
    }
    let ns = new_namespace(store, "list").await;
    // (workflow id, type, queue, start second, closes, retried)
    let specs = [
        ("wf-0", "alpha", "q1", 0, false, false),
        ("wf-1", "beta", "q1", 10, true, false),
        ("wf-2", "alpha", "q2", 20, false, true),
        ("wf-3", "beta", "q2", 30, false, false),
        ("wf-4", "alpha", "q1", 40, true, true),
        ("wf_5", "gamma", "q2", 50, false, false),
    ];
    let mut summaries = Vec::new();
    for (i, (workflow_id, workflow_type, queue, second, closes, retries)) in
        specs.into_iter().enumerate()
    {
        let key = run_key(&ns, workflow_id, &format!("run-{i}"));
        let mut run = create_run(store, key, workflow_type, queue, at(second)).await;
        if retries {
            let retried = task_retried(&run.execution, at(second + 1));
            advance(store, &mut run, retried).await;
        }
        if closes {
            let done = terminated(&run.execution, "closed", at(second + 5));
            advance(store, &mut run, done).await;
        }
        summaries.push(ExecutionSummary::of(&run.execution));
    }

    type Keep = fn(&ExecutionSummary) -> bool;
    let all: Keep = |_| true;
    let cases: [(&str, Keep, bool); 24] = [
        ("", all, false),
        ("   ", all, false),
        (
            "WorkflowType = 'alpha'",
            |s| s.workflow_type == "alpha",
            false,
        ),
        (
            "WorkflowType != 'alpha'",
            |s| s.workflow_type != "alpha",
            false,
        ),
        (
            "WorkflowType IN ('beta', 'gamma')",
            |s| s.workflow_type != "alpha",
            false,
        ),
        (
            "ExecutionStatus = 'Running'",
            |s| s.status == Status::Running,
            false,
        ),
        (
            "ExecutionStatus = 'Terminated'",
            |s| s.status == Status::Terminated,
            false,
        ),
        ("TaskQueue = 'q2'", |s| s.task_queue == "q2", false),
        (
            "WorkflowType = 'alpha' AND ExecutionStatus = 'Running'",
            |s| s.workflow_type == "alpha" && s.status == Status::Running,
            false,
        ),
        (
            "WorkflowType = 'beta' OR TaskQueue = 'q2'",
            |s| s.workflow_type == "beta" || s.task_queue == "q2",
            false,
        ),
        (
            "StartTime > '2024-01-01T00:00:20Z'",
            |s| s.start_time > at(20),
            false,
        ),
        (
            "StartTime >= '2024-01-01T00:00:20Z'",
            |s| s.start_time >= at(20),
            false,
        ),
        (
            "StartTime < '2024-01-01T00:00:20Z'",
            |s| s.start_time < at(20),
            false,
        ),
        (
            "StartTime <= 1704067220000000000",
            |s| s.start_time <= at(20),
            false,
        ),
        (
            "StartTime = '2024-01-01T00:00:30Z'",
            |s| s.start_time == at(30),
            false,
        ),
        (
            "StartTime BETWEEN '2024-01-01T00:00:10Z' AND '2024-01-01T00:00:30Z'",
            |s| s.start_time >= at(10) && s.start_time <= at(30),
            false,
        ),
        ("ORDER BY StartTime ASC", all, true),
        ("ORDER BY StartTime DESC", all, false),
        (
            "ExecutionStatus = 'Running' ORDER BY StartTime ASC",
            |s| s.status == Status::Running,
            true,
        ),
        (
            "TaskQueue = 'q1' AND StartTime > '2024-01-01T00:00:05Z' ORDER BY StartTime DESC",
            |s| s.task_queue == "q1" && s.start_time > at(5),
            false,
        ),
        ("CloseTime IS NULL", |s| s.close_time.is_none(), false),
        ("HistoryLength > 3", |s| s.history_length > 3, false),
        // Case-sensitive, and `_` is a literal, not a wildcard.
        (
            "WorkflowType STARTS_WITH 'al' OR WorkflowType STARTS_WITH 'Be' OR WorkflowId STARTS_WITH 'wf_'",
            |s| s.workflow_type == "alpha" || s.key.workflow_id == "wf_5",
            false,
        ),
        (
            "WorkflowId = 'x''; DROP TABLE executions; --'",
            |_| false,
            false,
        ),
    ];
    for (query, keep, oldest_first) in cases {
        let mut want: Vec<ExecutionSummary> =
            summaries.iter().filter(|s| keep(s)).cloned().collect();
        sort_summaries(&mut want, oldest_first);
        let page = ok(
            store.list_executions(&ns, &filter(query), 1000, &[]).await,
            &format!("list_executions({query:?})"),
        );
        assert_eq!(
            page.executions,
            want,
            "store conformance: list_executions({query:?}) must return exactly the matching runs' \
             summaries, {}",
            if oldest_first {
                "oldest first"
            } else {
                "newest first (StartTime DESC, then RunId DESC)"
            }
        );
        assert!(
            page.next_page_token.is_empty(),
            "store conformance: list_executions({query:?}) returned everything in one page, so the \
             page token must be empty"
        );
        assert_eq!(
            ok(
                store.count_executions(&ns, &filter(query)).await,
                &format!("count_executions({query:?})")
            ),
            want.len() as i64,
            "store conformance: count_executions({query:?}) must count the matching runs"
        );
    }
    assert_eq!(
        ok(
            store.count_executions(&ns, &filter("")).await,
            "count_executions"
        ),
        summaries.len() as i64,
        "store conformance: a query that looks like SQL injection must not change anything"
    );
}

/// Pagination: page tokens cover every row exactly once, in order; invalid tokens are
/// refused.
pub async fn list_pagination(store: &dyn Store) {
    let ns = new_namespace(store, "pages").await;
    let mut writes = Vec::new();
    let mut summaries = Vec::new();
    for i in 0..23 {
        // Run ids in neither insertion nor start-time order.
        let run_id = format!("run-{:02}", (i * 7) % 23);
        let key = run_key(&ns, &format!("page-{i:02}"), &run_id);
        let kind = if i % 2 == 0 { "even" } else { "odd" };
        // Three runs share each start time: ties are broken by run id.
        let (execution, events) = started(key, kind, "q", at(i / 3));
        summaries.push(ExecutionSummary::of(&execution));
        writes.push(create_write(&execution, &events, CurrentRunChange::First));
    }
    ok(store.commit(writes).await, "a commit of 23 creates");

    type Keep = fn(&ExecutionSummary) -> bool;
    type Order = fn(&ExecutionSummary, &ExecutionSummary) -> std::cmp::Ordering;
    let newest_first: Order =
        |a, b| (b.start_time, &b.key.run_id).cmp(&(a.start_time, &a.key.run_id));
    let oldest_first: Order =
        |a, b| (a.start_time, &a.key.run_id).cmp(&(b.start_time, &b.key.run_id));
    let cases: [(&str, Keep, Order); 6] = [
        ("", |_| true, newest_first),
        ("ORDER BY StartTime ASC", |_| true, oldest_first),
        (
            "WorkflowType = 'even'",
            |s| s.workflow_type == "even",
            newest_first,
        ),
        (
            "WorkflowType = 'odd' ORDER BY StartTime ASC",
            |s| s.workflow_type == "odd",
            oldest_first,
        ),
        // Two values only, so nearly every row ties: the run id decides, in the direction
        // of the last key.
        (
            "ORDER BY WorkflowType",
            |_| true,
            |a, b| (&a.workflow_type, &a.key.run_id).cmp(&(&b.workflow_type, &b.key.run_id)),
        ),
        (
            "ORDER BY WorkflowType DESC",
            |_| true,
            |a, b| (&b.workflow_type, &b.key.run_id).cmp(&(&a.workflow_type, &a.key.run_id)),
        ),
    ];
    for (query, keep, order) in cases {
        let mut want: Vec<ExecutionSummary> =
            summaries.iter().filter(|s| keep(s)).cloned().collect();
        want.sort_by(order);
        assert_eq!(
            ok(
                store.list_executions(&ns, &filter(query), 1000, &[]).await,
                "list_executions"
            )
            .executions,
            want,
            "store conformance: list_executions({query:?}) must order by the query's keys, ties \
             broken by RunId in the direction of the last key"
        );
        for page_size in [1, 2, 5, 7, want.len() - 1, want.len(), want.len() + 1, 1000] {
            let mut got = Vec::new();
            let mut token = Vec::new();
            let mut pages = 0;
            loop {
                pages += 1;
                assert!(
                    pages <= want.len() + 2,
                    "store conformance: list_executions({query:?}, page size {page_size}) did not \
                     reach an empty page token after {pages} pages"
                );
                let page: Page = ok(
                    store
                        .list_executions(&ns, &filter(query), page_size, &token)
                        .await,
                    &format!("list_executions({query:?}, page size {page_size}) with a page token"),
                );
                assert!(
                    page.executions.len() <= page_size,
                    "store conformance: list_executions({query:?}, page size {page_size}) returned a \
                     page of {}",
                    page.executions.len()
                );
                got.extend(page.executions);
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
            assert_eq!(
                got, want,
                "store conformance: the pages of list_executions({query:?}, page size {page_size}) \
                 must together hold every matching run exactly once, in order"
            );
        }
    }
    for token in [b"garbage".to_vec(), vec![0xff; 12]] {
        let message = refused(
            store.list_executions(&ns, &filter(""), 5, &token).await,
            &["InvalidArgument"],
            &format!("list_executions with the invalid page token {token:?}"),
        );
        assert!(
            !message.trim().is_empty(),
            "store conformance: the refusal of an invalid page token must say why"
        );
    }
}

/// Namespaces keep executions apart even with equal workflow and run ids.
pub async fn namespace_isolation(store: &dyn Store) {
    let a = new_namespace(store, "iso-a").await;
    let b = new_namespace(store, "iso-b").await;
    let mut a_runs = Vec::new();
    let mut b_runs = Vec::new();
    for i in 0..3 {
        let (workflow_id, run_id) = (format!("shared-{i}"), format!("run-{i}"));
        a_runs.push(
            create_run(
                store,
                run_key(&a, &workflow_id, &run_id),
                "alpha",
                "qa",
                at(i),
            )
            .await,
        );
        if i < 2 {
            let mut run = create_run(
                store,
                run_key(&b, &workflow_id, &run_id),
                "beta",
                "qb",
                at(i),
            )
            .await;
            let retried = task_retried(&run.execution, at(10));
            advance(store, &mut run, retried).await;
            b_runs.push(run);
        }
    }
    for (ns, runs, other_type) in [(&a, &a_runs, "beta"), (&b, &b_runs, "alpha")] {
        let mut want: Vec<ExecutionSummary> = runs
            .iter()
            .map(|run| ExecutionSummary::of(&run.execution))
            .collect();
        sort_summaries(&mut want, false);
        for query in ["", "WorkflowType = 'alpha' OR WorkflowType = 'beta'"] {
            assert_eq!(
                ok(
                    store.list_executions(ns, &filter(query), 1000, &[]).await,
                    "list_executions"
                )
                .executions,
                want,
                "store conformance: list_executions({ns:?}, {query:?}) must return only that \
                 namespace's runs"
            );
            assert_eq!(
                ok(
                    store.count_executions(ns, &filter(query)).await,
                    "count_executions"
                ),
                want.len() as i64,
                "store conformance: count_executions({ns:?}, {query:?}) must count only that \
                 namespace's runs"
            );
        }
        assert_eq!(
            ok(
                store
                    .count_executions(ns, &filter(&format!("WorkflowType = '{other_type}'")))
                    .await,
                "count_executions"
            ),
            0,
            "store conformance: count_executions must not count another namespace's runs"
        );
        for run in runs.iter() {
            assert_stored(
                store,
                run,
                "a run whose ids are also used in another namespace",
            )
            .await;
            assert_eq!(
                ok(
                    store.current_run(ns, &run.key().workflow_id).await,
                    "current_run()"
                )
                .map(|current| current.start_request_id),
                Some(run.execution.start_request_id.clone()),
                "store conformance: each namespace has its own current runs"
            );
        }
    }
    let nowhere = unique("iso-none");
    let page = ok(
        store
            .list_executions(&nowhere, &filter(""), 1000, &[])
            .await,
        "list_executions of an unknown namespace",
    );
    assert!(
        page.executions.is_empty() && page.next_page_token.is_empty(),
        "store conformance: a namespace without runs lists nothing, got {:?}",
        page.executions
    );
    assert_eq!(
        ok(
            store.count_executions(&nowhere, &filter("")).await,
            "count_executions"
        ),
        0,
        "store conformance: a namespace without runs counts 0"
    );
}
