//! Fault points in your own functions: the [`#[chaos]`](crate::chaos)
//! attribute and the [`chaos_point!`](crate::chaos_point) macro (feature
//! `macros`, on by default).
//!
//! The seed's Python `@chaos_middleware` decorator, done the Rust way: the
//! failure is your function's own error type, an `async fn` waits without
//! blocking its thread, every point has a name that rules select it by, and a
//! point costs one relaxed atomic load while chaos is off.
//!
//! ```
//! use std::time::Duration;
//! use mischief::config::{Abort, Config, Delay, Match, Rule};
//! use mischief::{Chaos, Door, InjectedFault, chaos, chaos_point};
//!
//! #[derive(Debug)]
//! enum PaymentError {
//!     Declined,
//!     Injected(InjectedFault),
//! }
//!
//! impl From<InjectedFault> for PaymentError {
//!     fn from(fault: InjectedFault) -> Self {
//!         PaymentError::Injected(fault)
//!     }
//! }
//!
//! static CHAOS: std::sync::LazyLock<Chaos> = std::sync::LazyLock::new(|| {
//!     Chaos::new(
//!         Config::new()
//!             .rule(
//!                 Rule::new("payments-down")
//!                     .when(Match::new().door(Door::Point).name("payments.*"))
//!                     .abort(Abort::status(503).message("payment provider unavailable").every(2)),
//!             )
//!             .rule(Rule::new("slow-ledger").when(Match::new().name("ledger.write")).delay(Delay::fixed(Duration::from_millis(5)).percentage(100.0))),
//!     )
//!     .expect("valid rules")
//! });
//!
//! /// Charges an order: every second call fails with `PaymentError::Injected`.
//! #[chaos(name = "payments.charge", chaos = CHAOS)]
//! fn charge(cents: u64) -> Result<u64, PaymentError> {
//!     if cents == 0 {
//!         return Err(PaymentError::Declined);
//!     }
//!     write_ledger(cents)?;
//!     Ok(cents)
//! }
//!
//! fn write_ledger(cents: u64) -> Result<(), PaymentError> {
//!     chaos_point!("ledger.write", chaos = CHAOS); // waits 5 ms here
//!     let _ = cents;
//!     Ok(())
//! }
//!
//! assert_eq!(charge(1250).unwrap(), 1250);
//! match charge(1250) {
//!     Err(PaymentError::Injected(fault)) => assert_eq!(fault.rule(), "payments-down"),
//!     other => panic!("expected an injected fault, got {other:?}"),
//! }
//! assert!(matches!(charge(0), Err(PaymentError::Declined)));
//! ```
//!
//! # Names and rules
//!
//! A point enters the engine by door [`point`](crate::Door::Point) with its
//! name, so a rule selects it with `match.name`, exactly or by glob
//! (`"payments.*"`, `"*.charge"`), optionally with `door = "point"`:
//!
//! ```toml
//! [[rules]]
//! name = "payments-down"
//! match = { door = "point", name = "payments.*" }
//! abort = { percentage = 20, message = "payment provider unavailable" }
//! ```
//!
//! `#[chaos]` names the point `name = "..."`, or by default after the
//! function: `module_path!()` and the function's name
//! (`my_service::payments::charge`; methods too, so two methods of the same
//! name in one module share a name unless you give one). Rules without a
//! `match` apply to every door, points included: the catch-all rule the
//! `CHAOS_*` environment variables build applies to points exactly as to
//! requests.
//!
//! Every point uses [`Chaos::global`](crate::Chaos::global) unless given a
//! handle: `#[chaos(chaos = <expr>)]` or `chaos_point!("name", chaos = <expr>)`,
//! where the expression is a `Chaos`, a `&Chaos`, or anything that
//! dereferences to one (a `static LazyLock<Chaos>`, an `Arc<Chaos>`,
//! `self.chaos` in a method).
//!
//! # What a fault does
//!
//! - A **delay** (and the wait of a `timeout`, `loss` or `partition` fault)
//!   holds the call before the function's body runs: an `async fn` awaits
//!   `tokio::time::sleep` (outside a Tokio runtime the wait is skipped, as in
//!   the Tower layers; a runtime built without its timers, `enable_time`,
//!   panics there, as `tokio::time::sleep` does: Tokio offers no way to ask
//!   first); a plain `fn` calls `std::thread::sleep`, which blocks
//!   its thread, so do not put delays on plain functions that run on an
//!   async runtime's worker threads.
//! - A **failure** (`abort`, `error`, `timeout`, `partition`, `loss`) returns
//!   without running the body: `#[chaos]` returns `Err(E::from(fault))` with
//!   the [`InjectedFault`] (its [`kind`](InjectedFault::kind) tells which),
//!   `chaos_point!("name")` does the same from the middle of a body, and
//!   `chaos_point!("name", |fault| expr)` returns `expr`, so you build your
//!   function's own value: `chaos_point!("db.query", |fault| Err(DbError::Unavailable(fault.to_string())))`.
//! - The kill switch wins: a failure whose wait was running when chaos was
//!   switched off is not issued; the call goes on.
//!
//! # Functions that do not return a `Result`
//!
//! `#[chaos]` decides from the return type as written: a type whose last
//! path segment is `Result` (`Result<T, E>`, `io::Result<T>`,
//! `anyhow::Result<T>`, your own `Result<T>` alias) can fail, and then needs
//! `E: From<InjectedFault>` (mischief provides it for [`std::io::Error`];
//! `Box<dyn Error + Send + Sync>` and `anyhow::Error` have it already). Any
//! other function, and one marked `#[chaos(delay_only)]`, is **only
//! delayed**: when the rule that selects it rolls a failure, the failure is
//! not injected and the call is counted as `skipped` in the rule's
//! [`RuleStatus`](crate::RuleStatus) (and traced at DEBUG).
//!
//! Counting rather than rejecting the configuration is deliberate: points
//! are not known when a configuration is validated (they are code, met at
//! run time, and one glob selects many), so validation cannot tell which
//! functions a rule will reach, and a rule that aborts `payments.*` should
//! still delay the one `payments` function that cannot fail. `skipped` in
//! the status shows it happened.
//!
//! `chaos_point!("name")` needs the enclosing function to return a type that
//! can be built from the fault ([`FromFault`]: `Result<_, E>` with
//! `E: From<InjectedFault>`, or your own type); anywhere else, say what to
//! return with `chaos_point!("name", |fault| ...)`. In an `async` function or
//! block, write `chaos_point!(async "name")` (and `chaos_point!(async "name",
//! |fault| ...)`) so the delay is awaited.
//!
//! # Cost
//!
//! - Off, on the global handle (the default): one relaxed load of a
//!   process-wide count of switched-on handles, and a branch; the handle is
//!   not touched, nothing is called or allocated. A plain function keeps no
//!   stack frame for the point: `#[chaos]` moves its body into a closure that
//!   runs inline on this path, and inside an out-of-line call (a tail call)
//!   when chaos is on.
//! - Off, on a given handle (`chaos = ...`): the expression is evaluated on
//!   every call (a `LazyLock` handle is created by its first use), then one
//!   relaxed load of its switch.
//! - On, with no rule that selects the point: each call site caches which
//!   rule applies to it, keyed by the installed plan, so the point compares
//!   two integers instead of matching names; the first call after an update
//!   looks again.
//! - On and selected: the rule's usual decision (a counter, a random draw); a
//!   box is allocated only when a fault is injected.
//!
//! See `BENCHMARKS.md` (group `point`) for the measured numbers, against
//! fail-rs.
//!
//! # Compiling points out
//!
//! Built with `RUSTFLAGS="--cfg mischief_off"`, `#[chaos]` leaves the
//! function exactly as written and `chaos_point!` expands to nothing, so not
//! even the load remains; [`compiled_in`](crate::compiled_in) tells which
//! build you have. The options' expressions are not evaluated then (an
//! argument used only as `chaos = arg` becomes unused). The Tower layers are
//! not affected: they have the runtime switch.
//!
//! # Limits
//!
//! - In a plain function, `#[chaos]` runs the body inside a closure (it
//!   shows as `{{closure}}` in backtraces). A `#[track_caller]` function, or
//!   one returning `impl Trait`, keeps its body in place and the point as a
//!   statement before it (then the point costs a small stack frame).
//! - A handle given as `chaos = ...` that borrows an argument the body
//!   takes (`self.chaos` in a `&mut self` or `self` method) is cloned (an
//!   `Arc` increment) on each call while it is on.
//! - The expansion names the crate `::mischief`; a dependency renamed in
//!   `Cargo.toml`, or mischief re-exported by another crate, needs
//!   `#[chaos(crate = path::to::mischief)]`.
//! - A plain `fn` that returns a future (`impl Future`, `Pin<Box<dyn
//!   Future>>`, any type named `...Future`) is a compile error: the point
//!   would block the thread that creates the future, not delay the future.
//!   That includes every `async fn` method of an `#[async_trait]` impl,
//!   which `#[async_trait]` turns into such a function before `#[chaos]`
//!   sees it: write `chaos_point!(async "name");` first in the method's
//!   body instead.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::engine::{Injection, SiteCache};
use crate::{Chaos, InjectedFault};

/// A return type that a fault point can build from an injected fault, so
/// that `chaos_point!("name")` can return it.
///
/// Implemented for `Result<T, E>` whenever `E: From<InjectedFault>`;
/// implement it for your own return type (an HTTP response, a status enum)
/// to use `chaos_point!("name")` in functions that return it.
///
/// ```
/// use mischief::InjectedFault;
/// use mischief::point::FromFault;
///
/// enum Reply {
///     Ok(String),
///     Unavailable { rule: String },
/// }
///
/// impl FromFault for Reply {
///     fn from_fault(fault: InjectedFault) -> Self {
///         Reply::Unavailable { rule: fault.rule().to_owned() }
///     }
/// }
///
/// fn handle() -> Reply {
///     mischief::chaos_point!("api.handle");
///     Reply::Ok("hello".into())
/// }
/// # assert!(matches!(handle(), Reply::Ok(_)));
/// ```
#[diagnostic::on_unimplemented(
    message = "a fault point cannot return `{Self}`: it is not built from an `InjectedFault`",
    label = "this fault point returns `Err(E::from(fault))` from a function returning `{Self}`",
    note = "the function must return `Result<_, E>` with `E: From<mischief::InjectedFault>`",
    note = "to return something else from a point, write `chaos_point!(\"name\", |fault| ...)`; to only delay a function, put `#[chaos(delay_only)]` on it"
)]
pub trait FromFault {
    /// The value the function returns when the point fails with `fault`.
    fn from_fault(fault: InjectedFault) -> Self;
}

impl<T, E: From<InjectedFault>> FromFault for Result<T, E> {
    #[inline]
    fn from_fault(fault: InjectedFault) -> Self {
        Err(E::from(fault))
    }
}

/// `false` when no handle in the process is switched on and the global
/// handle exists: a point on the global handle is skipped without touching
/// it (one relaxed load of a static).
#[doc(hidden)]
#[inline(always)]
pub fn any_enabled() -> bool {
    crate::engine::any_enabled()
}

/// A clone of the handle when it is on (for a handle borrowed from the
/// arguments that the function's body then takes).
#[doc(hidden)]
#[inline(always)]
pub fn owned_if_enabled(chaos: &Chaos) -> Option<Chaos> {
    if chaos.is_enabled() { Some(chaos.clone()) } else { None }
}

/// Gives the closure holding a function's body its return type `R`, as
/// the function has (so `?`, `return` and coercions inside work unchanged).
#[doc(hidden)]
#[inline(always)]
pub fn body<R, F: FnOnce() -> R>(body: F) -> F {
    body
}

/// Builds the enclosing function's return value from a fault.
#[doc(hidden)]
#[inline]
pub fn fail<R: FromFault>(fault: InjectedFault) -> R {
    R::from_fault(fault)
}

/// One fault point: a call site of `#[chaos]` or `chaos_point!`, kept in a
/// `static` there.
#[doc(hidden)]
#[derive(Debug)]
pub struct Point {
    name: &'static str,
    /// `false` for functions that do not return a `Result`: failures are
    /// counted as skipped, only delays apply.
    fails: bool,
    cache: SiteCache,
}

impl Point {
    /// A point that may be delayed and failed. Evaluated in a `static`, so
    /// an invalid name is a compile-time error.
    pub const fn new(name: &'static str) -> Self {
        Point { name: checked(name), fails: true, cache: SiteCache::new() }
    }

    /// A point that is only ever delayed.
    pub const fn delay_only(name: &'static str) -> Self {
        Point { name: checked(name), fails: false, cache: SiteCache::new() }
    }

    /// Does this call go on at once, without asking the engine: chaos is
    /// off, or the call site's cache says no rule selects this point?
    #[inline(always)]
    fn goes_on(&self, chaos: &Chaos) -> bool {
        !chaos.is_enabled() || chaos.point_passes(&self.cache)
    }

    /// Asks the engine about this call. `None`: go on at once (the hot
    /// path: chaos off, or the cache says no rule selects this point).
    #[inline(always)]
    pub fn enter(&self, chaos: &Chaos) -> Option<Hit> {
        if self.goes_on(chaos) {
            return None;
        }
        self.decide(chaos)
    }

    #[cold]
    #[inline(never)]
    fn decide(&self, chaos: &Chaos) -> Option<Hit> {
        let injection = chaos.decide_point(self.name, &self.cache, self.fails).into_injection()?;
        Some(Hit { injection })
    }

    /// For plain functions: asks the engine, sleeps the thread through a
    /// delay, and returns the fault to fail with, if any.
    #[inline(always)]
    pub fn enter_blocking(&self, chaos: &Chaos) -> Option<InjectedFault> {
        if self.goes_on(chaos) {
            return None;
        }
        self.blocking(chaos)
    }

    /// A plain function under `#[chaos]`, once some handle is on: the point,
    /// then `body` unless the point fails (with `fail(fault)`).
    ///
    /// Out of line, with the function's body passed in as a closure: the
    /// function's own code then reaches this only through a tail call, so
    /// its fast path (chaos off) keeps no stack frame for it.
    /// `fail` is `None` for a point that only ever is delayed (made with
    /// [`delay_only`](Self::delay_only), which never returns a fault).
    ///
    /// A call that goes on at once runs `body` here; only a call the
    /// engine must look at goes further out of line
    /// ([`run_slow`](Self::run_slow)). Matching on the fault and `fail`
    /// together here built the pair on the stack on every call, more than
    /// doubling what a point that no rule selects costs (benches/HISTORY.md,
    /// "Sitting W").
    #[inline(never)]
    pub fn run<R, F: FnOnce() -> R>(&self, chaos: &Chaos, body: F, fail: Option<fn(InjectedFault) -> R>) -> R {
        if self.goes_on(chaos) {
            return body();
        }
        self.run_slow(chaos, body, fail)
    }

    /// [`run`](Self::run) for a call the engine must look at.
    #[cold]
    #[inline(never)]
    fn run_slow<R, F: FnOnce() -> R>(&self, chaos: &Chaos, body: F, fail: Option<fn(InjectedFault) -> R>) -> R {
        if let Some(fault) = self.blocking(chaos)
            && let Some(fail) = fail
        {
            return fail(fault);
        }
        body()
    }

    /// [`run`](Self::run) on the process-wide handle, found here, out of
    /// line: the function's own code then only tests and tail-calls, where
    /// finding the handle itself (a call on its first use) made it keep a
    /// stack frame on its off path too.
    #[inline(never)]
    pub fn run_global<R, F: FnOnce() -> R>(&self, body: F, fail: Option<fn(InjectedFault) -> R>) -> R {
        self.run(Chaos::global(), body, fail)
    }

    #[cold]
    #[inline(never)]
    fn blocking(&self, chaos: &Chaos) -> Option<InjectedFault> {
        let hit = self.decide(chaos)?;
        let wait = hit.duration();
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        hit.end(chaos)
    }
}

/// Rejects names the engine could never match. Only ever evaluated in a
/// `static`'s initializer, so the panic is a compile-time error.
#[allow(clippy::panic)]
const fn checked(name: &'static str) -> &'static str {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        panic!("a fault point's name must not be empty");
    }
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] < 0x20 || bytes[i] == 0x7f {
            panic!("a fault point's name must not contain control characters");
        }
        i += 1;
    }
    name
}

/// A call the engine decided to fault: wait, then maybe fail.
#[doc(hidden)]
#[derive(Debug)]
pub struct Hit {
    injection: Box<Injection>,
}

impl Hit {
    /// How long to hold the call: the delay, plus the failure's own wait.
    /// (A point that cannot fail never gets a failure: the engine skips it
    /// when it decides, so its wait is the delay alone.)
    fn duration(&self) -> Duration {
        self.injection.total_wait()
    }

    /// Waits for the injected delay (a boxed `tokio::time::Sleep`, so the
    /// caller's future grows by a pointer only). Without a Tokio runtime
    /// the wait is skipped.
    pub fn wait(&self) -> Wait {
        let duration = self.duration();
        if duration.is_zero() {
            return Wait(None);
        }
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::debug!(target: "mischief", "no Tokio runtime: injected delay skipped");
            return Wait(None);
        }
        Wait(Some(Box::pin(tokio::time::sleep(duration))))
    }

    /// After the wait: the fault to fail with, if the injection has one
    /// (never at a point that cannot fail) and the kill switch is still on.
    pub fn end(mut self, chaos: &Chaos) -> Option<InjectedFault> {
        self.injection.confirm_failure(chaos).then(|| self.injection.fault())
    }
}

/// The future of [`Hit::wait`].
#[doc(hidden)]
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Wait(Option<Pin<Box<tokio::time::Sleep>>>);

impl Future for Wait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            None => Poll::Ready(()),
            Some(sleep) => sleep.as_mut().poll(cx),
        }
    }
}

/// The code of a fault point, shared by `#[chaos]` and `chaos_point!`.
/// Not a public API.
///
/// The handle is `[global]` (the default, [`Chaos::global`]) or
/// `[chaos = <expr>]`. A point on the global handle first checks that some
/// handle in the process is on (or the global one is not created yet), and
/// only then touches the handle; a given handle is evaluated on every call
/// (it may be a `LazyLock` that only its first use creates).
#[cfg(not(mischief_off))]
#[doc(hidden)]
#[macro_export]
macro_rules! __point {
    // A whole plain function (`#[chaos]`): its body becomes a closure that
    // runs inline while the handle is off, and inside the out-of-line
    // `Point::run` (a tail call) when it is on, so the function's fast path
    // needs no stack frame for the point. `$ctor` is `new` or `delay_only`,
    // `$fail` is `Some(fail)` or `None` accordingly.
    (sync_fn, $ctor:ident, [global], $name:expr, $ret:ty, $body:block, $fail:expr) => {{
        static __MISCHIEF_POINT: $crate::__private::Point = $crate::__private::Point::$ctor($name);
        let body = $crate::__private::body::<$ret, _>(move || $body);
        if $crate::__private::any_enabled() {
            return __MISCHIEF_POINT.run_global(body, $fail);
        }
        body()
    }};
    // A given handle that does not use the function's arguments: borrowed.
    (sync_fn, $ctor:ident, [chaos = $chaos:expr], $name:expr, $ret:ty, $body:block, $fail:expr) => {{
        static __MISCHIEF_POINT: $crate::__private::Point = $crate::__private::Point::$ctor($name);
        let chaos: &$crate::Chaos = $chaos;
        let body = $crate::__private::body::<$ret, _>(move || $body);
        if chaos.is_enabled() {
            return __MISCHIEF_POINT.run(chaos, body, $fail);
        }
        body()
    }};
    // A given handle taken from the arguments (`self.chaos`): cloned, when
    // on, before the body takes the arguments.
    (sync_fn, $ctor:ident, [owned = $chaos:expr], $name:expr, $ret:ty, $body:block, $fail:expr) => {{
        static __MISCHIEF_POINT: $crate::__private::Point = $crate::__private::Point::$ctor($name);
        let chaos = {
            let chaos: &$crate::Chaos = $chaos;
            $crate::__private::owned_if_enabled(chaos)
        };
        let body = $crate::__private::body::<$ret, _>(move || $body);
        match &chaos {
            ::core::option::Option::Some(chaos) => __MISCHIEF_POINT.run(chaos, body, $fail),
            ::core::option::Option::None => body(),
        }
    }};
    // A point at the top of a function or inside a body: `return $on_fault`
    // when it fails.
    (sync, $handle:tt, $name:expr, |$fault:pat_param| $on_fault:expr) => {{
        static __MISCHIEF_POINT: $crate::__private::Point = $crate::__private::Point::new($name);
        if $crate::__point_gate!$handle {
            let chaos: &$crate::Chaos = $crate::__point_handle!$handle;
            if let ::core::option::Option::Some($fault) = __MISCHIEF_POINT.enter_blocking(chaos) {
                return $on_fault;
            }
        }
    }};
    (async, $handle:tt, $name:expr, |$fault:pat_param| $on_fault:expr) => {{
        static __MISCHIEF_POINT: $crate::__private::Point = $crate::__private::Point::new($name);
        if $crate::__point_gate!$handle {
            let chaos: &$crate::Chaos = $crate::__point_handle!$handle;
            if let ::core::option::Option::Some(hit) = __MISCHIEF_POINT.enter(chaos) {
                hit.wait().await;
                if let ::core::option::Option::Some($fault) = hit.end(chaos) {
                    return $on_fault;
                }
            }
        }
    }};
    (sync_delay, $handle:tt, $name:expr) => {{
        static __MISCHIEF_POINT: $crate::__private::Point = $crate::__private::Point::delay_only($name);
        if $crate::__point_gate!$handle {
            let chaos: &$crate::Chaos = $crate::__point_handle!$handle;
            let _ = __MISCHIEF_POINT.enter_blocking(chaos);
        }
    }};
    (async_delay, $handle:tt, $name:expr) => {{
        static __MISCHIEF_POINT: $crate::__private::Point = $crate::__private::Point::delay_only($name);
        if $crate::__point_gate!$handle {
            let chaos: &$crate::Chaos = $crate::__point_handle!$handle;
            if let ::core::option::Option::Some(hit) = __MISCHIEF_POINT.enter(chaos) {
                hit.wait().await;
                let _ = hit.end(chaos);
            }
        }
    }};
}

/// Compiled out (`--cfg mischief_off`): the function's body as written, or
/// no code at all.
#[cfg(mischief_off)]
#[doc(hidden)]
#[macro_export]
macro_rules! __point {
    (sync_fn, $ctor:ident, $handle:tt, $name:expr, $ret:ty, $body:block, $fail:expr) => {
        $body
    };
    ($($tokens:tt)*) => {{}};
}

/// Whether a point must look at its handle: for the global handle, only
/// when some handle is on. Not a public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __point_gate {
    (global) => {
        $crate::__private::any_enabled()
    };
    (chaos = $chaos:expr) => {
        true
    };
}

/// A point's handle, as a `&Chaos`. Not a public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __point_handle {
    (global) => {
        $crate::Chaos::global()
    };
    (chaos = $chaos:expr) => {
        $chaos
    };
}

/// A fault point inside a function body: the engine may delay the call here,
/// or return from the enclosing function with a failure.
///
/// | form | on a failure, the function returns |
/// |---|---|
/// | `chaos_point!("name")` | `Err(E::from(fault))` (any [`FromFault`](crate::point::FromFault) type) |
/// | `chaos_point!("name", \|fault\| expr)` | `expr`, with the [`InjectedFault`](crate::InjectedFault) bound to `fault` |
/// | `chaos_point!(async "name")`, `chaos_point!(async "name", \|fault\| expr)` | the same, in `async` code: delays are awaited |
///
/// Each form takes an optional handle after the name, `chaos = <expr>`
/// (default [`Chaos::global`](crate::Chaos::global)). Rules select the point
/// by door `point` and its name; see the [`point`](crate::point) module.
///
/// ```
/// use mischief::{InjectedFault, chaos_point};
///
/// #[derive(Debug)]
/// enum DbError {
///     Unavailable(String),
/// }
///
/// fn query(sql: &str) -> Result<usize, DbError> {
///     chaos_point!("db.query", |fault| Err(DbError::Unavailable(fault.to_string())));
///     Ok(sql.len())
/// }
///
/// async fn load(id: u64) -> Result<u64, InjectedFault> {
///     chaos_point!(async "db.load");
///     Ok(id)
/// }
/// # assert_eq!(query("select 1").unwrap(), 8);
/// ```
#[macro_export]
macro_rules! chaos_point {
    (async $name:expr $(,)?) => {
        $crate::__point!(async, [global], $name, |fault| $crate::__private::fail(fault))
    };
    (async $name:expr, chaos = $chaos:expr $(,)?) => {
        $crate::__point!(async, [chaos = &($chaos)], $name, |fault| $crate::__private::fail(fault))
    };
    (async $name:expr, |$fault:pat_param| $on_fault:expr $(,)?) => {
        $crate::__point!(async, [global], $name, |$fault| $on_fault)
    };
    (async $name:expr, chaos = $chaos:expr, |$fault:pat_param| $on_fault:expr $(,)?) => {
        $crate::__point!(async, [chaos = &($chaos)], $name, |$fault| $on_fault)
    };
    ($name:expr $(,)?) => {
        $crate::__point!(sync, [global], $name, |fault| $crate::__private::fail(fault))
    };
    ($name:expr, chaos = $chaos:expr $(,)?) => {
        $crate::__point!(sync, [chaos = &($chaos)], $name, |fault| $crate::__private::fail(fault))
    };
    ($name:expr, |$fault:pat_param| $on_fault:expr $(,)?) => {
        $crate::__point!(sync, [global], $name, |$fault| $on_fault)
    };
    ($name:expr, chaos = $chaos:expr, |$fault:pat_param| $on_fault:expr $(,)?) => {
        $crate::__point!(sync, [chaos = &($chaos)], $name, |$fault| $on_fault)
    };
}
