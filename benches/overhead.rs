//! The cost of the HTTP layer on a call that is not faulted, against the
//! bare service, in one run: `cargo bench --bench overhead`.

#[path = "common/mod.rs"]
mod common;

use criterion::{Criterion, criterion_group, criterion_main};
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

    let mut svc = bare();
    group.bench_function("bare", |b| bench_calls(b, &mut svc));
    // Two threads sharing nothing: what running two at once costs on this
    // machine by itself (caches, memory, the allocator), for reading
    // `layer_abort_2threads`.
    group.bench_function("bare_2threads", |b| bench_calls_two_threads(b, &svc));

    // A layer that does nothing but wrap the response future (tower's
    // `MapResponse` with the identity): what wrapping alone costs, for
    // telling the layer's own cost from the cost of being a layer.
    let mut svc = tower::util::MapResponseLayer::new(std::convert::identity).layer(bare());
    group.bench_function("noop_layer", |b| bench_calls(b, &mut svc));

    let mut svc = ChaosLayer::new(Chaos::disabled()).layer(bare());
    group.bench_function("layer_disabled", |b| bench_calls(b, &mut svc));

    // A fresh clone of the service for every call, from one thread and from
    // two at once, as axum's `Router::layer` calls a layered route: the
    // clone and drop of the engine's handle (an `Arc`) are in the figure,
    // and what the threads' clones share shows in the second.
    group.bench_function("layer_disabled_cloned", |b| bench_cloned_calls(b, &svc));
    group.bench_function("layer_disabled_cloned_2threads", |b| bench_cloned_calls_two_threads(b, &svc));

    let mut svc = ChaosLayer::new(enabled_pass()).layer(bare());
    group.bench_function("layer_enabled_pass", |b| bench_calls(b, &mut svc));

    let mut svc = ChaosLayer::new(guarded_pass()).layer(bare());
    group.bench_function("layer_enabled_guarded", |b| bench_calls(b, &mut svc));

    let mut svc = ChaosLayer::new(sixteen_rules_no_match()).layer(bare());
    group.bench_function("layer_enabled_16_rules_no_match", |b| bench_calls(b, &mut svc));

    // Every request aborted (503, a body, a header): the cost of the fault
    // itself, from one thread and from two at once on one layer (what the
    // threads' faults share shows only there).
    let mut svc = ChaosLayer::new(enabled_abort()).layer(bare());
    let res = common::drive(&mut svc, common::request());
    assert_eq!(
        (res.status(), res.headers().get("retry-after").map(|v| v.as_bytes())),
        (503.try_into().unwrap(), Some(&b"1"[..]))
    );
    group.bench_function("layer_abort", |b| bench_calls(b, &mut svc));
    group.bench_function("layer_abort_2threads", |b| bench_calls_two_threads(b, &svc));

    // The engine alone, for a call that is not faulted: what a door pays
    // before it calls the inner service.
    let target = Target::new(Door::Service).name("inventory-db");
    let chaos = Chaos::disabled();
    group.bench_function("decide_disabled", |b| b.iter(|| black_box(chaos.decide(black_box(&target))).is_pass()));
    let chaos = enabled_pass();
    group.bench_function("decide_enabled_pass", |b| b.iter(|| black_box(chaos.decide(black_box(&target))).is_pass()));

    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
