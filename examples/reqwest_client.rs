//! Outbound chaos: a local axum "payments" server, and a reqwest client with
//! `mischief::client::ChaosMiddleware` calling it like the seed's
//! `call_payment_service`. Prints what each call saw.
//!
//! ```sh
//! cargo run --example reqwest_client --features client
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use mischief::Chaos;
use mischief::client::{ChaosMiddleware, injected_fault};
use mischief::config::{Abort, Config, Delay, ErrorFault, Match, Rule, Timeout};
use reqwest_middleware::ClientBuilder;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route("/charge", post(|| async { "charged" }));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let payments = Match::new().door(mischief::Door::Client).path("/charge");
    let chaos = Chaos::new(
        Config::new().seed(7).rule(
            Rule::new("payments")
                .when(payments)
                .abort(Abort::status(503).percentage(10.0))
                .error(ErrorFault::percentage(5.0).message("connection reset by peer"))
                .timeout(Timeout::after(Duration::from_millis(200)).percentage(5.0))
                .delay(Delay::uniform(Duration::from_millis(5), Duration::from_millis(40)).percentage(20.0)),
        ),
    )?;
    let client = ClientBuilder::new(reqwest::Client::new()).with(ChaosMiddleware::new(chaos.clone())).build();

    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for order in 0..300 {
        let outcome = match client.post(format!("http://{addr}/charge")).body(format!("order {order}")).send().await {
            Ok(res) => format!("HTTP {}", res.status()),
            Err(err) => match injected_fault(&err) {
                Some(fault) => format!("error: injected {}", fault.kind()),
                None => format!("error: {err}"),
            },
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    println!("300 calls to the payments service at {addr} through ChaosMiddleware:");
    for (outcome, n) in &outcomes {
        println!("  {n:>4}  {outcome}");
    }
    let r = &chaos.status().rules[0];
    println!(
        "engine: matched {} delayed {} aborted {} errored {} timed out {}",
        r.matched, r.delayed, r.aborted, r.errored, r.timed_out
    );
    Ok(())
}
