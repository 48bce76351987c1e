//! Per-rule counters and the serializable status snapshot.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::SystemTime;

use serde::Serialize;

use crate::config::Rule;

/// Threads that may count without an atomic read-modify-write: each owns
/// one stripe while it lives. Other threads share the last stripe.
const OWNED: usize = 16;
const STRIPES: usize = OWNED + 1;

/// An `AtomicU64` alone in its cache line (128 bytes covers the adjacent-line
/// prefetcher of x86 and the 128-byte lines of some ARM cores).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded(pub(crate) AtomicU64);

/// Which stripes are owned by a live thread (bit i: stripe i).
static OWNED_STRIPES: AtomicU32 = AtomicU32::new(0);

/// The stripe of a thread that owns none.
pub(crate) const SHARED_STRIPE: usize = OWNED;

/// A thread's stripe: owned (released when the thread exits) or shared.
/// Kept in the thread's engine-local state (`current.rs`).
pub(crate) struct Stripe(usize);

impl Stripe {
    pub(crate) fn index(&self) -> usize {
        self.0
    }

    pub(crate) fn claim() -> Self {
        let mut bits = OWNED_STRIPES.load(Ordering::Relaxed);
        loop {
            let free = (!bits).trailing_zeros() as usize;
            if free >= OWNED {
                return Stripe(OWNED);
            }
            match OWNED_STRIPES.compare_exchange_weak(bits, bits | (1 << free), Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Stripe(free),
                Err(now) => bits = now,
            }
        }
    }
}

impl Drop for Stripe {
    fn drop(&mut self) {
        if self.0 < OWNED {
            OWNED_STRIPES.fetch_and(!(1 << self.0), Ordering::AcqRel);
        }
    }
}

/// A counter bumped on every matching call, exact and cheap from many
/// threads: a thread that owns a stripe adds with a plain load and store (it
/// is the stripe's only writer, so nothing is lost); the rest share one
/// stripe with an atomic add. Each stripe has its own cache line.
#[derive(Debug, Default)]
pub(crate) struct StripedCounter {
    stripes: [Padded; STRIPES],
}

impl StripedCounter {
    #[inline]
    pub(crate) fn incr(&self) {
        self.incr_at(super::current::stripe());
    }

    /// Adds one in stripe `i`: the calling thread's (see
    /// [`current::stripe`](super::current::stripe)).
    #[inline]
    pub(crate) fn incr_at(&self, i: usize) {
        let Some(Padded(cell)) = self.stripes.get(i) else { return };
        if i < OWNED {
            // Single writer: no read-modify-write needed.
            cell.store(cell.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        } else {
            cell.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn get(&self) -> u64 {
        self.stripes.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// The counters of one rule. They live as long as a rule of that name is
/// configured, so they survive a reload that keeps the name.
#[derive(Debug, Default)]
pub(crate) struct RuleStats {
    /// When a rule of this name was first installed (ms since the epoch).
    #[cfg_attr(not(feature = "guard"), allow(dead_code))]
    pub(crate) since_ms: i64,
    pub(crate) matched: StripedCounter,
    pub(crate) delayed: Padded,
    pub(crate) aborted: Padded,
    pub(crate) errored: Padded,
    pub(crate) timed_out: Padded,
    pub(crate) partitioned: Padded,
    pub(crate) lost: Padded,
    pub(crate) skipped: Padded,
}

impl RuleStats {
    pub(crate) fn new(since_ms: i64) -> Self {
        RuleStats { since_ms, ..RuleStats::default() }
    }

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
    /// For a watched file this is also a file that cannot be read (deleted,
    /// say); the message names the file.
    pub last_error: Option<String>,
    /// The guardrails' state, when the configuration has guardrails.
    #[cfg(feature = "guard")]
    pub guard: Option<crate::guard::GuardStatus>,
    /// The file the installed configuration was read from (`CHAOS_CONFIG`,
    /// `Chaos::watch`); `None` when it came from code
    /// or the `CHAOS_*` variables.
    pub source: Option<String>,
    /// When the installed configuration (generation `generation`) was
    /// installed: the last good load. Serialized as RFC 3339 UTC.
    #[serde(serialize_with = "rfc3339")]
    pub loaded_at: SystemTime,
}

fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis(*t))
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
    /// Calls it failed with an `error` fault.
    pub errored: u64,
    /// Calls it failed with a `timeout` fault.
    pub timed_out: u64,
    /// Calls it failed with a `partition` fault.
    pub partitioned: u64,
    /// Calls it lost (`loss` fault).
    pub lost: u64,
    /// Faults it rolled but did not inject: `max_injections` was reached, or
    /// a failure was rolled for a fault point that can only be delayed (a
    /// `#[chaos]` function that does not return a `Result`).
    pub skipped: u64,
    /// The rule as configured.
    pub rule: Rule,
}
