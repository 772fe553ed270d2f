//! `wasmq bench` end to end, as a user runs it: the real binary, the real
//! plugins, a real `redis-server`. At a small N, so the suite stays quick;
//! nothing about speed is asserted (it depends on the machine and on the
//! debug build), only that every task completed and every reported figure
//! is present and sane. The figures themselves are printed.

use serde_json::Value;
use std::process::{Command, Output};
use wasmq_tests::plugins::{build_plugins, wasmq_bin, workspace_root};
use wasmq_tests::redis::RedisServer;

const N: u64 = 2000;
const LIVE_N: u64 = 50;

/// Runs `wasmq bench` with `extra` arguments after the common small ones.
fn bench(extra: &[&str]) -> Output {
    build_plugins();
    let dist = workspace_root().join("plugins/dist");
    let output = Command::new(wasmq_bin())
        .args([
            "bench",
            "--n",
            &N.to_string(),
            "--live-n",
            &LIVE_N.to_string(),
        ])
        .args(["--live-rate", "200", "--json", "--plugins"])
        .arg(&dist)
        .args(extra)
        .output()
        .expect("run wasmq bench");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "wasmq bench failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The first stdout line, parsed, after checking it is the only one (--json).
fn report(output: &Output) -> Value {
    let stdout = String::from_utf8(output.stdout.clone()).expect("utf-8 stdout");
    println!("{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "--json prints exactly one line:\n{stdout}");
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {}", lines[0]))
}

fn number(v: &Value, path: &str) -> f64 {
    let mut at = v;
    for part in path.split('.') {
        at = &at[part];
    }
    at.as_f64()
        .unwrap_or_else(|| panic!("field {path} is missing or not a number in {v}"))
}

/// Every field present, counts matching, rates positive, percentiles ordered.
fn check(v: &Value, variant: &str, host_mode: &str) {
    assert_eq!(v["peer"], "wasmq");
    assert_eq!(v["variant"], variant);
    assert_eq!(v["host_mode"], host_mode);
    assert_eq!(number(v, "n"), N as f64);
    assert_eq!(
        number(v, "completed"),
        N as f64,
        "every backlog task completed"
    );
    assert_eq!(
        number(v, "live.n"),
        LIVE_N as f64,
        "every live task completed"
    );
    assert_eq!(number(v, "payload_bytes"), 100.0);
    for field in [
        "enqueue_per_s",
        "process_per_s",
        "bytes_per_job",
        "bytes_per_job_beyond_payload",
        "process_redis_cpu_pct",
        "process_client_cpu_pct",
        "redis_cpu_us_per_task",
        "host_cpu_us_per_task",
        "enqueue_redis_cpu_us_per_task",
        "live.rate",
        "live.achieved_rate",
        "drain_s",
        "host_start_s",
    ] {
        let value = number(v, field);
        assert!(
            value.is_finite() && value > 0.0,
            "{field} = {value} is not positive"
        );
    }
    assert!(number(v, "bytes_per_job") > number(v, "bytes_per_job_beyond_payload"));
    for block in ["lat_backlog_ms", "live"] {
        let [p50, p95, p99, max] =
            ["p50", "p95", "p99", "max"].map(|p| number(v, &format!("{block}.{p}")));
        assert!(p50 >= 0.0, "{block}.p50 = {p50}");
        assert!(
            p50 <= p95 && p95 <= p99 && p99 <= max,
            "{block} percentiles out of order: {p50} {p95} {p99} {max}"
        );
    }
    assert!(
        number(v, "live.max") > 0.0,
        "a live task cannot complete in zero time"
    );
    assert!(number(v, "lat_backlog_ms.max") > 0.0);
}

#[test]
fn bench_on_a_private_redis_completes_every_task_and_reports_every_field() {
    let output = bench(&[]);
    check(&report(&output), "noop", "in-process");
}

#[test]
fn bench_on_a_given_redis_leaves_no_key_behind() {
    let server = RedisServer::start();
    server.cli(&["SET", "someone-else:data", "precious"]);
    let output = bench(&["--redis", &server.url(), "--plugin", "cpu50", "--child"]);
    check(&report(&output), "cpu50", "child");
    let keys = server.cli(&["KEYS", "*"]);
    assert_eq!(
        keys.trim(),
        "someone-else:data",
        "the bench must delete its own keys and only those"
    );
    assert_eq!(server.cli(&["GET", "someone-else:data"]).trim(), "precious");
}

#[test]
fn bench_refuses_bad_input_with_a_clear_message() {
    build_plugins();
    let output = Command::new(wasmq_bin())
        .args(["bench", "--plugins", "/nonexistent-dir"])
        .output()
        .expect("run wasmq bench");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("plugins/build.sh") && stderr.contains("/nonexistent-dir"),
        "{stderr}"
    );
    let output = Command::new(wasmq_bin())
        .args(["bench", "--redis", "redis+cluster://127.0.0.1:1"])
        .args(["--plugins"])
        .arg(workspace_root().join("plugins/dist"))
        .output()
        .expect("run wasmq bench");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("single Redis server"), "{stderr}");
}
