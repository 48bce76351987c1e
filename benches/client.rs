//! The cost of the reqwest middleware when switched off, against the same
//! `ClientWithMiddleware` without it, over real HTTP/1.1 calls to a local
//! axum server (on its own thread and runtime): `cargo bench --bench client`.

use criterion::{Criterion, criterion_group, criterion_main};
use mischief::Chaos;
use mischief::client::ChaosMiddleware;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};

fn server() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
            tx.send(listener.local_addr().expect("address")).expect("send");
            let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
            axum::serve(listener, app).await.expect("server");
        });
    });
    format!("http://{}/", rx.recv().expect("server address"))
}

fn client(c: &mut Criterion) {
    let url = server();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("client");
    let run = |client: &ClientWithMiddleware| {
        rt.block_on(async { client.get(&url).send().await.expect("response").bytes().await.expect("body") })
    };

    let bare = ClientBuilder::new(reqwest::Client::new()).build();
    group.bench_function("bare", |b| b.iter(|| run(&bare)));

    let disabled = ClientBuilder::new(reqwest::Client::new()).with(ChaosMiddleware::new(Chaos::disabled())).build();
    group.bench_function("middleware_disabled", |b| b.iter(|| run(&disabled)));

    group.finish();
}

criterion_group!(benches, client);
criterion_main!(benches);
