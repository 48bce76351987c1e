//! Drives the services of the `overhead` and `peers` benches a given number
//! of times, for counting instructions with callgrind (`benches/instructions.sh`):
//! on a shared VM, where timings move by more than the differences between
//! the services, instruction counts repeat to the instruction.
//!
//! ```sh
//! cargo run --release --example call_cost -- http_pass 10000
//! ```
//!
//! Variants: `http_bare`, `http_noop` (a layer that only wraps the future,
//! the `overhead` bench's `noop_layer`), `http_disabled`, `http_pass`,
//! `http_16_rules`, `http_guarded` (the `overhead` bench's services and
//! request), `service_bare`, `service_disabled`, `service_rate0` (the
//! `peers` bench's generic layer on a `u64 -> u64` service).
//!
//! Like the benches, it runs with glibc's per-thread cache of freed chunks
//! made large enough for every request it frees
//! (`common::steady_allocator`): with glibc's default, how many
//! instructions the frees took depended on the heap's layout, which each
//! variant's set-up changed (the bare service's run spent about 210
//! instructions per call in `malloc_consolidate` and `unlink_chunk`, the
//! layered ones 50-60, so the bare service read as the most expensive).

#[path = "../benches/common/mod.rs"]
mod common;

use std::future::{Future, Ready};
use std::hint::black_box;
use std::pin::pin;
use std::process::ExitCode;
use std::task::{Context, Poll, Waker};

use mischief::config::{Abort, Config, Rule};
use mischief::{BoxError, Chaos};
use tower::{Layer, Service};

/// Builds `n` requests, then calls the service with each (so the requests'
/// construction is the same for every variant, and cancels out).
fn http<S>(mut svc: S, n: usize)
where
    S: Service<http::Request<()>, Response = http::Response<()>>,
    S::Error: std::fmt::Debug,
{
    let requests: Vec<_> = (0..n).map(|_| common::request()).collect();
    for req in requests {
        black_box(common::drive(&mut svc, req));
    }
}

fn echo() -> impl Service<u64, Response = u64, Error = BoxError, Future = Ready<Result<u64, BoxError>>> + Clone {
    tower::service_fn(|n: u64| std::future::ready(Ok::<u64, BoxError>(n)))
}

fn service<S: Service<u64, Response = u64, Error = BoxError>>(mut svc: S, n: usize) {
    let mut cx = Context::from_waker(Waker::noop());
    for i in 0..n as u64 {
        if svc.poll_ready(&mut cx).is_pending() {
            panic!("the service is always ready");
        }
        let mut fut = pin!(svc.call(black_box(i)));
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(res) => drop(black_box(res)),
            Poll::Pending => panic!("the service answers at once"),
        }
    }
}

fn main() -> ExitCode {
    common::steady_allocator();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(variant), Some(Ok(n))) = (args.first(), args.get(1).map(|n| n.parse::<usize>())) else {
        eprintln!("usage: call_cost VARIANT N (see the example's docs for the variants)");
        return ExitCode::from(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let _guard = rt.enter();
    let rate0 = || Chaos::new(Config::new().rule(Rule::new("zero").abort(Abort::status(503).percentage(0.0))));
    match variant.as_str() {
        "http_bare" => http(common::bare(), n),
        "http_noop" => http(tower::util::MapResponseLayer::new(std::convert::identity).layer(common::bare()), n),
        "http_disabled" => http(mischief::http::ChaosLayer::new(Chaos::disabled()).layer(common::bare()), n),
        "http_pass" => http(mischief::http::ChaosLayer::new(common::enabled_pass()).layer(common::bare()), n),
        "http_guarded" => http(mischief::http::ChaosLayer::new(common::guarded_pass()).layer(common::bare()), n),
        "http_16_rules" => {
            http(mischief::http::ChaosLayer::new(common::sixteen_rules_no_match()).layer(common::bare()), n)
        }
        "service_bare" => service(echo(), n),
        "service_disabled" => service(mischief::service::ChaosLayer::new(Chaos::disabled(), "echo").layer(echo()), n),
        "service_rate0" => {
            service(mischief::service::ChaosLayer::new(rate0().expect("valid config"), "echo").layer(echo()), n)
        }
        other => {
            eprintln!("call_cost: unknown variant {other}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
