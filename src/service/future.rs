use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_service::Service;

use crate::delayed::{AfterDelay, Delayed};
use crate::engine::Injection;
use crate::{BoxError, InjectedFault};

pin_project! {
    /// The response future of [`ChaosService`](super::ChaosService): the
    /// inner future, a delayed call, or an injected error.
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        kind: Kind<S, Req>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<S, Req>
    where
        S: Service<Req>,
    {
        Inner { #[pin] fut: S::Future },
        Delayed { delayed: Pin<Box<Delayed<S, Req>>> },
        Failed { fault: Option<InjectedFault> },
    }
}

impl<S: Service<Req>, Req> ResponseFuture<S, Req> {
    #[inline]
    pub(crate) fn inner(fut: S::Future) -> Self {
        Self { kind: Kind::Inner { fut } }
    }

    pub(crate) fn delayed(delayed: Pin<Box<Delayed<S, Req>>>) -> Self {
        Self { kind: Kind::Delayed { delayed } }
    }

    pub(crate) fn abort(injection: &Injection) -> Self {
        Self { kind: Kind::Failed { fault: Some(injection.fault()) } }
    }
}

impl<S, Req> Future for ResponseFuture<S, Req>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.kind.as_mut().project() {
                KindProj::Inner { fut } => return fut.poll(cx).map_err(Into::into),
                KindProj::Failed { fault } => {
                    // Polled again after completion: stay pending rather than panic.
                    return fault.take().map_or(Poll::Pending, |f| Poll::Ready(Err(Box::new(f) as BoxError)));
                }
                KindProj::Delayed { delayed } => match ready!(delayed.as_mut().poll_delay(cx)) {
                    None => return Poll::Pending,
                    Some(AfterDelay::Call(mut svc, req)) => {
                        let fut = svc.call(req);
                        this.kind.set(Kind::Inner { fut });
                    }
                    Some(AfterDelay::Abort(injection, _req)) => {
                        this.kind.set(Kind::Failed { fault: Some(injection.fault()) });
                    }
                },
            }
        }
    }
}

impl<S: Service<Req>, Req> std::fmt::Debug for ResponseFuture<S, Req> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.kind {
            Kind::Inner { .. } => "inner",
            Kind::Delayed { .. } => "delayed",
            Kind::Failed { .. } => "aborted",
        };
        f.debug_struct("ResponseFuture").field("state", &state).finish()
    }
}
