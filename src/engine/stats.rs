//! Per-rule counters and the serializable status snapshot.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

use crate::config::Rule;

const STRIPES: usize = 8;

/// An `AtomicU64` alone in its cache line (128 bytes covers the adjacent-line
/// prefetcher of x86 and the 128-byte lines of some ARM cores).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded(pub(crate) AtomicU64);

thread_local! {
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

#[inline]
fn stripe() -> usize {
    STRIPE.with(|s| {
        let v = s.get();
        if v != usize::MAX {
            return v;
        }
        let v = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
        s.set(v);
        v
    })
}

/// A counter bumped on every matching call: each thread adds to its own
/// stripe (threads are dealt stripes round-robin), so two threads counting
/// the same rule do not bounce one cache line between cores.
#[derive(Debug, Default)]
pub(crate) struct StripedCounter {
    stripes: [Padded; STRIPES],
}

impl StripedCounter {
    #[inline]
    pub(crate) fn incr(&self) {
        self.stripes[stripe()].0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.stripes.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// The counters of one rule. They live as long as a rule of that name is
/// configured, so they survive a reload that keeps the name.
#[derive(Debug, Default)]
pub(crate) struct RuleStats {
    pub(crate) matched: StripedCounter,
    pub(crate) delayed: Padded,
    pub(crate) aborted: Padded,
    pub(crate) skipped: Padded,
}

impl RuleStats {
    pub(crate) fn add(c: &Padded) {
        c.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A point-in-time snapshot of a [`Chaos`](crate::Chaos) handle, for admin
/// endpoints, logs and tests. Serializes with serde (e.g. to JSON).
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// The master switch.
    pub enabled: bool,
    /// How many configurations have been installed (the first is 1).
    pub generation: u64,
    /// The seed of the installed configuration.
    pub seed: Option<u64>,
    /// Each configured rule with its counters, in evaluation order.
    pub rules: Vec<RuleStatus>,
    /// The last rejected configuration's error, until a good one is installed.
    pub last_error: Option<String>,
}

impl Status {
    /// The status of the rule with this name.
    pub fn rule(&self, name: &str) -> Option<&RuleStatus> {
        self.rules.iter().find(|r| r.name == name)
    }
}

/// One rule's counters.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct RuleStatus {
    /// The rule's name.
    pub name: String,
    /// Calls the rule matched (it was the first matching rule).
    pub matched: u64,
    /// Calls it delayed.
    pub delayed: u64,
    /// Calls it aborted.
    pub aborted: u64,
    /// Faults it rolled but did not inject because `max_injections` was reached.
    pub skipped: u64,
    /// The rule as configured.
    pub rule: Rule,
}
