//! A process-wide tracing subscriber that keeps mischief's warnings, so a
//! test can count the warnings about its own file (the watcher logs from
//! its own thread, so a thread-local subscriber would not see them).

use std::fmt::Write;
use std::sync::{Mutex, Once};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() == Level::WARN && meta.target() == "mischief" {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            WARNINGS.lock().unwrap().push(fields.0);
        }
    }
}

pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Capture))
            .expect("no other global subscriber in this test binary");
    });
}

/// Warnings that `file` was rejected. Only those: a runner out of inotify
/// instances also warns about the file, that it is polled instead.
pub(crate) fn warnings_about(file: &str) -> usize {
    WARNINGS.lock().unwrap().iter().filter(|w| w.contains(file) && w.contains("rejected")).count()
}
