//! Issue 16, task detail: a real host runs the real `image` plugin (which
//! reports progress) and `panic` plugin (whose panic message goes to
//! stderr); each attempt's start, end, outcome, error, fuel, peak memory,
//! wall time, plugin version and log are kept with the task, and shown by
//! `GET /api/v1/tasks/{id}/runs`, `wasmq status ID --verbose` and
//! `wasmq logs ID`.

use std::time::Duration;
use wasmq::task::{TaskId, TaskSpec, TaskState};
use wasmq_tests::api::Api;
use wasmq_tests::cli::wasmq;
use wasmq_tests::host::{HostProcess, eventually};
use wasmq_tests::plugins_dir::PluginsDir;

const SETTLES: Duration = Duration::from_secs(60);

/// The task's run history and its only attempt, which succeeded first time.
async fn one_success(api: &Api, id: &TaskId) -> (serde_json::Value, serde_json::Value) {
    let (status, runs) = api.get(&format!("/api/v1/tasks/{id}/runs")).await;
    assert_eq!(status, 200, "{runs}");
    let attempts = runs["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{runs}");
    let a = attempts[0].clone();
    assert_eq!(
        (a["attempt"].as_u64(), a["outcome"].as_str()),
        (Some(1), Some("success")),
        "{a}"
    );
    (runs, a)
}

/// Runs `n` echo tasks one after the other; the last one's id.
async fn run_echo(api: &Api, n: usize) -> Option<TaskId> {
    let mut last = None;
    for _ in 0..n {
        let id = api
            .client
            .enqueue(TaskSpec::new("echo", r#"{"x":1}"#))
            .await
            .unwrap();
        api.until_state(&id, TaskState::Completed).await;
        last = Some(id);
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_cost_progress_and_logs_are_kept_and_shown() {
    let api = Api::start(None, None).await;
    let plugins = PluginsDir::with(&[("image", "image"), ("panic", "panic")]);
    plugins.manifest(
        "image",
        "[capabilities]\nhttp = [\"http://127.0.0.1:9\"]\nkv = [\"thumbnails\"]\n",
    );
    let _host = HostProcess::start(&api.redis.url(), plugins.path(), &[]);
    let c = &api.client;
    let drawn = c
        .enqueue(TaskSpec::new("image", r#"{"width":64,"height":48}"#))
        .await
        .unwrap();
    let crashing = c
        .enqueue(TaskSpec::new("panic", "{}").max_retries(1))
        .await
        .unwrap();
    api.until_state(&drawn, TaskState::Completed).await;
    api.until_state(&crashing, TaskState::Dead).await;

    // A completed run: its cost and its last progress.
    let (runs, a) = one_success(&api, &drawn).await;
    assert!(a["fuel_used"].as_u64().unwrap() > 0, "{a}");
    assert!(a["peak_memory_bytes"].as_u64().unwrap() >= 65536, "{a}");
    assert!(
        a["wall_ms"].is_u64() && a["plugin_version"].is_string(),
        "{a}"
    );
    assert!(
        a["started_at_ms"].as_u64() <= a["finished_at_ms"].as_u64(),
        "{a}"
    );
    assert_eq!(runs["progress"]["percent"], 100, "{runs}");
    assert_eq!(runs["progress"]["note"], "done", "{runs}");

    // Two failed runs: each with its outcome, error and the log it wrote.
    let (_, runs) = api.get(&format!("/api/v1/tasks/{crashing}/runs")).await;
    let attempts = runs["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{runs}");
    for (n, a) in attempts.iter().enumerate() {
        assert_eq!(a["attempt"].as_u64(), Some(n as u64 + 1), "{a}");
        assert_ne!(a["outcome"], "success", "{a}");
        assert!(
            a["error"].as_str().unwrap().contains("panicked on purpose"),
            "{a}"
        );
        assert!(
            a["log"].as_str().unwrap().contains("panicked on purpose"),
            "{a}"
        );
    }

    // The CLI shows the same.
    let url = api.redis.url();
    let run = wasmq(&url, &["status", &crashing.to_string(), "--verbose"])
        .await
        .expect(0);
    // Every attempt's log, each with its full error.
    for needle in [
        "PEAK MEMORY",
        "WALL MS",
        "--- attempt 1 (",
        "--- attempt 2 (",
        "error: ",
        "panicked on purpose",
    ] {
        assert!(run.stdout.contains(needle), "{needle}: {}", run.stdout);
    }
    let run = wasmq(&url, &["status", &drawn.to_string(), "-v"])
        .await
        .expect(0);
    assert!(
        run.stdout.contains("progress:") && run.stdout.contains("100% done"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("output ("), "{}", run.stdout);
    let run = wasmq(&url, &["status", &drawn.to_string(), "--verbose", "--json"])
        .await
        .expect(0);
    assert_eq!(run.json()["runs"]["attempts"].as_array().unwrap().len(), 1);
    let run = wasmq(&url, &["logs", &crashing.to_string()])
        .await
        .expect(0);
    assert!(
        run.stdout.contains("--- attempt 1 (") && run.stdout.contains("--- attempt 2 ("),
        "{}",
        run.stdout
    );
    let run = wasmq(&url, &["logs", &crashing.to_string(), "--attempt", "2"])
        .await
        .expect(0);
    assert!(!run.stdout.contains("--- attempt 1"), "{}", run.stdout);
    let run = wasmq(&url, &["logs", &drawn.to_string()]).await;
    // The image plugin logs nothing: exit 1 with why.
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("no log kept"), "{}", run.stderr);
    let run = wasmq(&url, &["logs", "not-an-id"]).await.expect(2);
    assert!(!run.stderr.is_empty());
    api.stop().await;
}

/// A first run that succeeds without a log or progress keeps no run hash
/// (its final record has its attempt); its history reads the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_first_run_is_read_from_its_final_record() {
    let api = Api::start(None, None).await;
    let plugins = PluginsDir::with(&[("echo", "echo")]);
    let _host = HostProcess::start(&api.redis.url(), plugins.path(), &[]);
    let id = run_echo(&api, 1).await.unwrap();
    let pattern = format!("*run:{}", id.local());
    let found = api.redis.cli(&["--scan", "--pattern", &pattern]);
    assert_eq!(found.trim(), "", "a run hash was written: {found}");
    let (_, a) = one_success(&api, &id).await;
    for field in [
        "started_at_ms",
        "finished_at_ms",
        "wall_ms",
        "fuel_used",
        "peak_memory_bytes",
    ] {
        assert!(a[field].is_u64(), "{field}: {a}");
    }
    assert!(a["peak_memory_bytes"].as_u64().unwrap() >= 65536, "{a}");
    assert!(a["plugin_version"].is_string() && a["log"].is_null(), "{a}");
    api.stop().await;
}

/// The per-plugin cost panel: runs of two versions of `echo` (the file is
/// swapped while the host runs), each with its quantiles, the newest
/// compared with the one before; and the host's Prometheus histograms
/// labelled with the version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn costs_per_plugin_version_over_http_and_prometheus() {
    let api = Api::start(None, None).await;
    let plugins = PluginsDir::with(&[("echo", "echo")]);
    let addr = format!("127.0.0.1:{}", wasmq_tests::redis::free_port());
    let _host = HostProcess::start(&api.redis.url(), plugins.path(), &["--http", &addr]);
    run_echo(&api, 3).await;
    plugins.replace_atomically("echo", &wasmq_tests::plugins::plugin_bytes("echo-v2"));
    let costs = eventually("runs of two echo versions", SETTLES, || async {
        run_echo(&api, 1).await;
        let (_, costs) = api.get("/api/v1/costs?queue=echo").await;
        (costs["task_types"][0]["versions"].as_array()?.len() == 2).then_some(costs)
    })
    .await;
    let echo = &costs["task_types"][0];
    assert_eq!(echo["task_type"], "echo");
    let (new, old) = (&echo["versions"][0], &echo["versions"][1]);
    // The old version ran until the host swapped the file in.
    assert!(old["runs"].as_u64().unwrap() >= 3, "{costs}");
    for v in [new, old] {
        assert!(v["fuel"]["p50"].as_f64().unwrap() > 0.0, "{v}");
        assert!(
            v["fuel"]["p50"].as_f64() <= v["fuel"]["p99"].as_f64(),
            "{v}"
        );
        assert!(
            v["peak_memory_bytes"]["p95"].as_f64().unwrap() >= 65536.0,
            "{v}"
        );
    }
    assert_eq!(echo["change"]["from"], old["version"], "{costs}");
    assert_eq!(echo["change"]["to"], new["version"], "{costs}");
    assert!(echo["change"]["fuel_p50"].is_f64(), "{costs}");
    let (status, body) = api.get("/api/v1/costs?queue=no%20such").await;
    assert_eq!(status, 400, "{body}");

    // The host's histograms carry the version too.
    let metrics = wasmq_tests::api::metrics_text(&addr).await;
    for name in [
        "wasmq_task_duration_seconds_bucket",
        "wasmq_task_fuel_used_bucket",
        "wasmq_task_peak_memory_bytes_bucket",
    ] {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(name) && l.contains("task_type=\"echo\""))
            .unwrap_or_else(|| panic!("no {name} for echo in\n{metrics}"));
        let version = old["version"].as_str().unwrap();
        assert!(
            metrics.lines().any(
                |l| l.starts_with(name) && l.contains(&format!("plugin_version=\"{version}\""))
            ),
            "{line}"
        );
    }
    api.stop().await;
}

/// Runs `wasmq tail ARGS` while enqueueing `spec` every 200 ms (a tail
/// only sees what happens after it subscribed); returns its stdout lines.
async fn tail_while_enqueueing(
    api: &Api,
    args: &[&str],
    spec: impl Fn() -> TaskSpec,
) -> Vec<serde_json::Value> {
    let url = api.redis.url();
    let tail = wasmq(&url, args);
    tokio::pin!(tail);
    let run = loop {
        tokio::select! {
            run = &mut tail => break run,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                api.client.enqueue(spec()).await.unwrap();
            }
        }
    };
    let run = run.expect(0);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `wasmq tail`: completions and failures as they happen, one line each
/// with its cost, filtered by queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_streams_completions_and_failures_with_their_cost() {
    let api = Api::start(None, None).await;
    let plugins = PluginsDir::with(&[("echo", "echo"), ("panic", "panic")]);
    let _host = HostProcess::start(&api.redis.url(), plugins.path(), &[]);
    let args = ["tail", "echo", "--count", "2", "--json"];
    let lines = tail_while_enqueueing(&api, &args, || TaskSpec::new("echo", "{}")).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    for line in &lines {
        assert_eq!(line["state"], "completed", "{line}");
        assert!(line["id"].as_str().unwrap().starts_with("echo:"), "{line}");
        assert_eq!(line["attempt"]["outcome"], "success", "{line}");
        assert!(line["attempt"]["fuel_used"].as_u64().unwrap() > 0, "{line}");
        assert!(
            line["attempt"]["peak_memory_bytes"].as_u64().unwrap() > 0,
            "{line}"
        );
    }
    let spec = || TaskSpec::new("panic", "{}").max_retries(0);
    let lines =
        tail_while_enqueueing(&api, &["tail", "panic", "--count", "1", "--json"], spec).await;
    assert_eq!(lines[0]["state"], "dead", "{lines:?}");
    assert!(
        lines[0]["attempt"]["error"]
            .as_str()
            .unwrap()
            .contains("panicked"),
        "{lines:?}"
    );
    let url = api.redis.url();
    let bad = wasmq(&url, &["tail", "bad name"]).await.expect(2);
    assert!(bad.stderr.contains("queue name"), "{}", bad.stderr);
    api.stop().await;
}

/// The Grafana dashboard in docs/ is built on names `/metrics` serves: every
/// `wasmq_*` series it queries is one the host records.
#[test]
fn the_grafana_dashboard_uses_real_metric_names() {
    let root = wasmq_tests::plugins::workspace_root();
    let dashboard = std::fs::read_to_string(root.join("docs/grafana/wasmq.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&dashboard).expect("valid JSON");
    assert!(json["panels"].as_array().unwrap().len() >= 10);
    let mut sources = String::new();
    let mut dirs = vec![root.join("host/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    let mut names: Vec<&str> = dashboard
        .match_indices("wasmq_")
        .map(|(i, _)| {
            let end = dashboard[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(dashboard.len(), |n| i + n);
            &dashboard[i..end]
        })
        .filter(|n| *n != "wasmq_") // the dashboard's uid and tags
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        let base = name.strip_suffix("_bucket").unwrap_or(name);
        assert!(
            sources.contains(&format!("\"{base}\"")),
            "{name} is no metric the host records"
        );
    }
}
