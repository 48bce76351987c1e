//! A lock-free sliding window of call outcomes: counts, errors and a
//! latency histogram per time bucket.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Buckets in the window; each covers a tenth of it.
pub(crate) const BUCKETS: usize = 10;
/// Latency histogram slots: exact microseconds below 16, then 4 slots per
/// power of two up to 2^31 µs (~36 minutes). A reported percentile is the
/// upper edge of its slot: at most ~19% above the true value.
const SLOTS: usize = 16 + (31 - 4 + 1) * 4;

#[derive(Debug)]
struct Bucket {
    epoch: AtomicI64,
    calls: AtomicU64,
    errors: AtomicU64,
    latency: [AtomicU32; SLOTS],
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            epoch: AtomicI64::new(i64::MIN),
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU32::new(0)),
        }
    }
}

/// What the window holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Summary {
    pub(crate) calls: u64,
    pub(crate) errors: u64,
    pub(crate) p99: Option<Duration>,
}

/// Outcomes of the calls that were not faulted, over the last window.
///
/// Recording is a few relaxed atomic adds. When a bucket's time comes round
/// again, the first recorder to notice resets it; a sample recorded by
/// another thread at that very moment may be lost. The window is a guard's
/// estimate, not an exact ledger.
#[derive(Debug)]
pub(crate) struct Outcomes {
    buckets: Box<[Bucket]>,
}

impl Default for Outcomes {
    fn default() -> Self {
        Outcomes { buckets: (0..BUCKETS).map(|_| Bucket::default()).collect() }
    }
}

fn slot(latency: Duration) -> usize {
    let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    if us < 16 {
        return us as usize;
    }
    let msb = 63 - us.leading_zeros() as usize; // >= 4
    let sub = ((us >> (msb - 2)) & 3) as usize;
    (16 + (msb - 4) * 4 + sub).min(SLOTS - 1)
}

/// The upper edge of a slot, in microseconds.
fn slot_upper(slot: usize) -> u64 {
    if slot < 16 {
        return slot as u64;
    }
    let msb = (slot - 16) / 4 + 4;
    let sub = ((slot - 16) % 4) as u64;
    ((4 + sub + 1) << (msb - 2)) - 1
}

impl Outcomes {
    /// Records one call that ended at `now_ms`.
    pub(crate) fn record(&self, now_ms: i64, bucket_ms: i64, failed: bool, latency: Duration) {
        let epoch = now_ms.div_euclid(bucket_ms.max(1));
        let b = &self.buckets[epoch.rem_euclid(BUCKETS as i64) as usize];
        let seen = b.epoch.load(Ordering::Acquire);
        if seen != epoch && b.epoch.compare_exchange(seen, epoch, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            b.calls.store(0, Ordering::Relaxed);
            b.errors.store(0, Ordering::Relaxed);
            for s in &b.latency {
                s.store(0, Ordering::Relaxed);
            }
        }
        b.calls.fetch_add(1, Ordering::Relaxed);
        if failed {
            b.errors.fetch_add(1, Ordering::Relaxed);
        }
        b.latency[slot(latency)].fetch_add(1, Ordering::Relaxed);
    }

    /// Sums the buckets of the window ending at `now_ms`.
    pub(crate) fn summary(&self, now_ms: i64, bucket_ms: i64) -> Summary {
        let now = now_ms.div_euclid(bucket_ms.max(1));
        let mut hist = [0u64; SLOTS];
        let mut sum = Summary::default();
        for b in self.buckets.iter() {
            let epoch = b.epoch.load(Ordering::Acquire);
            if epoch > now || epoch <= now - BUCKETS as i64 {
                continue;
            }
            sum.calls += b.calls.load(Ordering::Relaxed);
            sum.errors += b.errors.load(Ordering::Relaxed);
            for (h, s) in hist.iter_mut().zip(&b.latency) {
                *h += u64::from(s.load(Ordering::Relaxed));
            }
        }
        let total: u64 = hist.iter().sum();
        if total > 0 {
            let rank = (total * 99).div_ceil(100);
            let mut acc = 0;
            for (i, h) in hist.iter().enumerate() {
                acc += h;
                if acc >= rank {
                    sum.p99 = Some(Duration::from_micros(slot_upper(i)));
                    break;
                }
            }
        }
        sum
    }

    /// Forgets everything (on re-arm).
    pub(crate) fn clear(&self) {
        for b in self.buckets.iter() {
            b.epoch.store(i64::MIN, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_bound_their_values() {
        for us in [0u64, 1, 15, 16, 17, 100, 999, 1000, 5_000_000, 123_456_789] {
            let d = Duration::from_micros(us);
            let s = slot(d);
            assert!(slot_upper(s) >= us, "{us} in slot {s} with upper {}", slot_upper(s));
            if s > 0 {
                assert!(slot_upper(s - 1) < us, "{us}: the slot below must not hold it");
            }
            assert!(slot_upper(s) as f64 <= us as f64 * 1.25 + 1.0, "{us}: within 25%");
        }
    }

    #[test]
    fn window_sums_recent_buckets_and_forgets_old_ones() {
        let o = Outcomes::default();
        for i in 0..100 {
            o.record(1_000 + i, 100, i % 10 == 0, Duration::from_millis(if i == 99 { 900 } else { 10 }));
        }
        let s = o.summary(1_099, 100);
        assert_eq!((s.calls, s.errors), (100, 10));
        // 99 of 100 calls took 10 ms: the 99th percentile is in 10 ms's slot.
        let p99 = s.p99.unwrap();
        assert!(p99 >= Duration::from_millis(10) && p99 < Duration::from_millis(13), "{p99:?}");
        // Ten buckets later, all of it has left the window.
        assert_eq!(o.summary(1_099 + 10 * 100, 100).calls, 0);
    }
}
