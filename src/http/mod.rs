//! A Tower layer that injects faults into `http::Request` services: axum
//! routers, hyper services and tonic servers.
//!
//! Requests are described to the engine with door [`Door::Http`], their
//! method, path, host, headers and (for gRPC requests) service and method.
//!
//! - A **delay** holds the request before the inner service sees it. It
//!   needs a Tokio runtime with its timers (`enable_time`; axum, hyper and
//!   tonic servers always run in one; on a runtime built without
//!   `enable_time`, the first delay panics); outside a runtime the delay is
//!   skipped (and still counted as `delayed`: the decision was made). A
//!   delayed request holds none of the inner service's capacity while it
//!   waits (a concurrency limit's permit, for one): it calls a clone of
//!   the service, made ready when the delay is over, and ends with the
//!   service's error if that fails to get ready.
//! - An **abort** answers without calling the inner service, and gives
//!   back at once what the service's readiness reserved. An HTTP request
//!   gets the configured status, headers, `cache-control: no-store` (unless
//!   configured otherwise: no cache should keep serving an injected answer
//!   after the fault ends) and an `x-mischief-rule` header naming the rule
//!   (percent-encoded as a `grpc-message` is: any byte outside printable
//!   ASCII, and `%`, as `%XX`). As on the wire,
//!   a `HEAD` request's answer has a `GET`'s headers and no body, and a
//!   status without a body (1xx, 204, 304) gets none. A gRPC request
//!   (`content-type: application/grpc*`, gRPC-Web included) gets a
//!   trailers-only response in its own content type: HTTP 200 with
//!   `grpc-status` (the configured code, or `UNAVAILABLE`), `grpc-message`
//!   and the `x-mischief-rule` metadata, which clients such as tonic
//!   report as a `Status` with that code (the rule in `Status::metadata`).
//!
//! The decision is made in `call`, so after the inner service said it was
//! ready (Tower's `poll_ready` comes first): behind a saturated concurrency
//! limit inside the layer, an abort waits for capacity as any request
//! does. Put limits that should not delay aborts outside the layer. The
//! inner service must be `Clone` (every axum router and tonic server is):
//! a delayed request calls a clone.
//!
//! The kill switch ([`Chaos::set_enabled`](crate::Chaos::set_enabled))
//! stops new faults and the aborts of delays in flight, but a wait already
//! running ends when it would have: a request held by a long delay is held
//! to its end.
//!
//! Abort responses use the inner service's body type. By default the body is
//! `ResBody::default()` (empty), which works with every body type that
//! implements `Default` (axum's, tonic's, `http_body_util::Empty`/`Full`).
//! To send the configured body or message, tell the layer how to build a
//! body from bytes with [`ChaosLayer::abort_body`].
//!
//! # Example
//!
//! Around a whole axum app:
//!
//! ```
//! use axum::{Router, routing::get};
//! use mischief::{Chaos, config::{Abort, Config, Match, Rule}, http::ChaosLayer};
//! use tower::Layer;
//!
//! let chaos = Chaos::new(
//!     Config::new().rule(Rule::new("flaky-users").when(Match::new().path_prefix("/users")).abort(Abort::status(503).percentage(5.0))),
//! )?;
//! let router: Router = Router::new().route("/users/{id}", get(|| async { "alice" }));
//! let app = ChaosLayer::new(chaos).abort_body(axum::body::Body::from).layer(router.with_state(()));
//! # fn is_service<S: tower::Service<axum::extract::Request, Response = axum::response::Response>>(_: &S) {}
//! # is_service(&app);
//! # Ok::<(), mischief::ConfigError>(())
//! ```
//!
//! The router gets its state before it is wrapped (`.with_state(..)`, or
//! `.with_state(())` for a router without state): axum then turns its
//! routes into services once, as `axum::serve` does for a bare router; a
//! wrapped router without it does so on every request. Serve the wrapped
//! router with `into_make_service` (`into_make_service_with_connect_info`
//! works too):
//!
//! ```no_run
//! # use axum::{Router, ServiceExt, extract::Request};
//! # use tower::Layer;
//! # async fn run(router: Router) -> Result<(), Box<dyn std::error::Error>> {
//! let app = mischief::http::ChaosLayer::new(mischief::Chaos::from_env()?).layer(router.with_state(()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await?;
//! # Ok(()) }
//! ```
//!
//! With tonic, `Server::builder().layer(..)` wraps every service of the
//! server. tonic's own per-connection concurrency limit, load shedding and
//! request timeout (`Server::timeout`, and a client's `grpc-timeout`) sit
//! outside it: a delayed request holds a permit of
//! `concurrency_limit_per_connection`, and a delay past a timeout ends the
//! call as `CANCELLED` ("Timeout expired") instead of the configured
//! outcome.
//!
//! ```no_run
//! # async fn run(svc: tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>) -> Result<(), Box<dyn std::error::Error>> {
//! let chaos = mischief::Chaos::from_env()?;
//! tonic::transport::Server::builder()
//!     .layer(mischief::http::ChaosLayer::new(chaos))
//!     .add_service(svc)
//!     .serve("127.0.0.1:50051".parse()?)
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Where to put the layer
//!
//! Around the whole app, as above, the layer runs once per request, before
//! routing: an aborted request costs no routing, and every route and
//! fallback of the router is covered, wherever it was added.
//!
//! axum's `Router::layer` works too, as with any Tower layer. It covers the
//! routes and fallback added before it; added to the top-level router
//! after all of them, it sees the same requests (the full path, and those
//! no route matches):
//!
//! ```
//! use axum::{Router, routing::get};
//! use mischief::{Chaos, http::ChaosLayer};
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "alice" }))
//!     .layer(ChaosLayer::new(Chaos::disabled()).abort_body(axum::body::Body::from));
//! ```
//!
//! Put one layer per handle on a request's way: two, nested on one
//! handle, decide each request twice, and under abort conditions the outer
//! one counts the inner one's aborts as the service's failures.
//!
//! Layers added with `Router::layer` sit inside a layer that wraps the
//! whole app, so they never see its aborts: a CORS layer does not add its
//! headers to them (a browser reports a CORS failure instead of the 503),
//! and a trace or metrics layer does not count them. Wrap the app in those
//! layers too (outside mischief's), or add mischief with `Router::layer`
//! before them.
//!
//! There the layer wraps each route (and the fallback), and axum boxes and
//! clones the layered route for every request, which costs something
//! whatever the layer does. Counted in the load test's server
//! (`benches/server_instructions.sh`, a "hello" route; BENCHMARKS.md has
//! the runs), mischief switched on and not injecting (16 rules that do not
//! match, then a catch-all at 0%) costs about 1,460 instructions per
//! request over the bare server through `Router::layer`, and about 600
//! around the whole router (about 775 without `.with_state(())`).
//!
//! [`Door::Http`]: crate::Door::Http

mod future;
mod layer;
mod response;
mod service;

pub use future::ResponseFuture;
pub use layer::ChaosLayer;
pub use response::{AbortBody, EmptyBody};
pub use service::ChaosService;
