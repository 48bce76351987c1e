//! The cost of a fault point on a small function, against the same function
//! without it and with a fail-rs `fail_point!`, in one run:
//! `cargo bench --bench point`.
//!
//! Every variant is the same body behind `#[inline(never)]`, so each id
//! times one real call; only the point differs. The caller reads the result
//! with `.ok()` (the value and the discriminant), as real callers do;
//! copying the whole 48-byte `Result` into `black_box` instead makes the
//! copy's store-forwarding stalls, not the point, dominate some ids.

use std::hint::black_box;
use std::sync::LazyLock;

use criterion::{Criterion, criterion_group, criterion_main};
use mischief::config::{Abort, Config, Delay, Match, Rule};
use mischief::{Chaos, Door, InjectedFault, chaos};

#[derive(Debug)]
#[allow(dead_code)]
enum BenchError {
    Injected(InjectedFault),
    FailRs,
}

impl From<InjectedFault> for BenchError {
    fn from(fault: InjectedFault) -> Self {
        BenchError::Injected(fault)
    }
}

/// The body every variant shares.
#[inline(always)]
fn body(x: u64) -> Result<u64, BenchError> {
    Ok(x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17))
}

#[inline(never)]
fn baseline(x: u64) -> Result<u64, BenchError> {
    body(x)
}

/// The default handle, `Chaos::global()`, switched off.
#[inline(never)]
#[chaos(name = "bench.disabled")]
fn disabled(x: u64) -> Result<u64, BenchError> {
    body(x)
}

/// On, with rules for other points and other doors.
static ENABLED: LazyLock<Chaos> = LazyLock::new(|| {
    let abort = || Abort::status(503).percentage(50.0);
    let config = Config::new()
        .rule(Rule::new("payments").when(Match::new().door(Door::Point).name("payments.*")).abort(abort()))
        .rule(Rule::new("refunds").when(Match::new().name("*.refund")).abort(abort()))
        .rule(
            Rule::new("db")
                .when(Match::new().name("db.query"))
                .delay(Delay::fixed(std::time::Duration::from_millis(5)).percentage(10.0)),
        )
        .rule(Rule::new("api").when(Match::new().door(Door::Http).path_prefix("/api")).abort(abort()))
        .rule(
            Rule::new("matched-at-zero")
                .when(Match::new().name("bench.matched"))
                .abort(Abort::status(503).percentage(0.0)),
        );
    Chaos::new(config).expect("valid config")
});

#[inline(never)]
#[chaos(name = "bench.enabled", chaos = ENABLED)]
fn enabled_no_match(x: u64) -> Result<u64, BenchError> {
    body(x)
}

/// Selected by a rule at 0%: the cached rule is counted and never fires.
#[inline(never)]
#[chaos(name = "bench.matched", chaos = ENABLED)]
fn enabled_match_pass(x: u64) -> Result<u64, BenchError> {
    body(x)
}

#[inline(never)]
fn fail_rs(x: u64) -> Result<u64, BenchError> {
    fail::fail_point!("bench.fail_rs", |_| Err(BenchError::FailRs));
    body(x)
}

fn point(c: &mut Criterion) {
    Chaos::set_global(Chaos::disabled()).expect("the bench installs the global handle first");
    let mut group = c.benchmark_group("point");
    group.bench_function("baseline", |b| b.iter(|| baseline(black_box(7)).ok()));
    group.bench_function("disabled", |b| b.iter(|| disabled(black_box(7)).ok()));
    // Before timing: each id does what it is named for. The body's answer,
    // and the catch-all-at-zero rule counts the matched point only.
    let matched = || ENABLED.status().rule("matched-at-zero").map(|r| r.matched);
    assert_eq!(enabled_no_match(7).ok(), body(7).ok(), "enabled_no_match passes");
    assert_eq!(matched(), Some(0), "enabled_no_match is selected by no rule");
    assert_eq!(enabled_match_pass(7).ok(), body(7).ok(), "enabled_match_pass passes");
    assert_eq!(matched(), Some(1), "enabled_match_pass is selected by its rule");
    assert_eq!(disabled(7).ok(), body(7).ok(), "disabled passes");
    group.bench_function("enabled_no_match", |b| b.iter(|| enabled_no_match(black_box(7)).ok()));
    group.bench_function("enabled_match_pass", |b| b.iter(|| enabled_match_pass(black_box(7)).ok()));
    // fail-rs with its `failpoints` feature on and nothing configured.
    group.bench_function("fail_rs_idle", |b| b.iter(|| fail_rs(black_box(7)).ok()));
    // One unrelated failpoint configured ("off"): every point now takes the
    // registry's lock and looks its name up.
    fail::cfg("bench.unrelated", "off").expect("valid fail-rs action");
    group.bench_function("fail_rs_one_registered", |b| b.iter(|| fail_rs(black_box(7)).ok()));
    fail::remove("bench.unrelated");
    group.finish();
}

criterion_group!(benches, point);
criterion_main!(benches);
