//! Guardrails: windows at their boundaries with a settable clock, schedules,
//! caps, exclusions, and abort conditions tripped by a real axum service.

#[path = "../support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use mischief::config::{Abort, AbortCondition, Config, Delay, Guardrails, Match, Metric, Rule, Schedule};
use mischief::guard::{ManualClock, SkipReason};
use mischief::http::ChaosLayer;
use mischief::{Chaos, Door, Target};
use support::{call_now, client, ends_in_error, half_failing, serve, watching, watching_delayed};

fn at(rfc3339: &str) -> mischief::guard::jiff::Timestamp {
    rfc3339.parse().unwrap()
}

/// An engine with one always-aborting rule named `r` under `guardrails`,
/// on a manual clock.
fn engine(clock: &ManualClock, guardrails: Guardrails, rule: Rule) -> Chaos {
    Chaos::builder().clock(clock.clone()).config(Config::new().guardrails(guardrails).rule(rule)).build().unwrap()
}

fn always(name: &str) -> Rule {
    Rule::new(name).abort(Abort::status(503).percentage(100.0))
}

fn faults(chaos: &Chaos) -> bool {
    chaos.decide(&Target::new(Door::Service).name("svc")).fault().is_some()
}

fn skipped(chaos: &Chaos, reason: SkipReason) -> u64 {
    chaos.status().guard.unwrap().skipped(reason)
}

#[test]
fn allowed_hours_at_their_boundaries() {
    let clock = ManualClock::new(at("2026-11-25T08:59:59Z"));
    let chaos = engine(&clock, Guardrails::new().allowed_hours("09:00-16:00"), always("r"));
    let cases = [
        ("2026-11-25T08:59:59Z", false),
        ("2026-11-25T09:00:00Z", true),
        ("2026-11-25T12:30:00Z", true),
        ("2026-11-25T15:59:59Z", true),
        ("2026-11-25T16:00:00Z", false),
        ("2026-11-25T23:00:00Z", false),
    ];
    for (t, want) in cases {
        clock.set(at(t));
        assert_eq!(faults(&chaos), want, "at {t}");
    }
    assert_eq!(skipped(&chaos, SkipReason::OutsideWindow), 3);
}

#[test]
fn hours_crossing_midnight() {
    let clock = ManualClock::new(at("2026-11-25T21:59:59Z"));
    let chaos = engine(&clock, Guardrails::new().allowed_hours("22:00-06:00"), always("r"));
    for (t, want) in [
        ("2026-11-25T21:59:59Z", false),
        ("2026-11-25T22:00:00Z", true),
        ("2026-11-26T05:59:59Z", true),
        ("2026-11-26T06:00:00Z", false),
    ] {
        clock.set(at(t));
        assert_eq!(faults(&chaos), want, "at {t}");
    }
}

/// The part after midnight of an overnight span belongs to the day the
/// span started on: with Fridays allowed, Friday 22:00 to Saturday 06:00
/// is chaos time, Friday 01:00 (Thursday's night) is not. Blackout dates
/// are read per instant: a blackout Saturday ends Friday's night at
/// midnight.
#[test]
fn an_overnight_span_belongs_to_the_day_it_starts_on() {
    // 2026-11-27 is a Friday.
    let clock = ManualClock::new(at("2026-11-27T12:00:00Z"));
    let fridays = || Guardrails::new().allowed_hours("22:00-06:00").allowed_days(["Fri"]);
    let cases = [
        ("2026-11-27T01:00:00Z", false), // Friday 01:00: Thursday's night
        ("2026-11-27T05:59:59Z", false),
        ("2026-11-27T21:59:59Z", false),
        ("2026-11-27T22:00:00Z", true), // Friday's night
        ("2026-11-27T23:59:59Z", true),
        ("2026-11-28T00:00:00Z", true), // Saturday, still Friday's night
        ("2026-11-28T01:00:00Z", true),
        ("2026-11-28T05:59:59Z", true),
        ("2026-11-28T06:00:00Z", false),
        ("2026-11-28T22:00:00Z", false), // Saturday's night
        ("2026-11-29T01:00:00Z", false),
    ];
    let chaos = engine(&clock, fridays(), always("r"));
    for (t, want) in cases {
        clock.set(at(t));
        assert_eq!(faults(&chaos), want, "at {t}");
    }
    assert_eq!(skipped(&chaos, SkipReason::OutsideWindow), 6);

    // In the local time of the time zone (UTC+1 in November).
    let chaos = engine(&clock, fridays().timezone("Europe/Berlin"), always("r"));
    for (t, want) in [
        ("2026-11-27T00:00:00Z", false), // Friday 01:00 local
        ("2026-11-27T21:00:00Z", true),  // Friday 22:00 local
        ("2026-11-28T00:00:00Z", true),  // Saturday 01:00 local
        ("2026-11-28T05:00:00Z", false), // Saturday 06:00 local
    ] {
        clock.set(at(t));
        assert_eq!(faults(&chaos), want, "at {t} (Europe/Berlin)");
    }

    // A blackout date covers its own calendar day, 00:00 to 24:00.
    let chaos = engine(&clock, fridays().blackout_date("2026-11-28"), always("r"));
    for (t, want) in [("2026-11-27T23:00:00Z", true), ("2026-11-28T01:00:00Z", false)] {
        clock.set(at(t));
        assert_eq!(faults(&chaos), want, "at {t} (Saturday blacked out)");
    }
    assert_eq!(skipped(&chaos, SkipReason::Blackout), 1);
}

#[test]
fn hours_follow_the_time_zone_across_a_dst_change() {
    // Europe/Berlin moves from CET (UTC+1) to CEST (UTC+2) on 2026-03-29.
    let clock = ManualClock::new(at("2026-03-28T07:59:59Z"));
    let chaos = engine(&clock, Guardrails::new().allowed_hours("09:00-16:00").timezone("Europe/Berlin"), always("r"));
    for (t, want, local) in [
        ("2026-03-28T07:59:59Z", false, "08:59:59 CET"),
        ("2026-03-28T08:00:00Z", true, "09:00 CET"),
        ("2026-03-28T14:59:59Z", true, "15:59:59 CET"),
        ("2026-03-28T15:00:00Z", false, "16:00 CET"),
        // The same UTC times the day after are an hour later locally.
        ("2026-03-29T06:59:59Z", false, "08:59:59 CEST"),
        ("2026-03-29T07:00:00Z", true, "09:00 CEST"),
        ("2026-03-29T13:59:59Z", true, "15:59:59 CEST"),
        ("2026-03-29T14:00:00Z", false, "16:00 CEST"),
    ] {
        clock.set(at(t));
        assert_eq!(faults(&chaos), want, "at {t} ({local})");
    }
}

#[test]
fn allowed_days_and_blackout_dates_in_the_time_zone() {
    let clock = ManualClock::new(at("2026-12-21T12:00:00Z"));
    let chaos = engine(
        &clock,
        Guardrails::new()
            .allowed_days(["Monday", "Tue", "wed", "Thursday"])
            .blackout_date("2026-12-24")
            .timezone("Europe/Berlin"),
        always("r"),
    );
    for (t, want) in [
        ("2026-12-21T12:00:00Z", true),  // Monday
        ("2026-12-23T22:59:59Z", true),  // Wednesday 23:59:59 local
        ("2026-12-23T23:00:00Z", false), // Thursday 00:00 local: the blackout date
        ("2026-12-24T22:59:59Z", false), // still the 24th locally
        ("2026-12-26T12:00:00Z", false), // Saturday
        ("2026-12-28T12:00:00Z", true),  // Monday again
    ] {
        clock.set(at(t));
        assert_eq!(faults(&chaos), want, "at {t}");
    }
    assert_eq!(skipped(&chaos, SkipReason::Blackout), 2);
    assert_eq!(skipped(&chaos, SkipReason::OutsideWindow), 1);
}

/// The status names the time zone the hours, days and dates are read in:
/// UTC unless `timezone` says otherwise (the seed's file sets none).
#[test]
fn the_status_names_the_time_zone_in_effect() {
    let clock = ManualClock::new(at("2026-11-25T10:00:00Z"));
    let zone = |g: Guardrails| engine(&clock, g, always("r")).status().guard.unwrap().timezone;
    assert_eq!(zone(Guardrails::new().allowed_hours("09:00-16:00")), "UTC");
    assert_eq!(zone(Guardrails::new().allowed_hours("09:00-16:00").timezone("Europe/Berlin")), "Europe/Berlin");
}

#[test]
fn arm_after_keeps_start_up_quiet() {
    let clock = ManualClock::new(at("2026-11-25T10:00:00Z"));
    let chaos = engine(&clock, Guardrails::new().arm_after(Duration::from_secs(60)), always("r"));
    clock.advance(Duration::from_secs(59));
    assert!(!faults(&chaos));
    clock.advance(Duration::from_secs(1));
    assert!(faults(&chaos));
    assert_eq!(skipped(&chaos, SkipReason::NotArmed), 1);
}

#[test]
fn cron_schedules_are_active_for_their_span_after_each_firing() {
    // The seed's CronJob: every 10 minutes, 9 to 17, Monday to Friday; active 5 minutes.
    let clock = ManualClock::new(at("2026-11-25T09:00:00Z")); // a Wednesday
    let rule = always("cron").schedule(Schedule::new("*/10 9-17 * * 1-5", Duration::from_secs(300)));
    let chaos = engine(&clock, Guardrails::new(), rule);
    for (t, want) in [
        ("2026-11-25T08:59:59Z", false),
        ("2026-11-25T09:00:00Z", true),
        ("2026-11-25T09:04:59Z", true),
        ("2026-11-25T09:05:00Z", false),
        ("2026-11-25T09:09:59Z", false),
        ("2026-11-25T09:10:00Z", true),
        ("2026-11-25T17:54:59Z", true),
        ("2026-11-25T17:55:00Z", false),
        ("2026-11-25T18:00:00Z", false),
        ("2026-11-28T10:00:00Z", false), // Saturday
    ] {
        clock.set(at(t));
        assert_eq!(faults(&chaos), want, "at {t}");
    }
    assert_eq!(skipped(&chaos, SkipReason::Schedule), 6);
}

#[test]
fn a_rule_with_for_stops_by_itself_and_restarts_with_the_switch() {
    let clock = ManualClock::new(at("2026-11-25T10:00:00Z"));
    let chaos = engine(&clock, Guardrails::new(), always("brief").active_for(Duration::from_secs(30 * 60)));
    clock.advance(Duration::from_secs(29 * 60 + 59));
    assert!(faults(&chaos));
    clock.advance(Duration::from_secs(1));
    assert!(!faults(&chaos));
    assert_eq!(skipped(&chaos, SkipReason::Expired), 1);
    chaos.set_enabled(false);
    chaos.set_enabled(true);
    assert!(faults(&chaos), "switching chaos on again restarts the rule's time");
}

/// A reload or update that keeps the rule's name keeps its `for` clock, as
/// it keeps its counters: the rule still stops 30 minutes after it was
/// first installed. A renamed rule starts afresh.
#[test]
fn a_kept_rules_for_clock_survives_an_update() {
    let clock = ManualClock::new(at("2026-11-25T10:00:00Z"));
    let rule = |name: &str| always(name).active_for(Duration::from_secs(30 * 60));
    let chaos = engine(&clock, Guardrails::new(), rule("brief"));
    clock.advance(Duration::from_secs(20 * 60));
    chaos.update(Config::new().guardrails(Guardrails::new()).rule(rule("brief"))).unwrap();
    clock.advance(Duration::from_secs(9 * 60));
    assert!(faults(&chaos), "29 minutes after the first installation");
    clock.advance(Duration::from_secs(60));
    assert!(!faults(&chaos), "30 minutes after the first installation, though 10 after the update");
    chaos.update(Config::new().guardrails(Guardrails::new()).rule(rule("brief-2"))).unwrap();
    assert!(faults(&chaos), "a new name, a new clock");
}

#[test]
fn excluded_calls_are_never_faulted() {
    let clock = ManualClock::new(at("2026-11-25T10:00:00Z"));
    let chaos = engine(
        &clock,
        Guardrails::new().exclude(Match::new().path("/health")).exclude(Match::new().name("payments.*")),
        always("all"),
    );
    let method = http::Method::GET;
    assert!(chaos.decide(&Target::new(Door::Http).method(&method).path("/health")).is_pass());
    assert!(chaos.decide(&Target::new(Door::Http).method(&method).path("/orders")).fault().is_some());
    assert!(chaos.decide(&Target::point("payments.charge")).is_pass());
    assert!(chaos.decide(&Target::point("orders.place")).fault().is_some());
    assert_eq!(skipped(&chaos, SkipReason::Excluded), 2);
}

#[test]
fn max_injections_over_all_rules() {
    let clock = ManualClock::new(at("2026-11-25T10:00:00Z"));
    let chaos = Chaos::builder()
        .clock(clock)
        .config(
            Config::new()
                .guardrails(Guardrails::new().max_injections(5))
                .rule(always("a").when(Match::new().name("a")))
                .rule(always("b")),
        )
        .build()
        .unwrap();
    let n =
        (0..20).filter(|i| chaos.decide(&Target::point(if i % 2 == 0 { "a" } else { "b" })).fault().is_some()).count();
    assert_eq!(n, 5);
    let status = chaos.status();
    assert_eq!(status.guard.as_ref().unwrap().skipped(SkipReason::CapInjections), 15);
    assert_eq!(status.guard.unwrap().injections, 5);
}

#[test]
fn invalid_guardrails_name_the_field_and_value() {
    let cases: Vec<(Guardrails, &str, &str)> = vec![
        (Guardrails::new().allowed_hours("9-5"), "guardrails.allowed_hours", "9-5"),
        (Guardrails::new().allowed_hours("09:00-25:00"), "guardrails.allowed_hours", "25:00"),
        (Guardrails::new().allowed_days(["Funday"]), "guardrails.allowed_days", "Funday"),
        (Guardrails::new().blackout_date("2026-13-01"), "guardrails.blackout_dates", "2026-13-01"),
        (Guardrails::new().timezone("Mars/Olympus"), "guardrails.timezone", "Mars/Olympus"),
        (Guardrails::new().max_percentage_affected(150.0), "guardrails.max_percentage_affected", "150"),
        (Guardrails::new().max_active_faults(0), "guardrails.max_active_faults", "0"),
        (
            Guardrails::new().abort_condition(AbortCondition::error_rate(5.0)),
            "guardrails.abort_conditions[0].threshold",
            "5",
        ),
        // It trips above the threshold: at 1.0, never.
        (
            Guardrails::new().abort_condition(AbortCondition::error_rate(1.0)),
            "guardrails.abort_conditions[0].threshold",
            "= \"1\": ",
        ),
        (Guardrails::new().exclude(Match::new().method("GE T")), "guardrails.exclude[0].method", "GE T"),
        // An exclusion with no condition would exclude every call.
        (
            Guardrails::new().exclude(Match::new().path("/health")).exclude(Match::new()),
            "guardrails.exclude[1]",
            "matches every call",
        ),
        // Accepted once, and silently never (or always) applying:
        (Guardrails::new().allowed_hours("24:00-06:00"), "guardrails.allowed_hours", "24:00-06:00"),
        (Guardrails::new().blackout_date("2026-12-24T23:00:00+05:00"), "guardrails.blackout_dates", "T23:00"),
        (Guardrails::new().blackout_date("20261224"), "guardrails.blackout_dates", "20261224"),
        (Guardrails::new().cooldown(Duration::ZERO), "guardrails.cooldown", "0s"),
        (Guardrails::new().window(Duration::from_millis(9)), "guardrails.window", "9ms"),
        (Guardrails::new().min_samples(0), "guardrails.min_samples", "0"),
        (
            Guardrails::new().abort_condition(AbortCondition::latency_p99(Duration::from_secs(2 * 3600))),
            "guardrails.abort_conditions[0].threshold",
            "must be under",
        ),
    ];
    for (g, field, value) in cases {
        let err = Chaos::new(Config::new().guardrails(g.clone()).rule(always("r")))
            .map(|_| ())
            .expect_err(&format!("{g:?} must be rejected"));
        let msg = err.to_string();
        assert!(msg.contains(field) && msg.contains(value), "{msg} should name {field} and {value}");
    }
    let err =
        Chaos::new(Config::new().rule(always("r").schedule(Schedule::new("61 * * * *", Duration::from_secs(60)))))
            .unwrap_err();
    assert!(err.to_string().contains("schedule.cron") && err.to_string().contains("61 * * * *"), "{err}");
    // A cron that parses but that no date matches would never fire (and
    // would have every call search for its next firing until year 5000).
    let err =
        Chaos::new(Config::new().rule(always("r").schedule(Schedule::new("0 0 30 2 *", Duration::from_secs(60)))))
            .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("schedule.cron") && msg.contains("0 0 30 2 *") && msg.contains("never fires"), "{msg}");
    // A seventh field, a year, which croner reads by default: once the
    // year has passed, every call would search until year 5000 for the
    // next firing. Five or six fields (seconds first) only.
    for cron in ["0 0 9 * * * 2999", "0 0 9 * * * *"] {
        let err = Chaos::new(Config::new().rule(always("r").schedule(Schedule::new(cron, Duration::from_secs(60)))))
            .map(|_| ())
            .expect_err(cron);
        let msg = err.to_string();
        assert!(msg.contains("schedule.cron") && msg.contains(cron) && msg.contains("year"), "{msg}");
    }
    for cron in ["0 9 * * 1-5", "30 0 9 * * 1-5", "@daily"] {
        Chaos::new(Config::new().rule(always("r").schedule(Schedule::new(cron, Duration::from_secs(60)))))
            .unwrap_or_else(|e| panic!("{cron}: {e}"));
    }
    // A rule's `for` of zero would be over before its first call, and an
    // active span beyond the dates the cron search covers never active.
    let err = Chaos::new(Config::new().rule(always("r").active_for(Duration::ZERO))).unwrap_err();
    assert!(err.to_string().contains("for") && err.to_string().contains("0s"), "{err}");
    let err = Chaos::new(
        Config::new().rule(always("r").schedule(Schedule::new("0 9 * * *", Duration::from_secs(1000 * 366 * 86_400)))),
    )
    .unwrap_err();
    assert!(err.to_string().contains("schedule.active") && err.to_string().contains("100 years"), "{err}");
    // The edges that stay valid: a span ending at 24:00, a p99 limit of an
    // hour, error rates of 0 and just under 1.
    Chaos::new(
        Config::new()
            .guardrails(
                Guardrails::new()
                    .allowed_hours("18:00-24:00")
                    .abort_condition(AbortCondition::latency_p99(Duration::from_secs(3600)))
                    .abort_condition(AbortCondition::error_rate(0.0))
                    .abort_condition(AbortCondition::error_rate(0.999)),
            )
            .rule(always("r")),
    )
    .expect("valid edges");
    // One that fires only in leap years is valid.
    Chaos::new(Config::new().rule(always("r").schedule(Schedule::new("0 0 29 2 *", Duration::from_secs(60)))))
        .expect("29 February exists");
    // The seed's file shape deserializes, latency in milliseconds included.
    let seed: Config = serde_json::from_value(serde_json::json!({
        "guardrails": {
            "allowed_hours": "09:00-16:00",
            "allowed_days": ["Monday", "Tuesday", "Wednesday", "Thursday"],
            "blackout_dates": ["2026-12-24", "2026-12-25"],
            "max_percentage_affected": 10,
            "abort_conditions": [
                { "metric": "error_rate", "threshold": 0.05 },
                { "metric": "latency_p99", "threshold": 5000 }
            ]
        },
        "rules": [{ "name": "r", "abort": { "status": 503, "percentage": 5 } }]
    }))
    .unwrap();
    Chaos::new(seed).unwrap();
}

/// Sends `n` requests from `workers` clients; returns how many were faulted
/// (carry `x-mischief-rule`).
async fn load(url: &str, n: usize, workers: usize) -> usize {
    let c = client();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (c, url) = (c.clone(), url.to_owned());
        tasks.spawn(async move {
            let mut faulted = 0;
            for _ in 0..n / workers {
                let res = c.get(format!("{url}/work")).send().await.unwrap();
                faulted += usize::from(res.headers().contains_key("x-mischief-rule"));
            }
            faulted
        });
    }
    let mut faulted = 0;
    while let Some(r) = tasks.join_next().await {
        faulted += r.unwrap();
    }
    faulted
}

#[test]
fn the_share_cap_holds_exactly_when_threads_race_for_the_last_fault() {
    // The clock stands still, so every call stays in the window. After any
    // number of calls from any number of threads, the faults are at most a
    // tenth of the calls; and the last fault the share allows was taken,
    // so they are at least a tenth less one.
    let clock = ManualClock::new(at("2026-11-25T12:00:00Z"));
    let chaos = engine(&clock, Guardrails::new().max_percentage_affected(10.0), always("r"));
    let (threads, per_thread) = (4_u64, 25_000_u64);
    let faulted: u64 = std::thread::scope(|s| {
        let workers: Vec<_> =
            (0..threads).map(|_| s.spawn(|| (0..per_thread).filter(|_| faults(&chaos)).count() as u64)).collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let calls = threads * per_thread;
    assert_eq!(chaos.status().guard.unwrap().calls_seen, calls);
    assert!(faulted * 10 <= calls, "{faulted} faults in {calls} calls: over the 10% cap");
    assert!(faulted * 10 + 10 >= calls, "{faulted} faults in {calls} calls: the cap held back more than it must");
}

#[test]
fn the_share_cap_allows_exactly_its_share() {
    // The clock stands still: every call is in the window, and after the
    // k-th call the faults are floor(cap * k / 100), the most the cap
    // allows. In floating point 0.29 * 100.0 is 28.999999999999996 (and
    // 0.57 * 100.0 is 56.99999999999999), which let through one fault
    // fewer; and 0.29% of 10,000 calls is 29 faults, where the binary
    // value of 0.29 (a little under it) would allow 28.
    let cases = [(29.0, 100, 29), (57.0, 100, 57), (12.5, 8, 1), (0.29, 10_000, 29), (0.1, 999, 0), (100.0, 50, 50)];
    for (cap, calls, want) in cases {
        let clock = ManualClock::new(at("2026-11-25T12:00:00Z"));
        let chaos = engine(&clock, Guardrails::new().max_percentage_affected(cap), always("r"));
        let faulted = (0..calls).filter(|_| faults(&chaos)).count();
        assert_eq!(faulted, want, "a cap of {cap}% over {calls} calls");
        assert_eq!(skipped(&chaos, SkipReason::CapPercentage), (calls - want) as u64);
    }
}

#[test]
fn the_share_cap_counts_only_the_window_after_a_quiet_spell() {
    // 10% of the last 10 s. A thousand calls no rule faults, then a minute
    // without any: none of them is in the window any more. Of the next 20
    // calls, all faulted by the rule, at most 2 may be faulted; counting
    // the old calls would let all 20 through.
    let clock = ManualClock::new(at("2026-11-25T12:00:00Z"));
    let guardrails = Guardrails::new().max_percentage_affected(10.0).window(Duration::from_secs(10));
    let chaos = engine(&clock, guardrails, always("r").when(Match::new().name("svc")));
    for _ in 0..1000 {
        assert!(chaos.decide(&Target::new(Door::Service).name("other")).is_pass());
    }
    clock.advance(Duration::from_secs(60));
    let faulted = (0..20).filter(|_| faults(&chaos)).count();
    assert!(faulted <= 2, "{faulted} of 20 calls faulted under a 10% cap");
    // And the cap still lets faults through as the window's calls grow.
    for _ in 0..100 {
        clock.advance(Duration::from_millis(20));
        faults(&chaos);
    }
    let g = chaos.status().guard.unwrap();
    assert!(g.injections >= 8, "the cap stopped faults altogether: {g:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_percentage_affected_holds_a_fifty_percent_rule_to_ten() {
    let chaos = Chaos::new(
        Config::new()
            .guardrails(Guardrails::new().max_percentage_affected(10.0).window(Duration::from_secs(60)))
            .rule(Rule::new("half").abort(Abort::status(503).percentage(50.0))),
    )
    .unwrap();
    let url = serve(Router::new().route("/work", get(|| async { "ok" })).layer(ChaosLayer::new(chaos.clone()))).await;
    let n = 4000;
    let faulted = load(&url, n, 8).await;
    // All in the window's first 30 s: the cap is exact (checked under a
    // lock), so at most n / 10 faults. And it limits faults without
    // stopping them: one more fault is allowed every 10 calls, and the rule
    // takes it within a few calls (each faults with p = 1/2), so the count
    // trails n / 10 by a handful; trailing by 20 has a probability of
    // about (0.1 / 0.5)^20, 1e-14.
    assert!(faulted <= n / 10, "{faulted} of {n} calls faulted under a 10% cap");
    assert!(faulted >= n / 10 - 20, "the cap limits faults, it does not stop them: {faulted} of {n}");
    let g = chaos.status().guard.unwrap();
    assert_eq!(g.calls_seen, n as u64);
    assert!(g.skipped(SkipReason::CapPercentage) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_active_faults_allows_two_in_flight() {
    let chaos = Chaos::new(
        Config::new()
            .guardrails(Guardrails::new().max_active_faults(2))
            .rule(Rule::new("slow").delay(Delay::fixed(Duration::from_millis(1000)).percentage(100.0))),
    )
    .unwrap();
    let t0 = Instant::now();
    // The handler reconstructs each delayed request's fault interval from
    // when it entered the server (stamped by a layer outside the chaos
    // layer) and when it reached the handler: measured on the server, so a
    // client's slow connection cannot pass for a delay.
    #[derive(Clone, Copy)]
    struct Entered(u64);
    let intervals = Arc::new(std::sync::Mutex::new(Vec::<(u64, u64)>::new()));
    let recorded = intervals.clone();
    let app = Router::new()
        .route(
            "/work",
            get(move |req: axum::extract::Request| {
                let recorded = recorded.clone();
                async move {
                    let Entered(entered) = *req.extensions().get::<Entered>().unwrap();
                    let arrived = t0.elapsed().as_millis() as u64;
                    if arrived - entered >= 900 {
                        recorded.lock().unwrap().push((entered, arrived));
                    }
                    "ok"
                }
            }),
        )
        .layer(ChaosLayer::new(chaos.clone()))
        .layer(axum::middleware::map_request(move |mut req: axum::extract::Request| async move {
            req.extensions_mut().insert(Entered(t0.elapsed().as_millis() as u64));
            req
        }));
    let url = serve(app).await;
    let c = client();
    let mut tasks = tokio::task::JoinSet::new();
    let gauge_max = Arc::new(AtomicU64::new(0));
    for _ in 0..20 {
        let (c, url) = (c.clone(), url.clone());
        tasks.spawn(async move { c.get(format!("{url}/work")).send().await.unwrap().status() });
    }
    let sampler = {
        let (chaos, gauge_max) = (chaos.clone(), gauge_max.clone());
        tokio::spawn(async move {
            for _ in 0..120 {
                let active = chaos.status().guard.unwrap().active_faults;
                gauge_max.fetch_max(active, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.unwrap(), StatusCode::OK);
    }
    sampler.await.unwrap();
    let intervals = intervals.lock().unwrap().clone();
    assert!(!intervals.is_empty(), "some requests must have been delayed");
    let overlap =
        intervals.iter().map(|(s, _)| intervals.iter().filter(|(s2, e2)| s2 <= s && s < e2).count()).max().unwrap();
    assert!(overlap <= 2, "{overlap} delayed requests overlapped: {intervals:?}");
    let g = chaos.status().guard.unwrap();
    assert_eq!(g.active_faults_peak, 2, "the gauge's high-water mark");
    assert!(gauge_max.load(Ordering::SeqCst) <= 2);
    assert_eq!(g.active_faults, 0, "every slot was released");
    assert_eq!(g.skipped(SkipReason::CapActive), 20 - intervals.len() as u64);
}

/// A service that starts failing on its own (every 5th request: 20%) or
/// getting slow when told to; the rule injects 503s into 10% of calls.
async fn service_that_degrades(guardrails: Guardrails) -> (Chaos, String, Arc<AtomicBool>) {
    let chaos = Chaos::new(
        Config::new().guardrails(guardrails).rule(Rule::new("ten").abort(Abort::status(503).percentage(10.0))),
    )
    .unwrap();
    let broken = Arc::new(AtomicBool::new(false));
    let n = Arc::new(AtomicU64::new(0));
    let b = broken.clone();
    let app = Router::new()
        .route(
            "/work",
            get(move || {
                let (b, n) = (b.clone(), n.clone());
                async move {
                    let i = n.fetch_add(1, Ordering::SeqCst);
                    if b.load(Ordering::SeqCst) && i % 5 == 0 {
                        return Err(StatusCode::INTERNAL_SERVER_ERROR);
                    }
                    Ok("ok")
                }
            }),
        )
        .layer(ChaosLayer::new(chaos.clone()));
    (chaos, serve(app).await, broken)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_rate_trips_within_a_window_and_injection_stops() {
    let window = Duration::from_secs(2);
    let (chaos, url, broken) = service_that_degrades(
        Guardrails::new().window(window).min_samples(50).abort_condition(AbortCondition::error_rate(0.05)),
    )
    .await;
    // Healthy: faults are injected and the guard holds.
    assert!(load(&url, 400, 8).await > 0);
    assert!(chaos.status().guard.unwrap().tripped.is_none());

    broken.store(true, Ordering::SeqCst);
    let broke_at = Instant::now();
    // A generous bound (it matters only when the test fails): the trip
    // comes within a window's load on an idle machine.
    let deadline = broke_at + window * 15;
    while chaos.status().guard.unwrap().tripped.is_none() {
        assert!(Instant::now() < deadline, "no trip within fifteen windows");
        load(&url, 40, 4).await;
    }
    let trip = chaos.status().guard.unwrap().tripped.unwrap();
    assert_eq!(trip.metric, Metric::ErrorRate);
    assert_eq!(trip.threshold, "0.05");
    // Tripped: nothing is injected any more.
    assert_eq!(load(&url, 400, 8).await, 0);
    assert!(chaos.status().guard.unwrap().skipped(SkipReason::Tripped) > 0);

    // Re-armed (and healthy again): injection resumes.
    broken.store(false, Ordering::SeqCst);
    chaos.rearm();
    assert!(load(&url, 400, 8).await > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_p99_trips_when_the_service_gets_slow() {
    let chaos = Chaos::new(
        Config::new()
            .guardrails(
                Guardrails::new()
                    .window(Duration::from_secs(4))
                    .min_samples(30)
                    .abort_condition(AbortCondition::latency_p99(Duration::from_millis(500))),
            )
            .rule(Rule::new("ten").abort(Abort::status(503).percentage(10.0))),
    )
    .unwrap();
    let slow = Arc::new(AtomicBool::new(false));
    let s = slow.clone();
    let app = Router::new()
        .route(
            "/work",
            get(move || {
                let s = s.clone();
                async move {
                    if s.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(800)).await;
                    }
                    "ok"
                }
            }),
        )
        .layer(ChaosLayer::new(chaos.clone()));
    let url = serve(app).await;
    // Healthy: 300 fast calls hold the 500 ms limit (a call waits that long
    // only if the machine stalls; 1% of them would have to).
    assert!(load(&url, 300, 8).await > 0);
    assert!(chaos.status().guard.unwrap().tripped.is_none());
    slow.store(true, Ordering::SeqCst);
    let slow_at = Instant::now();
    while chaos.status().guard.unwrap().tripped.is_none() {
        // A bound that matters only when the test fails: a few slow calls
        // (1% of the window) trip it on an idle machine.
        assert!(slow_at.elapsed() < Duration::from_secs(60), "no trip within 60 s");
        load(&url, 16, 8).await;
    }
    let trip = chaos.status().guard.unwrap().tripped.unwrap();
    assert_eq!((trip.metric, trip.threshold.as_str()), (Metric::LatencyP99, "500ms"));
    slow.store(false, Ordering::SeqCst);
    assert_eq!(load(&url, 80, 8).await, 0, "nothing injected once tripped");
}

/// A call that is only delayed still reaches the service, and its outcome
/// is the service's own: the abort conditions count it. With a rule that
/// delays every call (as `CHAOS_LATENCY_MS` does), a service failing one
/// call in five trips the 5% error-rate condition. (Before, a delayed call
/// counted as faulted and was never measured, so such a guard had no
/// samples and could never trip.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_calls_count_for_the_error_rate() {
    let chaos = Chaos::new(
        Config::new()
            .guardrails(
                Guardrails::new()
                    .window(Duration::from_secs(2))
                    .min_samples(30)
                    .abort_condition(AbortCondition::error_rate(0.05)),
            )
            .rule(Rule::new("slow").delay(Delay::fixed(Duration::from_millis(5)).percentage(100.0))),
    )
    .unwrap();
    let n = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route(
            "/work",
            get(move || {
                let n = n.clone();
                async move {
                    if n.fetch_add(1, Ordering::SeqCst).is_multiple_of(5) {
                        return Err(StatusCode::INTERNAL_SERVER_ERROR);
                    }
                    Ok("ok")
                }
            }),
        )
        .layer(ChaosLayer::new(chaos.clone()));
    let url = serve(app).await;
    let started = Instant::now();
    while chaos.status().guard.unwrap().tripped.is_none() {
        let window = chaos.status().guard.unwrap().window.unwrap();
        // A bound that matters only when the test fails.
        assert!(started.elapsed() < Duration::from_secs(30), "no trip within fifteen windows: {window:?}");
        load(&url, 40, 4).await;
    }
    let trip = chaos.status().guard.unwrap().tripped.unwrap();
    assert_eq!(trip.metric, Metric::ErrorRate);
    assert!(chaos.status().rule("slow").unwrap().delayed >= 30);
}

/// A delayed call's latency is timed from the end of its delay: the
/// service's own, not the wait mischief added. Every call here waits
/// 500 ms and the service answers at once, so a 400 ms p99 condition holds,
/// though every call is measured (the generic layer's door).
#[tokio::test]
async fn a_delayed_call_is_timed_without_its_delay() {
    use tower::{ServiceExt, service_fn};
    let chaos = Chaos::new(watching_delayed(Rule::new("slow"))).unwrap();
    let svc = tower::Layer::layer(
        &mischief::service::ChaosLayer::new(chaos.clone(), "db"),
        service_fn(|fail: bool| async move { if fail { Err(std::io::Error::other("down")) } else { Ok(()) } }),
    );
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..40 {
        calls.spawn(svc.clone().oneshot(i % 4 == 0));
    }
    let mut failed = 0;
    while let Some(res) = calls.join_next().await {
        failed += usize::from(res.unwrap().is_err());
    }
    assert!(started.elapsed() >= support::INJECTED_DELAY, "the calls were delayed");
    assert_eq!(failed, 10);
    let guard = chaos.status().guard.unwrap();
    let window = guard.window.as_ref().unwrap();
    assert_eq!((window.calls, window.errors), (40, 10), "every delayed call measured, its own errors counted");
    let limit_ms = support::P99_LIMIT.as_secs_f64() * 1e3;
    assert!(window.latency_p99_ms.is_some_and(|p99| p99 < limit_ms), "timed without the delay: {window:?}");
    assert!(guard.tripped.is_none(), "injected delay is not the service's latency: {guard:?}");
}

#[test]
fn a_cooldown_rearms_by_itself() {
    let clock = ManualClock::new(at("2026-11-25T10:00:00Z"));
    let chaos = Chaos::builder()
        .clock(clock.clone())
        .config(
            Config::new()
                .guardrails(
                    Guardrails::new()
                        .window(Duration::from_secs(10))
                        .min_samples(10)
                        .cooldown(Duration::from_secs(60))
                        .abort_condition(AbortCondition::error_rate(0.5)),
                )
                .rule(always("r").when(Match::new().name("faulty"))),
        )
        .build()
        .unwrap();
    // The service's own calls (not matched by the rule) fail through the
    // service layer; the guard sees them.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use tower::{ServiceExt, service_fn};
        let svc = tower::Layer::layer(
            &mischief::service::ChaosLayer::new(chaos.clone(), "db"),
            service_fn(|fail: bool| async move { if fail { Err(std::io::Error::other("down")) } else { Ok(()) } }),
        );
        for _ in 0..20 {
            let _ = svc.clone().oneshot(true).await;
            clock.advance(Duration::from_millis(100));
        }
    });
    let status = chaos.status().guard.unwrap();
    assert!(status.tripped.is_some(), "{status:?}");
    assert!(chaos.decide(&Target::point("faulty")).is_pass(), "{status:?}");
    let tripped_at: mischief::guard::jiff::Timestamp = status.tripped.unwrap().at.parse().unwrap();
    clock.set(tripped_at + Duration::from_millis(59_999));
    assert!(chaos.decide(&Target::point("faulty")).is_pass());
    clock.set(tripped_at + Duration::from_secs(60));
    assert!(chaos.decide(&Target::point("faulty")).fault().is_some(), "re-armed after the cooldown");
    assert!(chaos.status().guard.unwrap().tripped.is_none());
}

/// Once the cooldown has passed, the status shows the guard re-armed, though
/// no rule has tried to inject since (the trip is lifted when either looks).
#[test]
fn the_status_shows_the_rearm_once_the_cooldown_has_passed() {
    let clock = ManualClock::new(at("2026-11-25T10:00:00Z"));
    let guardrails = Guardrails::new()
        .window(Duration::from_secs(10))
        .min_samples(10)
        .cooldown(Duration::from_secs(60))
        .abort_condition(AbortCondition::error_rate(0.5));
    let chaos = engine(&clock, guardrails, always("r").when(Match::new().name("faulty")));
    service_calls(&chaos, &clock, 20, true);
    let tripped = chaos.status().guard.unwrap().tripped.expect("tripped");
    let tripped_at: mischief::guard::jiff::Timestamp = tripped.at.parse().unwrap();
    clock.set(tripped_at + Duration::from_millis(59_999));
    assert!(chaos.status().guard.unwrap().tripped.is_some(), "the cooldown has not passed");
    clock.set(tripped_at + Duration::from_secs(60));
    let guard = chaos.status().guard.unwrap();
    assert!(guard.tripped.is_none(), "re-armed after the cooldown: {guard:?}");
    assert!(chaos.decide(&Target::point("faulty")).fault().is_some());
}

/// Every call the abort conditions watch is recorded exactly once: when its
/// future ends on the thread that decided it (from that thread's plan
/// cache), on another thread (the engine is looked up), and on the deciding
/// thread after its cache moved on to a newer plan (looked up too).
#[test]
fn observed_calls_are_recorded_once_wherever_they_end() {
    use tower::Layer;

    let watched = || {
        Config::new()
            .guardrails(
                Guardrails::new()
                    .window(Duration::from_secs(600))
                    .min_samples(1_000_000)
                    .abort_condition(AbortCondition::error_rate(0.99)),
            )
            .rule(Rule::new("zero").abort(Abort::status(503).percentage(0.0)))
    };
    let chaos = Chaos::new(watched()).unwrap();
    // Fails the calls whose number is a multiple of 3.
    let inner = tower::service_fn(|n: u64| {
        std::future::ready(if n.is_multiple_of(3) {
            Err::<u64, mischief::BoxError>("inner failure".into())
        } else {
            Ok(n)
        })
    });
    let mut svc = mischief::service::ChaosLayer::new(chaos.clone(), "svc").layer(inner);
    let mut errors = 0;
    // On the deciding thread.
    for n in 0..30 {
        errors += u64::from(ends_in_error(call_now(&mut svc, n)));
    }
    // Decided here, ended on a thread that never decided anything.
    let futures: Vec<_> = (30..60).map(|n| call_now(&mut svc, n)).collect();
    let failed = std::thread::spawn(move || futures.into_iter().map(ends_in_error).filter(|&f| f).count());
    errors += failed.join().unwrap() as u64;
    // Decided under one plan, ended after this thread moved to the next (a
    // call decided after the reload refreshes its cache).
    let pending: Vec<_> = (60..90).map(|n| call_now(&mut svc, n)).collect();
    chaos.update(watched()).unwrap();
    assert!(!ends_in_error(call_now(&mut svc, 91)));
    for fut in pending {
        errors += u64::from(ends_in_error(fut));
    }
    assert_eq!(errors, 30, "every third call failed");
    let window = chaos.status().guard.unwrap().window.expect("the window of an engine with abort conditions");
    assert_eq!((window.calls, window.errors), (91, 30));
}

/// Calls decided under a strict abort condition and ended after it was
/// relaxed are judged by the relaxed one, though the deciding thread's
/// cache still holds the strict plan; the same calls without the update
/// trip the strict one.
#[test]
fn outcomes_are_judged_by_the_installed_plan() {
    for relax in [false, true] {
        // 100 ms per call, so that the conditions are judged at every call
        // (they are at most once per 100 ms).
        let clock = ManualClock::new(at("2026-11-25T10:00:00Z"));
        let chaos = Chaos::builder().clock(clock.clone()).config(watching(0.1)).build().unwrap();
        let mut svc = half_failing(&chaos);
        let pending: Vec<_> = (0..40).map(|n| call_now(&mut svc, n)).collect();
        if relax {
            chaos.update(watching(0.99)).unwrap();
        }
        let mut failed = 0;
        for fut in pending {
            clock.advance(Duration::from_millis(100));
            failed += usize::from(ends_in_error(fut));
        }
        assert_eq!(failed, 20);
        let guard = chaos.status().guard.unwrap();
        assert_eq!(guard.window.as_ref().map(|w| w.calls), Some(40), "every call is recorded");
        assert_eq!(guard.tripped.is_some(), !relax, "relaxed: {relax}; {guard:?}");
    }
}

/// An engine on `clock` whose abort condition trips at an error rate over
/// 50% of at least 10 calls in 10 s (no cooldown), with one always-aborting
/// rule for points named `faulty`.
fn tripping_engine(clock: &ManualClock) -> Chaos {
    let guardrails = Guardrails::new()
        .window(Duration::from_secs(10))
        .min_samples(10)
        .abort_condition(AbortCondition::error_rate(0.5));
    engine(clock, guardrails, always("r").when(Match::new().name("faulty")))
}

/// `n` calls of the service's own through the generic layer (not matched by
/// the rule, so the guard watches them), failing or not, 100 ms apart.
fn service_calls(chaos: &Chaos, clock: &ManualClock, n: usize, fail: bool) {
    use tower::{ServiceExt, service_fn};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let svc = tower::Layer::layer(
            &mischief::service::ChaosLayer::new(chaos.clone(), "db"),
            service_fn(|fail: bool| async move { if fail { Err(std::io::Error::other("down")) } else { Ok(()) } }),
        );
        for _ in 0..n {
            let _ = svc.clone().oneshot(fail).await;
            clock.advance(Duration::from_millis(100));
        }
    });
}

#[test]
fn abort_conditions_are_judged_after_the_clock_steps_back() {
    let clock = ManualClock::new(at("2026-11-25T10:00:00Z"));
    let chaos = tripping_engine(&clock);
    service_calls(&chaos, &clock, 1, false);
    // The wall clock is stepped back an hour (NTP, an operator): the
    // conditions must not wait an hour to be judged again.
    clock.set(at("2026-11-25T09:00:00Z"));
    service_calls(&chaos, &clock, 20, true);
    assert!(chaos.status().guard.unwrap().tripped.is_some(), "{:?}", chaos.status().guard);
}

#[test]
fn a_configuration_without_abort_conditions_lifts_a_trip() {
    let clock = ManualClock::new(at("2026-11-25T10:00:00Z"));
    let chaos = tripping_engine(&clock);
    service_calls(&chaos, &clock, 20, true);
    assert!(chaos.status().guard.unwrap().tripped.is_some());
    assert!(chaos.decide(&Target::point("faulty")).is_pass(), "tripped: nothing injected");
    // A new configuration that still has abort conditions (an edit to the
    // watched file, say) leaves the trip in force, as the docs say.
    let judged = Guardrails::new().min_samples(10).abort_condition(AbortCondition::error_rate(0.9));
    chaos.update(Config::new().guardrails(judged).rule(always("r2").when(Match::new().name("faulty")))).unwrap();
    assert!(chaos.status().guard.unwrap().tripped.is_some(), "the trip outlives the update");
    assert!(chaos.decide(&Target::point("faulty")).is_pass(), "still tripped: nothing injected");
    // The new configuration has no guardrails: nothing could lift the trip
    // any more, and no guard status would show it.
    chaos.update(Config::new().rule(always("r").when(Match::new().name("faulty")))).unwrap();
    assert!(chaos.decide(&Target::point("faulty")).fault().is_some(), "injection resumes");
}

#[test]
fn the_share_cap_is_strict_at_the_window_edge_and_after_the_clock_steps_back() {
    let guardrails = || Guardrails::new().max_percentage_affected(10.0).window(Duration::from_secs(10));
    // Calls from half a second into the window's first bucket: the window
    // has moved past them 10.3 s later, and a checkpoint from before them
    // must not let them count.
    let clock = ManualClock::new(at("2026-11-25T12:00:00Z"));
    let chaos = engine(&clock, guardrails(), always("r").when(Match::new().name("svc")));
    clock.advance(Duration::from_millis(500));
    for _ in 0..1000 {
        assert!(chaos.decide(&Target::new(Door::Service).name("other")).is_pass());
    }
    clock.advance(Duration::from_millis(10_300));
    let faulted = (0..20).filter(|_| faults(&chaos)).count();
    // The window's calls are counted the strict way, from the checkpoint
    // the first of the 20 takes (itself included): the 10th call is the
    // first whose fault keeps the share at 10%, and the 20th the next.
    // (Counted from before the 1000, all 20 would have faulted.)
    assert_eq!(faulted, 2, "at the window's edge: {faulted} of 20 calls faulted under a 10% cap");

    // The clock steps back an hour, then the same: the checkpoints taken
    // before the step must not stretch the window over the calls.
    let clock = ManualClock::new(at("2026-11-25T12:00:00Z"));
    let chaos = engine(&clock, guardrails(), always("r").when(Match::new().name("svc")));
    faults(&chaos);
    clock.set(at("2026-11-25T11:00:00Z"));
    for _ in 0..1000 {
        assert!(chaos.decide(&Target::new(Door::Service).name("other")).is_pass());
    }
    clock.advance(Duration::from_secs(60));
    let faulted = (0..20).filter(|_| faults(&chaos)).count();
    // As above: the checkpoints start over at the step, and the 20 calls
    // are counted from the first of them.
    assert_eq!(faulted, 2, "after the step: {faulted} of 20 calls faulted under a 10% cap");
}

/// A call after a quiet spell longer than the window is the only call in
/// it: a cap of 100 lets its fault through (it skips nothing), a cap of 50
/// does not (one fault in one call is 100%), and with two calls in the
/// window a cap of 50 allows one fault.
#[test]
fn a_lone_call_after_a_quiet_spell_is_its_own_window() {
    let guardrails = |cap| Guardrails::new().max_percentage_affected(cap).window(Duration::from_secs(10));
    let clock = ManualClock::new(at("2026-11-25T12:00:00Z"));
    let chaos = engine(&clock, guardrails(100.0), always("r").when(Match::new().name("svc")));
    for i in 0..30 {
        clock.advance(Duration::from_secs(11));
        assert!(faults(&chaos), "call {i}, alone in its window, under a cap of 100");
    }
    let chaos = engine(&clock, guardrails(50.0), always("r").when(Match::new().name("svc")));
    for i in 0..10 {
        clock.advance(Duration::from_secs(11));
        assert!(!faults(&chaos), "call {i}: one fault in one call is over 50%");
        clock.advance(Duration::from_secs(1));
        assert!(faults(&chaos), "call {i}'s successor: one fault in two calls is 50%");
    }
}

/// A share cap added to a running engine measures from then on: the faults
/// injected while no cap was set (when calls were not counted) do not
/// weigh against the calls that follow.
#[test]
fn a_share_cap_added_later_measures_from_then_on() {
    let clock = ManualClock::new(at("2026-11-25T12:00:00Z"));
    let rule = || always("r").when(Match::new().name("svc"));
    let chaos = engine(&clock, Guardrails::new(), rule());
    assert_eq!((0..100).filter(|_| faults(&chaos)).count(), 100, "no cap yet");
    clock.advance(Duration::from_secs(1));
    let capped = Guardrails::new().max_percentage_affected(50.0).window(Duration::from_secs(30));
    chaos.update(Config::new().guardrails(capped).rule(rule())).unwrap();
    let faulted = (0..100).filter(|_| faults(&chaos)).count();
    assert_eq!(faulted, 50, "half of the calls since the cap came: {faulted}");
}

/// A cap of 100 keeps measuring the window, so a lower cap that replaces
/// it judges the calls since then, not every fault since the start.
#[test]
fn a_lower_cap_after_a_cap_of_100_measures_the_window() {
    let clock = ManualClock::new(at("2026-11-25T12:00:00Z"));
    let rule = || always("r").when(Match::new().name("svc"));
    let capped = |cap| Guardrails::new().max_percentage_affected(cap).window(Duration::from_secs(10));
    let chaos = engine(&clock, capped(100.0), rule());
    for _ in 0..100 {
        clock.advance(Duration::from_secs(1));
        assert!(faults(&chaos), "a cap of 100 skips nothing");
    }
    clock.advance(Duration::from_secs(11));
    chaos.update(Config::new().guardrails(capped(50.0)).rule(rule())).unwrap();
    let faulted = (0..100).filter(|_| faults(&chaos)).count();
    assert_eq!(faulted, 50, "half of the calls in the window: {faulted}");
}

/// The guard's skip counts are the guardrails': a rule's own `for`, with
/// no guardrails in force, counts its skips in the rule only, and they do
/// not show up under the guard once guardrails are added.
#[test]
fn a_rules_own_skips_without_guardrails_stay_out_of_the_guards_counts() {
    let clock = ManualClock::new(at("2026-11-25T12:00:00Z"));
    let rule = || always("r").when(Match::new().name("svc")).active_for(Duration::from_secs(1));
    let chaos = Chaos::builder().clock(clock.clone()).config(Config::new().rule(rule())).build().unwrap();
    clock.advance(Duration::from_secs(2));
    assert_eq!((0..5).filter(|_| faults(&chaos)).count(), 0, "expired");
    assert_eq!(chaos.status().rules[0].skipped, 5);
    chaos.update(Config::new().guardrails(Guardrails::new()).rule(rule())).unwrap();
    assert_eq!(chaos.status().guard.unwrap().skipped(SkipReason::Expired), 0);
}

/// The JSON of `status()`, as an admin endpoint serves it: the keys and the
/// types a dashboard reads. A change here is a change for every consumer.
#[test]
fn the_status_json_has_the_documented_shape() {
    let clock = ManualClock::new(at("2026-11-25T10:00:00Z"));
    let chaos = tripping_engine(&clock);
    service_calls(&chaos, &clock, 20, true);
    assert!(chaos.decide(&Target::point("faulty")).is_pass(), "tripped");
    let json = serde_json::to_value(chaos.status()).unwrap();
    let keys = |v: &serde_json::Value| {
        let mut keys = v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        keys.sort();
        keys
    };
    assert_eq!(keys(&json), ["enabled", "generation", "guard", "last_error", "loaded_at", "rules", "seed", "source"]);
    assert_eq!(
        keys(&json["rules"][0]),
        ["aborted", "delayed", "errored", "lost", "matched", "name", "partitioned", "rule", "skipped", "timed_out"]
    );
    let guard = &json["guard"];
    assert_eq!(
        keys(guard),
        ["active_faults", "active_faults_peak", "calls_seen", "injections", "skipped", "timezone", "tripped", "window"]
    );
    assert_eq!(guard["tripped"]["metric"], "error_rate");
    assert_eq!(guard["tripped"]["threshold"], "0.5");
    assert_eq!(guard["tripped"]["at"], "2026-11-25T10:00:00.900Z", "{guard}");
    assert_eq!(guard["skipped"], serde_json::json!({ "tripped": 1 }));
    assert_eq!(keys(&guard["window"]), ["calls", "error_rate", "errors", "latency_p99_ms"]);
    assert!(json["loaded_at"].as_str().unwrap().ends_with('Z'), "{}", json["loaded_at"]);
    assert_eq!(json["rules"][0]["rule"]["name"], "r");
}

/// A fault decided just before the kill switch went off, and cancelled
/// when its door confirms it, gives back the guardrails' `max_injections`
/// allowance it took, as the rule's: nothing was injected.
#[test]
fn a_cancelled_fault_gives_the_guardrails_allowance_back() {
    let clock = ManualClock::new(at("2026-11-25T10:00:00Z"));
    let chaos = engine(&clock, Guardrails::new().max_injections(1), always("r"));
    let target = Target::new(Door::Service).name("svc");
    let decided = chaos.decide(&target);
    assert!(decided.fault().is_some());
    chaos.set_enabled(false);
    assert!(decided.into_fault(&chaos).is_none(), "cancelled");
    chaos.set_enabled(true);
    assert!(chaos.decide(&target).into_fault(&chaos).is_some(), "the guardrails' one allowance came back");
    assert!(chaos.decide(&target).into_fault(&chaos).is_none(), "and is used now");
    assert_eq!(skipped(&chaos, SkipReason::CapInjections), 1);
}
