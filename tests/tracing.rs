//! Injected faults emit `tracing` events (target `mischief`). In a test
//! binary of its own: tracing caches per-callsite interest process-wide, so a
//! scoped subscriber must not race other tests' threads hitting the same
//! callsites without one.

#[path = "support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mischief::Chaos;
use mischief::config::{Abort, Config, Delay, Match, Rule};
use mischief::http::ChaosLayer;
use reqwest::StatusCode;
use support::{Hits, client, counting_app, serve};

async fn serve_with(chaos: &Chaos) -> String {
    serve(counting_app(&Hits::default()).layer(ChaosLayer::new(chaos.clone()))).await
}

/// Records `mischief` events, to check the tracing output.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: tracing_subscriber::layer::Context<'_, S>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={:?} ", field.name(), value));
            }
        }
        if event.metadata().target() == "mischief" {
            let mut f = Fields(format!("level={} ", event.metadata().level()));
            event.record(&mut f);
            self.0.lock().unwrap().push(f.0);
        }
    }
}

#[test]
fn injected_faults_emit_tracing_events() {
    use tracing_subscriber::layer::SubscriberExt;
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let chaos = Chaos::new(
                Config::new()
                    .rule(
                        Rule::new("late")
                            .when(Match::new().path("/late"))
                            .delay(Delay::fixed(Duration::from_millis(5)).percentage(100.0)),
                    )
                    .rule(
                        Rule::new("gone").when(Match::new().path("/gone")).abort(Abort::status(410).percentage(100.0)),
                    ),
            )
            .unwrap();
            let url = serve_with(&chaos).await;
            let c = client();
            assert_eq!(c.get(format!("{url}/late")).send().await.unwrap().status(), StatusCode::OK);
            assert_eq!(c.get(format!("{url}/gone")).send().await.unwrap().status(), StatusCode::GONE);
        });
    });
    let events = recorder.0.lock().unwrap().clone();
    let delay = events.iter().find(|e| e.contains("fault=\"delay\"")).unwrap_or_else(|| panic!("{events:?}"));
    assert!(delay.contains("rule=late") && delay.contains("delay_ms=5.0"), "{delay}");
    let abort = events.iter().find(|e| e.contains("fault=\"abort\"")).unwrap_or_else(|| panic!("{events:?}"));
    assert!(abort.contains("rule=gone") && abort.contains("status=410"), "{abort}");
    // At DEBUG, as the README says: a service's INFO logs do not fill with
    // one line per injected fault.
    assert!(delay.starts_with("level=DEBUG ") && abort.starts_with("level=DEBUG "), "{events:?}");
}

/// A watched call that ends after its engine is gone records nothing: the
/// engine's guard state may linger in the thread's plan cache, but no
/// abort condition is judged in it (a trip would log a warning). The same
/// calls ending while the engine lives do trip it.
#[test]
fn calls_ending_after_their_engine_is_dropped_record_nothing() {
    use mischief::guard::ManualClock;
    use support::{call_now, ends_in_error, half_failing, watching};
    use tracing_subscriber::layer::SubscriberExt;

    for drop_engine in [false, true] {
        let recorder = Recorder::default();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        tracing::subscriber::with_default(subscriber, || {
            let clock = ManualClock::new("2026-11-25T10:00:00Z".parse().unwrap());
            let chaos = Chaos::builder().clock(clock.clone()).config(watching(0.1)).build().unwrap();
            let mut svc = half_failing(&chaos);
            let pending: Vec<_> = (0..40).map(|n| call_now(&mut svc, n)).collect();
            if drop_engine {
                drop((svc, chaos));
            }
            for fut in pending {
                // The conditions are judged at most once per 100 ms.
                clock.advance(Duration::from_millis(100));
                ends_in_error(fut);
            }
        });
        let events = recorder.0.lock().unwrap().clone();
        let tripped = events.iter().any(|e| e.contains("guardrail tripped"));
        assert_eq!(tripped, !drop_engine, "engine dropped: {drop_engine}; {events:?}");
    }
}

/// A `CHAOS_*` variable a letter or two away from one mischief reads (the
/// seed's `CHAOS_ENABLED` written `CHAOS_ENABLE`) leaves chaos off, as an
/// unset one does; `from_env` warns, naming it and the one it reads. Other
/// tools' `CHAOS_*` variables pass without a word. Runs itself in a child
/// process with the variables set: the environment is process-wide.
#[test]
fn a_misspelt_chaos_variable_is_warned_about() {
    use tracing_subscriber::layer::SubscriberExt;
    const CHILD: &str = "MISCHIEF_TRACING_TEST_CHILD";
    const TEST: &str = "a_misspelt_chaos_variable_is_warned_about";
    if std::env::var_os(CHILD).is_none() {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child.args(["--exact", TEST, "--test-threads=1"]).env(CHILD, "1");
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().to_ascii_uppercase().starts_with("CHAOS") {
                child.env_remove(name);
            }
        }
        let out = child
            .env("CHAOS_ENABLE", "true")
            .env("CHAOS_FALIURE_RATE", "0.5")
            .env("chaos_seed", "7")
            .env("CHAOS_LATENCY_MS", "10")
            .env("CHAOS_MESH_NAMESPACE", "chaos-testing")
            .env("CHAOS_ENABLED_", "")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "the child failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("1 passed"), "the child ran no test:\n{stdout}");
        return;
    }
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let chaos = tracing::subscriber::with_default(subscriber, Chaos::from_env).unwrap();
    assert!(!chaos.is_enabled(), "CHAOS_ENABLE is not CHAOS_ENABLED");
    let events = recorder.0.lock().unwrap().clone();
    let about = |name: &str| events.iter().filter(|e| e.contains(&format!("variable=\"{name}\""))).collect::<Vec<_>>();
    for (set, read) in
        [("CHAOS_ENABLE", "CHAOS_ENABLED"), ("CHAOS_FALIURE_RATE", "CHAOS_FAILURE_RATE"), ("chaos_seed", "CHAOS_SEED")]
    {
        let warned = about(set);
        assert!(warned.len() == 1 && warned[0].contains(&format!("did you mean {read}?")), "{set}: {events:?}");
    }
    // Read, someone else's, or empty: nothing.
    for quiet in ["CHAOS_LATENCY_MS", "CHAOS_MESH_NAMESPACE", "CHAOS_ENABLED_"] {
        assert!(about(quiet).is_empty(), "{quiet}: {events:?}");
    }
    assert_eq!(events.iter().filter(|e| e.contains("variable=")).count(), 3, "{events:?}");
}
