//! A real axum service with chaos on, real traffic through it, and a summary
//! of what was injected.
//!
//! ```sh
//! cargo run --example quickstart
//! CHAOS_FAILURE_RATE=0.3 CHAOS_LATENCY_MS=20 CHAOS_ABORT_STATUS=500 cargo run --example quickstart
//! ```
//!
//! Unset `CHAOS_*` variables take demo defaults (on, 10% aborts, 0..=50 ms
//! latency); `CHAOS_ENABLED=false` shows the library switched off.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::routing::get;
use axum::{Router, ServiceExt};
use mischief::Chaos;
use mischief::http::ChaosLayer;
use tower::Layer;

const REQUESTS: usize = 2_000;
const CONCURRENCY: usize = 16;
const _: () = assert!(REQUESTS.is_multiple_of(CONCURRENCY), "every worker sends the same share");
const DEFAULTS: [(&str, &str); 3] =
    [("CHAOS_ENABLED", "true"), ("CHAOS_FAILURE_RATE", "0.1"), ("CHAOS_LATENCY_MS", "50")];

#[tokio::main]
async fn main() {
    // The real environment wins; unset variables take the demo defaults.
    let defaulted: Vec<String> =
        DEFAULTS.iter().filter(|(k, _)| std::env::var(k).is_err()).map(|(k, v)| format!("{k}={v}")).collect();
    let chaos = Chaos::from_env_with(|name| {
        std::env::var(name).ok().or_else(|| DEFAULTS.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    });
    let chaos = match chaos {
        Ok(chaos) => chaos,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };

    // The layer around the whole router: every request, before routing.
    let router = Router::new().route("/api/orders/{id}", get(|| async { "order" }));
    let app = ChaosLayer::new(chaos.clone()).abort_body(axum::body::Body::from).layer(router.with_state(()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let app = ServiceExt::<Request>::into_make_service(app);
    tokio::spawn(async move { axum::serve(listener, app).await.expect("server") });

    println!("mischief quickstart: an axum service on http://{addr} behind mischief::http::ChaosLayer");
    if !defaulted.is_empty() {
        println!("  demo defaults for unset variables: {}", defaulted.join(" "));
    }
    println!("  chaos {}", describe(&chaos));
    println!("  sending {REQUESTS} requests, {CONCURRENCY} at a time ...\n");

    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let client = client.clone();
        let share = REQUESTS / CONCURRENCY;
        workers.spawn(async move {
            let mut seen = Vec::with_capacity(share);
            for i in 0..share {
                let t = Instant::now();
                let status = match client.get(format!("http://{addr}/api/orders/{i}")).send().await {
                    Ok(res) => res.status().as_u16(),
                    Err(_) => 0,
                };
                seen.push((status, t.elapsed()));
            }
            seen
        });
    }
    let mut results = Vec::with_capacity(REQUESTS);
    while let Some(r) = workers.join_next().await {
        results.extend(r.expect("worker"));
    }
    let wall = started.elapsed();
    print_summary(&results, wall);
    print_counters(&chaos);
}

fn describe(chaos: &Chaos) -> String {
    if !chaos.is_enabled() {
        return "is OFF (CHAOS_ENABLED=false): nothing will be injected".into();
    }
    let config = chaos.config();
    let Some(rule) = config.rules.first() else {
        return "is on, with no faults configured (CHAOS_FAILURE_RATE and CHAOS_LATENCY_MS are 0)".into();
    };
    let mut parts = Vec::new();
    if let Some(a) = &rule.abort {
        let pct = (a.percentage.unwrap_or(0.0) * 1000.0).round() / 1000.0;
        parts.push(format!("abort {pct}% with HTTP {}", a.status.unwrap_or(503)));
    }
    if let Some(d) = &rule.delay {
        parts.push(format!("delay every call not aborted by 0..={} ms", d.max.unwrap_or_default().as_millis()));
    }
    format!("is ON, rule {:?}: {}", rule.name, parts.join(", "))
}

fn print_summary(results: &[(u16, Duration)], wall: Duration) {
    let n = results.len();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for (s, _) in results {
        *by_status.entry(*s).or_default() += 1;
    }
    let pct = |k: usize| 100.0 * k as f64 / n as f64;
    let ok = by_status.get(&200).copied().unwrap_or(0);
    println!("  {:<22}{:>8}", "requests", n);
    println!("  {:<22}{:>8}  {:>5.1}%", "ok (200)", ok, pct(ok));
    for (status, count) in by_status.iter().filter(|(s, _)| **s != 200) {
        let label = if *status == 0 { "transport errors".to_owned() } else { format!("aborted ({status})") };
        println!("  {label:<22}{count:>8}  {:>5.1}%", pct(*count));
    }
    let mut lat: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
    lat.sort();
    let q = |p: f64| lat[((n as f64 * p).ceil() as usize).clamp(1, n) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  {:<22}p50 {:.1} ms   p90 {:.1} ms   p99 {:.1} ms   max {:.1} ms",
        "latency",
        ms(q(0.50)),
        ms(q(0.90)),
        ms(q(0.99)),
        ms(lat[n - 1])
    );
    println!("  {:<22}{:.2} s ({:.0} requests/s)\n", "wall time", wall.as_secs_f64(), n as f64 / wall.as_secs_f64());
}

fn print_counters(chaos: &Chaos) {
    let status = chaos.status();
    println!("engine counters (Chaos::status):");
    if status.rules.is_empty() {
        println!("  no rules");
    }
    println!("  {:<12}{:>9}{:>9}{:>9}{:>9}", "rule", "matched", "delayed", "aborted", "skipped");
    for r in &status.rules {
        println!("  {:<12}{:>9}{:>9}{:>9}{:>9}", r.name, r.matched, r.delayed, r.aborted, r.skipped);
    }
}
