//! The reqwest middleware against real servers on 127.0.0.1:0 that count the
//! requests they receive.

#[path = "../support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mischief::client::{ChaosMiddleware, injected_fault};
use mischief::config::{Abort, Config, Delay, ErrorFault, Loss, Match, Partition, Rule, Timeout};
use mischief::{Chaos, Door, FaultKind, InjectedFault};
use reqwest::StatusCode;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use support::{Hits, assert_binomial, counting_app, serve};

/// A counting server; returns its address.
async fn server() -> (SocketAddr, Hits) {
    let hits = Hits::default();
    let url = serve(counting_app(&hits)).await;
    (url.trim_start_matches("http://").parse().unwrap(), hits)
}

/// A client with the chaos middleware, resolving the given test host names.
fn client(chaos: &Chaos, hosts: &[(&str, SocketAddr)]) -> ClientWithMiddleware {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(20));
    for (host, addr) in hosts {
        builder = builder.resolve(host, *addr);
    }
    ClientBuilder::new(builder.build().unwrap()).with(ChaosMiddleware::new(chaos.clone())).build()
}

fn rule_on(path: &str) -> Rule {
    Rule::new(path.trim_start_matches('/')).when(Match::new().door(Door::Client).path(path))
}

#[tokio::test]
async fn each_fault_kind_does_what_it_says_and_failed_calls_never_arrive() {
    let chaos = Chaos::new(
        Config::new()
            .rule(
                rule_on("/abort")
                    .abort(Abort::status(503).body("injected body").header("retry-after", "1").percentage(100.0)),
            )
            .rule(rule_on("/error").error(ErrorFault::percentage(100.0).message("connection reset (injected)")))
            .rule(rule_on("/timeout").timeout(Timeout::after(Duration::from_millis(150)).percentage(100.0)))
            .rule(rule_on("/loss").loss(Loss::timeout(Duration::from_millis(120)).percentage(100.0)))
            .rule(rule_on("/partition").partition(Partition::new().connect_delay(Duration::from_millis(80))))
            .rule(rule_on("/delay").delay(Delay::fixed(Duration::from_millis(100)).percentage(100.0))),
    )
    .unwrap();
    let (addr, hits) = server().await;
    let c = client(&chaos, &[]);
    let url = |p: &str| format!("http://{addr}{p}");

    let res = c.get(url("/abort")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(res.headers()["x-mischief-rule"], "abort");
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8", "as the HTTP layer answers");
    assert_eq!(res.version(), reqwest::Version::HTTP_11, "the request's version");
    assert_eq!(res.url().as_str(), url("/abort"));
    assert_eq!(res.text().await.unwrap(), "injected body");

    let err = c.get(url("/error")).send().await.unwrap_err();
    let fault = injected_fault(&err).expect("an injected fault");
    assert_eq!(
        (fault.rule(), fault.kind(), fault.message()),
        ("error", FaultKind::Error, Some("connection reset (injected)"))
    );
    assert!(err.is_middleware());
    match &err {
        reqwest_middleware::Error::Middleware(e) => assert!(e.downcast_ref::<InjectedFault>().is_some()),
        other => panic!("expected a middleware error, got {other:?}"),
    }

    for (path, kind, min) in [
        ("/timeout", FaultKind::Timeout, 150),
        ("/loss", FaultKind::Loss, 120),
        ("/partition", FaultKind::Partition, 80),
    ] {
        let t = Instant::now();
        let err = c.get(url(path)).send().await.unwrap_err();
        assert!(t.elapsed() >= Duration::from_millis(min), "{path} failed after {:?}", t.elapsed());
        assert_eq!(injected_fault(&err).map(InjectedFault::kind), Some(kind), "{path}");
        assert!(err.to_string().contains(kind.as_str()), "{err}");
    }
    assert_eq!(hits.get(), 0, "no failed call may reach the server");

    let t = Instant::now();
    assert_eq!(c.get(url("/delay")).send().await.unwrap().status(), StatusCode::OK);
    assert!(t.elapsed() >= Duration::from_millis(100));
    assert_eq!(hits.get(), 1, "a delayed call arrives");

    let status = chaos.status();
    let count = |name: &str| status.rule(name).unwrap().clone();
    assert_eq!(count("abort").aborted, 1);
    assert_eq!(count("error").errored, 1);
    assert_eq!(count("timeout").timed_out, 1);
    assert_eq!(count("loss").lost, 1);
    assert_eq!(count("partition").partitioned, 1);
    assert_eq!(count("delay").delayed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_share_is_binomial_and_aborted_calls_never_arrive() {
    let chaos = Chaos::new(Config::new().rule(Rule::new("flaky").abort(Abort::status(503).percentage(30.0)))).unwrap();
    let (addr, hits) = server().await;
    let c = client(&chaos, &[]);
    let n = 2000u64;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let c = c.clone();
        tasks.spawn(async move {
            let mut aborted = 0u64;
            for _ in 0..n / 8 {
                if c.get(format!("http://{addr}/x")).send().await.unwrap().status() == StatusCode::SERVICE_UNAVAILABLE {
                    aborted += 1;
                }
            }
            aborted
        });
    }
    let mut aborted = 0;
    while let Some(r) = tasks.join_next().await {
        aborted += r.unwrap();
    }
    assert_binomial(aborted, n, 0.3, "client aborts at 30%");
    assert_eq!(hits.get(), n - aborted);
}

#[tokio::test]
async fn rules_select_by_host_and_path_a_partition_of_one_host_leaves_the_other_alone() {
    let chaos = Chaos::new(
        Config::new()
            .rule(Rule::new("cut-db").when(Match::new().door(Door::Client).host("db.test")).partition(Partition::new()))
            .rule(
                Rule::new("slow-payments")
                    .when(Match::new().host("*.payments.test").path_prefix("/charge"))
                    .abort(Abort::status(502).percentage(100.0)),
            ),
    )
    .unwrap();
    let (a, hits_a) = server().await;
    let (b, hits_b) = server().await;
    let c = client(&chaos, &[("db.test", a), ("api.test", b), ("eu.payments.test", b)]);
    let port = |addr: SocketAddr| addr.port();

    for _ in 0..5 {
        let err = c.get(format!("http://db.test:{}/q", port(a))).send().await.unwrap_err();
        assert_eq!(injected_fault(&err).unwrap().kind(), FaultKind::Partition);
        assert_eq!(c.get(format!("http://api.test:{}/q", port(b))).send().await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!((hits_a.get(), hits_b.get()), (0, 5));

    let charge = c.post(format!("http://eu.payments.test:{}/charge/1", port(b))).send().await.unwrap();
    assert_eq!(charge.status(), StatusCode::BAD_GATEWAY);
    let refund = c.post(format!("http://eu.payments.test:{}/refund/1", port(b))).send().await.unwrap();
    assert_eq!(refund.status(), StatusCode::OK);
    assert_eq!(hits_b.get(), 6);
}

#[tokio::test]
async fn loss_every_fourth_call_is_exact() {
    let chaos =
        Chaos::new(Config::new().rule(Rule::new("lossy").loss(Loss::timeout(Duration::from_millis(1)).every(4))))
            .unwrap();
    let (addr, hits) = server().await;
    let c = client(&chaos, &[]);
    let mut lost = Vec::new();
    for i in 1..=20 {
        match c.get(format!("http://{addr}/x")).send().await {
            Ok(res) => assert_eq!(res.status(), StatusCode::OK, "call {i}"),
            Err(err) => {
                assert_eq!(injected_fault(&err).map(InjectedFault::kind), Some(FaultKind::Loss), "call {i}: {err}");
                lost.push(i);
            }
        }
    }
    assert_eq!(lost, vec![4, 8, 12, 16, 20]);
    assert_eq!(hits.get(), 15);
}

#[tokio::test]
async fn the_kill_switch_lets_a_waiting_call_through() {
    let chaos = Chaos::new(
        Config::new().rule(Rule::new("hang").timeout(Timeout::after(Duration::from_secs(1)).percentage(100.0))),
    )
    .unwrap();
    let (addr, hits) = server().await;
    let c = client(&chaos, &[]);
    let call = tokio::spawn({
        let c = c.clone();
        async move { c.get(format!("http://{addr}/x")).send().await.map(|r| r.status()) }
    });
    // Switched off while the call waits (the rule has counted it), well
    // before its timeout.
    while chaos.status().rules[0].matched == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    chaos.set_enabled(false);
    assert_eq!(call.await.unwrap().unwrap(), StatusCode::OK);
    assert_eq!(hits.get(), 1);
    let rule = chaos.status().rules[0].clone();
    assert_eq!((rule.timed_out, rule.delayed), (0, 1), "held, then let through: a delay");
}

/// An abort behind a delay that the request's timeout cuts short was never
/// sent: the caller saw a timeout, and the rule counts no abort.
#[tokio::test]
async fn a_delayed_abort_cut_short_by_the_timeout_is_not_counted_as_aborted() {
    let chaos = Chaos::new(
        Config::new().rule(
            Rule::new("r")
                .delay(Delay::fixed(Duration::from_secs(30)).percentage(100.0))
                .abort(Abort::status(503).percentage(100.0)),
        ),
    )
    .unwrap();
    let (addr, hits) = server().await;
    let c = client(&chaos, &[]);
    let err = c.get(format!("http://{addr}/x")).timeout(Duration::from_millis(50)).send().await.unwrap_err();
    assert_eq!(injected_fault(&err).map(InjectedFault::kind), Some(FaultKind::Timeout));
    let rule = chaos.status().rules[0].clone();
    assert_eq!((rule.delayed, rule.aborted), (1, 0), "the caller saw a timeout, not an abort");
    assert_eq!(hits.get(), 0);
}

/// A lost call that its caller gives up on (the request's own timeout, or
/// the caller's future dropped) is counted as lost: the caller saw it fail.
#[tokio::test]
async fn a_lost_call_its_caller_gives_up_on_is_counted() {
    let chaos = Chaos::new(
        Config::new().rule(Rule::new("lossy").loss(Loss::timeout(Duration::from_secs(30)).percentage(100.0))),
    )
    .unwrap();
    let (addr, hits) = server().await;
    let c = client(&chaos, &[]);
    let err = c.get(format!("http://{addr}/x")).timeout(Duration::from_millis(100)).send().await.unwrap_err();
    assert_eq!(injected_fault(&err).map(InjectedFault::kind), Some(FaultKind::Timeout), "{err:?}");
    assert_eq!(chaos.status().rules[0].lost, 1, "the request's timeout");
    let dropped = tokio::time::timeout(Duration::from_millis(100), c.get(format!("http://{addr}/x")).send()).await;
    assert!(dropped.is_err(), "held past the caller's timeout");
    let rule = chaos.status().rules[0].clone();
    assert_eq!((rule.matched, rule.lost), (2, 2), "and the dropped call");
    assert_eq!(hits.get(), 0);
}

#[tokio::test]
async fn composes_with_reqwest_retry_which_retries_an_injected_503() {
    use reqwest_retry::{RetryTransientMiddleware, policies::ExponentialBackoff};
    let chaos = Chaos::new(
        Config::new().rule(Rule::new("two-503s").abort(Abort::status(503).percentage(100.0)).max_injections(2)),
    )
    .unwrap();
    let (addr, hits) = server().await;
    let policy = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(1), Duration::from_millis(5))
        .build_with_max_retries(3);
    // Retry outside, chaos inside (closest to the wire): every attempt is decided anew.
    let c = ClientBuilder::new(reqwest::Client::new())
        .with(RetryTransientMiddleware::new_with_policy(policy))
        .with(ChaosMiddleware::new(chaos.clone()))
        .build();
    let res = c.get(format!("http://{addr}/x")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the third attempt gets through");
    assert_eq!(hits.get(), 1, "the retried call reached the server");
    let rule = chaos.status().rules[0].clone();
    assert_eq!((rule.matched, rule.aborted, rule.skipped), (3, 2, 1));
}

#[tokio::test]
async fn disabled_middleware_injects_nothing() {
    let chaos = Chaos::new(Config::new().rule(Rule::new("all").error(ErrorFault::percentage(100.0)))).unwrap();
    chaos.set_enabled(false);
    let (addr, hits) = server().await;
    let c = client(&chaos, &[]);
    for _ in 0..50 {
        assert_eq!(c.get(format!("http://{addr}/x")).send().await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(hits.get(), 50);
    assert_eq!(chaos.status().rules[0].matched, 0);
}

#[cfg(feature = "retry")]
#[tokio::test]
async fn injected_network_faults_are_retried_with_retry_injected() {
    use mischief::client::RetryInjected;
    use reqwest_retry::{RetryTransientMiddleware, policies::ExponentialBackoff};
    let (addr, hits) = server().await;
    let policy = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(1), Duration::from_millis(5))
        .build_with_max_retries(3);
    for (kind, rule) in [
        (FaultKind::Timeout, Rule::new("r").timeout(Timeout::after(Duration::from_millis(1)).percentage(100.0))),
        (FaultKind::Loss, Rule::new("r").loss(Loss::timeout(Duration::from_millis(1)).percentage(100.0))),
        (FaultKind::Partition, Rule::new("r").partition(Partition::new())),
        (FaultKind::Error, Rule::new("r").error(ErrorFault::percentage(100.0))),
    ] {
        // Two injected failures, then the call goes through.
        let chaos = Chaos::new(Config::new().rule(rule.max_injections(2))).unwrap();
        let before = hits.get();
        let retried = ClientBuilder::new(reqwest::Client::new())
            .with(RetryTransientMiddleware::new_with_policy_and_strategy(policy, RetryInjected::default()))
            .with(ChaosMiddleware::new(chaos.clone()))
            .build();
        let res = retried.get(format!("http://{addr}/x")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{kind}: the third attempt gets through");
        assert_eq!(hits.get(), before + 1, "{kind}");
        assert_eq!(chaos.status().rules[0].matched, 3, "{kind}");

        // reqwest-retry's own strategy takes them for fatal: no retry, and
        // the fault is still found inside its `RetryError`.
        let chaos = Chaos::new(Config::new().rule(Rule::new("again").error(ErrorFault::percentage(100.0)))).unwrap();
        let plain = ClientBuilder::new(reqwest::Client::new())
            .with(RetryTransientMiddleware::new_with_policy(policy))
            .with(ChaosMiddleware::new(chaos.clone()))
            .build();
        let err = plain.get(format!("http://{addr}/x")).send().await.unwrap_err();
        assert_eq!(injected_fault(&err).map(InjectedFault::kind), Some(FaultKind::Error), "{err}");
        assert_eq!(chaos.status().rules[0].matched, 1, "not retried");
    }
}

#[tokio::test]
async fn a_request_timeout_cuts_an_injected_wait_short() {
    let chaos = Chaos::new(
        Config::new().rule(Rule::new("slow").delay(Delay::fixed(Duration::from_secs(30)).percentage(100.0))),
    )
    .unwrap();
    let (addr, hits) = server().await;
    let c = client(&chaos, &[]);
    let t = Instant::now();
    let err = c.get(format!("http://{addr}/x")).timeout(Duration::from_millis(200)).send().await.unwrap_err();
    // A timeout at the request's timeout (the 30 s wait would have ended in
    // a 200), caused by the delay's rule, and nothing sent.
    let fault = injected_fault(&err).expect("an injected fault");
    assert_eq!((fault.kind(), fault.rule()), (FaultKind::Timeout, "slow"));
    assert!(t.elapsed() >= Duration::from_millis(200), "{:?}", t.elapsed());
    assert_eq!(hits.get(), 0);

    // A wait shorter than the timeout leaves the call the rest of it.
    let chaos = Chaos::new(
        Config::new().rule(Rule::new("slow").delay(Delay::fixed(Duration::from_millis(50)).percentage(100.0))),
    )
    .unwrap();
    let c = client(&chaos, &[]);
    let res = c.get(format!("http://{addr}/x")).timeout(Duration::from_secs(5)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(hits.get(), 1);
}

/// The only test in this binary that uses the global handle.
#[tokio::test]
async fn the_global_handle_and_a_named_client() {
    let global = Chaos::new(
        Config::new().rule(
            Rule::new("payments-down")
                .when(Match::new().door(Door::Client).name("payments"))
                .abort(Abort::status(503).percentage(100.0)),
        ),
    )
    .unwrap();
    Chaos::set_global(global).expect("nothing used the global handle before");
    let (addr, hits) = server().await;
    let named = ClientBuilder::new(reqwest::Client::new()).with(ChaosMiddleware::global().name("payments")).build();
    let unnamed = ClientBuilder::new(reqwest::Client::new()).with(ChaosMiddleware::global()).build();
    assert_eq!(named.get(format!("http://{addr}/x")).send().await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(unnamed.get(format!("http://{addr}/x")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(hits.get(), 1);
    assert_eq!(Chaos::global().status().rules[0].aborted, 1);
}

#[tokio::test]
async fn rules_select_by_port() {
    let (a, hits_a) = server().await;
    let (b, hits_b) = server().await;
    let chaos = Chaos::new(
        Config::new().rule(
            Rule::new("one-port")
                .when(Match::new().door(Door::Client).port(a.port()))
                .abort(Abort::status(503).percentage(100.0)),
        ),
    )
    .unwrap();
    // The same host name on both servers: only the port tells them apart.
    let c = client(&chaos, &[("svc.test", a)]);
    let c2 = client(&chaos, &[("svc.test", b)]);
    let get = |c: &ClientWithMiddleware, port: u16| c.get(format!("http://svc.test:{port}/x")).send();
    assert_eq!(get(&c, a.port()).await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(&c2, b.port()).await.unwrap().status(), StatusCode::OK);
    assert_eq!((hits_a.get(), hits_b.get()), (0, 1));
}

/// A request only delayed is sent, and its answer is the dependency's own:
/// the guardrails' abort conditions count it, timed from the end of the
/// delay. Every request here waits 500 ms and the server answers at once
/// (a 500 for one in four), so the window holds every request and every
/// 500, and the 400 ms p99 condition does not trip.
#[cfg(feature = "guard")]
#[tokio::test]
async fn a_delayed_request_counts_for_the_abort_conditions_without_its_delay() {
    let chaos = Chaos::new(support::watching_delayed(rule_on("/maybe"))).unwrap();
    let app = axum::Router::new().route(
        "/maybe",
        axum::routing::get(|uri: axum::http::Uri| async move {
            if uri.query() == Some("fail") { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
        }),
    );
    let url = serve(app).await;
    let c = client(&chaos, &[]);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (c, url) = (c.clone(), url.clone());
        let query = if i % 4 == 0 { "?fail" } else { "" };
        tasks.spawn(async move { c.get(format!("{url}/maybe{query}")).send().await.unwrap().status() });
    }
    let mut errors = 0;
    while let Some(status) = tasks.join_next().await {
        errors += usize::from(status.unwrap() == StatusCode::INTERNAL_SERVER_ERROR);
    }
    assert!(started.elapsed() >= support::INJECTED_DELAY, "the requests were delayed");
    assert_eq!(errors, 5);
    let guard = chaos.status().guard.unwrap();
    let window = guard.window.as_ref().unwrap();
    assert_eq!((window.calls, window.errors), (20, 5), "every delayed request measured, its own 500s counted");
    let limit_ms = support::P99_LIMIT.as_secs_f64() * 1e3;
    assert!(window.latency_p99_ms.is_some_and(|p99| p99 < limit_ms), "timed without the delay: {window:?}");
    assert!(guard.tripped.is_none(), "injected delay is not the dependency's latency: {guard:?}");
}

/// A request whose timeout an injected delay shortened, and which then
/// times out, may have timed out because of the delay: the abort conditions
/// count its latency (a lower bound of the dependency's), not the call: it
/// is neither a failure nor a success for the error rate. Here the
/// dependency hangs, and the request allows 2 s more than the delay
/// (500 ms): the real call gets about 2 s, which a late wake of the
/// delay's timer (a busy machine) shortens but does not take to zero.
#[cfg(feature = "guard")]
#[tokio::test]
async fn a_timeout_the_delay_caused_is_not_the_dependencys_failure() {
    let chaos = Chaos::new(support::watching_delayed(rule_on("/slow"))).unwrap();
    let app = axum::Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            "late"
        }),
    );
    let url = serve(app).await;
    let c = client(&chaos, &[]);
    let err = c
        .get(format!("{url}/slow"))
        .timeout(support::INJECTED_DELAY + Duration::from_secs(2))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(injected_fault(&err).is_none(), "the real call timed out, not an injected fault");
    let window = chaos.status().guard.unwrap().window.unwrap();
    assert_eq!((window.calls, window.errors), (0, 0), "not a call for the error rate: {window:?}");
    let p99 = window.latency_p99_ms.expect("a latency");
    assert!(p99 >= 1000.0, "timed from the end of the delay to the timeout, about 2 s: {window:?}");
}

/// Sends 13 calls to a dependency that hangs, through `chaos`'s client,
/// each with `timeout`: 12 at once, then one more 150 ms after they end
/// (the abort conditions are judged at most every 100 ms, and the 12 end
/// together). Returns their errors.
#[cfg(feature = "guard")]
async fn calls_to_a_hanging_dependency(chaos: &Chaos, timeout: Duration) -> Vec<reqwest_middleware::Error> {
    let app = axum::Router::new().route(
        "/hang",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    );
    let url = serve(app).await;
    let c = client(chaos, &[]);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (c, url) = (c.clone(), url.clone());
        tasks.spawn(async move { c.get(format!("{url}/hang")).timeout(timeout).send().await.unwrap_err() });
    }
    let mut errors = Vec::new();
    while let Some(err) = tasks.join_next().await {
        errors.push(err.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    errors.push(c.get(format!("{url}/hang")).timeout(timeout).send().await.unwrap_err());
    for err in &errors {
        assert!(err.is_timeout() && injected_fault(err).is_none(), "the real call timed out: {err:?}");
    }
    errors
}

/// A dependency that hangs while a small delay is injected into its calls
/// still trips the latency condition: the calls' timeouts, shortened by
/// 10 ms each, count as latencies as long as the rest of their timeout.
#[cfg(feature = "guard")]
#[tokio::test]
async fn a_dependency_that_hangs_during_a_small_delay_trips_the_latency_condition() {
    use mischief::config::{AbortCondition, Guardrails};
    let chaos = Chaos::new(
        Config::new()
            .guardrails(
                Guardrails::new()
                    .window(Duration::from_secs(60))
                    .min_samples(10)
                    .abort_condition(AbortCondition::latency_p99(support::P99_LIMIT)),
            )
            .rule(rule_on("/hang").delay(Delay::fixed(Duration::from_millis(10)).percentage(100.0))),
    )
    .unwrap();
    calls_to_a_hanging_dependency(&chaos, support::P99_LIMIT * 2).await;
    let guard = chaos.status().guard.unwrap();
    assert_eq!(guard.window.as_ref().map(|w| (w.calls, w.errors)), Some((0, 0)), "{guard:?}");
    assert!(guard.tripped.is_some(), "the hanging dependency trips the latency condition: {guard:?}");
}

/// Timeouts of calls that an injected delay shortened do not dilute the
/// error rate: with half the calls delayed and a dependency that hangs,
/// the undelayed half's timeouts are the only calls, all failed.
#[cfg(feature = "guard")]
#[tokio::test]
async fn timeouts_after_a_delay_do_not_dilute_the_error_rate() {
    use mischief::config::{AbortCondition, Guardrails};
    let chaos = Chaos::new(
        Config::new()
            .guardrails(
                Guardrails::new()
                    .window(Duration::from_secs(60))
                    .min_samples(5)
                    .abort_condition(AbortCondition::error_rate(0.6)),
            )
            .rule(rule_on("/hang").delay(Delay::fixed(Duration::from_millis(10)).every(2))),
    )
    .unwrap();
    calls_to_a_hanging_dependency(&chaos, Duration::from_millis(300)).await;
    let guard = chaos.status().guard.unwrap();
    let window = guard.window.as_ref().unwrap();
    assert_eq!(window.errors, window.calls, "every counted call failed: {window:?}");
    assert!(window.calls >= 6, "the undelayed calls: {window:?}");
    assert!(guard.tripped.is_some(), "an error rate of 1 trips: {guard:?}");
}

/// The request's timeout is a deadline: when the runtime wakes the
/// injected wait late (here a task blocks the only thread past the
/// timeout), the call fails with an injected timeout at once instead of
/// being sent with the timeout it had before the wait.
#[tokio::test(flavor = "current_thread")]
async fn a_request_timeout_is_a_deadline_when_the_wait_ends_late() {
    let chaos = Chaos::new(
        Config::new().rule(Rule::new("short").delay(Delay::fixed(Duration::from_millis(50)).percentage(100.0))),
    )
    .unwrap();
    let (addr, hits) = server().await;
    let c = client(&chaos, &[]);
    let send = c.get(format!("http://{addr}/x")).timeout(Duration::from_millis(500)).send();
    // Runs once the request waits in its injected delay, and holds the
    // thread for longer than the whole timeout.
    tokio::spawn(async { std::thread::sleep(Duration::from_millis(800)) });
    let err = send.await.unwrap_err();
    let fault = injected_fault(&err).expect("an injected fault, not a call sent with time it no longer had");
    assert_eq!((fault.kind(), fault.rule()), (FaultKind::Timeout, "short"));
    assert_eq!(hits.get(), 0, "nothing sent");
}

/// An abort reaches the client as the HTTP layer's answer would over the
/// wire: no body for a `HEAD` request or a 204, a `content-length`
/// otherwise, and a trailers-only response to a gRPC request.
#[tokio::test]
async fn aborts_look_as_they_would_on_the_wire() {
    use mischief::config::GrpcCode;
    let chaos = Chaos::new(
        Config::new()
            .rule(rule_on("/empty").abort(Abort::status(204).percentage(100.0)))
            .rule(rule_on("/grpc").abort(Abort::status(503).with_grpc(GrpcCode::NotFound).percentage(100.0)))
            .rule(rule_on("/abort").abort(Abort::status(503).body("injected body").percentage(100.0))),
    )
    .unwrap();
    let (addr, hits) = server().await;
    let c = client(&chaos, &[]);
    let url = |p: &str| format!("http://{addr}{p}");

    let res = c.get(url("/abort")).send().await.unwrap();
    assert_eq!(res.headers()["content-length"], "13");
    assert_eq!(res.text().await.unwrap(), "injected body");

    let res = c.head(url("/abort")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.text().await.unwrap(), "", "a HEAD answer has no body");

    let res = c.get(url("/empty")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers().get("content-length").is_none());
    assert!(res.headers().get("content-type").is_none(), "no body to describe");
    assert_eq!(res.text().await.unwrap(), "", "a 204 has no body");

    let res = c.post(url("/grpc")).header("content-type", "application/grpc").body("").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "gRPC answers its errors with HTTP 200");
    assert_eq!(res.headers()["grpc-status"], "5");
    assert_eq!(res.headers()["x-mischief-rule"], "grpc");
    assert_eq!(res.headers()["content-type"], "application/grpc");
    assert_eq!(res.text().await.unwrap(), "", "trailers-only");
    assert_eq!(hits.get(), 0);
}

/// A dependency that answers gRPC errors in the response head (HTTP 200,
/// `grpc-status` not 0, trailers-only) fails those calls for the abort
/// conditions, as the HTTP layer counts them; `grpc-status: 0` is a success.
#[cfg(feature = "guard")]
#[tokio::test]
async fn grpc_error_statuses_count_as_failures_for_the_abort_conditions() {
    let chaos = Chaos::new(support::watching(0.5)).unwrap();
    let app = axum::Router::new().route(
        "/grpc",
        axum::routing::post(|uri: axum::http::Uri| async move {
            let code = if uri.query() == Some("fail") { "14" } else { "0" };
            (StatusCode::OK, [("content-type", "application/grpc"), ("grpc-status", code)])
        }),
    );
    let url = serve(app).await;
    let c = client(&chaos, &[]);
    for i in 0..12 {
        let query = if i % 3 == 0 { "?fail" } else { "" };
        let res = c.post(format!("{url}/grpc{query}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    let guard = chaos.status().guard.unwrap();
    let window = guard.window.as_ref().unwrap();
    assert_eq!((window.calls, window.errors), (12, 4), "the UNAVAILABLE answers failed, the OK ones did not");
    assert!(guard.tripped.is_none(), "a third is under the 50% limit: {guard:?}");
    for _ in 0..12 {
        c.post(format!("{url}/grpc?fail")).send().await.unwrap();
    }
    // Conditions are judged at most every 100 ms: one more call after that.
    tokio::time::sleep(Duration::from_millis(150)).await;
    c.post(format!("{url}/grpc?fail")).send().await.unwrap();
    assert!(chaos.status().guard.unwrap().tripped.is_some(), "17 of 25 failed: tripped");
}

/// A client's own timeout (`reqwest::ClientBuilder::timeout`) starts after
/// the middleware, so an injected wait comes on top of it, as the module
/// docs say: a 1.5 s delay under a 1 s client timeout still gets the
/// answer. (A request's timeout, `RequestBuilder::timeout`, counts it.)
#[tokio::test]
async fn a_clients_own_timeout_does_not_count_the_injected_wait() {
    let chaos = Chaos::new(
        Config::new().rule(rule_on("/slow").delay(Delay::fixed(Duration::from_millis(1500)).percentage(100.0))),
    )
    .unwrap();
    let (addr, hits) = server().await;
    let inner = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().unwrap();
    let c = ClientBuilder::new(inner).with(ChaosMiddleware::new(chaos.clone())).build();
    let started = Instant::now();
    let res = c.get(format!("http://{addr}/slow")).send().await.expect("answered: the wait was not timed");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(1500), "delayed first");
    assert_eq!(hits.get(), 1);
    let err = c
        .get(format!("http://{addr}/slow"))
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .expect_err("a request's timeout counts the wait");
    assert!(injected_fault(&err).is_some(), "{err:?}");
}
