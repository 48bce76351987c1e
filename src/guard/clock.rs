//! Where the engine reads the time: the system clock, or one a test sets.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;

/// The engine's source of wall-clock time, for time windows, schedules,
/// `arm_after`, cooldowns and the sliding windows of caps and abort
/// conditions. (Latencies are measured with `std::time::Instant`.)
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to, for tests: no test waits for 9am.
///
/// ```
/// use std::time::Duration;
/// use mischief::guard::{Clock, ManualClock};
///
/// let clock = ManualClock::new("2026-11-25T08:59:59Z".parse().unwrap());
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(clock.now().to_string(), "2026-11-25T09:00:00Z");
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    nanos: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        Self { nanos: Arc::new(AtomicI64::new(to_nanos(start))) }
    }

    /// Sets the time.
    pub fn set(&self, t: Timestamp) {
        self.nanos.store(to_nanos(t), Ordering::SeqCst);
    }

    /// Moves the time forward (stopping at the latest time it can hold,
    /// rather than wrapping round to the past).
    pub fn advance(&self, d: Duration) {
        let d = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        let _ = self.nanos.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| Some(n.saturating_add(d)));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_nanosecond(i128::from(self.nanos.load(Ordering::SeqCst))).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

fn to_nanos(t: Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(i64::MAX)
}

/// The system clock's milliseconds at a given `Instant`, without reading
/// the system clock each time: the offset between the two clocks, read
/// together, is refreshed when it is a second old. Recording the outcome of
/// every call needs the time of its end, and the call's latency has just
/// read the monotonic clock for it; a second read, of the system clock,
/// cost ~45 ns more per call here. Between refreshes the result follows the
/// monotonic clock, so it drifts from the system clock by at most what NTP
/// slews in a second (well under a millisecond), and a step of the system
/// clock shows within a second.
#[derive(Debug)]
pub(crate) struct WallAnchor {
    base: Instant,
    /// System-clock ms minus monotonic ms since `base`, at the last refresh.
    offset_ms: AtomicI64,
    /// Monotonic ms since `base` at the last refresh.
    refreshed_ms: AtomicI64,
}

/// How old the offset may get.
const REFRESH_MS: i64 = 1_000;

/// A pair of clock readings this close is taken as simultaneous.
const TIGHT: Duration = Duration::from_micros(100);

impl WallAnchor {
    pub(crate) fn new() -> Self {
        let anchor = WallAnchor { base: Instant::now(), offset_ms: AtomicI64::new(0), refreshed_ms: AtomicI64::new(0) };
        anchor.refresh();
        anchor
    }

    /// The system clock's milliseconds since the Unix epoch at `at` (an
    /// instant just read).
    #[inline]
    pub(crate) fn millis_at(&self, at: Instant) -> i64 {
        let mono = mono_ms(at.saturating_duration_since(self.base));
        if mono.saturating_sub(self.refreshed_ms.load(Ordering::Relaxed)) >= REFRESH_MS {
            self.refresh();
        }
        mono.saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    #[cold]
    fn refresh(&self) {
        // The system clock is read between two monotonic readings, and
        // paired with their midpoint. A thread descheduled in between would
        // skew the offset by as long as it waited, so a wide pair is read
        // again (three times at most, keeping the tightest).
        let mut best: Option<(Duration, i64, i64)> = None;
        for _ in 0..3 {
            let before = self.base.elapsed();
            let wall = millis(Timestamp::now());
            let after = self.base.elapsed();
            let spread = after.saturating_sub(before);
            let mono = mono_ms(before + spread / 2);
            if best.is_none_or(|(s, ..)| spread < s) {
                best = Some((spread, wall.saturating_sub(mono), mono));
            }
            if spread < TIGHT {
                break;
            }
        }
        let Some((_, offset, mono)) = best else { return };
        // Two threads refreshing at once store nearly the same values; a
        // reader between the two stores gets one result a refresh late.
        self.offset_ms.store(offset, Ordering::Relaxed);
        self.refreshed_ms.store(mono, Ordering::Relaxed);
    }
}

fn mono_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn millis(t: Timestamp) -> i64 {
    t.as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The anchored time agrees with the system clock, at once and across
    /// a refresh.
    #[test]
    fn anchored_millis_follow_the_system_clock() {
        let anchor = WallAnchor::new();
        for round in 0..2 {
            let before = millis(Timestamp::now());
            let anchored = anchor.millis_at(Instant::now());
            let after = millis(Timestamp::now());
            // A millisecond for the truncation of each of three readings.
            assert!(before - 3 <= anchored && anchored <= after + 3, "round {round}: {before} {anchored} {after}");
            if round == 0 {
                std::thread::sleep(Duration::from_millis(REFRESH_MS as u64 + 50));
            }
        }
        assert!(anchor.refreshed_ms.load(Ordering::Relaxed) >= REFRESH_MS, "the second round refreshed");
    }
}
