use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::future::{Fault, ResponseFuture};
use super::{AbortBody, EmptyBody};
use crate::delayed::{Action, ColdBox, Delayed};
use crate::engine::Injection;
use crate::{Chaos, Door, Target};

/// The largest inner future, in bytes, around which the door builds its
/// response future inline in the caller; around a larger one it builds it
/// in a function of its own.
///
/// Inlined, the door's paths (pass, observed, faulted) write one temporary,
/// and where the caller keeps the future inside its own (every Tower layer
/// above this one, axum's `Router::layer`), that temporary is copied whole
/// into it. A small future lives in registers and costs nothing to move; a
/// large one is copied by a call to `memcpy`. Built out of line, the future
/// is written straight into the caller's slot, for the cost of a call;
/// where the caller polls the future in place (hyper, when the layer wraps
/// the whole app), there is no copy to save and the call is a loss.
///
/// Instructions per request or call, counted with callgrind (out of line
/// against inline; negative is a saving):
///
/// | where | future | switched off | enabled |
/// |---|---|---|---|
/// | axum, `Router::layer` (`benches/server_instructions.sh`) | 320 B | −61 | −50 |
/// | axum, the whole app wrapped (`--outer`) | 320 B | +21 | +21 |
/// | polled in place, inner call inlined | 120-136 B | +21..+25 | |
/// | the same | 144 B | +8 | |
/// | the same | 160-304 B | −9 | |
/// | the same | 496 B | −44 | |
/// | polled in place, inner call not inlined | 120-496 B | +25..+29 | |
///
/// The line is drawn where the in-place figures cross. Futures of real
/// services are above it (a request alone is 240 bytes), and the placements
/// that keep the future inside another (`Router::layer`, as in the README;
/// tonic, whose own layers wrap the server's) gain more than the whole-app
/// placement loses. See BENCHMARKS.md, "Sitting S".
const INLINE_FUTURE_MAX: usize = 144;

/// Injects faults into the requests of an HTTP service. Made by
/// [`ChaosLayer`](super::ChaosLayer); see the [module docs](super).
///
/// The inner service must be `Clone`: a delayed request keeps the service
/// that was polled ready and leaves a clone in its place, as Tower requires.
#[derive(Clone)]
pub struct ChaosService<S, M = EmptyBody> {
    inner: S,
    chaos: Chaos,
    name: Option<Arc<str>>,
    body: M,
}

impl<S> ChaosService<S> {
    /// Wraps `inner`, driven by `chaos`.
    pub fn new(inner: S, chaos: Chaos) -> Self {
        Self::from_parts(inner, chaos, None, EmptyBody)
    }
}

impl<S, M> ChaosService<S, M> {
    pub(crate) fn from_parts(inner: S, chaos: Chaos, name: Option<Arc<str>>, body: M) -> Self {
        Self { inner, chaos, name, body }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, M, ReqBody, ResBody> Service<Request<ReqBody>> for ChaosService<S, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    M: AbortBody<ResBody> + Clone,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, M>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    // `#[inline]`, not `#[inline(always)]`: where it is inlined, the off
    // and pass paths came out 14 instructions shorter
    // (`benches/instructions.sh`).
    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // Decided at compile time, for each inner service; see
        // `INLINE_FUTURE_MAX` for why and the figures.
        if const { size_of::<S::Future>() <= INLINE_FUTURE_MAX } {
            self.start(req)
        } else {
            self.start_out_of_line(req)
        }
    }
}

impl<S, M> ChaosService<S, M> {
    /// The call, for an inner future that is [large](INLINE_FUTURE_MAX):
    /// built here, it is written once, straight into the caller's slot.
    #[inline(never)]
    fn start_out_of_line<ReqBody, ResBody>(&mut self, req: Request<ReqBody>) -> ResponseFuture<S, ReqBody, M>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
        M: AbortBody<ResBody> + Clone,
    {
        self.start(req)
    }

    /// The call: the response future, inner or faulted.
    #[inline(always)]
    fn start<ReqBody, ResBody>(&mut self, req: Request<ReqBody>) -> ResponseFuture<S, ReqBody, M>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
        M: AbortBody<ResBody> + Clone,
    {
        // Disabled: one relaxed load, then straight to the inner service.
        // Enabled: the decision only borrows the request; only a fault moves
        // it elsewhere.
        if self.chaos.is_enabled() {
            match self.decide(&req) {
                Action::Pass => {}
                Action::Observe => return ResponseFuture::observed(self.inner.call(req), &self.chaos),
                // Only the boxed state is built out of line: were the
                // response future returned from there, its address would
                // escape, and the compiler would keep every call's future in
                // memory.
                Action::Delay(injection) => return ResponseFuture::faulted(self.delay(injection, req)),
                Action::Fail(injection) => {
                    return ResponseFuture::faulted(Fault::aborted(&injection, &req, &self.body));
                }
            }
        }
        ResponseFuture::inner(self.inner.call(req))
    }
}

impl<S, M> ChaosService<S, M> {
    /// What to do with an enabled call: out of line, and `#[cold]` so that
    /// the compiler lays the off path out as the straight line (see the
    /// generic layer's `call`).
    #[cold]
    #[inline(never)]
    fn decide<ReqBody>(&self, req: &Request<ReqBody>) -> Action {
        let target = Target::from_request(Door::Http, req);
        let decision = match self.name.as_deref() {
            Some(name) => self.chaos.decide_enabled(&target.name(name)),
            None => self.chaos.decide_enabled(&target),
        };
        Action::of(decision, &self.chaos)
    }

    /// The state of a delayed call.
    #[cold]
    #[inline(never)]
    fn delay<ReqBody, ResBody>(
        &mut self,
        injection: Box<Injection>,
        req: Request<ReqBody>,
    ) -> ColdBox<Fault<S, ReqBody, M>>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
        M: AbortBody<ResBody> + Clone,
    {
        Fault::delayed(Delayed::hold(&mut self.inner, req, injection, &self.chaos), self.body.clone())
    }
}

impl<S: fmt::Debug, M> fmt::Debug for ChaosService<S, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChaosService")
            .field("inner", &self.inner)
            .field("chaos", &self.chaos)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
