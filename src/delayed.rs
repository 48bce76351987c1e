//! A call held back by an injected delay: shared by the Tower doors.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower_service::Service;

use crate::Chaos;
use crate::engine::Injection;

pin_project! {
    /// A clone of the service (not yet ready), the request and the
    /// injection, waiting for the delay to elapse; then for the clone to be
    /// ready. The doors keep it in a box, so a pass-through future stays as
    /// small as the inner one.
    pub(crate) struct Delayed<S, Req> {
        #[pin]
        sleep: Sleep,
        call: Option<(S, Req)>,
        injection: Option<Box<Injection>>,
        // The delay is over and the call goes on: the guardrails want its
        // outcome (decided once, when the delay ended).
        observe: bool,
        chaos: Chaos,
    }
}

/// What to do once the delay is over.
pub(crate) enum AfterDelay<S, Req, E> {
    /// Go on: call the service (ready now) with the request, and report the
    /// outcome to the guardrails' abort conditions if there is an observer
    /// (timed from here: the service's own latency, without the injected
    /// wait).
    Call(S, Req, Option<Observer>),
    /// Fail the call (the request is handed back so the door can inspect it).
    Fail(Box<Injection>, Req),
    /// The service failed while getting ready: the call ends with its error.
    NotReady(E),
}

impl<S, Req> Delayed<S, Req> {
    fn new(delay: Duration, svc: S, req: Req, injection: Box<Injection>, chaos: &Chaos) -> Self {
        Delayed {
            sleep: tokio::time::sleep(delay),
            call: Some((svc, req)),
            injection: Some(injection),
            observe: false,
            chaos: chaos.clone(),
        }
    }

    /// Polls the delay, then the service's readiness. Must not be polled
    /// again after it returned `Ready`.
    pub(crate) fn poll_delay(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<AfterDelay<S, Req, S::Error>>>
    where
        S: Service<Req>,
    {
        let this = self.project();
        ready!(this.sleep.poll(cx));
        // Once, when the delay ends: fail the call, or let it go on.
        if let Some(mut injection) = this.injection.take() {
            if injection.confirm_failure(this.chaos) {
                return Poll::Ready(this.call.take().map(|(_, req)| AfterDelay::Fail(injection, req)));
            }
            *this.observe = injection.observe;
        }
        let Some((svc, _)) = this.call.as_mut() else {
            return Poll::Ready(None);
        };
        if let Err(e) = ready!(svc.poll_ready(cx)) {
            *this.call = None;
            return Poll::Ready(Some(AfterDelay::NotReady(e)));
        }
        let observer = this.observe.then(|| Observer::new(this.chaos));
        Poll::Ready(this.call.take().map(|(svc, req)| AfterDelay::Call(svc, req, observer)))
    }
}

/// Can this thread sleep? A delay needs a Tokio runtime; without one the
/// delay is skipped rather than panicking. The runtime must also have its
/// time driver (`enable_time`, as `#[tokio::main]` and `enable_all` give):
/// Tokio offers no way to ask, and on a runtime without it creating the
/// sleep panics, as `tokio::time::sleep` does everywhere.
pub(crate) fn can_sleep() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// What a door does with a call once the engine has decided.
pub(crate) enum Action {
    /// Call the inner service now.
    Pass,
    /// Call the inner service now, and report the outcome to the
    /// guardrails' abort conditions.
    Observe,
    /// Hold the call for the injection's total wait (see [`Delayed::hold`]),
    /// then go on or fail it.
    Delay(Box<Injection>),
    /// Fail the call at once (already counted and traced).
    Fail(Box<Injection>),
}

impl Action {
    /// Turns a decision into an action: a wait needs a runtime to sleep in
    /// (without one it is skipped), and a failure is confirmed.
    #[inline]
    pub(crate) fn of(decision: crate::Decision, chaos: &Chaos) -> Self {
        if decision.is_pass() {
            return if decision.observe() { Action::Observe } else { Action::Pass };
        }
        let Some(mut injection) = decision.into_injection() else {
            return Action::Pass;
        };
        if !injection.total_wait().is_zero() && can_sleep() {
            Action::Delay(injection)
        } else if injection.confirm_failure(chaos) {
            Action::Fail(injection)
        } else if injection.observe {
            // A delay that came out as zero: the call goes on at once.
            Action::Observe
        } else {
            Action::Pass
        }
    }
}

impl<S: Clone, Req> Delayed<S, Req> {
    /// Holds the request with a clone of `inner`, which is made ready only
    /// once the delay is over: a delayed call holds none of the service's
    /// capacity (a concurrency limit's permit, a buffer's slot, a rate
    /// limit's token) while it waits, as a request slowed down on the
    /// network would not.
    ///
    /// What `inner`'s readiness reserved is given back too: `inner` is
    /// replaced by a fresh clone (the caller polls it ready again before its
    /// next call, as Tower requires after every call). Kept ready, it would
    /// hold its reservation until that next call, and a caller that waits
    /// for each answer before the next call (`ready().await?.call(..)` in a
    /// loop, a buffer's worker) would wait forever for a delayed call that
    /// needs the reservation its own service holds.
    pub(crate) fn hold(inner: &mut S, req: Req, injection: Box<Injection>, chaos: &Chaos) -> Self {
        release(inner);
        Self::new(injection.total_wait(), inner.clone(), req, injection, chaos)
    }
}

/// Gives back what `inner`'s readiness reserved, for a call that will not
/// call it now (failed at once, or held by [`Delayed::hold`]): `inner` is
/// replaced by a fresh clone, and the ready one is dropped with its
/// reservation. Kept ready, it would hold a `ConcurrencyLimit`'s permit or
/// a `Buffer`'s slot until its next call.
#[cold]
#[inline(never)]
pub(crate) fn release<S: Clone>(inner: &mut S) {
    *inner = inner.clone();
}

/// The boxed state of a faulted call, inside a door's response future.
///
/// Its drop is split in two: an inlined check, and the actual drop of the
/// state out of line. The drop of a response future that was never faulted
/// then stays small enough to inline, instead of being a call that forces the
/// response in flight to be spilled and reloaded around it.
pub(crate) struct ColdBox<T>(Option<Pin<Box<T>>>);

impl<T> ColdBox<T> {
    pub(crate) fn new(value: T) -> Self {
        ColdBox(Some(Box::pin(value)))
    }

    /// No state: the call was not faulted, or its state is gone.
    #[inline(always)]
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) const fn none() -> Self {
        ColdBox(None)
    }

    /// Drops the state, out of line (the check stays inline).
    #[inline]
    pub(crate) fn clear(&mut self) {
        if let Some(state) = self.0.take() {
            drop_cold(state);
        }
    }

    /// The state; `None` if there is none (see [`ColdBox::none`]).
    pub(crate) fn as_mut(&mut self) -> Option<Pin<&mut T>> {
        self.0.as_mut().map(Pin::as_mut)
    }

    pub(crate) fn get(&self) -> Option<&T> {
        self.0.as_deref()
    }
}

impl<T> Drop for ColdBox<T> {
    #[inline]
    fn drop(&mut self) {
        self.clear();
    }
}

/// What an observed call (one whose outcome the guardrails want) carries
/// beside the inner future: when it started, and which engine to report to,
/// by id. It is plain data, with no drop code, so that the drop of a
/// pass-through future stays small enough to inline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observer {
    start: std::time::Instant,
    engine: u64,
    /// The plan installed when the call was decided.
    stamp: u64,
}

impl Observer {
    pub(crate) fn new(chaos: &Chaos) -> Self {
        Observer { start: std::time::Instant::now(), engine: chaos.id(), stamp: chaos.plan_stamp() }
    }

    /// Reports the outcome of the call to its engine, if that is alive.
    #[cold]
    pub(crate) fn record(&self, failed: bool) {
        Chaos::record_observed(self.engine, self.stamp, failed, self.start);
    }
}

#[cold]
#[inline(never)]
fn drop_cold<T>(value: T) {
    drop(value);
}
