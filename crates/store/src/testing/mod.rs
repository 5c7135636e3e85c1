//! The conformance suite every [`Store`] implementation must pass.
//!
//! A backend's tests call [`run_all`] with a store, [`concurrent_tasks`] with a shared
//! handle to it (on a multi-threaded runtime, to run in parallel), and [`write_sample`]
//! before / [`check_sample`] after reopening it (see `tests/conformance.rs` for SQLite).
//! Each check works in namespaces of its own with unique names and looks only at them, so
//! the checks are independent of each other and of whatever else the store holds; the store
//! need not be empty.
//!
//! Stores that several processes share also pass [`notices`], given two handles on
//! one database. [`PostgresCluster`] starts a throwaway PostgreSQL for such tests.
//!
//! Test data comes from the real core ([`Execution::start`] and its transitions), so it is
//! exactly what the engine commits: a [`Write`]'s `execution.version` is the new version and
//! `expected_version` the version that was read. Every violation panics with a message that
//! starts with `store conformance:` and names the rule that was broken.
//!
//! [`notices`]: fn@notices
//! [`Execution::start`]: keel_core::Execution::start
//! [`Write`]: crate::Write

use crate::Store;

mod attempts;
mod concurrency;
mod fixtures;
mod flows;
mod history;
mod listing;
mod namespaces;
mod notices;
mod operator_views;
mod plans;
mod postgres_cluster;
mod runs;
mod sample;
mod schedules;
mod search_attributes;

pub use attempts::activity_attempts;
pub use concurrency::{concurrent_commits, concurrent_tasks};
pub use flows::flows;
pub use history::history_ranges;
pub use listing::{list_filters, list_pagination, namespace_isolation};
pub use namespaces::namespaces;
pub use notices::notices;
pub use operator_views::operator_views;
pub use plans::planned_runs;
pub use postgres_cluster::PostgresCluster;
pub use runs::{
    atomic_batches, create_and_read, deletion, duplicate_events, new_run_replaces_current,
    running_executions, version_check,
};
pub use sample::{Sample, check_sample, write_sample};
pub use schedules::schedules;
pub use search_attributes::{search_attribute_filters, untranslatable_filters};

/// Every check below, in turn, on one store.
pub async fn run_all(store: &dyn Store) {
    namespaces(store).await;
    create_and_read(store).await;
    new_run_replaces_current(store).await;
    version_check(store).await;
    duplicate_events(store).await;
    atomic_batches(store).await;
    history_ranges(store).await;
    running_executions(store).await;
    list_filters(store).await;
    list_pagination(store).await;
    untranslatable_filters(store).await;
    schedules(store).await;
    planned_runs(store).await;
    flows(store).await;
    activity_attempts(store).await;
    search_attribute_filters(store).await;
    namespace_isolation(store).await;
    concurrent_commits(store).await;
    operator_views(store).await;
    deletion(store).await;
}
