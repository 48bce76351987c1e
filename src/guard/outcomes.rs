//! A lock-free sliding window of call outcomes: counts, errors and a
//! latency histogram per time bucket.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::engine::stats::{STRIPES, add_one};

/// Buckets in the window; each covers a tenth of it.
pub(crate) const BUCKETS: usize = 10;
/// Latency histogram slots: exact microseconds below 16, then 4 slots per
/// power of two up to 2^31 µs (~36 minutes), the last of which holds every
/// longer latency too. A reported percentile is the upper edge of its slot:
/// at most ~25% above the true value (a slot spans a quarter of its
/// power of two), and never above
/// [`MAX_P99_MICROS`].
const SLOTS: usize = 16 + (31 - 4 + 1) * 4;

/// The highest percentile the histogram reports: its top slot's upper edge,
/// 2^32 - 1 µs (~71.6 minutes).
pub(crate) const MAX_P99_MICROS: u64 = slot_upper(SLOTS - 1);

#[derive(Debug)]
struct Bucket {
    epoch: AtomicI64,
    calls: AtomicU64,
    errors: AtomicU64,
    latency: [AtomicU32; SLOTS],
}

impl Bucket {
    /// Zeroes the counts (not the epoch).
    fn zero(&self) {
        self.calls.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
        for s in &self.latency {
            s.store(0, Ordering::Relaxed);
        }
    }
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
    /// Latencies recorded: the calls, and latency-only samples.
    pub(crate) timed: u64,
    pub(crate) p99: Option<Duration>,
}

/// Outcomes of the calls that reached the service, over the last window.
///
/// Each thread records into its own copy of the window (its counter
/// stripe's, see `engine::stats`; threads without one share the last), so
/// threads that end calls at once write no common cache line; a summary
/// adds the copies up. A stripe's copy is allocated when it first records.
///
/// Recording is a few relaxed stores (atomic adds in the shared stripe).
/// When a bucket's time comes round again, its recorder resets it; in the
/// shared stripe a sample recorded by another thread at that very moment
/// may be lost. The window is a guard's estimate, not an exact ledger.
#[derive(Debug)]
pub(crate) struct Outcomes {
    stripes: Box<[OnceLock<Box<Window>>]>,
}

/// One stripe's copy of the window.
#[derive(Debug)]
#[repr(align(128))]
struct Window {
    buckets: [Bucket; BUCKETS],
}

impl Default for Outcomes {
    fn default() -> Self {
        Outcomes { stripes: (0..STRIPES).map(|_| OnceLock::new()).collect() }
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

/// A bucket's epoch while a recorder zeroes it: in no window (a judgement
/// skips it), and never the epoch of a time.
const RESETTING: i64 = i64::MIN + 1;

/// The upper edge of a slot, in microseconds.
const fn slot_upper(slot: usize) -> u64 {
    if slot < 16 {
        return slot as u64;
    }
    let msb = (slot - 16) / 4 + 4;
    let sub = ((slot - 16) % 4) as u64;
    ((4 + sub + 1) << (msb - 2)) - 1
}

impl Outcomes {
    /// Records, in `stripe` (the calling thread's), one call that ended at
    /// `now_ms`: failed or not, or (`None`) its latency only, which counts
    /// for the percentile and not as a call.
    #[inline]
    pub(crate) fn record(&self, stripe: usize, now_ms: i64, bucket_ms: i64, failed: Option<bool>, latency: Duration) {
        let Some(cell) = self.stripes.get(stripe).or(self.stripes.last()) else { return };
        let window = cell.get_or_init(|| Box::new(Window { buckets: std::array::from_fn(|_| Bucket::default()) }));
        let epoch = now_ms.div_euclid(bucket_ms.max(1));
        let b = &window.buckets[epoch.rem_euclid(BUCKETS as i64) as usize];
        let seen = b.epoch.load(Ordering::Acquire);
        // The bucket's time came round again: its recorder marks it as being
        // reset, zeroes it, and only then publishes the new epoch, so that a
        // judgement that reads the new epoch never reads the counts of a
        // window ago. A call recorded while another resets the bucket may
        // be zeroed with it: a count lost, never one from the past.
        if seen != epoch
            && seen != RESETTING
            && b.epoch.compare_exchange(seen, RESETTING, Ordering::AcqRel, Ordering::Acquire).is_ok()
        {
            // The zeroing stores come after the mark for any judgement that
            // sees one of them (and then fences before its second look).
            std::sync::atomic::fence(Ordering::Release);
            b.zero();
            b.epoch.store(epoch, Ordering::Release);
        }
        if let Some(failed) = failed {
            add_one(&b.calls, stripe);
            if failed {
                // Published after the call: a judgement that sees the error
                // sees the call (`summary`).
                std::sync::atomic::fence(Ordering::Release);
                add_one(&b.errors, stripe);
            }
        }
        add_one(&b.latency[slot(latency)], stripe);
    }

    /// Sums the buckets of the window ending at `now_ms`, over all stripes.
    pub(crate) fn summary(&self, now_ms: i64, bucket_ms: i64) -> Summary {
        let now = now_ms.div_euclid(bucket_ms.max(1));
        let mut hist = [0u64; SLOTS];
        let mut sum = Summary::default();
        for b in self.stripes.iter().filter_map(OnceLock::get).flat_map(|w| w.buckets.iter()) {
            let epoch = b.epoch.load(Ordering::Acquire);
            if epoch > now || epoch <= now - BUCKETS as i64 {
                continue;
            }
            // Errors first: a call is counted before its error, so the sum
            // never has more errors than calls.
            let errors = b.errors.load(Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::Acquire);
            let calls = b.calls.load(Ordering::Relaxed);
            let mut latency = [0u32; SLOTS];
            for (l, s) in latency.iter_mut().zip(&b.latency) {
                *l = s.load(Ordering::Relaxed);
            }
            // Reset while it was read (its time came round again): its
            // counts may be half zeroed, and it is no longer in the window.
            std::sync::atomic::fence(Ordering::Acquire);
            if b.epoch.load(Ordering::Relaxed) != epoch {
                continue;
            }
            sum.errors += errors.min(calls);
            sum.calls += calls;
            for (h, l) in hist.iter_mut().zip(latency) {
                *h += u64::from(l);
            }
        }
        let total: u64 = hist.iter().sum();
        sum.timed = total;
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

    /// Forgets everything (on re-arm): no window holds a bucket from now on,
    /// and a bucket's next recorder zeroes it before it publishes its
    /// epoch. (Zeroed here too, so that nothing from before lingers.)
    pub(crate) fn clear(&self) {
        for b in self.stripes.iter().filter_map(OnceLock::get).flat_map(|w| w.buckets.iter()) {
            b.epoch.store(i64::MIN, Ordering::Release);
            std::sync::atomic::fence(Ordering::Release);
            b.zero();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stats::SHARED_STRIPE;

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
            o.record(0, 1_000 + i, 100, Some(i % 10 == 0), Duration::from_millis(if i == 99 { 900 } else { 10 }));
        }
        let s = o.summary(1_099, 100);
        assert_eq!((s.calls, s.errors), (100, 10));
        // 99 of 100 calls took 10 ms: the 99th percentile is in 10 ms's slot.
        let p99 = s.p99.unwrap();
        assert!(p99 >= Duration::from_millis(10) && p99 < Duration::from_millis(13), "{p99:?}");
        // Ten buckets later, all of it has left the window.
        assert_eq!(o.summary(1_099 + 10 * 100, 100).calls, 0);
    }

    /// Calls spread over the ten buckets of a window are all counted, and
    /// the oldest bucket leaves it first, exactly when its time is past.
    #[test]
    fn window_spans_ten_buckets() {
        let o = Outcomes::default();
        // Bucket b (epoch 10 + b) holds b + 1 calls, the first failing.
        for b in 0..10i64 {
            for i in 0..=b {
                o.record(0, 1_000 + b * 100 + i, 100, Some(i == 0), Duration::from_millis(10));
            }
        }
        let s = o.summary(1_950, 100);
        assert_eq!((s.calls, s.errors), (55, 10), "all ten buckets");
        let s = o.summary(2_000, 100);
        assert_eq!((s.calls, s.errors), (54, 9), "the first bucket (one call) gone");
        let s = o.summary(2_450, 100);
        assert_eq!((s.calls, s.errors), (55 - 15, 5), "the first five gone");
    }

    /// The 99th percentile is the call at rank ceil(0.99 n): with 3 slow
    /// calls in 100 it is a slow one; with 1 in 100, a fast one.
    #[test]
    fn p99_is_the_rank_of_the_99th_percentile() {
        for (slow, in_slow_slot) in [(3u64, true), (2, true), (1, false)] {
            let o = Outcomes::default();
            for i in 0..100 {
                let latency = Duration::from_millis(if i < slow { 900 } else { 10 });
                o.record(0, 1_000, 100, Some(false), latency);
            }
            let p99 = o.summary(1_000, 100).p99.unwrap();
            assert_eq!(p99 >= Duration::from_millis(900), in_slow_slot, "{slow} slow calls: p99 {p99:?}");
        }
    }

    /// Threads record into their own stripes, or share the last one, at
    /// once; the summary adds them all up, and loses nothing once a
    /// bucket's time is set.
    #[test]
    fn stripes_add_up() {
        const OWN: usize = SHARED_STRIPE;
        const SHARING: usize = 2;
        // Calls per thread: the sharing threads make many, for their adds
        // to overlap on this machine's two cores.
        const OWN_CALLS: u64 = 10_000;
        const SHARED_CALLS: u64 = 400_000;
        let o = Outcomes::default();
        // Sets the shared stripe's bucket for this time, so that no sharing
        // thread resets it under another.
        o.record(SHARED_STRIPE, 5_000, 100, Some(false), Duration::from_millis(10));
        let barrier = std::sync::Barrier::new(OWN + SHARING);
        std::thread::scope(|scope| {
            for t in 0..OWN + SHARING {
                let (o, barrier) = (&o, &barrier);
                scope.spawn(move || {
                    let (stripe, calls) = if t < OWN { (t, OWN_CALLS) } else { (SHARED_STRIPE, SHARED_CALLS) };
                    barrier.wait();
                    for i in 0..calls {
                        // One call in a hundred fails and takes 2 s.
                        let slow = i % 100 == 0;
                        let latency = Duration::from_millis(if slow { 2_000 } else { 10 });
                        o.record(stripe, 5_000 + (i % 50) as i64, 100, Some(slow), latency);
                    }
                });
            }
        });
        let s = o.summary(5_050, 100);
        let calls = OWN as u64 * OWN_CALLS + SHARING as u64 * SHARED_CALLS;
        assert_eq!((s.calls, s.errors), (calls + 1, calls / 100));
        let p99 = s.p99.unwrap();
        assert!(p99 >= Duration::from_millis(10) && p99 < Duration::from_millis(13), "{p99:?}");
    }
}
