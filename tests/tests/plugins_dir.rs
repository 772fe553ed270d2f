//! The plugins directory with real compiled plugins in temp dirs: the
//! initial scan, and the watcher reacting to atomic renames, in-place
//! overwrites, deletions and manifest edits while older `Plugin` clones keep
//! running.
//!
//! The watcher is asynchronous, so tests poll the registry with a generous
//! deadline and never assert how long a reload took (they print it).

use std::time::{Duration, Instant};
use wasmq::config::Limits;
use wasmq::plugins::{PluginDir, PluginDirError, Registry, SyncOutcome};
use wasmq_tests::plugins::plugin;
use wasmq_tests::plugins_dir::{
    PluginsDir, atomic_replace, content_type, entry, runtime, stop, wait_for, watched,
};

#[tokio::test]
async fn initial_scan_loads_good_plugins_and_reports_broken_ones() {
    let dir = PluginsDir::with(&[("echo", "echo"), ("noop", "noop"), ("noop", "my queue")]);
    std::fs::write(dir.path().join("broken.wasm"), b"definitely not wasm").unwrap();
    std::fs::write(dir.path().join("README.md"), "notes").unwrap();
    std::fs::write(dir.path().join("orphan.toml"), "fuel = 5").unwrap();
    for i in 0..2000 {
        std::fs::write(dir.path().join(format!("junk-{i}.txt")), "x").unwrap();
    }
    let plugins = PluginDir::open(dir.path(), runtime(), Limits::default()).unwrap();
    let registry = Registry::new();
    let started = Instant::now();
    let report = plugins.scan(&registry).await.unwrap();
    println!("scan of {} files: {:?}", 2006, started.elapsed());

    assert_eq!(report.loaded, ["echo", "noop"]);
    let failed: Vec<&str> = report.failed.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(failed, ["broken", "my queue"], "{report:?}");
    assert_eq!(registry.types(), ["echo", "noop"]);
    assert!(registry.get("broken").is_none() && registry.get("orphan").is_none());

    let broken = entry(&registry, "broken").expect("broken.wasm is listed");
    assert!(!broken.is_serving());
    let error = broken.error.expect("with its error");
    assert!(
        error.contains("broken.wasm") && error.contains("not a WebAssembly file"),
        "{error}"
    );
    let bad_name = entry(&registry, "my queue").unwrap().error.unwrap();
    assert!(
        bad_name.contains("my queue.wasm") && bad_name.contains("only letters"),
        "{bad_name}"
    );

    let echo = entry(&registry, "echo").unwrap();
    assert_eq!(echo.error, None);
    assert_eq!(echo.kind.as_deref(), Some("component"));
    assert_eq!(
        echo.version.as_deref(),
        Some(registry.get("echo").unwrap().version())
    );
    assert_eq!(
        content_type(registry.get("echo").unwrap()).await,
        "application/json"
    );

    // A second scan of an unchanged directory changes nothing.
    let generation = registry.generation();
    let again = plugins.scan(&registry).await.unwrap();
    assert_eq!(again.unchanged, ["echo", "noop"]);
    assert_eq!(registry.generation(), generation);
}

#[tokio::test]
async fn a_missing_or_wrong_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = PluginDir::open(&missing, runtime(), Limits::default()).unwrap_err();
    assert!(matches!(err, PluginDirError::Missing { .. }));
    let message = err.to_string();
    assert!(
        message.contains("nope") && message.contains("does not exist; create it or pass --plugins"),
        "{message}"
    );

    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = PluginDir::open(&file, runtime(), Limits::default()).unwrap_err();
    assert!(matches!(err, PluginDirError::NotADirectory { .. }), "{err}");
}

#[tokio::test]
async fn files_above_the_size_cap_are_refused() {
    let dir = PluginsDir::with(&[("echo", "echo"), ("noop", "noop")]);
    let echo_size = std::fs::metadata(dir.path().join("echo.wasm"))
        .unwrap()
        .len();
    let noop_size = std::fs::metadata(dir.path().join("noop.wasm"))
        .unwrap()
        .len();
    let cap = (echo_size + noop_size) / 2;
    let (big, small) = if echo_size > noop_size {
        ("echo", "noop")
    } else {
        ("noop", "echo")
    };
    let plugins = PluginDir::open(dir.path(), runtime(), Limits::default())
        .unwrap()
        .with_max_file_size(cap);
    let registry = Registry::new();
    let report = plugins.scan(&registry).await.unwrap();
    assert_eq!(report.loaded, [small]);
    let error = entry(&registry, big).unwrap().error.unwrap();
    assert!(
        error.contains(&format!("{big}.wasm"))
            && error.contains(&format!("above the {cap} byte limit")),
        "{error}"
    );
}

#[tokio::test]
async fn atomic_rename_swaps_the_version_while_old_clones_keep_running() {
    let dir = PluginsDir::with(&[("echo", "echo"), ("noop", "noop")]);
    let (registry, _plugins, shutdown, watcher) = watched(dir.path()).await;
    let old = registry.get("echo").unwrap();
    let old_version = old.version().to_owned();
    let mut changes = registry.subscribe();
    changes.mark_unchanged();

    atomic_replace(&plugin("echo-v2"), &dir.path().join("echo.wasm"));
    wait_for(&registry, "echo swapped to echo-v2", |r| {
        r.get("echo").is_some_and(|p| p.version() != old_version)
    })
    .await;
    assert!(changes.has_changed().unwrap(), "subscribers see the swap");
    assert_eq!(registry.types(), ["echo", "noop"]);
    assert_eq!(entry(&registry, "echo").unwrap().error, None);

    // The clone taken before the swap still runs the old code.
    assert_eq!(content_type(old).await, "application/json");
    assert_eq!(
        content_type(registry.get("echo").unwrap()).await,
        "application/x-echo-v2"
    );
    stop(shutdown, watcher).await;
}

#[tokio::test]
async fn a_corrupt_overwrite_is_reported_and_the_old_version_keeps_serving() {
    let dir = PluginsDir::with(&[("echo", "echo")]);
    let (registry, plugins, shutdown, watcher) = watched(dir.path()).await;
    let good = registry.get("echo").unwrap();
    let loaded_at = entry(&registry, "echo").unwrap().loaded_at_ms;
    let path = dir.path().join("echo.wasm");
    let good_bytes = std::fs::read(&path).unwrap();

    // In place, truncated: a plausible half-finished copy.
    std::fs::write(&path, &good_bytes[..good_bytes.len() / 2]).unwrap();
    wait_for(&registry, "the corrupt echo is reported", |r| {
        entry(r, "echo").is_some_and(|e| e.error.is_some())
    })
    .await;
    let error = entry(&registry, "echo").unwrap().error.unwrap();
    assert!(error.contains("echo.wasm"), "{error}");
    assert_eq!(registry.get("echo").unwrap().version(), good.version());
    assert_eq!(registry.types(), ["echo"]);
    assert_eq!(
        content_type(registry.get("echo").unwrap()).await,
        "application/json"
    );

    // Restoring the same bytes clears the error without a reload.
    std::fs::write(&path, &good_bytes).unwrap();
    wait_for(&registry, "the restored echo clears its error", |r| {
        entry(r, "echo").is_some_and(|e| e.error.is_none())
    })
    .await;
    let restored = entry(&registry, "echo").unwrap();
    assert_eq!(restored.version.as_deref(), Some(good.version()));
    assert_eq!(restored.loaded_at_ms, loaded_at, "same content: no reload");
    assert!(matches!(
        plugins.sync(&registry, "echo").await,
        SyncOutcome::Unchanged
    ));
    stop(shutdown, watcher).await;
}

#[tokio::test]
async fn deleting_a_plugin_removes_its_type_and_adding_it_back_restores_it() {
    let dir = PluginsDir::with(&[("echo", "echo"), ("noop", "noop")]);
    let (registry, _plugins, shutdown, watcher) = watched(dir.path()).await;
    let running = registry.get("noop").unwrap();

    std::fs::remove_file(dir.path().join("noop.wasm")).unwrap();
    wait_for(&registry, "noop removed", |r| r.types() == ["echo"]).await;
    assert!(registry.get("noop").is_none());
    assert!(entry(&registry, "noop").is_none());
    assert_eq!(running.task_type(), "noop", "a clone outlives the removal");

    std::fs::copy(plugin("noop"), dir.path().join("noop.wasm")).unwrap();
    wait_for(&registry, "noop back", |r| r.types() == ["echo", "noop"]).await;
    assert_eq!(registry.get("noop").unwrap().version(), running.version());

    // A new type appears the same way.
    atomic_replace(&plugin("echo-v2"), &dir.path().join("echo2.wasm"));
    wait_for(&registry, "echo2 added", |r| {
        r.types() == ["echo", "echo2", "noop"]
    })
    .await;
    stop(shutdown, watcher).await;
}

#[tokio::test]
async fn manifest_changes_apply_new_limits_and_bad_manifests_keep_the_old() {
    let dir = PluginsDir::with(&[("echo", "echo")]);
    let (registry, _plugins, shutdown, watcher) = watched(dir.path()).await;
    let version = registry.get("echo").unwrap().version().to_owned();
    let manifest = dir.path().join("echo.toml");

    std::fs::write(
        &manifest,
        "fuel = 123456789\ntimeout = \"3s\"\nmax_concurrency = 2\n",
    )
    .unwrap();
    wait_for(&registry, "manifest limits applied", |r| {
        r.get("echo")
            .is_some_and(|p| p.limits().fuel == 123_456_789)
    })
    .await;
    let echo = entry(&registry, "echo").unwrap();
    assert_eq!(echo.limits.unwrap().timeout, Duration::from_secs(3));
    assert_eq!(echo.limits.unwrap().memory, Limits::DEFAULT_MEMORY);
    assert_eq!(echo.policy.unwrap().max_concurrency, Some(2));
    assert_eq!(echo.version.as_deref(), Some(version.as_str()), "same code");
    assert_eq!(
        registry.get_loaded("echo").unwrap().policy.max_concurrency,
        Some(2)
    );

    std::fs::write(&manifest, "fule = 5\n").unwrap();
    wait_for(&registry, "bad manifest reported", |r| {
        entry(r, "echo").is_some_and(|e| e.error.is_some())
    })
    .await;
    let error = entry(&registry, "echo").unwrap().error.unwrap();
    assert!(
        error.contains("echo.toml") && error.contains("fule"),
        "{error}"
    );
    assert_eq!(
        registry.get("echo").unwrap().limits().fuel,
        123_456_789,
        "old limits keep serving"
    );
    assert_eq!(
        content_type(registry.get("echo").unwrap()).await,
        "application/json"
    );

    std::fs::remove_file(&manifest).unwrap();
    wait_for(&registry, "defaults back without a manifest", |r| {
        r.get("echo")
            .is_some_and(|p| p.limits().fuel == Limits::DEFAULT_FUEL)
            && entry(r, "echo").is_some_and(|e| e.error.is_none())
    })
    .await;
    stop(shutdown, watcher).await;
}

#[tokio::test]
async fn a_removed_directory_empties_the_registry_until_it_is_back() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("plugins");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(plugin("echo"), dir.join("echo.wasm")).unwrap();
    let (registry, _plugins, shutdown, watcher) = watched(&dir).await;
    assert_eq!(registry.types(), ["echo"]);

    std::fs::remove_dir_all(&dir).unwrap();
    wait_for(&registry, "types gone with the directory", |r| {
        r.entries().is_empty()
    })
    .await;

    std::fs::create_dir(&dir).unwrap();
    atomic_replace(&plugin("noop"), &dir.join("noop.wasm"));
    wait_for(&registry, "the recreated directory is watched", |r| {
        r.types() == ["noop"]
    })
    .await;
    std::fs::copy(plugin("echo"), dir.join("echo.wasm")).unwrap();
    wait_for(&registry, "later changes are seen too", |r| {
        r.types() == ["echo", "noop"]
    })
    .await;
    stop(shutdown, watcher).await;
}
