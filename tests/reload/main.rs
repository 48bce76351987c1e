//! Hot reload on a real file system: in-place writes, rename-over, the
//! Kubernetes ConfigMap symlink swap, truncated and invalid files, deletion
//! and recreation, polling without file events, `CHAOS_CONFIG`, and a real
//! axum server under load while the file is rewritten.
#![cfg(unix)]

#[path = "../support/mod.rs"]
mod support;

mod capture;
mod fs;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mischief::config::{Config, Format};
use mischief::http::ChaosLayer;
use mischief::reload::WatchOptions;
use mischief::{Chaos, ConfigError, Door, Target};
use support::{Hits, client, counting_app, serve, vars};

use fs::{TempDir, k8s_layout, k8s_swap, write_in_place, write_rename};

/// How long a reload may take in these tests. The measured p99 with file
/// events is a few tens of milliseconds (BENCHMARKS.md); this bound is
/// generous so that a loaded CI machine never flakes, and still far below
/// "never".
const RELOAD_BOUND: Duration = Duration::from_secs(20);

/// A plan whose every rule aborts with `status` and body `plan-<tag>`:
/// `probe` (requests with `x-probe`, always) and `flaky` (the rest, half).
fn plan_toml(status: u16, tag: &str) -> String {
    format!(
        r#"# plan {tag}
[[rules]]
name = "probe"
match = {{ headers = [{{ name = "x-probe" }}] }}
abort = {{ status = {status}, body = "plan-{tag}", percentage = 100 }}

[[rules]]
name = "flaky"
abort = {{ status = {status}, body = "plan-{tag}", percentage = 50 }}
"#
    )
}

/// A one-rule plan that always aborts with `status`.
fn always_toml(status: u16) -> String {
    format!("[[rules]]\nname = \"always\"\nabort = {{ status = {status}, percentage = 100 }}\n")
}

fn always_yaml(status: u16) -> String {
    format!("rules:\n  - name: always\n    abort: {{ status: {status}, percentage: 100 }}\n")
}

/// The status an HTTP call gets from the installed plan right now.
fn decided_status(chaos: &Chaos) -> Option<u16> {
    chaos.decide(&Target::new(Door::Http)).fault().map(|f| f.http_status().as_u16())
}

/// Polls `cond` every 2 ms until it holds or `bound` passes.
fn wait_until(bound: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > bound {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn wait_for_status(chaos: &Chaos, status: u16) {
    assert!(
        wait_until(RELOAD_BOUND, || decided_status(chaos) == Some(status)),
        "plan with status {status} not installed within {RELOAD_BOUND:?}; status: {:?}",
        chaos.status()
    );
}

fn wait_for_error(chaos: &Chaos, needle: &str) -> String {
    let mut last = None;
    let found = wait_until(RELOAD_BOUND, || {
        last = chaos.status().last_error;
        last.as_deref().is_some_and(|e| e.contains(needle))
    });
    assert!(found, "no error mentioning {needle:?} within {RELOAD_BOUND:?}; last error: {last:?}");
    last.unwrap_or_default()
}

/// Options for tests that need the poll to run often.
/// Watch options under which only file events reload within a test's
/// bounds: the poll, which would catch a change the events missed, comes
/// once a minute.
fn events_only() -> WatchOptions {
    WatchOptions::new().poll_interval(Duration::from_secs(60))
}

fn fast_poll() -> WatchOptions {
    WatchOptions::new().poll_interval(Duration::from_millis(50))
}

#[derive(Debug)]
struct Response {
    start: Instant,
    end: Instant,
    status: u16,
    body: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_never_serves_a_torn_or_stale_plan() {
    const CLIENTS: usize = 8;
    const MAX_PER_CLIENT: usize = 2000;
    const WRITES: usize = 30;
    let plans = [(500, "a"), (503, "b")];

    let dir = TempDir::new("load");
    let path = dir.path().join("chaos.toml");
    write_in_place(&path, &plan_toml(plans[0].0, plans[0].1));
    let chaos = Chaos::builder().build().unwrap();
    let _guard = chaos.watch_with(&path, events_only()).unwrap();
    let g0 = chaos.status().generation;
    let hits = Hits::default();
    let layer = ChaosLayer::new(chaos.clone()).abort_body(axum::body::Body::from);
    let url = serve(counting_app(&hits).layer(layer)).await;
    let client = client();

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let (client, url, stop, done) = (client.clone(), url.clone(), stop.clone(), done.clone());
        workers.spawn(async move {
            let mut out = Vec::new();
            while out.len() < MAX_PER_CLIENT && !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                let resp = client.get(format!("{url}/work")).send().await.expect("request");
                let status = resp.status().as_u16();
                let body = resp.text().await.expect("body");
                out.push(Response { start, end: Instant::now(), status, body });
                done.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            out
        });
    }

    // The writer: alternate plans, alternate in-place writes and rename-over;
    // after each write, probe until the new plan answers.
    let load_start = Instant::now();
    let mut writes = Vec::new(); // (write started, new plan seen by a probe, plan index)
    let mut probes = 0u64;
    let mut done_before = 0;
    for i in 1..=WRITES {
        // Under load: at least one request per client since the last write
        // (a bound on the wait, not on the machine's speed).
        let waited = Instant::now();
        while done.load(Ordering::Relaxed) < done_before + CLIENTS as u64 {
            assert!(waited.elapsed() < RELOAD_BOUND, "the clients stopped sending before write {i}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        done_before = done.load(Ordering::Relaxed);
        let (status, tag) = plans[i % 2];
        let text = plan_toml(status, tag);
        let written = Instant::now();
        if i % 2 == 0 {
            write_in_place(&path, &text)
        } else {
            write_rename(&path, &text)
        }
        let seen = loop {
            probes += 1;
            let resp = client.get(format!("{url}/probe")).header("x-probe", "1").send().await.expect("probe");
            if resp.status().as_u16() == status {
                assert_eq!(resp.text().await.unwrap(), format!("plan-{tag}"), "torn plan on a probe");
                break Instant::now();
            }
            assert!(
                written.elapsed() < RELOAD_BOUND,
                "write {i} (plan {tag}) not seen within {RELOAD_BOUND:?}; status: {:?}",
                chaos.status()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        writes.push((written, seen, i % 2));
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut responses = Vec::new();
    while let Some(r) = workers.join_next().await {
        responses.extend(r.expect("client"));
    }
    let elapsed = load_start.elapsed();

    // Every response is a success or one of the two plans' outcomes, whole.
    let mut aborted = [0u64; 2];
    for r in &responses {
        match (r.status, r.body.as_str()) {
            (200, "ok") => {}
            (500, "plan-a") => aborted[0] += 1,
            (503, "plan-b") => aborted[1] += 1,
            other => panic!("torn or foreign response {other:?}"),
        }
    }
    // A request that started after a probe saw plan k, and ended before the
    // next write, was decided by plan k (no stale plan after a reload).
    for (k, (_, seen, plan)) in writes.iter().enumerate() {
        let next_write = writes.get(k + 1).map(|w| w.0);
        let wrong = plans[1 - plan].0;
        for r in &responses {
            if r.start > *seen && next_write.is_none_or(|w| r.end < w) {
                assert_ne!(r.status, wrong, "a request after write {} was decided by the old plan", k + 1);
            }
        }
    }
    // (The pacing above already made every write wait for load.)
    let n = responses.len() as u64;
    assert!(aborted[0] > 0 && aborted[1] > 0, "both plans must have aborted requests: {aborted:?}");

    // Counters of the rules (same names in both plans) survived every reload.
    let status = chaos.status();
    assert_eq!(status.generation, g0 + WRITES as u64, "one installation per write: {status:?}");
    assert_eq!(status.last_error, None);
    let flaky = status.rule("flaky").unwrap();
    assert_eq!(flaky.matched, n, "flaky must have counted every load request across {WRITES} reloads");
    assert_eq!(flaky.aborted, aborted[0] + aborted[1]);
    assert_eq!(status.rule("probe").unwrap().matched, probes);
    assert_eq!(hits.get(), n - flaky.aborted, "aborted requests never reach the handler");
    eprintln!("{n} load requests and {probes} probes in {elapsed:?}, {WRITES} reloads, aborts {aborted:?}");
}

#[test]
fn polling_alone_reloads_without_file_events() {
    let dir = TempDir::new("poll");
    let path = dir.path().join("chaos.toml");
    write_in_place(&path, &always_toml(500));
    let chaos = Chaos::builder().build().unwrap();
    let _guard = chaos.watch_with(&path, fast_poll().events(false)).unwrap();
    let g0 = chaos.status().generation;
    assert_eq!(decided_status(&chaos), Some(500));
    for (i, status) in [501, 502, 503, 504].into_iter().enumerate() {
        if i % 2 == 0 {
            write_in_place(&path, &always_toml(status))
        } else {
            write_rename(&path, &always_toml(status))
        }
        wait_for_status(&chaos, status);
    }
    // Same length, rewritten within the same second: the hash tells.
    write_in_place(&path, &always_toml(505));
    wait_for_status(&chaos, 505);
    assert_eq!(chaos.status().generation, g0 + 5);
}

#[test]
fn kubernetes_configmap_symlink_swap() {
    let dir = TempDir::new("k8s");
    let path = k8s_layout(dir.path(), "chaos.yaml", &always_yaml(500));
    assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
    let chaos = Chaos::builder().build().unwrap();
    let _guard = chaos.watch_with(&path, events_only()).unwrap();
    let g0 = chaos.status().generation;
    assert_eq!(decided_status(&chaos), Some(500));
    for (i, status) in [502, 503, 504, 429, 500].into_iter().enumerate() {
        k8s_swap(dir.path(), "chaos.yaml", &always_yaml(status), i + 1);
        wait_for_status(&chaos, status);
    }
    let status = chaos.status();
    assert_eq!((status.generation, status.last_error), (g0 + 5, None));
    assert_eq!(status.source.as_deref(), Some(path.to_str().unwrap()));
    // Only `..data`, the current timestamped directory and the link remain.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[test]
fn editor_rename_over_and_in_place_writes() {
    let dir = TempDir::new("editor");
    let path = dir.path().join("chaos.json");
    let json =
        |s: u16| format!(r#"{{"rules": [{{"name": "always", "abort": {{"status": {s}, "percentage": 100}}}}]}}"#);
    std::fs::write(&path, json(500)).unwrap();
    let chaos = Chaos::builder().build().unwrap();
    let _guard = chaos.watch_with(&path, events_only()).unwrap();
    write_rename(&path, &json(501));
    wait_for_status(&chaos, 501);
    write_in_place(&path, &json(502));
    wait_for_status(&chaos, 502);
    // vim-style: a backup by rename, then a new file.
    std::fs::rename(&path, dir.path().join("chaos.json~")).unwrap();
    std::fs::write(&path, json(503)).unwrap();
    wait_for_status(&chaos, 503);
    assert_eq!(chaos.status().last_error, None);
}

#[test]
fn truncated_and_half_written_files_are_errors_never_installed() {
    let dir = TempDir::new("truncate");
    let path = dir.path().join("chaos.toml");
    let plan_b = plan_toml(503, "b");
    write_in_place(&path, &plan_toml(500, "a"));
    let chaos = Chaos::builder().build().unwrap();
    let _guard = chaos.watch_with(&path, fast_poll()).unwrap();
    let generation = chaos.status().generation;

    // Truncated to nothing.
    std::fs::File::create(&path).unwrap();
    let err = wait_for_error(&chaos, "empty");
    assert!(err.contains(path.to_str().unwrap()), "{err}");
    // Half written: cut inside the second rule.
    write_in_place(&path, &plan_b[..plan_b.len() * 2 / 3]);
    let err = wait_for_error(&chaos, "cannot parse");
    assert!(err.contains(path.to_str().unwrap()), "{err}");
    // Half written: cut after the first rule's name (a rule without a fault).
    let cut = plan_b.find("abort").unwrap();
    write_in_place(&path, &plan_b[..cut]);
    wait_for_error(&chaos, "no fault");
    // Cut inside a multi-byte character: not UTF-8.
    write_in_place_bytes(&path, &"[[rules]]\nname = \"é".as_bytes()[..19]);
    wait_for_error(&chaos, "UTF-8");

    let status = chaos.status();
    assert_eq!(status.generation, generation, "nothing may be installed from a partial file");
    let plan_a = Config::parse(&plan_toml(500, "a"), Format::Toml).unwrap();
    assert_eq!(chaos.config(), plan_a, "the last good plan stays in force");
    assert!(chaos.is_enabled(), "a bad file must not switch chaos off");

    write_in_place(&path, &plan_b);
    let plan_b = Config::parse(&plan_b, Format::Toml).unwrap();
    assert!(wait_until(RELOAD_BOUND, || chaos.config() == plan_b), "{:?}", chaos.status());
    let status = chaos.status();
    assert_eq!((status.generation, status.last_error), (generation + 1, None));
}

fn write_in_place_bytes(path: &std::path::Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn invalid_values_each_name_the_file_and_field() {
    let dir = TempDir::new("invalid");
    let path = dir.path().join("chaos.toml");
    write_in_place(&path, &always_toml(500));
    let chaos = Chaos::builder().build().unwrap();
    let _guard = chaos.watch_with(&path, fast_poll()).unwrap();
    let g0 = chaos.status().generation;
    let rule = |body: &str| format!("[[rules]]\nname = \"r\"\n{body}\n");
    let cases = [
        (rule("abort = { status = 503, percentage = 120 }"), "abort.percentage", "120"),
        (rule("abort = { status = 42, percentage = 5 }"), "abort.status", "42"),
        (rule("abort = { status = \"abc\", percentage = 5 }"), "rules[0].abort.status", "abc"),
        (rule("abort = { status = 503, every = 0 }"), "abort.every", "0"),
        (rule("abort = { status = 503, percent = 5 }"), "rules[0].abort.percent", "percent"),
        (rule("abort = { grpc_status = \"SOMETIMES\", every = 2 }"), "abort.grpc_status", "SOMETIMES"),
        (rule("delay = { fixed = \"soon\", every = 2 }"), "rules[0].delay.fixed", "soon"),
        (rule("delay = { min = \"50ms\", max = \"10ms\", every = 2 }"), "delay.min", "50ms"),
        (rule("match = { door = \"htp\" }\nabort = { status = 503, every = 2 }"), "rules[0].match.door", "htp"),
        (rule("match = { method = \"GE T\" }\nabort = { status = 503, every = 2 }"), "match.method", "GE T"),
        (
            rule("abort = { status = 503, every = 2 }") + &rule("abort = { status = 503, every = 3 }"),
            "duplicate",
            "name",
        ),
        ("seed = -1\nrules = []\n".to_owned(), "seed", "-1"),
    ];
    for (text, field, value) in &cases {
        write_in_place(&path, text);
        let err = wait_for_error(&chaos, field);
        assert!(err.contains(path.to_str().unwrap()) && err.contains(value), "{field}: {err}");
        assert_eq!(chaos.status().generation, g0, "an invalid file was installed: {text}");
        assert_eq!(decided_status(&chaos), Some(500));
    }
}

#[test]
fn deletion_keeps_the_plan_warns_once_and_recreation_applies() {
    capture::install();
    let dir = TempDir::new("delete");
    let path = dir.path().join("chaos.toml");
    write_in_place(&path, &always_toml(500));
    let chaos = Chaos::builder().build().unwrap();
    let _guard = chaos.watch_with(&path, fast_poll()).unwrap();
    let g0 = chaos.status().generation;
    let file = path.to_str().unwrap().to_owned();

    std::fs::remove_file(&path).unwrap();
    let err = wait_for_error(&chaos, "cannot read");
    assert!(err.contains(&file), "{err}");
    // Several polls later, still one warning for this error.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(capture::warnings_about(&file), 1, "one warning per distinct error");
    let status = chaos.status();
    assert_eq!((status.generation, decided_status(&chaos), status.enabled), (g0, Some(500), true));
    assert_eq!(status.source.as_deref(), Some(file.as_str()), "the plan in force still comes from the file");

    // Recreated with the same content: installed again, the error cleared.
    // (Atomic writes here, so that no transient "empty file" error is warned.)
    write_rename(&path, &always_toml(500));
    assert!(wait_until(RELOAD_BOUND, || chaos.status().last_error.is_none()), "{:?}", chaos.status());
    assert_eq!(chaos.status().generation, g0 + 1);
    // And edits go on being applied.
    write_rename(&path, &always_toml(503));
    wait_for_status(&chaos, 503);

    // A new distinct error warns again.
    write_rename(&path, "rules = 5\n");
    wait_for_error(&chaos, "rules");
    assert!(wait_until(RELOAD_BOUND, || capture::warnings_about(&file) == 2));
}

/// The watched directory removed and made again (`rm -rf dir && mkdir
/// dir`, a volume remounted), or moved away and replaced: file events go on,
/// with a poll far too slow to be what notices.
#[test]
fn events_resume_after_the_directory_is_recreated() {
    let dir = TempDir::new("recreate");
    let path = dir.path().join("chaos.toml");
    write_in_place(&path, &always_toml(503));
    let chaos = Chaos::builder().build().unwrap();
    let _guard = chaos.watch_with(&path, WatchOptions::new().poll_interval(Duration::from_secs(30))).unwrap();
    assert_eq!(decided_status(&chaos), Some(503));

    std::fs::remove_dir_all(dir.path()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    std::fs::create_dir_all(dir.path()).unwrap();
    write_in_place(&path, &always_toml(500));
    wait_for_status(&chaos, 500);
    // Not only the first write after the re-watch: later edits too.
    write_rename(&path, &always_toml(501));
    wait_for_status(&chaos, 501);

    // Again, the new directory and the file in it made at once.
    std::fs::remove_dir_all(dir.path()).unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    write_rename(&path, &always_toml(502));
    wait_for_status(&chaos, 502);
    write_in_place(&path, &always_toml(504));
    wait_for_status(&chaos, 504);

    // Moved away, and a new directory put in its place.
    let moved = dir.path().with_extension("old");
    let _ = std::fs::remove_dir_all(&moved);
    std::fs::rename(dir.path(), &moved).unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    write_in_place(&path, &always_toml(429));
    wait_for_status(&chaos, 429);
    write_in_place(&path, &always_toml(500));
    wait_for_status(&chaos, 500);
    // (Whether the old directory is still watched cannot be seen from here:
    // an event there makes the watcher read the configured path, whose
    // content is unchanged, and nothing is installed either way.)
    std::fs::remove_dir_all(&moved).unwrap();
    assert_eq!(chaos.status().last_error, None);
}

#[test]
fn dropping_the_guard_stops_watching() {
    let dir = TempDir::new("drop");
    let path = dir.path().join("chaos.toml");
    write_in_place(&path, &always_toml(500));
    let chaos = Chaos::builder().build().unwrap();
    let guard = chaos.watch_with(&path, fast_poll()).unwrap();
    let g0 = chaos.status().generation;
    assert!(guard.path().is_absolute());
    write_in_place(&path, &always_toml(501));
    wait_for_status(&chaos, 501);
    drop(guard); // joins the watcher thread
    write_in_place(&path, &always_toml(502));
    std::thread::sleep(Duration::from_millis(300)); // six poll periods
    assert_eq!(decided_status(&chaos), Some(501));
    assert_eq!(chaos.status().generation, g0 + 1);
}

#[test]
fn watch_fails_on_a_bad_file_and_installs_nothing() {
    let dir = TempDir::new("bad-start");
    let chaos = Chaos::builder().build().unwrap();
    let missing = dir.path().join("missing.toml");
    let err = chaos.watch(&missing).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }) && err.to_string().contains("missing.toml"), "{err}");
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "rules:\n  - name: x\n    abort: { status: 503, percentage: 101 }\n").unwrap();
    let err = chaos.watch(&bad).unwrap_err().to_string();
    assert!(err.contains("bad.yml") && err.contains("abort.percentage") && err.contains("101"), "{err}");
    assert_eq!(chaos.status().generation, 1);
    assert!(chaos.status().rules.is_empty());
}

#[test]
fn chaos_config_loads_watches_and_replaces_the_env_rule() {
    let dir = TempDir::new("env");
    let path = dir.path().join("chaos.toml");
    write_in_place(&path, &always_toml(500));
    let file = path.to_str().unwrap();
    let chaos = Chaos::from_env_with(vars(&[
        ("CHAOS_ENABLED", "true"),
        ("CHAOS_FAILURE_RATE", "0.5"),
        ("CHAOS_SEED", "7"),
        ("CHAOS_CONFIG", file),
    ]))
    .unwrap();
    let status = chaos.status();
    assert!(status.enabled);
    assert_eq!(status.rules.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["always"], "no `env` rule");
    assert_eq!(status.seed, Some(7), "CHAOS_SEED applies when the file has no seed");
    assert_eq!(status.source.as_deref(), Some(file));

    // Watched: an edit applies; the file's seed wins over CHAOS_SEED.
    write_in_place(&path, &format!("seed = 3\n{}", always_toml(503)));
    wait_for_status(&chaos, 503);
    assert_eq!(chaos.status().seed, Some(3));

    // The master switch stays with CHAOS_ENABLED / set_enabled.
    chaos.set_enabled(false);
    write_in_place(&path, &always_toml(504));
    assert!(wait_until(RELOAD_BOUND, || chaos.config().rules[0].abort.as_ref().unwrap().status == Some(504)));
    assert!(!chaos.is_enabled(), "a reload must not switch chaos on");
    assert_eq!(decided_status(&chaos), None);
    chaos.set_enabled(true);
    assert_eq!(decided_status(&chaos), Some(504));

    let off = Chaos::from_env_with(vars(&[("CHAOS_CONFIG", file)])).unwrap();
    assert!(!off.is_enabled(), "CHAOS_ENABLED defaults to off, file or not");
    assert_eq!(off.status().rules.len(), 1);
}

#[test]
fn chaos_config_errors_name_the_file_or_the_variable() {
    let dir = TempDir::new("env-bad");
    let bad = dir.path().join("chaos.toml");
    write_in_place(&bad, "[[rules]]\nname = \"x\"\nabort = { status = 503, percentage = 150 }\n");
    let err = Chaos::from_env_with(vars(&[("CHAOS_ENABLED", "true"), ("CHAOS_CONFIG", bad.to_str().unwrap())]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("chaos.toml") && err.contains("abort.percentage") && err.contains("150"), "{err}");

    let missing = dir.path().join("nope.yaml");
    let err = Chaos::from_env_with(vars(&[("CHAOS_CONFIG", missing.to_str().unwrap())])).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }) && err.to_string().contains("nope.yaml"), "{err}");

    // Bad variables are still errors with a file given.
    write_in_place(&bad, &always_toml(500));
    let err = Chaos::from_env_with(vars(&[("CHAOS_FAILURE_RATE", "2"), ("CHAOS_CONFIG", bad.to_str().unwrap())]))
        .unwrap_err();
    assert!(matches!(err, ConfigError::Env { var: "CHAOS_FAILURE_RATE", .. }), "{err:?}");
}

#[test]
fn counters_survive_a_reload_for_rules_whose_names_persist() {
    let dir = TempDir::new("counters");
    let path = dir.path().join("chaos.toml");
    let rule = |name: &str, point: &str| {
        format!("[[rules]]\nname = \"{name}\"\nmatch = {{ name = \"{point}\" }}\ndelay = {{ fixed = 0, every = 2 }}\n")
    };
    write_in_place(&path, &(rule("keep", "k") + &rule("gone", "g")));
    let chaos = Chaos::builder().build().unwrap();
    let _guard = chaos.watch(&path).unwrap();
    for _ in 0..10 {
        let _ = chaos.decide(&Target::point("k"));
        let _ = chaos.decide(&Target::point("g"));
    }
    write_in_place(&path, &(rule("new", "g") + &rule("keep", "k")));
    assert!(wait_until(RELOAD_BOUND, || chaos.status().rule("new").is_some()));
    let status = chaos.status();
    let keep = status.rule("keep").unwrap();
    assert_eq!((keep.matched, keep.delayed), (10, 5), "kept rule keeps its counters");
    assert_eq!(status.rule("new").unwrap().matched, 0);
    assert!(status.rule("gone").is_none());

    write_in_place(&path, &(rule("keep", "k") + &rule("gone", "g")));
    assert!(wait_until(RELOAD_BOUND, || chaos.status().rule("gone").is_some()));
    assert_eq!(chaos.status().rule("gone").unwrap().matched, 0, "a removed rule starts over when it comes back");
    assert_eq!(chaos.status().rule("keep").unwrap().matched, 10);
}

#[test]
fn status_serializes_the_file_load_time_and_error() {
    let dir = TempDir::new("status");
    let path = dir.path().join("chaos.toml");
    write_in_place(&path, &always_toml(500));
    let chaos = Chaos::builder().build().unwrap();
    let before = std::time::SystemTime::now();
    let _guard = chaos.watch_with(&path, fast_poll()).unwrap();
    let (loaded_at, g0) = (chaos.status().loaded_at, chaos.status().generation);
    assert!(loaded_at >= before);
    write_in_place(&path, "rules = [");
    wait_for_error(&chaos, "cannot parse");
    let status = chaos.status();
    assert_eq!(status.loaded_at, loaded_at, "loaded_at is the last good load");
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["source"], path.to_str().unwrap());
    assert_eq!(json["generation"], g0);
    assert!(json["last_error"].as_str().unwrap().contains("chaos.toml"));
    let stamp = json["loaded_at"].as_str().unwrap();
    assert!(stamp.ends_with('Z') && stamp.contains('T'), "RFC 3339: {stamp}");
}

/// A watcher and `update` take turns, the last change winning: after an
/// `update` from code, the file written again with the very content it had
/// is installed again; merely read again (a poll), it is not.
#[test]
fn the_file_written_again_after_an_update_wins_even_unchanged() {
    let dir = TempDir::new("rewrite");
    let path = dir.path().join("chaos.toml");
    std::fs::write(&path, always_toml(500)).unwrap();
    let chaos = Chaos::builder().build().unwrap();
    let _guard = chaos.watch_with(&path, fast_poll()).unwrap();
    chaos.update(Config::parse(&always_toml(503), Format::Toml).unwrap()).unwrap();
    // Polls every 50 ms read the file and leave the update in force.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(decided_status(&chaos), Some(503), "a re-read does not undo the update");
    write_rename(&path, &always_toml(500));
    wait_for_status(&chaos, 500);
}

const GLOBAL_CHILD: &str = "MISCHIEF_RELOAD_GLOBAL_CHILD";

/// The global handle built while its `CHAOS_CONFIG` file is invalid (a pod
/// started while its ConfigMap had a typo) applies no rule and says why,
/// and installs the file once it is fixed, where it stayed switched off
/// for the life of the process. Runs itself again as a child process with
/// the environment set: the global handle is process-wide.
#[test]
fn the_global_handle_installs_its_file_once_fixed() {
    const TEST: &str = "the_global_handle_installs_its_file_once_fixed";
    let Some(path) = std::env::var_os(GLOBAL_CHILD) else {
        let dir = TempDir::new("global");
        let path = dir.path().join("chaos.toml");
        std::fs::write(&path, always_toml(5003)).unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child.args(["--exact", TEST, "--nocapture", "--test-threads=1"]).env(GLOBAL_CHILD, &path);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("CHAOS_") {
                child.env_remove(name);
            }
        }
        let out = child.env("CHAOS_ENABLED", "true").env("CHAOS_CONFIG", &path).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    };
    let path = std::path::PathBuf::from(path);
    let chaos = Chaos::global();
    let status = chaos.status();
    assert!(status.enabled, "not switched off by the file: {status:?}");
    assert!(status.rules.is_empty());
    let error = status.last_error.expect("the file's error is in the status");
    assert!(error.contains("chaos.toml") && error.contains("5003"), "{error}");
    assert_eq!(decided_status(chaos), None, "no rule applies");
    write_rename(&path, &always_toml(503));
    wait_for_status(chaos, 503);
    assert_eq!(chaos.status().last_error, None);
}
