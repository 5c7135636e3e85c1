//! Wake-ups of stored things that act by themselves at a time: schedules and planned runs.
//!
//! The store holds the things; memory holds only when each is due next, keyed by namespace
//! and id. One loop per kind sleeps until the earliest wake (or a change), acts on whatever is
//! due, and, when other nodes share the store, reads every wake afresh now and then to learn
//! of things they created or deleted.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use keel_core::Time;
use parking_lot::Mutex;

use crate::{Engine, Inner, Result};

/// How often a node sharing its store reads every wake afresh.
pub(crate) const RESYNC: Duration = Duration::from_secs(10);

/// Namespace and id.
pub(crate) type WakeKey = (String, String);

type Acting<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

#[derive(Default)]
pub(crate) struct Wakes {
    due: Mutex<BTreeMap<WakeKey, Time>>,
    changed: Arc<tokio::sync::Notify>,
}

impl Wakes {
    pub(crate) fn set(&self, key: WakeKey, wake: Option<Time>) {
        let mut due = self.due.lock();
        match wake {
            Some(wake) => {
                due.insert(key, wake);
            }
            None => {
                due.remove(&key);
            }
        }
        drop(due);
        self.changed.notify_one();
    }

    /// Replaces every wake (after reading them all from the store).
    pub(crate) fn replace(&self, wakes: BTreeMap<WakeKey, Time>) {
        *self.due.lock() = wakes;
        self.changed.notify_one();
    }

    /// What is due at `now`, and when the next thing is due after it.
    fn due(&self, now: Time) -> (Vec<WakeKey>, Option<Time>) {
        let wakes = self.due.lock();
        let due = wakes
            .iter()
            .filter(|(_, wake)| **wake <= now)
            .map(|(key, _)| key.clone())
            .collect();
        let next = wakes.values().filter(|wake| **wake > now).min().copied();
        (due, next)
    }
}

/// One kind of thing that wakes.
pub(crate) struct Kind {
    pub name: &'static str,
    pub wakes: fn(&Inner) -> &Wakes,
    /// Reads every wake of this kind from the store.
    pub recover: for<'a> fn(&'a Engine) -> Acting<'a>,
    /// Acts on one that is due; it sets its next wake itself.
    pub act: for<'a> fn(&'a Engine, &'a str, &'a str) -> Acting<'a>,
    /// When to try again after `act` failed.
    pub retry: Duration,
}

/// Wakes things of one kind when they are due, until the engine is dropped.
pub(crate) async fn run(inner: Weak<Inner>, kind: Kind) {
    let mut last_resync = std::time::Instant::now();
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let engine = Engine { inner: strong };
        let wakes = (kind.wakes)(&engine.inner);
        if engine.inner.peers.is_some() && last_resync.elapsed() >= RESYNC {
            last_resync = std::time::Instant::now();
            if let Err(error) = (kind.recover)(&engine).await {
                tracing::warn!(%error, kind = kind.name, "reading wakes failed");
            }
        }
        let now = engine.now();
        let (due, next) = wakes.due(now);
        for (namespace, id) in due {
            if let Err(error) = (kind.act)(&engine, &namespace, &id).await {
                tracing::warn!(%namespace, %id, %error, kind = kind.name, "acting failed; retrying");
                wakes.set((namespace, id), Some(engine.now().plus(kind.retry)));
            }
        }
        let changed = wakes.changed.clone();
        let clock = engine.inner.clock.clone();
        // Holding the engine while asleep would keep it alive forever.
        drop(engine);
        let next_wake = async {
            match next {
                Some(next) => clock.sleep_until(next).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = next_wake => {}
            // Now and then regardless: to re-read the store when nodes share it.
            _ = tokio::time::sleep(RESYNC) => {}
            _ = changed.notified() => {}
        }
    }
}
