//! Helpers shared by the integration tests: real servers on 127.0.0.1:0.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::routing::{any, get};

/// Counts the requests that reached the handlers.
#[derive(Clone, Default)]
pub struct Hits(Arc<AtomicU64>);

impl Hits {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// An app whose every route answers 200 "ok" and counts the hit.
pub fn counting_app(hits: &Hits) -> Router {
    let h = hits.clone();
    let h2 = hits.clone();
    Router::new()
        .route(
            "/",
            get(move || async move {
                h.0.fetch_add(1, Ordering::SeqCst);
                "ok"
            }),
        )
        .route(
            "/{*rest}",
            any(move || async move {
                h2.0.fetch_add(1, Ordering::SeqCst);
                "ok"
            }),
        )
}

/// Serves `app` on 127.0.0.1:0 in a background task; returns its base URL.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr: SocketAddr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("server runs");
    });
    format!("http://{addr}")
}

/// A client with a short overall timeout, so a broken test fails instead of hanging.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(20)).build().expect("client")
}

/// A `lookup` for `Chaos::from_env_with` from pairs.
pub fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// Asserts that `observed` successes out of `n` trials are within 5 sigma of
/// a Binomial(n, p) mean (a false alarm once in ~1.7 million runs).
pub fn assert_binomial(observed: u64, n: u64, p: f64, what: &str) {
    let mean = n as f64 * p;
    let sigma = (n as f64 * p * (1.0 - p)).sqrt();
    let dev = (observed as f64 - mean).abs();
    assert!(
        dev <= 5.0 * sigma,
        "{what}: observed {observed} of {n}, expected {mean:.1} +- {:.1} (5 sigma); off by {:.1} sigma",
        5.0 * sigma,
        dev / sigma
    );
}

/// Calls a service that is always ready.
pub fn call_now<S: tower::Service<u64>>(svc: &mut S, n: u64) -> S::Future {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(svc.poll_ready(&mut cx).is_ready(), "the service is always ready");
    svc.call(n)
}

/// Polls a future that is ready at once; `true` if it ends in an error.
pub fn ends_in_error<F: std::future::Future<Output = Result<T, E>>, T, E>(fut: F) -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(fut).poll(&mut cx) {
        std::task::Poll::Ready(res) => res.is_err(),
        std::task::Poll::Pending => panic!("the inner service answers at once"),
    }
}

/// An engine whose one abort condition trips when more than `limit` of at
/// least 10 calls fail, over a long window; its rule injects nothing.
pub fn watching(limit: f64) -> mischief::config::Config {
    use mischief::config::{Abort, AbortCondition, Config, Guardrails, Rule};
    Config::new()
        .guardrails(
            Guardrails::new()
                .window(std::time::Duration::from_secs(600))
                .min_samples(10)
                .abort_condition(AbortCondition::error_rate(limit)),
        )
        .rule(Rule::new("zero").abort(Abort::status(503).percentage(0.0)))
}

/// The delay [`watching_delayed`] injects.
pub const INJECTED_DELAY: std::time::Duration = std::time::Duration::from_millis(500);
/// The p99 limit of [`watching_delayed`]: below the delay, with room for a
/// loaded machine's own latency.
pub const P99_LIMIT: std::time::Duration = std::time::Duration::from_millis(400);

/// Abort conditions on the p99 (over [`P99_LIMIT`]) and the error rate
/// (over 50%) of at least 10 calls in a minute, and `rule` delaying every
/// call it matches by [`INJECTED_DELAY`]: longer than the p99 allows, so a
/// delayed call must count, and be timed without its delay, for the guard
/// to hold.
pub fn watching_delayed(rule: mischief::config::Rule) -> mischief::config::Config {
    use mischief::config::{AbortCondition, Config, Delay, Guardrails};
    use std::time::Duration;
    Config::new()
        .guardrails(
            Guardrails::new()
                .window(Duration::from_secs(60))
                .min_samples(10)
                .abort_condition(AbortCondition::latency_p99(P99_LIMIT))
                .abort_condition(AbortCondition::error_rate(0.5)),
        )
        .rule(rule.delay(Delay::fixed(INJECTED_DELAY).percentage(100.0)))
}

/// A service failing every other call, behind the generic layer.
pub fn half_failing(
    chaos: &mischief::Chaos,
) -> impl tower::Service<u64, Response = u64, Error = mischief::BoxError, Future: Send> + use<> {
    use tower::Layer;
    let inner = tower::service_fn(|n: u64| {
        std::future::ready(if n.is_multiple_of(2) {
            Err::<u64, mischief::BoxError>("inner failure".into())
        } else {
            Ok(n)
        })
    });
    mischief::service::ChaosLayer::new(chaos.clone(), "svc").layer(inner)
}

/// Two rules that abort every call: one at once, one after a 5 ms delay
/// (for testing both ways a faulted call ends).
pub fn abort_now_and_after_a_delay() -> [mischief::config::Rule; 2] {
    use mischief::config::{Abort, Delay, Rule};
    let abort = Abort::status(503).percentage(100.0);
    [
        Rule::new("now").abort(abort.clone()),
        Rule::new("later").delay(Delay::fixed(std::time::Duration::from_millis(5)).percentage(100.0)).abort(abort),
    ]
}

/// Polls a future that has given its answer three more times, asserting
/// `Pending` each time (a finished future must not panic).
pub fn assert_pending_after_answer<F: std::future::Future + Unpin>(fut: &mut F, name: &str) {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..3 {
        assert!(std::pin::Pin::new(&mut *fut).poll(&mut cx).is_pending(), "{name}: polled again after its answer");
    }
}

/// A service that is ready the first time it is polled and broken after
/// that (`poll_ready` fails with "backend gone"); it answers with `answer`.
/// Its clones share the count of polls.
#[derive(Clone)]
pub struct ReadyOnce<F> {
    polls: Arc<AtomicU64>,
    answer: F,
}

impl<F> ReadyOnce<F> {
    pub fn new(answer: F) -> Self {
        Self { polls: Arc::default(), answer }
    }

    /// The count of `poll_ready` calls, shared with every clone.
    pub fn polls(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.polls)
    }
}

impl<Req, Res, F: Fn(Req) -> Res> tower::Service<Req> for ReadyOnce<F> {
    type Response = Res;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<Res, std::io::Error>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(match self.polls.fetch_add(1, Ordering::SeqCst) {
            0 => Ok(()),
            _ => Err(std::io::Error::other("backend gone")),
        })
    }

    fn call(&mut self, req: Req) -> Self::Future {
        std::future::ready(Ok((self.answer)(req)))
    }
}
