//! A call held back by an injected delay: shared by the Tower doors.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::engine::Injection;
use crate::Chaos;

pin_project! {
    /// The service (already ready), the request and the injection, waiting
    /// for the delay to elapse. Boxed by the doors, so a pass-through future
    /// stays as small as the inner one.
    pub(crate) struct Delayed<S, Req> {
        #[pin]
        sleep: Sleep,
        call: Option<(S, Req)>,
        injection: Option<Injection>,
        chaos: Chaos,
    }
}

/// What to do once the delay is over.
pub(crate) enum AfterDelay<S, Req> {
    /// Go on: call the service with the request.
    Call(S, Req),
    /// Abort (the request is handed back so the door can inspect it).
    Abort(Injection, Req),
}

impl<S, Req> Delayed<S, Req> {
    pub(crate) fn new(delay: Duration, svc: S, req: Req, injection: Injection, chaos: &Chaos) -> Pin<Box<Self>> {
        Box::pin(Delayed {
            sleep: tokio::time::sleep(delay),
            call: Some((svc, req)),
            injection: Some(injection),
            chaos: chaos.clone(),
        })
    }

    /// Polls the delay. Must not be polled again after it returned `Ready`.
    pub(crate) fn poll_delay(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<AfterDelay<S, Req>>> {
        let this = self.project();
        ready!(this.sleep.poll(cx));
        let Some((svc, req)) = this.call.take() else {
            return Poll::Ready(None);
        };
        Poll::Ready(Some(match this.injection.take() {
            Some(inj) if inj.confirm_abort(this.chaos) => AfterDelay::Abort(inj, req),
            _ => AfterDelay::Call(svc, req),
        }))
    }
}

/// Can this thread sleep? A delay needs a Tokio runtime with its time
/// driver; without a runtime the delay is skipped rather than panicking.
pub(crate) fn can_sleep() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// Decides for one call and starts it: returns the inner future, a boxed
/// delay, or the injection to abort with at once.
pub(crate) enum Start<F, S, Req> {
    Pass(F),
    Delay(Pin<Box<Delayed<S, Req>>>),
    Abort(Injection, Req),
}

/// The common body of the doors' `Service::call`: decide, then either call
/// the inner service, hold the ready service and request for the delay
/// (swapping in a clone, as Tower's ready-service contract requires), or
/// abort at once.
#[inline]
pub(crate) fn start<S, Req>(
    inner: &mut S,
    chaos: &Chaos,
    req: Req,
    decide: impl FnOnce(&Req) -> crate::Decision,
) -> Start<S::Future, S, Req>
where
    S: tower_service::Service<Req> + Clone,
{
    if !chaos.is_enabled() {
        return Start::Pass(inner.call(req));
    }
    let Some(injection) = decide(&req).into_injection() else {
        return Start::Pass(inner.call(req));
    };
    match injection.delay {
        Some(delay) if can_sleep() => {
            let clone = inner.clone();
            let svc = std::mem::replace(inner, clone);
            Start::Delay(Delayed::new(delay, svc, req, injection, chaos))
        }
        _ if injection.confirm_abort(chaos) => Start::Abort(injection, req),
        _ => Start::Pass(inner.call(req)),
    }
}
