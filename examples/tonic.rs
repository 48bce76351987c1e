//! A tonic gRPC server (the standard health service) behind the chaos
//! layer: a third of `Check` calls fail with UNAVAILABLE, `Watch` is left
//! alone.
//!
//! ```sh
//! cargo run --example tonic
//! ```

use std::collections::BTreeMap;

use mischief::Chaos;
use mischief::config::{Abort, Config, GrpcCode, Match, Rule};
use mischief::http::ChaosLayer;
use tonic::transport::{Channel, Server, server::TcpIncoming};
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chaos = Chaos::new(
        Config::new().rule(
            Rule::new("flaky-health-check")
                .when(Match::new().grpc_service("grpc.health.v1.Health").grpc_method("Check"))
                .abort(Abort::grpc(GrpcCode::Unavailable).message("injected by mischief").percentage(33.0)),
        ),
    )?;

    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("orders", ServingStatus::Serving).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let layer = ChaosLayer::new(chaos.clone());
    tokio::spawn(async move {
        let _reporter = reporter;
        Server::builder().layer(layer).add_service(health).serve_with_incoming(TcpIncoming::from(listener)).await
    });

    let mut client = HealthClient::new(Channel::from_shared(format!("http://{addr}"))?.connect().await?);
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..300 {
        let key = match client.check(HealthCheckRequest { service: "orders".into() }).await {
            Ok(_) => "OK".to_owned(),
            Err(status) => format!("{:?}: {}", status.code(), status.message()),
        };
        *outcomes.entry(key).or_default() += 1;
    }
    println!("300 Check calls to a tonic health server on {addr}:");
    for (outcome, n) in &outcomes {
        println!("  {n:>4}  {outcome}");
    }
    let mut watch = client.watch(HealthCheckRequest { service: "orders".into() }).await?.into_inner();
    println!("Watch (not selected by the rule) first message: {:?}", watch.message().await?.map(|m| m.status()));
    let rule = &chaos.status().rules[0];
    println!("engine: rule {:?} matched {} and aborted {}", rule.name, rule.matched, rule.aborted);
    Ok(())
}
