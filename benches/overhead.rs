//! The cost of the HTTP layer on a call that is not faulted, against the
//! bare service, in one run: `cargo bench --bench overhead`.

#[path = "common/mod.rs"]
mod common;

use criterion::Criterion;
use std::hint::black_box;

use mischief::http::ChaosLayer;
use mischief::{Chaos, Door, Target};
use tower::Layer;

use common::{
    bare, bench_calls, bench_calls_two_threads, bench_cloned_calls, bench_cloned_calls_two_threads, enabled_abort,
    enabled_pass, guarded_pass, sixteen_rules_no_match,
};

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let _guard = rt.enter();
    let mut group = c.benchmark_group("overhead");

    // The ids of the goals first, on one thread. The ids that start threads
    // go last: after them, the same bare service read 14 ns slower (their
    // threads leave the allocator in a state that the later ids' requests
    // feel), as `bare_again` showed when they ran in between.
    let mut svc = bare();
    group.bench_function("bare", |b| bench_calls(b, &mut svc));

    // A layer that does nothing but wrap the response future (tower's
    // `MapResponse` with the identity): what wrapping alone costs, for
    // telling the layer's own cost from the cost of being a layer.
    let mut svc = tower::util::MapResponseLayer::new(std::convert::identity).layer(bare());
    group.bench_function("noop_layer", |b| bench_calls(b, &mut svc));

    let mut disabled = ChaosLayer::new(Chaos::disabled()).layer(bare());
    group.bench_function("layer_disabled", |b| bench_calls(b, &mut disabled));

    let chaos = enabled_pass();
    let mut svc = ChaosLayer::new(chaos.clone()).layer(bare());
    passes("layer_enabled_pass", &mut svc, &chaos, true);
    group.bench_function("layer_enabled_pass", |b| bench_calls(b, &mut svc));

    let chaos = guarded_pass();
    let mut svc = ChaosLayer::new(chaos.clone()).layer(bare());
    passes("layer_enabled_guarded", &mut svc, &chaos, true);
    group.bench_function("layer_enabled_guarded", |b| bench_calls(b, &mut svc));

    let chaos = sixteen_rules_no_match();
    let mut svc = ChaosLayer::new(chaos.clone()).layer(bare());
    passes("layer_enabled_16_rules_no_match", &mut svc, &chaos, false);
    group.bench_function("layer_enabled_16_rules_no_match", |b| bench_calls(b, &mut svc));

    // The bare service again, after the layer's ids: equal to `bare` when
    // what ran before left nothing behind that slows the later ids (see
    // `common::criterion`). A gap between the two is the harness's, not a cost.
    let mut bare_svc = bare();
    group.bench_function("bare_again", |b| bench_calls(b, &mut bare_svc));

    // A fresh clone of the service for every call, as axum's `Router::layer`
    // calls a layered route: the clone and drop of the engine's handle (an
    // `Arc`) are in the figure.
    group.bench_function("layer_disabled_cloned", |b| bench_cloned_calls(b, &disabled));

    // Every request aborted (503, a body, a header): the cost of the fault
    // itself.
    let mut abort = ChaosLayer::new(enabled_abort()).layer(bare());
    let res = common::drive(&mut abort, common::request());
    assert_eq!(
        (res.status(), res.headers().get("retry-after").map(|v| v.as_bytes())),
        (503.try_into().unwrap(), Some(&b"1"[..]))
    );
    group.bench_function("layer_abort", |b| bench_calls(b, &mut abort));

    // The engine alone, for a call that is not faulted: what a door pays
    // before it calls the inner service.
    let target = Target::new(Door::Service).name("inventory-db");
    let chaos = Chaos::disabled();
    group.bench_function("decide_disabled", |b| b.iter(|| black_box(chaos.decide(black_box(&target))).is_pass()));
    let chaos = enabled_pass();
    group.bench_function("decide_enabled_pass", |b| b.iter(|| black_box(chaos.decide(black_box(&target))).is_pass()));

    // From two threads at once. Two threads sharing nothing: what running
    // two at once costs on this machine by itself (caches, memory, the
    // allocator), for reading the others.
    group.bench_function("bare_2threads", |b| bench_calls_two_threads(b, &bare_svc));
    // Each call on a fresh clone, from both threads: what the threads'
    // clones of the handle share.
    group.bench_function("layer_disabled_cloned_2threads", |b| bench_cloned_calls_two_threads(b, &disabled));
    // Aborts from both threads on one layer: what the threads' faults share.
    group.bench_function("layer_abort_2threads", |b| bench_calls_two_threads(b, &abort));

    group.finish();
}

/// Before an id is timed: it does what it is named for. The bare service
/// answers (200, no rule's header), and a rule matched the call, or none
/// did.
fn passes<S>(id: &str, svc: &mut S, chaos: &Chaos, matched: bool)
where
    S: tower::Service<http::Request<()>, Response = http::Response<()>>,
    S::Error: std::fmt::Debug,
{
    let count = || chaos.status().rules.iter().map(|r| r.matched).sum::<u64>();
    let before = count();
    let res = common::drive(svc, common::request());
    assert_eq!(res.status(), 200, "{id}: answered by the service");
    assert!(res.headers().get("x-mischief-rule").is_none(), "{id}: not faulted");
    assert_eq!(count() - before, u64::from(matched), "{id}: rules matched");
}

fn main() {
    common::main(&[overhead]);
}
