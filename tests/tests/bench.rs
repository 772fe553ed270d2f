//! `wasmq bench` end to end, as a user runs it: the real binary, the real
//! plugins, a real `redis-server`. At a small N, so the suite stays quick;
//! nothing about speed is asserted (it depends on the machine and on the
//! debug build), only that every task completed and every reported figure
//! is present and sane. The figures themselves are printed. On Cluster and
//! with several hosts it also checks that the bench leaves nothing behind:
//! no key of its namespace on any master, no `wasmq run` child running,
//! whether it ends normally or by Ctrl-C.

use serde_json::Value;
use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use wasmq_tests::plugins::{build_plugins, wasmq_bin, workspace_root};
use wasmq_tests::redis::{RedisCluster, RedisServer};

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

/// `wasmq bench ARGS` (with the built plugins unless ARGS name others),
/// which must fail; returns its stderr.
fn refused(args: &[&str]) -> String {
    let mut command = Command::new(wasmq_bin());
    command.arg("bench").args(args);
    if !args.contains(&"--plugins") {
        command
            .arg("--plugins")
            .arg(workspace_root().join("plugins/dist"));
    }
    let output = command.output().expect("run wasmq bench");
    assert!(!output.status.success(), "wasmq bench {args:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bench_refuses_bad_input_with_a_clear_message() {
    build_plugins();
    let stderr = refused(&["--plugins", "/nonexistent-dir"]);
    assert!(
        stderr.contains("plugins/build.sh") && stderr.contains("/nonexistent-dir"),
        "{stderr}"
    );
    let stderr = refused(&["--redis", "redis+cluster://127.0.0.1:1"]);
    assert!(
        stderr.contains("cannot reach Redis at redis+cluster://127.0.0.1:1")
            && stderr.contains("every node of the cluster, is up"),
        "{stderr}"
    );
    let stderr = refused(&["--redis", "redis+cluster://:Secret@127.0.0.1:1,"]);
    assert!(
        stderr.contains("--redis takes") && stderr.contains("invalid Redis URL"),
        "{stderr}"
    );
    assert!(!stderr.contains("Secret"), "{stderr}");
    for bad in ["0", "65", "many"] {
        let stderr = refused(&["--hosts", bad]);
        assert!(
            stderr.contains(&format!("`{bad}` is not a host count"))
                && stderr.contains("from 1 to 64"),
            "{stderr}"
        );
    }
}

#[test]
fn bench_on_a_cluster_sums_every_master_and_leaves_no_key_on_any() {
    let cluster = RedisCluster::start();
    cluster.cli(&["SET", "someone-else:data", "precious"]);
    // Every node as a seed, written the short way (bare `host:port` after
    // the first); three queues: `noop`, `noop-2`, `noop-3`, on two masters.
    let seeds: Vec<String> = cluster
        .ports()
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let url = format!("redis+cluster://{}", seeds.join(","));
    let output = bench(&["--redis", &url, "--queues", "3"]);
    let v = report(&output);
    check(&v, "noop", "in-process");
    assert_eq!(v["shards"], 3, "three masters: {v}");
    assert_eq!(v["hosts"], 1);
    assert_eq!(v["queues"], 3);
    let mut left = Vec::new();
    for port in cluster.ports() {
        let keys = redis_cli(port, &["--scan"]);
        left.extend(keys.lines().map(|k| format!("{port}: {k}")));
    }
    assert_eq!(left.len(), 1, "only someone else's key is left: {left:?}");
    assert!(left[0].ends_with("someone-else:data"), "{left:?}");
    assert_eq!(
        cluster.cli(&["GET", "someone-else:data"]).trim(),
        "precious"
    );

    // A plain URL to one node would see a third of the data: refused.
    let node = format!("redis://127.0.0.1:{}", cluster.ports()[0]);
    let stderr = refused(&["--redis", &node]);
    assert!(
        stderr.contains("node of a Redis Cluster") && stderr.contains("redis+cluster://"),
        "{stderr}"
    );
}

#[test]
fn bench_with_two_hosts_reports_them_and_stops_them() {
    let server = RedisServer::start();
    let output = bench(&[
        "--redis",
        &server.url(),
        "--hosts",
        "2",
        "--concurrency",
        "2",
    ]);
    let v = report(&output);
    check(&v, "noop", "child");
    assert_eq!(v["hosts"], 2, "{v}");
    assert_eq!(v["shards"], 1, "{v}");
    assert_eq!(v["concurrency"], 2, "{v}");
    assert_eq!(server.cli(&["DBSIZE"]).trim(), "0", "no key left");
    assert_eq!(hosts_of(&server.url()), Vec::<u32>::new(), "no host left");
}

#[test]
fn bench_interrupted_stops_its_hosts_and_deletes_its_keys() {
    build_plugins();
    let server = RedisServer::start();
    server.cli(&["SET", "someone-else:data", "precious"]);
    let mut bench = Command::new(wasmq_bin())
        .args(["bench", "--redis", &server.url(), "--hosts", "2", "--json"])
        .args(["--n", "2000", "--live-n", "100000", "--live-rate", "10"])
        .arg("--plugins")
        .arg(workspace_root().join("plugins/dist"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wasmq bench");
    // Interrupt once both hosts serve: in the drain or the (long) live phase.
    let deadline = Instant::now() + Duration::from_secs(300);
    while hosts_of(&server.url()).len() < 2 {
        assert!(bench.try_wait().unwrap().is_none(), "the bench ended early");
        assert!(Instant::now() < deadline, "the two hosts never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let signal = Command::new("kill")
        .args(["-INT", &bench.id().to_string()])
        .status()
        .unwrap();
    assert!(signal.success());
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = bench.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the bench did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    bench
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success());
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(hosts_of(&server.url()), Vec::<u32>::new(), "no host left");
    assert_eq!(server.cli(&["KEYS", "*"]).trim(), "someone-else:data");
}

/// `redis-cli -p port ARGS`.
fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Process ids of running `wasmq run` processes given `url` (read from
/// `/proc`, so children orphaned by a dead bench count too).
fn hosts_of(url: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, s)| s.starts_with('Z'))
        });
        if args.get(1) == Some(&&b"run"[..]) && args.contains(&url.as_bytes()) && !zombie {
            pids.push(pid);
        }
    }
    pids
}

/// `--plugin PATH` measures any plugin file with no Redis; one that
/// imports HTTP is refused without its grant, and runs with the manifest
/// `--manifest` names.
#[test]
fn bench_measures_a_plugin_file_granted_by_a_manifest() {
    build_plugins();
    let email = workspace_root().join("plugins/dist/email.wasm");
    let email = email.to_str().unwrap();
    let stderr = refused(&["--plugin", email, "--runs", "3"]);
    assert!(stderr.contains("[capabilities]"), "{stderr}");
    let stderr = refused(&["--plugin", "noop", "--manifest", "/x.toml"]);
    assert!(stderr.contains("--plugin PATH"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("grants.toml");
    std::fs::write(
        &manifest,
        "[capabilities]\nhttp = [\"http://127.0.0.1:9\"]\n\
         [config]\nmail_api = \"http://127.0.0.1:9/v1/messages\"\n",
    )
    .unwrap();
    let payload = r#"{"to":"a@b.c","subject":"s","simulate":"transient"}"#;
    let output = Command::new(wasmq_bin())
        .args([
            "bench",
            "--json",
            "--runs",
            "5",
            "--concurrency",
            "3",
            "--plugin",
            email,
        ])
        .arg("--manifest")
        .arg(&manifest)
        .args(["--payload", payload])
        .output()
        .expect("run wasmq bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let v = report(&output);
    assert_eq!(v["plugin"], "email", "{v}");
    assert_eq!(v["outcome"], "retryable", "{v}");
    assert_eq!(
        (v["runs"].as_u64(), v["concurrent"].as_u64()),
        (Some(5), Some(3))
    );
    for field in ["compile_ms", "cache_load_ms", "per_task_mean_ms"] {
        assert!(number(&v, field) > 0.0, "{field}: {v}");
    }
    assert!(number(&v, "fuel_per_task") > 0.0 && number(&v, "memory_per_instance") > 0.0);
}
