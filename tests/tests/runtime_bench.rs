//! Measurements of the runtime, printed rather than asserted (wall-clock
//! figures depend on the machine): compile time of every example plugin,
//! cold and from the disk cache, and the cost of a no-op task (fresh store,
//! instantiate, call, teardown).
//!
//! `cargo test -p wasmq-tests --test runtime_bench -- --ignored --nocapture`

use std::time::{Duration, Instant};
use wasmq::config::Limits;
use wasmq::runtime::{CancelToken, Invocation, OutcomeKind, Runtime, RuntimeOptions};
use wasmq_tests::plugins::plugin;

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
    println!(
        "{:<10} {:>9} {:>12} {:>12}",
        "plugin", "bytes", "compile", "from cache"
    );
    for name in PLUGINS {
        let path = plugin(name);
        let size = std::fs::metadata(&path).unwrap().len();
        let compiled = cold.load(name, &path, Limits::default()).unwrap();
        let cached = warm.load(name, &path, Limits::default()).unwrap();
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
