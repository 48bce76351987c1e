//! The engine: the [`Chaos`] handle, its compiled plan, and decisions.

mod current;
mod decision;
mod filter;
pub(crate) mod matcher;
pub(crate) mod plan;
mod rng;
mod stats;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use current::Current;
pub(crate) use decision::Injection;
pub(crate) use decision::is_grpc;
pub use decision::{Decision, Target};
use plan::Plan;
pub(crate) use plan::{RULE_HEADER, grpc_message};
use stats::RuleStats;
pub use stats::{RuleStatus, Status};

use crate::config::{Config, ConfigError, EnvSettings, Rule};

/// The handle to a fault-injection engine: the master switch, the installed
/// plan and its counters.
///
/// `Chaos` is cheap to clone (an [`Arc`] inside) and every clone controls
/// the same engine. Every door takes one; [`Chaos::global`] is the
/// process-wide handle configured from the environment.
///
/// # Cost
///
/// When disabled, [`decide`](Self::decide) is one relaxed atomic load. When
/// enabled, it loads the plan (lock-free), matches rules in order over
/// pre-compiled matchers and rolls a thread-local random number only when a
/// rule matched: no allocation, no lock and no system call unless a fault is
/// injected.
///
/// # Example
///
/// ```
/// use mischief::Chaos;
/// use mischief::config::{Abort, Config, Match, Rule};
///
/// let chaos = Chaos::new(
///     Config::new().rule(Rule::new("flaky-orders").when(Match::new().path_prefix("/orders")).abort(Abort::status(503).percentage(10.0))),
/// )?;
/// assert!(chaos.is_enabled());
///
/// chaos.set_enabled(false); // the kill switch: nothing is injected from the next call on
/// assert_eq!(chaos.status().rules[0].name, "flaky-orders");
/// # Ok::<(), mischief::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Chaos {
    inner: Arc<Shared>,
}

struct Shared {
    enabled: AtomicBool,
    plan: Current,
    /// Serializes updates and keeps the last error.
    admin: Mutex<Admin>,
}

#[derive(Default)]
struct Admin {
    last_error: Option<String>,
}

static GLOBAL: OnceLock<Chaos> = OnceLock::new();

impl Chaos {
    fn with_plan(enabled: bool, plan: Plan) -> Self {
        Chaos {
            inner: Arc::new(Shared {
                enabled: AtomicBool::new(enabled),
                plan: Current::new(plan),
                admin: Mutex::new(Admin::default()),
            }),
        }
    }

    /// A handle that is switched on, with this configuration.
    ///
    /// Code that builds a configuration means to use it, so the handle starts
    /// enabled; call [`set_enabled(false)`](Self::set_enabled) or use
    /// [`builder`](Self::builder) to start it off.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        Self::builder().config(config).build()
    }

    /// A switched-off handle with no rules.
    pub fn disabled() -> Self {
        Self::with_plan(false, Plan::empty())
    }

    /// A builder for a handle.
    pub fn builder() -> ChaosBuilder {
        ChaosBuilder { enabled: true, config: Config::default() }
    }

    /// A handle configured from the seed-compatible `CHAOS_*` environment
    /// variables (see [`config::vars`](crate::config::vars)).
    ///
    /// `CHAOS_ENABLED` is the switch (default off); `CHAOS_FAILURE_RATE` and
    /// `CHAOS_LATENCY_MS` build one catch-all rule named `env`. A malformed
    /// or out-of-range value is an error naming the variable and the value.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading the variables through
    /// `lookup` instead of the process environment.
    ///
    /// ```
    /// use mischief::Chaos;
    /// let chaos = Chaos::from_env_with(|name| match name {
    ///     "CHAOS_ENABLED" => Some("true".into()),
    ///     "CHAOS_FAILURE_RATE" => Some("0.1".into()),
    ///     _ => None,
    /// })?;
    /// assert!(chaos.is_enabled());
    /// # Ok::<(), mischief::ConfigError>(())
    /// ```
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = EnvSettings::from_lookup(lookup)?;
        Self::builder().enabled(env.enabled).config(env.config).build()
    }

    /// The process-wide handle, used by doors that are not given one.
    ///
    /// On first use it is built from the environment
    /// ([`from_env`](Self::from_env)), unless [`set_global`](Self::set_global)
    /// installed one before. If the environment is invalid, the handle is
    /// disabled, the error is logged and kept in [`Status::last_error`].
    pub fn global() -> &'static Chaos {
        GLOBAL.get_or_init(|| match Chaos::from_env() {
            Ok(chaos) => chaos,
            Err(e) => {
                tracing::error!(target: "mischief", error = %e, "invalid chaos environment; fault injection stays off");
                let chaos = Chaos::disabled();
                chaos.admin().last_error = Some(e.to_string());
                chaos
            }
        })
    }

    /// Installs `chaos` as the process-wide handle. Fails (returning it) if
    /// [`global`](Self::global) was already used or set.
    pub fn set_global(chaos: Chaos) -> Result<(), Chaos> {
        GLOBAL.set(chaos)
    }

    /// Is the master switch on?
    #[inline(always)]
    pub fn is_enabled(&self) -> bool {
        self.inner.enabled.load(Ordering::Relaxed)
    }

    /// The kill switch: `false` stops all injection from the next decision
    /// on (delays already in flight finish, but no abort is issued after
    /// them); `true` resumes it.
    pub fn set_enabled(&self, enabled: bool) {
        let was = self.inner.enabled.swap(enabled, Ordering::Relaxed);
        if was != enabled {
            tracing::info!(target: "mischief", enabled, "chaos switched {}", if enabled { "on" } else { "off" });
        }
    }

    /// Validates `config` and installs it for the next decision. On error the
    /// current plan stays, and the error is logged and kept in
    /// [`Status::last_error`]. Counters of rules whose name is kept carry over.
    pub fn update(&self, config: Config) -> Result<(), ConfigError> {
        let mut admin = self.admin();
        let current = self.inner.plan.load();
        match Plan::compile(config, &current) {
            Ok(plan) => {
                let (generation, rules) = (plan.generation, plan.rules.len());
                self.inner.plan.store(plan);
                admin.last_error = None;
                tracing::info!(target: "mischief", generation, rules, "chaos configuration installed");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(target: "mischief", error = %e, "chaos configuration rejected; keeping the previous one");
                admin.last_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// The installed configuration.
    pub fn config(&self) -> Config {
        self.inner.plan.load().config.clone()
    }

    /// A snapshot of the switch, the rules and their counters.
    pub fn status(&self) -> Status {
        let plan = self.inner.plan.load();
        let last_error = self.admin().last_error.clone();
        Status {
            enabled: self.is_enabled(),
            generation: plan.generation,
            seed: plan.config.seed,
            rules: plan
                .rules
                .iter()
                .zip(&plan.config.rules)
                .map(|(r, rule): (_, &Rule)| RuleStatus {
                    name: r.name.to_string(),
                    matched: r.stats.matched.get(),
                    delayed: r.stats.delayed.0.load(Ordering::Relaxed),
                    aborted: r.stats.aborted.0.load(Ordering::Relaxed),
                    errored: r.stats.errored.0.load(Ordering::Relaxed),
                    timed_out: r.stats.timed_out.0.load(Ordering::Relaxed),
                    partitioned: r.stats.partitioned.0.load(Ordering::Relaxed),
                    lost: r.stats.lost.0.load(Ordering::Relaxed),
                    skipped: r.stats.skipped.0.load(Ordering::Relaxed),
                    rule: rule.clone(),
                })
                .collect(),
            last_error,
        }
    }

    /// Decides what to do with one call.
    ///
    /// Doors call this for every request; call it yourself to inject faults
    /// where no door fits. The first rule whose match holds decides; its
    /// delay and abort are rolled (independently, unless `abort_first`).
    #[inline]
    pub fn decide(&self, target: &Target<'_>) -> Decision {
        if !self.is_enabled() {
            return Decision::PASS;
        }
        self.decide_enabled(target)
    }

    fn decide_enabled(&self, target: &Target<'_>) -> Decision {
        self.inner.plan.with(|plan| Self::decide_in(plan, target))
    }

    fn decide_in(plan: &Plan, target: &Target<'_>) -> Decision {
        let facts = matcher::Facts::new(target);
        let found =
            plan.filters.iter().zip(plan.rules.iter()).find(|(f, r)| facts.admitted_by(f) && r.matcher.matches(&facts));
        let Some((_, rule)) = found else {
            return Decision::PASS;
        };
        rule.stats.matched.incr();
        let rng = &plan.rng;
        // Every failing fault is rolled (so each `every` counts every
        // matching call); the first that fires, in the rule's order, wins.
        let mut failure = None;
        for (i, f) in rule.failures.iter().enumerate() {
            if f.trigger.fires(rng) && failure.is_none() {
                failure = Some(i);
            }
        }
        let delay = match &rule.delay {
            Some(d) if !(failure.is_some() && rule.abort_first) && d.trigger.fires(rng) => Some(d.sample(rng)),
            _ => None,
        };
        if failure.is_none() && delay.is_none() {
            return Decision::PASS;
        }
        if let Some(max) = rule.max_injections {
            let took =
                rule.injections.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < max).then_some(n + 1));
            if took.is_err() {
                RuleStats::add(&rule.stats.skipped);
                return Decision::PASS;
            }
        }
        if let Some(d) = delay {
            RuleStats::add(&rule.stats.delayed);
            tracing::debug!(target: "mischief", rule = %rule.name, fault = "delay", delay_ms = d.as_secs_f64() * 1e3, "injected fault");
        }
        Decision::inject(Injection { rule: Arc::clone(rule), delay, failure })
    }

    fn admin(&self) -> std::sync::MutexGuard<'_, Admin> {
        // The admin state stays consistent even if a holder panicked.
        self.inner.admin.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for Chaos {
    /// Same as [`Chaos::disabled`].
    fn default() -> Self {
        Self::disabled()
    }
}

impl fmt::Debug for Chaos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = self.inner.plan.load();
        f.debug_struct("Chaos")
            .field("enabled", &self.is_enabled())
            .field("generation", &plan.generation)
            .field("rules", &plan.rules.len())
            .finish()
    }
}

/// Builds a [`Chaos`] handle. Starts enabled, with no rules.
#[derive(Clone, Debug)]
#[must_use]
pub struct ChaosBuilder {
    enabled: bool,
    config: Config,
}

impl ChaosBuilder {
    /// Sets the master switch.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Appends a rule.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.config.rules.push(rule);
        self
    }

    /// Sets the seed for random decisions.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// Validates the configuration and builds the handle.
    pub fn build(self) -> Result<Chaos, ConfigError> {
        let plan = Plan::compile(self.config, &Plan::empty())?;
        Ok(Chaos::with_plan(self.enabled, plan))
    }
}
