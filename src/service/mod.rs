//! A Tower layer that injects faults into any `Service<Req>` that is
//! `Clone` (a delayed call calls a clone; put a service that is not inside
//! `tower::buffer::Buffer`).
//!
//! Every call is described to the engine with door
//! [`Door::Service`](crate::Door::Service) and the layer's name, so rules
//! select a layer with `match = { door = "service", name = "inventory-db" }`
//! (globs work: `"inventory-*"`).
//!
//! - A **delay** holds the call before the inner service sees it (needs a
//!   Tokio runtime with its timers, `enable_time`, as for `tokio::time`;
//!   outside a runtime the delay is skipped, and still counted as
//!   `delayed`: the decision was made; on a runtime built without
//!   `enable_time`, the first delay panics, as `tokio::time::sleep` does).
//!   It holds none of the inner service's capacity while it waits: it
//!   calls a clone of the service, made ready when the delay is over.
//! - An **abort** fails the call without calling the inner service (and
//!   gives back at once what its readiness reserved), with a
//!   boxed [`InjectedFault`](crate::InjectedFault) as the error. The layer's
//!   error type is [`BoxError`](crate::BoxError), like `tower::timeout`;
//!   downcast to tell an injected fault from a real one.
//!
//! # Example
//!
//! ```
//! use mischief::{Chaos, InjectedFault, config::{Abort, Config, Match, Rule}, service::ChaosLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let chaos = Chaos::new(
//!     Config::new().rule(Rule::new("db-down").when(Match::new().name("inventory-db")).abort(Abort::status(503).percentage(100.0))),
//! )?;
//! let db = ServiceBuilder::new()
//!     .layer(ChaosLayer::new(chaos, "inventory-db"))
//!     .service(service_fn(|sku: u32| async move { Ok::<_, std::io::Error>(sku * 2) }));
//!
//! let err = db.oneshot(21).await.unwrap_err();
//! let fault = err.downcast_ref::<InjectedFault>().expect("an injected fault");
//! assert_eq!(fault.rule(), "db-down");
//! # Ok(()) }
//! ```

mod future;
mod layer;

pub use future::ResponseFuture;
pub use layer::{ChaosLayer, ChaosService};
