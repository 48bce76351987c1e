//! Fault points at run time: `#[chaos]` and `chaos_point!` on real
//! functions, driven by real handles.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mischief::config::{Abort, Config, Delay, ErrorFault, Match, Rule, Timeout};
use mischief::{Chaos, Door, FaultKind, InjectedFault, chaos, chaos_point};

#[derive(Debug)]
enum PaymentError {
    Declined,
    Injected(InjectedFault),
}

impl From<InjectedFault> for PaymentError {
    fn from(fault: InjectedFault) -> Self {
        PaymentError::Injected(fault)
    }
}

fn handle(config: Config) -> Chaos {
    Chaos::new(config).expect("valid config")
}

fn always_abort(name: &str, when: Match) -> Rule {
    Rule::new(name).when(when).abort(Abort::status(503).message("injected").percentage(100.0))
}

/// Asserts that `hits` out of `n` trials is within 5 standard deviations of
/// a binomial with success probability `p`.
fn assert_binomial(hits: u64, n: u64, p: f64) {
    let (n, hits) = (n as f64, hits as f64);
    let sigma = (n * p * (1.0 - p)).sqrt();
    assert!((hits - n * p).abs() < 5.0 * sigma, "{hits} of {n} is more than 5 sigma ({sigma:.1}) from p = {p}");
}

#[chaos(name = "payments.charge", chaos = chaos)]
fn charge(chaos: &Chaos, cents: u64) -> Result<u64, PaymentError> {
    if cents == 0 {
        return Err(PaymentError::Declined);
    }
    Ok(cents)
}

#[chaos(name = "payments.charge", chaos = chaos)]
async fn charge_async(chaos: &Chaos, cents: u64) -> Result<u64, PaymentError> {
    if cents == 0 {
        return Err(PaymentError::Declined);
    }
    Ok(cents)
}

#[test]
fn abort_share_is_within_5_sigma() {
    let chaos = handle(Config::new().rule(
        Rule::new("flaky-payments").when(Match::new().name("payments.*")).abort(Abort::status(503).percentage(30.0)),
    ));
    let n = 20_000;
    let mut injected = 0;
    for _ in 0..n {
        match charge(&chaos, 100) {
            Ok(100) => {}
            Err(PaymentError::Injected(fault)) => {
                assert_eq!((fault.rule(), fault.kind()), ("flaky-payments", FaultKind::Abort));
                injected += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_binomial(injected, n, 0.3);
    let rule = &chaos.status().rules[0];
    assert_eq!((rule.matched, rule.aborted), (n, injected));
}

#[tokio::test]
async fn abort_share_of_an_async_fn_with_a_seed_is_within_5_sigma_and_repeats() {
    let run = || async {
        let chaos =
            handle(Config::new().seed(7).rule(
                Rule::new("flaky").when(Match::new().door(Door::Point)).abort(Abort::status(503).percentage(5.0)),
            ));
        let mut outcomes = Vec::new();
        for _ in 0..10_000 {
            outcomes.push(charge_async(&chaos, 1).await.is_err());
        }
        outcomes
    };
    let first = run().await;
    assert_binomial(first.iter().filter(|e| **e).count() as u64, first.len() as u64, 0.05);
    assert_eq!(first, run().await, "the same seed gives the same decisions");
}

#[test]
fn delays_hold_plain_functions_on_their_thread() {
    let chaos =
        handle(Config::new().rule(Rule::new("slow").delay(Delay::fixed(Duration::from_millis(60)).percentage(100.0))));
    let start = Instant::now();
    assert_eq!(charge(&chaos, 5).unwrap(), 5);
    assert!(start.elapsed() >= Duration::from_millis(60), "{:?}", start.elapsed());
    assert_eq!(chaos.status().rules[0].delayed, 1);
}

// On Tokio's paused clock, which moves only when every task waits: the
// ticker's count does not depend on the machine's load, and a blocking
// sleep (which never lets the ticker run) would still read 0.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn delays_of_async_fns_are_awaited_without_blocking_the_runtime() {
    let chaos =
        handle(Config::new().rule(Rule::new("slow").delay(Delay::fixed(Duration::from_millis(100)).percentage(100.0))));
    // On a single-threaded runtime, a ticker only runs while the delayed
    // call is suspended: with a blocking sleep it would not tick at all.
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let start = tokio::time::Instant::now();
    assert_eq!(charge_async(&chaos, 5).await.unwrap(), 5);
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    ticker.abort();
    assert!(ticks.load(Ordering::Relaxed) >= 19, "the runtime was blocked during the delay");
}

#[chaos(name = "inventory.reserve", chaos = chaos)]
fn reserve(chaos: &Chaos) -> Result<(), PaymentError> {
    Ok(())
}

#[chaos(name = "payments.refund", chaos = chaos)]
fn refund(chaos: &Chaos) -> Result<(), PaymentError> {
    Ok(())
}

#[chaos(name = "inventory.refund", chaos = chaos)]
fn restock(chaos: &Chaos) -> Result<(), PaymentError> {
    Ok(())
}

fn injected_rule(result: Result<(), PaymentError>) -> Option<String> {
    match result {
        Ok(()) => None,
        Err(PaymentError::Injected(fault)) => Some(fault.rule().to_owned()),
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[test]
fn glob_rules_select_the_right_points() {
    let chaos = handle(
        Config::new()
            // Same name, other door: never a point.
            .rule(always_abort("http-only", Match::new().door(Door::Http).name("inventory.reserve")))
            .rule(always_abort("payments", Match::new().door(Door::Point).name("payments.*")))
            .rule(always_abort("refunds", Match::new().name("*.refund"))),
    );
    for _ in 0..3 {
        assert_eq!(injected_rule(charge(&chaos, 1).map(drop)).as_deref(), Some("payments"));
        // The first matching rule decides.
        assert_eq!(injected_rule(refund(&chaos)).as_deref(), Some("payments"));
        assert_eq!(injected_rule(restock(&chaos)).as_deref(), Some("refunds"));
        assert_eq!(injected_rule(reserve(&chaos)), None);
    }
    let status = chaos.status();
    let matched = |name: &str| status.rule(name).expect("rule").matched;
    assert_eq!((matched("http-only"), matched("payments"), matched("refunds")), (0, 6, 3));

    // An exact name selects one point only.
    let exact = handle(Config::new().rule(always_abort("exact", Match::new().name("payments.refund"))));
    assert_eq!(injected_rule(refund(&exact)).as_deref(), Some("exact"));
    assert_eq!(injected_rule(charge(&exact, 1).map(drop)), None);
}

#[test]
fn a_new_configuration_applies_to_the_next_call() {
    let chaos = handle(Config::new().rule(always_abort("elsewhere", Match::new().name("other.*"))));
    for _ in 0..3 {
        assert!(reserve(&chaos).is_ok());
    }
    chaos.update(Config::new().rule(always_abort("now", Match::new().name("inventory.*")))).unwrap();
    assert_eq!(injected_rule(reserve(&chaos)).as_deref(), Some("now"));
    chaos.update(Config::new()).unwrap();
    assert!(reserve(&chaos).is_ok());
    chaos.update(Config::new().rule(always_abort("again", Match::new().name("inventory.reserve")))).unwrap();
    chaos.set_enabled(false);
    assert!(reserve(&chaos).is_ok(), "switched off");
    chaos.set_enabled(true);
    assert_eq!(injected_rule(reserve(&chaos)).as_deref(), Some("again"));
}

#[test]
fn one_call_site_follows_each_handle_it_is_given() {
    let selects = handle(Config::new().rule(always_abort("a", Match::new().name("inventory.reserve"))));
    let ignores = handle(Config::new().rule(always_abort("b", Match::new().name("payments.*"))));
    for _ in 0..5 {
        assert_eq!(injected_rule(reserve(&selects)).as_deref(), Some("a"));
        assert_eq!(injected_rule(reserve(&ignores)), None);
    }
}

#[test]
fn a_disabled_handle_does_not_consult_its_rules() {
    let chaos = Chaos::builder().enabled(false).rule(always_abort("all", Match::new())).build().unwrap();
    for _ in 0..100 {
        assert_eq!(charge(&chaos, 3).unwrap(), 3);
    }
    assert_eq!(chaos.status().rules[0].matched, 0);
}

#[derive(Debug, PartialEq)]
enum DbError {
    Unavailable { rule: String, kind: FaultKind },
}

fn query(chaos: &Chaos, sql: &str) -> Result<usize, DbError> {
    chaos_point!("db.query", chaos = chaos, |fault| Err(DbError::Unavailable {
        rule: fault.rule().to_owned(),
        kind: fault.kind()
    }));
    Ok(sql.len())
}

#[chaos(name = "fs.read", chaos = chaos)]
fn read_file(chaos: &Chaos) -> std::io::Result<Vec<u8>> {
    Ok(b"data".to_vec())
}

fn lookup(chaos: &Chaos) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    chaos_point!("cache.lookup", chaos = chaos);
    Ok(1)
}

#[test]
fn the_function_sees_its_own_error_type() {
    let chaos = handle(
        Config::new()
            .rule(Rule::new("db-errors").when(Match::new().name("db.*")).error(ErrorFault::percentage(100.0)))
            .rule(
                Rule::new("slow-disk")
                    .when(Match::new().name("fs.*"))
                    .timeout(Timeout::after(Duration::from_millis(20)).percentage(100.0)),
            )
            .rule(always_abort("cache", Match::new().name("cache.*")))
            .rule(always_abort("payments", Match::new().name("payments.*"))),
    );
    // The closure form builds the function's own error.
    assert_eq!(
        query(&chaos, "select 1"),
        Err(DbError::Unavailable { rule: "db-errors".into(), kind: FaultKind::Error })
    );
    // `From<InjectedFault>`: the user's enum, `io::Error`, a boxed error.
    let Err(PaymentError::Injected(fault)) = charge(&chaos, 1) else { panic!("expected PaymentError::Injected") };
    assert_eq!((fault.rule(), fault.message()), ("payments", Some("injected")));
    let start = Instant::now();
    let err = read_file(&chaos).unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(20), "a timeout waits before it fails");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    let inner = err.get_ref().and_then(|e| e.downcast_ref::<InjectedFault>()).expect("the fault inside");
    assert_eq!((inner.rule(), inner.kind()), ("slow-disk", FaultKind::Timeout));
    let boxed = lookup(&chaos).unwrap_err();
    assert_eq!(boxed.downcast_ref::<InjectedFault>().map(InjectedFault::rule), Some("cache"));
}

#[chaos(name = "stats.record", chaos = chaos)]
fn record(chaos: &Chaos, value: u64) -> u64 {
    value * 2
}

#[chaos(name = "stats.parse", chaos = chaos, delay_only)]
fn parse(chaos: &Chaos, s: &str) -> Result<u64, std::num::ParseIntError> {
    s.parse()
}

#[test]
fn functions_that_cannot_fail_are_delayed_and_their_failures_counted_as_skipped() {
    let chaos = handle(
        Config::new().rule(
            Rule::new("stats")
                .when(Match::new().name("stats.*"))
                .abort(Abort::status(503).percentage(100.0))
                .delay(Delay::fixed(Duration::from_millis(15)).percentage(100.0)),
        ),
    );
    let start = Instant::now();
    assert_eq!(record(&chaos, 21), 42);
    assert_eq!(parse(&chaos, "7").unwrap(), 7);
    assert!(start.elapsed() >= Duration::from_millis(30), "both calls were delayed: {:?}", start.elapsed());
    let rule = &chaos.status().rules[0];
    assert_eq!((rule.matched, rule.delayed, rule.aborted, rule.skipped), (2, 2, 0, 2));
}

#[test]
fn a_failure_a_point_cannot_inject_takes_no_share_of_the_cap_and_keeps_the_delay() {
    // Aborts every call, delays every 2nd, aborts first, at most 2
    // injections. At a function that cannot fail, each abort is skipped
    // and is as good as absent: calls 2 and 4 are delayed (the cap's two
    // injections), 6 and 8 are skipped by the cap.
    let chaos = handle(
        Config::new().rule(
            Rule::new("stats")
                .when(Match::new().name("stats.*"))
                .abort(Abort::status(503).percentage(100.0))
                .delay(Delay::fixed(Duration::from_millis(1)).every(2))
                .abort_first(true)
                .max_injections(2),
        ),
    );
    for value in 1..=8 {
        assert_eq!(record(&chaos, value), value * 2);
    }
    let rule = &chaos.status().rules[0];
    // Skipped: the 8 calls, whose aborts were skipped (calls 6 and 8, whose
    // delays the cap refused too, are counted once).
    assert_eq!((rule.matched, rule.delayed, rule.aborted, rule.skipped), (8, 2, 0, 8));
}

#[test]
fn the_kill_switch_cancels_a_failure_whose_delay_is_running() {
    let chaos = handle(
        Config::new().rule(
            Rule::new("slow-then-fail")
                .abort(Abort::status(503).percentage(100.0))
                .delay(Delay::fixed(Duration::from_secs(1)).percentage(100.0)),
        ),
    );
    let call = {
        let chaos = chaos.clone();
        std::thread::spawn(move || charge(&chaos, 9).map_err(|e| format!("{e:?}")))
    };
    // Switched off while the call is held: once the rule has counted it,
    // and a second before its delay ends.
    while chaos.status().rules[0].delayed == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    chaos.set_enabled(false);
    assert_eq!(call.join().unwrap(), Ok(9));
    assert_eq!(chaos.status().rules[0].aborted, 0);
}

#[tokio::test]
async fn the_kill_switch_cancels_a_failure_of_an_async_fn_too() {
    let chaos = handle(
        Config::new().rule(
            Rule::new("slow-then-fail")
                .abort(Abort::status(503).percentage(100.0))
                .delay(Delay::fixed(Duration::from_secs(1)).percentage(100.0)),
        ),
    );
    let call = {
        let chaos = chaos.clone();
        tokio::spawn(async move { charge_async(&chaos, 9).await.map_err(|e| format!("{e:?}")) })
    };
    while chaos.status().rules[0].delayed == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    chaos.set_enabled(false);
    assert_eq!(call.await.unwrap(), Ok(9));
    assert_eq!(chaos.status().rules[0].aborted, 0);
}

#[test]
fn the_chaos_variables_apply_to_points() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    };
    let chaos = Chaos::from_env_with(vars(&[("CHAOS_ENABLED", "true"), ("CHAOS_FAILURE_RATE", "1.0")])).unwrap();
    let Err(PaymentError::Injected(fault)) = charge(&chaos, 1) else { panic!("CHAOS_FAILURE_RATE=1 fails every call") };
    assert_eq!(fault.rule(), "env");
    assert_eq!(query(&chaos, "x"), Err(DbError::Unavailable { rule: "env".into(), kind: FaultKind::Abort }));

    let chaos = Chaos::from_env_with(vars(&[("CHAOS_ENABLED", "true"), ("CHAOS_LATENCY_MS", "30")])).unwrap();
    for _ in 0..20 {
        assert_eq!(record(&chaos, 1), 2);
    }
    assert_eq!(chaos.status().rules[0].delayed, 20);
}

struct PaymentClient {
    chaos: Chaos,
    charged: u64,
}

impl PaymentClient {
    #[chaos(name = "client.charge", chaos = self.chaos)]
    fn charge(&mut self, cents: u64) -> Result<u64, PaymentError> {
        self.charged += cents;
        Ok(self.charged)
    }

    #[chaos(name = "client.charge_async", chaos = self.chaos)]
    async fn charge_async(&self, cents: u64) -> Result<u64, PaymentError> {
        Ok(self.charged + cents)
    }
}

#[tokio::test]
async fn methods_use_their_own_handle() {
    let chaos = handle(
        Config::new()
            .rule(Rule::new("every-other").when(Match::new().name("client.*")).abort(Abort::status(503).every(2))),
    );
    let mut client = PaymentClient { chaos, charged: 0 };
    assert_eq!(client.charge(5).unwrap(), 5);
    assert!(matches!(client.charge(5), Err(PaymentError::Injected(_))));
    assert_eq!(client.charged, 5, "an aborted call does not run the body");
    assert_eq!(client.charge_async(1).await.unwrap(), 6);
    assert!(client.charge_async(1).await.is_err());
}

/// Under `#[async_trait]`, `#[chaos]` cannot be used (it would see a plain
/// function returning a boxed future: a compile error); `chaos_point!` first
/// in the method's body is the way, and works on `self`'s handle.
#[async_trait::async_trait]
trait Ledger {
    async fn post(&self, cents: u64) -> Result<u64, PaymentError>;
}

#[async_trait::async_trait]
impl Ledger for PaymentClient {
    async fn post(&self, cents: u64) -> Result<u64, PaymentError> {
        chaos_point!(async "ledger.post", chaos = self.chaos);
        Ok(self.charged + cents)
    }
}

#[tokio::test]
async fn points_in_async_trait_methods() {
    let chaos = handle(
        Config::new()
            .rule(Rule::new("every-other").when(Match::new().name("ledger.*")).abort(Abort::status(503).every(2))),
    );
    let ledger: Box<dyn Ledger + Send + Sync> = Box::new(PaymentClient { chaos: chaos.clone(), charged: 10 });
    assert_eq!(ledger.post(1).await.unwrap(), 11);
    assert!(matches!(ledger.post(1).await, Err(PaymentError::Injected(_))));
    assert_eq!(chaos.status().rules[0].aborted, 1);
}

async fn load(chaos: &Chaos, id: u64) -> Result<u64, PaymentError> {
    chaos_point!(async "orders.load", chaos = chaos);
    Ok(id)
}

async fn load_or_default(chaos: &Chaos, id: u64) -> u64 {
    chaos_point!(async "orders.load", chaos = chaos, |_| 0);
    id
}

#[tokio::test]
async fn async_points_inside_bodies() {
    let chaos = handle(Config::new().rule(always_abort("orders", Match::new().name("orders.load"))));
    assert!(matches!(load(&chaos, 3).await, Err(PaymentError::Injected(f)) if f.rule() == "orders"));
    assert_eq!(load_or_default(&chaos, 3).await, 0);
    chaos.set_enabled(false);
    assert_eq!(load(&chaos, 3).await.unwrap(), 3);
    assert_eq!(load_or_default(&chaos, 3).await, 3);
}

/// The default name is the module path and the function's name.
#[chaos]
fn named_by_default() -> Result<(), PaymentError> {
    Ok(())
}

#[test]
fn the_global_handle_and_default_names() {
    // The only test in this binary that uses the global handle.
    let name = concat!(module_path!(), "::named_by_default");
    let global = handle(Config::new().rule(always_abort("default-name", Match::new().name(name))));
    Chaos::set_global(global).expect("nothing used the global handle before");
    assert_eq!(injected_rule(named_by_default()).as_deref(), Some("default-name"));
    assert_eq!(Chaos::global().status().rules[0].aborted, 1);
}

#[chaos(name = "env.sync")]
fn env_point() -> Result<(), PaymentError> {
    Ok(())
}

#[chaos(name = "env.async")]
async fn env_point_async() -> Result<(), PaymentError> {
    Ok(())
}

fn env_point_in_body() -> Result<(), PaymentError> {
    chaos_point!("env.body");
    Ok(())
}

/// The first point on the global handle creates it from the `CHAOS_*`
/// variables, whichever kind of point it is. Runs itself in a child process
/// with the variables set, where nothing has created the global handle.
#[test]
fn the_first_point_creates_the_global_handle_from_the_environment() {
    const CHILD: &str = "MISCHIEF_POINT_TEST_CHILD";
    let Some(kind) = std::env::var_os(CHILD) else {
        for kind in ["sync", "async", "body"] {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "the_first_point_creates_the_global_handle_from_the_environment"])
                .env(CHILD, kind)
                // Only these two, whatever the environment this runs in.
                .env_remove("CHAOS_LATENCY_MS")
                .env_remove("CHAOS_ABORT_STATUS")
                .env_remove("CHAOS_SEED")
                .env_remove("CHAOS_CONFIG")
                .env("CHAOS_ENABLED", "true")
                .env("CHAOS_FAILURE_RATE", "1.0")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success() && stdout.contains("1 passed"), "{kind}: {stdout}");
        }
        return;
    };
    let result = match kind.to_str() {
        Some("sync") => env_point(),
        Some("async") => tokio::runtime::Runtime::new().unwrap().block_on(env_point_async()),
        _ => env_point_in_body(),
    };
    assert_eq!(injected_rule(result).as_deref(), Some("env"));
}

/// Points go through the guardrails like requests do: an excluded point is
/// never faulted, the global cap counts point faults, and the percentage cap
/// counts every point call (a point that no rule selects included).
#[cfg(feature = "guard")]
#[test]
fn points_obey_the_guardrails() {
    use mischief::config::Guardrails;
    use mischief::guard::SkipReason;

    let chaos = handle(
        Config::new()
            .guardrails(Guardrails::new().exclude(Match::new().name("payments.refund")).max_injections(3))
            .rule(always_abort("payments", Match::new().name("payments.*"))),
    );
    fn refund(chaos: &Chaos) -> Result<(), InjectedFault> {
        chaos_point!("payments.refund", chaos = chaos, |fault| Err(fault));
        Ok(())
    }
    fn reserve(chaos: &Chaos) -> Result<(), InjectedFault> {
        chaos_point!("inventory.reserve", chaos = chaos, |fault| Err(fault));
        Ok(())
    }
    for _ in 0..10 {
        assert!(refund(&chaos).is_ok());
    }
    let failed = (0..10).filter(|_| charge(&chaos, 5).is_err()).count();
    assert_eq!(failed, 3, "max_injections = 3 over all points");
    let guard = chaos.status().guard.expect("guardrails configured");
    assert_eq!(guard.skipped(SkipReason::Excluded), 10);
    assert_eq!(guard.skipped(SkipReason::CapInjections), 7);

    let capped = handle(
        Config::new()
            .guardrails(Guardrails::new().max_percentage_affected(50.0))
            .rule(always_abort("payments", Match::new().name("payments.*"))),
    );
    // 100 calls of a point no rule selects, then the faulted point: the cap
    // counts all 200 calls, so the k-th faulted call is allowed while
    // k <= (100 + k) / 2, which holds for all 100. (Were the first hundred
    // not counted, none would be: 1 <= 1 / 2 is false.)
    for _ in 0..100 {
        assert!(reserve(&capped).is_ok());
    }
    let failed = (0..100).filter(|_| charge(&capped, 5).is_err()).count();
    assert_eq!(failed, 100);
    assert_eq!(capped.status().guard.unwrap().calls_seen, 200);

    // A point's calls are not the service's own outcomes: the abort
    // conditions never see them (50 failed calls would trip a 50% error
    // rate, were they counted).
    let watched = handle(
        Config::new()
            .guardrails(Guardrails::new().abort_condition(mischief::config::AbortCondition::error_rate(0.5)))
            .rule(always_abort("payments", Match::new().name("payments.*"))),
    );
    let failed = (0..50).filter(|_| charge(&watched, 5).is_err()).count();
    assert_eq!(failed, 50);
    let guard = watched.status().guard.unwrap();
    assert_eq!(guard.window.map_or(0, |w| w.calls), 0, "no point call in the window");
    assert!(guard.tripped.is_none());
}

/// An async function whose caller gives up during an injected timeout's
/// wait (its future dropped) has the failure counted: the caller saw the
/// call fail.
#[tokio::test]
async fn a_timeout_abandoned_by_the_caller_is_counted() {
    let chaos = handle(
        Config::new().rule(Rule::new("hang").timeout(Timeout::after(Duration::from_secs(30)).percentage(100.0))),
    );
    let gave_up = tokio::time::timeout(Duration::from_millis(50), charge_async(&chaos, 9)).await;
    assert!(gave_up.is_err(), "held past the caller's timeout");
    let rule = chaos.status().rules[0].clone();
    assert_eq!((rule.matched, rule.timed_out), (1, 1), "{rule:?}");
}

/// Logs its name when dropped.
struct Loud(&'static str, Arc<std::sync::Mutex<Vec<&'static str>>>);

impl Drop for Loud {
    fn drop(&mut self) {
        self.1.lock().unwrap().push(self.0);
    }
}

#[allow(clippy::needless_pass_by_value)] // their drops are what is tested
fn plain_drops(a: Loud, mut b: Loud, _unused: Loud) -> Result<(), InjectedFault> {
    b.0 = "b";
    let _ = (&b, &a);
    Ok(())
}

#[chaos(name = "drops", chaos = chaos)]
fn pointed_drops(chaos: &Chaos, a: Loud, mut b: Loud, _unused: Loud) -> Result<(), InjectedFault> {
    b.0 = "b";
    let _ = (&b, &a);
    Ok(())
}

/// `#[chaos]` keeps the order a function drops its arguments in (the
/// reverse of their declaration, whatever order the body uses them in,
/// and those it does not use too), on and off, as the plain function does.
#[test]
fn arguments_are_dropped_as_the_plain_function_drops_them() {
    let loud = |log: &Arc<std::sync::Mutex<Vec<&'static str>>>| {
        (Loud("a", log.clone()), Loud("b-before", log.clone()), Loud("unused", log.clone()))
    };
    let plain = Arc::default();
    let (a, b, unused) = loud(&plain);
    plain_drops(a, b, unused).unwrap();
    let plain = plain.lock().unwrap().clone();
    assert_eq!(plain, ["unused", "b", "a"]);
    for chaos in [Chaos::disabled(), handle(Config::new().rule(always_abort("other", Match::new().name("other"))))] {
        let log = Arc::default();
        let (a, b, unused) = loud(&log);
        pointed_drops(&chaos, a, b, unused).unwrap();
        assert_eq!(*log.lock().unwrap(), plain, "enabled: {}", chaos.is_enabled());
    }
    // A failed call, whose body never runs, drops them in that order too
    // (`b` not renamed).
    let chaos = handle(Config::new().rule(always_abort("fail", Match::new().name("drops"))));
    let log = Arc::default();
    let (a, b, unused) = loud(&log);
    pointed_drops(&chaos, a, b, unused).unwrap_err();
    assert_eq!(*log.lock().unwrap(), ["unused", "b-before", "a"]);
}
