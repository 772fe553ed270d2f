//! Plugins distributed through Redis: `wasmq plugins push`, `history`,
//! `rollback` and `remove`, run as a user runs them, against `wasmq run` hosts whose
//! plugins directories are empty, on a standalone server and on a cluster.
//!
//! What must hold: a pushed plugin runs on every host; a new push or a
//! rollback switches every host, and a removal unloads it everywhere (the
//! outputs change: `echo` types JSON
//! payloads `application/json`, `echo-v2` types everything
//! `application/x-echo-v2`); a type both in a directory and pushed is
//! refused with both named; bad input is refused before Redis. The store
//! itself (chunks, bounded history) is tested in `plugins_push_store.rs`.

use std::path::Path;
use std::time::Duration;
use wasmq::Client;
use wasmq::runtime::DEFAULT_MAX_PLUGIN_SIZE;
use wasmq_tests::both_backends;
use wasmq_tests::broker::client;
use wasmq_tests::cli::{Run, wasmq};
use wasmq_tests::host::{HostProcess, enqueue, eventually, json_tasks, results, settled};
use wasmq_tests::plugins::{copy_plugin, plugin, plugin_bytes, target_dir};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisServer;

const LONG: Duration = Duration::from_secs(300);
const V1: &str = "application/json";
const V2: &str = "application/x-echo-v2";

/// `wasmq plugins ARGS`, compiling into the suites' shared cache.
async fn plugins(url: &str, args: &[&str]) -> Run {
    let cache = target_dir().join("wasmq-test-cache");
    let mut all = vec!["plugins"];
    all.extend_from_slice(args);
    if args.first() == Some(&"push") {
        all.extend(["--cache-dir", cache.to_str().unwrap()]);
    }
    wasmq(url, &all).await
}

/// The hex SHA-256 of `bytes`, as the host computes it.
fn sha(bytes: &[u8]) -> String {
    wasmq::runtime::PluginFile::new(Path::new("-"), bytes.to_vec(), None)
        .sha256()
        .to_owned()
}

/// Waits until `n` live hosts all serve a plugin entry starting `prefix`.
async fn hosts_serve(client: &Client, n: usize, prefix: &str) {
    eventually(&format!("{n} hosts serving {prefix}"), LONG, || async {
        let hosts = client.hosts().await.ok()?;
        let serving = hosts
            .iter()
            .filter(|h| h.plugins.iter().any(|p| p.starts_with(prefix)))
            .count();
        (hosts.len() == n && serving == n).then_some(())
    })
    .await;
}

/// Runs `count` echo tasks and returns the content types of their outputs.
async fn echo_types(client: &Client, count: usize) -> Vec<String> {
    let before = wasmq_tests::host::totals(client, &["echo"]).await.settled();
    let payloads = (0..count).map(|n| serde_json::json!({ "n": n }));
    let ids = enqueue(client, json_tasks("echo", payloads)).await;
    settled(client, &["echo"], before + count as u64, LONG).await;
    let mut types: Vec<String> = results(client, &ids)
        .await
        .into_iter()
        .map(|r| r.content_type.unwrap_or_default())
        .collect();
    types.dedup();
    types
}

async fn pushed_plugins_run_on_hosts_with_empty_directories(url: String) {
    let client = client(&url).await;
    let echo = plugin("echo");
    // Pushed before any host starts: hosts load it as they start.
    let run = plugins(&url, &["push", echo.to_str().unwrap()])
        .await
        .expect(0);
    assert!(run.stdout.contains("as `echo` version 1"), "{}", run.stdout);
    let dirs: Vec<PluginsDir> = (0..3).map(|_| PluginsDir::with(&[])).collect();
    let hosts: Vec<HostProcess> = dirs
        .iter()
        .map(|d| HostProcess::start(&url, d.path(), &["--heartbeat", "1s"]))
        .collect();
    let v1_sha = sha(&plugin_bytes("echo"));
    hosts_serve(&client, 3, &format!("echo@v1:{}", &v1_sha[..12])).await;
    assert_eq!(echo_types(&client, 60).await, [V1]);

    // A second version while they run: every host switches.
    let v2 = plugin("echo-v2");
    let run = plugins(
        &url,
        &["push", v2.to_str().unwrap(), "--type", "echo", "--json"],
    )
    .await
    .expect(0);
    let pushed = run.json();
    assert_eq!(pushed["version"], 2);
    assert_eq!(pushed["moved"], true);
    assert_eq!(pushed["sha256"], sha(&plugin_bytes("echo-v2")));
    hosts_serve(&client, 3, "echo@v2:").await;
    assert_eq!(echo_types(&client, 60).await, [V2]);
    // What operators see: `wasmq hosts` and `wasmq plugins` (the API's
    // `/api/v1/hosts` and the dashboard read the same heartbeats).
    let listed = wasmq(&url, &["hosts"]).await.expect(0).stdout;
    assert_eq!(listed.matches("echo@v2:").count(), 3, "{listed}");
    let served = wasmq(&url, &["plugins", "--json"]).await.expect(0).json();
    assert_eq!(served[0]["version"].as_str().unwrap().get(..3), Some("v2:"));
    assert_eq!(served[0]["hosts"].as_array().unwrap().len(), 3);

    let history = plugins(&url, &["history", "echo", "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(history["current"], 2);
    let versions: Vec<u64> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);
    assert_eq!(history["versions"][1]["sha256"], v1_sha);
    let table = plugins(&url, &["history", "echo"]).await.expect(0).stdout;
    assert!(
        table.contains(&v1_sha[..12]) && table.contains('*'),
        "{table}"
    );

    // Back to the previous version, on every host.
    let run = plugins(&url, &["rollback", "echo"]).await.expect(0);
    assert!(run.stdout.contains("now runs version 1"), "{}", run.stdout);
    hosts_serve(&client, 3, "echo@v1:").await;
    assert_eq!(echo_types(&client, 30).await, [V1]);
    let history = plugins(&url, &["history", "echo", "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(history["current"], 1);

    // The current module pushed again changes nothing.
    let run = plugins(&url, &["push", echo.to_str().unwrap(), "--json"])
        .await
        .expect(0);
    assert_eq!(run.json()["moved"], false);
    assert_eq!(run.json()["version"], 1);
    // Forward again by number: the rollback target can be any kept version.
    plugins(&url, &["rollback", "echo", "2"]).await.expect(0);
    hosts_serve(&client, 3, "echo@v2:").await;
    assert_eq!(echo_types(&client, 30).await, [V2]);

    // Removed: every host unloads it and its tasks wait; pushed again, it
    // gets the next number and the waiting task runs.
    let run = plugins(&url, &["remove", "echo", "--json"]).await.expect(0);
    assert_eq!(run.json()["version"], 2);
    eventually("every host to unload echo", LONG, || async {
        let hosts = client.hosts().await.ok()?;
        (hosts.len() == 3 && hosts.iter().all(|h| h.plugins.is_empty())).then_some(())
    })
    .await;
    let before = wasmq_tests::host::totals(&client, &["echo"])
        .await
        .settled();
    let waiting = enqueue(&client, json_tasks("echo", [serde_json::json!({})])).await;
    let refused = plugins(&url, &["history", "echo"]).await.expect(1);
    assert!(
        refused.stderr.contains("never pushed, or removed"),
        "{}",
        refused.stderr
    );
    plugins(&url, &["remove", "echo"]).await.expect(1);
    let run = plugins(&url, &["push", echo.to_str().unwrap(), "--json"])
        .await
        .expect(0);
    assert_eq!(run.json()["version"], 3);
    hosts_serve(&client, 3, "echo@v3:").await;
    settled(&client, &["echo"], before + 1, LONG).await;
    assert_eq!(
        results(&client, &waiting).await[0].content_type.as_deref(),
        Some(V1)
    );
    for host in &hosts {
        assert!(
            host.log().contains("no longer serving it"),
            "{}",
            host.log()
        );
        assert!(
            host.log().contains("serving the pushed plugin"),
            "{}",
            host.log()
        );
    }
}

both_backends!(pushed_plugins_run_on_hosts_with_empty_directories);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_type_in_the_directory_and_pushed_is_refused_naming_both() {
    let redis = RedisServer::start();
    let url = redis.url();
    let client = client(&url).await;
    plugins(&url, &["push", plugin("echo").to_str().unwrap()])
        .await
        .expect(0);

    // At start: the host refuses to run.
    let dir = PluginsDir::with(&[("echo-v2", "echo")]);
    let run = wasmq(&url, &["run", "--plugins", dir.path().to_str().unwrap()]).await;
    assert_ne!(run.code, 0, "{run:?}");
    let file = dir.path().join("echo.wasm");
    for needle in [
        "task type `echo` is both the file",
        file.to_str().unwrap(),
        "pushed to Redis (version 1",
        "delete the file",
    ] {
        assert!(
            run.stderr.contains(needle),
            "no {needle:?} in {}",
            run.stderr
        );
    }

    // Later: a file for a pushed type is refused, the pushed version serves on.
    let dir = PluginsDir::with(&[("noop", "noop")]);
    let mut host = HostProcess::start(&url, dir.path(), &["--heartbeat", "1s"]);
    hosts_serve(&client, 1, "echo@v1:").await;
    copy_plugin("echo-v2", dir.path(), "echo");
    host.wait_for_log("is both pushed to Redis (version 1", LONG);
    assert_eq!(echo_types(&client, 10).await, [V1]);

    // And a push for a type the directory serves: the host keeps its file.
    let v2 = plugin("echo-v2");
    plugins(&url, &["push", v2.to_str().unwrap(), "--type", "noop"])
        .await
        .expect(0);
    host.wait_for_log(
        "noop.wasm in the plugins directory and pushed to Redis",
        LONG,
    );
    let noop = format!("noop@{}", &sha(&plugin_bytes("noop"))[..12]);
    hosts_serve(&client, 1, &noop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_version_a_host_cannot_load_leaves_the_old_one_serving() {
    let redis = RedisServer::start();
    let url = redis.url();
    let client = client(&url).await;
    let dir = PluginsDir::with(&[]);
    let mut host = HostProcess::start(&url, dir.path(), &["--heartbeat", "1s"]);
    plugins(&url, &["push", plugin("echo").to_str().unwrap()])
        .await
        .expect(0);
    hosts_serve(&client, 1, "echo@v1:").await;
    // Past `wasmq plugins push`'s check, as an older client or a bug could.
    let moved = client
        .plugin_push("echo", b"not a module", None, DEFAULT_MAX_PLUGIN_SIZE)
        .await
        .unwrap();
    assert_eq!(moved.version, 2);
    host.wait_for_log("pushed plugin not loaded", LONG);
    assert!(host.log().contains("pushed:echo@v2"), "{}", host.log());
    assert_eq!(echo_types(&client, 10).await, [V1]);
    hosts_serve(&client, 1, "echo@v1:").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_refused_before_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    let scratch = tempfile::tempdir().unwrap();
    let path = |name: &str| scratch.path().join(name);
    let text = |p: &Path| p.to_str().unwrap().to_owned();

    std::fs::write(path("bad.wasm"), "hello").unwrap();
    let run = plugins(&url, &["push", &text(&path("bad.wasm"))])
        .await
        .expect(1);
    assert!(
        run.stderr.contains("bad.wasm") && run.stderr.contains("nothing was pushed"),
        "{}",
        run.stderr
    );

    let big = std::fs::File::create(path("big.wasm")).unwrap();
    big.set_len(DEFAULT_MAX_PLUGIN_SIZE + 1).unwrap();
    let run = plugins(&url, &["push", &text(&path("big.wasm"))])
        .await
        .expect(1);
    assert!(run.stderr.contains("byte limit"), "{}", run.stderr);

    copy_plugin("echo", scratch.path(), "echo");
    std::fs::write(path("echo.toml"), "fuel = \"lots\"\n").unwrap();
    let run = plugins(&url, &["push", &text(&path("echo.wasm"))])
        .await
        .expect(1);
    assert!(
        run.stderr.contains("echo.toml") && run.stderr.contains("fuel"),
        "{}",
        run.stderr
    );

    let run = plugins(
        &url,
        &["push", &text(&path("echo.wasm")), "--type", "no spaces"],
    )
    .await;
    assert!(run.expect(2).stderr.contains("--type"));
    plugins(&url, &["push", &text(&path("missing.wasm"))])
        .await
        .expect(1);
    assert_eq!(redis.cli(&["DBSIZE"]).trim(), "0", "nothing reached Redis");

    let run = plugins(&url, &["rollback", "ghost"]).await.expect(1);
    assert!(
        run.stderr
            .contains("no plugin is pushed for task type `ghost`"),
        "{}",
        run.stderr
    );
    plugins(&url, &["history", "ghost"]).await.expect(1);
    plugins(&url, &["rollback", "echo", "0"]).await.expect(2);

    // A good manifest is pushed with the module and kept with the version.
    std::fs::write(path("echo.toml"), "fuel = 5_000_000\n").unwrap();
    plugins(&url, &["push", &text(&path("echo.wasm"))])
        .await
        .expect(0);
    let run = plugins(&url, &["rollback", "echo"]).await.expect(1);
    assert!(
        run.stderr
            .contains("no version older than its current version 1"),
        "{}",
        run.stderr
    );
    let run = plugins(&url, &["rollback", "echo", "7"]).await.expect(1);
    assert!(
        run.stderr
            .contains("has no version 7; the versions kept are 1"),
        "{}",
        run.stderr
    );
    let history = plugins(&url, &["history", "echo", "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(history["versions"][0]["manifest"], "fuel = 5_000_000\n");
}
