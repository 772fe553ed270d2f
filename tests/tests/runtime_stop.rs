//! Issue 10: a run ends by its deadline or its cancellation whatever the
//! guest is doing — in wasm code (`loop {}`), in a loop of host calls (the
//! clock, stdin) or blocked inside one host call (a WASI sleep) — for both
//! plugin kinds; and runs that wait cost a fiber, not a thread.
//!
//! The guests are `stall` (a component) and `stall-cmd` (a WASI command),
//! built from the same source. Before the async runtime, a guest asleep in
//! WASI ran its whole hour and reported success.
//!
//! Wall-clock bounds here are loose on purpose (a stalled guest would take
//! an hour); the measured overshoot is printed, and the figures are in
//! `docs/benchmarks.md`.

use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use wasmq::config::Limits;
use wasmq::runtime::{
    CancelToken, Invocation, Outcome, OutcomeKind, Plugin, Runtime, RuntimeOptions,
};
use wasmq_tests::plugins::{plugin, test_runtime, wasmq_bin};

/// The two kinds, from the same guest source.
const KINDS: [&str; 2] = ["stall", "stall-cmd"];
/// Every way `stall` holds on to the host.
const MODES: [&str; 4] = ["sleep", "stdin", "clock", "loop"];

/// Generous against a loaded CI machine, tiny against an hour's sleep.
const LOOSE: Duration = Duration::from_secs(30);

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| test_runtime(1100))
}

fn load(name: &str) -> Plugin {
    runtime()
        .load(name, &plugin(name), Limits::default())
        .unwrap_or_else(|e| panic!("load {name}: {e}"))
}

/// An invocation of `mode` with `timeout` and fuel out of reach.
fn stall(kind: &str, mode: &str, timeout: Duration) -> Invocation {
    let mut invocation = Invocation::new(format!("{kind}:1"), kind, format!("\"{mode}\"").into());
    invocation.limits = Some(Limits {
        timeout,
        fuel: Limits::MAX_FUEL,
        ..Limits::default()
    });
    invocation
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stalled_guest_of_either_kind_times_out() {
    let timeout = Duration::from_millis(500);
    for kind in KINDS {
        let plugin = load(kind);
        for mode in MODES {
            let started = Instant::now();
            let outcome = plugin
                .run(stall(kind, mode, timeout), &CancelToken::new())
                .await;
            let took = started.elapsed();
            println!(
                "{kind:<9} {mode:<5} stopped {:>4} ms after its deadline: {}",
                took.saturating_sub(timeout).as_millis(),
                outcome.kind.describe()
            );
            assert!(
                matches!(outcome.kind, OutcomeKind::TimedOut { .. }),
                "{kind} {mode}: {:?}\n{}",
                outcome.kind,
                outcome.log
            );
            assert!(took < LOOSE, "{kind} {mode} ran {took:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_every_stalled_guest_of_either_kind() {
    for kind in KINDS {
        let plugin = load(kind);
        for mode in MODES {
            let cancel = CancelToken::new();
            let canceller = {
                let cancel = cancel.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    cancel.cancel();
                    Instant::now()
                })
            };
            let outcome = plugin
                .run(stall(kind, mode, Duration::from_secs(3600)), &cancel)
                .await;
            let stopped = Instant::now();
            let cancelled_at = canceller.await.unwrap();
            let after = stopped.saturating_duration_since(cancelled_at);
            println!("{kind:<9} {mode:<5} stopped {after:?} after cancel()");
            assert_eq!(outcome.kind, OutcomeKind::Cancelled, "{kind} {mode}");
            assert!(
                after < LOOSE,
                "{kind} {mode} ran on {after:?} after cancel()"
            );
        }
    }
}

/// Dropping the future of a run blocked in a WASI sleep must end the run
/// and give its instance back: with a pool of one, the next run can only
/// start if the dropped one's store is gone.
#[test]
fn dropping_a_run_blocked_in_a_host_call_frees_its_instance() {
    let cache = tempfile::tempdir().unwrap();
    let single = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().to_owned()),
        max_instances: 1,
        ..RuntimeOptions::default()
    })
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    for kind in KINDS {
        let stalled = single.load(kind, &plugin(kind), Limits::default()).unwrap();
        let cancel = CancelToken::new();
        let run = stalled.run(stall(kind, "sleep", Duration::from_secs(3600)), &cancel);
        // Let it start and block in the sleep, then drop it.
        let blocked =
            rt.block_on(async { tokio::time::timeout(Duration::from_millis(300), run).await });
        assert!(blocked.is_err(), "{kind}: the sleep returned: {blocked:?}");
        // The only slot is free again: a run that needs it gets it.
        let next = stalled.run_blocking(
            stall(kind, "not-a-mode", Duration::from_secs(5)),
            &CancelToken::new(),
        );
        assert!(
            matches!(&next.kind, OutcomeKind::Permanent { message } if message.contains("unknown mode")),
            "{kind}: the dropped run still holds its instance: {:?}",
            next.kind
        );
    }
}

/// A thousand runs waiting at once cost fibers, not threads: the process
/// keeps its few threads while they all sleep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sleeping_runs_share_two_threads() {
    let plugin = load("sleep200");
    let threads_before = threads();
    let started = Instant::now();
    let runs: Vec<_> = (0..1000)
        .map(|i| {
            let plugin = plugin.clone();
            tokio::spawn(async move {
                let invocation = Invocation::new(format!("sleep200:{i}"), "sleep200", Vec::new());
                plugin.run(invocation, &CancelToken::new()).await
            })
        })
        .collect();
    // Sample while they sleep.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let threads_during = threads();
    let mut outcomes: Vec<Outcome> = Vec::new();
    for run in runs {
        outcomes.push(run.await.unwrap());
    }
    println!(
        "1000 × sleep200 in {:?}; threads {threads_before} before, {threads_during} during",
        started.elapsed()
    );
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.is_success()).collect();
    assert!(
        failed.is_empty(),
        "{} failed, first: {:?}",
        failed.len(),
        failed[0].kind
    );
    assert!(
        threads_during <= threads_before + 8,
        "runs took threads: {threads_before} before, {threads_during} during"
    );
}

/// Threads of this process, from `/proc/self/status`.
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Threads: line")
}

/// `wasmq call --timeout 2s` of a guest asleep in WASI, for both kinds:
/// exits reporting `timed out`, long before the sleep would end.
#[test]
fn wasmq_call_times_out_a_guest_asleep_in_wasi() {
    let cache = tempfile::tempdir().unwrap();
    // Built (if need be) before the clock starts.
    let bin = wasmq_bin();
    for kind in KINDS {
        let path = plugin(kind);
        let started = Instant::now();
        let output = Command::new(&bin)
            .arg("call")
            .arg(&path)
            .args(["--payload", "\"sleep\"", "--timeout", "2s", "--cache-dir"])
            .arg(cache.path())
            .output()
            .expect("run wasmq call");
        let took = started.elapsed();
        let text = format!(
            "status {}\n--- stdout\n{}--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        println!("{kind}: wasmq call returned after {took:?}\n{text}");
        assert_eq!(output.status.code(), Some(1), "{text}");
        assert!(text.contains("timed out"), "{text}");
        assert!(took < LOOSE, "{kind}: {took:?}");
    }
}

/// A host whose instance pool the process cannot reserve (here under
/// `ulimit -v 64 GiB`) stops at start with the figures and what to change,
/// instead of a bare `mmap` failure or an abort.
#[test]
fn a_host_the_address_space_cannot_hold_says_so_at_start() {
    let plugins = tempfile::tempdir().unwrap();
    let script = format!(
        "ulimit -v {}; exec {} run --redis redis://127.0.0.1:1 --plugins {} --concurrency 100",
        64u64 << 20,
        wasmq_bin().display(),
        plugins.path().display()
    );
    let output = Command::new("bash").args(["-c", &script]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("108 concurrent runs need about"),
        "{stderr}"
    );
    assert!(stderr.contains("lower --concurrency"), "{stderr}");
}
