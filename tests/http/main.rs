//! The HTTP layer on a real axum server, driven by a real reqwest client.

#[path = "../support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use mischief::config::{Abort, Config, Delay, Match, Rule};
use mischief::http::ChaosLayer;
use mischief::{Chaos, Door};
use reqwest::StatusCode;
use support::{Hits, assert_binomial, client, counting_app, serve, vars};

async fn serve_with(chaos: &Chaos) -> (String, Hits) {
    let hits = Hits::default();
    let url = serve(counting_app(&hits).layer(ChaosLayer::new(chaos.clone()))).await;
    (url, hits)
}

/// An engine whose rule `down` aborts every call `when` selects with 503.
fn down(when: Match) -> Chaos {
    Chaos::new(Config::new().rule(Rule::new("down").when(when).abort(Abort::status(503).percentage(100.0)))).unwrap()
}

/// Sends `n` requests from `concurrency` workers; returns the statuses.
async fn burst(url: &str, n: usize, concurrency: usize) -> Vec<StatusCode> {
    let client = client();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let (client, url) = (client.clone(), url.to_owned());
        let share = n / concurrency + usize::from(w < n % concurrency);
        tasks.spawn(async move {
            let mut out = Vec::with_capacity(share);
            for _ in 0..share {
                out.push(client.get(format!("{url}/work")).send().await.expect("request").status());
            }
            out
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(r) = tasks.join_next().await {
        all.extend(r.expect("worker"));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_failure_rate_is_binomial_and_aborts_never_reach_the_handler() {
    let chaos = Chaos::from_env_with(vars(&[("CHAOS_ENABLED", "true"), ("CHAOS_FAILURE_RATE", "0.3")])).unwrap();
    let (url, hits) = serve_with(&chaos).await;
    let n = 3000;
    let statuses = burst(&url, n, 8).await;
    let aborted = statuses.iter().filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE).count() as u64;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count() as u64;
    assert_eq!(aborted + ok, n as u64, "only 200 and 503 expected");
    assert_binomial(aborted, n as u64, 0.3, "aborts at CHAOS_FAILURE_RATE=0.3");
    assert_eq!(hits.get(), ok, "every aborted request must stop before the handler");
    let status = chaos.status();
    let rule = status.rule("env").unwrap();
    assert_eq!((rule.matched, rule.aborted, rule.delayed), (n as u64, aborted, 0));
}

#[tokio::test]
async fn disabled_injects_nothing() {
    let chaos = Chaos::from_env_with(vars(&[
        ("CHAOS_ENABLED", "false"),
        ("CHAOS_FAILURE_RATE", "1.0"),
        ("CHAOS_LATENCY_MS", "5000"),
    ]))
    .unwrap();
    assert!(!chaos.is_enabled());
    let (url, hits) = serve_with(&chaos).await;
    let statuses = burst(&url, 300, 4).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK));
    assert_eq!(hits.get(), 300);
    assert_eq!(chaos.status().rule("env").unwrap().matched, 0, "a disabled engine does not even match");
}

#[tokio::test]
async fn env_latency_waits_and_unset_variables_inject_nothing() {
    let chaos = Chaos::from_env_with(vars(&[("CHAOS_ENABLED", "true")])).unwrap();
    assert!(chaos.status().rules.is_empty());
    let chaos = Chaos::from_env_with(vars(&[("CHAOS_ENABLED", "1"), ("CHAOS_LATENCY_MS", "30")])).unwrap();
    let (url, hits) = serve_with(&chaos).await;
    // One after another, so that the waits add up: each is uniform in
    // 0..=30 ms (mean 15 ms, standard deviation 8.66 ms), so 40 of them
    // average at least 15 - 5 * 8.66 / sqrt(40) = 8.2 ms but with a chance
    // below 1e-6. A door that counted the delay and skipped the wait would
    // take about a millisecond per request.
    let client = client();
    let started = Instant::now();
    for _ in 0..40 {
        assert_eq!(client.get(format!("{url}/x")).send().await.unwrap().status(), StatusCode::OK);
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(40 * 8), "40 requests in {elapsed:?}: the waits did not happen");
    assert_eq!(hits.get(), 40);
    let rule = chaos.status().rules[0].clone();
    assert_eq!((rule.matched, rule.delayed, rule.aborted), (40, 40, 0));
}

#[tokio::test]
async fn delays_last_at_least_the_configured_minimum() {
    let chaos = Chaos::new(
        Config::new()
            .rule(
                Rule::new("fixed")
                    .when(Match::new().path("/fixed"))
                    .delay(Delay::fixed(Duration::from_millis(120)).percentage(100.0)),
            )
            .rule(
                Rule::new("uniform")
                    .when(Match::new().path("/uniform"))
                    .delay(Delay::uniform(Duration::from_millis(60), Duration::from_millis(90)).percentage(100.0)),
            )
            .rule(
                Rule::new("jitter")
                    .when(Match::new().path("/jitter"))
                    .delay(Delay::jittered(Duration::from_millis(80), Duration::from_millis(20)).percentage(100.0)),
            ),
    )
    .unwrap();
    let (url, hits) = serve_with(&chaos).await;
    let client = client();
    for (path, min) in [("/fixed", 120), ("/uniform", 60), ("/jitter", 60)] {
        for _ in 0..5 {
            let t = Instant::now();
            let res = client.get(format!("{url}{path}")).send().await.unwrap();
            let took = t.elapsed();
            assert_eq!(res.status(), StatusCode::OK);
            assert!(took >= Duration::from_millis(min), "{path} took {took:?}, below {min} ms");
        }
    }
    assert_eq!(hits.get(), 15);
    assert_eq!(chaos.status().rule("fixed").unwrap().delayed, 5);
}

#[tokio::test]
async fn a_delayed_request_is_held_before_the_handler_sees_it() {
    let chaos =
        Chaos::new(Config::new().rule(Rule::new("slow").delay(Delay::fixed(Duration::from_secs(1)).percentage(100.0))))
            .unwrap();
    let (url, hits) = serve_with(&chaos).await;
    let req = tokio::spawn({
        let client = client();
        async move { client.get(format!("{url}/x")).send().await.unwrap().status() }
    });
    // Once the rule has counted the request, it is being held: a second
    // before its delay ends, the handler must not have run.
    while chaos.status().rules[0].delayed == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(hits.get(), 0, "the handler must not run during the delay");
    assert_eq!(req.await.unwrap(), StatusCode::OK);
    assert_eq!(hits.get(), 1);
}

#[tokio::test]
async fn every_third_request_is_aborted_exactly() {
    let chaos = Chaos::new(Config::new().rule(Rule::new("third").abort(Abort::status(500).every(3)))).unwrap();
    let (url, hits) = serve_with(&chaos).await;
    let client = client();
    let mut aborted = Vec::new();
    for i in 1..=30 {
        let status = client.get(format!("{url}/x")).send().await.unwrap().status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            aborted.push(i);
        } else {
            assert_eq!(status, StatusCode::OK);
        }
    }
    assert_eq!(aborted, (1..=10).map(|k| 3 * k).collect::<Vec<_>>());
    assert_eq!(hits.get(), 20);
}

async fn sequence(seed: u64) -> Vec<bool> {
    let chaos = Chaos::new(
        Config::new().seed(seed).rule(
            Rule::new("coin")
                .abort(Abort::status(503).percentage(50.0))
                .delay(Delay::uniform(Duration::ZERO, Duration::from_millis(2)).percentage(50.0)),
        ),
    )
    .unwrap();
    let (url, _) = serve_with(&chaos).await;
    let client = client();
    let mut out = Vec::new();
    for _ in 0..200 {
        out.push(client.get(format!("{url}/x")).send().await.unwrap().status() == StatusCode::SERVICE_UNAVAILABLE);
    }
    out
}

#[tokio::test]
async fn the_same_seed_gives_the_same_sequence() {
    let a = sequence(42).await;
    assert_eq!(a, sequence(42).await);
    // Different seeds agree on 200 fair coins with probability 2^-200.
    assert_ne!(a, sequence(43).await);
    let aborted = a.iter().filter(|x| **x).count() as u64;
    assert_binomial(aborted, 200, 0.5, "seeded 50% aborts");
}

#[tokio::test]
async fn kill_switch_stops_injection_on_the_next_request() {
    let chaos = Chaos::new(Config::new().rule(Rule::new("all").abort(Abort::status(503).percentage(100.0)))).unwrap();
    let (url, hits) = serve_with(&chaos).await;
    let client = client();
    let get = || client.get(format!("{url}/x")).send();
    assert_eq!(get().await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    chaos.set_enabled(false);
    assert_eq!(get().await.unwrap().status(), StatusCode::OK);
    assert_eq!(get().await.unwrap().status(), StatusCode::OK);
    chaos.set_enabled(true);
    assert_eq!(get().await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(hits.get(), 2);
}

#[tokio::test]
async fn kill_switch_during_a_delay_cancels_the_abort() {
    let chaos = Chaos::new(
        Config::new().rule(
            Rule::new("slow-fail")
                // Long enough that only a stall of the test thread as long
                // could let the delay end before the switch below.
                .delay(Delay::fixed(Duration::from_millis(1500)).percentage(100.0))
                .abort(Abort::status(503).percentage(100.0)),
        ),
    )
    .unwrap();
    let (url, hits) = serve_with(&chaos).await;
    let client = client();
    let t = Instant::now();
    assert_eq!(client.get(format!("{url}/x")).send().await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(t.elapsed() >= Duration::from_millis(1500), "delayed, then aborted");
    assert_eq!(hits.get(), 0);

    let req = tokio::spawn({
        let client = client.clone();
        let url = url.clone();
        async move { client.get(format!("{url}/x")).send().await.unwrap().status() }
    });
    // Switched off while the second request is held (the rule has counted
    // it), well before its delay ends.
    while chaos.status().rules[0].delayed < 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    chaos.set_enabled(false);
    assert_eq!(req.await.unwrap(), StatusCode::OK, "no abort is issued after the kill switch");
    assert_eq!(hits.get(), 1);
    let rule = chaos.status().rules[0].clone();
    assert_eq!((rule.delayed, rule.aborted), (2, 1));
}

#[tokio::test]
async fn rules_match_on_method_path_and_header_first_match_wins() {
    let chaos = Chaos::new(
        Config::new()
            .rule(
                Rule::new("header")
                    .when(Match::new().header_equals("x-chaos", "teapot"))
                    .abort(Abort::status(418).percentage(100.0)),
            )
            .rule(
                Rule::new("post-orders")
                    .when(Match::new().method("post").path_prefix("/orders"))
                    .abort(Abort::status(500).percentage(100.0)),
            )
            .rule(
                Rule::new("admin")
                    .when(Match::new().path("/admin/*/delete"))
                    .abort(Abort::status(403).percentage(100.0)),
            )
            .rule(
                Rule::new("no-trace")
                    .when(Match::new().path("/traced").header_present("x-trace", false))
                    .abort(Abort::status(429).percentage(100.0)),
            )
            .rule(Rule::new("never").when(Match::new().door(Door::Client)).abort(Abort::status(502).percentage(100.0))),
    )
    .unwrap();
    let (url, _) = serve_with(&chaos).await;
    let c = client();
    let cases: Vec<(reqwest::RequestBuilder, u16)> = vec![
        (c.post(format!("{url}/orders/1")), 500),
        (c.get(format!("{url}/orders/1")), 200),
        (c.put(format!("{url}/orders")), 200),
        (c.post(format!("{url}/order")), 200),
        (c.get(format!("{url}/admin/7/delete")), 403),
        (c.get(format!("{url}/admin/7/view")), 200),
        (c.get(format!("{url}/x")).header("x-chaos", "teapot"), 418),
        (c.get(format!("{url}/x")).header("x-chaos", "coffee"), 200),
        // The header rule comes first, so it wins over post-orders.
        (c.post(format!("{url}/orders/1")).header("x-chaos", "teapot"), 418),
        (c.get(format!("{url}/traced")), 429),
        (c.get(format!("{url}/traced")).header("x-trace", "1"), 200),
    ];
    for (i, (req, want)) in cases.into_iter().enumerate() {
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), want, "case {i}");
        if want != 200 {
            assert!(res.headers().contains_key("x-mischief-rule"), "case {i}");
        }
    }
    let status = chaos.status();
    assert_eq!(status.rule("never").unwrap().matched, 0, "the client door never matches inbound requests");
    assert_eq!(status.rule("header").unwrap().aborted, 2);
}

#[tokio::test]
async fn abort_answers_carry_configured_headers_and_optional_body() {
    let rule = Rule::new("teapot")
        .abort(Abort::status(418).body("short and stout").header("retry-after", "3").percentage(100.0));
    let chaos = Chaos::new(Config::new().rule(rule)).unwrap();
    // Default: empty body, configured status and headers.
    let url = serve(counting_app(&Hits::default()).layer(ChaosLayer::new(chaos.clone()))).await;
    let res = client().get(format!("{url}/x")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(res.headers()["retry-after"], "3");
    assert_eq!(res.headers()["x-mischief-rule"], "teapot");
    assert_eq!(res.text().await.unwrap(), "");
    // With a body maker, the configured body as text/plain.
    let url =
        serve(counting_app(&Hits::default()).layer(ChaosLayer::new(chaos).abort_body(axum::body::Body::from))).await;
    let res = client().get(format!("{url}/x")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(res.text().await.unwrap(), "short and stout");
}

#[tokio::test]
async fn named_layers_are_selected_by_name() {
    let chaos = Chaos::new(Config::new().rule(
        Rule::new("public-only").when(Match::new().name("public-*")).abort(Abort::status(503).percentage(100.0)),
    ))
    .unwrap();
    let public = serve(counting_app(&Hits::default()).layer(ChaosLayer::new(chaos.clone()).name("public-api"))).await;
    let admin = serve(counting_app(&Hits::default()).layer(ChaosLayer::new(chaos.clone()).name("admin-api"))).await;
    let unnamed = serve(counting_app(&Hits::default()).layer(ChaosLayer::new(chaos))).await;
    let c = client();
    assert_eq!(c.get(format!("{public}/x")).send().await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(c.get(format!("{admin}/x")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(c.get(format!("{unnamed}/x")).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn update_applies_to_the_next_request_and_a_bad_update_keeps_the_plan() {
    let chaos = Chaos::new(Config::new().rule(Rule::new("a").abort(Abort::status(500).percentage(100.0)))).unwrap();
    let (url, _) = serve_with(&chaos).await;
    let c = client();
    assert_eq!(c.get(format!("{url}/x")).send().await.unwrap().status(), StatusCode::INTERNAL_SERVER_ERROR);

    chaos.update(Config::new().rule(Rule::new("a").abort(Abort::status(502).percentage(100.0)))).unwrap();
    assert_eq!(c.get(format!("{url}/x")).send().await.unwrap().status(), StatusCode::BAD_GATEWAY);
    assert_eq!(chaos.status().rule("a").unwrap().aborted, 2, "counters survive an update that keeps the name");

    let err = chaos.update(Config::new().rule(Rule::new("a").abort(Abort::status(502).percentage(120.0)))).unwrap_err();
    assert!(err.to_string().contains("abort.percentage"), "{err}");
    assert_eq!(
        c.get(format!("{url}/x")).send().await.unwrap().status(),
        StatusCode::BAD_GATEWAY,
        "the last good plan stays"
    );
    let status = chaos.status();
    assert_eq!(status.generation, 2);
    assert!(status.last_error.as_deref().unwrap().contains("120"));
}

#[tokio::test]
async fn max_injections_caps_the_rule() {
    let chaos =
        Chaos::new(Config::new().rule(Rule::new("five").abort(Abort::status(503).percentage(100.0)).max_injections(5)))
            .unwrap();
    let (url, hits) = serve_with(&chaos).await;
    let statuses = burst(&url, 20, 1).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE).count(), 5);
    assert_eq!(&statuses[..5], &[StatusCode::SERVICE_UNAVAILABLE; 5]);
    assert_eq!(hits.get(), 15);
    let rule = chaos.status().rules[0].clone();
    assert_eq!((rule.matched, rule.aborted, rule.skipped), (20, 5, 15));
}

/// A new configuration that keeps the rule's name keeps its count under
/// `max_injections`: a reload (here of an unrelated edit) hands out no
/// fresh allowance, raising the cap allows the difference, and a rule
/// under a new name starts from zero.
#[tokio::test]
async fn max_injections_holds_across_updates_that_keep_the_name() {
    let config = |cap: u64, name: &str| {
        Config::new()
            .rule(Rule::new("other").when(Match::new().path("/nowhere")).abort(Abort::status(500).percentage(1.0)))
            .rule(Rule::new(name).abort(Abort::status(503).percentage(100.0)).max_injections(cap))
    };
    let chaos = Chaos::new(config(5, "five")).unwrap();
    let (url, _hits) = serve_with(&chaos).await;
    let aborted =
        |statuses: Vec<StatusCode>| statuses.iter().filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE).count();
    assert_eq!(aborted(burst(&url, 3, 1).await), 3);
    chaos.update(config(5, "five")).unwrap();
    assert_eq!(aborted(burst(&url, 10, 1).await), 2, "two left of five after the update");
    chaos.update(config(8, "five")).unwrap();
    assert_eq!(aborted(burst(&url, 10, 1).await), 3, "the cap raised by three");
    chaos.update(config(5, "renamed")).unwrap();
    assert_eq!(aborted(burst(&url, 10, 1).await), 5, "a new name, a new count");
}

#[tokio::test]
async fn status_serializes_to_json() {
    let chaos = Chaos::new(Config::new().rule(Rule::new("a").abort(Abort::status(503).percentage(1.5)))).unwrap();
    let json = serde_json::to_value(chaos.status()).unwrap();
    assert_eq!(json["enabled"], true);
    assert_eq!(json["generation"], 1);
    assert_eq!(json["rules"][0]["name"], "a");
    assert_eq!(json["rules"][0]["rule"]["abort"]["percentage"], 1.5);
    assert_eq!(json["rules"][0]["matched"], 0);
}

#[tokio::test]
async fn outbound_fault_kinds_answer_with_their_default_status_inbound() {
    use mischief::config::{ErrorFault, Loss, Partition, Timeout};
    let chaos = Chaos::new(
        Config::new()
            .rule(Rule::new("e").when(Match::new().path("/e")).error(ErrorFault::percentage(100.0)))
            .rule(
                Rule::new("t")
                    .when(Match::new().path("/t"))
                    .timeout(Timeout::after(Duration::from_millis(120)).every(1)),
            )
            .rule(Rule::new("p").when(Match::new().path("/p")).partition(Partition::new()))
            .rule(
                Rule::new("l")
                    .when(Match::new().path("/l"))
                    .loss(Loss::timeout(Duration::from_millis(60)).percentage(100.0)),
            ),
    )
    .unwrap();
    let (url, hits) = serve_with(&chaos).await;
    let c = client();
    // The timeout and the loss answer after their wait; the error and the
    // partition (no connect delay) have none to check.
    for (path, status, wait_ms) in [("/e", 503, None), ("/t", 504, Some(120)), ("/p", 503, None), ("/l", 504, Some(60))]
    {
        let t = Instant::now();
        let res = c.get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{path}");
        if let Some(ms) = wait_ms {
            assert!(t.elapsed() >= Duration::from_millis(ms), "{path}");
        }
        assert_eq!(res.headers()["x-mischief-rule"], path.trim_start_matches('/'));
    }
    assert_eq!(hits.get(), 0);
}

/// A finished faulted call polled again answers `Pending`, never panics:
/// an abort answered at once, and one answered after a delay. (Called
/// directly, as no server polls a finished future.)
#[tokio::test]
async fn a_finished_abort_stays_pending_when_polled_again() {
    use tower::{Layer, Service, ServiceExt};
    for rule in support::abort_now_and_after_a_delay() {
        let name = rule.name.clone();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let inner = {
            let hits = hits.clone();
            tower::service_fn(move |_: http::Request<()>| {
                hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::future::ready(Ok::<_, std::convert::Infallible>(http::Response::new(())))
            })
        };
        let mut svc = ChaosLayer::new(Chaos::new(Config::new().rule(rule)).unwrap()).layer(inner);
        let mut fut = Box::pin(svc.ready().await.unwrap().call(http::Request::new(())));
        let res = (&mut fut).await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{name}");
        support::assert_pending_after_answer(&mut fut, &name);
        assert_eq!(
            hits.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "{name}: an aborted request never reaches the service"
        );
    }
}

/// A plain hyper server (no axum), serving a `service_fn` behind the layer
/// through hyper-util's Tower adapter, as hyper's own guides do.
#[tokio::test]
async fn a_plain_hyper_server_behind_the_layer() {
    use std::convert::Infallible;

    use http_body_util::Full;
    use hyper::body::{Bytes, Incoming};
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;

    let chaos = Chaos::new(Config::new().rule(
        Rule::new("teapot").when(Match::new().method("GET").path("/brew")).abort(Abort::status(418).percentage(100.0)),
    ))
    .unwrap();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let handler = {
        let hits = hits.clone();
        tower::service_fn(move |_req: http::Request<Incoming>| {
            hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(b"hello")))) }
        })
    };
    let service = tower::ServiceBuilder::new().layer(ChaosLayer::new(chaos.clone())).service(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    let client = client();
    let res = client.get(format!("http://{addr}/hello")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "hello");
    let res = client.get(format!("http://{addr}/brew")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(res.headers()["x-mischief-rule"], "teapot");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1, "the aborted request never reached the handler");
    assert_eq!(chaos.status().rules[0].aborted, 1);
}

/// The only test in this binary that uses the global handle.
#[tokio::test]
async fn the_global_handle_and_a_named_layer() {
    let global = Chaos::new(
        Config::new().rule(
            Rule::new("admin-down")
                .when(Match::new().door(Door::Http).name("admin"))
                .abort(Abort::status(503).percentage(100.0)),
        ),
    )
    .unwrap();
    Chaos::set_global(global).expect("nothing used the global handle before");
    let hits = Hits::default();
    let named = serve(counting_app(&hits).layer(ChaosLayer::global().name("admin"))).await;
    let unnamed = serve(counting_app(&hits).layer(ChaosLayer::global())).await;
    let client = client();
    assert_eq!(client.get(format!("{named}/x")).send().await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(client.get(format!("{unnamed}/x")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(hits.get(), 1);
    assert_eq!(Chaos::global().status().rules[0].aborted, 1);
}

/// On Tokio's paused clock, which moves only when every task waits: the
/// HTTP layer holds a call exactly its delay before the inner service sees
/// it, and a delayed abort answers exactly at the end of its delay (not
/// after waiting twice), whatever the machine's load. (Called directly,
/// without a server: the paused clock would jump over a real socket's
/// waits.)
#[tokio::test(start_paused = true)]
async fn delays_are_waited_exactly_once() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tower::{Layer, ServiceExt};
    let chaos = Chaos::new(
        Config::new()
            .rule(
                Rule::new("slow")
                    .when(Match::new().path("/slow"))
                    .delay(Delay::fixed(Duration::from_millis(200)).percentage(100.0)),
            )
            .rule(
                Rule::new("slow-fail")
                    .when(Match::new().path("/slow-fail"))
                    .delay(Delay::fixed(Duration::from_millis(300)).percentage(100.0))
                    .abort(Abort::status(503).percentage(100.0)),
            ),
    )
    .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let inner = {
        let calls = calls.clone();
        tower::service_fn(move |_: http::Request<String>| {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok"))))
        })
    };
    let svc = ChaosLayer::new(chaos.clone()).layer(inner);
    let request = |path: &str| http::Request::builder().uri(path).body(String::new()).unwrap();

    let t = tokio::time::Instant::now();
    let held = tokio::spawn(svc.clone().oneshot(request("/slow")));
    tokio::time::sleep(Duration::from_millis(199)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the inner service is not called during the delay");
    assert_eq!(held.await.unwrap().unwrap().status(), 200);
    assert_eq!(t.elapsed(), Duration::from_millis(200));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let t = tokio::time::Instant::now();
    let res = svc.clone().oneshot(request("/slow-fail")).await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(t.elapsed(), Duration::from_millis(300));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "an abort never reaches the inner service");
}

/// The placement the README shows, on a real server: the layer around the
/// whole `Router`, served with `into_make_service`. A nested route is
/// matched by its full path, a path no route has is faulted without
/// reaching the fallback, an abort reaches no handler, and a delayed request
/// reaches its handler only after the delay.
#[tokio::test]
async fn the_readme_placement_on_a_real_server() {
    use std::sync::{Arc, Mutex};

    use axum::ServiceExt;
    use axum::routing::get;
    use tower::Layer;

    let chaos = Chaos::new(
        Config::new()
            .rule(
                Rule::new("nested")
                    .when(Match::new().path_prefix("/v1/users"))
                    .abort(Abort::status(503).body("nested down").percentage(100.0)),
            )
            .rule(Rule::new("unrouted").when(Match::new().path("/nowhere")).abort(Abort::status(418).percentage(100.0)))
            .rule(
                Rule::new("slow")
                    .when(Match::new().path("/api/orders/*").header_present("x-slow", true))
                    .delay(Delay::fixed(Duration::from_millis(60)).percentage(100.0)),
            ),
    )
    .unwrap();
    // Which handler started, and when.
    type Log = Arc<Mutex<Vec<(&'static str, Instant)>>>;
    let log: Log = Log::default();
    let handled = |log: &Log, what: &'static str| {
        let log = log.clone();
        move || async move {
            log.lock().unwrap().push((what, Instant::now()));
            (if what == "fallback" { StatusCode::NOT_FOUND } else { StatusCode::OK }, what)
        }
    };
    let seen = || log.lock().unwrap().iter().map(|(what, _)| *what).collect::<Vec<_>>();
    let router = axum::Router::new()
        .route("/api/orders/{id}", get(handled(&log, "orders")))
        .nest("/v1", axum::Router::new().route("/users/{id}", get(handled(&log, "users"))))
        .fallback(handled(&log, "fallback"));
    let app = ChaosLayer::new(chaos.clone()).abort_body(axum::body::Body::from).layer(router.with_state(()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, ServiceExt::<axum::extract::Request>::into_make_service(app)).await.expect("server runs")
    });
    let c = client();

    // The nested route, by its full path: aborted before its handler.
    let res = c.get(format!("{url}/v1/users/7")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["x-mischief-rule"], "nested");
    assert_eq!(res.text().await.unwrap(), "nested down");
    // A path no route has: faulted, and the fallback never runs.
    let res = c.get(format!("{url}/nowhere")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(seen(), Vec::<&str>::new(), "no aborted request reached a handler or the fallback");
    // Without a matching rule: routed as usual.
    assert_eq!(c.get(format!("{url}/api/orders/1")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(c.get(format!("{url}/elsewhere")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(seen(), ["orders", "fallback"]);
    // A delayed request reaches its handler only after the delay.
    let sent = Instant::now();
    let res = c.get(format!("{url}/api/orders/2")).header("x-slow", "1").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let started = log.lock().unwrap().last().map(|(_, at)| *at).unwrap();
    assert!(started.duration_since(sent) >= Duration::from_millis(60), "handler started after {:?}", started - sent);
    assert_eq!(seen(), ["orders", "fallback", "orders"]);

    let status = chaos.status();
    let counts = |name: &str| {
        let r = status.rule(name).unwrap();
        (r.matched, r.aborted, r.delayed)
    };
    assert_eq!(counts("nested"), (1, 1, 0));
    assert_eq!(counts("unrouted"), (1, 1, 0));
    assert_eq!(counts("slow"), (1, 0, 1));
}

/// A lost request whose client gives up (its own timeout closes the
/// connection, and the server drops the held call) is counted as lost: the
/// client saw it fail. The handler never ran.
#[tokio::test]
async fn a_lost_request_abandoned_by_its_client_is_counted() {
    use mischief::config::Loss;
    let chaos = Chaos::new(
        Config::new().rule(Rule::new("lossy").loss(Loss::timeout(Duration::from_secs(30)).percentage(100.0))),
    )
    .unwrap();
    let (url, hits) = serve_with(&chaos).await;
    let client = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    let err = client.get(format!("{url}/x")).send().await.expect_err("held past the client's timeout");
    assert!(err.is_timeout(), "{err}");
    // The server notices the closed connection on its own time: wait for it,
    // boundedly.
    let start = Instant::now();
    while chaos.status().rules[0].lost == 0 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rule = chaos.status().rules[0].clone();
    assert_eq!((rule.matched, rule.lost), (1, 1), "{rule:?}");
    assert_eq!(hits.get(), 0);
}

/// An injected delay holds none of the app's capacity while it waits: with
/// tower's concurrency limit of one inside the layer, a request that is not
/// delayed is answered at once while a delayed one waits (as a request slowed
/// down on the network would not have reached the server yet).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_request_holds_no_capacity_while_it_waits() {
    use axum::ServiceExt;
    use tower::Layer;

    let chaos = Chaos::new(
        Config::new().rule(
            Rule::new("slow")
                .when(Match::new().path("/slow"))
                .delay(Delay::fixed(Duration::from_secs(30)).percentage(100.0)),
        ),
    )
    .unwrap();
    let hits = Hits::default();
    let limited = tower::limit::ConcurrencyLimit::new(counting_app(&hits).with_state(()), 1);
    let app = ChaosLayer::new(chaos.clone()).layer(limited);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, ServiceExt::<axum::extract::Request>::into_make_service(app)).await.expect("server runs")
    });
    let c = client();
    let slow = tokio::spawn({
        let (c, url) = (c.clone(), url.clone());
        async move { c.get(format!("{url}/slow")).send().await.unwrap().status() }
    });
    while chaos.status().rules[0].delayed == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Answered while the delayed request still waits out its 30 s (holding
    // the limit's one permit, it would have waited for them).
    assert_eq!(c.get(format!("{url}/fast")).send().await.unwrap().status(), StatusCode::OK);
    assert!(!slow.is_finished(), "the delayed request still waits");
    assert_eq!(hits.get(), 1, "only the undelayed request reached the service");
    slow.abort();
}

/// After its delay, a request readies its own clone of the inner service
/// (the one the caller readied is replaced, giving back what it reserved);
/// a service that fails to get ready ends the request with its error.
#[tokio::test]
async fn a_delayed_request_whose_service_fails_to_get_ready_ends_with_its_error() {
    use std::sync::atomic::Ordering;
    use tower::{Layer, ServiceExt};

    let chaos = Chaos::new(
        Config::new().rule(Rule::new("slow").delay(Delay::fixed(Duration::from_millis(20)).percentage(100.0))),
    )
    .unwrap();
    let ready_once = support::ReadyOnce::new(|_: http::Request<()>| http::Response::new("real".to_owned()));
    let polls = ready_once.polls();
    let svc = ChaosLayer::new(chaos).layer(ready_once);
    let err = svc.oneshot(http::Request::new(())).await.unwrap_err();
    assert_eq!(err.to_string(), "backend gone");
    assert_eq!(polls.load(Ordering::SeqCst), 2, "readied once by the caller, once after the delay");
}

/// Serves `service` over HTTP/2 (hyper's server, as tonic's) on
/// 127.0.0.1:0; returns a hyper HTTP/2 client connected to it, and a
/// function that sends a request and reads the whole answer.
async fn http2_client<S>(service: S) -> hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>
where
    S: tower::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<http_body_util::Full<bytes::Bytes>>,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::service::TowerToHyperService;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    sender
}

/// Sends `method path` on `sender`; the answer's head and its whole body
/// (an error if the stream was reset).
async fn send_h2(
    sender: &mut hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    method: http::Method,
    path: &str,
) -> (http::response::Parts, Result<bytes::Bytes, hyper::Error>) {
    use http_body_util::BodyExt;
    let req = http::Request::builder()
        .method(method)
        .uri(format!("http://localhost{path}"))
        .body(http_body_util::Empty::new())
        .unwrap();
    let (parts, body) = sender.send_request(req).await.unwrap().into_parts();
    (parts, body.collect().await.map(|b| b.to_bytes()))
}

/// An abort as HTTP/2 carries it, to a hyper HTTP/2 client: hyper's HTTP/2
/// server sends whatever body it is given (its HTTP/1 server drops a HEAD
/// answer's), and a client resets a HEAD stream that gets one. A HEAD
/// answer has a GET's headers and no body; a 204 has neither body nor
/// default `content-type`. Every answer says `cache-control: no-store`, and
/// a rule whose name is not ASCII is still named, percent-encoded. A body
/// maker that does not keep the bytes (JSON here) is sent whole, with the
/// length of what it made.
#[tokio::test]
async fn aborts_over_http2_have_no_body_where_the_protocol_has_none() {
    use http::Method;
    use http_body_util::Full;
    use hyper::body::{Bytes, Incoming};

    let chaos = Chaos::new(
        Config::new()
            .rule(Rule::new("no-content").when(Match::new().path("/none")).abort(Abort::status(204).percentage(100.0)))
            .rule(Rule::new("café-down").abort(Abort::status(503).body("down for coffee").percentage(100.0))),
    )
    .unwrap();
    let handler = tower::service_fn(|_req: http::Request<Incoming>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from_static(b"hello"))))
    });
    let layer = ChaosLayer::new(chaos.clone());
    let mut sender =
        http2_client(tower::ServiceBuilder::new().layer(layer.clone().abort_body(Full::new)).service(handler)).await;

    let (get, body) = send_h2(&mut sender, Method::GET, "/x").await;
    assert_eq!(get.status, 503);
    assert_eq!(body.unwrap(), "down for coffee");
    assert_eq!(get.headers["x-mischief-rule"], "caf%C3%A9-down");
    assert_eq!(get.headers["cache-control"], "no-store");
    assert_eq!(get.headers["content-length"], "15");

    let (head, body) = send_h2(&mut sender, Method::HEAD, "/x").await;
    assert_eq!(head.status, 503);
    let body = body.expect("no DATA frame on a HEAD stream");
    assert!(body.is_empty(), "{body:?}");
    assert_eq!(
        (&head.headers["content-length"], &head.headers["content-type"]),
        (&get.headers["content-length"], &get.headers["content-type"]),
        "a HEAD answer has a GET's headers"
    );

    let (none, body) = send_h2(&mut sender, Method::GET, "/none").await;
    assert_eq!(none.status, 204);
    assert!(body.expect("no DATA frame after a 204").is_empty());
    assert!(!none.headers.contains_key("content-type"), "{:?}", none.headers);
    assert_eq!(none.headers["cache-control"], "no-store");

    // A body maker of the user's that writes something else than the bytes.
    let json = |_bytes: Bytes| Full::new(Bytes::from_static(b"{\"error\":\"injected\"}"));
    let mut sender = http2_client(tower::ServiceBuilder::new().layer(layer.abort_body(json)).service(handler)).await;
    let (get, body) = send_h2(&mut sender, Method::GET, "/x").await;
    assert_eq!(get.status, 503);
    assert_eq!(body.expect("the whole body, as long as its content-length says"), "{\"error\":\"injected\"}");
    assert_eq!(chaos.status().rules.iter().map(|r| r.aborted).sum::<u64>(), 4);
}

/// Over HTTP/1 with the default empty body, a HEAD answer says the
/// `content-length` its GET would have: 0.
#[tokio::test]
async fn a_head_abort_over_http1_has_its_gets_length() {
    let chaos = down(Match::new());
    let (url, hits) = serve_with(&chaos).await;
    let c = client();
    let get = c.get(format!("{url}/x")).send().await.unwrap();
    let head = c.head(format!("{url}/x")).send().await.unwrap();
    assert_eq!((get.status(), head.status()), (StatusCode::SERVICE_UNAVAILABLE, StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(get.headers()["content-length"], "0");
    assert_eq!(head.headers()["content-length"], "0");
    assert_eq!(hits.get(), 0);
}

/// An abort never calls the inner service, and gives back what its
/// readiness reserved at once, as a delay does: two services sharing one
/// concurrency permit, the first aborting a request, the second still gets
/// ready.
#[tokio::test]
async fn an_abort_gives_back_the_inner_services_reservation() {
    use tower::{Layer, Service, ServiceExt};

    let chaos = down(Match::new().path("/down"));
    let limit = tower::limit::GlobalConcurrencyLimitLayer::new(1);
    let handler = tower::service_fn(|_req: http::Request<()>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(()))
    });
    let mut a = ChaosLayer::new(chaos.clone()).layer(limit.layer(handler));
    let mut b = ChaosLayer::new(chaos.clone()).layer(limit.layer(handler));
    let req = |path: &str| http::Request::builder().uri(path).body(()).unwrap();
    let res = a.ready().await.unwrap().call(req("/down")).await.unwrap();
    assert_eq!(res.status(), 503);
    // `a` is not called again: were its permit still held, `b` would wait
    // for it for ever.
    let ready = tokio::time::timeout(Duration::from_secs(30), b.ready()).await;
    assert!(ready.is_ok(), "the aborted call's permit was never given back");
    assert_eq!(b.call(req("/up")).await.unwrap().status(), 200);
}

/// A gRPC-Web (or `application/grpc+proto`) request gets its abort in the
/// content type it asked in, trailers-only; the content type is read
/// ignoring case, as media types are.
#[tokio::test]
async fn a_grpc_abort_answers_in_the_requests_content_type() {
    use tower::{Layer, ServiceExt};
    let chaos = Chaos::new(
        Config::new()
            .rule(Rule::new("grpc-down").abort(Abort::grpc(mischief::config::GrpcCode::Unavailable).percentage(100.0))),
    )
    .unwrap();
    let handler = tower::service_fn(|_req: http::Request<()>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(()))
    });
    let svc = ChaosLayer::new(chaos).layer(handler);
    for content_type in ["application/grpc-web+proto", "application/grpc+proto", "Application/GRPC"] {
        let req = http::Request::builder()
            .method("POST")
            .uri("/pkg.Svc/Call")
            .header("content-type", content_type)
            .body(())
            .unwrap();
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), 200, "{content_type}");
        assert_eq!(res.headers()["grpc-status"], "14", "{content_type}");
        assert_eq!(res.headers()["content-type"], content_type);
    }
}

/// With `abort_body`, an abort sends its `body`, else its `message`, else a
/// line naming the rule.
#[tokio::test]
async fn an_abort_body_falls_back_to_the_message_then_to_the_rules_name() {
    let chaos = Chaos::new(
        Config::new()
            .rule(
                Rule::new("said")
                    .when(Match::new().path("/said"))
                    .abort(Abort::status(503).message("the database is gone").percentage(100.0)),
            )
            .rule(Rule::new("silent").abort(Abort::status(503).percentage(100.0))),
    )
    .unwrap();
    let app = counting_app(&Hits::default()).layer(ChaosLayer::new(chaos).abort_body(axum::body::Body::from));
    let url = serve(app).await;
    let c = client();
    assert_eq!(c.get(format!("{url}/said")).send().await.unwrap().text().await.unwrap(), "the database is gone");
    let silent = c.get(format!("{url}/x")).send().await.unwrap().text().await.unwrap();
    assert_eq!(silent, "chaos: abort injected by rule `silent`");
}

/// The README's placement (the whole router wrapped, given its state
/// first) served with `into_make_service_with_connect_info`: handlers get
/// the peer's address, and aborts still answer.
#[tokio::test]
async fn the_wrapped_router_serves_with_connect_info() {
    use axum::ServiceExt;
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;
    use tower::Layer;

    let chaos = down(Match::new().path("/down"));
    let router: axum::Router = axum::Router::new().route(
        "/peer",
        axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
    );
    let app = ChaosLayer::new(chaos).layer(router.with_state(()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let make = ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(app);
        axum::serve(listener, make).await.unwrap();
    });
    let c = client();
    assert_eq!(c.get(format!("http://{addr}/peer")).send().await.unwrap().text().await.unwrap(), "127.0.0.1");
    assert_eq!(c.get(format!("http://{addr}/down")).send().await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
}

/// The public types a service holds, moves between threads or boxes are
/// `Send` and `Sync` (futures `Send`), checked at compile time.
#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    type Svc = tower::util::BoxCloneSyncService<
        http::Request<axum::body::Body>,
        axum::response::Response,
        std::convert::Infallible,
    >;
    send_sync::<Chaos>();
    send_sync::<mischief::Status>();
    send_sync::<mischief::InjectedFault>();
    send_sync::<mischief::Decision>();
    send_sync::<ChaosLayer>();
    send_sync::<mischief::http::ChaosService<Svc>>();
    send::<mischief::http::ResponseFuture<Svc, axum::body::Body>>();
    send_sync::<mischief::service::ChaosLayer>();
    send_sync::<mischief::service::ChaosService<Svc>>();
    send::<mischief::service::ResponseFuture<Svc, http::Request<axum::body::Body>>>();
    #[cfg(feature = "reload")]
    send_sync::<mischief::reload::WatchGuard>();
    #[cfg(feature = "client")]
    send_sync::<mischief::client::ChaosMiddleware>();
}
