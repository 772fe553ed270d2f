//! The host binary's own surface, as processes: the `wasmq dev` demo, a
//! config file with an unknown key, and the order of precedence between the
//! environment and the config file (with JSON logs).

use std::process::Command;
use std::time::Instant;
use wasmq_tests::plugins::{wasmq_bin, workspace_root};
use wasmq_tests::redis::free_port;

/// `wasmq dev --demo` on the fixed ports it is given (`--http`,
/// `--redis-port`), so the dashboard URL is known in advance.
#[test]
fn dev_demo_exits_when_done() {
    let dist = workspace_root().join("plugins/dist");
    wasmq_tests::plugins::build_plugins();
    let (http, redis) = (free_port(), free_port());
    let started = Instant::now();
    let output = Command::new(wasmq_bin())
        .args(["dev", "--demo", "--exit-when-done", "--plugins"])
        .arg(&dist)
        .args(["--http", &format!("127.0.0.1:{http}")])
        .args(["--redis-port", &redis.to_string()])
        .env_remove("WASMQ_PLUGINS")
        .output()
        .expect("run wasmq dev");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{}:\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(&format!("dashboard: http://127.0.0.1:{http}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("wasmq enqueue --redis redis://127.0.0.1:{redis}")),
        "{stdout}"
    );
    assert!(stdout.contains("demo: done"), "{stdout}");
    assert!(stdout.contains("192/192 completed, 8/8 dead"), "{stdout}");
    assert!(
        stdout.contains("mail API: 112 sent"),
        "every good email reached the mail API once, retries included: {stdout}"
    );
    println!(
        "wasmq dev --demo finished in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let dir = stdout
        .lines()
        .find_map(|l| l.split(" in ").nth(1).filter(|_| l.contains("redis:")))
        .map(|d| d.trim_end_matches(')').to_owned())
        .expect("the redis line names its dir");
    assert!(
        !std::path::Path::new(&dir).exists(),
        "{dir} was not removed"
    );
}

/// A taken `--redis-port` is an error that names the flag: the developer's
/// own Redis on that port is never used.
#[test]
fn dev_refuses_a_taken_redis_port() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let output = Command::new(wasmq_bin())
        .args(["dev", "--redis-port", &port.to_string(), "--plugins"])
        .arg(workspace_root().join("plugins/dist"))
        .output()
        .expect("run wasmq dev");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("--redis-port {port}")) && stderr.contains("taken"),
        "{stderr}"
    );
    drop(held);
}

#[test]
fn run_refuses_a_config_file_with_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wasmq.toml");
    std::fs::write(&config, "concurrency = 2\nconsurrency = 8\n").unwrap();
    let output = Command::new(wasmq_bin())
        .args(["run", "--redis", "redis://127.0.0.1:1", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("consurrency") && stderr.contains(config.to_str().unwrap()),
        "{stderr}"
    );
    assert!(stderr.contains("line 2"), "{stderr}");

    // A flag beats the file: the file's bad value is never used.
    std::fs::write(&config, "lease = \"1ms\"\n").unwrap();
    let output = Command::new(wasmq_bin())
        .args([
            "run",
            "--redis",
            "redis://127.0.0.1:1",
            "--lease",
            "5s",
            "--plugins",
            "/nonexistent",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("`lease`"), "{stderr}");
    assert!(
        stderr.contains("/nonexistent"),
        "it got as far as the plugins directory: {stderr}"
    );
    let output = Command::new(wasmq_bin())
        .args(["run", "--redis", "redis://127.0.0.1:1", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`lease` must be between 100ms"), "{stderr}");
}

#[test]
fn environment_beats_the_file_and_json_logs_are_json() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wasmq.toml");
    std::fs::write(&config, "lease = \"1ms\"\n").unwrap();
    let run = |env: &[(&str, &str)]| {
        let mut command = Command::new(wasmq_bin());
        command
            .args([
                "run",
                "--redis",
                "redis://127.0.0.1:1",
                "--plugins",
                "/nonexistent",
                "--config",
            ])
            .arg(&config)
            .env_remove("WASMQ_LEASE")
            .env_remove("WASMQ_LOG_FORMAT");
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().unwrap()
    };
    let bad = run(&[]);
    assert_eq!(bad.status.code(), Some(2));
    let output = run(&[("WASMQ_LEASE", "5s"), ("WASMQ_LOG_FORMAT", "json")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let logged = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["level"] == "ERROR")
        .unwrap_or_else(|| panic!("no JSON error line:\n{stderr}"));
    assert!(
        logged["message"].as_str().unwrap().contains("/nonexistent"),
        "{logged}"
    );
}
