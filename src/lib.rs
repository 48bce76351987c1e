//! # mischief
//!
//! Application-level fault injection for Rust services: inject aborts and
//! latency into axum, hyper and tonic services (Tower layers), into any Tower
//! service, and into your own code, driven by environment variables, a
//! hot-reloaded config file (TOML, YAML or JSON), or a [`Config`] built in
//! code. Off by default from the environment (a handle built in code starts
//! on); off, deciding is one relaxed atomic load per call
//! (the HTTP layer's response future adds about 90 instructions around it:
//! see BENCHMARKS.md in the repository).
//!
//! ## Quick start
//!
//! With the seed-compatible environment variables:
//!
//! ```sh
//! CHAOS_ENABLED=true CHAOS_FAILURE_RATE=0.1 CHAOS_LATENCY_MS=50 ./my-service
//! ```
//!
//! ```no_run
//! # #[cfg(feature = "http")] {
//! use mischief::{Chaos, http::{ChaosLayer, ChaosService}};
//! use tower::Layer;
//! # fn router() -> axum::Router { axum::Router::new() }
//! let chaos = Chaos::from_env().expect("valid CHAOS_* variables");
//! // Around the whole router (see `http` for why there).
//! let app: ChaosService<axum::Router> = ChaosLayer::new(chaos).layer(router().with_state(()));
//! # }
//! ```
//!
//! Or from code, with rules:
//!
//! ```
//! use std::time::Duration;
//! use mischief::Chaos;
//! use mischief::config::{Abort, Delay, Match, Rule};
//!
//! let chaos = Chaos::builder()
//!     .rule(
//!         Rule::new("checkout-latency")
//!             .when(Match::new().method("POST").path_prefix("/checkout"))
//!             .delay(Delay::fixed(Duration::from_millis(200)).percentage(10.0)),
//!     )
//!     .rule(Rule::new("search-errors").when(Match::new().path("/search")).abort(Abort::status(500).every(20)))
//!     .build()?;
//! # Ok::<(), mischief::ConfigError>(())
//! ```
//!
//! Or from a file that is watched and reloaded while the service runs
//! (feature `reload`; see the `reload` module):
//!
//! ```sh
//! CHAOS_ENABLED=true CHAOS_CONFIG=/etc/chaos/chaos.toml ./my-service
//! ```
//!
//! Or in your own functions (feature `macros`), with the function's own
//! error type; see [`point`]:
//!
//! ```
//! # #[cfg(feature = "macros")] {
//! use mischief::{InjectedFault, chaos};
//!
//! #[chaos(name = "payments.charge")] // rules select it with `match = { name = "payments.*" }`
//! async fn charge(cents: u64) -> Result<u64, InjectedFault> {
//!     Ok(cents)
//! }
//! # }
//! ```
//!
//! ## How it fits together
//!
//! Every door ([`http::ChaosLayer`], [`service::ChaosLayer`], the client
//! middleware, fault points) describes each
//! call as a [`Target`] and asks the one engine, [`Chaos::decide`], for a
//! [`Decision`]: pass, or a delay and/or a failure (an abort, an error, a
//! timeout, a partition or a lost call). The engine evaluates the rules of
//! the installed [`Config`] in order; the first that matches decides (see
//! [`config`] for the semantics). Each door turns a failure into its own
//! kind: an HTTP response, a gRPC status, or an [`InjectedFault`] error.
//!
//! ## Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `tower` | yes (via `http`) | [`service::ChaosLayer`] for any `Clone` Tower service |
//! | `http` | yes | [`http::ChaosLayer`] for axum, hyper and tonic |
//! | `client` | no | `client::ChaosMiddleware` for reqwest-middleware |
//! | `retry` | no | `client::RetryInjected`, a reqwest-retry strategy that retries injected network faults |
//! | `guard` | yes | [`guard`]: time windows, schedules, caps and abort conditions |
//! | `toml`, `yaml`, `json` | no | config files in that format ([`Config::from_file`], `CHAOS_CONFIG`) |
//! | `reload` | no | `Chaos::watch` and a watched `CHAOS_CONFIG` (the `reload` module); all three formats |
//! | `schema` | no | `config::json_schema()`, the JSON Schema of config files |
//! | `macros` | yes | fault points in functions: [`#[chaos]`](chaos), [`chaos_point!`] ([`point`]) |
//! | `full` | no | everything |
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[cfg(any(feature = "http", feature = "client"))]
mod answer;
#[cfg(feature = "client")]
pub mod client;
pub mod config;
#[cfg(feature = "tower")]
mod delayed;
mod engine;
pub mod fault;
#[cfg(feature = "guard")]
pub mod guard;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "macros")]
pub mod point;
#[cfg(feature = "reload")]
pub mod reload;
#[cfg(feature = "tower")]
pub mod service;

pub use config::{Config, ConfigError, Door};
pub use engine::{Chaos, ChaosBuilder, Decision, RuleStatus, Status, Target};
pub use fault::{FaultKind, InjectedFault};

#[cfg(feature = "macros")]
pub use mischief_macros::chaos;

/// Which build of mischief this is: `true` normally, `false` when it was
/// compiled with `RUSTFLAGS="--cfg mischief_off"`, which compiles
/// [`#[chaos]`](chaos) and [`chaos_point!`] out (they leave the plain
/// function, and nothing, in their place). The Tower layers and the engine
/// are not affected.
///
/// ```
/// if !mischief::compiled_in() {
///     eprintln!("fault points are compiled out of this build");
/// }
/// ```
pub const fn compiled_in() -> bool {
    !cfg!(mischief_off)
}

/// What the macros expand to. Not a public API: it may change in any release.
#[cfg(feature = "macros")]
#[doc(hidden)]
pub mod __private {
    pub use crate::point::{Hit, Point, Wait, any_enabled, body, fail, owned_if_enabled};
}

/// The error type of services wrapped by [`service::ChaosLayer`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[cfg(all(doctest, feature = "http", feature = "client", feature = "macros", feature = "reload"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
