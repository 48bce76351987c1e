//! The cost of the HTTP layer on a call that is not faulted, against the
//! bare service, in one run: `cargo bench --bench overhead`.

#[path = "common/mod.rs"]
mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use mischief::Chaos;
use mischief::http::ChaosLayer;
use tower::Layer;

use common::{bare, bench_calls, enabled_pass, sixteen_rules_no_match};

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let _guard = rt.enter();
    let mut group = c.benchmark_group("overhead");

    let mut svc = bare();
    group.bench_function("bare", |b| bench_calls(b, &mut svc));

    let mut svc = ChaosLayer::new(Chaos::disabled()).layer(bare());
    group.bench_function("layer_disabled", |b| bench_calls(b, &mut svc));

    let mut svc = ChaosLayer::new(enabled_pass()).layer(bare());
    group.bench_function("layer_enabled_pass", |b| bench_calls(b, &mut svc));

    let mut svc = ChaosLayer::new(sixteen_rules_no_match()).layer(bare());
    group.bench_function("layer_enabled_16_rules_no_match", |b| bench_calls(b, &mut svc));

    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
