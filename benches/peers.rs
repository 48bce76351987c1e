//! mischief against its peers, in one run, through one driver: the same bare
//! `tower::service_fn` wrapped by mischief's generic `service::ChaosLayer`,
//! by `tower-resilience-chaos` and by `tower-fault`, first not injecting
//! (rate 0), then failing every call, then not injecting from two OS threads
//! at once through one shared layer: `cargo bench --bench peers`.
//!
//! Like with like: every id wraps the same inner service (`u64 -> u64`, error
//! type `BoxError`, answers at once), every id is called by the same
//! `drive`, and every abort is one boxed error (mischief's `InjectedFault`,
//! the peers' `PeerFault`) that the driver drops inside the timing. The
//! peers' layers keep the inner service's error type, so `BoxError` as that
//! type is what lets all three inject a fault into the same service.
//!
//! Every id is timed as wall time less the time the thread waited for a CPU
//! (see `timed`), so that the other processes of a shared machine do not
//! count; on a quiet machine the two are the same.

#[path = "common/mod.rs"]
mod common;

use std::fmt;
use std::future::{Future, Ready};
use std::hint::black_box;
use std::pin::pin;
use std::sync::Barrier;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use mischief::config::{Abort, Config, Rule};
use mischief::{BoxError, Chaos, InjectedFault};
use tower::{Layer, Service, ServiceBuilder};

/// The bare service every id wraps: echoes its request.
fn bare() -> impl Service<u64, Response = u64, Error = BoxError, Future = Ready<Result<u64, BoxError>>> + Clone + Send {
    tower::service_fn(|n: u64| std::future::ready(Ok::<u64, BoxError>(n)))
}

/// The error the peers inject: a small unit of information, boxed once, as
/// mischief boxes its `InjectedFault`.
#[derive(Debug)]
struct PeerFault(&'static str);

impl fmt::Display for PeerFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "injected by {}", self.0)
    }
}

impl std::error::Error for PeerFault {}

/// Polls a service ready, calls it and polls the future once with a no-op
/// waker: every service here answers at once. Always inlined, so every id
/// gets the same treatment from the optimizer.
#[inline(always)]
fn drive<S: Service<u64>>(svc: &mut S, req: u64) -> Result<S::Response, S::Error> {
    let mut cx = Context::from_waker(Waker::noop());
    match svc.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        _ => panic!("the benched services are always ready"),
    }
    let mut fut = pin!(svc.call(black_box(req)));
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(res) => res,
        Poll::Pending => panic!("the benched services answer at once"),
    }
}

/// What one call must give, checked once outside the timing so that an id
/// that does not do what its name says fails the run (also under `--test`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Pass,
    Abort,
}

fn check<S>(id: &str, svc: &mut S, expect: Expect)
where
    S: Service<u64, Response = u64, Error = BoxError>,
{
    for n in 0..64 {
        let got = match drive(svc, n) {
            Ok(m) if m == n => Expect::Pass,
            Ok(m) => panic!("{id}: answered {m} to {n}"),
            Err(e) if e.is::<InjectedFault>() || e.is::<PeerFault>() => Expect::Abort,
            Err(e) => panic!("{id}: unexpected error {e}"),
        };
        assert_eq!(got, expect, "{id}: call {n}");
    }
}

/// One thread, back-to-back calls.
fn bench_one<S>(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, mut svc: S, expect: Expect)
where
    S: Service<u64, Response = u64, Error = BoxError>,
{
    check(id, &mut svc, expect);
    group.bench_function(id, |b| b.iter_custom(|iters| timed(|| calls(&mut svc, iters))));
}

/// `iters` calls, back to back.
#[inline(always)]
fn calls<S: Service<u64>>(svc: &mut S, iters: u64) {
    for n in 0..iters {
        black_box(drive(svc, n)).ok();
    }
}

/// The wall time of `f` less the time this thread spent runnable but
/// waiting for a CPU (from `/proc/thread-self/schedstat`), so that other
/// processes on a busy machine are not counted; time on the CPU or blocked
/// (on a lock, say) still counts. Where schedstat cannot be read, the plain
/// wall time.
#[inline(always)]
fn timed(f: impl FnOnce()) -> Duration {
    let waited = run_queue_wait();
    let start = Instant::now();
    f();
    let elapsed = start.elapsed();
    match (waited, run_queue_wait()) {
        (Some(before), Some(after)) => elapsed.saturating_sub(after.saturating_sub(before)),
        _ => elapsed,
    }
}

/// How long this thread has been runnable but waiting for a CPU: the second
/// field of `/proc/thread-self/schedstat` (nanoseconds).
fn run_queue_wait() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().nth(1)?.parse().ok().map(Duration::from_nanos)
}

/// Two OS threads, each with a clone of the same layered service (so they
/// share whatever the layer shares: a config, a lock, an RNG, counters),
/// released together by a barrier; each makes `iters` calls and times
/// itself as the one-thread ids do. The figure is the slower thread's time
/// per call, comparable to the one-thread id: equal means the threads did
/// not slow each other down.
fn bench_two_threads<S>(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, svc: S, expect: Expect)
where
    S: Service<u64, Response = u64, Error = BoxError> + Clone + Send,
{
    check(id, &mut svc.clone(), expect);
    let handle = tokio::runtime::Handle::current();
    group.bench_function(id, move |b| b.iter_custom(|iters| two_threads(&handle, &svc, iters)));
}

fn two_threads<S>(handle: &tokio::runtime::Handle, svc: &S, iters: u64) -> Duration
where
    S: Service<u64, Response = u64, Error = BoxError> + Clone + Send,
{
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let mut svc = svc.clone();
                let barrier = &barrier;
                scope.spawn(move || {
                    let _rt = handle.enter();
                    barrier.wait();
                    timed(|| calls(&mut svc, iters))
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("bench thread")).max().expect("two threads")
    })
}

/// mischief: one catch-all rule, aborting `percentage`% of calls.
fn mischief(percentage: f64) -> mischief::service::ChaosLayer {
    let rule = Rule::new("catch-all").abort(Abort::status(503).percentage(percentage));
    mischief::service::ChaosLayer::new(Chaos::new(Config::new().rule(rule)).expect("valid config"), "peers")
}

/// mischief: one catch-all rule at 0% under abort conditions (an error
/// rate and a p99 latency), so every call's outcome is timed and recorded
/// in the guardrails' window. The peers have no such thing.
fn mischief_guarded() -> mischief::service::ChaosLayer {
    use mischief::config::{AbortCondition, Guardrails};
    let guardrails = Guardrails::new()
        .abort_condition(AbortCondition::error_rate(0.5))
        .abort_condition(AbortCondition::latency_p99(Duration::from_secs(5)));
    let config = Config::new().guardrails(guardrails).rule(Rule::new("zero").abort(Abort::status(503).percentage(0.0)));
    mischief::service::ChaosLayer::new(Chaos::new(config).expect("valid config"), "peers")
}

/// tower-resilience-chaos: errors at `error_rate`, latency at rate 0.
fn resilience_chaos(
    error_rate: f64,
) -> tower_resilience_chaos::ChaosLayer<tower_resilience_chaos::CustomErrorFn<impl Fn(&u64) -> BoxError + Send + Sync>>
{
    tower_resilience_chaos::ChaosLayer::builder()
        .name("peers")
        .latency_rate(0.0)
        .error_fn(|_: &u64| -> BoxError { Box::new(PeerFault("tower-resilience-chaos")) })
        .error_rate(error_rate)
        .build()
}

/// tower-fault: its latency layer at rate 0 around its error layer at
/// `error_rate`, the stack its docs show.
fn tower_fault<S>(error_rate: f64, inner: S) -> impl Service<u64, Response = u64, Error = BoxError> + Clone + Send
where
    S: Service<u64, Response = u64, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    ServiceBuilder::new()
        .layer(tower_fault::latency::LatencyLayer::new(0.0, 10..100_u64))
        .layer(tower_fault::error::ErrorLayer::new(error_rate, |_: &u64| -> BoxError {
            Box::new(PeerFault("tower-fault"))
        }))
        .service(inner)
}

fn peers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let _guard = rt.enter();
    let mut group = c.benchmark_group("peers");
    let g = &mut group;

    // Not injecting: what a layer costs on every call while it is in place.
    bench_one(g, "bare", bare(), Expect::Pass);
    bench_one(
        g,
        "mischief_disabled",
        mischief::service::ChaosLayer::new(Chaos::disabled(), "peers").layer(bare()),
        Expect::Pass,
    );
    bench_one(g, "mischief_enabled_rate0", mischief(0.0).layer(bare()), Expect::Pass);
    bench_one(g, "tower_resilience_chaos_rate0", resilience_chaos(0.0).layer(bare()), Expect::Pass);
    bench_one(g, "tower_fault_rate0", tower_fault(0.0, bare()), Expect::Pass);
    bench_one(g, "mischief_guarded_rate0", mischief_guarded().layer(bare()), Expect::Pass);

    // Failing every call: the cost of the fault itself.
    bench_one(g, "mischief_abort", mischief(100.0).layer(bare()), Expect::Abort);
    bench_one(g, "tower_resilience_chaos_abort", resilience_chaos(1.0).layer(bare()), Expect::Abort);
    bench_one(g, "tower_fault_abort", tower_fault(1.0, bare()), Expect::Abort);

    // Two threads through one shared layer: a shared lock, RNG or counter
    // shows up only here. `bare_2threads` is the baseline: what two threads
    // cost each other on this machine without any layer.
    bench_two_threads(g, "bare_2threads", bare(), Expect::Pass);
    let disabled = mischief::service::ChaosLayer::new(Chaos::disabled(), "peers").layer(bare());
    bench_two_threads(g, "mischief_disabled_2threads", disabled, Expect::Pass);
    bench_two_threads(g, "mischief_enabled_rate0_2threads", mischief(0.0).layer(bare()), Expect::Pass);
    bench_two_threads(g, "tower_resilience_chaos_rate0_2threads", resilience_chaos(0.0).layer(bare()), Expect::Pass);
    bench_two_threads(g, "tower_fault_rate0_2threads", tower_fault(0.0, bare()), Expect::Pass);
    bench_two_threads(g, "mischief_guarded_rate0_2threads", mischief_guarded().layer(bare()), Expect::Pass);
    bench_two_threads(g, "mischief_abort_2threads", mischief(100.0).layer(bare()), Expect::Abort);
    bench_two_threads(g, "tower_resilience_chaos_abort_2threads", resilience_chaos(1.0).layer(bare()), Expect::Abort);
    bench_two_threads(g, "tower_fault_abort_2threads", tower_fault(1.0, bare()), Expect::Abort);

    group.finish();
}

fn main() {
    common::main(&[peers]);
}
