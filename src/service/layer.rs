use std::sync::Arc;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::ResponseFuture;
use crate::delayed::{Action, Delayed};
use crate::engine::Injection;
use crate::{BoxError, Chaos, Target};

/// Applies [`ChaosService`] to any service. See the [module docs](super).
#[derive(Clone, Debug)]
#[must_use]
pub struct ChaosLayer {
    chaos: Chaos,
    name: Arc<str>,
}

impl ChaosLayer {
    /// A layer driven by `chaos`, whose calls rules select by `name`.
    pub fn new(chaos: Chaos, name: impl Into<Arc<str>>) -> Self {
        Self { chaos, name: name.into() }
    }

    /// A layer driven by the process-wide [`Chaos::global`] handle.
    pub fn global(name: impl Into<Arc<str>>) -> Self {
        Self::new(Chaos::global().clone(), name)
    }
}

impl<S> Layer<S> for ChaosLayer {
    type Service = ChaosService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ChaosService { inner, chaos: self.chaos.clone(), name: self.name.clone() }
    }
}

/// Injects faults into the calls of a service. Made by [`ChaosLayer`].
///
/// The inner service must be `Clone`: a delayed call takes a clone of it,
/// made ready once the delay is over, so a delay holds none of its
/// capacity; what the service's readiness reserved is given back at once
/// (the service is replaced by a fresh clone, made ready for the next
/// call).
#[derive(Clone, Debug)]
pub struct ChaosService<S> {
    inner: S,
    chaos: Chaos,
    name: Arc<str>,
}

impl<S> ChaosService<S> {
    /// Wraps `inner`, driven by `chaos`, under `name`.
    pub fn new(inner: S, chaos: Chaos, name: impl Into<Arc<str>>) -> Self {
        Self { inner, chaos, name: name.into() }
    }

    /// The name rules select this service by.
    pub fn name(&self) -> &str {
        &self.name
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

impl<S, Req> Service<Req> for ChaosService<S>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, Req>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        // Disabled: one relaxed load, then straight to the inner service.
        // Enabled: the decision is made out of line, in a `#[cold]`
        // function, so that the caller's code has the off path as its
        // straight line (no taken jump) and keeps its registers for its own
        // work. The enabled path pays a call. Measured in `peers`, against
        // `bare`: +1.08 ns before, +0.01 after, on one thread and on two.
        // A call to an empty cold function ahead of an inlined decision was
        // tried too: as good on one thread, but the compiler did not keep
        // that layout in the two-thread loop (+0.8 ns there).
        if self.chaos.is_enabled() {
            match self.decide() {
                Action::Pass => {}
                Action::Observe => return ResponseFuture::observed(self.inner.call(req), &self.chaos),
                Action::Delay(injection) => return ResponseFuture::delayed(self.hold(injection, req)),
                Action::Fail(injection) => {
                    crate::delayed::release(&mut self.inner);
                    return ResponseFuture::abort(&injection);
                }
            }
        }
        ResponseFuture::inner(self.inner.call(req))
    }
}

impl<S> ChaosService<S> {
    /// What to do with an enabled call. `#[cold]` tells the compiler which
    /// way the `is_enabled` branch usually goes, not that the enabled path
    /// is rare: the engine's decision is inlined into it all the same.
    #[cold]
    #[inline(never)]
    fn decide(&self) -> Action {
        let decision = self.chaos.decide_enabled(&Target::new(crate::Door::Service).name(&self.name));
        Action::of(decision, &self.chaos)
    }

    /// The state of a delayed call.
    #[cold]
    #[inline(never)]
    fn hold<Req>(&mut self, injection: Box<Injection>, req: Req) -> Delayed<S, Req>
    where
        S: Clone,
    {
        Delayed::hold(&mut self.inner, req, injection, &self.chaos)
    }
}
