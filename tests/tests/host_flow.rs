//! Hosts doing their normal job, as processes: `wasmq run` against a real
//! Redis with real compiled plugins. Many tasks over several hosts, a hot
//! reload under load, adversarial plugins among well-behaved ones, and the
//! HTTP surface of a running host. Plugins removed under load and per-type
//! caps are in `host_plugins.rs`; the binary's config surface is in
//! `host_config.rs`.

use std::collections::HashSet;
use std::time::{Duration, Instant};
use wasmq::task::{TaskSpec, TaskState};
use wasmq_tests::broker::client;
use wasmq_tests::host::{
    HostProcess, completed_at_least, enqueue, eventually, json_tasks, results, settled, statuses,
};
use wasmq_tests::plugins::plugin_bytes;
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisServer;

const LONG: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread")]
async fn two_hosts_run_20000_tasks_of_three_types_exactly_once() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("echo", "echo"), ("noop", "noop"), ("cpu50", "cpu50")]);
    let flags = ["--concurrency", "2", "--heartbeat", "1s"];
    let mut a = HostProcess::start(&redis.url(), plugins.path(), &flags);
    let mut b = HostProcess::start(&redis.url(), plugins.path(), &flags);
    let client = client(&redis.url()).await;
    let queues = ["echo", "noop", "cpu50"];
    let specs: Vec<TaskSpec> = (0..20_000)
        .map(|n| TaskSpec::new(queues[n % 3], serde_json::json!({ "n": n }).to_string()))
        .collect();
    let started = Instant::now();
    let ids = enqueue(&client, specs).await;
    let both_seen = eventually("both hosts in the host registry", LONG, || async {
        let hosts = client.hosts().await.unwrap();
        (hosts.len() == 2).then_some(hosts)
    })
    .await;
    assert!(
        both_seen.iter().all(|h| h.plugins.len() == 3),
        "{both_seen:?}"
    );
    let t = settled(&client, &queues, 20_000, LONG).await;
    println!(
        "20000 tasks over 2 hosts (concurrency 2 each, debug build) in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        (t.completed, t.dead, t.retried, t.expired),
        (20_000, 0, 0, 0),
        "{t:?}"
    );

    for status in statuses(&client, &ids).await {
        assert_eq!(status.state, TaskState::Completed, "{status:?}");
        assert_eq!(status.attempts, 1, "ran more than once: {status:?}");
    }
    let echo_ids: Vec<_> = ids.iter().step_by(3).cloned().collect();
    for (n, result) in results(&client, &echo_ids).await.into_iter().enumerate() {
        let payload = serde_json::json!({ "n": n * 3 }).to_string();
        assert_eq!(result.output, payload.as_bytes(), "{}", result.id);
        assert_eq!(result.attempts, 1);
        assert!(result.plugin_version.is_some(), "{result:?}");
    }

    for host in [&mut a, &mut b] {
        host.terminate();
        let status = host.wait(LONG);
        assert!(status.success(), "{status}:\n{}", host.log());
        assert!(host.log().contains("stopped cleanly"), "{}", host.log());
    }
    let log = a.log() + &b.log();
    assert!(
        !log.contains("stale lease"),
        "no lease may have expired:\n{log}"
    );
    eventually("the hosts to leave the registry", LONG, || async {
        client.hosts().await.unwrap().is_empty().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hot_reload_under_load_serves_both_versions_and_survives_a_corrupt_file() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("echo", "echo")]);
    let mut host = HostProcess::start(&redis.url(), plugins.path(), &["--concurrency", "2"]);
    let client = client(&redis.url()).await;
    let payload = |n: usize| serde_json::json!({ "n": n });
    let mut ids = enqueue(&client, json_tasks("echo", (0..1000).map(payload))).await;
    completed_at_least(&client, &["echo"], 500, LONG).await;
    plugins.replace_atomically("echo", &plugin_bytes("echo-v2"));
    // Keep tasks flowing until the host has swapped v2 in, then some more:
    // the swap happens under load whatever the machine's speed.
    let swapped = |log: &str| log.matches("plugin swapped in").count() >= 2;
    while !swapped(&host.log()) {
        ids.extend(
            enqueue(
                &client,
                json_tasks("echo", (ids.len()..ids.len() + 50).map(payload)),
            )
            .await,
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rest = ids.len().max(4000);
    ids.extend(
        enqueue(
            &client,
            json_tasks("echo", (ids.len()..rest + 1000).map(payload)),
        )
        .await,
    );
    let total = ids.len() as u64;
    let t = settled(&client, &["echo"], total, LONG).await;
    assert_eq!(
        (t.completed, t.dead, t.retried),
        (total, 0, 0),
        "no task may fail during a reload: {t:?}"
    );

    let all = results(&client, &ids).await;
    let types: HashSet<Option<String>> = all.iter().map(|r| r.content_type.clone()).collect();
    let versions: HashSet<Option<String>> = all.iter().map(|r| r.plugin_version.clone()).collect();
    assert!(
        types.contains(&Some("application/json".into())),
        "v1 ran some tasks: {types:?}"
    );
    assert!(
        types.contains(&Some("application/x-echo-v2".into())),
        "v2 ran some tasks: {types:?}"
    );
    assert_eq!(versions.len(), 2, "{versions:?}");
    let v2 = all.last().unwrap().plugin_version.clone();
    println!(
        "reload under load: {} tasks on v1, {} on v2",
        all.iter().filter(|r| r.plugin_version != v2).count(),
        all.iter().filter(|r| r.plugin_version == v2).count()
    );

    plugins.replace_atomically("echo", b"\0asm\x0d\x00\x01\x00 this is not a component");
    host.wait_for_log("plugin failed to load", LONG);
    assert!(
        host.log().contains("echo.wasm"),
        "the error names the file:\n{}",
        host.log()
    );
    let more = enqueue(&client, json_tasks("echo", (0..200).map(payload))).await;
    let t = settled(&client, &["echo"], total + 200, LONG).await;
    assert_eq!((t.completed, t.dead), (total + 200, 0), "{t:?}");
    for result in results(&client, &more).await {
        assert_eq!(
            result.plugin_version, v2,
            "the last good version keeps serving"
        );
        assert_eq!(
            result.content_type.as_deref(),
            Some("application/x-echo-v2")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn adversarial_plugins_retry_and_die_as_configured_while_others_flow() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[
        ("loop", "loop"),
        ("membomb", "membomb"),
        ("echo", "echo"),
        ("noop", "noop"),
    ]);
    plugins
        .manifest("loop", "fuel = 1_000_000_000_000_000\ntimeout = \"300ms\"\nmax_retries = 1\nbackoff_base = \"10ms\"\nbackoff_cap = \"20ms\"\n")
        .manifest("membomb", "memory = \"16MiB\"\n");
    let host = HostProcess::start(&redis.url(), plugins.path(), &["--concurrency", "2"]);
    let client = client(&redis.url()).await;
    let loops = enqueue(
        &client,
        json_tasks("loop", (0..2).map(|n| serde_json::json!({ "n": n }))),
    )
    .await;
    let bombs = enqueue(
        &client,
        json_tasks("membomb", (0..2).map(|_| serde_json::json!({}))),
    )
    .await;
    let mut good = Vec::new();
    for queue in ["echo", "noop"] {
        good.extend(
            enqueue(
                &client,
                json_tasks(queue, (0..1000).map(|n| serde_json::json!({ "n": n }))),
            )
            .await,
        );
    }
    let t = settled(&client, &["loop", "membomb", "echo", "noop"], 2004, LONG).await;
    assert_eq!((t.completed, t.dead), (2000, 4), "{t:?}");
    for status in statuses(&client, &good).await {
        assert_eq!(
            (status.state, status.attempts),
            (TaskState::Completed, 1),
            "{status:?}"
        );
    }
    for status in statuses(&client, &loops).await {
        assert_eq!(status.state, TaskState::Dead, "{status:?}");
        assert_eq!(
            status.attempts, 2,
            "max_retries = 1 in the manifest: {status:?}"
        );
        assert_eq!(
            status.dead_reason.as_deref(),
            Some("retries-exhausted"),
            "{status:?}"
        );
        assert!(
            status
                .last_error
                .as_deref()
                .unwrap_or("")
                .contains("timed out"),
            "{status:?}"
        );
    }
    for status in statuses(&client, &bombs).await {
        assert_eq!(
            (status.state, status.attempts),
            (TaskState::Dead, 1),
            "never retried: {status:?}"
        );
        let error = status.last_error.clone().unwrap_or_default();
        assert!(
            error.contains("allocation refused") || error.contains("out of memory"),
            "{status:?}"
        );
    }
    assert!(
        host.log().contains("task failed for good"),
        "{}",
        host.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_serves_task_metrics_and_plugin_errors_of_a_running_host() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("echo", "echo")]);
    let addr = format!("127.0.0.1:{}", wasmq_tests::redis::free_port());
    let mut host = HostProcess::start(&redis.url(), plugins.path(), &["--http", &addr]);
    host.wait_for_log("HTTP API and dashboard listening", LONG);
    let client = client(&redis.url()).await;
    enqueue(
        &client,
        json_tasks("echo", (0..50).map(|n| serde_json::json!({ "n": n }))),
    )
    .await;
    settled(&client, &["echo"], 50, LONG).await;

    let metrics = wasmq_tests::api::metrics_text(&addr).await;
    let success = metrics
        .lines()
        .find(|l| {
            l.starts_with("wasmq_tasks_total{")
                && l.contains("task_type=\"echo\"")
                && l.contains("outcome=\"success\"")
        })
        .unwrap_or_else(|| panic!("no success counter for echo:\n{metrics}"));
    assert!(success.ends_with(" 50"), "{success}");
    for name in [
        "wasmq_task_duration_seconds_bucket{",
        "wasmq_task_fuel_used_bucket{",
        "wasmq_task_peak_memory_bytes_bucket{",
        "wasmq_leases_in_flight",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }

    plugins.replace_atomically("echo", b"not wasm at all");
    host.wait_for_log("plugin failed to load", LONG);
    let listing: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/plugins"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let echo = &listing["plugins"][0];
    assert_eq!(echo["task_type"], "echo", "{listing}");
    assert_eq!(
        echo["serving"], true,
        "the old version keeps serving: {listing}"
    );
    assert!(
        echo["error"]
            .as_str()
            .is_some_and(|e| e.contains("echo.wasm")),
        "{listing}"
    );
    let stopping = Instant::now();
    host.terminate();
    assert!(host.wait(LONG).success(), "{}", host.log());
    println!("stopped in {:?}", stopping.elapsed());
}
