//! Validation: a [`Config`] compiled into a [`Plan`].

use std::collections::HashMap;
use std::fmt::Debug;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::filter::{Filter, Index};
use super::matcher::Facts;
use super::matcher::Matcher;
use super::rng::Rng;
use super::stats::{RuleStats, STRIPES};
use crate::config::{Abort, Config, ConfigError, Delay, GrpcStatus, Rule};
use crate::fault::{FaultKind, GrpcCode};

/// The validated, compiled form of a [`Config`]. Only a valid plan is ever
/// installed.
///
/// What every enabled decision reads comes first, in declaration order
/// (`repr(C)`), on a line of its own (`align(64)`): in a server, the kernel's
/// network stack evicts the plan from the core's caches between requests,
/// and each line a decision touches is then a miss. (With the compiler's
/// field order, the guardrails, the catch-all rule and the index were on
/// different lines, and `perf` put most of the plan cache's time on the
/// first of them.)
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct Plan {
    /// The first rule, when it matches every call (so no other rule is
    /// ever consulted).
    pub(crate) catch_all: Option<Arc<CompiledRule>>,
    #[cfg(feature = "guard")]
    pub(crate) guard: Option<Box<crate::guard::Guard>>,
    /// The rules' prefilters, indexed: which rules a call may match.
    pub(crate) index: Index,
    pub(crate) rules: Box<[Arc<CompiledRule>]>,
    pub(crate) rng: Rng,
    pub(crate) generation: u64,
    pub(crate) config: Config,
    /// Unique to this plan in the whole process (unlike `generation`, which
    /// counts per handle): fault points key their cached rule on it.
    pub(crate) stamp: u64,
    /// Per rule, the handles that faults in flight hold it by, one per
    /// counter stripe, made when a thread of that stripe first faults on it
    /// (see [`RuleHandle`]).
    handles: Box<[[OnceLock<Arc<RuleHandle>>; STRIPES]]>,
}

/// A rule as a fault in flight holds it (an [`Injection`](super::Injection),
/// an [`InjectedFault`](crate::InjectedFault)). A plan keeps one per rule and
/// counter stripe, each its own allocation on its own cache lines: threads
/// that fault on the same rule at once then take and release references on
/// lines of their own, instead of all writing the reference count of the
/// rule's `Arc`, which also shares a line with the rule's fields that every
/// fault reads. (On two threads aborting every call, those writes doubled
/// the cost of a fault.) For the same reason the handle has its own copy
/// of the abort's answer: cloning a body or header value shares its bytes
/// by a reference count, which would be the rule's for every thread.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct RuleHandle {
    rule: Arc<CompiledRule>,
    /// The rule's abort answer, copied for this handle.
    pub(crate) own_abort: Option<CompiledAbort>,
}

impl RuleHandle {
    fn new(rule: &Arc<CompiledRule>) -> Self {
        RuleHandle { own_abort: rule.abort.as_ref().map(CompiledAbort::copy), rule: Arc::clone(rule) }
    }
}

impl Deref for RuleHandle {
    type Target = CompiledRule;

    fn deref(&self) -> &CompiledRule {
        &self.rule
    }
}

/// The source of [`Plan::stamp`]s; 0 is never used, so a zeroed cache
/// matches no plan.
static NEXT_STAMP: AtomicU64 = AtomicU64::new(1);

fn next_stamp() -> u64 {
    NEXT_STAMP.fetch_add(1, Ordering::Relaxed)
}

impl Plan {
    /// The index of the first rule that matches `target`: the candidates the
    /// prefilters leave, checked in full in rule order.
    #[inline]
    pub(crate) fn first_match(&self, target: &crate::Target<'_>) -> Option<usize> {
        // The facts the full matchers use are derived only for a candidate.
        let mut facts = None;
        self.index.first(target, |i| {
            let facts = facts.get_or_insert_with(|| Facts::new(target));
            self.rules.get(i).is_some_and(|r| r.matcher.matches(facts))
        })
    }

    /// A handle on `rule`, one of this plan's, for a thread of counter
    /// stripe `stripe`.
    #[inline]
    pub(crate) fn handle(&self, rule: &Arc<CompiledRule>, stripe: usize) -> Arc<RuleHandle> {
        let cell = self.handles.get(rule.index).and_then(|h| h.get(stripe));
        match cell.map(|c| c.get_or_init(|| Arc::new(RuleHandle::new(rule)))) {
            Some(h) if Arc::ptr_eq(&h.rule, rule) => Arc::clone(h),
            // Not this plan's rule (never expected): a handle of its own.
            _ => Arc::new(RuleHandle::new(rule)),
        }
    }

    /// Must every call be counted for the percentage cap?
    #[cfg(feature = "guard")]
    #[inline]
    pub(crate) fn counts_calls(&self) -> bool {
        self.guard.as_ref().is_some_and(|g| g.counts_calls())
    }

    /// Must doors record the outcome of the calls they do not fault?
    #[cfg_attr(not(any(feature = "tower", feature = "client")), allow(dead_code))]
    #[inline]
    pub(crate) fn observes(&self) -> bool {
        #[cfg(feature = "guard")]
        return self.guard.as_ref().is_some_and(|g| g.observes());
        #[cfg(not(feature = "guard"))]
        false
    }
}

/// A compiled rule. As with [`Plan`], what a matched call reads comes first,
/// on a line of its own: the counters, whether anything can fire, what
/// fails. The fields a call can write (`injections`, an `every` delay's
/// count) are elsewhere.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct CompiledRule {
    pub(crate) stats: Arc<RuleStats>,
    /// Nothing can fire: every trigger is "0%". A match only counts.
    pub(crate) inert: bool,
    pub(crate) abort_first: bool,
    /// The faults that make a call fail, in the order they are rolled:
    /// partition, abort, error, timeout, loss. The first that fires wins.
    pub(crate) failures: Box<[CompiledFailure]>,
    pub(crate) max_injections: Option<u64>,
    /// The rule's position in its plan.
    pub(crate) index: usize,
    pub(crate) name: Arc<str>,
    pub(crate) matcher: Matcher,
    /// Past the first line: an `every` delay's count is written on every
    /// matched call.
    pub(crate) delay: Option<CompiledDelay>,
    /// The answer of an abort (its trigger is in `failures`).
    pub(crate) abort: Option<CompiledAbort>,
    /// The rule's `schedule` and `for`.
    #[cfg(feature = "guard")]
    pub(crate) timing: Option<crate::guard::RuleTiming>,
}

impl CompiledRule {
    /// Gives back an allowance taken under `max_injections` (none is taken
    /// without it), for a fault that was not injected after all.
    pub(crate) fn give_back_injection(&self) {
        if self.max_injections.is_some() {
            self.stats.injections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// When a fault fires.
#[derive(Debug)]
pub(crate) enum Trigger {
    Never,
    Always,
    /// Fires when a uniform `u64` is below the threshold.
    Chance(u64),
    /// Fires on the n-th, 2n-th, ... matching call.
    Every {
        n: u64,
        seen: AtomicU64,
    },
}

impl Trigger {
    #[inline]
    pub(crate) fn fires(&self, rng: &Rng) -> bool {
        match self {
            Trigger::Never => false,
            Trigger::Always => true,
            Trigger::Chance(t) => rng.next_u64() < *t,
            Trigger::Every { n, seen } => (seen.fetch_add(1, Ordering::Relaxed) + 1) % n == 0,
        }
    }
}

#[derive(Debug)]
pub(crate) struct CompiledAbort {
    pub(crate) status: StatusCode,
    pub(crate) grpc: GrpcCode,
    /// The body of HTTP aborts (the configured body, else the message).
    pub(crate) body: Bytes,
    /// The headers of HTTP aborts: the configured ones and `x-mischief-rule`.
    pub(crate) http_headers: HeaderMap,
    /// The headers of a trailers-only gRPC abort: `content-type`,
    /// `grpc-status` and `grpc-message`.
    pub(crate) grpc_headers: HeaderMap,
}

impl CompiledAbort {
    /// A copy whose bytes (body, header names and values) are all its own
    /// allocations, shared with no other copy.
    fn copy(&self) -> Self {
        CompiledAbort {
            status: self.status,
            grpc: self.grpc,
            body: Bytes::copy_from_slice(&self.body),
            http_headers: copy_headers(&self.http_headers),
            grpc_headers: copy_headers(&self.grpc_headers),
        }
    }
}

fn copy_headers(headers: &HeaderMap) -> HeaderMap {
    let mut copy = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        // Both were valid when first built, so neither conversion fails.
        if let (Ok(name), Ok(mut v)) =
            (HeaderName::from_bytes(name.as_str().as_bytes()), HeaderValue::from_bytes(value.as_bytes()))
        {
            v.set_sensitive(value.is_sensitive());
            copy.append(name, v);
        }
    }
    copy
}

/// The header naming the rule that aborted an HTTP request.
pub(crate) const RULE_HEADER: &str = "x-mischief-rule";

/// A fault that makes the call fail, after `wait`.
#[derive(Debug)]
pub(crate) struct CompiledFailure {
    pub(crate) kind: FaultKind,
    pub(crate) trigger: Trigger,
    /// How long the call hangs before it fails (timeout, loss, partition's
    /// connect delay); zero for aborts and errors.
    pub(crate) wait: Duration,
    pub(crate) message: Option<Arc<str>>,
}

#[derive(Debug)]
pub(crate) struct CompiledDelay {
    pub(crate) trigger: Trigger,
    /// Uniform in `min ..= min + span`, in nanoseconds.
    min_ns: u64,
    span_ns: u64,
}

impl CompiledDelay {
    #[inline]
    pub(crate) fn sample(&self, rng: &Rng) -> Duration {
        let extra = if self.span_ns == 0 { 0 } else { rng.up_to(self.span_ns) };
        Duration::from_nanos(self.min_ns.saturating_add(extra))
    }
}

impl Plan {
    /// An empty plan: nothing matches.
    pub(crate) fn empty() -> Self {
        Plan {
            rules: Box::new([]),
            index: Index::default(),
            catch_all: None,
            rng: Rng::Thread,
            generation: 0,
            config: Config::default(),
            #[cfg(feature = "guard")]
            guard: None,
            stamp: next_stamp(),
            handles: Box::new([]),
        }
    }

    /// Validates `config` and compiles it. Counters of rules whose name is
    /// also in `previous` carry over; a new rule's clock (for `for`) starts
    /// at `now_ms`.
    pub(crate) fn compile(config: Config, previous: &Plan, now_ms: i64) -> Result<Plan, ConfigError> {
        #[cfg(feature = "guard")]
        let tz = crate::guard::time_zone(config.guardrails.as_ref())?;
        #[cfg(feature = "guard")]
        let guard = config.guardrails.as_ref().map(|g| crate::guard::Guard::compile(g).map(Box::new)).transpose()?;
        #[cfg(not(feature = "guard"))]
        if config.guardrails.is_some() || config.rules.iter().any(|r| r.schedule.is_some() || r.active_for.is_some()) {
            return Err(ConfigError::Global {
                field: "guardrails".into(),
                value: "(set)".into(),
                reason: "guardrails and rule schedules need mischief's `guard` feature, which this build lacks".into(),
            });
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut rules = Vec::with_capacity(config.rules.len());
        for (index, rule) in config.rules.iter().enumerate() {
            if let Some(first) = seen.insert(rule.name.as_str(), index) {
                return Err(ConfigError::field(
                    index,
                    &rule.name,
                    "name",
                    &rule.name,
                    format!("duplicate rule name, also used by rule #{first}"),
                ));
            }
            let stats = previous
                .rules
                .iter()
                .find(|r| *r.name == *rule.name)
                .map(|r| Arc::clone(&r.stats))
                .unwrap_or_else(|| Arc::new(RuleStats::new(now_ms)));
            #[allow(unused_mut)]
            let mut compiled = compile_rule(index, rule, stats)?;
            #[cfg(feature = "guard")]
            {
                compiled.timing = crate::guard::RuleTiming::compile(index, rule, &tz)?;
            }
            rules.push(Arc::new(compiled));
        }
        let filters: Box<[Filter]> = config.rules.iter().map(|r| Filter::of(&r.when)).collect();
        let catch_all = config.rules.first().filter(|r| r.when.is_empty()).and_then(|_| rules.first().cloned());
        Ok(Plan {
            catch_all,
            index: Index::new(&filters),
            rng: Rng::new(config.seed),
            generation: previous.generation + 1,
            config,
            #[cfg(feature = "guard")]
            guard,
            stamp: next_stamp(),
            handles: rules.iter().map(|_| std::array::from_fn(|_| OnceLock::new())).collect(),
            rules: rules.into_boxed_slice(),
        })
    }
}

fn compile_rule(index: usize, rule: &Rule, stats: Arc<RuleStats>) -> Result<CompiledRule, ConfigError> {
    let name = rule.name.as_str();
    let err = |field: &str, value: &dyn Debug, reason: &str| ConfigError::field(index, name, field, value, reason);
    if name.trim().is_empty() {
        return Err(err("name", &name, "must not be empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(err("name", &name, "must not contain control characters"));
    }
    let failures = compile_failures(index, rule)?;
    if failures.is_empty() && rule.delay.is_none() {
        return Err(err(
            "abort",
            &"none",
            "the rule has no fault: give at least one of `abort`, `delay`, `error`, `timeout`, `partition`, `loss`",
        ));
    }
    let delay = rule.delay.as_ref().map(|d| compile_delay(index, name, d)).transpose()?;
    let inert = failures.iter().all(|f| matches!(f.trigger, Trigger::Never))
        && delay.as_ref().is_none_or(|d| matches!(d.trigger, Trigger::Never));
    Ok(CompiledRule {
        name: Arc::from(name),
        index,
        matcher: Matcher::compile(&rule.when, index, name)?,
        abort: rule.abort.as_ref().map(|a| compile_abort(index, name, a)).transpose()?,
        delay,
        failures,
        max_injections: rule.max_injections,
        abort_first: rule.abort_first,
        inert,
        stats,
        #[cfg(feature = "guard")]
        timing: None,
    })
}

fn trigger(
    index: usize,
    rule: &str,
    fault: &str,
    percentage: Option<f64>,
    every: Option<u64>,
) -> Result<Trigger, ConfigError> {
    match (percentage, every) {
        (Some(p), None) => {
            if !p.is_finite() || !(0.0..=100.0).contains(&p) {
                return Err(ConfigError::field(
                    index,
                    rule,
                    format!("{fault}.percentage"),
                    p,
                    "must be between 0 and 100",
                ));
            }
            Ok(if p == 0.0 {
                Trigger::Never
            } else if p == 100.0 {
                Trigger::Always
            } else {
                // 2^64 * p / 100, exact enough: f64 has 53 bits of mantissa.
                Trigger::Chance((p / 100.0 * 18_446_744_073_709_551_616.0) as u64)
            })
        }
        (None, Some(0)) => Err(ConfigError::field(index, rule, format!("{fault}.every"), 0, "must be at least 1")),
        (None, Some(n)) => Ok(Trigger::Every { n, seen: AtomicU64::new(0) }),
        (Some(p), Some(n)) => Err(ConfigError::field(
            index,
            rule,
            format!("{fault}.every"),
            n,
            format!("`percentage` ({p}) and `every` cannot both be set"),
        )),
        (None, None) => Err(ConfigError::field(
            index,
            rule,
            format!("{fault}.percentage"),
            "none",
            "give `percentage` (0 to 100) or `every` (N)",
        )),
    }
}

/// The most headers an abort may set.
const MAX_ABORT_HEADERS: usize = 64;

fn compile_abort(index: usize, rule: &str, a: &Abort) -> Result<CompiledAbort, ConfigError> {
    let err = |field: &str, value: &dyn Debug, reason: &str| {
        ConfigError::field(index, rule, format!("abort.{field}"), value, reason)
    };
    let status = match a.status {
        // Set later from the gRPC code, when only that is given.
        None => StatusCode::SERVICE_UNAVAILABLE,
        Some(s) if (200..=599).contains(&s) => {
            StatusCode::from_u16(s).map_err(|_| err("status", &s, "not an HTTP status"))?
        }
        Some(s) => return Err(err("status", &s, "must be an HTTP status from 200 to 599")),
    };
    let code = |n: Option<i64>, value: &dyn Debug| match n.and_then(GrpcCode::from_i64) {
        Some(GrpcCode::Ok) | None => Err(err("grpc_status", value, "must be a gRPC error code from 1 to 16")),
        Some(code) => Ok(code),
    };
    let grpc = match &a.grpc_status {
        None => GrpcCode::Unavailable,
        Some(GrpcStatus::Code(n)) => code(Some(*n), n)?,
        // A number written as text (`grpc_status: "14"` in YAML): that code.
        Some(GrpcStatus::Name(s)) if is_integer(s.trim()) => code(s.trim().parse().ok(), s)?,
        Some(GrpcStatus::Name(s)) => match GrpcCode::from_name(s) {
            Some(GrpcCode::Ok) => return Err(err("grpc_status", s, "OK is not an error code")),
            Some(code) => code,
            None => {
                return Err(err(
                    "grpc_status",
                    s,
                    "unknown gRPC code; use a name such as UNAVAILABLE or a number 1 to 16",
                ));
            }
        },
    };
    // Only a gRPC code given: callers that are not gRPC's get the HTTP
    // status that says the same (NOT_FOUND: 404).
    let status = if a.status.is_none() && a.grpc_status.is_some() { grpc.http_status() } else { status };
    // A bound well inside what a `HeaderMap` holds (it panics past 24,576
    // names), with room for the headers the answer adds.
    if a.headers.len() > MAX_ABORT_HEADERS {
        return Err(err("headers", &a.headers.len(), &format!("at most {MAX_ABORT_HEADERS} headers")));
    }
    let mut http_headers = HeaderMap::new();
    for (k, v) in &a.headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| err("headers", k, "not a valid header name"))?;
        let value = HeaderValue::from_str(v).map_err(|_| err("headers", v, "not a valid header value"))?;
        // `Retry-After` and `retry-after` are one header: the answer would
        // carry both values.
        if http_headers.contains_key(&name) {
            return Err(err("headers", k, "given twice (header names ignore case)"));
        }
        http_headers.append(name, value);
    }
    let rule_header = rule_header_value(rule);
    http_headers.insert(RULE_HEADER, rule_header.clone());
    // What a cache in front of the service must not keep: an injected 404
    // served from a CDN after the fault ended.
    if !http_headers.contains_key(http::header::CACHE_CONTROL) {
        http_headers.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let default_message = format!("chaos: abort injected by rule `{rule}`");
    let mut grpc_headers = HeaderMap::new();
    grpc_headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    grpc_headers.insert("grpc-status", HeaderValue::from(grpc.as_i32()));
    // Custom metadata, allowed in a trailers-only response: a client can
    // tell an injected status from a real one.
    grpc_headers.insert(RULE_HEADER, rule_header);
    let grpc_message = grpc_message(a.message.as_deref().unwrap_or(&default_message));
    if let Ok(v) = HeaderValue::from_str(&grpc_message) {
        grpc_headers.insert("grpc-message", v);
    }
    let body = a.body.clone().or_else(|| a.message.clone()).unwrap_or(default_message);
    Ok(CompiledAbort { status, grpc, body: Bytes::from(body), http_headers, grpc_headers })
}

/// Is `s` an integer, as `"14"`, `"+14"` or `"-1"` (however long)?
fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn compile_failures(index: usize, rule: &Rule) -> Result<Box<[CompiledFailure]>, ConfigError> {
    let name = rule.name.as_str();
    let fail = |kind, trigger, wait, message: Option<&String>| CompiledFailure {
        kind,
        trigger,
        wait,
        message: message.map(|m| Arc::from(m.as_str())),
    };
    let mut out = Vec::new();
    if let Some(p) = &rule.partition {
        out.push(fail(FaultKind::Partition, Trigger::Always, p.connect_delay.unwrap_or_default(), None));
    }
    if let Some(a) = &rule.abort {
        let t = trigger(index, name, "abort", a.percentage, a.every)?;
        out.push(fail(FaultKind::Abort, t, Duration::ZERO, a.message.as_ref()));
    }
    if let Some(e) = &rule.error {
        let t = trigger(index, name, "error", e.percentage, e.every)?;
        out.push(fail(FaultKind::Error, t, Duration::ZERO, e.message.as_ref()));
    }
    if let Some(t) = &rule.timeout {
        let trig = trigger(index, name, "timeout", t.percentage, t.every)?;
        out.push(fail(FaultKind::Timeout, trig, t.after, None));
    }
    if let Some(l) = &rule.loss {
        let trig = trigger(index, name, "loss", l.percentage, l.every)?;
        out.push(fail(FaultKind::Loss, trig, l.timeout, None));
    }
    Ok(out.into_boxed_slice())
}

fn compile_delay(index: usize, rule: &str, d: &Delay) -> Result<CompiledDelay, ConfigError> {
    let err = |field: &str, value: &dyn Debug, reason: &str| {
        ConfigError::field(index, rule, format!("delay.{field}"), value, reason)
    };
    let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let fmt = |d: Option<Duration>| d.map(crate::config::duration::format);
    let (min, max) = match (d.fixed, d.min, d.max, d.base, d.jitter) {
        (Some(f), None, None, None, None) => (f, f),
        (None, Some(min), Some(max), None, None) => {
            if min > max {
                return Err(err(
                    "min",
                    &fmt(Some(min)),
                    &format!("must not exceed max ({})", fmt(Some(max)).unwrap_or_default()),
                ));
            }
            (min, max)
        }
        (None, None, None, Some(base), Some(jitter)) => {
            if jitter > base {
                return Err(err(
                    "jitter",
                    &fmt(Some(jitter)),
                    &format!("must not exceed base ({})", fmt(Some(base)).unwrap_or_default()),
                ));
            }
            let Some(max) = base.checked_add(jitter) else {
                return Err(err("jitter", &fmt(Some(jitter)), "base + jitter is longer than a duration can be"));
            };
            (base - jitter, max)
        }
        (fixed, min, max, base, jitter) => {
            let given: Vec<&str> = [("fixed", fixed), ("min", min), ("max", max), ("base", base), ("jitter", jitter)]
                .into_iter()
                .filter_map(|(n, v)| v.map(|_| n))
                .collect();
            return Err(ConfigError::field(
                index,
                rule,
                "delay",
                &given,
                "give exactly one shape: `fixed`, or `min` and `max`, or `base` and `jitter`",
            ));
        }
    };
    Ok(CompiledDelay {
        trigger: trigger(index, rule, "delay", d.percentage, d.every)?,
        min_ns: ns(min),
        span_ns: ns(max) - ns(min),
    })
}

/// The value of the [`RULE_HEADER`] naming `rule`, percent-encoded as a
/// `grpc-message` is: a name of printable ASCII without `%` as it is, and
/// any other byte (`%` included) as `%XX` (`café` is `caf%C3%A9`), so that
/// a client can read it as text (`HeaderValue::to_str` refuses other
/// bytes) and decode it without guessing.
pub(crate) fn rule_header_value(rule: &str) -> HeaderValue {
    // Printable ASCII, which a header value may always be.
    HeaderValue::from_str(&grpc_message(rule)).unwrap_or(HeaderValue::from_static("-"))
}

/// Percent-encodes a `grpc-message` as the gRPC HTTP/2 protocol asks: bytes
/// outside printable ASCII, and `%` itself, become `%XX`.
pub(crate) fn grpc_message(message: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::grpc_message as percent_encode;

    #[test]
    fn grpc_message_encoding() {
        assert_eq!(percent_encode("plain text"), "plain text");
        assert_eq!(percent_encode("50% off\n"), "50%25 off%0A");
        assert_eq!(percent_encode("caf\u{e9}"), "caf%C3%A9");
    }
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    /// What an enabled decision reads of a plan and of its matched rule is
    /// on one cache line of each (see [`Plan`]).
    #[test]
    fn hot_fields_share_a_line() {
        assert_eq!(std::mem::align_of::<Plan>(), 64);
        assert_eq!(std::mem::align_of::<CompiledRule>(), 64);
        assert!(std::mem::offset_of!(Plan, rules) + std::mem::size_of::<Box<[Arc<CompiledRule>]>>() <= 64);
        assert!(std::mem::offset_of!(CompiledRule, index) + std::mem::size_of::<usize>() <= 64);
        assert!(std::mem::offset_of!(CompiledRule, delay) >= 64);
    }
}
