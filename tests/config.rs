//! Validation: every invalid field is rejected with an error that names the
//! rule, the field and the value, and nothing is clamped.

use std::time::Duration;

use mischief::config::{Abort, Config, Delay, GrpcStatus, Match, Rule, StrMatch};
use mischief::{Chaos, ConfigError};

fn reject(rule: Rule) -> ConfigError {
    Chaos::new(Config::new().rule(Rule::new("ok").abort(Abort::status(503).percentage(1.0))).rule(rule))
        .expect_err("the config must be rejected")
}

fn expect(rule: Rule, field: &str, value: &str) {
    let err = reject(rule);
    match &err {
        ConfigError::Field { rule, field: f, value: v, .. } => {
            assert_eq!(rule.index, 1, "{err}");
            assert_eq!(f, field, "{err}");
            assert!(v.contains(value), "value {v:?} should mention {value:?}: {err}");
        }
        other => panic!("expected a field error, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(field) && msg.contains(value) && msg.contains("#1"), "{msg}");
}

fn abort() -> Abort {
    Abort::status(503).percentage(10.0)
}

#[test]
fn every_invalid_field_is_named_with_its_value() {
    let r = |name: &str| Rule::new(name);
    expect(r("p").abort(Abort::status(503).percentage(120.0)), "abort.percentage", "120");
    expect(r("p").abort(Abort::status(503).percentage(-1.0)), "abort.percentage", "-1");
    expect(r("p").abort(Abort::status(503).percentage(f64::NAN)), "abort.percentage", "NaN");
    expect(r("s").abort(Abort::status(99).percentage(1.0)), "abort.status", "99");
    expect(r("s").abort(Abort::status(600).percentage(1.0)), "abort.status", "600");
    expect(r("s").abort(Abort::status(503)), "abort.percentage", "none");
    expect(r("s").abort(Abort::status(503).percentage(5.0).every(3)), "abort.every", "3");
    expect(r("s").abort(Abort::status(503).every(0)), "abort.every", "0");
    // More headers than an answer may carry (a `HeaderMap` panics past
    // 24,576 names; the bound is far below).
    let many = (0..65).fold(Abort::status(503).every(1), |a, i| a.header(format!("x-h{i}"), "1"));
    expect(r("h").abort(many), "abort.headers", "65");
    let enough = (0..64).fold(Abort::status(503).every(1), |a, i| a.header(format!("x-h{i}"), "1"));
    Chaos::new(Config::new().rule(r("h").abort(enough))).expect("64 headers are allowed");
    let mut bad_grpc = abort();
    bad_grpc.grpc_status = Some(GrpcStatus::Name("SOMETIMES".into()));
    expect(r("g").abort(bad_grpc), "abort.grpc_status", "SOMETIMES");
    let mut bad_grpc = abort();
    bad_grpc.grpc_status = Some(GrpcStatus::Code(17));
    expect(r("g").abort(bad_grpc), "abort.grpc_status", "17");
    let mut ok_code = abort();
    ok_code.grpc_status = Some(GrpcStatus::Code(0));
    expect(r("g").abort(ok_code), "abort.grpc_status", "0");
    expect(r("h").abort(abort().header("bad header", "x")), "abort.headers", "bad header");
    expect(r("h").abort(abort().header("x-ok", "line\nbreak")), "abort.headers", "line\\nbreak");
    // One header in two cases: the answer would carry both values.
    expect(r("h").abort(abort().header("Retry-After", "1").header("retry-after", "2")), "abort.headers", "retry-after");
    expect(r("").abort(abort()), "name", "\"\"");
    expect(r("ok").abort(abort()), "name", "ok");
    expect(r("none"), "abort", "none");
    use mischief::config::{ErrorFault, Loss, Timeout};
    expect(r("e").error(ErrorFault::percentage(120.0)), "error.percentage", "120");
    expect(r("e").error(ErrorFault::default()), "error.percentage", "none");
    expect(r("t").timeout(Timeout::after(Duration::from_secs(1))), "timeout.percentage", "none");
    expect(r("l").loss(Loss::timeout(Duration::from_secs(1)).every(0)), "loss.every", "0");
    expect(r("d").delay(Delay::fixed(Duration::from_millis(5))), "delay.percentage", "none");
    expect(r("d").delay(Delay::fixed(Duration::from_millis(5)).percentage(100.5)), "delay.percentage", "100.5");
    expect(
        r("d").delay(Delay::uniform(Duration::from_millis(50), Duration::from_millis(10)).percentage(1.0)),
        "delay.min",
        "50ms",
    );
    expect(
        r("d").delay(Delay::jittered(Duration::from_millis(10), Duration::from_millis(20)).percentage(1.0)),
        "delay.jitter",
        "20ms",
    );
    // `base + jitter` beyond what a `Duration` holds: an error, not a panic.
    expect(r("d").delay(Delay::jittered(Duration::MAX, Duration::from_secs(1)).percentage(1.0)), "delay.jitter", "1s");
    let mut two_shapes = Delay::fixed(Duration::from_millis(5)).percentage(1.0);
    two_shapes.min = Some(Duration::from_millis(1));
    expect(r("d").delay(two_shapes), "delay", "fixed");
    let mut no_shape = Delay::default().percentage(1.0);
    no_shape.every = None;
    expect(r("d").delay(no_shape), "delay", "[]");
    expect(r("m").when(Match::new().method("GE T")).abort(abort()), "match.method", "GE T");
    expect(r("m").when(Match::new().header_equals("bad name", "x")).abort(abort()), "match.headers.name", "bad name");
    expect(r("m").when(Match::new().path("")).abort(abort()), "match.path", "\"\"");
    let mut m = Match::new();
    m.grpc_service = Some(StrMatch::Glob(String::new()));
    expect(r("m").when(m).abort(abort()), "match.grpc_service", "\"\"");
    expect(r("m").when(Match::new().host("")).abort(abort()), "match.host", "\"\"");
    expect(r("m").when(Match::new().name("")).abort(abort()), "match.name", "\"\"");
    expect(r("m").when(Match::new().grpc_method("")).abort(abort()), "match.grpc_method", "\"\"");
    expect(
        r("m").when(Match::new().header_equals("x-a", "new\nline")).abort(abort()),
        "match.headers.equals",
        "new\\nline",
    );
    let both: Match = serde_json::from_value(serde_json::json!({
        "headers": [{ "name": "x-canary", "equals": "1", "present": false }]
    }))
    .unwrap();
    expect(r("m").when(both).abort(abort()), "match.headers.present", "false");
    expect(r("bad\u{7}name").abort(abort()), "name", "bad\\u{7}name");
    expect(r("p").abort(Abort::status(503).percentage(f64::INFINITY)), "abort.percentage", "inf");
    expect(r("p").abort(Abort::status(503).percentage(f64::NEG_INFINITY)), "abort.percentage", "-inf");
    expect(r("t").timeout(Timeout::after(Duration::from_secs(1)).percentage(101.0)), "timeout.percentage", "101");
    expect(r("l").loss(Loss::timeout(Duration::from_secs(1)).percentage(-0.5)), "loss.percentage", "-0.5");
}

#[test]
fn match_values_no_call_can_have_are_refused() {
    let r = || Rule::new("m");
    // The host is read without its port (and a URL is not a host): a rule
    // for `localhost:8080` would never match, silently.
    expect(r().when(Match::new().host("localhost:8080")).abort(abort()), "match.host", "localhost:8080");
    expect(r().when(Match::new().host("*.internal:8443")).abort(abort()), "match.host", "*.internal:8443");
    expect(r().when(Match::new().host("http://api")).abort(abort()), "match.host", "http://api");
    let mut prefix = Match::new();
    prefix.host = Some(StrMatch::Prefix("api:".into()));
    expect(r().when(prefix).abort(abort()), "match.host", "api:");
    let mut prefix = Match::new();
    prefix.host = Some(StrMatch::Prefix("10.0.0.1:".into()));
    expect(r().when(prefix).abort(abort()), "match.host", "10.0.0.1:");
    expect(r().when(Match::new().host("*:8443")).abort(abort()), "match.host", "*:8443");
    expect(r().when(Match::new().host("10.0.0.*:8080")).abort(abort()), "match.host", "10.0.0.*:8080");
    expect(r().when(Match::new().host("[::1")).abort(abort()), "match.host", "[::1");
    expect(r().when(Match::new().host("bücher.example")).abort(abort()), "match.host", "bücher.example");
    // A request path starts with `/` and has no query.
    expect(r().when(Match::new().path("api/users")).abort(abort()), "match.path", "api/users");
    expect(r().when(Match::new().path_prefix("api")).abort(abort()), "match.path", "api");
    expect(r().when(Match::new().path("/search?q=1")).abort(abort()), "match.path", "/search?q=1");
    // Hyper strips a received value's surrounding whitespace.
    expect(r().when(Match::new().header_equals("x-canary", " 1")).abort(abort()), "match.headers.equals", "\" 1\"");
    // What a call can have is still accepted: IPv6 addresses with or
    // without brackets (and a prefix or glob of one), `OPTIONS *`'s path,
    // globs from `*`.
    let mut v6 = Match::new();
    v6.host = Some(StrMatch::Prefix("fe80:".into()));
    for m in [
        Match::new().host("::1"),
        Match::new().host("[::1]"),
        Match::new().host("[fe80::*]"),
        Match::new().host("fe80::1%25eth0"),
        Match::new().host("::ffff:10.0.0.1"),
        Match::new().host("fe80:*"),
        v6,
        Match::new().path("*"),
        Match::new().path("*/health"),
        Match::new().path("/api/*"),
    ] {
        Chaos::new(Config::new().rule(r().when(m.clone()).abort(abort()))).unwrap_or_else(|e| panic!("{m:?}: {e}"));
    }
}

#[test]
fn percentages_at_the_edges_are_valid() {
    for p in [0.0, 0.001, 50.0, 99.999, 100.0] {
        Chaos::new(Config::new().rule(Rule::new("edge").abort(Abort::status(503).percentage(p)))).unwrap();
    }
}

#[test]
fn percentage_zero_never_fires_and_hundred_always_does() {
    use mischief::{Door, Target};
    let chaos = Chaos::new(
        Config::new()
            .rule(Rule::new("never").when(Match::new().name("never")).abort(Abort::status(503).percentage(0.0)))
            .rule(Rule::new("always").when(Match::new().name("always")).abort(Abort::status(503).percentage(100.0))),
    )
    .unwrap();
    for _ in 0..10_000 {
        assert!(chaos.decide(&Target::new(Door::Service).name("never")).is_pass());
        assert!(chaos.decide(&Target::new(Door::Service).name("always")).fault().is_some());
    }
}

#[test]
fn files_in_toml_json_and_the_documented_forms_deserialize() {
    let toml_like = serde_json::json!({
        "seed": 7,
        "rules": [
            {
                "name": "a",
                "match": { "door": "http", "method": ["GET", "post"], "path": { "prefix": "/api" },
                           "headers": [{ "name": "x-canary", "equals": "1" }], "host": "*.internal" },
                "abort": { "status": 503, "grpc_status": "unavailable", "percentage": 2.5 },
                "delay": { "min": "10ms", "max": 250, "every": 4 }
            },
            { "name": "b", "match": { "door": ["service", "point"], "name": "payments.*" },
              "delay": { "base": "1s", "jitter": "200ms", "percentage": 100 } }
        ]
    });
    let config: Config = serde_json::from_value(toml_like).unwrap();
    assert_eq!(config.rules[0].when.path, Some(StrMatch::Prefix("/api".into())));
    assert_eq!(config.rules[0].when.host, Some(StrMatch::Glob("*.internal".into())));
    assert_eq!(config.rules[0].delay.as_ref().unwrap().max, Some(Duration::from_millis(250)));
    assert_eq!(config.rules[1].when.name, Some(StrMatch::Glob("payments.*".into())));
    Chaos::new(config.clone()).unwrap();

    // It round-trips through serde.
    let back: Config = serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
    assert_eq!(back, config);

    let outbound: Config = serde_json::from_value(serde_json::json!({"rules": [
        { "name": "t", "timeout": { "after": "2s", "percentage": 5 } },
        { "name": "p", "match": { "host": "db.internal" }, "partition": { "connect_delay": "250ms" } },
        { "name": "l", "loss": { "timeout": 1000, "every": 10 } },
        { "name": "e", "error": { "message": "reset", "percentage": 1 } }
    ]}))
    .unwrap();
    assert_eq!(outbound.rules[0].timeout.as_ref().unwrap().after, Duration::from_secs(2));
    Chaos::new(outbound).unwrap();
    let err = serde_json::from_str::<Config>(r#"{"rules":[{"name":"t","timeout":{"percentage":5}}]}"#).unwrap_err();
    assert!(err.to_string().contains("after"), "{err}");

    // Unknown fields and bad shapes are parse errors that say where.
    let err =
        serde_json::from_str::<Config>(r#"{"rules":[{"name":"a","abort":{"status":503,"percent":5}}]}"#).unwrap_err();
    assert!(err.to_string().contains("percent"), "{err}");
    let err = serde_json::from_str::<Config>(r#"{"rules":[{"name":"a","match":{"door":"htp"}}]}"#).unwrap_err();
    assert!(err.to_string().contains("htp"), "{err}");
    let err = serde_json::from_str::<Config>(r#"{"rules":[{"name":"a","delay":{"fixed":"soon"}}]}"#).unwrap_err();
    assert!(err.to_string().contains("soon"), "{err}");
}

#[test]
fn a_rejected_update_is_kept_in_status_until_a_good_one() {
    let chaos = Chaos::new(Config::new().rule(Rule::new("a").abort(abort()))).unwrap();
    let err = chaos.update(Config::new().rule(Rule::new("a").abort(Abort::status(42).percentage(1.0)))).unwrap_err();
    let status = chaos.status();
    assert_eq!(status.last_error, Some(err.to_string()));
    assert_eq!(status.generation, 1);
    assert_eq!(status.rules[0].rule.abort.as_ref().unwrap().status, Some(503));
    chaos.update(Config::new().rule(Rule::new("b").abort(abort()))).unwrap();
    let status = chaos.status();
    assert_eq!((status.last_error, status.generation), (None, 2));
}

#[test]
fn a_delay_and_a_wait_of_forever_add_up_to_forever_without_overflowing() {
    use mischief::config::Loss;
    use mischief::{Door, Target};
    // "Hang forever" written as `Duration::MAX`, with a delay on top: the
    // call's total wait saturates instead of overflowing (which would
    // panic in the request path).
    let chaos = Chaos::new(
        Config::new().rule(
            Rule::new("hang")
                .delay(Delay::fixed(Duration::from_millis(1)).percentage(100.0))
                .loss(Loss::timeout(Duration::MAX).percentage(100.0)),
        ),
    )
    .unwrap();
    let decision = chaos.decide(&Target::new(Door::Service).name("db"));
    assert_eq!(decision.total_wait(), Duration::MAX);
}

#[test]
fn with_abort_first_the_delay_still_counts_every_matching_call() {
    use mischief::{Door, Target};
    // Aborts on every 2nd call, delays on every 3rd; an abort drops that
    // call's delay. The delay's `every` counts every matching call, aborted
    // or not: delayed are calls 3 and 9 (6 and 12 are aborted).
    let chaos = Chaos::new(
        Config::new().rule(
            Rule::new("r")
                .abort(Abort::status(503).every(2))
                .delay(Delay::fixed(Duration::from_millis(1)).every(3))
                .abort_first(true),
        ),
    )
    .unwrap();
    let target = Target::new(Door::Service).name("db");
    let (mut delayed, mut aborted) = (Vec::new(), Vec::new());
    for call in 1..=12 {
        let d = chaos.decide(&target);
        if d.fault().is_some() {
            aborted.push(call);
            assert_eq!(d.total_wait(), Duration::ZERO, "call {call}: an abort that comes first has no delay");
        } else if !d.total_wait().is_zero() {
            delayed.push(call);
        }
    }
    assert_eq!(aborted, [2, 4, 6, 8, 10, 12]);
    assert_eq!(delayed, [3, 9]);
}

/// A `CHAOS_*` variable set to bytes that are not UTF-8 is an error naming
/// it, not a variable that reads as unset (chaos silently off, or its file
/// ignored). Runs itself in a child process with the variable set.
#[cfg(unix)]
#[test]
fn a_variable_that_is_not_utf8_is_an_error_naming_it() {
    use std::os::unix::ffi::OsStrExt;
    const CHILD: &str = "MISCHIEF_CONFIG_TEST_CHILD";
    let Some(var) = std::env::var_os(CHILD) else {
        const ALL: [&str; 6] = [
            "CHAOS_ENABLED",
            "CHAOS_FAILURE_RATE",
            "CHAOS_LATENCY_MS",
            "CHAOS_ABORT_STATUS",
            "CHAOS_SEED",
            "CHAOS_CONFIG",
        ];
        for var in ["CHAOS_ENABLED", "CHAOS_CONFIG"] {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap());
            // Only the variable under test, whatever the environment this runs in.
            for other in ALL {
                child.env_remove(other);
            }
            let out = child
                .args(["--exact", "a_variable_that_is_not_utf8_is_an_error_naming_it"])
                .env(CHILD, var)
                .env(var, std::ffi::OsStr::from_bytes(b"tr\xffe"))
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success() && stdout.contains("1 passed"), "{var}: {stdout}");
        }
        return;
    };
    let err = Chaos::from_env().map(|_| ()).expect_err("a variable that is not UTF-8 must be rejected");
    let msg = err.to_string();
    assert!(matches!(err, ConfigError::Env { .. }), "{err:?}");
    assert!(msg.contains(var.to_str().unwrap()) && msg.contains("UTF-8"), "{msg}");
}

#[test]
fn sampled_delays_stay_within_their_shape_and_reach_both_ends() {
    use mischief::{Door, Target};
    let ms = Duration::from_millis;
    let from_env = Chaos::from_env_with(|name| match name {
        "CHAOS_ENABLED" => Some("true".into()),
        "CHAOS_LATENCY_MS" => Some("50".into()),
        "CHAOS_SEED" => Some("7".into()),
        _ => None,
    })
    .unwrap();
    let shaped =
        |delay: Delay| Chaos::new(Config::new().seed(7).rule(Rule::new("d").delay(delay.percentage(100.0)))).unwrap();
    let cases = [
        ("uniform 10ms..=20ms", shaped(Delay::uniform(ms(10), ms(20))), ms(10), ms(20)),
        ("100ms ± 20ms", shaped(Delay::jittered(ms(100), ms(20))), ms(80), ms(120)),
        ("fixed 5ms", shaped(Delay::fixed(ms(5))), ms(5), ms(5)),
        ("CHAOS_LATENCY_MS=50", from_env, Duration::ZERO, ms(50)),
    ];
    let target = Target::new(Door::Service).name("db");
    for (shape, chaos, min, max) in cases {
        // Seeded: the same 10,000 draws every run.
        let delays: Vec<Duration> = (0..10_000).map(|_| chaos.decide(&target).delay().unwrap_or_default()).collect();
        let (lo, hi) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
        assert!(min <= *lo && *hi <= max, "{shape}: delays from {lo:?} to {hi:?}");
        // Both ends are reached to within a hundredth of the span.
        let slack = (max - min) / 100;
        assert!(*lo <= min + slack && max - slack <= *hi, "{shape}: delays from {lo:?} to {hi:?}");
    }
}

#[test]
fn a_rule_fails_with_the_first_kind_that_fires_in_a_fixed_order() {
    use mischief::config::{ErrorFault, Loss, Partition, Timeout};
    use mischief::{Door, FaultKind, Target};
    // All five at 100%, then without the winner each time: partition,
    // abort, error, timeout, loss, whatever order they were written in.
    let ms = Duration::from_millis;
    let full = || {
        Rule::new("all")
            .loss(Loss::timeout(ms(1)).percentage(100.0))
            .timeout(Timeout::after(ms(1)).percentage(100.0))
            .error(ErrorFault::percentage(100.0))
            .abort(Abort::status(503).percentage(100.0))
            .partition(Partition::new())
    };
    let kind_of = |rule: Rule| {
        let chaos = Chaos::new(Config::new().rule(rule)).unwrap();
        chaos.decide(&Target::new(Door::Service).name("db")).fault().map(|f| f.kind())
    };
    let mut rule = full();
    assert_eq!(kind_of(rule.clone()), Some(FaultKind::Partition));
    rule.partition = None;
    assert_eq!(kind_of(rule.clone()), Some(FaultKind::Abort));
    rule.abort = None;
    assert_eq!(kind_of(rule.clone()), Some(FaultKind::Error));
    rule.error = None;
    assert_eq!(kind_of(rule.clone()), Some(FaultKind::Timeout));
    rule.timeout = None;
    assert_eq!(kind_of(rule), Some(FaultKind::Loss));
}

#[test]
fn delay_and_abort_are_rolled_independently() {
    use mischief::{Door, Target};
    // Seeded, so the same draws every run; the bounds are 5 sigma anyway.
    let chaos = Chaos::new(
        Config::new().seed(11).rule(
            Rule::new("both")
                .delay(Delay::fixed(Duration::from_millis(1)).percentage(50.0))
                .abort(Abort::status(503).percentage(30.0)),
        ),
    )
    .unwrap();
    let target = Target::new(Door::Service).name("db");
    let n = 20_000u64;
    let (mut delayed, mut aborted, mut both) = (0u64, 0u64, 0u64);
    for _ in 0..n {
        let d = chaos.decide(&target);
        let (delay, abort) = (d.delay().is_some(), d.fault().is_some());
        delayed += u64::from(delay);
        aborted += u64::from(abort);
        both += u64::from(delay && abort);
    }
    let within = |hits: u64, p: f64, what: &str| {
        let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
        assert!((hits as f64 - mean).abs() <= 5.0 * sd, "{what}: {hits} of {n}, expected {mean:.0} ± {:.0}", 5.0 * sd);
    };
    within(delayed, 0.5, "delayed");
    within(aborted, 0.3, "aborted");
    // Independent rolls: both at 0.5 × 0.3, delay first, then the abort.
    within(both, 0.15, "delayed and aborted");
}

/// How a rule's `match` reads an HTTP request as a server receives it: hosts
/// ignore case and one trailing dot, the port comes from the `Host` header
/// when the URI has none, and a repeated header matches on any of its values.
#[test]
fn requests_match_as_servers_receive_them() {
    use mischief::{Door, Target};
    let rule = |name: &str, m: Match| Rule::new(name).when(m).abort(Abort::status(503).percentage(100.0));
    let chaos = Chaos::new(
        Config::new()
            // Rules on the other parts first, so the index has several groups.
            .rule(rule("path", Match::new().path_prefix("/internal")))
            .rule(rule("other-host", Match::new().host("*.region-1.internal")))
            .rule(rule("exact", Match::new().host("API.Example.com.")))
            .rule(rule("glob", Match::new().host("*.shop.example")))
            .rule(rule("v6", Match::new().host("::1")))
            .rule(rule("port", Match::new().port(8080)))
            .rule(rule("tenant", Match::new().header_equals("x-tenant", "canary"))),
    )
    .unwrap();
    let decided = |host: &str, headers: &[(&str, &str)]| {
        let mut req = http::Request::get("/x").header("host", host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(()).unwrap();
        chaos.decide(&Target::from_request(Door::Http, &req)).rule().map(str::to_owned)
    };
    // Case and a trailing dot, on either side, through the index's words too.
    assert_eq!(decided("api.example.com", &[]).as_deref(), Some("exact"));
    assert_eq!(decided("API.EXAMPLE.COM", &[]).as_deref(), Some("exact"));
    assert_eq!(decided("api.example.com.", &[]).as_deref(), Some("exact"));
    assert_eq!(decided("api.example.com:443", &[]).as_deref(), Some("exact"));
    assert_eq!(decided("Cart.SHOP.example", &[]).as_deref(), Some("glob"));
    assert_eq!(decided("cart.shop.example.:80", &[]).as_deref(), Some("glob"));
    assert_eq!(decided("shop.example", &[]), None, "the glob needs a label before `.shop.example`");
    // An IPv6 address written without brackets matches the bracketed host.
    assert_eq!(decided("[::1]:8080", &[]).as_deref(), Some("v6"));
    assert_eq!(decided("[::1]", &[]).as_deref(), Some("v6"));
    // The port from the Host header (an HTTP/1.1 request's URI has none).
    assert_eq!(decided("localhost:8080", &[]).as_deref(), Some("port"));
    assert_eq!(decided("localhost:8081", &[]), None);
    // A header sent twice matches on either value, in either order.
    let twice = |a, b| decided("localhost", &[("x-tenant", a), ("x-tenant", b)]);
    assert_eq!(twice("stable", "canary").as_deref(), Some("tenant"));
    assert_eq!(twice("canary", "stable").as_deref(), Some("tenant"));
    assert_eq!(twice("stable", "beta"), None);
    // A request in absolute form has its URI's host, whatever its `Host`
    // header says (as HTTP/1.1 says a server must read it).
    let absolute = http::Request::get("http://api.example.com/x").header("host", "cart.shop.example").body(()).unwrap();
    assert_eq!(chaos.decide(&Target::from_request(Door::Http, &absolute)).rule(), Some("exact"));
    // A `Host` that is not UTF-8 gives the request no host, as documented:
    // no host rule matches it (the tenant rule, on a header, still does).
    let garbled = http::Request::get("/x")
        .header("host", http::HeaderValue::from_bytes(b"caf\xE9.shop.example").unwrap())
        .header("x-tenant", "canary")
        .body(())
        .unwrap();
    assert_eq!(chaos.decide(&Target::from_request(Door::Http, &garbled)).rule(), Some("tenant"));
}

#[test]
fn an_abort_with_only_a_grpc_code_answers_http_callers_with_the_matching_status() {
    use mischief::config::GrpcCode;
    use mischief::{Door, Target};
    let status = |abort: Abort| {
        let chaos = Chaos::new(Config::new().rule(Rule::new("a").abort(abort.percentage(100.0)))).unwrap();
        chaos.decide(&Target::new(Door::Http)).fault().map(|f| f.http_status().as_u16())
    };
    assert_eq!(status(Abort::grpc(GrpcCode::NotFound)), Some(404));
    assert_eq!(status(Abort::grpc(GrpcCode::ResourceExhausted)), Some(429));
    assert_eq!(status(Abort::grpc(GrpcCode::Unauthenticated)), Some(401));
    assert_eq!(status(Abort::grpc(GrpcCode::DataLoss)), Some(500));
    assert_eq!(status(Abort::grpc(GrpcCode::Cancelled)), Some(499));
    // A status given wins; neither given is 503.
    let mut both = Abort::grpc(GrpcCode::NotFound);
    both.status = Some(410);
    assert_eq!(status(both), Some(410));
    assert_eq!(status(Abort::default()), Some(503));
}

/// A gRPC code written as text (`grpc_status: "14"`, as YAML users quote
/// numbers) is the code that number names, not an unknown name; out of
/// range it is an error naming the value.
#[test]
fn a_grpc_code_written_as_text_is_read_as_its_number() {
    use mischief::config::GrpcCode;
    use mischief::{Door, Target};
    let code = |status: GrpcStatus| {
        let mut abort = Abort::default().percentage(100.0);
        abort.grpc_status = Some(status);
        let chaos = Chaos::new(Config::new().rule(Rule::new("a").abort(abort)))?;
        Ok::<_, ConfigError>(chaos.decide(&Target::new(Door::Http)).fault().map(|f| f.grpc_code()))
    };
    for text in ["14", " 14 ", "+14", "014"] {
        assert_eq!(code(GrpcStatus::Name(text.into())).unwrap(), Some(GrpcCode::Unavailable), "{text:?}");
    }
    assert_eq!(code(GrpcStatus::Name("1".into())).unwrap(), Some(GrpcCode::Cancelled));
    assert_eq!(code(GrpcStatus::Name("16".into())).unwrap(), Some(GrpcCode::Unauthenticated));
    for text in ["0", "17", "-1", "99999999999999999999"] {
        let mut abort = abort();
        abort.grpc_status = Some(GrpcStatus::Name(text.into()));
        expect(Rule::new("g").abort(abort), "abort.grpc_status", text);
        let msg = reject(Rule::new("g").abort({
            let mut a = Abort::status(503).percentage(1.0);
            a.grpc_status = Some(GrpcStatus::Name(text.into()));
            a
        }))
        .to_string();
        assert!(msg.contains("1 to 16"), "{msg}");
    }
    #[cfg(feature = "yaml")]
    {
        use mischief::config::Format;
        let doc = "rules:\n  - name: a\n    abort: { grpc_status: \"14\", percentage: 100 }\n";
        let chaos = Chaos::new(Config::parse(doc, Format::Yaml).unwrap()).unwrap();
        let fault = chaos.decide(&Target::new(Door::Http)).fault().unwrap();
        assert_eq!((fault.grpc_code(), fault.http_status().as_u16()), (GrpcCode::Unavailable, 503));
    }
}

/// A door of your own ends a decision with `into_fault`: the failure is
/// counted in the rule's status as the doors count it; a pass gives none;
/// a failure whose wait outlived the kill switch is cancelled, and not
/// counted.
#[test]
fn custom_doors_count_their_failures_with_into_fault() {
    use mischief::{Door, Target};
    let chaos = Chaos::new(
        Config::new()
            .rule(Rule::new("down").when(Match::new().name("queue")).abort(Abort::status(503).percentage(100.0)))
            .rule(
                Rule::new("slow-down")
                    .when(Match::new().name("cache"))
                    .delay(Delay::fixed(Duration::from_millis(1)).percentage(100.0))
                    .abort(Abort::status(500).percentage(100.0)),
            ),
    )
    .unwrap();
    let queue = Target::new(Door::Service).name("queue");
    for _ in 0..3 {
        let fault = chaos.decide(&queue).into_fault(&chaos).expect("every queue call fails");
        assert_eq!(fault.http_status().as_u16(), 503);
    }
    // Only looked at, not ended: not counted.
    assert!(chaos.decide(&queue).fault().is_some());
    assert_eq!(chaos.status().rule("down").unwrap().aborted, 3);
    assert!(chaos.decide(&Target::new(Door::Service).name("db")).into_fault(&chaos).is_none(), "a pass");

    let held = chaos.decide(&Target::new(Door::Service).name("cache"));
    assert_eq!(held.total_wait(), Duration::from_millis(1));
    chaos.set_enabled(false);
    assert!(held.into_fault(&chaos).is_none(), "switched off during the wait");
    let rule = chaos.status().rule("slow-down").unwrap().clone();
    assert_eq!((rule.delayed, rule.aborted), (1, 0));
}

/// A failure cancelled by the kill switch during its wait still held the
/// call for that wait: it is counted as a delay, and keeps the
/// `max_injections` allowance it took, the rule's or the guardrails'.
#[test]
fn a_cancelled_failure_counts_as_the_delay_it_was() {
    use mischief::config::{Guardrails, Timeout};
    use mischief::{Door, Target};
    let timeout = || Rule::new("once").timeout(Timeout::after(Duration::from_millis(1)).percentage(100.0));
    for config in [
        Config::new().rule(timeout().max_injections(1)),
        Config::new().guardrails(Guardrails::new().max_injections(1)).rule(timeout()),
    ] {
        let chaos = Chaos::new(config).unwrap();
        let target = Target::new(Door::Service);
        let held = chaos.decide(&target);
        assert!(held.fault().is_some());
        chaos.set_enabled(false);
        assert!(held.into_fault(&chaos).is_none(), "cancelled during the wait");
        chaos.set_enabled(true);
        assert!(chaos.decide(&target).is_pass(), "the allowance is used up");
        let rule = chaos.status().rule("once").unwrap().clone();
        assert_eq!((rule.delayed, rule.timed_out, rule.skipped), (1, 0, 1));
        if let Some(guard) = chaos.status().guard {
            assert_eq!(guard.injections, 1, "the guardrails counted one fault");
        }
    }
}

/// A door of your own that drops a decision during its wait (its caller
/// gave up) has the failure counted: the caller saw the call fail. A
/// failure that does not wait is counted only by `into_fault`.
#[test]
fn a_failure_abandoned_during_its_wait_is_counted() {
    use mischief::config::Loss;
    use mischief::{Door, Target};
    let chaos = Chaos::new(
        Config::new()
            .rule(
                Rule::new("lossy")
                    .when(Match::new().name("lossy"))
                    .loss(Loss::timeout(Duration::from_secs(30)).percentage(100.0)),
            )
            .rule(Rule::new("down").abort(Abort::status(503).percentage(100.0))),
    )
    .unwrap();
    let held = chaos.decide(&Target::new(Door::Service).name("lossy"));
    assert_eq!(held.total_wait(), Duration::from_secs(30));
    drop(held);
    drop(chaos.decide(&Target::new(Door::Service).name("other")));
    let status = chaos.status();
    let (lossy, down) = (status.rule("lossy").unwrap(), status.rule("down").unwrap());
    assert_eq!((lossy.matched, lossy.lost), (1, 1));
    assert_eq!((down.matched, down.aborted), (1, 0), "no wait: only into_fault counts it");
}

/// The builders take the `http` crate's methods and header names as they
/// take strings.
#[test]
fn builders_take_http_methods_and_header_names() {
    use http::{Method, header};
    let typed = Rule::new("t")
        .when(
            Match::new()
                .method(Method::POST)
                .header_equals(header::ACCEPT, "*/*")
                .header_present(header::COOKIE, false),
        )
        .abort(Abort::status(503).header(header::RETRY_AFTER, "1").every(2));
    let spelled = Rule::new("t")
        .when(Match::new().method("POST").header_equals("accept", "*/*").header_present("cookie", false))
        .abort(Abort::status(503).header("retry-after", "1").every(2));
    assert_eq!(typed, spelled);
}

/// `every` counts from the installation: a reload or update starts the
/// count again (the README says so), though the rule's counters carry over.
#[test]
fn every_counts_again_from_each_installation() {
    use mischief::{Door, Target};
    let config = || Config::new().rule(Rule::new("third").abort(Abort::status(503).every(3)));
    let chaos = Chaos::new(config()).unwrap();
    let faulted = || chaos.decide(&Target::new(Door::Service).name("db")).fault().is_some();
    assert_eq!([faulted(), faulted()], [false, false]);
    chaos.update(config()).unwrap();
    assert_eq!([faulted(), faulted(), faulted()], [false, false, true], "the third call since the update");
    assert_eq!(chaos.status().rules[0].matched, 5, "counters carry over");
}

/// The kill switch reaches a decision already made: an abort decided just
/// before `set_enabled(false)` is not issued after it (a door confirms the
/// failure when it ends the call with it), and is not counted.
#[test]
fn a_failure_decided_before_the_switch_went_off_is_not_issued() {
    use mischief::{Door, Target};
    let chaos =
        Chaos::new(Config::new().rule(Rule::new("down").abort(Abort::status(503).percentage(100.0)).max_injections(1)))
            .unwrap();
    let target = Target::new(Door::Service).name("db");
    let decided = chaos.decide(&target);
    assert!(decided.fault().is_some(), "decided to abort");
    chaos.set_enabled(false);
    assert!(decided.into_fault(&chaos).is_none(), "switched off since: the call goes on");
    let rule = &chaos.status().rules[0];
    assert_eq!((rule.matched, rule.aborted, rule.delayed, rule.skipped), (1, 0, 0, 1), "skipped, not injected");
    // Not injected, so its one allowance under `max_injections` is back
    // (the rule's here; the guardrails' in tests/guard).
    chaos.set_enabled(true);
    assert!(chaos.decide(&target).into_fault(&chaos).is_some(), "the allowance was given back");
    assert!(chaos.decide(&target).into_fault(&chaos).is_none(), "and used now");

    // A delay that came out as zero was injected (and counted): the call
    // is delayed, not skipped, when its abort is cancelled.
    let chaos = Chaos::new(
        Config::new().rule(
            Rule::new("zero")
                .delay(Delay::fixed(Duration::ZERO).percentage(100.0))
                .abort(Abort::status(503).percentage(100.0)),
        ),
    )
    .unwrap();
    let decided = chaos.decide(&target);
    chaos.set_enabled(false);
    assert!(decided.into_fault(&chaos).is_none());
    let rule = &chaos.status().rules[0];
    assert_eq!((rule.matched, rule.delayed, rule.aborted, rule.skipped), (1, 1, 0, 0));
}

/// A status read while calls run is a consistent snapshot as far as a
/// dashboard's ratios go: never more aborts than matches. Two threads abort
/// calls while this one reads.
#[test]
fn a_status_read_under_load_never_has_more_outcomes_than_matches() {
    use mischief::{Door, Target};
    let chaos = Chaos::new(Config::new().rule(Rule::new("down").abort(Abort::status(503).percentage(100.0)))).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let target = Target::new(Door::Service).name("db");
                for _ in 0..200_000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    assert!(chaos.decide(&target).into_fault(&chaos).is_some());
                }
            });
        }
        for _ in 0..2_000 {
            let rule = chaos.status().rules[0].clone();
            if rule.aborted > rule.matched {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                panic!("{} aborted of {} matched", rule.aborted, rule.matched);
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}
