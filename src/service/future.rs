use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use pin_project_lite::pin_project;
use tower_service::Service;

use crate::delayed::{AfterDelay, ColdBox, Delayed, Observer};
use crate::engine::Injection;
use crate::{BoxError, Chaos, InjectedFault};

pin_project! {
    /// The response future of [`ChaosService`](super::ChaosService): the
    /// inner future, or a faulted call (delayed, or failed with an injected
    /// error) whose state is boxed.
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
        Inner { #[pin] fut: S::Future, observer: Option<Observer> },
        Faulted { fault: ColdBox<Fault<S, Req>> },
    }
}

pin_project! {
    #[project = FaultProj]
    enum Fault<S, Req> {
        Delayed { #[pin] delayed: Delayed<S, Req> },
        Failed { error: Option<Failure> },
    }
}

impl<S: Service<Req>, Req> ResponseFuture<S, Req> {
    #[inline(always)]
    pub(crate) fn inner(fut: S::Future) -> Self {
        Self { kind: Kind::Inner { fut, observer: None } }
    }

    /// A call that is not faulted but whose outcome the guardrails want.
    pub(crate) fn observed(fut: S::Future, chaos: &Chaos) -> Self {
        Self { kind: Kind::Inner { fut, observer: Some(Observer::new(chaos)) } }
    }

    pub(crate) fn delayed(delayed: Delayed<S, Req>) -> Self {
        Self { kind: Kind::Faulted { fault: ColdBox::new(Fault::Delayed { delayed }) } }
    }

    pub(crate) fn abort(injection: &Injection) -> Self {
        Self {
            kind: Kind::Faulted {
                fault: ColdBox::new(Fault::Failed { error: Some(Failure::Injected(injection.fault())) }),
            },
        }
    }
}

impl<S, Req> Future for ResponseFuture<S, Req>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    // Every output is built here, inline, and nothing out of line returns
    // one: an output written through a pointer by another function and read
    // back here made the pass-through path stall on store forwarding.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut kind = self.project().kind;
        loop {
            match kind.as_mut().project() {
                KindProj::Inner { fut, observer } => {
                    let out = ready!(fut.poll(cx));
                    if let Some(o) = observer {
                        o.record(out.is_err());
                    }
                    return Poll::Ready(out.map_err(Into::into));
                }
                KindProj::Faulted { fault } => {
                    // Polled again after completion: stay pending rather than panic.
                    let Some(mut state) = fault.as_mut() else { return Poll::Pending };
                    if let FaultProj::Failed { error } = state.as_mut().project() {
                        return error.take().map_or(Poll::Pending, |e| Poll::Ready(Err(boxed(e))));
                    }
                    // Only the boxed state goes out of line: were this
                    // future's own address passed to a function that is not
                    // inlined, it could not be kept in registers, and every
                    // pass-through call would round-trip it through memory.
                    match advance(state, cx.waker()) {
                        Step::Pending => return Poll::Pending,
                        Step::Failed => {}
                        Step::Call(fut, observer) => kind.set(Kind::Inner { fut, observer }),
                    }
                }
            }
        }
    }
}

/// What a failed call ends with.
enum Failure {
    /// The injected fault.
    Injected(InjectedFault),
    /// The error of a delayed call's service that failed to get ready.
    NotReady(BoxError),
}

/// The error of a failed call, out of line: the pass-through poll that
/// shares the code keeps the same shape whatever the failure holds (with
/// the boxing inline, `peers/mischief_disabled` read 0.27 ns slower on the
/// same instruction count).
#[cold]
fn boxed(failure: Failure) -> BoxError {
    match failure {
        Failure::Injected(fault) => Box::new(fault),
        Failure::NotReady(error) => error,
    }
}

/// What a delayed call does next.
enum Step<F> {
    /// The delay runs.
    Pending,
    /// The delay is over: the inner service was called (its outcome
    /// observed for the guardrails if there is an observer).
    Call(F, Option<Observer>),
    /// The delay is over and the call failed (the error is in the state:
    /// the injected fault, or the service's own while getting ready).
    Failed,
}

/// Moves a delayed call on, out of line; it sees only the boxed state and
/// the waker. Not the caller's `Context`: where the caller builds its
/// `Context` in the same inlined frame (a benchmark loop, a simple
/// executor), passing it by reference gives it an address, and every call,
/// faulted or not, writes it to memory first (three stores on the off path
/// in `peers`). An executor's `Context` that arrives by reference is in
/// memory anyway.
#[inline(never)]
fn advance<S, Req>(mut state: Pin<&mut Fault<S, Req>>, waker: &Waker) -> Step<S::Future>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    let FaultProj::Delayed { delayed } = state.as_mut().project() else { return Step::Failed };
    let mut cx = Context::from_waker(waker);
    match delayed.poll_delay(&mut cx) {
        Poll::Pending | Poll::Ready(None) => Step::Pending,
        Poll::Ready(Some(AfterDelay::Call(mut svc, req, observer))) => Step::Call(svc.call(req), observer),
        Poll::Ready(Some(AfterDelay::Fail(injection, _req))) => {
            state.set(Fault::Failed { error: Some(Failure::Injected(injection.fault())) });
            Step::Failed
        }
        Poll::Ready(Some(AfterDelay::NotReady(e))) => {
            state.set(Fault::Failed { error: Some(Failure::NotReady(e.into())) });
            Step::Failed
        }
    }
}

impl<S: Service<Req>, Req> std::fmt::Debug for ResponseFuture<S, Req> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.kind {
            Kind::Inner { observer: None, .. } => "inner",
            Kind::Inner { observer: Some(_), .. } => "observed",
            Kind::Faulted { fault } => match fault.get() {
                Some(Fault::Delayed { .. }) => "delayed",
                Some(Fault::Failed { .. }) | None => "aborted",
            },
        };
        f.debug_struct("ResponseFuture").field("state", &state).finish()
    }
}
