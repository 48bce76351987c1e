//! The "hello" app of the HTTP load test (`benches/http_load.sh`) and of the
//! count of instructions per request (`benches/server_instructions.sh`): an
//! axum app answering `GET /` with `Hello, World!`, in one of five variants,
//! on 127.0.0.1.
//!
//! ```sh
//! cargo run --release --example hello_server -- enabled
//! ```
//!
//! - `bare`: the app alone;
//! - `noop`: behind a layer that does nothing (`tower::layer::util::Identity`),
//!   to tell what axum's `Router::layer` costs by itself (every layered
//!   route is a boxed, cloned-per-request service) from what mischief costs;
//! - `map`: behind a layer that wraps the response future and does nothing
//!   with the response (`tower::util::MapResponseLayer` with the identity):
//!   the least any layer with a future of its own costs;
//! - `disabled`: behind `mischief::http::ChaosLayer`, switched off;
//! - `enabled`: behind the layer, switched on and not injecting: 16 rules
//!   that do not match `GET /` (paths, methods, headers, hosts), then one
//!   catch-all rule at 0% (the rules of `benches/common/mod.rs`).
//!
//! It prints its address (`127.0.0.1:PORT`) as the first line on stdout and
//! serves until SIGINT or SIGTERM, until `--max-seconds` have passed, or,
//! with `--exit-on-eof`, until its standard input closes (so a load script
//! that dies leaves no server behind). On the way out, the `enabled` variant
//! prints one line per rule with the engine's counters, e.g.
//! `rule catch-all matched 123 delayed 0 aborted 0`.
//!
//! The layers wrap the route with axum's `Router::layer`; with `--outer`
//! they wrap the whole `Router` from outside instead, as the README shows
//! (given its state first, `.with_state(())`, and served with
//! `into_make_service`), which spares axum's per-route boxing. `noop` is
//! then the bare `Router` served that way (`Identity` returns it as it is).
//!
//! Options: `--outer`, `--threads N` (Tokio worker threads, default 1),
//! `--max-seconds N` (default 3600), `--exit-on-eof`.
//!
//! Built with `HELLO_SERVER_ONLY=noop`, `map` or `chaos` in the environment
//! (`noop-outer` and so on for `--outer`), it serves `bare` and only that
//! layer in that placement (`chaos`: `disabled` and `enabled`), and the
//! others' code is not in the binary: code that all the
//! variants share (hyper's connection task, the route's future) is compiled
//! once for all of them, and how the compiler inlines it moved every
//! variant's count, `bare`'s too, by up to 100 instructions per request
//! when only the layer's code changed. `benches/server_instructions.sh`
//! counts each layer in a build of its own.

#[path = "../benches/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use axum::routing::get;
use axum::{Router, ServiceExt};
use mischief::Chaos;
use mischief::http::ChaosLayer;
use tower::Layer;

const USAGE: &str =
    "usage: hello_server bare|noop|map|disabled|enabled [--outer] [--threads N] [--max-seconds N] [--exit-on-eof]";

/// The one layer this build serves besides `bare`, if it was built with
/// `HELLO_SERVER_ONLY` (see the module docs).
const ONLY: Option<&str> = option_env!("HELLO_SERVER_ONLY");

/// Does this build serve `build` (`noop`, `map`, `chaos`, or one of them
/// with `-outer`)? (`==` on strings is not available in a const fn.)
const fn serves(build: &str) -> bool {
    let Some(only) = ONLY else { return true };
    let (a, b) = (only.as_bytes(), build.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

enum Variant {
    Bare,
    Noop,
    Map,
    Chaos(Chaos),
}

struct Args {
    variant: Variant,
    outer: bool,
    threads: usize,
    max_seconds: u64,
    exit_on_eof: bool,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let variant = match args.next().as_deref() {
        Some("bare") => Variant::Bare,
        Some("noop") => Variant::Noop,
        Some("map") => Variant::Map,
        Some("disabled") => Variant::Chaos(Chaos::disabled()),
        Some("enabled") => Variant::Chaos(common::sixteen_rules_then_pass()),
        Some(other) => return Err(format!("unknown variant {other:?}")),
        None => return Err("missing the variant".into()),
    };
    let layer = match variant {
        Variant::Bare => None,
        Variant::Noop => Some("noop"),
        Variant::Map => Some("map"),
        Variant::Chaos(_) => Some("chaos"),
    };
    let mut parsed = Args { variant, outer: false, threads: 1, max_seconds: 3600, exit_on_eof: false };
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
            value.parse().map_err(|_| format!("{name}: {value:?} is not a positive integer"))
        };
        match arg.as_str() {
            "--threads" => parsed.threads = number("--threads")?.clamp(1, 64) as usize,
            "--max-seconds" => parsed.max_seconds = number("--max-seconds")?,
            "--exit-on-eof" => parsed.exit_on_eof = true,
            "--outer" => parsed.outer = true,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if let (Some(layer), Some(only)) = (layer, ONLY) {
        let build = if parsed.outer { format!("{layer}-outer") } else { layer.to_owned() };
        if build != only {
            return Err(format!("this build serves bare and {only} only (HELLO_SERVER_ONLY={only}), not {build}"));
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("hello_server: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    match rt.block_on(serve(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hello_server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: &Args) -> std::io::Result<()> {
    let hello = Router::new().route("/", get(|| async { "Hello, World!" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", listener.local_addr()?)?;
    stdout.flush()?;

    let stop = shutdown(args.max_seconds, args.exit_on_eof);
    let identity = tower::layer::util::Identity::new();
    match (&args.variant, args.outer) {
        (Variant::Bare, _) => axum::serve(listener, hello).with_graceful_shutdown(stop).await?,
        (Variant::Map, false) if const { serves("map") } => {
            let app = hello.layer(tower::util::MapResponseLayer::new(identity_response));
            axum::serve(listener, app).with_graceful_shutdown(stop).await?;
        }
        (Variant::Noop, false) if const { serves("noop") } => {
            axum::serve(listener, hello.layer(identity)).with_graceful_shutdown(stop).await?
        }
        (Variant::Chaos(chaos), false) if const { serves("chaos") } => {
            let app = hello.layer(ChaosLayer::new(chaos.clone()));
            axum::serve(listener, app).with_graceful_shutdown(stop).await?;
        }
        (Variant::Noop, true) if const { serves("noop-outer") } => {
            let app = identity.layer(hello.with_state(()));
            axum::serve(listener, ServiceExt::<axum::extract::Request>::into_make_service(app))
                .with_graceful_shutdown(stop)
                .await?;
        }
        (Variant::Map, true) if const { serves("map-outer") } => {
            let app = tower::util::MapResponseLayer::new(identity_response).layer(hello.with_state(()));
            axum::serve(listener, ServiceExt::<axum::extract::Request>::into_make_service(app))
                .with_graceful_shutdown(stop)
                .await?;
        }
        (Variant::Chaos(chaos), true) if const { serves("chaos-outer") } => {
            let app = ChaosLayer::new(chaos.clone()).layer(hello.with_state(()));
            axum::serve(listener, ServiceExt::<axum::extract::Request>::into_make_service(app))
                .with_graceful_shutdown(stop)
                .await?;
        }
        // Refused in `parse`: a layer this build does not serve.
        _ => return Err(std::io::Error::other("this build does not serve that variant")),
    }

    if let Variant::Chaos(chaos) = &args.variant {
        for rule in chaos.status().rules {
            writeln!(
                stdout,
                "rule {} matched {} delayed {} aborted {}",
                rule.name, rule.matched, rule.delayed, rule.aborted
            )?;
        }
    }
    Ok(())
}

/// The response as it is: the `map` variant's function.
fn identity_response(res: axum::response::Response) -> axum::response::Response {
    res
}

/// Resolves on SIGINT, SIGTERM, after `max_seconds`, or (with `on_eof`) when
/// standard input closes.
async fn shutdown(max_seconds: u64, on_eof: bool) {
    let eof = async move {
        if !on_eof {
            return std::future::pending().await;
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // A plain thread, not `spawn_blocking`: a read that never returns
        // must not keep the runtime from shutting down.
        std::thread::spawn(move || {
            let mut buf = [0_u8; 64];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
            tx.send(()).ok();
        });
        rx.await.ok();
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate() => {}
        () = tokio::time::sleep(Duration::from_secs(max_seconds)) => {}
        () = eof => {}
    }
}

#[cfg(unix)]
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            term.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending().await
}
