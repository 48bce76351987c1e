//! Reload latency: from the start of a write of the config file to the first
//! response of a real axum server (through a real reqwest client) that
//! shows the new plan. Prints p50/p90/p99/max per way of writing the file.
//!
//! ```sh
//! cargo bench --features reload --bench reload            # 200 writes per mode, ~1 minute
//! cargo bench --features reload --bench reload -- --test  # smoke run: a few writes per mode
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mischief::Chaos;
use mischief::http::ChaosLayer;
use mischief::reload::WatchOptions;

const GIVE_UP: Duration = Duration::from_secs(10);

#[derive(Clone, Copy)]
enum Write {
    Rename,
    InPlace,
    Kubernetes,
}

struct Mode {
    name: &'static str,
    write: Write,
    options: WatchOptions,
    writes: usize,
    /// The pause after each write is seen is uniform in 5 ms..=this, so
    /// writes are not in step with the poll.
    pause_ms: u64,
}

fn plan(status: u16) -> String {
    format!("rules:\n  - name: always\n    abort: {{ status: {status}, percentage: 100 }}\n")
}

fn write(dir: &Path, path: &Path, how: Write, text: &str, n: usize) {
    match how {
        Write::InPlace => std::fs::write(path, text).expect("write"),
        Write::Rename => {
            let tmp = dir.join(".chaos.yaml.tmp");
            std::fs::write(&tmp, text).expect("write temp");
            std::fs::rename(&tmp, path).expect("rename");
        }
        Write::Kubernetes => {
            let old = std::fs::read_link(dir.join("..data")).expect("..data");
            let version = format!("..v{n}");
            std::fs::create_dir(dir.join(&version)).expect("version dir");
            std::fs::write(dir.join(&version).join("chaos.yaml"), text).expect("payload");
            std::os::unix::fs::symlink(&version, dir.join("..data_tmp")).expect("link");
            std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).expect("swap");
            std::fs::remove_dir_all(dir.join(old)).expect("remove old");
        }
    }
}

fn setup(dir: &Path, how: Write) -> PathBuf {
    let path = dir.join("chaos.yaml");
    match how {
        Write::Kubernetes => {
            std::fs::create_dir(dir.join("..v0")).expect("v0");
            std::fs::write(dir.join("..v0/chaos.yaml"), plan(500)).expect("payload");
            std::os::unix::fs::symlink("..v0", dir.join("..data")).expect("..data");
            std::os::unix::fs::symlink("..data/chaos.yaml", &path).expect("link");
        }
        _ => std::fs::write(&path, plan(500)).expect("write"),
    }
    path
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

async fn measure(mode: &Mode, n_mode: usize) -> Vec<Duration> {
    let dir = std::env::temp_dir().join(format!("mischief-reload-bench-{}-{n_mode}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = setup(&dir, mode.write);
    let chaos = Chaos::builder().build().expect("chaos");
    let guard = chaos.watch_with(&path, mode.options.clone()).expect("watch");

    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" })).layer(ChaosLayer::new(chaos));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let client = reqwest::Client::new();

    let mut latencies = Vec::with_capacity(mode.writes);
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    for i in 1..=mode.writes {
        let status = if i % 2 == 0 { 500 } else { 503 };
        let text = plan(status);
        let start = Instant::now();
        write(&dir, &path, mode.write, &text, i);
        loop {
            let got = client.get(&url).send().await.expect("request").status().as_u16();
            if got == status {
                latencies.push(start.elapsed());
                break;
            }
            assert!(start.elapsed() < GIVE_UP, "{}: write {i} not seen after {GIVE_UP:?}", mode.name);
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        tokio::time::sleep(Duration::from_millis(5 + rng % (mode.pause_ms - 4))).await;
    }
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
    latencies
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--test");
    let (events_writes, poll_writes) = if smoke { (5, 2) } else { (200, 20) };
    let modes = [
        Mode {
            name: "events, rename over",
            write: Write::Rename,
            options: WatchOptions::new(),
            writes: events_writes,
            pause_ms: 25,
        },
        Mode {
            name: "events, write in place",
            write: Write::InPlace,
            options: WatchOptions::new(),
            writes: events_writes,
            pause_ms: 25,
        },
        Mode {
            name: "events, Kubernetes ..data swap",
            write: Write::Kubernetes,
            options: WatchOptions::new(),
            writes: events_writes,
            pause_ms: 25,
        },
        Mode {
            name: "polling only (1 s), rename over",
            write: Write::Rename,
            options: WatchOptions::new().events(false),
            writes: poll_writes,
            pause_ms: 1000,
        },
    ];
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    println!("reload latency: write start -> first response with the new plan (debounce 25 ms)");
    println!("| mode | writes | p50 | p90 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    for (n, mode) in modes.iter().enumerate() {
        let mut lat = rt.block_on(measure(mode, n));
        lat.sort();
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            mode.name,
            lat.len(),
            ms(percentile(&lat, 0.50)),
            ms(percentile(&lat, 0.90)),
            ms(percentile(&lat, 0.99)),
            ms(*lat.last().expect("writes")),
        );
    }
    if smoke {
        println!("(smoke run: too few writes for meaningful percentiles)");
    }
}
