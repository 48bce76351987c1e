use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::response::abort_response;
use super::{AbortBody, EmptyBody};
use crate::delayed::{AfterDelay, Delayed};
use crate::engine::Injection;

pin_project! {
    /// The response future of [`ChaosService`](super::ChaosService): the
    /// inner service's future, a delayed call, or an injected answer.
    ///
    /// A call that is not faulted polls the inner future directly; the
    /// delay state is boxed, so this future is barely larger than the inner
    /// one.
    pub struct ResponseFuture<S, ReqBody, M = EmptyBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        kind: Kind<S, ReqBody, M>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<S, ReqBody, M>
    where
        S: Service<Request<ReqBody>>,
    {
        Inner { #[pin] fut: S::Future },
        Delayed { delayed: Pin<Box<Delayed<S, Request<ReqBody>>>>, body: M },
        Ready { res: Option<S::Response> },
    }
}

impl<S, ReqBody, ResBody, M> ResponseFuture<S, ReqBody, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    M: AbortBody<ResBody>,
{
    #[inline]
    pub(crate) fn inner(fut: S::Future) -> Self {
        Self { kind: Kind::Inner { fut } }
    }

    pub(crate) fn delayed(delayed: Pin<Box<Delayed<S, Request<ReqBody>>>>, body: M) -> Self {
        Self { kind: Kind::Delayed { delayed, body } }
    }

    pub(crate) fn abort(injection: &Injection, req: &Request<ReqBody>, body: &M) -> Self {
        Self { kind: Kind::Ready { res: Some(abort_response(injection, req, body)) } }
    }
}

impl<S, ReqBody, ResBody, M> Future for ResponseFuture<S, ReqBody, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    M: AbortBody<ResBody>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.kind.as_mut().project() {
                KindProj::Inner { fut } => return fut.poll(cx),
                KindProj::Ready { res } => {
                    // Polled again after completion: stay pending rather than panic.
                    return res.take().map_or(Poll::Pending, |res| Poll::Ready(Ok(res)));
                }
                KindProj::Delayed { delayed, body } => match ready!(delayed.as_mut().poll_delay(cx)) {
                    None => return Poll::Pending,
                    Some(AfterDelay::Call(mut svc, req)) => {
                        let fut = svc.call(req);
                        this.kind.set(Kind::Inner { fut });
                    }
                    Some(AfterDelay::Abort(injection, req)) => {
                        let res = abort_response(&injection, &req, body);
                        this.kind.set(Kind::Ready { res: Some(res) });
                    }
                },
            }
        }
    }
}

impl<S, ReqBody, M> std::fmt::Debug for ResponseFuture<S, ReqBody, M>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.kind {
            Kind::Inner { .. } => "inner",
            Kind::Delayed { .. } => "delayed",
            Kind::Ready { .. } => "aborted",
        };
        f.debug_struct("ResponseFuture").field("state", &state).finish()
    }
}
