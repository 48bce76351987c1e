//! A [`reqwest_middleware`] middleware that injects faults into outbound
//! HTTP calls (feature `client`).
//!
//! Calls are described to the engine with door [`Door::Client`], their
//! method, the URL's host, port and path, and the request headers, so rules
//! select a dependency by host (`match = { door = "client", host =
//! "payments.internal" }`) and path. The headers are the request's own: a
//! client's `default_headers` are added by reqwest after the middleware,
//! so rules do not see them. The same rules and decisions as the
//! inbound layers apply; the faults become what a caller of a failing
//! dependency sees:
//!
//! | fault | the caller gets |
//! |---|---|
//! | `delay` | the real response, late |
//! | `abort` | a synthetic response with the configured status, headers and body (a trailers-only response with the `grpc_status` to a gRPC request; no body to a `HEAD` request or for a 204 or 304, as on the wire); nothing is sent |
//! | `error` | `Err(reqwest_middleware::Error::Middleware(..))` holding an [`InjectedFault`]; nothing is sent |
//! | `timeout` | the same error (kind `timeout`) after waiting `after`; nothing is sent |
//! | `partition` | the same error (kind `partition`) for every matching call, after `connect_delay` |
//! | `loss` | the same error (kind `loss`) after hanging for `timeout`; nothing is sent |
//!
//! A `reqwest::Error` cannot be built outside reqwest, so injected failures
//! are middleware errors: find the fault with [`injected_fault`] (or
//! `anyhow::Error::downcast_ref` on the middleware error). Their
//! `is_timeout()` and `is_connect()` are `false`; ask the fault's
//! [`kind`](InjectedFault::kind) instead.
//!
//! # Retries
//!
//! Retry middleware such as `reqwest-retry`, placed before this one (so
//! each attempt is decided anew), sees an injected 503 like a real one. Its
//! default strategy treats every middleware error as fatal, though, so an
//! injected timeout, loss, partition or connection error would never be
//! retried, where the real ones would be. With the `retry` feature, wrap
//! the strategy in [`RetryInjected`] and they are retried as reqwest's own
//! timeouts and connection errors are; [`injected_fault`] also finds the
//! fault inside reqwest-retry's `RetryError`, which wraps every error the
//! retry middleware returns (without the `retry` feature it does not look
//! there, and finds nothing behind a retry middleware).
//!
//! ```
//! # #[cfg(feature = "retry")] {
//! use mischief::client::{ChaosMiddleware, RetryInjected};
//! use reqwest_retry::{RetryTransientMiddleware, policies::ExponentialBackoff};
//!
//! # let chaos = mischief::Chaos::disabled();
//! let policy = ExponentialBackoff::builder().build_with_max_retries(3);
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(RetryTransientMiddleware::new_with_policy_and_strategy(policy, RetryInjected::default()))
//!     .with(ChaosMiddleware::new(chaos))
//!     .build();
//! # }
//! ```
//!
//! # Timeouts
//!
//! A request's timeout (`RequestBuilder::timeout`) counts the injected
//! wait: a wait that reaches it ends there, and the call fails with an
//! injected fault of kind `timeout` (nothing is sent); a shorter one leaves
//! the real call the rest of the timeout, by the clock (a wait that a busy
//! runtime wakes after the timeout fails the call the same way). Should
//! the real call then time out, the delay may have caused it: the
//! guardrails' abort conditions count its latency for `latency_p99` (a
//! lower bound of the dependency's, so a dependency that hangs trips a
//! condition set below what the delay leaves of the timeout), and leave it
//! out of the error rate. A client's timeout
//! (`reqwest::ClientBuilder::timeout`) is out of the middleware's sight:
//! reqwest starts it after the middleware, so an injected wait comes on top
//! of it.
//!
//! # Panics
//!
//! An injected wait is a `tokio::time::sleep`: on a Tokio runtime built
//! without `enable_time` (reqwest's async client needs a Tokio runtime
//! anyway), the first one panics.
//!
//! # Example
//!
//! ```
//! use mischief::Chaos;
//! use mischief::client::{ChaosMiddleware, injected_fault};
//! use mischief::config::{Config, Match, Partition, Rule};
//! use reqwest_middleware::ClientBuilder;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
#[must_use]
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

    /// Sends the request on, timed, and reports its outcome (a 5xx, a gRPC
    /// error status in the response head or an error fails it) to the
    /// guardrails' abort conditions. When an injected delay shortened the
    /// request's timeout (`cut`) and the call then times out, the
    /// dependency was slower than what the delay left it, but perhaps not
    /// slower than the whole timeout: its latency (a lower bound of the
    /// dependency's, which a dependency that hangs still pushes past a
    /// latency condition set below what the delay leaves) counts for the
    /// percentile, and the call not at all for the error rate.
    async fn observed(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
        cut: bool,
    ) -> reqwest_middleware::Result<Response> {
        let start = std::time::Instant::now();
        let out = next.run(req, extensions).await;
        let failed = match &out {
            Ok(res) => crate::engine::failed_response(res.status(), res.headers()),
            Err(reqwest_middleware::Error::Reqwest(e)) if cut && e.is_timeout() => {
                self.chaos.record_latency(start);
                return out;
            }
            Err(_) => true,
        };
        self.chaos.record_outcome(failed, start);
        out
    }
}

#[async_trait::async_trait]
impl Middleware for ChaosMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if !self.chaos.is_enabled() {
            return next.run(req, extensions).await;
        }
        let decision = self.decide(&req);
        let observe = decision.observe();
        let Some(mut injection) = decision.into_injection() else {
            if !observe {
                return next.run(req, extensions).await;
            }
            return self.observed(req, extensions, next, false).await;
        };
        let wait = injection.total_wait();
        // The request's own timeout (reqwest starts it only after the
        // middleware) counts the injected wait: the wait is cut short at the
        // timeout, which fails the call, and what is left of the timeout
        // (by the clock: a busy runtime may wake the wait late) goes to the
        // real call.
        let mut cut = false;
        if let Some(timeout) = req.timeout().copied()
            && !wait.is_zero()
        {
            let start = std::time::Instant::now();
            if wait >= timeout {
                tokio::time::sleep(timeout).await;
                return Err(reqwest_middleware::Error::middleware(injection.deadline_passed()));
            }
            tokio::time::sleep(wait).await;
            match timeout.checked_sub(start.elapsed()) {
                Some(left) if !left.is_zero() => *req.timeout_mut() = Some(left),
                _ => return Err(reqwest_middleware::Error::middleware(injection.deadline_passed())),
            }
            cut = true;
        } else if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        // A delay only, or a failure cancelled by the kill switch (or a trip)
        // since the decision.
        if !injection.confirm_failure(&self.chaos) {
            // The fault is over: free its slot before the real call, timed
            // from here for the guardrails if they want its outcome.
            let observe = injection.observe;
            drop(injection);
            if !observe {
                return next.run(req, extensions).await;
            }
            return self.observed(req, extensions, next, cut).await;
        }
        match injection.failure_kind() {
            Some(FaultKind::Abort) => Ok(synthetic_response(&injection, &req)),
            _ => Err(reqwest_middleware::Error::middleware(injection.fault())),
        }
    }
}

/// The answer of an aborted call, as the HTTP layer's answer reaches a
/// client: the configured status, headers and body (a trailers-only gRPC
/// response for a gRPC request), for the request's URL and HTTP version,
/// with a `content-length`; no body for a `HEAD` request or a status that
/// has none (1xx, 204, 304), as on the wire.
fn synthetic_response(injection: &Injection, req: &Request) -> Response {
    let asked = crate::answer::Asked::new(req.method(), req.headers());
    let res = crate::answer::fault_answer(injection, asked, |bytes| bytes, true, true);
    let (parts, body) = res.into_parts();
    let mut builder = http::Response::builder().status(parts.status).version(req.version()).url(req.url().clone());
    if let Some(h) = builder.headers_mut() {
        *h = parts.headers;
    }
    // The builder fails only on an invalid part, and every part is typed.
    builder.body(body.clone()).map_or_else(|_| Response::from(http::Response::new(body)), Response::from)
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
///
/// With the `retry` feature, a fault inside reqwest-retry's `RetryError`
/// (which wraps every error that middleware returns) is found too.
pub fn injected_fault(err: &reqwest_middleware::Error) -> Option<&InjectedFault> {
    let reqwest_middleware::Error::Middleware(e) = err else { return None };
    #[cfg(feature = "retry")]
    if let Some(retry) = e.downcast_ref::<reqwest_retry::RetryError>() {
        return match retry {
            reqwest_retry::RetryError::WithRetries { err, .. } | reqwest_retry::RetryError::Error(err) => {
                injected_fault(err)
            }
        };
    }
    e.downcast_ref::<InjectedFault>()
}

/// A `reqwest-retry` strategy (feature `retry`) that retries injected
/// network faults as the real ones are retried, and asks `S` about
/// everything else: an injected `timeout`, `loss`, `partition` or `error`
/// (a connection error) is [`Transient`](reqwest_retry::Retryable::Transient),
/// like reqwest's own timeouts and connection errors under
/// `DefaultRetryableStrategy`. An injected abort is a response, which `S`
/// judges by its status. See the [module docs](self#retries).
#[cfg(feature = "retry")]
#[derive(Clone, Copy, Debug)]
pub struct RetryInjected<S = reqwest_retry::DefaultRetryableStrategy>(pub S);

/// Around reqwest-retry's `DefaultRetryableStrategy`.
#[cfg(feature = "retry")]
impl Default for RetryInjected {
    fn default() -> Self {
        RetryInjected(reqwest_retry::DefaultRetryableStrategy)
    }
}

#[cfg(feature = "retry")]
impl<S: reqwest_retry::RetryableStrategy> reqwest_retry::RetryableStrategy for RetryInjected<S> {
    fn handle(&self, res: &Result<Response, reqwest_middleware::Error>) -> Option<reqwest_retry::Retryable> {
        if let Err(err) = res
            && let Some(fault) = injected_fault(err)
        {
            return Some(match fault.kind() {
                FaultKind::Timeout | FaultKind::Loss | FaultKind::Partition | FaultKind::Error => {
                    reqwest_retry::Retryable::Transient
                }
                FaultKind::Abort | FaultKind::Delay => reqwest_retry::Retryable::Fatal,
            });
        }
        self.0.handle(res)
    }
}
