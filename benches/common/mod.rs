//! What the criterion benches and the allocation test share: the services
//! under test and a driver that calls a ready service and polls its future
//! once with a no-op waker (every service here answers at once).
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use std::time::{Duration, Instant};

use criterion::Bencher;
use http::{Method, Request, Response};
use mischief::Chaos;
use mischief::config::{Abort, Config, Match, Rule};
use tower::Service;

/// Criterion's defaults, but 10,000 bootstrap resamples instead of 100,000.
/// With 100,000, each id's analysis allocated and freed vectors of 800 KB,
/// larger than glibc's threshold for mapping memory fresh from the system;
/// freeing them raised the threshold, and every later id's requests came
/// from a larger, more scattered heap: the same bare service read 13-15 ns
/// slower as a later id (`overhead/bare_again`) than as the first. The
/// medians do not depend on the resamples; their confidence intervals are a
/// little rougher.
pub fn criterion() -> criterion::Criterion {
    criterion::Criterion::default().nresamples(10_000)
}

/// The tunable [`steady_allocator`] sets: room in glibc's per-thread cache
/// for every chunk a batch of requests frees.
const TCACHE_TUNABLE: &str = "glibc.malloc.tcache_count=65535";

/// Runs the bench again, at once, with glibc's per-thread cache of freed
/// chunks large enough for a whole batch of requests (the environment
/// variable `GLIBC_TUNABLES`, which glibc reads only at start-up); call it
/// first thing in `main`. Does nothing where glibc is not the C library, or
/// where `GLIBC_TUNABLES` already sets the cache's size.
///
/// Every timed call drops its request, which frees two chunks (the header
/// map's two tables). glibc's cache keeps 7 freed chunks of a size; beyond
/// that, a free goes to the heap's bins and merges with free neighbours,
/// and how long that takes depends on how the heap was laid out by
/// everything the process did before: the same bare service read 63-77 ns
/// across six processes, and a layer that only wraps the future read
/// +6.3 ns over it (median). With the cache this large, every free in the
/// timed part is a push onto a list, the same in every id and process:
/// `bare` 58-67 ns, that layer -0.6 ns (benches/HISTORY.md, sitting P). The
/// layers allocate nothing on the measured paths, so this changes the cost
/// every id shares, never the difference between them.
pub fn steady_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    rerun_with_tcache();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn rerun_with_tcache() {
    use std::os::unix::process::CommandExt;
    let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    if tunables.split(':').any(|t| t.starts_with("glibc.malloc.tcache_count=")) {
        return;
    }
    let tunables = if tunables.is_empty() { TCACHE_TUNABLE.to_owned() } else { format!("{tunables}:{TCACHE_TUNABLE}") };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return eprintln!("steady_allocator: no path to this bench ({e}); timings will vary more"),
    };
    // `exec` returns only if it failed.
    let e = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env("GLIBC_TUNABLES", tunables).exec();
    eprintln!("steady_allocator: could not run again with {TCACHE_TUNABLE} ({e}); timings will vary more");
}

/// `main` for a bench of this harness: [`steady_allocator`], then each
/// target with [`criterion`]'s settings and the command line's, then the
/// summary (what `criterion_group!` and `criterion_main!` do together).
pub fn main(targets: &[fn(&mut criterion::Criterion)]) {
    steady_allocator();
    let mut c = criterion().configure_from_args();
    for target in targets {
        target(&mut c);
    }
    c.final_summary();
}

/// The bare service: answers every request with an empty 200.
pub fn bare()
-> impl Service<Request<()>, Response = Response<()>, Error = std::convert::Infallible, Future: Send> + Clone {
    tower::service_fn(|_req: Request<()>| std::future::ready(Ok::<_, std::convert::Infallible>(Response::new(()))))
}

static URI: std::sync::LazyLock<http::Uri> = std::sync::LazyLock::new(|| http::Uri::from_static("/api/users/42"));

/// `GET /api/users/42` as a server receives it over HTTP/1.1: an
/// origin-form URI (parsed once and cloned) and `Host`, `Accept` and
/// `User-Agent` headers. The benches build requests outside the timed part,
/// so their construction is not measured; their drop is, in every id alike.
#[inline]
pub fn request() -> Request<()> {
    let mut req = Request::new(());
    *req.uri_mut() = URI.clone();
    let headers = req.headers_mut();
    headers.insert(http::header::HOST, http::HeaderValue::from_static("api.example.com"));
    headers.insert(http::header::ACCEPT, http::HeaderValue::from_static("application/json"));
    headers.insert(http::header::USER_AGENT, http::HeaderValue::from_static("bench/1.0"));
    req
}

/// A request like a typical API call, with a `Host` header and an `Accept`
/// header (building it allocates).
pub fn request_with_headers() -> Request<()> {
    Request::builder()
        .method(Method::GET)
        .uri("/api/users/42")
        .header("host", "api.example.com")
        .header("accept", "application/json")
        .body(())
        .expect("valid request")
}

/// Calls a ready service once and polls the response future to completion.
/// Always inlined, so every bench id gets the same treatment from the
/// optimizer whatever the size of the service.
#[inline(always)]
pub fn drive<S, B>(svc: &mut S, req: Request<B>) -> Response<()>
where
    S: Service<Request<B>, Response = Response<()>>,
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    if svc.poll_ready(&mut cx).is_pending() {
        panic!("the benched services are always ready");
    }
    let mut fut = pin!(svc.call(black_box(req)));
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(res) => res.expect("the benched services do not fail"),
        Poll::Pending => panic!("the benched services answer at once"),
    }
}

/// Requests built ahead of each timed batch.
const BATCH: u64 = 1024;

/// How many places a batch can start at in its buffer (see [`timed`]). A
/// request is 224 bytes (7 × 32, on 64-bit targets), so 128 consecutive
/// places cover every 32-byte step within 4 KiB.
const SHIFTS: usize = 128;

/// How far the start moves from one batch to the next, in requests: odd,
/// so that every place comes round, and far from 1, so that neighbouring
/// batches start far apart.
const SHIFT_STEP: usize = 37;

/// Times `drive` over fresh requests that are built outside the timed part,
/// in batches, so what is measured is the call, the poll and the drops, not
/// the construction of the request.
pub fn bench_calls<S>(b: &mut Bencher<'_>, svc: &mut S)
where
    S: Service<Request<()>, Response = Response<()>>,
    S::Error: std::fmt::Debug,
{
    timed_batches(b, |req| {
        black_box(drive(svc, req));
    });
}

/// As [`bench_calls`], with each call made on a fresh clone of the service
/// (see [`bench_cloned_calls_two_threads`]).
pub fn bench_cloned_calls<S>(b: &mut Bencher<'_>, svc: &S)
where
    S: Service<Request<()>, Response = Response<()>> + Clone,
    S::Error: std::fmt::Debug,
{
    timed_batches(b, |req| {
        black_box(drive(&mut svc.clone(), req));
    });
}

/// Times `call` on fresh requests, built in batches outside the timed part.
///
/// Every id of a bench thread drives its requests out of the same buffer.
/// With a buffer of its own per id, the first id's was mapped fresh from
/// the system (it is larger than glibc's threshold for that), and freeing it
/// raised the threshold, so every later id's buffer came from the heap
/// instead: `bare`, the first id, ran on different memory from the rest.
#[inline(always)]
fn timed_batches(b: &mut Bencher<'_>, mut call: impl FnMut(Request<()>)) {
    thread_local! {
        static BUFFER: std::cell::Cell<Vec<Request<()>>> = const { std::cell::Cell::new(Vec::new()) };
    }
    let mut batch = BUFFER.take();
    batch.reserve(BATCH as usize + SHIFTS);
    let mut shift = 0;
    b.iter_custom(|iters| timed(iters, &mut batch, &mut shift, &mut call));
    BUFFER.set(batch);
}

/// The time `iters` calls of `call` take, on requests built in batches
/// (in `batch`) outside the timed part.
///
/// Each batch starts at a different place in `batch`'s buffer: before the
/// requests go `shift` spare ones, which are not touched while timed, and
/// `shift` changes from batch to batch (and carries on into the next
/// sample, so that short samples do not all see the same places).
///
/// Moving a request out of the buffer is a copy from the heap to the stack,
/// and how fast the loads after it run depends on where the two sit
/// relative to each other (when their addresses agree in the low 12 bits,
/// the processor takes a load for one that depends on an earlier store, and
/// waits). With one place for the whole run, that was fixed per process and
/// per id: the same code read 30 ns apart between processes. Spread over
/// every place, each sample is the average over them, the same for every id.
#[inline(always)]
fn timed(iters: u64, batch: &mut Vec<Request<()>>, shift: &mut usize, mut call: impl FnMut(Request<()>)) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH);
        batch.truncate(*shift);
        batch.extend((batch.len()..*shift).map(|_| request()));
        batch.extend((0..n).map(|_| request()));
        let start = Instant::now();
        for req in batch.drain(*shift..) {
            call(req);
        }
        total += start.elapsed();
        left -= n;
        *shift = (*shift + SHIFT_STEP) % SHIFTS;
    }
    total
}

/// Times `drive` as [`bench_calls`] does, from two OS threads at once, each
/// with a clone of `svc` (so they share whatever the layer shares), released
/// together; the figure is the slower thread's time per call. Equal to the
/// one-thread figure means the threads did not slow each other down.
pub fn bench_calls_two_threads<S>(b: &mut Bencher<'_>, svc: &S)
where
    S: Service<Request<()>, Response = Response<()>> + Clone + Send,
    S::Error: std::fmt::Debug,
{
    two_threads::<S, false>(b, svc);
}

/// As [`bench_calls_two_threads`], with each call made on a fresh clone of
/// the service, dropped after the call: what axum's `Router::layer` does
/// for every request (it clones the route's layered service).
pub fn bench_cloned_calls_two_threads<S>(b: &mut Bencher<'_>, svc: &S)
where
    S: Service<Request<()>, Response = Response<()>> + Clone + Send,
    S::Error: std::fmt::Debug,
{
    two_threads::<S, true>(b, svc);
}

fn two_threads<S, const CLONE_PER_CALL: bool>(b: &mut Bencher<'_>, svc: &S)
where
    S: Service<Request<()>, Response = Response<()>> + Clone + Send,
    S::Error: std::fmt::Debug,
{
    let handle = tokio::runtime::Handle::current();
    let mut shifts = [0; 2];
    b.iter_custom(|iters| {
        let barrier = std::sync::Barrier::new(2);
        std::thread::scope(|scope| {
            let threads: Vec<_> = shifts
                .iter_mut()
                .map(|shift| {
                    let (mut svc, barrier, handle) = (svc.clone(), &barrier, &handle);
                    scope.spawn(move || {
                        let _rt = handle.enter();
                        let mut batch = Vec::with_capacity(BATCH as usize + SHIFTS);
                        barrier.wait();
                        timed(iters, &mut batch, shift, |req| {
                            if CLONE_PER_CALL {
                                black_box(drive(&mut svc.clone(), req));
                            } else {
                                black_box(drive(&mut svc, req));
                            }
                        })
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().expect("bench thread")).max().expect("two threads")
        })
    });
}

/// Enabled, one catch-all rule aborting every request with 503, a body and
/// a header, as a configured abort answers.
pub fn enabled_abort() -> Chaos {
    let abort = Abort::status(503).percentage(100.0).body("try again later").header("retry-after", "1");
    Chaos::new(Config::new().rule(Rule::new("down").abort(abort))).expect("valid config")
}

/// Enabled, one catch-all rule at 0%: the rule matches every request, and
/// injects nothing.
pub fn enabled_pass() -> Chaos {
    Chaos::new(Config::new().rule(Rule::new("zero").abort(Abort::status(503).percentage(0.0)))).expect("valid config")
}

/// Enabled, 16 realistic rules, none of which matches [`request`].
pub fn sixteen_rules_no_match() -> Chaos {
    Chaos::new(sixteen_rules_config()).expect("valid config")
}

/// Enabled and not injecting, as in the HTTP load test: the 16 rules of
/// [`sixteen_rules_no_match`], then one catch-all rule at 0%.
pub fn sixteen_rules_then_pass() -> Chaos {
    let catch_all = Rule::new("catch-all").abort(Abort::status(503).percentage(0.0));
    Chaos::new(sixteen_rules_config().rule(catch_all)).expect("valid config")
}

/// 16 realistic rules (paths, methods, headers, hosts), none of which
/// matches [`request`] or a `GET /` to 127.0.0.1.
fn sixteen_rules_config() -> Config {
    let mut config = Config::new();
    for i in 0..16 {
        let when = match i % 4 {
            0 => Match::new().path_prefix(format!("/internal/v{i}")),
            1 => Match::new().method("DELETE").path(format!("/api/items/{i}")),
            2 => Match::new().path("/api/orders/*").header_equals("x-canary", format!("group-{i}")),
            _ => Match::new().host(format!("*.region-{i}.internal")),
        };
        config = config.rule(Rule::new(format!("rule-{i}")).when(when).abort(Abort::status(503).percentage(50.0)));
    }
    config
}

/// Enabled, one catch-all rule at 0%, under guardrails of every kind: time
/// window, caps, an exclusion and both abort conditions (so every call is
/// timed and its outcome recorded).
pub fn guarded_pass() -> Chaos {
    use mischief::config::{AbortCondition, Guardrails};
    let guardrails = Guardrails::new()
        .allowed_hours("00:00-24:00")
        .max_percentage_affected(10.0)
        .max_active_faults(5)
        .exclude(Match::new().path("/health"))
        .abort_condition(AbortCondition::error_rate(0.05))
        .abort_condition(AbortCondition::latency_p99(Duration::from_secs(5)));
    Chaos::new(Config::new().guardrails(guardrails).rule(Rule::new("zero").abort(Abort::status(503).percentage(0.0))))
        .expect("valid config")
}
