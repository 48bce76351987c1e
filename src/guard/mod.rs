//! Guardrails: chaos only when, where and as much as allowed (feature
//! `guard`, on by default).
//!
//! Configured in the `guardrails` section of a [`Config`](crate::Config)
//! ([`Guardrails`]) and per rule with `schedule`
//! and `for`. They are checked when a rule is about to fault a call; a fault
//! that a guardrail forbids is skipped (the call passes) and counted under
//! its reason in [`Status::guard`](crate::Status::guard):
//!
//! | reason | when |
//! |---|---|
//! | `tripped` | an abort condition tripped and has not been re-armed |
//! | `not_armed` | before `arm_after` has passed since the engine started |
//! | `blackout` | on a blackout date |
//! | `outside_window` | outside `allowed_hours` or `allowed_days` (the part after midnight of an overnight span is its starting day's) |
//! | `schedule` | the rule's cron schedule is not active |
//! | `expired` | the rule's `for` has run out |
//! | `excluded` | the call matches an `exclude` matcher |
//! | `cap_injections` | `max_injections` faults were injected already |
//! | `cap_percentage` | the share of faulted calls in the window would pass `max_percentage_affected` |
//! | `cap_active` | `max_active_faults` faults are in flight |
//!
//! **Abort conditions** watch the service itself: the HTTP layer, the
//! generic layer and the client middleware record the outcome (failed: an
//! HTTP 5xx, a gRPC error status in the response head, an `Err`; and the
//! latency) of every call that reaches the service into a lock-free sliding
//! window. A call that is only delayed counts, timed from the end of its
//! delay (the service's own latency, not the injected wait); a call
//! mischief failed does not, nor do fault points (`#[chaos]`,
//! `chaos_point!`), which cannot see how their function's call ended. When the
//! error rate or the 99th percentile latency over the window crosses its
//! threshold (with at least `min_samples` calls), the guard trips: all
//! injection stops at once (a delayed call is not failed after its delay), a
//! `tracing` warning names the metric, the value and the threshold, and
//! `status().guard.tripped` says why. [`Chaos::rearm`](crate::Chaos::rearm)
//! re-arms it, or the `cooldown` does.
//!
//! Time comes from a [`Clock`]; tests use a [`ManualClock`].
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use mischief::Chaos;
//! use mischief::config::{Abort, AbortCondition, Config, Guardrails, Rule, Schedule};
//! use mischief::guard::ManualClock;
//!
//! let clock = ManualClock::new("2026-11-25T10:00:00Z".parse().unwrap());
//! let chaos = Chaos::builder()
//!     .clock(clock.clone())
//!     .config(
//!         Config::new()
//!             .guardrails(
//!                 Guardrails::new()
//!                     .allowed_hours("09:00-16:00")
//!                     .allowed_days(["Mon", "Tue", "Wed", "Thu"])
//!                     .timezone("Europe/Berlin")
//!                     .max_percentage_affected(10.0)
//!                     .abort_condition(AbortCondition::error_rate(0.05))
//!                     .abort_condition(AbortCondition::latency_p99(Duration::from_secs(5))),
//!             )
//!             .rule(
//!                 Rule::new("cron-errors")
//!                     .schedule(Schedule::new("*/10 9-17 * * 1-5", Duration::from_secs(300)))
//!                     .abort(Abort::status(503).percentage(50.0)),
//!             ),
//!     )
//!     .build()?;
//! assert!(chaos.status().guard.is_some());
//! # Ok::<(), mischief::ConfigError>(())
//! ```

mod clock;
mod outcomes;
mod window;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub use clock::{Clock, ManualClock, SystemClock};
pub use jiff;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::config::{ConfigError, Guardrails, Metric, Rule, Threshold};
use crate::engine::matcher::{Facts, Matcher};
use crate::engine::stats::{Padded, StripedCounter};
use clock::{WallAnchor, millis};
use outcomes::{BUCKETS, Outcomes};
use window::{TimeWindow, parse_day, parse_hours};

/// Why a fault was not injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// An abort condition tripped.
    Tripped,
    /// `arm_after` has not passed yet.
    NotArmed,
    /// A blackout date.
    Blackout,
    /// Outside the allowed hours or days.
    OutsideWindow,
    /// The rule's schedule is not active.
    Schedule,
    /// The rule's `for` ran out.
    Expired,
    /// The call matches an `exclude` matcher.
    Excluded,
    /// `max_injections` reached.
    CapInjections,
    /// `max_percentage_affected` reached.
    CapPercentage,
    /// `max_active_faults` reached.
    CapActive,
}

impl SkipReason {
    const ALL: [SkipReason; 10] = [
        SkipReason::Tripped,
        SkipReason::NotArmed,
        SkipReason::Blackout,
        SkipReason::OutsideWindow,
        SkipReason::Schedule,
        SkipReason::Expired,
        SkipReason::Excluded,
        SkipReason::CapInjections,
        SkipReason::CapPercentage,
        SkipReason::CapActive,
    ];

    /// The name used in status.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Tripped => "tripped",
            SkipReason::NotArmed => "not_armed",
            SkipReason::Blackout => "blackout",
            SkipReason::OutsideWindow => "outside_window",
            SkipReason::Schedule => "schedule",
            SkipReason::Expired => "expired",
            SkipReason::Excluded => "excluded",
            SkipReason::CapInjections => "cap_injections",
            SkipReason::CapPercentage => "cap_percentage",
            SkipReason::CapActive => "cap_active",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The compiled `guardrails` section.
#[derive(Debug)]
pub(crate) struct Guard {
    window: TimeWindow,
    arm_after_ms: Option<i64>,
    max_share: Option<ShareCap>,
    window_ms: i64,
    max_active: Option<u64>,
    /// The guardrails' own cap on faults (a fault that took an allowance
    /// under it and was then cancelled gives it back).
    pub(crate) max_injections: Option<u64>,
    exclude: Box<[Matcher]>,
    conditions: Box<[Condition]>,
    min_samples: u64,
    cooldown_ms: Option<i64>,
}

#[derive(Debug)]
struct Condition {
    metric: Metric,
    /// A fraction for the error rate; microseconds for the latency.
    limit: f64,
}

impl Condition {
    fn describe(&self, value: f64) -> (String, String) {
        match self.metric {
            Metric::ErrorRate => (format!("{value:.4}"), format!("{}", self.limit)),
            Metric::LatencyP99 => (
                crate::config::duration::format(Duration::from_micros(value as u64)),
                crate::config::duration::format(Duration::from_micros(self.limit as u64)),
            ),
        }
    }
}

/// `max_percentage_affected` as written, in whole units of 10^-12 percent,
/// so that a share is compared with it in integers: in floating point,
/// `0.29 * 100.0` is `28.999999999999996`, and a cap of 29% over 100 calls
/// allowed 28 faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ShareCap(u64);

impl ShareCap {
    /// Decimal places of a percentage kept; any further are dropped (the
    /// cap rounded down, never up).
    const DIGITS: usize = 12;
    /// 100% in these units.
    const ALL: u128 = 100 * 10u128.pow(Self::DIGITS as u32);

    /// `percent`, finite and in `0..=100`. Read from its shortest decimal
    /// form, the one `Display` prints, which reads back as the same `f64`:
    /// the number as it was written (`0.29`, not the binary value a little
    /// under it), whenever it was written with 15 significant digits or
    /// fewer.
    fn new(percent: f64) -> Self {
        let text = percent.to_string();
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let fraction: String = fraction.chars().chain(std::iter::repeat('0')).take(Self::DIGITS).collect();
        // Digits only, at most 3 + 12 of them; "-0" (from -0.0) is 0.
        ShareCap(format!("{whole}{fraction}").parse().unwrap_or(0))
    }

    /// Is a share of `faulted` in `calls` at most the cap? Exact: both
    /// sides are under 2^112.
    fn allows(self, faulted: u128, calls: u64) -> bool {
        faulted * Self::ALL <= u128::from(self.0) * u128::from(calls)
    }
}

/// A rule's compiled `schedule` and `for`.
#[derive(Debug)]
pub(crate) struct RuleTiming {
    schedule: Option<(croner::Cron, i64)>,
    active_for_ms: Option<i64>,
    tz: TimeZone,
}

fn global_err(field: &str, value: impl fmt::Debug, reason: impl Into<String>) -> ConfigError {
    ConfigError::Global { field: format!("guardrails.{field}"), value: format!("{value:?}"), reason: reason.into() }
}

/// A threshold as it was written (a number, or the text), for errors.
fn shown(t: &Threshold) -> String {
    match t {
        Threshold::Number(x) => x.to_string(),
        Threshold::Text(s) => s.clone(),
    }
}

/// The longest `schedule.active`: a span longer than the dates the time
/// library and the cron search cover would never read as active.
const MAX_ACTIVE: Duration = Duration::from_secs(100 * 366 * 86_400);

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The time zone of the guardrails, for rule schedules too.
pub(crate) fn time_zone(g: Option<&Guardrails>) -> Result<TimeZone, ConfigError> {
    match g.and_then(|g| g.timezone.as_deref()) {
        None => Ok(TimeZone::UTC),
        Some(name) => TimeZone::get(name).map_err(|e| global_err("timezone", name, format!("unknown time zone: {e}"))),
    }
}

impl Guard {
    pub(crate) fn compile(g: &Guardrails) -> Result<Self, ConfigError> {
        let tz = time_zone(Some(g))?;
        let hours = g
            .allowed_hours
            .as_deref()
            .map(|h| parse_hours(h).map_err(|e| global_err("allowed_hours", h, e)))
            .transpose()?;
        let mut days = 0;
        for d in &g.allowed_days {
            days |= parse_day(d).map_err(|e| global_err("allowed_days", d, e))?;
        }
        let blackout = g
            .blackout_dates
            .iter()
            .map(|d| {
                // Exactly a date: jiff would also take a time and an offset,
                // or no dashes, and this would drop them without a word.
                let t = d.trim();
                let shape = t.len() == 10 && t.bytes().enumerate().all(|(i, b)| matches!(i, 4 | 7) == (b == b'-'));
                if !shape {
                    return Err(global_err("blackout_dates", d, "expected YYYY-MM-DD"));
                }
                t.parse::<Date>().map_err(|e| global_err("blackout_dates", d, format!("expected YYYY-MM-DD: {e}")))
            })
            .collect::<Result<Box<[Date]>, _>>()?;
        let max_share = match g.max_percentage_affected {
            None => None,
            Some(p) if p.is_finite() && (0.0..=100.0).contains(&p) => Some(ShareCap::new(p)),
            Some(p) => return Err(global_err("max_percentage_affected", p, "must be between 0 and 100")),
        };
        let window = g.window.unwrap_or(Duration::from_secs(30));
        if window < Duration::from_millis(BUCKETS as u64) {
            return Err(global_err("window", crate::config::duration::format(window), "must be at least 10ms"));
        }
        let exclude = g
            .exclude
            .iter()
            .enumerate()
            .map(|(i, m)| {
                // A match with no condition matches every call: an entry
                // left empty (`exclude = [{}]`, YAML's `- path:` with no
                // value) would keep every call from being faulted.
                if m.is_empty() {
                    return Err(ConfigError::Global {
                        field: format!("guardrails.exclude[{i}]"),
                        value: "{}".to_owned(),
                        reason: "an entry without a condition matches every call, and would keep every call \
                                 from being faulted (switch chaos off for that)"
                            .to_owned(),
                    });
                }
                Matcher::compile(m, i, "guardrails.exclude").map_err(|e| match e {
                    ConfigError::Field { field, value, reason, .. } => {
                        // The matcher names its fields as a rule's (`match.method`).
                        let field = field.strip_prefix("match.").unwrap_or(&field);
                        ConfigError::Global { field: format!("guardrails.exclude[{i}].{field}"), value, reason }
                    }
                    other => other,
                })
            })
            .collect::<Result<Box<[Matcher]>, _>>()?;
        let conditions = g
            .abort_conditions
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let field = format!("abort_conditions[{i}].threshold");
                let limit = match (c.metric, &c.threshold) {
                    // The condition trips when the rate is above the
                    // threshold, which a rate of at most 1 never is of 1.
                    (Metric::ErrorRate, Threshold::Number(x)) if x.is_finite() && (0.0..1.0).contains(x) => *x,
                    (Metric::ErrorRate, t) => {
                        return Err(global_err(
                            &field,
                            shown(t),
                            "an error rate threshold is a fraction from 0.0 up to, not including, 1.0 \
                             (the condition trips above it, and no error rate is above 1.0)",
                        ));
                    }
                    (Metric::LatencyP99, Threshold::Number(x)) if x.is_finite() && *x > 0.0 => x * 1000.0,
                    (Metric::LatencyP99, Threshold::Text(s)) => match crate::config::duration::parse(s) {
                        Ok(d) if !d.is_zero() => d.as_micros() as f64,
                        _ => return Err(global_err(&field, s, "expected a duration such as \"5s\" or milliseconds")),
                    },
                    (Metric::LatencyP99, t) => return Err(global_err(&field, shown(t), "must be a positive duration")),
                };
                // The latency histogram reports no p99 above its top slot's
                // upper edge: a threshold there could never trip.
                if c.metric == Metric::LatencyP99 && limit >= outcomes::MAX_P99_MICROS as f64 {
                    let max = crate::config::duration::format(Duration::from_micros(outcomes::MAX_P99_MICROS - 1));
                    return Err(global_err(
                        &field,
                        shown(&c.threshold),
                        format!("must be under {max}: the p99 is measured up to that"),
                    ));
                }
                Ok(Condition { metric: c.metric, limit })
            })
            .collect::<Result<Box<[Condition]>, _>>()?;
        if g.max_active_faults == Some(0) {
            return Err(global_err("max_active_faults", 0, "must be at least 1 (turn chaos off instead)"));
        }
        // Zero would switch the feature off without saying so: a cooldown of
        // 0 undoes a trip at the next call, and 0 samples judge the
        // conditions on none.
        if g.cooldown.is_some_and(|c| c.is_zero()) {
            return Err(global_err("cooldown", "0s", "must be longer than 0"));
        }
        if g.min_samples == Some(0) {
            return Err(global_err("min_samples", 0, "must be at least 1"));
        }
        Ok(Guard {
            window: TimeWindow::new(hours, days, blackout, tz),
            arm_after_ms: g.arm_after.map(ms),
            max_share,
            window_ms: ms(window),
            max_active: g.max_active_faults,
            max_injections: g.max_injections,
            exclude,
            conditions,
            min_samples: g.min_samples.unwrap_or(20),
            cooldown_ms: g.cooldown.map(ms),
        })
    }

    /// Does every call need to be counted (for the percentage cap)?
    pub(crate) fn counts_calls(&self) -> bool {
        self.max_share.is_some()
    }

    /// Must the doors record the outcome of the calls that reach the service?
    pub(crate) fn observes(&self) -> bool {
        !self.conditions.is_empty()
    }

    fn bucket_ms(&self) -> i64 {
        (self.window_ms / BUCKETS as i64).max(1)
    }
}

impl RuleTiming {
    pub(crate) fn compile(index: usize, rule: &Rule, tz: &TimeZone) -> Result<Option<Self>, ConfigError> {
        if rule.schedule.is_none() && rule.active_for.is_none() {
            return Ok(None);
        }
        let schedule = rule
            .schedule
            .as_ref()
            .map(|s| {
                // Five fields, or six with seconds first; not croner's
                // default seventh, a year: once its years have passed, the
                // `never fires` check below no longer catches it, and every
                // call would search until year 5000 for the next firing.
                let cron = croner::parser::CronParser::builder()
                    .year(croner::parser::Year::Disallowed)
                    .build()
                    .parse(&s.cron)
                    .map_err(|e| ConfigError::field(index, &rule.name, "schedule.cron", &s.cron, e.to_string()))?;
                // A schedule no date matches (30 February) would never fire,
                // and every call would search centuries for its next firing.
                if cron.find_next_occurrence(&jiff::Zoned::now().with_time_zone(tz.clone()), false).is_err() {
                    return Err(ConfigError::field(
                        index,
                        &rule.name,
                        "schedule.cron",
                        &s.cron,
                        "never fires: no date matches it",
                    ));
                }
                if s.active > MAX_ACTIVE {
                    return Err(ConfigError::field(
                        index,
                        &rule.name,
                        "schedule.active",
                        crate::config::duration::format(s.active),
                        "must be at most 100 years",
                    ));
                }
                if s.active.is_zero() {
                    return Err(ConfigError::field(
                        index,
                        &rule.name,
                        "schedule.active",
                        "0s",
                        "must be longer than 0",
                    ));
                }
                Ok((cron, ms(s.active)))
            })
            .transpose()?;
        if rule.active_for.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::field(index, &rule.name, "for", "0s", "must be longer than 0"));
        }
        Ok(Some(RuleTiming { schedule, active_for_ms: rule.active_for.map(ms), tz: tz.clone() }))
    }

    fn check(&self, now: Timestamp, since_ms: i64) -> Result<(), SkipReason> {
        if let Some(limit) = self.active_for_ms
            && millis(now) >= since_ms.saturating_add(limit)
        {
            return Err(SkipReason::Expired);
        }
        if let Some((cron, active_ms)) = &self.schedule {
            // Active iff the cron fired within the last `active`: the first
            // firing after `now - active` is not after `now` (so the span
            // after a firing at t is [t, t + active)).
            let from = now.checked_sub(jiff::SignedDuration::from_millis(*active_ms)).unwrap_or(now);
            let fired = cron
                .find_next_occurrence(&from.to_zoned(self.tz.clone()), false)
                .is_ok_and(|next| next.timestamp() <= now);
            if !fired {
                return Err(SkipReason::Schedule);
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
struct Checkpoint {
    at_ms: i64,
    calls: u64,
    faulted: u64,
}

#[derive(Clone, Debug)]
struct Trip {
    metric: Metric,
    value: String,
    threshold: String,
    at: Timestamp,
}

/// The guard's runtime state: it lives as long as the engine, across
/// configuration updates.
#[derive(Debug)]
pub(crate) struct GuardState {
    /// The stamp of the engine's installed plan, 0 once the engine is gone:
    /// what a thread's cached copy of this state is checked against before
    /// it records an outcome (see `engine::current::with_cached`).
    plan_stamp: AtomicU64,
    clock: Arc<dyn Clock>,
    /// For the system clock: its time at an instant, without reading it.
    wall: Option<WallAnchor>,
    started_ms: i64,
    enabled_since_ms: AtomicI64,
    tripped: AtomicBool,
    trip: Mutex<Option<Trip>>,
    /// Moved on, under the trip's lock, by every re-arm and every plan
    /// installed: a judgement of a window read before either does not trip.
    epoch: AtomicU64,
    active: AtomicU64,
    active_peak: AtomicU64,
    /// Faults injected under `max_injections`: one shared count, for an
    /// exact cap.
    injections: AtomicU64,
    calls: StripedCounter,
    /// Every fault injected. Striped like `calls`: threads that fault at
    /// once do not write a shared line.
    faulted: StripedCounter,
    /// The faults injected when the guardrails were installed (for
    /// [`GuardStatus::injections`]), striped too.
    injected: StripedCounter,
    checkpoints: Mutex<VecDeque<Checkpoint>>,
    outcomes: Outcomes,
    next_eval_ms: AtomicI64,
    skipped: [Padded; SkipReason::ALL.len()],
}

impl GuardState {
    /// The state of an engine on `clock`, or on the system clock.
    pub(crate) fn new(clock: Option<Arc<dyn Clock>>) -> Self {
        let (clock, wall) = match clock {
            Some(clock) => (clock, None),
            None => (Arc::new(SystemClock) as Arc<dyn Clock>, Some(WallAnchor::new())),
        };
        let now = millis(clock.now());
        GuardState {
            plan_stamp: AtomicU64::new(0),
            clock,
            wall,
            started_ms: now,
            enabled_since_ms: AtomicI64::new(now),
            tripped: AtomicBool::new(false),
            trip: Mutex::new(None),
            epoch: AtomicU64::new(0),
            active: AtomicU64::new(0),
            active_peak: AtomicU64::new(0),
            injections: AtomicU64::new(0),
            calls: StripedCounter::default(),
            faulted: StripedCounter::default(),
            injected: StripedCounter::default(),
            // The window starts with the engine: calls made before the first
            // fault was considered count too.
            checkpoints: Mutex::new(VecDeque::from([Checkpoint { at_ms: now, calls: 0, faulted: 0 }])),
            outcomes: Outcomes::default(),
            next_eval_ms: AtomicI64::new(i64::MIN),
            skipped: Default::default(),
        }
    }

    /// The engine installed the plan with this stamp (0: the engine is gone).
    pub(crate) fn set_plan_stamp(&self, stamp: u64) {
        self.plan_stamp.store(stamp, Ordering::Release);
    }

    /// The stamp of the engine's installed plan; 0 once the engine is gone.
    pub(crate) fn plan_stamp(&self) -> u64 {
        self.plan_stamp.load(Ordering::Acquire)
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub(crate) fn now_ms(&self) -> i64 {
        millis(self.clock.now())
    }

    /// The master switch went on: `for` durations restart from now.
    pub(crate) fn switched_on(&self) {
        self.enabled_since_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Counts one call seen (for the percentage cap), from a thread of
    /// counter stripe `stripe`.
    #[inline]
    pub(crate) fn count_call(&self, stripe: usize) {
        self.calls.incr(stripe);
    }

    #[inline]
    pub(crate) fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::Relaxed)
    }

    pub(crate) fn skip(&self, reason: SkipReason) {
        let i = SkipReason::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        self.skipped[i].0.fetch_add(1, Ordering::Relaxed);
    }

    /// The checks that do not take anything: trip, time, schedule,
    /// exclusion. Reads the clock once.
    pub(crate) fn admit(
        &self,
        guard: Option<&Guard>,
        timing: Option<&RuleTiming>,
        rule_since_ms: i64,
        target: &crate::Target<'_>,
    ) -> Result<(), SkipReason> {
        if guard.is_none() && timing.is_none() {
            return if self.is_tripped() { Err(SkipReason::Tripped) } else { Ok(()) };
        }
        let now = self.now();
        let now_ms = millis(now);
        if self.is_tripped() && !self.cooled_down(guard, now_ms) {
            return Err(SkipReason::Tripped);
        }
        if let Some(g) = guard {
            if g.arm_after_ms.is_some_and(|arm| now_ms < self.started_ms.saturating_add(arm)) {
                return Err(SkipReason::NotArmed);
            }
            g.window.check(now)?;
        }
        if let Some(t) = timing {
            t.check(now, rule_since_ms.max(self.enabled_since_ms.load(Ordering::Relaxed)))?;
        }
        if let Some(g) = guard
            && !g.exclude.is_empty()
            && {
                let facts = Facts::new(target);
                g.exclude.iter().any(|m| m.matches(&facts))
            }
        {
            return Err(SkipReason::Excluded);
        }
        Ok(())
    }

    /// Re-arms when the cooldown has passed since the trip (from `admit`
    /// and from `status`). Checked and cleared under one lock: a thread
    /// that saw the old trip cool down cannot clear a newer one recorded
    /// meanwhile.
    fn cooled_down(&self, guard: Option<&Guard>, now_ms: i64) -> bool {
        let Some(cooldown) = guard.and_then(|g| g.cooldown_ms) else { return false };
        let mut trip = self.lock_trip();
        if trip.as_ref().is_none_or(|t| now_ms < millis(t.at).saturating_add(cooldown)) {
            return false;
        }
        self.clear_trip(&mut trip);
        drop(trip);
        tracing::info!(target: "mischief", "guardrail re-armed after its cooldown");
        true
    }

    /// The caps: reserves an injection (and an active slot) or says which
    /// cap is reached. `faulted` is counted here, in stripe `stripe` (the
    /// calling thread's).
    pub(crate) fn reserve(
        self: &Arc<Self>,
        guard: Option<&Guard>,
        stripe: usize,
    ) -> Result<Option<ActiveSlot>, SkipReason> {
        let Some(g) = guard else {
            self.faulted.incr(stripe);
            return Ok(None);
        };
        // Under the share cap, the checkpoints' lock is held until this
        // fault is counted: two threads cannot both take the last fault the
        // share allows.
        let share = match g.max_share {
            Some(max) => Some(self.share_allows(g, max).ok_or(SkipReason::CapPercentage)?),
            None => None,
        };
        if let Some(max) = g.max_injections
            && self
                .injections
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < max).then_some(n + 1))
                .is_err()
        {
            return Err(SkipReason::CapInjections);
        }
        let slot = match g.max_active {
            None => None,
            Some(max) => {
                let Ok(before) =
                    self.active.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
                else {
                    if g.max_injections.is_some() {
                        self.give_back_injection();
                    }
                    return Err(SkipReason::CapActive);
                };
                self.active_peak.fetch_max(before + 1, Ordering::Relaxed);
                Some(ActiveSlot(Arc::clone(self)))
            }
        };
        self.injected.incr(stripe);
        self.faulted.incr(stripe);
        // A checkpoint this call took holds its fault: a window starting
        // at or after the checkpoint does not hold it (it came before).
        if let Some((mut cps, true)) = share
            && let Some(cp) = cps.back_mut()
        {
            cp.faulted += 1;
        }
        Ok(slot)
    }

    /// Gives back a fault's `max_injections` allowance: the fault was
    /// cancelled before anything was injected.
    pub(crate) fn give_back_injection(&self) {
        let _ = self.injections.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Would one more fault keep the faulted share of the window's calls at
    /// or under `max` (compared exactly)? The window is measured between checkpoints of the
    /// call and fault totals, taken on this (fault) path only, one per
    /// bucket at most. When it would, returns the checkpoints' lock, for the
    /// caller to hold until it has counted the fault, and whether this call
    /// took the newest checkpoint (which then counts its fault as before it).
    ///
    /// Checkpoints fall a bucket apart at best, and none are taken while no
    /// fault is tried (outside the allowed hours, a quiet rule), so the
    /// window's start lies between two of them, or after the last. Both
    /// sides are read the strict way: faults since the newest checkpoint at
    /// or before the start (more than the window's, if anything), calls
    /// since the oldest one after it (fewer). The share may read higher than
    /// it is, never lower.
    fn share_allows(&self, g: &Guard, max: ShareCap) -> Option<(MutexGuard<'_, VecDeque<Checkpoint>>, bool)> {
        let mut cps = self.checkpoints.lock().unwrap_or_else(PoisonError::into_inner);
        // Read under the lock: a thread that read the clock first and took
        // the lock second would see the newer checkpoint of one that came
        // between as the clock going back, and clear them all.
        let now_ms = self.now_ms();
        let (calls, faulted) = (self.calls.get(), self.faulted.get());
        // The clock went back (a manual clock, a wall clock stepped): the
        // checkpoints say nothing about a window that ends now. Start over.
        if cps.back().is_some_and(|c| c.at_ms > now_ms) {
            cps.clear();
        }
        let took = cps.back().is_none_or(|c| now_ms.saturating_sub(c.at_ms) >= g.bucket_ms());
        if took {
            // Taken before this call: it was counted already, and belongs
            // to the window the checkpoint starts (a call after a quiet
            // spell longer than the window would otherwise see none).
            cps.push_back(Checkpoint { at_ms: now_ms, calls: calls.saturating_sub(1), faulted });
        }
        let start = now_ms.saturating_sub(g.window_ms);
        // The newest checkpoint at or before the start, and older ones gone.
        while cps.len() >= 2 && cps[1].at_ms <= start {
            cps.pop_front();
        }
        let now = Checkpoint { at_ms: now_ms, calls, faulted };
        let before = cps.front().copied().unwrap_or(now);
        let after = cps.iter().find(|c| c.at_ms > start).copied().unwrap_or(now);
        let (calls, faulted) = (calls.saturating_sub(after.calls), faulted.saturating_sub(before.faulted));
        // Every share is at most 100%: a cap of 100 skips nothing (the
        // checkpoints are kept all the same, for a lower cap after it).
        (u128::from(max.0) >= ShareCap::ALL || max.allows(u128::from(faulted) + 1, calls)).then_some((cps, took))
    }

    /// Records the outcome of a call that reached the service (not failed by
    /// mischief; timed from after any delay), which started at
    /// `start` and has just ended, in counter stripe `stripe` (the calling
    /// thread's); and judges the abort conditions now and then: at most
    /// once per half a bucket of the window (a twentieth of it), and at
    /// most 100 ms (at least 1 ms) apart, as the clock reads; at once when
    /// the clock went back. `guard` is the guardrails of the plan
    /// stamped `stamp`: a judgement by them trips only while that plan is
    /// the installed one.
    pub(crate) fn record(&self, guard: &Guard, stamp: u64, failed: bool, start: std::time::Instant, stripe: usize) {
        self.record_sample(guard, stamp, Some(failed), start, stripe);
    }

    /// Records, as [`record`](Self::record) does, the latency of a call whose
    /// outcome does not count for the error rate: a latency only (the client's
    /// real call that timed out after an injected delay shortened its
    /// timeout, which the delay may have caused; it ran at least this long).
    #[cold]
    #[cfg(feature = "client")]
    pub(crate) fn record_latency(&self, guard: &Guard, stamp: u64, start: std::time::Instant, stripe: usize) {
        self.record_sample(guard, stamp, None, start, stripe);
    }

    /// A call's outcome (`None`: its latency only), then a judgement if due.
    #[inline]
    fn record_sample(&self, guard: &Guard, stamp: u64, failed: Option<bool>, start: std::time::Instant, stripe: usize) {
        let end = std::time::Instant::now();
        let latency = end.saturating_duration_since(start);
        let now_ms = match &self.wall {
            Some(wall) => wall.millis_at(end),
            None => self.now_ms(),
        };
        let bucket_ms = guard.bucket_ms();
        self.outcomes.record(stripe, now_ms, bucket_ms, failed, latency);
        let next = self.next_eval_ms.load(Ordering::Relaxed);
        let every = (bucket_ms / 2).clamp(1, 100);
        // Not yet time to judge, unless the clock went back: then `next`
        // lies further ahead than one interval, and waiting for it would
        // leave the conditions unjudged for as long as the step.
        let due = now_ms >= next || next - now_ms > every;
        if !due
            || self.next_eval_ms.compare_exchange(next, now_ms + every, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        // Read before the window: a re-arm or a new plan meanwhile (which
        // moves it on) makes this judgement stale.
        let epoch = self.epoch.load(Ordering::Acquire);
        if self.is_tripped() {
            return;
        }
        let sum = self.outcomes.summary(now_ms, bucket_ms);
        for c in guard.conditions.iter() {
            // Each metric over its own samples: the error rate over the
            // calls, the p99 over every latency (a latency-only sample too).
            let value = match c.metric {
                Metric::ErrorRate if sum.calls >= guard.min_samples => sum.errors as f64 / sum.calls as f64,
                Metric::LatencyP99 if sum.timed >= guard.min_samples => sum.p99.map_or(0.0, |d| d.as_micros() as f64),
                _ => continue,
            };
            if value > c.limit {
                self.trip(c, value, epoch, stamp);
                return;
            }
        }
    }

    /// Trips on condition `c` of the plan stamped `stamp`, judged at
    /// `epoch`, unless the guard was re-armed or a new plan installed since
    /// the epoch was read (the window read then may hold discarded
    /// outcomes, or the new plan no such condition), or that plan is not
    /// the installed one.
    ///
    /// The epoch alone cannot tell the last: the caller took its plan (from
    /// a thread's cache, or a load) before it read the epoch, and an update
    /// in between leaves an old plan judging under the new epoch. The stamp
    /// check closes that: an update sets the plan stamp before
    /// [`installed`](Self::installed) takes this lock, so a trip that takes
    /// the lock after an update sees the new stamp; one that takes it
    /// before is under the plan it judged by, and `installed` lifts it if
    /// the new plan has no abort condition.
    fn trip(&self, c: &Condition, value: f64, epoch: u64, stamp: u64) {
        let (value, threshold) = c.describe(value);
        {
            let mut trip = self.lock_trip();
            if self.epoch.load(Ordering::Relaxed) != epoch
                || self.plan_stamp() != stamp
                || self.tripped.swap(true, Ordering::AcqRel)
            {
                return;
            }
            *trip = Some(Trip { metric: c.metric, value: value.clone(), threshold: threshold.clone(), at: self.now() });
        }
        // Logged with the lock released: a subscriber whose code reaches a
        // door would take it again on this thread.
        tracing::warn!(
            target: "mischief",
            metric = c.metric.as_str(),
            value = %value,
            threshold = %threshold,
            "guardrail tripped: {} is {} (threshold {}); all fault injection stopped",
            c.metric.as_str(),
            value,
            threshold
        );
    }

    pub(crate) fn rearm(&self) {
        self.clear_trip(&mut self.lock_trip());
    }

    /// A plan was installed, `judged` if it has abort conditions: judgements
    /// begun before it do not trip, and without abort conditions a trip is
    /// lifted (nothing would judge the service again, and no status might
    /// show the trip). Returns whether it was.
    pub(crate) fn installed(&self, judged: bool) -> bool {
        let mut trip = self.lock_trip();
        self.epoch.fetch_add(1, Ordering::Release);
        if judged || !self.is_tripped() {
            return false;
        }
        self.clear_trip(&mut trip);
        true
    }

    /// Starts the share cap's window afresh, from the totals now: a plan
    /// with the cap replaces one without, under which faults were counted
    /// and calls were not (the share of a window reaching back before now
    /// would read every earlier fault against no calls).
    pub(crate) fn restart_share(&self) {
        let mut cps = self.checkpoints.lock().unwrap_or_else(PoisonError::into_inner);
        cps.clear();
        cps.push_back(Checkpoint { at_ms: self.now_ms(), calls: self.calls.get(), faulted: self.faulted.get() });
    }

    /// Clears the trip and the outcome window, under the trip's lock.
    fn clear_trip(&self, trip: &mut Option<Trip>) {
        *trip = None;
        self.outcomes.clear();
        self.epoch.fetch_add(1, Ordering::Release);
        self.tripped.store(false, Ordering::Release);
    }

    fn lock_trip(&self) -> std::sync::MutexGuard<'_, Option<Trip>> {
        self.trip.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn status(&self, guard: Option<&Guard>) -> GuardStatus {
        let now_ms = self.now_ms();
        // A cooldown re-arms when a rule next tries to inject (`admit`);
        // until then the status would show a trip that is over. Re-armed
        // here as there, off the request path.
        if self.is_tripped() {
            self.cooled_down(guard, now_ms);
        }
        let window = guard.map(|g| {
            let sum = self.outcomes.summary(now_ms, g.bucket_ms());
            WindowStatus {
                calls: sum.calls,
                errors: sum.errors,
                error_rate: if sum.calls == 0 { 0.0 } else { sum.errors as f64 / sum.calls as f64 },
                latency_p99_ms: sum.p99.map(|d| d.as_secs_f64() * 1e3),
            }
        });
        GuardStatus {
            tripped: self.lock_trip().as_ref().map(|t| TripStatus {
                metric: t.metric,
                value: t.value.clone(),
                threshold: t.threshold.clone(),
                // Milliseconds, as `Status::loaded_at`.
                at: format!("{:.3}", t.at),
            }),
            active_faults: self.active.load(Ordering::Relaxed),
            active_faults_peak: self.active_peak.load(Ordering::Relaxed),
            injections: self.injected.get(),
            calls_seen: self.calls.get(),
            window,
            skipped: SkipReason::ALL
                .iter()
                .zip(&self.skipped)
                .map(|(r, c)| (*r, c.0.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            timezone: guard.and_then(|g| g.window.tz.iana_name()).unwrap_or("UTC").to_owned(),
        }
    }
}

/// A fault in flight, for `max_active_faults`: freed when dropped.
#[derive(Debug)]
pub(crate) struct ActiveSlot(Arc<GuardState>);

impl Drop for ActiveSlot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The guard part of [`Status`](crate::Status).
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct GuardStatus {
    /// Set while an abort condition has stopped all injection.
    pub tripped: Option<TripStatus>,
    /// Faults in flight now (those that started under `max_active_faults`).
    pub active_faults: u64,
    /// The most faults that were in flight at once (with `max_active_faults`).
    pub active_faults_peak: u64,
    /// Faults injected in total while guardrails were set.
    pub injections: u64,
    /// Calls counted for the percentage cap (with `max_percentage_affected`).
    pub calls_seen: u64,
    /// The service's own calls (those that reached it, delayed or not) in
    /// the current window.
    pub window: Option<WindowStatus>,
    /// Faults skipped, by reason (only reasons that occurred).
    pub skipped: BTreeMap<SkipReason, u64>,
    /// The time zone of `allowed_hours`, `allowed_days`, `blackout_dates`
    /// and rule schedules: the `timezone` set, else `UTC`.
    pub timezone: String,
}

impl GuardStatus {
    /// Faults skipped for `reason`.
    pub fn skipped(&self, reason: SkipReason) -> u64 {
        self.skipped.get(&reason).copied().unwrap_or(0)
    }
}

/// Why the guard tripped.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct TripStatus {
    /// The condition's metric (`error_rate` or `latency_p99` in JSON).
    pub metric: Metric,
    /// The value measured.
    pub value: String,
    /// The threshold it crossed.
    pub threshold: String,
    /// When, in RFC 3339 UTC with milliseconds, as `Status::loaded_at`
    /// (`2026-11-25T10:00:00.900Z`).
    pub at: String,
}

/// The outcomes of the calls that reached the service, over the window.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct WindowStatus {
    /// Calls recorded.
    pub calls: u64,
    /// Of which failed.
    pub errors: u64,
    /// `errors / calls`.
    pub error_rate: f64,
    /// The 99th percentile latency, in milliseconds (the upper edge of its
    /// histogram slot: at most ~25% above the true value).
    pub latency_p99_ms: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The conditions are judged at most once per half a bucket (a
    /// twentieth of the window), and at most 100 ms apart.
    #[test]
    fn abort_conditions_are_judged_every_half_bucket_up_to_100ms() {
        use crate::config::AbortCondition;
        use crate::engine::stats::SHARED_STRIPE;

        // (window, the interval between judgements)
        for (window, every) in
            [(Duration::from_millis(600), 30), (Duration::from_secs(2), 100), (Duration::from_secs(30), 100)]
        {
            let clock = ManualClock::new("2026-11-25T10:00:00Z".parse().unwrap());
            let state = GuardState::new(Some(Arc::new(clock.clone())));
            state.set_plan_stamp(1);
            let g = Guard::compile(
                &Guardrails::new().window(window).min_samples(2).abort_condition(AbortCondition::error_rate(0.5)),
            )
            .unwrap();
            let fail = || state.record(&g, 1, true, std::time::Instant::now(), SHARED_STRIPE);
            fail(); // judged: one sample, too few
            clock.advance(Duration::from_millis(every - 1));
            fail(); // two failures, not judged yet
            assert!(!state.is_tripped(), "{window:?}: judged {} ms after the last", every - 1);
            clock.advance(Duration::from_millis(1));
            fail();
            assert!(state.is_tripped(), "{window:?}: not judged {every} ms after the last");
        }
    }

    #[test]
    fn share_caps_read_the_percentage_as_written() {
        // Every percentage with two decimals, exactly, though most have no
        // exact binary value.
        for hundredths in 0..=10_000_u64 {
            let p = hundredths as f64 / 100.0;
            assert_eq!(ShareCap::new(p), ShareCap(hundredths * 10_000_000_000), "{p}");
        }
        assert_eq!(ShareCap::new(-0.0), ShareCap(0));
        assert_eq!(ShareCap::new(100.0), ShareCap(100_000_000_000_000));
        // Beyond 12 decimals the cap is rounded down, never up.
        assert_eq!(ShareCap::new(1e-13), ShareCap(0));
        assert_eq!(ShareCap::new(5e-324), ShareCap(0));
        assert_eq!(ShareCap::new(33.333_333_333_333_336), ShareCap(33_333_333_333_333));
    }

    #[test]
    fn share_caps_compare_exactly() {
        for hundredths in [1_u64, 10, 29, 57, 1_250, 2_900, 5_700, 9_999, 10_000] {
            let cap = ShareCap::new(hundredths as f64 / 100.0);
            for calls in [1_u64, 7, 100, 999, 10_000, 123_457] {
                for faulted in [0_u64, 1, 2, 28, 29, 30, 56, 57, 58, 99, 100, 3_579, 123_457] {
                    let want = faulted * 10_000 <= hundredths * calls;
                    assert_eq!(
                        cap.allows(faulted.into(), calls),
                        want,
                        "{faulted} of {calls} under {hundredths}/100 %"
                    );
                }
            }
        }
        // The extremes do not overflow.
        assert!(!ShareCap::new(100.0).allows(u128::from(u64::MAX) + 1, u64::MAX));
        assert!(ShareCap::new(100.0).allows(u64::MAX.into(), u64::MAX));
        assert!(!ShareCap::new(0.0).allows(1, u64::MAX));
    }
}
