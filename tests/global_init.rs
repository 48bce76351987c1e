//! `Chaos::global()` builds the process-wide handle on first use, and logs
//! while it does (here: the environment is invalid). Code reached from that
//! logging that asks for the global handle (a tracing subscriber that calls
//! a `#[chaos]` function, say) gets a switched-off one, instead of
//! re-entering the build, which deadlocked. The test runs itself again as
//! a child process with the environment set: the global handle and the
//! global subscriber are process-wide.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use mischief::Chaos;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

const CHILD: &str = "MISCHIEF_GLOBAL_INIT_CHILD";
const TEST: &str = "the_global_handle_can_be_asked_for_from_its_own_logging";

static REENTERED: AtomicUsize = AtomicUsize::new(0);

/// Asks for the global handle from every `mischief` event.
struct Reenter;

impl<S: tracing::Subscriber> Layer<S> for Reenter {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "mischief" {
            let _ = Chaos::global().is_enabled();
            REENTERED.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn the_global_handle_can_be_asked_for_from_its_own_logging() {
    if std::env::var_os(CHILD).is_none() {
        let mut child = Command::new(std::env::current_exe().unwrap());
        child.args(["--exact", TEST, "--nocapture", "--test-threads=1"]).env(CHILD, "1");
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("CHAOS_") {
                child.env_remove(name);
            }
        }
        let out = child.env("CHAOS_ENABLED", "sometimes").output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "the child failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("1 passed"), "the child ran no test:\n{stdout}");
        return;
    }
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Reenter)).unwrap();
    // Built on a thread of its own, so that a deadlock fails the test
    // instead of hanging it.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(Chaos::global().status().last_error).unwrap());
    let error =
        rx.recv_timeout(Duration::from_secs(30)).expect("Chaos::global() deadlocked when its own logging asked for it");
    assert!(REENTERED.load(Ordering::SeqCst) >= 1, "the build logged, and the subscriber asked for the handle");
    // The handle in place is the one built: it keeps the environment's error.
    let error = error.expect("the invalid environment's error");
    assert!(error.contains("CHAOS_ENABLED") && error.contains("sometimes"), "{error}");
    assert_eq!(Chaos::global().status().last_error.as_deref(), Some(error.as_str()));
}
