//! The timer wheel: one entry per execution, at its earliest deadline.
//!
//! The engine re-arms an execution after every transition with the deadline the core
//! derives from its state, so the wheel holds nothing the store does not; at start-up it
//! is filled from the running executions.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use keel_core::{ExecutionKey, Time};
use parking_lot::Mutex;
use tokio::sync::Notify;

#[derive(Default)]
struct Wheel {
    by_time: BTreeSet<(Time, ExecutionKey)>,
    by_key: HashMap<ExecutionKey, Time>,
}

#[derive(Clone, Default)]
pub struct Timers {
    wheel: Arc<Mutex<Wheel>>,
    changed: Arc<Notify>,
}

impl Timers {
    /// Sets (or clears, with `None`) the one deadline the wheel keeps for `key`.
    pub fn arm(&self, key: &ExecutionKey, at: Option<Time>) {
        let mut wheel = self.wheel.lock();
        let current = wheel.by_key.get(key).copied();
        if current == at {
            return;
        }
        if let Some(old) = current {
            wheel.by_time.remove(&(old, key.clone()));
            wheel.by_key.remove(key);
        }
        let earliest_before = wheel.by_time.first().map(|(t, _)| *t);
        if let Some(at) = at {
            wheel.by_time.insert((at, key.clone()));
            wheel.by_key.insert(key.clone(), at);
        }
        let earliest_after = wheel.by_time.first().map(|(t, _)| *t);
        drop(wheel);
        if earliest_after != earliest_before {
            self.changed.notify_one();
        }
    }

    /// Removes and returns the executions whose deadline is due at `now`, or the time of the
    /// next one.
    fn due(&self, now: Time) -> (Vec<ExecutionKey>, Option<Time>) {
        let mut wheel = self.wheel.lock();
        let mut due = Vec::new();
        while let Some((at, _)) = wheel.by_time.first() {
            if *at > now {
                break;
            }
            let (_, key) = wheel.by_time.pop_first().expect("peeked");
            wheel.by_key.remove(&key);
            due.push(key);
        }
        (due, wheel.by_time.first().map(|(t, _)| *t))
    }

    /// Runs forever: sleeps until the earliest deadline (or a change), then calls `fire`
    /// for each due execution.
    pub async fn run(self, clock: crate::Clock, fire: impl Fn(ExecutionKey) + Send + 'static) {
        loop {
            let (due, next) = self.due(clock.now());
            for key in due {
                fire(key);
            }
            let changed = self.changed.notified();
            match next {
                Some(at) => {
                    tokio::select! {
                        _ = clock.sleep_until(at) => {}
                        _ = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}
