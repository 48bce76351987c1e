//! Where the engine reads the time: the system clock, or one a test sets.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

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

    /// Moves the time forward.
    pub fn advance(&self, d: Duration) {
        let d = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        self.nanos.fetch_add(d, Ordering::SeqCst);
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

/// Milliseconds since the Unix epoch.
pub(crate) fn millis(t: Timestamp) -> i64 {
    t.as_millisecond()
}
