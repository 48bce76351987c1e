//! The generic Tower layer: delays, and aborts as a downcastable error.

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mischief::config::{Abort, Config, Delay, Match, Rule};
use mischief::service::ChaosLayer;
use mischief::{BoxError, Chaos, FaultKind, InjectedFault};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

fn counting(
    calls: &Arc<AtomicU64>,
) -> impl Service<u32, Response = u32, Error = std::io::Error, Future: Send> + Clone + Send + use<> {
    let calls = calls.clone();
    service_fn(move |x: u32| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move { Ok::<_, std::io::Error>(x + 1) }
    })
}

#[tokio::test]
async fn aborts_are_injected_faults_and_skip_the_inner_service() {
    let chaos = Chaos::new(Config::new().rule(
        Rule::new("db").when(Match::new().name("inventory-*")).abort(Abort::status(503).message("db is down").every(2)),
    ))
    .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let mut svc = ServiceBuilder::new().layer(ChaosLayer::new(chaos.clone(), "inventory-db")).service(counting(&calls));
    assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), 2);
    let err: BoxError = svc.ready().await.unwrap().call(1).await.unwrap_err();
    let fault = err.downcast_ref::<InjectedFault>().expect("an InjectedFault");
    assert_eq!((fault.rule(), fault.kind(), fault.message()), ("db", FaultKind::Abort, Some("db is down")));
    assert_eq!(fault.http_status(), 503);
    assert_eq!(err.to_string(), "chaos: abort injected by rule `db`: db is down");
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Another name is not selected.
    let mut other = ServiceBuilder::new().layer(ChaosLayer::new(chaos, "billing")).service(counting(&calls));
    for _ in 0..4 {
        assert_eq!(other.ready().await.unwrap().call(1).await.unwrap(), 2);
    }
}

#[tokio::test]
async fn inner_errors_pass_through_boxed() {
    let chaos = Chaos::new(Config::new().rule(Rule::new("none").abort(Abort::status(503).percentage(0.0)))).unwrap();
    let svc = ServiceBuilder::new()
        .layer(ChaosLayer::new(chaos, "x"))
        .service(service_fn(|_: ()| async { Err::<(), _>(std::io::Error::other("real failure")) }));
    let err = svc.oneshot(()).await.unwrap_err();
    assert!(err.downcast_ref::<InjectedFault>().is_none());
    assert_eq!(err.downcast_ref::<std::io::Error>().unwrap().to_string(), "real failure");
}

// On Tokio's paused clock, which moves only when every task waits: the
// checks below are exact, whatever the machine's load.
#[tokio::test(start_paused = true)]
async fn delays_hold_the_call_before_the_inner_service() {
    let chaos = Chaos::new(
        Config::new().rule(Rule::new("slow").delay(Delay::fixed(Duration::from_millis(200)).percentage(100.0))),
    )
    .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let svc = ServiceBuilder::new().layer(ChaosLayer::new(chaos.clone(), "x")).service(counting(&calls));
    let t = tokio::time::Instant::now();
    let fut = tokio::spawn(svc.oneshot(1));
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the inner service must not be called during the delay");
    assert_eq!(fut.await.unwrap().unwrap(), 2);
    assert_eq!(t.elapsed(), Duration::from_millis(200));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(chaos.status().rules[0].delayed, 1);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_delayed_call_never_reaches_the_inner_service() {
    let chaos = Chaos::new(
        Config::new().rule(Rule::new("slow").delay(Delay::fixed(Duration::from_millis(100)).percentage(100.0))),
    )
    .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let mut svc = ServiceBuilder::new().layer(ChaosLayer::new(chaos, "x")).service(counting(&calls));
    // Dropped before it is polled, and dropped halfway through its wait
    // (its timer running).
    let fut = svc.ready().await.unwrap().call(1);
    drop(fut);
    let mut fut = Box::pin(svc.ready().await.unwrap().call(1));
    assert!(futures_poll_once(fut.as_mut()).is_pending(), "waiting");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(futures_poll_once(fut.as_mut()).is_pending(), "still waiting");
    drop(fut);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // The service still works after the dropped call.
    assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), 2);
}

#[test]
fn without_a_runtime_delays_are_skipped_not_panicking() {
    let chaos = Chaos::new(
        Config::new().rule(Rule::new("slow").delay(Delay::fixed(Duration::from_secs(60)).percentage(100.0))),
    )
    .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let mut svc = ServiceBuilder::new().layer(ChaosLayer::new(chaos, "x")).service(counting(&calls));
    let t = Instant::now();
    let out = futures_lite_block_on(svc.call(1));
    assert_eq!(out.unwrap(), 2);
    // Skipped, not slept: the delay is a minute.
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
}

/// Polls a future to completion on this thread, outside any runtime.
fn futures_lite_block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

#[tokio::test]
async fn poll_ready_is_forwarded() {
    let chaos = Chaos::disabled();
    let (mock, handle) = tower_test_like::pair();
    let mut svc = tower::Layer::layer(&ChaosLayer::new(chaos, "x"), mock);
    handle.ready.store(false, Ordering::SeqCst);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(svc.poll_ready(&mut cx).is_pending());
    handle.ready.store(true, Ordering::SeqCst);
    assert!(svc.poll_ready(&mut cx).is_ready());
}

/// A service whose readiness the test controls.
mod tower_test_like {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll};

    #[derive(Clone)]
    pub(super) struct Gate {
        ready: Arc<AtomicBool>,
    }
    pub(super) struct Handle {
        pub(super) ready: Arc<AtomicBool>,
    }
    pub(super) fn pair() -> (Gate, Handle) {
        let ready = Arc::new(AtomicBool::new(true));
        (Gate { ready: ready.clone() }, Handle { ready })
    }
    impl tower::Service<()> for Gate {
        type Response = ();
        type Error = std::io::Error;
        type Future = std::future::Ready<Result<(), std::io::Error>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            if self.ready.load(Ordering::SeqCst) { Poll::Ready(Ok(())) } else { Poll::Pending }
        }
        fn call(&mut self, _: ()) -> Self::Future {
            std::future::ready(Ok(()))
        }
    }
}

#[tokio::test]
async fn timeouts_wait_then_fail_with_their_kind() {
    let chaos = Chaos::new(Config::new().rule(
        Rule::new("hang").timeout(mischief::config::Timeout::after(Duration::from_millis(100)).percentage(100.0)),
    ))
    .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let svc = ServiceBuilder::new().layer(ChaosLayer::new(chaos, "x")).service(counting(&calls));
    let t = Instant::now();
    let err = svc.oneshot(1).await.unwrap_err();
    assert!(t.elapsed() >= Duration::from_millis(100));
    let fault = err.downcast_ref::<InjectedFault>().unwrap();
    assert_eq!((fault.kind(), fault.http_status().as_u16()), (FaultKind::Timeout, 504));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// A finished faulted call polled again answers `Pending`, never panics:
/// an abort answered at once, and one answered after a delay.
#[tokio::test]
async fn a_finished_fault_stays_pending_when_polled_again() {
    for rule in support::abort_now_and_after_a_delay() {
        let name = rule.name.clone();
        let calls = Arc::new(AtomicU64::new(0));
        let chaos = Chaos::new(Config::new().rule(rule)).unwrap();
        let mut svc = ServiceBuilder::new().layer(ChaosLayer::new(chaos, "x")).service(counting(&calls));
        let mut fut = Box::pin(svc.ready().await.unwrap().call(1));
        let err = (&mut fut).await.unwrap_err();
        assert_eq!(err.downcast_ref::<InjectedFault>().map(InjectedFault::rule), Some(name.as_str()));
        support::assert_pending_after_answer(&mut fut, &name);
        assert_eq!(calls.load(Ordering::SeqCst), 0, "{name}: an aborted call never reaches the service");
    }
}

// On Tokio's paused clock: the switch goes off exactly 100 ms into the
// one-second hold.
#[tokio::test(start_paused = true)]
async fn the_kill_switch_lets_a_held_call_through() {
    let chaos = Chaos::new(
        Config::new().rule(
            Rule::new("slow-fail")
                .delay(Delay::fixed(Duration::from_secs(1)).percentage(100.0))
                .abort(Abort::status(503).percentage(100.0)),
        ),
    )
    .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let svc = ServiceBuilder::new().layer(ChaosLayer::new(chaos.clone(), "x")).service(counting(&calls));
    let held = tokio::spawn(svc.oneshot(1));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0, "held");
    chaos.set_enabled(false);
    assert_eq!(held.await.unwrap().unwrap(), 2, "no abort after the kill switch");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(chaos.status().rules[0].aborted, 0);
}

/// The only test in this binary that uses the global handle.
#[tokio::test]
async fn the_global_handle_selects_layers_by_name() {
    let global = Chaos::new(Config::new().rule(
        Rule::new("db-down").when(Match::new().name("inventory-db")).abort(Abort::status(503).percentage(100.0)),
    ))
    .unwrap();
    Chaos::set_global(global).expect("nothing used the global handle before");
    let calls = Arc::new(AtomicU64::new(0));
    let db = ServiceBuilder::new().layer(ChaosLayer::global("inventory-db")).service(counting(&calls));
    let cache = ServiceBuilder::new().layer(ChaosLayer::global("cache")).service(counting(&calls));
    let err = db.oneshot(1).await.unwrap_err();
    assert_eq!(err.downcast_ref::<InjectedFault>().map(InjectedFault::rule), Some("db-down"));
    assert_eq!(cache.oneshot(1).await.unwrap(), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A delayed call holds none of the inner service's capacity while it
/// waits: above tower's concurrency limit of one, a call that is not
/// delayed goes through while a delayed one waits (a delayed call that
/// completes is `a_delayed_call_on_a_reused_service_completes`).
#[tokio::test]
async fn a_delayed_call_holds_no_capacity_while_it_waits() {
    let chaos = Chaos::new(
        Config::new()
            .rule(Rule::new("slow").delay(Delay::fixed(Duration::from_secs(30)).percentage(100.0)).max_injections(1)),
    )
    .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let svc = ServiceBuilder::new()
        .layer(ChaosLayer::new(chaos.clone(), "db"))
        .concurrency_limit(1)
        .service(counting(&calls));
    let delayed = tokio::spawn(svc.clone().oneshot(1));
    while chaos.status().rules[0].delayed == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Done while the delayed call still waits out its 30 s (holding the
    // limit's one permit, it would have waited for them).
    assert_eq!(svc.clone().oneshot(2).await.unwrap(), 3);
    assert!(!delayed.is_finished(), "the delayed call still waits");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "only the undelayed call reached the service");
    delayed.abort();
}

/// After its delay, a call readies its own clone of the inner service; a
/// service that fails to get ready ends the call with its error.
#[tokio::test]
async fn a_delayed_call_whose_service_fails_to_get_ready_ends_with_its_error() {
    let chaos = Chaos::new(
        Config::new().rule(Rule::new("slow").delay(Delay::fixed(Duration::from_millis(20)).percentage(100.0))),
    )
    .unwrap();
    let ready_once = support::ReadyOnce::new(|x: u32| x);
    let polls = ready_once.polls();
    let svc = ServiceBuilder::new().layer(ChaosLayer::new(chaos, "db")).service(ready_once);
    let err = svc.oneshot(1).await.unwrap_err();
    assert_eq!(err.downcast_ref::<std::io::Error>().map(ToString::to_string).as_deref(), Some("backend gone"));
    assert_eq!(polls.load(Ordering::SeqCst), 2, "readied once by the caller, once after the delay");
}

/// A caller that reuses one service and waits for each answer before its
/// next call (`ready().await?.call(..)` in a loop) gets its delayed call
/// answered: the delayed call does not wait for a permit that the caller's
/// own service still holds from its last `poll_ready`.
#[tokio::test]
async fn a_delayed_call_on_a_reused_service_completes() {
    let chaos = Chaos::new(
        Config::new().rule(Rule::new("slow").delay(Delay::fixed(Duration::from_millis(20)).percentage(100.0))),
    )
    .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let mut svc =
        ServiceBuilder::new().layer(ChaosLayer::new(chaos, "db")).concurrency_limit(1).service(counting(&calls));
    for x in 1..=3 {
        let out =
            tokio::time::timeout(Duration::from_secs(5), async { svc.ready().await.unwrap().call(x).await }).await;
        assert_eq!(out.expect("the delayed call waits for the permit its own service holds").unwrap(), x + 1);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

/// An abort gives back what the inner service's readiness reserved, as a
/// delay does: two services sharing one concurrency permit, the first
/// failing a call at once, the second still gets ready.
#[tokio::test]
async fn an_abort_gives_back_the_inner_services_reservation() {
    use tower::Layer;
    let chaos = Chaos::new(
        Config::new()
            .rule(Rule::new("db").when(Match::new().name("first")).abort(Abort::status(503).percentage(100.0))),
    )
    .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let limit = tower::limit::GlobalConcurrencyLimitLayer::new(1);
    let mut first = ChaosLayer::new(chaos.clone(), "first").layer(limit.layer(counting(&calls)));
    let mut second = ChaosLayer::new(chaos.clone(), "second").layer(limit.layer(counting(&calls)));
    let err = first.ready().await.unwrap().call(1).await.unwrap_err();
    assert!(err.downcast_ref::<InjectedFault>().is_some(), "{err}");
    let ready = tokio::time::timeout(Duration::from_secs(30), second.ready()).await;
    assert!(ready.is_ok(), "the failed call's permit was never given back");
    assert_eq!(second.call(1).await.unwrap(), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Polls `fut` once, with a waker that does nothing.
fn futures_poll_once<F: std::future::Future>(fut: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    fut.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}
