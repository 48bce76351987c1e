//! The HTTP layer in front of a real tonic server (`tonic-health`), called
//! by a real tonic client.

use std::time::{Duration, Instant};

use mischief::Chaos;
use mischief::config::{Abort, Config, Delay, GrpcCode, Match, Rule};
use mischief::http::ChaosLayer;
use tonic::Code;
use tonic::transport::{Channel, Server, server::TcpIncoming};
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

async fn serve(chaos: &Chaos) -> HealthClient<Channel> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("orders", ServingStatus::Serving).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let layer = ChaosLayer::new(chaos.clone());
    tokio::spawn(async move {
        let _keep = reporter;
        Server::builder()
            .layer(layer)
            .add_service(health)
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    HealthClient::new(channel)
}

fn check(service: &str) -> HealthCheckRequest {
    HealthCheckRequest { service: service.into() }
}

#[tokio::test]
async fn the_client_sees_the_configured_grpc_code_and_other_rpcs_succeed() {
    let chaos = Chaos::new(
        Config::new().rule(
            Rule::new("check-exhausted")
                .when(Match::new().grpc_service("grpc.health.v1.Health").grpc_method("Check"))
                .abort(Abort::grpc(GrpcCode::ResourceExhausted).message("quota gone: 100%").percentage(100.0)),
        ),
    )
    .unwrap();
    let mut client = serve(&chaos).await;

    let status = client.check(check("orders")).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(status.message(), "quota gone: 100%");
    let rule = status.metadata().get("x-mischief-rule").map(|v| v.to_str().unwrap());
    assert_eq!(rule, Some("check-exhausted"), "an injected status is told from a real one");

    // Watch is another method of the same service: untouched.
    let mut stream = client.watch(check("orders")).await.unwrap().into_inner();
    let first = stream.message().await.unwrap().unwrap();
    assert_eq!(first.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);

    // Turned off, Check works again.
    chaos.set_enabled(false);
    let ok = client.check(check("orders")).await.unwrap().into_inner();
    assert_eq!(ok.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
    assert_eq!(chaos.status().rules[0].aborted, 1);
}

#[tokio::test]
async fn an_http_only_abort_becomes_unavailable_for_grpc() {
    let chaos =
        Chaos::new(Config::new().rule(Rule::new("env-like").abort(Abort::status(503).percentage(100.0)))).unwrap();
    let mut client = serve(&chaos).await;
    let status = client.check(check("orders")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("env-like"), "{}", status.message());
}

#[tokio::test]
async fn env_variables_apply_to_grpc_with_a_binomial_share() {
    let chaos = Chaos::from_env_with(|name| match name {
        "CHAOS_ENABLED" => Some("true".into()),
        "CHAOS_FAILURE_RATE" => Some("0.3".into()),
        _ => None,
    })
    .unwrap();
    let mut client = serve(&chaos).await;
    let n = 1000u64;
    let mut unavailable = 0;
    for _ in 0..n {
        match client.check(check("orders")).await {
            Ok(_) => {}
            Err(s) if s.code() == Code::Unavailable => unavailable += 1,
            Err(s) => panic!("unexpected status {s:?}"),
        }
    }
    let (mean, sigma) = (n as f64 * 0.3, (n as f64 * 0.3 * 0.7).sqrt());
    assert!((unavailable as f64 - mean).abs() <= 5.0 * sigma, "{unavailable} of {n}");
}

#[tokio::test]
async fn grpc_delays_hold_the_call() {
    let chaos = Chaos::new(
        Config::new().rule(
            Rule::new("slow-check")
                .when(Match::new().grpc_method("Check"))
                .delay(Delay::fixed(Duration::from_millis(150)).percentage(100.0)),
        ),
    )
    .unwrap();
    let mut client = serve(&chaos).await;
    let t = Instant::now();
    client.check(check("orders")).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn grpc_codes_by_number_and_metadata_matching() {
    let mut abort = Abort::status(504).percentage(100.0);
    abort.grpc_status = Some(mischief::config::GrpcStatus::Code(4));
    let chaos = Chaos::new(
        Config::new().rule(Rule::new("tenant").when(Match::new().header_equals("x-tenant", "canary")).abort(abort)),
    )
    .unwrap();
    let mut client = serve(&chaos).await;
    client.check(check("orders")).await.unwrap();
    let mut req = tonic::Request::new(check("orders"));
    req.metadata_mut().insert("x-tenant", "canary".parse().unwrap());
    assert_eq!(client.check(req).await.unwrap_err().code(), Code::DeadlineExceeded);
}

#[tokio::test]
async fn a_timeout_fault_is_deadline_exceeded_for_grpc() {
    let chaos = Chaos::new(Config::new().rule(
        Rule::new("hang").timeout(mischief::config::Timeout::after(Duration::from_millis(50)).percentage(100.0)),
    ))
    .unwrap();
    let mut client = serve(&chaos).await;
    let t = Instant::now();
    let status = client.check(check("orders")).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert!(t.elapsed() >= Duration::from_millis(50));
}

#[tokio::test]
async fn each_failure_kind_has_its_grpc_code() {
    use mischief::config::{ErrorFault, Loss, Partition, Timeout};
    // What a gRPC client sees for each kind of failure: connection-like
    // failures are UNAVAILABLE, waits that end in failure DEADLINE_EXCEEDED.
    let cases = [
        (Rule::new("error").error(ErrorFault::percentage(100.0)), Code::Unavailable),
        (Rule::new("partition").partition(Partition::new()), Code::Unavailable),
        (Rule::new("loss").loss(Loss::timeout(Duration::from_millis(1)).percentage(100.0)), Code::DeadlineExceeded),
        (
            Rule::new("timeout").timeout(Timeout::after(Duration::from_millis(1)).percentage(100.0)),
            Code::DeadlineExceeded,
        ),
        (Rule::new("abort").abort(Abort::status(500).percentage(100.0)), Code::Unavailable),
    ];
    for (rule, code) in cases {
        let name = rule.name.clone();
        let chaos = Chaos::new(Config::new().rule(rule)).unwrap();
        let mut client = serve(&chaos).await;
        let status = client.check(check("orders")).await.unwrap_err();
        assert_eq!(status.code(), code, "{name}: {status:?}");
        assert!(status.message().contains(&name), "{name}: the message names the rule: {status:?}");
        let rule = status.metadata().get("x-mischief-rule").map(|v| v.to_str().unwrap());
        assert_eq!(rule, Some(name.as_str()), "{name}: the rule in the metadata");
    }
}
