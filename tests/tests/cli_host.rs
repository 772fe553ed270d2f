//! The operator commands that involve plugins and a running host:
//! `wasmq plugins check` on real compiled plugins (good, corrupt, truncated,
//! badly configured), and `wasmq cancel` of an infinite loop running in a
//! real `wasmq run` process.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use wasmq_tests::cli::{Run, enqueued_id, wasmq};
use wasmq_tests::plugins::{copy_plugin, plugin_bytes, wasmq_bin};
use wasmq_tests::redis::RedisServer;

/// `plugins check` needs no Redis; point it at a closed port to prove it.
const NO_REDIS: &str = "redis://127.0.0.1:1";

async fn check(file: &Path, cache: &Path, json: bool) -> Run {
    let mut args = vec![
        "plugins",
        "check",
        file.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    if json {
        args.push("--json");
    }
    wasmq(NO_REDIS, &args).await
}

#[tokio::test]
async fn plugins_check_reports_a_good_plugin_with_its_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let file = copy_plugin("echo", dir.path(), "echo");
    std::fs::write(
        dir.path().join("echo.toml"),
        "timeout = \"3s\"\nmax_retries = 2\n",
    )
    .unwrap();

    let report = check(&file, cache.path(), true).await.expect(0).json();
    assert_eq!(report["ok"], true);
    assert_eq!(report["task_type"], "echo");
    assert_eq!(report["kind"], "component");
    assert_eq!(report["limits"]["timeout"], "3s", "the manifest applies");
    assert_eq!(report["policy"]["max_retries"], 2);
    assert_eq!(report["from_cache"], false);
    println!(
        "echo: cold load {:.1} ms",
        report["load_ms"].as_f64().unwrap()
    );

    let run = check(&file, cache.path(), false).await.expect(0);
    for label in [
        "kind:    component",
        "version: ",
        "limits:  ",
        "(from the compile cache)",
    ] {
        assert!(
            run.stdout.contains(label),
            "{label} missing:\n{}",
            run.stdout
        );
    }
    let warm = check(&file, cache.path(), true).await.expect(0).json();
    assert_eq!(warm["from_cache"], true);
    assert_eq!(warm["version"], report["version"]);
    println!(
        "echo: cached load {:.1} ms",
        warm["load_ms"].as_f64().unwrap()
    );
}

#[tokio::test]
async fn plugins_check_refuses_broken_files_with_the_hosts_error() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let echo = plugin_bytes("echo");
    let cases: &[(&str, Vec<u8>, &str)] = &[
        (
            "garbage",
            b"hello, I am not wasm".to_vec(),
            "not a WebAssembly file",
        ),
        (
            "corrupt",
            [&echo[..8], b"\x01\x02\x03 garbage section".as_slice()].concat(),
            "truncated or corrupt",
        ),
        (
            "truncated",
            echo[..echo.len() / 2].to_vec(),
            "truncated or corrupt",
        ),
    ];
    for (name, bytes, _) in cases {
        std::fs::write(dir.path().join(format!("{name}.wasm")), bytes).unwrap();
    }
    for (name, _, hint) in cases {
        let file = dir.path().join(format!("{name}.wasm"));
        let run = check(&file, cache.path(), false).await.expect(1);
        let line = run.stderr.trim();
        assert_eq!(line.lines().count(), 1, "one line: {line}");
        assert!(
            line.contains(&format!("{name}.wasm")),
            "names the file: {line}"
        );
        assert!(line.contains(hint), "says what is wrong ({hint}): {line}");
        assert!(line.contains("a host would not serve this file"), "{line}");
        let report = check(&file, cache.path(), true).await.expect(1).json();
        assert_eq!(report["ok"], false);
        assert!(
            report["error"]
                .as_str()
                .unwrap()
                .contains(&format!("{name}.wasm"))
        );
    }

    copy_plugin("echo", dir.path(), "tuned");
    std::fs::write(dir.path().join("tuned.toml"), "timeot = \"3s\"\n").unwrap();
    let run = check(&dir.path().join("tuned.wasm"), cache.path(), false)
        .await
        .expect(1);
    assert!(
        run.stderr.contains("tuned.toml") && run.stderr.contains("timeot"),
        "{}",
        run.stderr
    );

    let run = check(&dir.path().join("missing.wasm"), cache.path(), false)
        .await
        .expect(1);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    std::fs::write(dir.path().join("echo.bin"), &echo).unwrap();
    let run = check(&dir.path().join("echo.bin"), cache.path(), false)
        .await
        .expect(2);
    assert!(run.stderr.contains("<type>.wasm"), "{}", run.stderr);
}

/// A `wasmq run` process, SIGTERMed (then killed) on drop.
struct Host {
    child: tokio::process::Child,
    log: std::path::PathBuf,
}

impl Host {
    async fn start(url: &str, plugins: &Path, cache: &Path, log: std::path::PathBuf) -> Host {
        let log_file = std::fs::File::create(&log).unwrap();
        let child = tokio::process::Command::new(wasmq_bin())
            .args([
                "run",
                "--redis",
                url,
                "--concurrency",
                "1",
                "--heartbeat",
                "1s",
            ])
            .arg("--plugins")
            .arg(plugins)
            .arg("--cache-dir")
            .arg(cache)
            .env_remove("WASMQ_NAMESPACE")
            .env_remove("WASMQ_CONFIG")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .expect("start wasmq run");
        Host { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
}

/// Polls `wasmq status ID --json` until `done` holds, up to `deadline`.
async fn wait_for_state(
    url: &str,
    id: &str,
    state: &str,
    deadline: Duration,
    host: &Host,
) -> Duration {
    let start = Instant::now();
    loop {
        let status = wasmq(url, &["status", id, "--json"]).await.expect(0).json();
        if status["state"] == state {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < deadline,
            "task {id} did not become {state} within {deadline:?}: {status}\nhost log:\n{}",
            host.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn cancel_interrupts_an_infinite_loop_on_a_running_host() {
    let redis = RedisServer::start();
    let url = redis.url();
    let plugins = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    copy_plugin("loop", plugins.path(), "loop");
    // Neither fuel nor the timeout may stop it first: only the cancel can.
    std::fs::write(
        plugins.path().join("loop.toml"),
        "timeout = \"60s\"\nfuel = 1_000_000_000_000_000\nmax_retries = 0\n",
    )
    .unwrap();
    copy_plugin("echo", plugins.path(), "echo");
    let host = Host::start(
        &url,
        plugins.path(),
        cache.path(),
        cache.path().join("host.log"),
    )
    .await;

    // Wait until the host's heartbeat says it serves both types.
    let start = Instant::now();
    loop {
        let plugins = wasmq(&url, &["plugins", "--json"]).await.expect(0).json();
        let types: Vec<&str> = plugins
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["task_type"].as_str())
            .collect();
        if types.contains(&"loop") && types.contains(&"echo") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "host never served loop and echo:\n{}",
            host.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let hosts = wasmq(&url, &["hosts", "--json"]).await.expect(0).json();
    assert_eq!(hosts.as_array().unwrap().len(), 1, "{hosts}");

    let id = enqueued_id(&wasmq(&url, &["enqueue", "loop", "--json"]).await.expect(0));
    let leased = wait_for_state(&url, &id, "active", Duration::from_secs(30), &host).await;
    println!("loop task active {leased:?} after enqueue");
    tokio::time::sleep(Duration::from_millis(300)).await; // let it spin for real

    let cancel_at = Instant::now();
    let run = wasmq(&url, &["cancel", &id, "--json"]).await.expect(0);
    assert_eq!(run.json()["outcome"], "requested");
    let stopped = wait_for_state(&url, &id, "cancelled", Duration::from_secs(30), &host).await;
    println!(
        "loop task cancelled {:?} after `wasmq cancel` was started ({stopped:?} of polling)",
        cancel_at.elapsed()
    );

    // With concurrency 1, the echo task only runs if the loop really stopped.
    let payload = r#"{"after": "cancel"}"#;
    let echo = enqueued_id(
        &wasmq(&url, &["enqueue", "echo", "--payload", payload, "--json"])
            .await
            .expect(0),
    );
    let done = wait_for_state(&url, &echo, "completed", Duration::from_secs(30), &host).await;
    println!("echo task completed {done:?} after enqueue");
    let result = wasmq(&url, &["result", &echo]).await.expect(0);
    assert_eq!(result.stdout, payload);
}
