//! mischief logs while it holds its own state: `Chaos::global()` while it
//! builds the process-wide handle (here: the environment is invalid), and
//! `update` as it installs a configuration. Code reached from that logging
//! (a tracing subscriber that calls a `#[chaos]` function, or reads the
//! status) must not re-enter it: the global handle asked for during its
//! build is a switched-off one, and `update` logs with its lock released.
//! Both deadlocked before. The test runs itself again as a child process
//! with the environment set: the global handle and the global subscriber
//! are process-wide.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use mischief::Chaos;
use mischief::config::{Abort, Config, Rule};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

const CHILD: &str = "MISCHIEF_GLOBAL_INIT_CHILD";
const TEST: &str = "the_global_handle_can_be_asked_for_from_its_own_logging";

static REENTERED: AtomicUsize = AtomicUsize::new(0);
static ENGINE: OnceLock<Chaos> = OnceLock::new();
static STATUS_READ: AtomicUsize = AtomicUsize::new(0);

/// Asks for the global handle, and for `ENGINE`'s status once there is one,
/// from every `mischief` event.
struct Reenter;

impl<S: tracing::Subscriber> Layer<S> for Reenter {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "mischief" {
            let _ = Chaos::global().is_enabled();
            REENTERED.fetch_add(1, Ordering::SeqCst);
            if let Some(engine) = ENGINE.get() {
                let _ = engine.status();
                STATUS_READ.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// Runs `f` on a thread of its own and waits for it, so that a deadlock
/// fails the test instead of hanging it.
fn within_30s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("{what} deadlocked"))
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
    let error = within_30s("Chaos::global(), its logging asking for it,", || Chaos::global().status().last_error);
    assert!(REENTERED.load(Ordering::SeqCst) >= 1, "the build logged, and the subscriber asked for the handle");
    // The handle in place is the one built: it keeps the environment's error.
    let error = error.expect("the invalid environment's error");
    assert!(error.contains("CHAOS_ENABLED") && error.contains("sometimes"), "{error}");
    assert_eq!(Chaos::global().status().last_error.as_deref(), Some(error.as_str()));

    // An update logs the installation; the subscriber reads the status.
    let engine = ENGINE.get_or_init(|| Chaos::new(Config::new()).unwrap());
    within_30s("update, its logging reading the status,", || {
        let rule = Rule::new("r").abort(Abort::status(503).every(2));
        ENGINE.get().unwrap().update(Config::new().rule(rule)).unwrap()
    });
    assert!(STATUS_READ.load(Ordering::SeqCst) >= 1, "the update logged, and the subscriber read the status");
    assert_eq!(engine.status().generation, 2);
}
