//! The engine: the [`Chaos`] handle, its compiled plan, and decisions.

// Parts of the engine serve only the doors (HTTP answers, gRPC headers,
// outcome recording); a build without some doors leaves them unused. The
// full build (`--all-features`, what CI lints) has no such allowance.
#![cfg_attr(not(all(feature = "http", feature = "client")), allow(dead_code, unused_imports))]

mod current;
mod decision;
pub(crate) mod filter;
pub(crate) mod matcher;
pub(crate) mod plan;
mod rng;
mod site;
pub(crate) mod stats;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::SystemTime;

use current::Current;
pub(crate) use decision::Injection;
#[cfg(any(feature = "http", feature = "client"))]
pub(crate) use decision::failed_response;
#[cfg(any(feature = "http", feature = "client"))]
pub(crate) use decision::is_grpc;
pub use decision::{Decision, Target};
use plan::{CompiledRule, Plan};
#[cfg(any(feature = "http", feature = "client"))]
pub(crate) use plan::{RULE_HEADER, grpc_message, rule_header_value};
#[cfg(feature = "macros")]
pub(crate) use site::{SiteCache, any_enabled};
use stats::Count;
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
    #[cfg(feature = "guard")]
    guard: Arc<crate::guard::GuardState>,
    /// Serializes updates and keeps the last error.
    admin: Mutex<Admin>,
}

struct Admin {
    last_error: Option<String>,
    /// The file the installed configuration was read from, if any.
    source: Option<PathBuf>,
    /// When the installed configuration was installed.
    loaded_at: SystemTime,
    /// The watcher of `CHAOS_CONFIG` started by `from_env`; it stops when
    /// the engine is dropped.
    #[cfg(feature = "reload")]
    env_watch: Option<crate::reload::WatchGuard>,
}

impl Admin {
    fn new() -> Self {
        Admin {
            last_error: None,
            source: None,
            loaded_at: SystemTime::now(),
            #[cfg(feature = "reload")]
            env_watch: None,
        }
    }
}

/// A handle that does not keep the engine alive (for the file watcher).
#[derive(Clone)]
#[cfg_attr(not(feature = "reload"), allow(dead_code))]
pub(crate) struct WeakChaos(Weak<Shared>);

#[cfg_attr(not(feature = "reload"), allow(dead_code))]
impl WeakChaos {
    pub(crate) fn upgrade(&self) -> Option<Chaos> {
        self.0.upgrade().map(|inner| Chaos { inner })
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
    }
}

/// Validates `config` without installing it.
pub(crate) fn validate(config: &Config) -> Result<(), ConfigError> {
    Plan::compile(config.clone(), &Plan::empty(), 0).map(|_| ())
}

static GLOBAL: OnceLock<Chaos> = OnceLock::new();

/// The live engines by id. A call whose outcome the guardrails watch keeps
/// its engine's id, a plain number, rather than a handle: so the response
/// futures of the doors, which may carry one, need no drop code, and their
/// drop stays small enough to inline on the pass-through path.
static LIVE: std::sync::LazyLock<std::sync::RwLock<std::collections::HashMap<u64, Weak<Shared>>>> =
    std::sync::LazyLock::new(Default::default);

impl Chaos {
    fn with_plan(enabled: bool, plan: Plan, #[cfg(feature = "guard")] guard: crate::guard::GuardState) -> Self {
        site::count_enabled(false, enabled);
        #[cfg(feature = "guard")]
        let guard = Arc::new(guard);
        let inner = Arc::new(Shared {
            enabled: AtomicBool::new(enabled),
            plan: Current::new(
                plan,
                #[cfg(feature = "guard")]
                Arc::clone(&guard),
            ),
            #[cfg(feature = "guard")]
            guard,
            admin: Mutex::new(Admin::new()),
        });
        LIVE.write().unwrap_or_else(PoisonError::into_inner).insert(inner.plan.id(), Arc::downgrade(&inner));
        Chaos { inner }
    }

    /// This engine's id: unique in the process, never reused.
    pub(crate) fn id(&self) -> u64 {
        self.inner.plan.id()
    }

    /// The engine with this id, if it is still alive.
    fn live(id: u64) -> Option<Chaos> {
        let live = LIVE.read().unwrap_or_else(PoisonError::into_inner);
        live.get(&id).and_then(Weak::upgrade).map(|inner| Chaos { inner })
    }

    /// The stamp of the installed plan (see [`Plan::stamp`]).
    #[cfg_attr(not(any(feature = "tower", feature = "client")), allow(dead_code))]
    pub(crate) fn plan_stamp(&self) -> u64 {
        self.inner.plan.stamp()
    }

    /// Records the outcome of an observed call for engine `id`'s abort
    /// conditions, under the plan stamped `stamp` (the one installed when
    /// the call was decided). From this thread's plan cache when it holds
    /// that plan, which takes no lock (and the outcome goes to the thread's
    /// own stripe of the window); otherwise the engine is looked up, and
    /// the call recorded under its current plan. Nothing happens when the
    /// engine is gone.
    #[cfg_attr(not(any(feature = "tower", feature = "client")), allow(dead_code))]
    pub(crate) fn record_observed(id: u64, stamp: u64, failed: bool, start: std::time::Instant) {
        #[cfg(feature = "guard")]
        // The cached plan is the one stamped `stamp`.
        let cached = current::with_cached(id, stamp, |plan, state, stripe| {
            if let Some(g) = plan.guard.as_deref() {
                state.record(g, stamp, failed, start, stripe);
            }
        });
        #[cfg(not(feature = "guard"))]
        let cached = {
            let _ = stamp;
            None::<()>
        };
        if cached.is_none()
            && let Some(chaos) = Chaos::live(id)
        {
            chaos.record_outcome(failed, start);
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
        Self::with_plan(
            false,
            Plan::empty(),
            #[cfg(feature = "guard")]
            crate::guard::GuardState::new(None),
        )
    }

    /// Milliseconds since the epoch, by the engine's clock.
    fn now_ms(&self) -> i64 {
        #[cfg(feature = "guard")]
        return self.inner.guard.now_ms();
        #[cfg(not(feature = "guard"))]
        system_now_ms()
    }

    /// A builder for a handle.
    pub fn builder() -> ChaosBuilder {
        ChaosBuilder {
            enabled: true,
            config: Config::default(),
            #[cfg(feature = "guard")]
            clock: None,
        }
    }

    /// A handle configured from the seed-compatible `CHAOS_*` environment
    /// variables (see [`config::vars`](crate::config::vars)).
    ///
    /// `CHAOS_ENABLED` is the switch (default off); `CHAOS_FAILURE_RATE` and
    /// `CHAOS_LATENCY_MS` build one catch-all rule named `env`. A malformed
    /// or out-of-range value is an error naming the variable and the value.
    ///
    /// # `CHAOS_CONFIG`
    ///
    /// `CHAOS_CONFIG=/path/to/chaos.toml` (or `.yaml`, `.yml`, `.json`)
    /// names a configuration file, read before this returns:
    ///
    /// - its rules **replace** the catch-all `env` rule: `CHAOS_FAILURE_RATE`,
    ///   `CHAOS_LATENCY_MS` and `CHAOS_ABORT_STATUS` are still checked (a bad
    ///   value is still an error) but build no rule, and a warning says so
    ///   when they would have (write the rule in the file to keep it);
    /// - `CHAOS_SEED` applies when the file sets no `seed`;
    /// - `CHAOS_ENABLED` (and later [`set_enabled`](Self::set_enabled)) stays
    ///   the master switch: the file cannot turn chaos on or off;
    /// - an unreadable or invalid file is an error naming the file, the field
    ///   and the value, and no handle is built (the process-wide
    ///   [`global`](Self::global) handle, which has no caller to return it
    ///   to, applies no rule and watches the file until it is good);
    /// - with the `reload` feature the file is then watched for as long as the
    ///   engine lives (as `Chaos::watch` does: file events plus a slow poll), so an edit
    ///   applies within milliseconds and a bad edit keeps the last good
    ///   configuration. Without it the file is read once, and an info event
    ///   says so.
    ///
    /// A variable set to something that is not valid UTF-8 is an error
    /// naming it, never read as unset. A `CHAOS_*` variable that mischief
    /// does not read but that is a letter or two from one it reads
    /// (`CHAOS_ENABLE`) gets a `tracing` warning (target `mischief`)
    /// naming it and the variable meant; it is not an error, as other tools
    /// use the prefix too.
    pub fn from_env() -> Result<Self, ConfigError> {
        crate::config::check_env_unicode()?;
        crate::config::warn_misspelt_env();
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
        Self::from_env_lookup(lookup, false)
    }

    /// [`from_env_with`](Self::from_env_with); with `lenient_file`, a
    /// `CHAOS_CONFIG` file that cannot be read or is invalid is logged, kept
    /// in the status and (with `reload`) watched, instead of being the
    /// error: the handle then has no rule until a good version is read.
    fn from_env_lookup(lookup: impl Fn(&str) -> Option<String>, lenient_file: bool) -> Result<Self, ConfigError> {
        let env = EnvSettings::from_lookup(lookup)?;
        let Some(path) = env.file else {
            return Self::builder().enabled(env.enabled).config(env.config).build();
        };
        if !env.config.rules.is_empty() {
            tracing::warn!(
                target: "mischief",
                file = %path.display(),
                "CHAOS_CONFIG is set: its rules replace the catch-all rule of CHAOS_FAILURE_RATE and CHAOS_LATENCY_MS"
            );
        }
        let chaos = Chaos::builder().enabled(env.enabled).build()?;
        #[cfg(feature = "reload")]
        {
            let first =
                if lenient_file { crate::reload::FirstLoad::Lenient } else { crate::reload::FirstLoad::Required };
            let guard =
                crate::reload::start(&chaos, &path, env.config.seed, crate::reload::WatchOptions::default(), first)?;
            chaos.admin().env_watch = Some(guard);
        }
        #[cfg(not(feature = "reload"))]
        {
            match crate::config::file::load_into(&chaos, &path, env.config.seed) {
                Ok(_) => {}
                Err(e) if lenient_file => {
                    tracing::error!(target: "mischief", file = %path.display(), error = %e, "chaos config file rejected; no rule applies");
                    return Ok(chaos);
                }
                Err(e) => return Err(e),
            }
            tracing::info!(
                target: "mischief",
                file = %path.display(),
                "CHAOS_CONFIG read once: mischief was built without the `reload` feature, so edits are not picked up"
            );
        }
        Ok(chaos)
    }

    /// The process-wide handle, used by doors that are not given one.
    ///
    /// On first use it is built from the environment
    /// ([`from_env`](Self::from_env)), unless [`set_global`](Self::set_global)
    /// installed one before. If the environment is invalid, the handle is
    /// disabled, the error is logged and kept in [`Status::last_error`].
    /// With `CHAOS_CONFIG` (and the `reload` feature) the file is watched for
    /// the life of the process, so editing it (a ConfigMap update) reconfigures
    /// the global handle within milliseconds. A file that is missing or
    /// invalid when the handle is built (a pod started while its ConfigMap
    /// had a typo) does not switch it off for good, as it is no error the
    /// variables made: the error is logged and kept in the status, no rule
    /// applies, and (with the `reload` feature) the file is watched all the
    /// same, so its first good version is installed. Without `reload` the
    /// file is read once.
    ///
    /// A service that builds its own handle with
    /// [`from_env`](Self::from_env) for its layers should install it with
    /// [`set_global`](Self::set_global) before any fault point runs: points
    /// use this handle, and would otherwise build a second engine from the
    /// same variables, with its own switch and counters.
    // Inlined: fault points call it on every call, and once initialized it
    // is one load and a branch (the initialization stays out of line).
    #[inline]
    pub fn global() -> &'static Chaos {
        match GLOBAL.get() {
            Some(chaos) => chaos,
            None => Self::build_global(),
        }
    }

    /// Builds the process-wide handle, once. Building it logs; code reached
    /// from that logging on this thread (a tracing subscriber calling a
    /// `#[chaos]` function, say) that asks for the global handle meanwhile
    /// gets a switched-off one, where it would re-enter the cell's
    /// initialization and deadlock.
    #[cold]
    #[inline(never)]
    fn build_global() -> &'static Chaos {
        thread_local! {
            static BUILDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        }
        static OFF: OnceLock<Chaos> = OnceLock::new();
        /// Clears the flag however the build ends.
        struct Building;
        impl Drop for Building {
            fn drop(&mut self) {
                let _ = BUILDING.try_with(|b| b.set(false));
            }
        }
        if BUILDING.try_with(std::cell::Cell::get).unwrap_or(true) {
            return OFF.get_or_init(Chaos::disabled);
        }
        let _ = BUILDING.try_with(|b| b.set(true));
        let _building = Building;
        GLOBAL.get_or_init(|| {
            // A bad `CHAOS_CONFIG` file does not switch the handle off: it
            // has no rule until the file, watched, is good.
            let from_env = crate::config::check_env_unicode().and_then(|()| {
                crate::config::warn_misspelt_env();
                Chaos::from_env_lookup(|name| std::env::var(name).ok(), true)
            });
            let chaos = match from_env {
                Ok(chaos) => chaos,
                Err(e) => {
                    tracing::error!(target: "mischief", error = %e, "invalid chaos environment; fault injection stays off");
                    let chaos = Chaos::disabled();
                    chaos.admin().last_error = Some(e.to_string());
                    chaos
                }
            };
            site::global_created();
            chaos
        })
    }

    /// Installs `chaos` as the process-wide handle. Fails (returning it) if
    /// [`global`](Self::global) was already used or set.
    pub fn set_global(chaos: Chaos) -> Result<(), Chaos> {
        GLOBAL.set(chaos)?;
        site::global_created();
        Ok(())
    }

    /// Is the master switch on?
    #[inline(always)]
    pub fn is_enabled(&self) -> bool {
        self.inner.enabled.load(Ordering::Relaxed)
    }

    /// The kill switch: `false` stops all injection from the next decision
    /// on (delays already in flight finish, but no abort is issued after
    /// them, nor a failure decided as the switch went off, once its door
    /// sees the switch off); `true` resumes it.
    pub fn set_enabled(&self, enabled: bool) {
        let was = self.inner.enabled.swap(enabled, Ordering::Relaxed);
        #[cfg(feature = "guard")]
        if enabled && !was {
            self.inner.guard.switched_on();
        }
        site::count_enabled(was, enabled);
        if was != enabled {
            tracing::info!(target: "mischief", enabled, "chaos switched {}", if enabled { "on" } else { "off" });
        }
    }

    /// Validates `config` and installs it for the next decision. On error the
    /// current plan stays, and the error is logged and kept in
    /// [`Status::last_error`]. Counters of rules whose name is kept carry over.
    ///
    /// A guardrail trip stays in force through an update whose
    /// configuration has abort conditions: it ends with
    /// `rearm` or the guardrails' `cooldown`. A configuration
    /// without abort conditions lifts it, since nothing would judge the
    /// service again.
    ///
    /// Every update installs a new plan, even with the configuration in
    /// force: the generation goes up, and the `every` counts and a seed's
    /// sequence of draws start again (counters, `max_injections` counts and
    /// `for` clocks carry over). A loop that applies the same configuration
    /// over and over should compare it with [`config`](Self::config)
    /// first.
    pub fn update(&self, config: Config) -> Result<(), ConfigError> {
        self.install(config, None).map(|_| ()).inspect_err(|e| {
            tracing::warn!(target: "mischief", error = %e, "chaos configuration rejected; keeping the previous one");
        })
    }

    /// The generation of the installed plan.
    #[cfg(feature = "reload")]
    pub(crate) fn generation(&self) -> u64 {
        self.inner.plan.load().generation
    }

    /// Validates and installs `config`, read from the file `source` if given
    /// (a rejection then names the file). Returns the new generation. Logs an
    /// installation, not a rejection: the caller decides how to report it.
    pub(crate) fn install(&self, config: Config, source: Option<&Path>) -> Result<u64, ConfigError> {
        let mut admin = self.admin();
        let current = self.inner.plan.load();
        match Plan::compile(config, &current, self.now_ms()) {
            Ok(plan) => {
                let (generation, rules) = (plan.generation, plan.rules.len());
                #[cfg(feature = "guard")]
                let judged = plan.guard.as_deref().is_some_and(crate::guard::Guard::observes);
                #[cfg(feature = "guard")]
                let counts = |p: &Plan| p.guard.as_deref().is_some_and(crate::guard::Guard::counts_calls);
                // Calls were not counted before: the share's window starts now.
                #[cfg(feature = "guard")]
                if counts(&plan) && !counts(&current) {
                    self.inner.guard.restart_share();
                }
                self.inner.plan.store(plan);
                // A trip with no abort condition left to have tripped it, and
                // no cooldown to lift it, would stop injection for good, and
                // unseen (no guardrails, no guard status).
                #[cfg(feature = "guard")]
                let rearmed = self.inner.guard.installed(judged);
                admin.last_error = None;
                admin.source = source.map(Path::to_path_buf);
                admin.loaded_at = SystemTime::now();
                // Logged with the admin lock released: a subscriber may ask
                // for the status.
                drop(admin);
                #[cfg(feature = "guard")]
                if rearmed {
                    tracing::info!(target: "mischief", "guardrail re-armed: the new configuration has no abort condition");
                }
                match source {
                    Some(file) => {
                        tracing::info!(target: "mischief", generation, rules, file = %file.display(), "chaos configuration installed");
                    }
                    None => tracing::info!(target: "mischief", generation, rules, "chaos configuration installed"),
                }
                Ok(generation)
            }
            Err(e) => {
                let e = match source {
                    Some(file) => ConfigError::in_file(file, e),
                    None => e,
                };
                admin.last_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Records an error that kept a configuration from being installed.
    pub(crate) fn record_error(&self, error: &ConfigError) {
        self.admin().last_error = Some(error.to_string());
    }

    #[cfg_attr(not(feature = "reload"), allow(dead_code))]
    pub(crate) fn downgrade(&self) -> WeakChaos {
        WeakChaos(Arc::downgrade(&self.inner))
    }

    /// The installed configuration.
    pub fn config(&self) -> Config {
        self.inner.plan.load().config.clone()
    }

    /// A snapshot of the switch, the rules and their counters.
    pub fn status(&self) -> Status {
        // Under the admin lock, so the plan, its source and its load time agree.
        let (plan, last_error, source, loaded_at) = {
            let admin = self.admin();
            let source = admin.source.as_ref().map(|p| p.display().to_string());
            (self.inner.plan.load(), admin.last_error.clone(), source, admin.loaded_at)
        };
        Status {
            enabled: self.is_enabled(),
            generation: plan.generation,
            seed: plan.config.seed,
            rules: plan
                .rules
                .iter()
                .zip(&plan.config.rules)
                .map(|(r, rule): (_, &Rule)| {
                    // A call is counted as matched before its outcome:
                    // the outcomes read first, a snapshot taken while calls
                    // run never has more of them than matches. (An outcome
                    // is counted with release order, and this fence pairs
                    // with it: whichever thread counted the match, it is
                    // seen.)
                    let get = |count| r.stats.get(count);
                    let (delayed, aborted, errored) = (get(Count::Delayed), get(Count::Aborted), get(Count::Errored));
                    let (timed_out, partitioned, lost) =
                        (get(Count::TimedOut), get(Count::Partitioned), get(Count::Lost));
                    let skipped = get(Count::Skipped);
                    std::sync::atomic::fence(Ordering::Acquire);
                    RuleStatus {
                        name: r.name.to_string(),
                        matched: get(Count::Matched),
                        delayed,
                        aborted,
                        errored,
                        timed_out,
                        partitioned,
                        lost,
                        skipped,
                        rule: rule.clone(),
                    }
                })
                .collect(),
            last_error,
            #[cfg(feature = "guard")]
            guard: plan.guard.as_ref().map(|g| self.inner.guard.status(Some(g))),
            source,
            loaded_at,
        }
    }

    /// Re-arms the guardrails after an abort condition tripped: injection
    /// resumes from the next call (if the master switch is on), and the
    /// window of outcomes starts afresh.
    #[cfg(feature = "guard")]
    pub fn rearm(&self) {
        self.inner.guard.rearm();
        tracing::info!(target: "mischief", "guardrail re-armed");
    }

    /// A fault decided, then cancelled before anything was injected (the
    /// switch went off, or the guardrails tripped): gives back the
    /// guardrails' `max_injections` allowance it took, and counts the skip
    /// under `tripped` if that is why.
    #[cfg(feature = "guard")]
    pub(crate) fn cancelled_before_injection(&self, guard_allowance: bool) {
        if guard_allowance {
            self.inner.guard.give_back_injection();
        }
        if self.is_enabled() && self.inner.guard.is_tripped() {
            self.inner.guard.skip(crate::guard::SkipReason::Tripped);
        }
    }

    /// Is injection possible now: switched on, and not tripped?
    #[cfg_attr(not(any(feature = "tower", feature = "client")), allow(dead_code))]
    pub(crate) fn is_injecting(&self) -> bool {
        #[cfg(feature = "guard")]
        return self.is_enabled() && !self.inner.guard.is_tripped();
        #[cfg(not(feature = "guard"))]
        self.is_enabled()
    }

    /// Records the latency of a call whose outcome does not count for the
    /// error rate (see `Guard::record_latency`).
    #[cfg(feature = "client")]
    pub(crate) fn record_latency(&self, start: std::time::Instant) {
        #[cfg(feature = "guard")]
        self.inner.plan.with(|plan, stripe| {
            if let Some(g) = plan.guard.as_deref() {
                self.inner.guard.record_latency(g, plan.stamp, start, stripe);
            }
        });
        #[cfg(not(feature = "guard"))]
        let _ = start;
    }

    /// Records the outcome of a call that reached the service, for the
    /// abort conditions (doors call this only when a decision asked for it).
    #[cfg_attr(not(any(feature = "tower", feature = "client")), allow(dead_code))]
    pub(crate) fn record_outcome(&self, failed: bool, start: std::time::Instant) {
        #[cfg(feature = "guard")]
        self.inner.plan.with(|plan, stripe| {
            if let Some(g) = plan.guard.as_deref() {
                self.inner.guard.record(g, plan.stamp, failed, start, stripe);
            }
        });
        #[cfg(not(feature = "guard"))]
        let _ = (failed, start);
    }

    /// Decides what to do with one call.
    ///
    /// Doors call this for every request; call it yourself to inject faults
    /// where no door fits. The first rule whose match holds decides; its
    /// delay and abort are rolled (independently, unless `abort_first`).
    ///
    /// A door of your own goes through the guardrails' limits (hours,
    /// caps, exclusions, a trip) and ends a failure with
    /// [`Decision::into_fault`], but its calls' outcomes are not recorded
    /// for the abort conditions: those watch the calls of mischief's own
    /// doors (as they do not watch `#[chaos]` functions).
    #[inline]
    pub fn decide(&self, target: &Target<'_>) -> Decision {
        if !self.is_enabled() {
            return Decision::PASS;
        }
        self.decide_out_of_line(target)
    }

    #[inline(never)]
    fn decide_out_of_line(&self, target: &Target<'_>) -> Decision {
        self.decide_enabled(target)
    }

    /// [`decide`](Self::decide) for the doors, which have checked
    /// [`is_enabled`](Self::is_enabled) themselves: inlined into the
    /// door's own out-of-line, `#[cold]` decision function (one call on the
    /// enabled path, none on the off path), while a caller of `decide`
    /// keeps the off path to a load and a branch.
    #[inline(always)]
    pub(crate) fn decide_enabled(&self, target: &Target<'_>) -> Decision {
        self.inner.plan.with(
            #[inline(always)]
            |plan, stripe| self.decide_in(plan, target, stripe),
        )
    }

    #[inline(always)]
    fn decide_in(&self, plan: &Plan, target: &Target<'_>, stripe: usize) -> Decision {
        #[cfg(feature = "guard")]
        if plan.counts_calls() {
            self.inner.guard.count_call(stripe);
        }
        let pass = Decision::pass(plan.observes());
        // The common plan of one catch-all rule (the `CHAOS_*` variables
        // build one) needs no scan, and no facts about the call.
        if let Some(rule) = &plan.catch_all {
            return self.decide_matched(plan, rule, target, pass, stripe, true);
        }
        match plan.first_match(target) {
            None => pass,
            Some(i) => self.decide_nth(plan, i, target, pass, stripe),
        }
    }

    /// The decision for a call whose first matching rule is rule `i` of
    /// `plan`, out of line: a call that several rules let pass (the scan
    /// above, itself out of line, found none) pays for no more than a call.
    #[inline(never)]
    fn decide_nth(&self, plan: &Plan, i: usize, target: &Target<'_>, pass: Decision, stripe: usize) -> Decision {
        match plan.rules.get(i) {
            Some(rule) => self.decide_matched(plan, rule, target, pass, stripe, true),
            None => pass,
        }
    }

    /// The decision for a call that `rule` matched (it is the first rule of
    /// `plan` whose match holds): count it, roll its faults, let the
    /// guardrails have their say. `pass` is what to answer when nothing is
    /// injected. Shared by [`decide`](Self::decide) and by fault points,
    /// which find their rule through a per-call-site cache (`site.rs`).
    /// `stripe` is the calling thread's counter stripe. `fails` is `false`
    /// for a point that can only be delayed (see [`roll`](Self::roll)).
    #[inline(always)]
    fn decide_matched(
        &self,
        plan: &Plan,
        rule: &Arc<CompiledRule>,
        target: &Target<'_>,
        pass: Decision,
        stripe: usize,
        fails: bool,
    ) -> Decision {
        rule.stats.add_at(Count::Matched, stripe);
        if rule.inert {
            return pass;
        }
        self.roll(plan, rule, target, pass, stripe, fails)
    }

    /// The part of [`decide_matched`](Self::decide_matched) for a rule that
    /// can inject: out of line, so the common case of an inert rule (a 0%
    /// catch-all) stays small where it is inlined.
    ///
    /// At a point that cannot fail (`fails` is `false`: a `#[chaos]`
    /// function that does not return a `Result`), a failure that fires is
    /// counted as skipped and is then as good as absent: it takes no share
    /// of the caps (`max_injections`, the guardrails'), and it does not
    /// drop the delay of a rule that aborts first.
    #[inline(never)]
    fn roll(
        &self,
        plan: &Plan,
        rule: &Arc<CompiledRule>,
        target: &Target<'_>,
        pass: Decision,
        stripe: usize,
        fails: bool,
    ) -> Decision {
        #[cfg(not(feature = "guard"))]
        let _ = target;
        let rng = &plan.rng;
        // Every failing fault is rolled (so each `every` counts every
        // matching call); the first that fires, in the rule's order, wins.
        let mut failure = None;
        for (i, f) in rule.failures.iter().enumerate() {
            if f.trigger.fires(rng) && failure.is_none() {
                failure = Some(i);
            }
        }
        // `skipped` counts calls: one whose failure was skipped here is not
        // counted again should its delay be refused below.
        let skipped = !fails && failure.take().is_some();
        let count_skip = || {
            if !skipped {
                rule.stats.add(Count::Skipped);
            }
        };
        if skipped {
            rule.stats.add(Count::Skipped);
            tracing::debug!(
                target: "mischief",
                rule = %rule.name,
                "fault skipped: the point cannot fail (its function does not return a Result)"
            );
        }
        // The delay is rolled on every call too (its `every` counts every
        // matching call), and dropped afterwards when a failure fired and
        // the rule aborts first.
        let delay = match &rule.delay {
            Some(d) if d.trigger.fires(rng) && !(failure.is_some() && rule.abort_first) => Some(d.sample(rng)),
            _ => None,
        };
        if failure.is_none() && delay.is_none() {
            return pass;
        }
        // From here on a fault would be injected: the guardrails decide.
        #[cfg(feature = "guard")]
        let guard = {
            let state = &self.inner.guard;
            let g = plan.guard.as_deref();
            if let Err(reason) = state.admit(g, rule.timing.as_ref(), rule.stats.since_ms, target) {
                // The guard's counts are the guardrails': a rule's own
                // `schedule` or `for` without them counts in the rule only.
                if g.is_some() {
                    state.skip(reason);
                }
                count_skip();
                return pass;
            }
            (state, g)
        };
        if let Some(max) = rule.max_injections {
            let took = rule
                .stats
                .injections
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < max).then_some(n + 1));
            if took.is_err() {
                count_skip();
                return pass;
            }
        }
        #[cfg(feature = "guard")]
        let slot = match guard.0.reserve(guard.1, stripe) {
            Ok(slot) => slot,
            Err(reason) => {
                guard.0.skip(reason);
                count_skip();
                rule.give_back_injection();
                return pass;
            }
        };
        if let Some(d) = delay {
            rule.stats.add(Count::Delayed);
            tracing::debug!(target: "mischief", rule = %rule.name, fault = "delay", delay_ms = d.as_secs_f64() * 1e3, "injected fault");
        }
        let mut injection = Injection {
            rule: plan.handle(rule, stripe),
            delay,
            failure,
            #[cfg(feature = "guard")]
            slot,
            #[cfg(feature = "guard")]
            guard_allowance: guard.1.is_some_and(|g| g.max_injections.is_some()),
            pending: false,
            observe: pass.observe(),
        };
        // A failure that waits (a timeout, a loss, a partition's connect
        // delay) can be abandoned during its wait, and is counted then; one
        // that does not (an abort, an error, after a delay or not) is
        // counted only when the door ends the call with it.
        injection.pending = injection.failure_waits();
        Decision::inject(injection)
    }

    fn admin(&self) -> std::sync::MutexGuard<'_, Admin> {
        // The admin state stays consistent even if a holder panicked.
        self.inner.admin.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        site::count_enabled(*self.enabled.get_mut(), false);
        // Thread caches may keep this engine's guard state a while: no
        // outcome is recorded into it from now on.
        #[cfg(feature = "guard")]
        self.guard.set_plan_stamp(0);
        LIVE.write().unwrap_or_else(PoisonError::into_inner).remove(&self.plan.id());
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
    /// `None`: the system clock.
    #[cfg(feature = "guard")]
    clock: Option<Arc<dyn crate::guard::Clock>>,
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

    /// Appends a rule (to the configuration so far: a later
    /// [`config`](Self::config) replaces it).
    pub fn rule(mut self, rule: Rule) -> Self {
        self.config.rules.push(rule);
        self
    }

    /// Sets the seed for random decisions (in the configuration so far: a
    /// later [`config`](Self::config) replaces it).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// Sets the clock of the guardrails (time windows, schedules,
    /// `arm_after`, cooldowns); tests use a
    /// [`ManualClock`](crate::guard::ManualClock).
    #[cfg(feature = "guard")]
    pub fn clock<C: crate::guard::Clock>(mut self, clock: C) -> Self {
        // The system clock has a faster path than a `dyn Clock`.
        let system = std::any::TypeId::of::<C>() == std::any::TypeId::of::<crate::guard::SystemClock>();
        self.clock = (!system).then(|| Arc::new(clock) as Arc<dyn crate::guard::Clock>);
        self
    }

    /// Validates the configuration and builds the handle.
    pub fn build(self) -> Result<Chaos, ConfigError> {
        #[cfg(feature = "guard")]
        {
            let guard = crate::guard::GuardState::new(self.clock);
            let plan = Plan::compile(self.config, &Plan::empty(), guard.now_ms())?;
            Ok(Chaos::with_plan(self.enabled, plan, guard))
        }
        #[cfg(not(feature = "guard"))]
        {
            let plan = Plan::compile(self.config, &Plan::empty(), system_now_ms())?;
            Ok(Chaos::with_plan(self.enabled, plan))
        }
    }
}

#[cfg(not(feature = "guard"))]
fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(all(test, feature = "guard"))]
mod guard_tests {
    use std::time::Instant;

    use super::stats::SHARED_STRIPE;
    use super::*;
    use crate::config::{Abort, AbortCondition, Guardrails};
    use crate::{Door, Target};

    fn always() -> Rule {
        Rule::new("r").abort(Abort::status(503).percentage(100.0))
    }

    /// An engine whose abort condition trips on one failed call in two.
    fn watched() -> Chaos {
        let guardrails = Guardrails::new().min_samples(1).abort_condition(AbortCondition::error_rate(0.5));
        Chaos::new(Config::new().guardrails(guardrails).rule(always())).unwrap()
    }

    fn faults(chaos: &Chaos) -> bool {
        chaos.decide(&Target::new(Door::Service).name("svc")).fault().is_some()
    }

    /// A judgement made with a plan that is no longer installed does not
    /// trip: `record` took the old plan (from a thread's cache) before an
    /// update, and read the epoch after it, so the epoch alone cannot tell.
    #[test]
    fn a_judgement_by_a_replaced_plan_does_not_trip() {
        // The control: the same outcome under the installed plan trips.
        let chaos = watched();
        let plan = Arc::clone(&*chaos.inner.plan.load());
        chaos.inner.guard.record(plan.guard.as_deref().unwrap(), plan.stamp, true, Instant::now(), SHARED_STRIPE);
        assert!(chaos.inner.guard.is_tripped());
        assert!(!faults(&chaos));

        let chaos = watched();
        let old = Arc::clone(&*chaos.inner.plan.load());
        chaos.update(Config::new().rule(always())).unwrap();
        chaos.inner.guard.record(old.guard.as_deref().unwrap(), old.stamp, true, Instant::now(), SHARED_STRIPE);
        assert!(chaos.status().guard.is_none());
        assert!(!chaos.inner.guard.is_tripped(), "tripped under a plan without guardrails");
        assert!(faults(&chaos), "injection stopped for good, and no status shows why");
    }
}
