//! The `guardrails` section and per-rule schedules.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Match, duration};

/// Limits on when, where and how much chaos may be injected, for the whole
/// engine. Every field is optional; an empty `Guardrails` limits nothing.
///
/// Guardrails are checked only for a call that a rule is about to fault, so
/// they cost nothing on calls that pass — except `max_percentage_affected`
/// (one counter per call) and `abort_conditions` (each call that reaches the
/// service is timed and its outcome recorded).
///
/// The seed's guardrails file reads as this section, except its two
/// pod-level fields, `max_pods_killed` and `excluded_namespaces`: a library
/// inside one process cannot apply them, and each is an error naming what
/// to use instead.
///
/// ```toml
/// [guardrails]
/// allowed_hours = "09:00-16:00"          # local time in `timezone`; end exclusive
/// allowed_days = ["Mon", "Tue", "Wed", "Thursday"]
/// blackout_dates = ["2026-12-24", "2026-12-25"]
/// timezone = "Europe/Berlin"             # IANA name; default UTC
/// arm_after = "60s"                      # no chaos during start-up
/// max_percentage_affected = 10           # of all calls seen in `window`
/// max_active_faults = 5                  # faults in flight at once
/// max_injections = 10000                 # in total
/// window = "30s"                         # for the percentage cap and abort conditions
/// exclude = [{ path = "/health" }, { name = "payments.*" }]
/// abort_conditions = [
///   { metric = "error_rate", threshold = 0.05 },
///   { metric = "latency_p99", threshold = "5s" },
/// ]
/// min_samples = 50
/// cooldown = "10m"                       # re-arm by itself after tripping
/// ```
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Guardrails {
    /// `"HH:MM-HH:MM"`: chaos only in this span of local time each day (the
    /// end is exclusive; a span like `"22:00-06:00"` crosses midnight, and
    /// its part after midnight belongs to the day it started on).
    #[serde(default, deserialize_with = "super::present", skip_serializing_if = "Option::is_none")]
    pub allowed_hours: Option<String>,
    /// Chaos only on these days (`Mon`/`Monday`, any case). Empty: every day.
    /// A day's `allowed_hours` span that crosses midnight runs into the next
    /// morning: with `["Fri"]` and `"22:00-06:00"`, chaos runs from Friday
    /// 22:00 to Saturday 06:00, and not from Friday 00:00 to 06:00 (that is
    /// Thursday's night).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_days: Vec<String>,
    /// No chaos on these dates (`YYYY-MM-DD`, local time), each from 00:00
    /// to 24:00: a date is read per instant, not per span, so a blackout
    /// Saturday also stops Friday's overnight span at midnight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blackout_dates: Vec<String>,
    /// The IANA time zone of the hours, days and dates above, and of rule
    /// schedules. Default UTC.
    #[serde(default, deserialize_with = "super::present", skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// No chaos until this long after the engine started.
    #[cfg_attr(feature = "schema", schemars(with = "Option<super::schema::DurationSchema>"))]
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub arm_after: Option<Duration>,
    /// The largest share (`0..=100`) of all calls seen in the last `window`
    /// that may be faulted; faults above it are skipped. A delay is a fault
    /// here too: under a cap of 10, a rule that delays every call (as
    /// `CHAOS_LATENCY_MS` builds) delays about one call in ten. (The seed's
    /// field of this name counts pods; here it counts calls, at every door.)
    /// The share is compared with the number as written, exactly, to 12
    /// decimal places (a cap of 29 allows 29 faults in 100 calls). The
    /// window is measured between checkpoints taken as faults are tried (at
    /// most one per tenth of the window), on the safe side: it may count
    /// the faults of a little more than the last `window`, or the calls of
    /// a little less, so steady traffic sees a little less than the cap. A
    /// cap of 100 skips nothing.
    #[serde(default, deserialize_with = "super::present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 100)))]
    pub max_percentage_affected: Option<f64>,
    /// The most faults in flight at once (a delayed or hanging call counts
    /// until its wait ends). Counts the faults that started while it was
    /// set: ones begun before a reload added it hold no place.
    #[serde(default, deserialize_with = "super::present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub max_active_faults: Option<u64>,
    /// The most faults injected in total, over all rules, counted from when
    /// it is first set (a reload that keeps it keeps the count; faults
    /// injected while no cap was set are not counted).
    #[serde(default, deserialize_with = "super::present", skip_serializing_if = "Option::is_none")]
    pub max_injections: Option<u64>,
    /// The sliding window of `max_percentage_affected` and
    /// `abort_conditions`. Default 30 s.
    #[cfg_attr(feature = "schema", schemars(with = "Option<super::schema::DurationSchema>"))]
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
    /// Calls that are never faulted, whatever the rules say. Each entry needs
    /// at least one condition: an empty one would match every call, and is
    /// an error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "super::schema::exclude"))]
    pub exclude: Vec<Match>,
    /// Stop all injection when the service's own calls cross one of these
    /// thresholds over `window`: the calls that reach the service through
    /// the HTTP layer, the generic layer or the client middleware. A call
    /// that is only delayed counts, timed from the end of its delay; a call
    /// mischief failed does not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub abort_conditions: Vec<AbortCondition>,
    /// Calls needed in the window before an abort condition is judged.
    /// Default 20.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    #[serde(default, deserialize_with = "super::present", skip_serializing_if = "Option::is_none")]
    pub min_samples: Option<u64>,
    /// After tripping, re-arm by itself this long after the trip. Without
    /// it, only [`Chaos::rearm`](crate::Chaos::rearm) re-arms, or a new
    /// configuration without abort conditions. A new configuration with
    /// abort conditions (a reload, [`Chaos::update`](crate::Chaos::update))
    /// leaves the trip in force.
    #[cfg_attr(feature = "schema", schemars(with = "Option<super::schema::DurationSchema>"))]
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<Duration>,
    /// The seed's pod-level fields, which a library inside one process
    /// cannot apply: reading one is an error that names what to use instead,
    /// rather than the bare "unknown field" of a typo.
    #[cfg_attr(feature = "schema", schemars(skip))]
    #[serde(default, skip_serializing)]
    max_pods_killed: PodLevel<MaxPodsKilled>,
    #[cfg_attr(feature = "schema", schemars(skip))]
    #[serde(default, skip_serializing)]
    excluded_namespaces: PodLevel<ExcludedNamespaces>,
}

/// A field of the seed's guardrails file for tools that act on pods; never
/// holds a value (reading one is an error).
#[derive(Clone, Copy, Default, PartialEq)]
struct PodLevel<T>(std::marker::PhantomData<T>);

// Shown as nothing at all: it never holds anything.
impl<T> std::fmt::Debug for PodLevel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("-")
    }
}

/// What the error for a pod-level field says to do instead.
trait Instead {
    const INSTEAD: &'static str;
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct MaxPodsKilled;

impl Instead for MaxPodsKilled {
    const INSTEAD: &'static str = "limits a tool that kills pods, and mischief runs inside one process; \
        cap the faults in flight with `max_active_faults`, or all of them with `max_injections`";
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct ExcludedNamespaces;

impl Instead for ExcludedNamespaces {
    const INSTEAD: &'static str = "selects Kubernetes namespaces, and mischief runs inside one process; \
        switch chaos on only in the deployments where it belongs (`CHAOS_ENABLED`), and keep calls \
        out with `exclude`";
}

impl<'de, T: Instead> Deserialize<'de> for PodLevel<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Shown(value) = Shown::deserialize(d)?;
        Err(serde::de::Error::custom(format_args!("{value}: {}", T::INSTEAD)))
    }
}

/// Any value, written out for an error message.
struct Shown(String);

impl<'de> Deserialize<'de> for Shown {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Shown;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Shown, E> {
                Ok(Shown(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Shown, E> {
                Ok(Shown(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Shown, E> {
                Ok(Shown(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Shown, E> {
                Ok(Shown(v.to_string()))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Shown, E> {
                Ok(Shown(format!("{v:?}")))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Shown, E> {
                Ok(Shown("null".to_owned()))
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Shown, E> {
                Ok(Shown("null".to_owned()))
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Shown, D::Error> {
                Shown::deserialize(d)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Shown, A::Error> {
                let mut items = Vec::new();
                while let Some(Shown(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Shown(format!("[{}]", items.join(", "))))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Shown, A::Error> {
                while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(Shown("{...}".to_owned()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A measurement of the service's own health that stops chaos when it
/// crosses its threshold.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(transform = super::schema::threshold_by_metric))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AbortCondition {
    /// What is measured.
    pub metric: Metric,
    /// The limit, which the metric trips above: a fraction `0 <= x < 1` for
    /// `error_rate` (no rate is above 1, so 1 is an error); a duration (`"5s"`, or
    /// milliseconds as a number, as in the seed's `threshold: 5000`) for
    /// `latency_p99`.
    pub threshold: Threshold,
}

impl AbortCondition {
    /// Trips when more than `fraction` of the calls fail. `fraction` is at
    /// least 0 and below 1 (at 1 it could never trip, and is an error).
    pub fn error_rate(fraction: f64) -> Self {
        Self { metric: Metric::ErrorRate, threshold: Threshold::Number(fraction) }
    }

    /// Trips when the 99th percentile latency exceeds `limit`.
    pub fn latency_p99(limit: Duration) -> Self {
        Self { metric: Metric::LatencyP99, threshold: Threshold::Text(duration::format(limit)) }
    }
}

/// A metric of an abort condition.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Metric {
    /// The share of calls that failed: an HTTP 5xx, a gRPC error status in
    /// the response head, or an `Err`. (On the client, a timeout that an
    /// injected delay made shorter is not a call here, neither failed nor
    /// not: the delay may have caused it. Its latency counts for
    /// `latency_p99`.)
    ErrorRate,
    /// The 99th percentile of call latency, read as the upper edge of its
    /// histogram slot (up to ~25% above the true value: the condition trips
    /// early rather than late).
    LatencyP99,
}

impl Metric {
    /// The name used in configuration and status.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error_rate",
            Metric::LatencyP99 => "latency_p99",
        }
    }
}

/// A threshold as written: a number or a string.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Threshold {
    /// A number: a fraction for `error_rate`, milliseconds for `latency_p99`.
    Number(f64),
    /// A duration such as `"5s"`.
    Text(String),
}

// By hand, not `untagged`: serde's untagged enums say only that nothing
// matched, and an error must show the value it got.
impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Threshold;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number, or a duration such as \"5s\"")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Threshold, E> {
                Ok(Threshold::Number(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Threshold, E> {
                Ok(Threshold::Number(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Threshold, E> {
                Ok(Threshold::Number(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Threshold, E> {
                Ok(Threshold::Text(v.to_owned()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// When a rule is active: after each firing of a cron expression, for
/// `active` (the seed's CronJob `*/10 9-17 * * 1-5`, active for 5 minutes).
///
/// ```toml
/// schedule = { cron = "*/10 9-17 * * 1-5", active = "5m" }
/// ```
///
/// The cron expression has five fields (minute hour day-of-month month
/// day-of-week) or six with seconds first, in the guardrails' `timezone`.
/// A seventh field, a year, is an error.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Schedule {
    /// The cron expression.
    #[cfg_attr(feature = "schema", schemars(schema_with = "super::schema::cron"))]
    pub cron: String,
    /// How long the rule stays active after each firing.
    #[cfg_attr(feature = "schema", schemars(with = "super::schema::PositiveDurationSchema"))]
    #[serde(with = "duration::required")]
    pub active: Duration,
}

impl Schedule {
    /// Active for `active` after each firing of `cron`.
    pub fn new(cron: impl Into<String>, active: Duration) -> Self {
        Self { cron: cron.into(), active }
    }
}

impl Guardrails {
    /// No limits yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `allowed_hours` (`"09:00-16:00"`).
    #[must_use]
    pub fn allowed_hours(mut self, span: impl Into<String>) -> Self {
        self.allowed_hours = Some(span.into());
        self
    }

    /// Sets `allowed_days`.
    #[must_use]
    pub fn allowed_days<I: IntoIterator<Item = S>, S: Into<String>>(mut self, days: I) -> Self {
        self.allowed_days = days.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a blackout date (`YYYY-MM-DD`).
    #[must_use]
    pub fn blackout_date(mut self, date: impl Into<String>) -> Self {
        self.blackout_dates.push(date.into());
        self
    }

    /// Sets the time zone.
    #[must_use]
    pub fn timezone(mut self, tz: impl Into<String>) -> Self {
        self.timezone = Some(tz.into());
        self
    }

    /// Sets `arm_after`.
    #[must_use]
    pub fn arm_after(mut self, d: Duration) -> Self {
        self.arm_after = Some(d);
        self
    }

    /// Sets `max_percentage_affected`.
    #[must_use]
    pub fn max_percentage_affected(mut self, p: f64) -> Self {
        self.max_percentage_affected = Some(p);
        self
    }

    /// Sets `max_active_faults`.
    #[must_use]
    pub fn max_active_faults(mut self, n: u64) -> Self {
        self.max_active_faults = Some(n);
        self
    }

    /// Sets `max_injections`.
    #[must_use]
    pub fn max_injections(mut self, n: u64) -> Self {
        self.max_injections = Some(n);
        self
    }

    /// Sets the sliding window.
    #[must_use]
    pub fn window(mut self, d: Duration) -> Self {
        self.window = Some(d);
        self
    }

    /// Adds an exclusion.
    #[must_use]
    pub fn exclude(mut self, m: Match) -> Self {
        self.exclude.push(m);
        self
    }

    /// Adds an abort condition.
    #[must_use]
    pub fn abort_condition(mut self, c: AbortCondition) -> Self {
        self.abort_conditions.push(c);
        self
    }

    /// Sets `min_samples`.
    #[must_use]
    pub fn min_samples(mut self, n: u64) -> Self {
        self.min_samples = Some(n);
        self
    }

    /// Sets `cooldown`.
    #[must_use]
    pub fn cooldown(mut self, d: Duration) -> Self {
        self.cooldown = Some(d);
        self
    }
}
