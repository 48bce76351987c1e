//! The seed's Python decorator, in Rust:
//!
//! ```python
//! @chaos_middleware
//! def call_payment_service(order):
//!     return requests.post(PAYMENT_URL, json=order.to_dict())
//! ```
//!
//! becomes `#[chaos]` on `call_payment_service`, configured by the same
//! `CHAOS_*` variables, with the failure arriving as the function's own
//! error type and the latency awaited instead of blocking a thread.
//!
//! ```sh
//! cargo run --example macro
//! CHAOS_FAILURE_RATE=0.3 CHAOS_LATENCY_MS=20 cargo run --example macro
//! ```
//!
//! Unset `CHAOS_*` variables take demo defaults (on, 10% failures, 0..=50 ms
//! latency); `CHAOS_ENABLED=false` shows the points switched off.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use mischief::{Chaos, InjectedFault, chaos, chaos_point};

const ORDERS: u64 = 200;
const DEFAULTS: [(&str, &str); 3] =
    [("CHAOS_ENABLED", "true"), ("CHAOS_FAILURE_RATE", "0.1"), ("CHAOS_LATENCY_MS", "50")];

struct Order {
    id: u64,
    cents: u64,
}

impl Order {
    fn to_json(&self) -> String {
        serde_json::json!({ "id": self.id, "cents": self.cents }).to_string()
    }
}

/// What can go wrong when charging an order: the real failures, and the
/// ones mischief injects, told apart by the caller.
#[derive(Debug)]
enum PaymentError {
    Invalid(&'static str),
    Http(reqwest::Error),
    Status(reqwest::StatusCode),
    Injected(InjectedFault),
}

impl std::fmt::Display for PaymentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PaymentError::Invalid(why) => write!(f, "invalid order: {why}"),
            PaymentError::Http(e) => write!(f, "payment service unreachable: {e}"),
            PaymentError::Status(status) => write!(f, "payment service answered {status}"),
            PaymentError::Injected(fault) => write!(f, "{fault}"),
        }
    }
}

impl From<InjectedFault> for PaymentError {
    fn from(fault: InjectedFault) -> Self {
        PaymentError::Injected(fault)
    }
}

impl From<reqwest::Error> for PaymentError {
    fn from(e: reqwest::Error) -> Self {
        PaymentError::Http(e)
    }
}

/// Posts the order to the payment service. Rules select it as
/// `payments.charge` (`match = { name = "payments.*" }`); the catch-all
/// rule of the `CHAOS_*` variables selects every point.
#[chaos(name = "payments.charge")]
async fn call_payment_service(client: &reqwest::Client, url: &str, order: &Order) -> Result<String, PaymentError> {
    if order.cents == 0 {
        return Err(PaymentError::Invalid("an order must cost something"));
    }
    let res = client.post(url).header("content-type", "application/json").body(order.to_json()).send().await?;
    if !res.status().is_success() {
        return Err(PaymentError::Status(res.status()));
    }
    // A second point, inside the body: the charge went through but the
    // receipt is lost, the case retries must not double-charge.
    chaos_point!(async "payments.receipt");
    Ok(res.text().await?)
}

#[tokio::main]
async fn main() {
    // The real environment wins; unset variables take the demo defaults.
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
    // `#[chaos]` uses the process-wide handle unless given one.
    if Chaos::set_global(chaos).is_err() {
        unreachable!("nothing used the global handle yet");
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let url = format!("http://{}/charge", listener.local_addr().expect("local address"));
    let app = Router::new().route("/charge", post(|body: String| async move { format!("receipt for {body}") }));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("server") });

    println!("mischief macro example: call_payment_service under #[chaos], against a payment service at {url}");
    println!("  compiled in: {}, chaos on: {}", mischief::compiled_in(), Chaos::global().is_enabled());

    let client = reqwest::Client::new();
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut latencies = Vec::new();
    for id in 0..ORDERS {
        let order = Order { id, cents: 100 + id };
        let start = Instant::now();
        let outcome = match call_payment_service(&client, &url, &order).await {
            Ok(_receipt) => "charged".to_owned(),
            Err(PaymentError::Injected(fault)) => format!("injected {} (rule `{}`)", fault.kind(), fault.rule()),
            Err(other) => format!("real error: {other}"),
        };
        latencies.push(start.elapsed());
        *outcomes.entry(outcome).or_default() += 1;
    }

    println!("\n{ORDERS} orders:");
    for (outcome, n) in &outcomes {
        println!("  {n:>5}  {outcome}");
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!("  latency p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms", ms(at(0.5)), ms(at(0.9)), ms(at(1.0)));

    println!("\nengine counters (Chaos::status; two points per order: payments.charge, then");
    println!("payments.receipt for the orders that got that far, so more calls than orders):");
    for r in &Chaos::global().status().rules {
        println!(
            "  rule {:?}: matched {} delayed {} aborted {} skipped {}",
            r.name, r.matched, r.delayed, r.aborted, r.skipped
        );
    }
}
