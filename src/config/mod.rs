//! The user-facing configuration model.
//!
//! A [`Config`] is an ordered list of [`Rule`]s. Each rule has a name, a
//! [`Match`] saying which calls it applies to, and its faults: a
//! [`Delay`], and the failures (`abort`, `error`, `timeout`, `partition`,
//! `loss`), each with its own trigger (`percentage` or `every`). The same model is read from environment variables
//! ([`Chaos::from_env`](crate::Chaos::from_env)), built in code, or
//! deserialized with serde from TOML, YAML or JSON.
//!
//! A `Config` is only a description: [`Chaos::update`](crate::Chaos::update)
//! validates it and compiles it into the engine's plan. Any invalid field is
//! rejected with a [`ConfigError`] that names the rule, the field and the
//! value; nothing is clamped silently, and the previous plan stays in force.
//! In a file, an optional field given with no value (YAML's `path:`,
//! JSON's `null`) is an error naming it: leave the field out to unset it.
//!
//! # Semantics
//!
//! - Rules are evaluated in order; the first rule whose `match` holds decides.
//!   Later rules are not consulted for that call.
//! - Within a rule, the delay and the abort are rolled independently (as in
//!   Envoy and Istio): a call may be delayed, aborted, both (delayed, then
//!   aborted) or neither. Set [`Rule::abort_first`] to roll the abort first
//!   and skip the delay of an aborted call, as the seed's Python middleware
//!   does.
//! - `percentage` is a share of matching calls in `0..=100` (fractions
//!   allowed); `0` is a hard off and `100` is always. `every = N` fires on
//!   exactly the N-th, 2N-th, ... matching call instead.
//! - `max_injections` caps the number of calls the rule faults in total.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use mischief::config::{Abort, Config, Delay, Match, Rule};
//!
//! let config = Config::new()
//!     .rule(
//!         Rule::new("slow-payments")
//!             .when(Match::new().path_prefix("/payments").method("POST"))
//!             .delay(Delay::uniform(Duration::from_millis(50), Duration::from_millis(200)).percentage(25.0))
//!             .abort(Abort::status(503).percentage(5.0)),
//!     )
//!     .rule(Rule::new("every-third-search").when(Match::new().path("/search")).abort(Abort::status(429).every(3)));
//! assert_eq!(config.rules.len(), 2);
//!
//! // The same configuration, as it would be written in a TOML file.
//! let toml = r#"
//! [[rules]]
//! name = "slow-payments"
//! match = { path = { prefix = "/payments" }, method = "POST" }
//! delay = { min = "50ms", max = "200ms", percentage = 25 }
//! abort = { status = 503, percentage = 5 }
//!
//! [[rules]]
//! name = "every-third-search"
//! match = { path = "/search" }
//! abort = { status = 429, every = 3 }
//! "#;
//! # let _ = toml;
//! ```

pub(crate) mod duration;
mod env;
mod error;
pub(crate) mod file;
mod guardrails;
#[cfg(feature = "schema")]
mod schema;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

pub use crate::fault::GrpcCode;
pub use env::vars;
pub(crate) use env::{EnvSettings, check_unicode as check_env_unicode, warn_misspelt as warn_misspelt_env};
pub use error::{ConfigError, RuleRef};
pub use file::Format;
pub use guardrails::{AbortCondition, Guardrails, Metric, Schedule, Threshold};
#[cfg(feature = "schema")]
pub use schema::json_schema;

/// The whole fault-injection configuration: an ordered list of rules.
///
/// See the [module documentation](self) for the semantics.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Seed for every random decision. With a seed, the n-th random draw
    /// since this configuration was installed is always the same, so a run
    /// with sequential calls repeats exactly (concurrent calls take draws in
    /// whatever order they reach the sequence, and each installation,
    /// reloads included, starts it again). Without one, each thread seeds
    /// its own generator from the OS.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The rules, evaluated in order; the first that matches a call decides.
    /// A file must have the key (`rules = []` for none): a file without it
    /// is what a truncated one looks like.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Limits on when, where and how much chaos may be injected. Needs the
    /// `guard` feature (on by default): without it, a configuration with
    /// guardrails is refused with an error saying so.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<Guardrails>,
}

impl Config {
    /// An empty configuration: no rules, nothing is injected.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a rule.
    #[must_use]
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Sets the seed for random decisions.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets the guardrails.
    #[must_use]
    pub fn guardrails(mut self, guardrails: Guardrails) -> Self {
        self.guardrails = Some(guardrails);
        self
    }
}

/// One rule: which calls it applies to, and what it does to them.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Rule {
    /// A unique, non-empty name. It appears in tracing events, in
    /// [`Status`](crate::Status) and in the faults themselves.
    #[cfg_attr(feature = "schema", schemars(length(min = 1), extend("pattern" = "\\S")))]
    pub name: String,
    /// Which calls the rule applies to; an empty match applies to every call.
    #[serde(rename = "match", default, skip_serializing_if = "Match::is_empty")]
    pub when: Match,
    /// The abort fault, if any.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub abort: Option<Abort>,
    /// The delay fault, if any.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub delay: Option<Delay>,
    /// The call fails as a connection error would (no response at all).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorFault>,
    /// The call waits, then fails as a timeout.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,
    /// Every matching call fails as unreachable (a network partition from
    /// the matching hosts), optionally after a connect delay.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub partition: Option<Partition>,
    /// A share of calls is "lost": never sent, they hang until a timeout and
    /// then fail (packet loss, at the application level).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub loss: Option<Loss>,
    /// The most calls this rule may fault in total; after that it only counts
    /// them (as `skipped`). The count is kept when a new configuration keeps
    /// the rule's name, as its counters are: a reload does not hand out a
    /// fresh allowance, and raising the cap allows the difference. A rule
    /// under a new name starts from zero.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub max_injections: Option<u64>,
    /// Roll the failing faults (abort, error, timeout, partition, loss)
    /// first, and do not delay a call that fails (the order of the seed's
    /// Python middleware). By default the delay is rolled independently and a
    /// failing call may be delayed first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub abort_first: bool,
    /// When the rule is active (cron firings plus an active span). Outside
    /// it the rule still matches its calls but injects nothing. Needs the
    /// `guard` feature, as `for` does; without it, the rule is refused.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// The rule stops by itself this long after it was installed (or after
    /// the master switch was last turned on, whichever is later). A rule is
    /// installed once under its name: a reload that keeps the name keeps
    /// the clock, as it keeps the counters, so `for` added to a rule later
    /// counts from the rule's first installation; rename the rule, or turn
    /// the switch off and on, to start it afresh.
    #[cfg_attr(feature = "schema", schemars(with = "Option<schema::PositiveDurationSchema>"))]
    #[serde(rename = "for", default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub active_for: Option<Duration>,
}

impl Rule {
    /// A rule with the given name that matches every call and has no fault yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), ..Self::default() }
    }

    /// Restricts the calls the rule applies to.
    #[must_use]
    pub fn when(mut self, when: Match) -> Self {
        self.when = when;
        self
    }

    /// Sets the abort fault.
    #[must_use]
    pub fn abort(mut self, abort: Abort) -> Self {
        self.abort = Some(abort);
        self
    }

    /// Sets the delay fault.
    #[must_use]
    pub fn delay(mut self, delay: Delay) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Sets the error fault.
    #[must_use]
    pub fn error(mut self, error: ErrorFault) -> Self {
        self.error = Some(error);
        self
    }

    /// Sets the timeout fault.
    #[must_use]
    pub fn timeout(mut self, timeout: Timeout) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the partition fault.
    #[must_use]
    pub fn partition(mut self, partition: Partition) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the loss fault.
    #[must_use]
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = Some(loss);
        self
    }

    /// Caps the number of calls this rule faults.
    #[must_use]
    pub fn max_injections(mut self, max: u64) -> Self {
        self.max_injections = Some(max);
        self
    }

    /// Makes the rule active only after each firing of a cron expression.
    #[must_use]
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = Some(schedule);
        self
    }

    /// Stops the rule by itself after this long.
    #[must_use]
    pub fn active_for(mut self, d: Duration) -> Self {
        self.active_for = Some(d);
        self
    }

    /// Rolls the abort first and skips the delay of aborted calls.
    #[must_use]
    pub fn abort_first(mut self, yes: bool) -> Self {
        self.abort_first = yes;
        self
    }
}

/// Where a call enters the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Door {
    /// An inbound request through [`http::ChaosLayer`](crate::http::ChaosLayer)
    /// (axum, hyper, tonic; gRPC requests included).
    Http,
    /// A call through [`service::ChaosLayer`](crate::service::ChaosLayer).
    Service,
    /// An outbound request through the reqwest middleware.
    Client,
    /// A named fault point in a function (`#[chaos]`, `chaos_point!`).
    Point,
}

impl Door {
    pub(crate) const ALL: [Door; 4] = [Door::Http, Door::Service, Door::Client, Door::Point];

    /// The lowercase name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Door::Http => "http",
            Door::Service => "service",
            Door::Client => "client",
            Door::Point => "point",
        }
    }

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A string matcher: exact, prefix or glob.
///
/// In a file, a plain string is an exact match unless it contains `*`, in
/// which case it is a glob: `"/users/*"`, `"payments.*"`, `"*.internal"`.
/// In a glob, `*` matches any run of characters (including `/` and `.`) and
/// every other character matches itself. The explicit forms are
/// `{ exact = "..." }`, `{ prefix = "..." }` and `{ glob = "..." }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StrMatch {
    /// The whole string equals this.
    Exact(String),
    /// The string starts with this.
    Prefix(String),
    /// The string matches this glob (`*` is any run of characters).
    Glob(String),
}

impl StrMatch {
    /// A plain string: a glob if it contains `*`, otherwise exact.
    pub fn auto(s: impl Into<String>) -> Self {
        let s = s.into();
        if s.contains('*') { StrMatch::Glob(s) } else { StrMatch::Exact(s) }
    }

    pub(crate) fn pattern(&self) -> &str {
        match self {
            StrMatch::Exact(s) | StrMatch::Prefix(s) | StrMatch::Glob(s) => s,
        }
    }
}

impl From<&str> for StrMatch {
    fn from(s: &str) -> Self {
        StrMatch::auto(s)
    }
}

impl From<String> for StrMatch {
    fn from(s: String) -> Self {
        StrMatch::auto(s)
    }
}

// By hand, not `untagged`: serde's untagged enums say only that nothing
// matched, and an error must show the value it got.
impl<'de> Deserialize<'de> for StrMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = StrMatch;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, or one of { exact = \"...\" }, { prefix = \"...\" }, { glob = \"...\" }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<StrMatch, E> {
                Ok(StrMatch::auto(s.to_owned()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<StrMatch, A::Error> {
                const KINDS: &[&str] = &["exact", "prefix", "glob"];
                let Some(kind) = map.next_key::<String>()? else {
                    return Err(de::Error::invalid_length(0, &self));
                };
                let value: String = map.next_value()?;
                let m = match kind.as_str() {
                    "exact" => StrMatch::Exact(value),
                    "prefix" => StrMatch::Prefix(value),
                    "glob" => StrMatch::Glob(value),
                    other => return Err(de::Error::unknown_field(other, KINDS)),
                };
                match map.next_key::<String>()? {
                    None => Ok(m),
                    Some(more) => {
                        Err(de::Error::custom(format_args!("`{kind}` and `{more}`: give one of exact, prefix or glob")))
                    }
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A condition on one header.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HeaderMatch {
    /// The header name (case-insensitive).
    pub name: String,
    /// The header must be present with exactly this value (case counts).
    /// A header sent more than once matches if any of its values does. A
    /// value with surrounding spaces or tabs is refused: HTTP parsers strip
    /// them from the values they receive, so such a rule would match almost
    /// nothing. (An HTTP/2 request carries its host as `:authority`, not as
    /// a `host` header: match it with [`Match::host`].)
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    /// `true`: the header must be present (the default when `equals` is not
    /// given); `false`: it must be absent.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
}

/// Which calls a rule applies to. Every field that is set must hold; an
/// empty `Match` holds for every call.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Match {
    /// The doors the call may enter by (`http`, `service`, `client`, `point`).
    /// One door or a list; empty means any door.
    #[serde(default, deserialize_with = "doors", skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "schema::doors"))]
    pub door: Vec<Door>,
    /// HTTP methods (`GET`, `POST`, ...). One method or a list; empty means any.
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "schema::one_or_many"))]
    pub method: Vec<String>,
    /// The request path, without the query, as the request writes it:
    /// percent-encoded (`/caf%C3%A9`, not `/café`), compared case by case
    /// and byte for byte (`/api/` is not `/api`). In a glob, `*` matches any
    /// run of characters, `/` included (`**` is the same as `*`). A pattern
    /// must start with `/` (or `*`) and have no `?`: no request path could
    /// match it otherwise.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub path: Option<StrMatch>,
    /// The host: the URI's host, or the `Host` header without its port.
    /// Compared as DNS names are: ignoring ASCII case and one trailing dot;
    /// an IPv6 address may be written with or without its brackets. A
    /// pattern with a port or a scheme (`localhost:8080`, `http://api`) is
    /// refused: match the port with `port`; so is one that is not ASCII
    /// (write an international name in its `xn--` form, as it arrives). On
    /// the HTTP layer, a request in absolute form (`GET http://api/ ...`)
    /// has its URI's host, whatever its `Host` header says; an HTTP/2
    /// request has its `:authority`. A `Host` header that is not UTF-8 gives
    /// the request no host: host conditions, and guardrail exclusions by
    /// host, do not match it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub host: Option<StrMatch>,
    /// The port: on the client, the URL's (or its scheme's default); on
    /// the HTTP layer, the one written in the request's authority or `Host`
    /// header (a request to a scheme's default port usually writes none, and
    /// then matches no `port`). Other doors know none.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The name of a [`service::ChaosLayer`](crate::service::ChaosLayer), a
    /// named HTTP layer or a fault point.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub name: Option<StrMatch>,
    /// Conditions on request headers; all must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatch>,
    /// The gRPC service (`package.Service`); only gRPC requests match.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub grpc_service: Option<StrMatch>,
    /// The gRPC method (`Method`); only gRPC requests match.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub grpc_method: Option<StrMatch>,
}

impl Match {
    /// A match that holds for every call.
    pub fn new() -> Self {
        Self::default()
    }

    /// `true` when no condition is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Adds a door the call may enter by.
    #[must_use]
    pub fn door(mut self, door: Door) -> Self {
        self.door.push(door);
        self
    }

    /// Adds an HTTP method: a string, or an [`http::Method`] such as
    /// `Method::POST`.
    #[must_use]
    pub fn method(mut self, method: impl AsRef<str>) -> Self {
        self.method.push(method.as_ref().to_owned());
        self
    }

    /// Matches the path: exact, or a glob if it contains `*`.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(StrMatch::auto(path));
        self
    }

    /// Matches paths starting with `prefix`.
    #[must_use]
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path = Some(StrMatch::Prefix(prefix.into()));
        self
    }

    /// Matches the host: exact, or a glob if it contains `*`; ignoring ASCII
    /// case and one trailing dot (see [`Match::host`](field@Match::host)).
    #[must_use]
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(StrMatch::auto(host));
        self
    }

    /// Matches the port.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Matches the layer or point name: exact, or a glob if it contains `*`.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(StrMatch::auto(name));
        self
    }

    /// Requires a header (a string, or an [`http::HeaderName`]) with
    /// exactly this value.
    #[must_use]
    pub fn header_equals(mut self, name: impl AsRef<str>, value: impl Into<String>) -> Self {
        self.headers.push(HeaderMatch { name: name.as_ref().to_owned(), equals: Some(value.into()), present: None });
        self
    }

    /// Requires a header (a string, or an [`http::HeaderName`]) to be
    /// present (`true`) or absent (`false`).
    #[must_use]
    pub fn header_present(mut self, name: impl AsRef<str>, present: bool) -> Self {
        self.headers.push(HeaderMatch { name: name.as_ref().to_owned(), equals: None, present: Some(present) });
        self
    }

    /// Matches the gRPC service (`package.Service`), exact or glob.
    #[must_use]
    pub fn grpc_service(mut self, service: impl Into<String>) -> Self {
        self.grpc_service = Some(StrMatch::auto(service));
        self
    }

    /// Matches the gRPC method name, exact or glob.
    #[must_use]
    pub fn grpc_method(mut self, method: impl Into<String>) -> Self {
        self.grpc_method = Some(StrMatch::auto(method));
        self
    }
}

/// A gRPC status code in a configuration: a name (`"UNAVAILABLE"`,
/// `"unavailable"`, `"Unavailable"`) or a number (`14`). A number written
/// as text (`"14"`, as YAML files often quote it) is read as the number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum GrpcStatus {
    /// A numeric code.
    Code(i64),
    /// A code name.
    Name(String),
}

impl<'de> Deserialize<'de> for GrpcStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = GrpcStatus;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a gRPC status code: a number from 1 to 16, or a name such as \"UNAVAILABLE\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GrpcStatus, E> {
                Ok(GrpcStatus::Code(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GrpcStatus, E> {
                i64::try_from(v).map(GrpcStatus::Code).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GrpcStatus, E> {
                Ok(GrpcStatus::Name(v.to_owned()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl From<GrpcCode> for GrpcStatus {
    fn from(code: GrpcCode) -> Self {
        GrpcStatus::Name(code.name().to_owned())
    }
}

/// The abort fault: answer at once with an error instead of running the call.
///
/// On the HTTP layer this is a response with `status`; on a gRPC request it
/// is a trailers-only response with `grpc_status` (or `UNAVAILABLE` when only
/// an HTTP status is given); on the service layer and in functions it is an
/// [`InjectedFault`](crate::InjectedFault) error.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Abort {
    /// The HTTP status of the answer (`200..=599`). Without it, the HTTP
    /// status that says what `grpc_status` says (`NOT_FOUND`: 404,
    /// `RESOURCE_EXHAUSTED`: 429; see [`GrpcCode::http_status`]), or 503
    /// when neither is given.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 200, max = 599)))]
    pub status: Option<u16>,
    /// The gRPC status code for gRPC requests (`1..=16` or its name).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub grpc_status: Option<GrpcStatus>,
    /// A human-readable message: the `grpc-message` of gRPC aborts and the
    /// message of [`InjectedFault`](crate::InjectedFault).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The body of an HTTP abort (defaults to the message).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Extra headers on an HTTP abort. A name given twice is an error, in
    /// any case (JSON's parser would otherwise keep the last silently).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "unique_keys")]
    pub headers: BTreeMap<String, String>,
    /// Share of matching calls aborted, `0..=100`.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 100)))]
    pub percentage: Option<f64>,
    /// Abort exactly every N-th matching call instead.
    /// Counted from when the configuration was installed: a reload starts
    /// the count again.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub every: Option<u64>,
}

impl Abort {
    /// An abort with an HTTP status. Set a trigger with
    /// [`percentage`](Self::percentage) or [`every`](Self::every).
    pub fn status(status: u16) -> Self {
        Self { status: Some(status), ..Self::default() }
    }

    /// An abort with a gRPC status code.
    pub fn grpc(code: GrpcCode) -> Self {
        Self { grpc_status: Some(code.into()), ..Self::default() }
    }

    /// Also answers gRPC requests with this code.
    #[must_use]
    pub fn with_grpc(mut self, code: GrpcCode) -> Self {
        self.grpc_status = Some(code.into());
        self
    }

    /// Sets the message.
    #[must_use]
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Sets the HTTP body.
    #[must_use]
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Adds a header (its name a string, or an [`http::HeaderName`]) to
    /// HTTP aborts.
    #[must_use]
    pub fn header(mut self, name: impl AsRef<str>, value: impl Into<String>) -> Self {
        self.headers.insert(name.as_ref().to_owned(), value.into());
        self
    }
}

/// The delay fault: wait before the call goes on.
///
/// Exactly one shape must be given: `fixed`; `min` and `max` (uniform, both
/// inclusive); or `base` and `jitter` (uniform in `base ± jitter`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Delay {
    /// Always wait this long.
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<schema::DurationSchema>"))]
    pub fixed: Option<Duration>,
    /// Lower bound of a uniform delay.
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<schema::DurationSchema>"))]
    pub min: Option<Duration>,
    /// Upper bound of a uniform delay.
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<schema::DurationSchema>"))]
    pub max: Option<Duration>,
    /// Centre of a jittered delay.
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<schema::DurationSchema>"))]
    pub base: Option<Duration>,
    /// Half-width of a jittered delay; at most `base`.
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<schema::DurationSchema>"))]
    pub jitter: Option<Duration>,
    /// Share of matching calls delayed, `0..=100`.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 100)))]
    pub percentage: Option<f64>,
    /// Delay exactly every N-th matching call instead.
    /// Counted from when the configuration was installed: a reload starts
    /// the count again.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub every: Option<u64>,
}

impl Delay {
    /// A fixed delay.
    pub fn fixed(d: Duration) -> Self {
        Self { fixed: Some(d), ..Self::default() }
    }

    /// A uniform delay in `min..=max`.
    pub fn uniform(min: Duration, max: Duration) -> Self {
        Self { min: Some(min), max: Some(max), ..Self::default() }
    }

    /// A delay uniform in `base - jitter ..= base + jitter`.
    pub fn jittered(base: Duration, jitter: Duration) -> Self {
        Self { base: Some(base), jitter: Some(jitter), ..Self::default() }
    }
}

/// The error fault: the call fails as a connection error would, without a
/// response.
///
/// The client middleware returns `reqwest_middleware::Error::Middleware`
/// holding an [`InjectedFault`](crate::InjectedFault); the service layer
/// returns the fault as its error; the HTTP layer, which must answer,
/// answers 503 (gRPC `UNAVAILABLE`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ErrorFault {
    /// The message of the fault.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Share of matching calls failed, `0..=100`.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 100)))]
    pub percentage: Option<f64>,
    /// Fail exactly every N-th matching call instead.
    /// Counted from when the configuration was installed: a reload starts
    /// the count again.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub every: Option<u64>,
}

impl ErrorFault {
    /// An error fault on this share of matching calls.
    pub fn percentage(percentage: f64) -> Self {
        Self { percentage: Some(percentage), ..Self::default() }
    }

    /// An error fault on every N-th matching call.
    pub fn every(n: u64) -> Self {
        Self { every: Some(n), ..Self::default() }
    }

    /// Sets the message.
    #[must_use]
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// The timeout fault: wait `after`, then fail as a timeout.
///
/// The HTTP layer answers 504 (gRPC `DEADLINE_EXCEEDED`) after the wait.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Timeout {
    /// How long the call hangs before it fails.
    #[cfg_attr(feature = "schema", schemars(with = "schema::DurationSchema"))]
    #[serde(with = "duration::required")]
    pub after: Duration,
    /// Share of matching calls that time out, `0..=100`.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 100)))]
    pub percentage: Option<f64>,
    /// Time out exactly every N-th matching call instead.
    /// Counted from when the configuration was installed: a reload starts
    /// the count again.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub every: Option<u64>,
}

impl Timeout {
    /// Calls that time out hang for `after`.
    pub fn after(after: Duration) -> Self {
        Self { after, ..Self::default() }
    }
}

/// The partition fault: every matching call fails as unreachable, after
/// `connect_delay` if set (a connect attempt that hangs, then fails).
///
/// There is no trigger: a partition cuts every call its rule matches; select
/// the calls with the rule's `match` (e.g. `host = "db.internal"`). The HTTP
/// layer answers 503 (gRPC `UNAVAILABLE`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Partition {
    /// How long a call hangs before it fails.
    #[cfg_attr(feature = "schema", schemars(with = "Option<schema::DurationSchema>"))]
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub connect_delay: Option<Duration>,
}

impl Partition {
    /// Calls fail at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls hang for `delay` before they fail.
    #[must_use]
    pub fn connect_delay(mut self, delay: Duration) -> Self {
        self.connect_delay = Some(delay);
        self
    }
}

/// The loss fault: the request is never sent; the call hangs until
/// `timeout` and then fails.
///
/// The HTTP layer answers 504 (gRPC `DEADLINE_EXCEEDED`) after the wait,
/// without calling the inner service.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Loss {
    /// How long a lost call hangs before it fails.
    #[cfg_attr(feature = "schema", schemars(with = "schema::DurationSchema"))]
    #[serde(with = "duration::required")]
    pub timeout: Duration,
    /// Share of matching calls lost, `0..=100`.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 100)))]
    pub percentage: Option<f64>,
    /// Lose exactly every N-th matching call instead.
    /// Counted from when the configuration was installed: a reload starts
    /// the count again.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub every: Option<u64>,
}

impl Loss {
    /// Lost calls hang for `timeout`.
    pub fn timeout(timeout: Duration) -> Self {
        Self { timeout, ..Self::default() }
    }
}

/// The builder methods of a fault's trigger, alike for every fault with one.
macro_rules! trigger_builders {
    ($($ty:ident: $verb:literal),* $(,)?) => {$(
        impl $ty {
            #[doc = concat!($verb, " this share of matching calls (`0..=100`).")]
            #[must_use]
            pub fn percentage(mut self, percentage: f64) -> Self {
                self.percentage = Some(percentage);
                self
            }

            #[doc = concat!($verb, " every N-th matching call.")]
            #[must_use]
            pub fn every(mut self, n: u64) -> Self {
                self.every = Some(n);
                self
            }
        }
    )*};
}

trigger_builders!(Abort: "Aborts", Delay: "Delays", Timeout: "Times out", Loss: "Loses");

/// An optional field given with no value (`path:` in YAML, `null` in
/// JSON) is an error, not "unset": a value forgotten, or a template that
/// rendered empty, would otherwise drop the condition or the limit it
/// stands for without a word (a rule meant for one path would match every
/// call). Leaving the field out unsets it.
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(de::Error::custom(NO_VALUE)),
    }
}

/// The error of an optional field given with no value.
pub(crate) const NO_VALUE: &str = "no value (null): give one, or leave the field out";

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct Visitor;
    impl<'de> de::Visitor<'de> for Visitor {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_owned()])
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_any(Visitor)
}

fn doors<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Door>, D::Error> {
    one_or_many(d)?.iter().map(|s| s.parse().map_err(de::Error::custom)).collect()
}

impl std::str::FromStr for Door {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Door::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown door {s:?}, expected one of http, service, client, point"))
    }
}

impl std::fmt::Display for Door {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A map whose keys must be unique: TOML's and YAML's parsers reject a
/// repeated key, and JSON's would keep the last value without a word.
fn unique_keys<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    struct Unique;
    impl<'de> de::Visitor<'de> for Unique {
        type Value = BTreeMap<String, String>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of header names to values")
        }

        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((name, value)) = map.next_entry::<String, String>()? {
                if out.contains_key(&name) {
                    return Err(de::Error::custom(format_args!("header `{name}` given twice")));
                }
                out.insert(name, value);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_map(Unique)
}
