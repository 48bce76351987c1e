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
/// whole response future inline in the caller (`start`); around a larger
/// one it takes the large path (`start_large`, last paragraph).
///
/// The table is sitting S's, whose large path built the whole future in a
/// function of its own. Inlined, the door's paths (pass, observed, faulted) write one temporary,
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
/// that keep the future inside another (`Router::layer`; tonic, whose own
/// layers wrap the server's) gain more than the whole-app placement (the
/// README's) loses. See benches/HISTORY.md, "Sitting S".
///
/// Around a large future, the flag's test and the decision are inline and
/// the rest out of line (`start_large`): switched off, the inner service is
/// called by `call_inner`, whose return value is the door's own slot. Against
/// the whole call out of line (the table above), that counted about −60
/// switched off under `Router::layer` (+83 over the no-op layer, from +145)
/// and the same as before with the whole app wrapped (+318 over `bare`,
/// from +316); switched on, +27 and +57 (+557 and +754): the request is
/// copied once more on the way to `act`. Of the arrangements tried
/// (benches/HISTORY.md, "Sitting T"), this is the one that never costs the off
/// path more, in either placement. (Sitting W: the enabled call that passes
/// built as the off path, not in `act`, counted 27 fewer around the whole
/// app and, through `Router::layer`, +107 switched off and +58 enabled.)
const INLINE_FUTURE_MAX: usize = 144;

/// Injects faults into the requests of an HTTP service. Made by
/// [`ChaosLayer`](super::ChaosLayer); see the [module docs](super).
///
/// The inner service must be `Clone`: a delayed request takes a clone of it,
/// made ready once the delay is over, so a delay holds none of its
/// capacity; what the service's readiness reserved is given back at once
/// (the service is replaced by a fresh clone, made ready for the next
/// request).
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
        if const { size_of::<S::Future>() <= INLINE_FUTURE_MAX } { self.start(req) } else { self.start_large(req) }
    }
}

impl<S, M> ChaosService<S, M> {
    /// The call, for an inner future that is [large](INLINE_FUTURE_MAX).
    ///
    /// Switched off, the inner service is called through [`call_inner`],
    /// which writes its future straight into this door's. Switched on, the
    /// decision borrows the request, and everything after it is out of
    /// line in [`act`](Self::act): the paths then do not meet in a
    /// temporary that the caller copies whole.
    ///
    /// The two paths are functions of their own (inlined) so that the off
    /// path's request is never one that the decision borrowed: where the
    /// request is a local of the caller (hyper's, with the whole app
    /// wrapped), a borrow anywhere in the function made the compiler copy
    /// it (240 bytes) before the off path's call too.
    #[inline(always)]
    fn start_large<ReqBody, ResBody>(&mut self, req: Request<ReqBody>) -> ResponseFuture<S, ReqBody, M>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
        M: AbortBody<ResBody> + Clone,
    {
        if self.chaos.is_enabled() {
            return self.start_enabled(req);
        }
        self.start_off(req)
    }

    /// The off path of [`start_large`](Self::start_large).
    #[inline(always)]
    fn start_off<ReqBody, ResBody>(&mut self, req: Request<ReqBody>) -> ResponseFuture<S, ReqBody, M>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
        M: AbortBody<ResBody> + Clone,
    {
        ResponseFuture::inner(call_inner(&mut self.inner, req))
    }

    /// The enabled path of [`start_large`](Self::start_large).
    #[inline(always)]
    fn start_enabled<ReqBody, ResBody>(&mut self, req: Request<ReqBody>) -> ResponseFuture<S, ReqBody, M>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
        M: AbortBody<ResBody> + Clone,
    {
        let action = self.decide(&req);
        self.act(action, req)
    }

    /// What an enabled call with a large inner future does once decided:
    /// the response future, built here and written once into the caller's
    /// slot.
    #[cold]
    #[inline(never)]
    fn act<ReqBody, ResBody>(&mut self, action: Action, req: Request<ReqBody>) -> ResponseFuture<S, ReqBody, M>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
        M: AbortBody<ResBody> + Clone,
    {
        match action {
            Action::Pass => ResponseFuture::inner(call_inner(&mut self.inner, req)),
            Action::Observe => ResponseFuture::observed(call_inner(&mut self.inner, req), &self.chaos),
            Action::Delay(injection) => ResponseFuture::faulted(self.delay(injection, req)),
            Action::Fail(injection) => {
                crate::delayed::release(&mut self.inner);
                ResponseFuture::faulted(Fault::aborted(&injection, &req, &self.body))
            }
        }
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
                    crate::delayed::release(&mut self.inner);
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

/// Calls `svc`, out of line, for a door whose inner future is
/// [large](INLINE_FUTURE_MAX).
///
/// Inlined, the call of axum's `Route` (each route under `Router::layer`)
/// built its future in a temporary, wrote `top_level = false` into it, and
/// had the temporary copied whole into the door's future (320 bytes, a
/// `memcpy` of 64 instructions). Here, the future is the return value, and
/// the compiler writes it straight into the door's.
#[inline(never)]
fn call_inner<S: Service<R>, R>(svc: &mut S, req: R) -> S::Future {
    svc.call(req)
}
