use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::response::fault_response;
use super::{AbortBody, EmptyBody};
use crate::Chaos;
use crate::delayed::{AfterDelay, ColdBox, Delayed, Observer};
use crate::engine::{Injection, failed_response};

pin_project! {
    /// The response future of [`ChaosService`](super::ChaosService): the
    /// inner service's future, or a faulted call (delayed, or answered by
    /// an injected abort).
    ///
    /// A call that is not faulted polls the inner future directly; a
    /// faulted call's state is boxed, so this future is the inner one plus
    /// a pointer and the guardrails' observer (40 bytes on 64-bit targets).
    pub struct ResponseFuture<S, ReqBody, M = EmptyBody>
    where
        S: Service<Request<ReqBody>>,
    {
        // Fields, not the variants of an enum: the inner future then shares
        // its bytes with nothing else, and the compiler can keep it in
        // registers (or move its output straight to where the caller wants
        // it) as it would without this layer. In an enum, the faulted
        // variant's pointer overlapped the inner future's output, which was
        // then copied whole and read back at an offset, stalling on store
        // forwarding.
        #[pin]
        fut: Option<S::Future>,
        fault: ColdBox<Fault<S, ReqBody, M>>,
        observer: Option<Observer>,
    }
}

pin_project! {
    /// The boxed state of a faulted call.
    #[project = FaultProj]
    pub(crate) enum Fault<S, ReqBody, M>
    where
        S: Service<Request<ReqBody>>,
    {
        Delayed { #[pin] delayed: Delayed<S, Request<ReqBody>>, body: M },
        // An injected abort's answer, or the error of a delayed call's
        // service that failed to get ready.
        Ready { out: Option<Result<S::Response, S::Error>> },
    }
}

impl<S, ReqBody, ResBody, M> ResponseFuture<S, ReqBody, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    M: AbortBody<ResBody>,
{
    #[inline(always)]
    pub(crate) fn inner(fut: S::Future) -> Self {
        Self { fut: Some(fut), fault: ColdBox::none(), observer: None }
    }

    /// A call that is not faulted but whose outcome the guardrails want.
    pub(crate) fn observed(fut: S::Future, chaos: &Chaos) -> Self {
        Self { fut: Some(fut), fault: ColdBox::none(), observer: Some(Observer::new(chaos)) }
    }

    /// A faulted call, whose state was built by [`Fault::delayed`] or
    /// [`Fault::aborted`].
    #[inline(always)]
    pub(crate) fn faulted(fault: ColdBox<Fault<S, ReqBody, M>>) -> Self {
        Self { fut: None, fault, observer: None }
    }
}

impl<S, ReqBody, ResBody, M> Fault<S, ReqBody, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    M: AbortBody<ResBody>,
{
    /// The state of a call that waits, then goes on or fails.
    pub(crate) fn delayed(delayed: Delayed<S, Request<ReqBody>>, body: M) -> ColdBox<Self> {
        ColdBox::new(Fault::Delayed { delayed, body })
    }

    /// The state of a call answered at once by an injected abort. Out of
    /// line: only the boxed state comes back to the door.
    #[cold]
    #[inline(never)]
    pub(crate) fn aborted(injection: &Injection, req: &Request<ReqBody>, body: &M) -> ColdBox<Self> {
        ColdBox::new(Fault::Ready { out: Some(Ok(fault_response(injection, req, body))) })
    }
}

impl<S, ReqBody, ResBody, M> Future for ResponseFuture<S, ReqBody, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    M: AbortBody<ResBody>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    // Every output is built here, inline, and nothing out of line returns
    // one: an output written through a pointer by another function and read
    // back here made the pass-through path stall on store forwarding.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        while let Some(mut state) = this.fault.as_mut() {
            if let FaultProj::Ready { out } = state.as_mut().project() {
                // Taken already: stay pending rather than panic.
                return out.take().map_or(Poll::Pending, Poll::Ready);
            }
            // Only the boxed state goes out of line: were this future's own
            // address passed to a function that is not inlined, it could not
            // be kept in registers, and every pass-through call would
            // round-trip it through memory.
            match advance(state, cx.waker()) {
                Step::Pending => return Poll::Pending,
                // The state holds the answer now.
                Step::Answered => {}
                Step::Call(fut, observer) => {
                    this.fut.set(Some(fut));
                    *this.observer = observer;
                    this.fault.clear();
                }
            }
        }
        // `fut` is `None` only while a fault holds the call, and the loop
        // leaves only when none does; stay pending rather than panic.
        let Some(fut) = this.fut.as_pin_mut() else { return Poll::Pending };
        // The inner future's answer is returned as it is, never moved out
        // and wrapped again: where this poll is inlined into the caller's (a
        // `Map`, a boxed future), the inner poll then writes the response
        // straight to where the caller wants it, instead of through copies.
        let Some(o) = this.observer else { return fut.poll(cx) };
        let poll = fut.poll(cx);
        if let Poll::Ready(out) = &poll {
            o.record(out.as_ref().map_or(true, |res| failed_response(res.status(), res.headers())));
        }
        poll
    }
}

/// What a delayed call does next.
enum Step<F> {
    /// The delay runs.
    Pending,
    /// The delay is over: the inner service was called (its outcome
    /// observed for the guardrails if there is an observer).
    Call(F, Option<Observer>),
    /// The delay is over and the answer is in the state (an abort, or the
    /// error of a service that failed to get ready).
    Answered,
}

/// Moves a delayed call on, out of line; it sees only the boxed state and
/// the waker. Not the caller's `Context`: where the caller builds its
/// `Context` in the same inlined frame (a benchmark loop, a simple
/// executor), passing it by reference gives it an address, and every call,
/// faulted or not, writes it to memory first (three stores on the generic
/// layer's off path in `peers`). An executor's `Context` that arrives by
/// reference is in memory anyway.
#[inline(never)]
fn advance<S, ReqBody, ResBody, M>(mut state: Pin<&mut Fault<S, ReqBody, M>>, waker: &Waker) -> Step<S::Future>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    M: AbortBody<ResBody>,
{
    let FaultProj::Delayed { delayed, body } = state.as_mut().project() else { return Step::Answered };
    let mut cx = Context::from_waker(waker);
    match delayed.poll_delay(&mut cx) {
        Poll::Pending | Poll::Ready(None) => Step::Pending,
        Poll::Ready(Some(AfterDelay::Call(mut svc, req, observer))) => Step::Call(svc.call(req), observer),
        Poll::Ready(Some(AfterDelay::Fail(injection, req))) => {
            let res = fault_response(&injection, &req, body);
            state.set(Fault::Ready { out: Some(Ok(res)) });
            Step::Answered
        }
        Poll::Ready(Some(AfterDelay::NotReady(e))) => {
            state.set(Fault::Ready { out: Some(Err(e)) });
            Step::Answered
        }
    }
}

impl<S, ReqBody, M> std::fmt::Debug for ResponseFuture<S, ReqBody, M>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match (self.fault.get(), &self.observer) {
            (Some(Fault::Delayed { .. }), _) => "delayed",
            (Some(Fault::Ready { .. }), _) => "aborted",
            (None, None) => "inner",
            (None, Some(_)) => "observed",
        };
        f.debug_struct("ResponseFuture").field("state", &state).finish()
    }
}
