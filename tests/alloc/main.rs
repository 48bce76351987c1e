//! The layers add no allocation of their own on the disabled and the
//! enabled-pass paths, counted by a global allocator.

// A counting global allocator needs `unsafe impl GlobalAlloc`; it forwards to
// the system allocator and only counts. This is the one unsafe block in the
// project, in a test.
#![allow(unsafe_code)]

#[path = "../../benches/common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use http::{Request, Response};
use mischief::Chaos;
use tower::{Layer, Service};

use common::{bare, drive, enabled_pass, guarded_pass, request_with_headers as request, sixteen_rules_no_match};

struct Counting;

thread_local! {
    // Const-initialized and without a destructor, so the allocator can use it.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CALLS: u64 = 1_000;

/// Allocations made by `CALLS` calls, after a warm-up (thread-locals such as
/// the RNG and arc-swap's debt list are set up once per thread).
fn allocations<S>(mut svc: S) -> u64
where
    S: Service<Request<()>, Response = Response<()>>,
    S::Error: std::fmt::Debug,
{
    for _ in 0..10 {
        drive(&mut svc, request());
    }
    let before = ALLOCATIONS.with(Cell::get);
    for _ in 0..CALLS {
        drive(&mut svc, request());
    }
    ALLOCATIONS.with(Cell::get) - before
}

/// A catch-all rule that is rolled on every call and (seeded) never fires:
/// the path of a matched call that the dice let pass, which a rule at 0%
/// (inert, never rolled) does not take.
fn rolled_pass() -> Chaos {
    use mischief::config::{Abort, Config, Delay, Rule};
    let rule = Rule::new("rolled")
        .abort(Abort::status(503).percentage(1e-9))
        .delay(Delay::fixed(std::time::Duration::from_millis(1)).percentage(1e-9));
    Chaos::new(Config::new().seed(7).rule(rule)).unwrap()
}

#[test]
fn the_layers_add_no_allocation_when_not_injecting() {
    let _rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _guard = _rt.enter();
    let base = allocations(bare());
    assert!(base >= CALLS, "building the request allocates; the counter must see it (saw {base})");

    let http = |chaos: &Chaos| mischief::http::ChaosLayer::new(chaos.clone()).layer(bare());
    let (pass, guarded, rolled) = (enabled_pass(), guarded_pass(), rolled_pass());
    let cases = [
        ("http layer, disabled", allocations(http(&Chaos::disabled()))),
        ("http layer, enabled, catch-all rule at 0%", allocations(http(&pass))),
        ("http layer, enabled, a rule rolled that lets the call pass", allocations(http(&rolled))),
        ("http layer, enabled, 16 rules, no match", allocations(http(&sixteen_rules_no_match()))),
        ("http layer, enabled, under guardrails that record every outcome", allocations(http(&guarded))),
    ];
    for (what, n) in cases {
        assert_eq!(n, base, "{what}: {n} allocations for {CALLS} calls, bare service: {base}");
    }
    // The enabled paths ran: every call (10 to warm up, then CALLS) was
    // decided, and under the guardrails each outcome was recorded.
    assert_eq!(pass.status().rules[0].matched, 10 + CALLS);
    let rolled = &rolled.status().rules[0];
    assert_eq!((rolled.matched, rolled.delayed, rolled.aborted), (10 + CALLS, 0, 0), "rolled, never fired");
    assert_eq!(guarded.status().rules[0].matched, 10 + CALLS);
    assert_eq!(guarded.status().guard.unwrap().window.unwrap().calls, 10 + CALLS);
}

#[test]
fn the_service_layer_adds_no_allocation_when_not_injecting() {
    let _rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _guard = _rt.enter();
    let base = allocations(bare());
    let layered = |chaos: Chaos| mischief::service::ChaosLayer::new(chaos, "db").layer(bare());
    assert_eq!(allocations(layered(Chaos::disabled())), base, "service layer, disabled");
    let pass = enabled_pass();
    assert_eq!(allocations(layered(pass.clone())), base, "service layer, enabled, catch-all rule at 0%");
    assert_eq!(pass.status().rules[0].matched, 10 + CALLS, "the enabled path ran");
    let rolled = rolled_pass();
    assert_eq!(
        allocations(layered(rolled.clone())),
        base,
        "service layer, enabled, a rule rolled that lets the call pass"
    );
    assert_eq!(rolled.status().rules[0].matched, 10 + CALLS, "the rolled path ran");
    // And an injected abort does allocate (the boxed error): the counter works.
    let aborting = Chaos::new(
        mischief::Config::new()
            .rule(mischief::config::Rule::new("all").abort(mischief::config::Abort::status(503).percentage(100.0))),
    )
    .unwrap();
    let mut abort_svc = mischief::service::ChaosLayer::new(aborting, "db").layer(bare());
    let before = ALLOCATIONS.with(Cell::get);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let _ = abort_svc.poll_ready(&mut cx);
    let fut = abort_svc.call(request());
    let mut fut = std::pin::pin!(fut);
    assert!(matches!(fut.as_mut().poll(&mut cx), std::task::Poll::Ready(Err(_))));
    assert!(ALLOCATIONS.with(Cell::get) > before);
}

/// The client middleware, switched off, against a no-op middleware (which
/// pays the same boxed future of `reqwest_middleware`'s `async_trait`): the
/// same number of allocations, so the middleware adds none of its own. The
/// server runs on another thread, so only the client's allocations count.
#[cfg(feature = "client")]
#[test]
fn the_disabled_client_middleware_adds_no_allocation_of_its_own() {
    use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};

    struct Noop;
    #[async_trait::async_trait]
    impl Middleware for Noop {
        async fn handle(
            &self,
            req: reqwest::Request,
            extensions: &mut http::Extensions,
            next: Next<'_>,
        ) -> reqwest_middleware::Result<reqwest::Response> {
            next.run(req, extensions).await
        }
    }

    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
            axum::serve(listener, app).await.unwrap();
        });
    });
    let url = format!("http://{}/", rx.recv().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // The fewest allocations of six batches of 50 calls: a call that finds
    // no idle connection in the pool (hyper returns one from a task of its
    // own, which may not have run yet) opens another and allocates more, so
    // only the fewest is the same from run to run.
    let measure = |client: ClientWithMiddleware| -> u64 {
        rt.block_on(async {
            let call = || async { client.get(&url).send().await.unwrap().bytes().await.unwrap() };
            for _ in 0..20 {
                call().await;
            }
            let mut fewest = u64::MAX;
            for _ in 0..6 {
                let before = ALLOCATIONS.with(Cell::get);
                for _ in 0..50 {
                    call().await;
                }
                fewest = fewest.min(ALLOCATIONS.with(Cell::get) - before);
            }
            fewest
        })
    };
    let noop = measure(ClientBuilder::new(reqwest::Client::new()).with(Noop).build());
    let disabled = measure(
        ClientBuilder::new(reqwest::Client::new())
            .with(mischief::client::ChaosMiddleware::new(Chaos::disabled()))
            .build(),
    );
    assert!(noop >= 50, "requests allocate; the counter must see it ({noop})");
    assert_eq!(
        disabled, noop,
        "50 calls: {disabled} allocations with the disabled middleware, {noop} with a no-op one"
    );
}

/// Fault points (`#[chaos]`, sync and async) allocate nothing when they do
/// not inject: off, on with no rule for them, on with a rule at 0%.
#[cfg(feature = "macros")]
#[test]
fn fault_points_allocate_nothing_when_not_injecting() {
    use mischief::config::{Abort, Config, Match, Rule};
    use mischief::{InjectedFault, chaos};

    #[chaos(name = "alloc.sync", chaos = chaos)]
    fn sync_point(chaos: &Chaos, x: u64) -> Result<u64, InjectedFault> {
        Ok(x + 1)
    }

    #[chaos(name = "alloc.async", chaos = chaos)]
    async fn async_point(chaos: &Chaos, x: u64) -> Result<u64, InjectedFault> {
        Ok(x + 1)
    }

    let count = |chaos: &Chaos| -> u64 {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut run = || {
            std::hint::black_box(sync_point(chaos, 1)).ok();
            let mut fut = std::pin::pin!(async_point(chaos, 1));
            assert!(fut.as_mut().poll(&mut cx).is_ready());
        };
        for _ in 0..10 {
            run();
        }
        let before = ALLOCATIONS.with(Cell::get);
        for _ in 0..CALLS {
            run();
        }
        ALLOCATIONS.with(Cell::get) - before
    };
    let rule = |name: &str, pattern: &str, pct: f64| {
        Rule::new(name).when(Match::new().name(pattern)).abort(Abort::status(503).percentage(pct))
    };
    let no_match = Chaos::new(Config::new().rule(rule("other", "payments.*", 100.0))).unwrap();
    let at_zero = Chaos::new(Config::new().rule(rule("zero", "alloc.*", 0.0))).unwrap();
    assert_eq!(sync_point(&no_match, 1).unwrap(), 2, "the points run");
    assert_eq!(count(&Chaos::disabled()), 0, "off");
    assert_eq!(count(&no_match), 0, "on, no rule selects the points");
    assert_eq!(count(&at_zero), 0, "on, a rule at 0% selects them");
    // An injected fault does allocate (the boxed decision): the counter works.
    let always = Chaos::new(Config::new().rule(rule("all", "alloc.*", 100.0))).unwrap();
    assert!(count(&always) > 0);
}
