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
