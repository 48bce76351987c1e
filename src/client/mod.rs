//! A [`reqwest_middleware`] middleware that injects faults into outbound
//! HTTP calls (feature `client`).
//!
//! Calls are described to the engine with door [`Door::Client`], their
//! method, the URL's host, port and path, and the request headers, so rules
//! select a dependency by host (`match = { door = "client", host =
//! "payments.internal" }`) and path. The same rules and decisions as the
//! inbound layers apply; the faults become what a caller of a failing
//! dependency sees:
//!
//! | fault | the caller gets |
//! |---|---|
//! | `delay` | the real response, late |
//! | `abort` | a synthetic response with the configured status, headers and body; nothing is sent |
//! | `error` | `Err(reqwest_middleware::Error::Middleware(..))` holding an [`InjectedFault`]; nothing is sent |
//! | `timeout` | the same error (kind `timeout`) after waiting `after`; nothing is sent |
//! | `partition` | the same error (kind `partition`) for every matching call, after `connect_delay` |
//! | `loss` | the same error (kind `loss`) after hanging for `timeout`; nothing is sent |
//!
//! A `reqwest::Error` cannot be built outside reqwest, so injected failures
//! are middleware errors: find the fault with [`injected_fault`] (or
//! `anyhow::Error::downcast_ref` on the middleware error). Retry middleware
//! such as `reqwest-retry` sees an injected 503 like a real one.
//!
//! # Example
//!
//! ```no_run
//! use mischief::Chaos;
//! use mischief::client::{ChaosMiddleware, injected_fault};
//! use mischief::config::{Config, Match, Partition, Rule};
//! use reqwest_middleware::ClientBuilder;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let chaos = Chaos::new(
//!     Config::new().rule(Rule::new("db-partition").when(Match::new().host("db.internal")).partition(Partition::new())),
//! )?;
//! let client = ClientBuilder::new(reqwest::Client::new()).with(ChaosMiddleware::new(chaos)).build();
//!
//! let err = client.get("http://db.internal/query").send().await.unwrap_err();
//! assert_eq!(injected_fault(&err).map(|f| f.rule()), Some("db-partition"));
//! # Ok(()) }
//! ```
//!
//! [`Door::Client`]: crate::Door::Client

use std::sync::Arc;

use http::Extensions;
use reqwest::{Request, Response, ResponseBuilderExt};
use reqwest_middleware::{Middleware, Next};

use crate::engine::Injection;
use crate::{Chaos, Door, FaultKind, InjectedFault, Target};

/// Injects faults into the calls of a `reqwest_middleware::ClientWithMiddleware`.
/// See the [module docs](self).
#[derive(Clone, Debug)]
pub struct ChaosMiddleware {
    chaos: Chaos,
    name: Option<Arc<str>>,
}

impl ChaosMiddleware {
    /// A middleware driven by `chaos`.
    pub fn new(chaos: Chaos) -> Self {
        Self { chaos, name: None }
    }

    /// A middleware driven by the process-wide [`Chaos::global`] handle.
    pub fn global() -> Self {
        Self::new(Chaos::global().clone())
    }

    /// Names this client, so rules can select it with `match.name`.
    #[must_use]
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    fn decide(&self, req: &Request) -> crate::Decision {
        let url = req.url();
        let mut target = Target::new(Door::Client).method(req.method()).path(url.path()).headers(req.headers());
        if let Some(host) = url.host_str() {
            target = target.host(host);
        }
        if let Some(port) = url.port_or_known_default() {
            target = target.port(port);
        }
        if let Some(name) = self.name.as_deref() {
            target = target.name(name);
        }
        self.chaos.decide_enabled(&target)
    }
}

#[async_trait::async_trait]
impl Middleware for ChaosMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if !self.chaos.is_enabled() {
            return next.run(req, extensions).await;
        }
        let decision = self.decide(&req);
        let observe = decision.observe();
        let Some(injection) = decision.into_injection() else {
            if !observe {
                return next.run(req, extensions).await;
            }
            let start = std::time::Instant::now();
            let out = next.run(req, extensions).await;
            let failed = out.as_ref().map_or(true, |res| res.status().is_server_error());
            self.chaos.record_outcome(failed, start);
            return out;
        };
        let wait = injection.total_wait();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        // A delay only, or a failure cancelled by the kill switch during the wait.
        if !injection.confirm_failure(&self.chaos) {
            // The fault is over: free its slot before the real call.
            drop(injection);
            return next.run(req, extensions).await;
        }
        match injection.failure_kind() {
            Some(FaultKind::Abort) => Ok(synthetic_response(&injection, &req)),
            _ => Err(reqwest_middleware::Error::middleware(injection.fault())),
        }
    }
}

/// The answer of an aborted call: the configured status, headers and body,
/// for the request's URL.
fn synthetic_response(injection: &Injection, req: &Request) -> Response {
    let Some(spec) = injection.abort_spec() else {
        // Only aborts get here; answer plainly rather than panic.
        let fault = injection.fault();
        let mut res = http::Response::new(fault.to_string());
        *res.status_mut() = fault.http_status();
        return Response::from(res);
    };
    let mut builder = http::Response::builder().status(spec.status).url(req.url().clone());
    if let Some(headers) = builder.headers_mut() {
        headers.clone_from(&spec.http_headers);
    }
    match builder.body(spec.body.clone()) {
        Ok(res) => Response::from(res),
        Err(_) => Response::from(http::Response::new(spec.body.clone())),
    }
}

/// The [`InjectedFault`] inside an error from a client with
/// [`ChaosMiddleware`], if mischief caused it.
///
/// ```
/// # fn handle(err: reqwest_middleware::Error) {
/// match mischief::client::injected_fault(&err) {
///     Some(fault) => eprintln!("chaos: {} by rule {}", fault.kind(), fault.rule()),
///     None => eprintln!("a real failure: {err}"),
/// }
/// # }
/// ```
pub fn injected_fault(err: &reqwest_middleware::Error) -> Option<&InjectedFault> {
    match err {
        reqwest_middleware::Error::Middleware(e) => e.downcast_ref::<InjectedFault>(),
        _ => None,
    }
}
