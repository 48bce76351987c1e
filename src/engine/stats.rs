//! Per-rule counters and the serializable status snapshot.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::SystemTime;

use serde::Serialize;

use crate::config::Rule;

/// Threads that may count without an atomic read-modify-write: each owns
/// one stripe while it lives. Other threads share the last stripe.
const OWNED: usize = 16;
pub(crate) const STRIPES: usize = OWNED + 1;

/// An `AtomicU64` alone in its cache line (128 bytes covers the adjacent-line
/// prefetcher of x86 and the 128-byte lines of some ARM cores).
#[derive(Debug, Default)]
#[repr(align(128))]
#[cfg(feature = "guard")]
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

/// A counter cell of a stripe.
pub(crate) trait StripeCell {
    /// Adds one; the caller is the only writer.
    fn add_alone(&self);
    /// Adds one, with other writers.
    fn add_shared(&self);
}

/// The same two adds for each atomic width a stripe holds.
macro_rules! stripe_cell {
    ($($(#[$cfg:meta])* $atomic:ty),*) => {$(
        $(#[$cfg])*
        impl StripeCell for $atomic {
            #[inline(always)]
            fn add_alone(&self) {
                self.store(self.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
            }
            #[inline(always)]
            fn add_shared(&self) {
                self.fetch_add(1, Ordering::Relaxed);
            }
        }
    )*};
}

stripe_cell!(
    AtomicU64,
    #[cfg(feature = "guard")]
    AtomicU32
);

/// Adds one to `cell`, of stripe `stripe` (the calling thread's, see
/// [`current::stripe`](super::current::stripe)): with a plain load and
/// store in an owned stripe, whose thread is its only writer, so nothing is
/// lost; with an atomic add in the shared one.
#[inline]
pub(crate) fn add_one(cell: &impl StripeCell, stripe: usize) {
    if stripe < OWNED { cell.add_alone() } else { cell.add_shared() }
}

/// A counter bumped on every matching call, exact and cheap from many
/// threads: a thread that owns a stripe adds with a plain load and store (it
/// is the stripe's only writer, so nothing is lost); the rest share one
/// stripe with an atomic add. Each stripe has its own cache line.
#[cfg(feature = "guard")]
#[derive(Debug, Default)]
pub(crate) struct StripedCounter {
    stripes: [Padded; STRIPES],
}

#[cfg(feature = "guard")]
impl StripedCounter {
    /// Adds one in stripe `i`: the calling thread's (see
    /// [`current::stripe`](super::current::stripe)).
    #[inline]
    pub(crate) fn incr(&self, i: usize) {
        if let Some(Padded(cell)) = self.stripes.get(i) {
            add_one(cell, i);
        }
    }

    pub(crate) fn get(&self) -> u64 {
        self.stripes.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// What a rule counts (see [`RuleStatus`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Count {
    Matched,
    Delayed,
    Aborted,
    Errored,
    TimedOut,
    Partitioned,
    Lost,
    Skipped,
}

/// One stripe of a rule's counters: all kinds in one cache line, so a
/// thread bumps only lines it owns (unless it shares the last stripe).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Line([AtomicU64; 8]);

/// The counters of one rule. They live as long as a rule of that name is
/// configured, so they survive a reload that keeps the name.
///
/// Every count is striped like [`StripedCounter`]: a thread that owns a
/// stripe adds with a plain load and store, so threads that match (or
/// fault) on the same rule at once never write the same cache line.
#[derive(Debug, Default)]
pub(crate) struct RuleStats {
    /// When a rule of this name was first installed (ms since the epoch).
    #[cfg_attr(not(feature = "guard"), allow(dead_code))]
    pub(crate) since_ms: i64,
    /// Faults injected under the rule's `max_injections`, counted while it
    /// is set; kept across reloads with the name, as the counters are.
    pub(crate) injections: AtomicU64,
    stripes: [Line; STRIPES],
}

impl RuleStats {
    pub(crate) fn new(since_ms: i64) -> Self {
        RuleStats { since_ms, ..RuleStats::default() }
    }

    /// Adds one to `count` in stripe `i`: the calling thread's (see
    /// [`current::stripe`](super::current::stripe)).
    #[inline]
    pub(crate) fn add_at(&self, count: Count, i: usize) {
        if let Some(cell) = self.stripes.get(i).and_then(|line| line.0.get(count as usize)) {
            add_one(cell, i);
        }
    }

    /// Adds one to `count` in the calling thread's stripe. An outcome (any
    /// count but `Matched`, which the decision counts with `add_at`) is
    /// published after the call's match: a reader that sees it, and fences,
    /// sees the match too (`Chaos::status`), whichever thread counted each.
    /// (Free on x86; the matched count, on every call, stays relaxed.)
    pub(crate) fn add(&self, count: Count) {
        std::sync::atomic::fence(Ordering::Release);
        self.add_at(count, super::current::stripe());
    }

    /// The total of `count` over all stripes.
    pub(crate) fn get(&self, count: Count) -> u64 {
        self.stripes.iter().filter_map(|line| line.0.get(count as usize)).map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// A point-in-time snapshot of a [`Chaos`](crate::Chaos) handle, for admin
/// endpoints, logs and tests. Serializes with serde (e.g. to JSON).
///
/// In JSON (one rule, guardrails that tripped; `rule` holds the rule's
/// configuration as the config file writes it; `guard` is absent without
/// the `guard` feature and `null` without guardrails):
///
/// ```json
/// {
///   "enabled": true, "generation": 1, "seed": null, "last_error": null,
///   "source": "/etc/chaos/chaos.yaml", "loaded_at": "2026-11-25T10:00:00.000Z",
///   "rules": [{ "name": "flaky", "matched": 20, "delayed": 0, "aborted": 2,
///               "errored": 0, "timed_out": 0, "partitioned": 0, "lost": 0,
///               "skipped": 1, "rule": { "name": "flaky", "abort": { "status": 503, "percentage": 10.0 } } }],
///   "guard": {
///     "tripped": { "metric": "error_rate", "value": "0.6000", "threshold": "0.5",
///                  "at": "2026-11-25T10:00:00.900Z" },
///     "active_faults": 0, "active_faults_peak": 0, "injections": 2, "calls_seen": 0,
///     "window": { "calls": 20, "errors": 12, "error_rate": 0.6, "latency_p99_ms": 0.003 },
///     "skipped": { "tripped": 1 }, "timezone": "UTC"
///   }
/// }
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// The master switch.
    pub enabled: bool,
    /// How many configurations have been installed: the handle's first is 1
    /// (0 for [`Chaos::disabled`](crate::Chaos::disabled)); with
    /// `CHAOS_CONFIG`, the file's is 2, after the empty one the handle
    /// starts with.
    pub generation: u64,
    /// The seed of the installed configuration.
    pub seed: Option<u64>,
    /// Each configured rule with its counters, in evaluation order.
    pub rules: Vec<RuleStatus>,
    /// The last rejected configuration's error, until a good one is installed.
    /// For a watched file this is also a file that cannot be read (deleted,
    /// say); the message names the file.
    pub last_error: Option<String>,
    /// The guardrails' state, when the configuration has guardrails. (A
    /// rule's `schedule` or `for` without a `guardrails` section skips
    /// faults too; they are counted in the rule's `skipped`, not here.)
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
    /// Calls it delayed; also a failure's wait that the kill switch or a
    /// guardrail's trip ended without the failure (the call was held, then
    /// went on).
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
    ///
    /// A failure that waits (timeout, partition, loss) is counted when it
    /// ends the call, or when the caller gives up during the wait (its own
    /// timeout, a closed connection, a dropped future).
    pub lost: u64,
    /// Calls with a fault it rolled but did not inject (each call counted
    /// once, however many of its faults were not): `max_injections` was reached, a
    /// guardrail forbade it (outside the allowed hours, the rule's schedule
    /// or `for`, a cap; the reasons are in [`Status::guard`] when the
    /// configuration has guardrails), or a failure was rolled for a fault
    /// point that can only be delayed (a `#[chaos]` function that does not
    /// return a `Result`), or the kill switch went off (or the guardrails
    /// tripped) between the decision and a failure that had no wait.
    pub skipped: u64,
    /// The rule as configured.
    pub rule: Rule,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Held by the tests that claim many stripes at once: with 35 threads
    /// holding every owned stripe, a test running alongside could be left
    /// with none to compare.
    static MANY_STRIPES: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn many_stripes() -> std::sync::MutexGuard<'static, ()> {
        MANY_STRIPES.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// More threads than owned stripes, all alive at once: some count in
    /// their own stripe, the rest share one, and no count is lost or lands
    /// in another kind's cell.
    #[test]
    fn rule_counts_are_exact_across_threads() {
        const THREADS: u64 = 2 * OWNED as u64 + 3;
        const ROUNDS: u64 = 2_000;
        let kinds = [
            Count::Matched,
            Count::Delayed,
            Count::Aborted,
            Count::Errored,
            Count::TimedOut,
            Count::Partitioned,
            Count::Lost,
            Count::Skipped,
        ];
        let _many = many_stripes();
        let stats = RuleStats::new(0);
        let barrier = std::sync::Barrier::new(THREADS as usize);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    barrier.wait();
                    for _ in 0..ROUNDS {
                        // Kind k is added k + 1 times per round.
                        for (k, &kind) in kinds.iter().enumerate() {
                            for _ in 0..=k {
                                stats.add(kind);
                            }
                        }
                    }
                });
            }
        });
        for (k, &kind) in kinds.iter().enumerate() {
            assert_eq!(stats.get(kind), THREADS * ROUNDS * (k as u64 + 1), "{kind:?}");
        }
    }

    /// Threads without a stripe of their own share one, and add to it
    /// with a read-modify-write: two of them adding at once lose nothing.
    #[test]
    fn the_shared_stripe_loses_no_count() {
        const ADDS: u64 = 500_000;
        let stats = RuleStats::new(0);
        let barrier = std::sync::Barrier::new(2);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    barrier.wait();
                    for _ in 0..ADDS {
                        stats.add_at(Count::Aborted, SHARED_STRIPE);
                    }
                });
            }
        });
        assert_eq!(stats.get(Count::Aborted), 2 * ADDS);
        assert_eq!(stats.get(Count::Matched), 0);
    }

    /// Threads alive at once never own the same stripe (some may get the
    /// shared one when other tests hold stripes meanwhile).
    #[test]
    fn live_threads_own_distinct_stripes() {
        const THREADS: usize = 12;
        let _many = many_stripes();
        let barrier = std::sync::Barrier::new(THREADS);
        let claimed: Vec<usize> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..THREADS)
                .map(|_| {
                    scope.spawn(|| {
                        let stripe = Stripe::claim();
                        // All hold their stripes at once.
                        barrier.wait();
                        stripe.index()
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let mut owned: Vec<usize> = claimed.iter().copied().filter(|&i| i < OWNED).collect();
        let n = owned.len();
        // Other tests' threads hold a few stripes at most: most of these
        // twelve own one, or the check below would check nothing.
        assert!(n >= 2, "too few owned stripes to compare: {claimed:?}");
        owned.sort_unstable();
        owned.dedup();
        assert_eq!(owned.len(), n, "an owned stripe was handed out twice: {claimed:?}");
        assert!(claimed.iter().all(|&i| i <= SHARED_STRIPE), "{claimed:?}");
    }
}
