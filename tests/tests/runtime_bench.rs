//! Measurements of the runtime, printed rather than asserted (wall-clock
//! figures depend on the machine): compile time of every example plugin,
//! cold and from the disk cache, and the cost of a no-op task (fresh store,
//! instantiate, call, teardown).
//!
//! `cargo test -p wasmq-tests --test runtime_bench -- --ignored --nocapture`

use std::time::{Duration, Instant};
use wasmq::config::Limits;
use wasmq::runtime::{CancelToken, Invocation, OutcomeKind, Runtime, RuntimeOptions};
use wasmq_tests::plugins::{granted, plugin};

const PLUGINS: &[&str] = &[
    "noop", "echo", "echo-v2", "email", "image", "cpu50", "counter", "loop", "fuel-hog", "membomb",
    "recurse", "escape", "bigout", "panic", "upper",
];

fn runtime(cache: &std::path::Path) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.to_owned()),
        max_instances: 8,
        ..RuntimeOptions::default()
    })
    .unwrap()
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn compile_times_cold_and_cached() {
    let cache = tempfile::tempdir().unwrap();
    let cold = runtime(cache.path());
    let warm = runtime(cache.path());
    // email and image load only with their grants.
    let services = wasmq::cli::demo::DemoServices::start().unwrap();
    println!(
        "{:<10} {:>9} {:>12} {:>12}",
        "plugin", "bytes", "compile", "from cache"
    );
    for name in PLUGINS {
        let path = plugin(name);
        let size = std::fs::metadata(&path).unwrap().len();
        let file = granted(name, &services);
        let compiled = cold.load_file(name, &file, Limits::default()).unwrap();
        let cached = warm.load_file(name, &file, Limits::default()).unwrap();
        assert!(!compiled.from_cache() && cached.from_cache());
        println!(
            "{name:<10} {size:>9} {:>9.1} ms {:>9.2} ms",
            compiled.load_time().as_secs_f64() * 1e3,
            cached.load_time().as_secs_f64() * 1e3
        );
    }
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn noop_task_cost() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime(cache.path());
    let cancel = CancelToken::new();
    // One runtime for all runs, as on a host: the figures are the run's.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    for name in ["noop", "echo", "upper"] {
        let plugin = runtime
            .load(name, &plugin(name), Limits::default())
            .unwrap();
        let mut samples: Vec<Duration> = (0..2000)
            .map(|i| {
                let invocation = Invocation::new(format!("{name}:{i}"), name, b"x".to_vec());
                let started = Instant::now();
                let outcome = rt.block_on(plugin.run(invocation, &cancel));
                let elapsed = started.elapsed();
                assert!(
                    matches!(outcome.kind, OutcomeKind::Success { .. }),
                    "{:?}",
                    outcome.kind
                );
                elapsed
            })
            .collect();
        samples.sort();
        let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
        println!(
            "{name:<6} per task (store + instantiate + call + teardown): median {:.1} µs, p99 {:.1} µs, mean {:.1} µs",
            samples[samples.len() / 2].as_secs_f64() * 1e6,
            samples[samples.len() * 99 / 100].as_secs_f64() * 1e6,
            mean.as_secs_f64() * 1e6
        );
    }
}

/// Per-task cost of a run that uses a capability: one HTTP GET to a local
/// server (`fetch`), and one KV set plus get on a real redis-server (two
/// `tally` runs), next to the no-op run. Wall time per task on one thread.
#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn capability_task_cost() {
    let cache = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let redis = wasmq_tests::redis::RedisServer::start();
    let server = wasmq_tests::http_server::HttpServer::start();
    let runtime = runtime(cache.path());
    let client = rt
        .block_on(wasmq::Client::connect(&redis.url(), Default::default()))
        .unwrap();
    runtime.attach_kv(std::sync::Arc::new(wasmq::worker::RedisKv::new(client)));
    let dir = tempfile::tempdir().unwrap();
    let copy = |name: &str, manifest: &str| {
        let wasm = dir.path().join(format!("{name}.wasm"));
        std::fs::copy(plugin(name), &wasm).unwrap();
        std::fs::write(dir.path().join(format!("{name}.toml")), manifest).unwrap();
        runtime.load(name, &wasm, Limits::default()).unwrap()
    };
    let noop = copy("noop", "");
    let fetch = copy(
        "fetch",
        &format!(
            "[capabilities]\nhttp = [\"http://127.0.0.1:{}\"]\n",
            server.port()
        ),
    );
    let tally = copy("tally", "[capabilities]\nkv = [\"b\"]\n");
    let url = server.url("/hello");
    let cases: [(&str, &wasmq::runtime::Plugin, Vec<String>); 3] = [
        ("noop", &noop, vec![String::new()]),
        (
            "fetch: 1 HTTP GET",
            &fetch,
            vec![format!(r#"{{"url":"{url}"}}"#)],
        ),
        (
            "tally: KV set + get",
            &tally,
            vec![
                r#"{"bucket":"b","set":"k","value":"v"}"#.into(),
                r#"{"bucket":"b","get":"k"}"#.into(),
            ],
        ),
    ];
    for (label, plugin, payloads) in cases {
        let mut samples: Vec<Duration> = (0..500)
            .map(|i| {
                let started = Instant::now();
                for payload in &payloads {
                    let invocation = Invocation::new(
                        format!("t:{i}"),
                        plugin.task_type(),
                        payload.clone().into_bytes(),
                    );
                    let outcome = rt.block_on(plugin.run(invocation, &CancelToken::new()));
                    assert!(
                        outcome.is_success(),
                        "{label}: {:?}\n{}",
                        outcome.kind,
                        outcome.log
                    );
                }
                started.elapsed()
            })
            .collect();
        samples.sort();
        println!(
            "{label:<22} per task: median {:.1} µs, p99 {:.1} µs",
            samples[samples.len() / 2].as_secs_f64() * 1e6,
            samples[samples.len() * 99 / 100].as_secs_f64() * 1e6
        );
    }
}
