//! Helpers shared by the plugins-directory tests (`plugins_dir*.rs`):
//! temp directories of built plugins, a scanned and watched directory, and
//! polling the registry with a generous deadline.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wasmq::config::Limits;
use wasmq::plugins::{PluginDir, PluginEntry, Registry, spawn_watcher};
use wasmq::runtime::{CancelToken, Invocation, OutcomeKind, Plugin, Runtime, RuntimeOptions};
use wasmq_tests::plugins::plugin;

/// How long the watcher may take to notice and apply a change.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A runtime without the disk cache.
pub fn runtime() -> Runtime {
    Runtime::new(RuntimeOptions {
        disk_cache: false,
        max_instances: 16,
        ..RuntimeOptions::default()
    })
    .expect("create the runtime")
}

/// A temp dir holding `<type>.wasm` copies of the named built plugins.
pub fn plugins_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("create a temp dir");
    for (task_type, built) in files {
        std::fs::copy(plugin(built), dir.path().join(format!("{task_type}.wasm")))
            .expect("copy a plugin");
    }
    dir
}

/// Opens and scans `dir`, then starts the watcher.
pub async fn watched(dir: &Path) -> (Registry, PluginDir, CancellationToken, JoinHandle<()>) {
    let plugins = PluginDir::open(dir, runtime(), Limits::default()).expect("open the plugins dir");
    let registry = Registry::new();
    let report = plugins.scan(&registry).await.expect("scan");
    assert!(report.failed.is_empty(), "initial scan failed: {report:?}");
    let shutdown = CancellationToken::new();
    let watcher =
        spawn_watcher(registry.clone(), plugins.clone(), shutdown.clone()).expect("watch");
    (registry, plugins, shutdown, watcher)
}

pub async fn stop(shutdown: CancellationToken, watcher: JoinHandle<()>) {
    shutdown.cancel();
    tokio::time::timeout(DEADLINE, watcher)
        .await
        .expect("the watcher stops on shutdown")
        .expect("the watcher task does not panic");
}

/// The registry entry of `task_type`, if any.
pub fn entry(registry: &Registry, task_type: &str) -> Option<PluginEntry> {
    registry
        .entries()
        .into_iter()
        .find(|e| e.task_type == task_type)
}

/// Polls until `done` holds, failing with `what` and the entries otherwise.
pub async fn wait_for(registry: &Registry, what: &str, done: impl Fn(&Registry) -> bool) {
    let started = Instant::now();
    while !done(registry) {
        assert!(
            started.elapsed() < DEADLINE,
            "timed out waiting for: {what}\nentries: {:#?}",
            registry.entries()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("{what}: after {:?}", started.elapsed());
}

/// Runs `plugin` on a JSON payload and returns the output content type.
pub async fn content_type(plugin: Plugin) -> String {
    let outcome = plugin
        .run(
            Invocation::new("t:1", "echo", br#"{"a":1}"#.to_vec()),
            &CancelToken::new(),
        )
        .await;
    match outcome.kind {
        OutcomeKind::Success {
            content_type,
            output,
        } => {
            assert_eq!(output, br#"{"a":1}"#);
            content_type.expect("echo sets a content type")
        }
        other => panic!("echo did not succeed: {}", other.describe()),
    }
}

/// Replaces `dest` the way deploy tools do: write a temp file, then rename.
pub fn atomic_replace(source: &Path, dest: &Path) {
    let tmp: PathBuf = dest.with_extension("wasm.tmp");
    std::fs::copy(source, &tmp).expect("write the temp file");
    std::fs::rename(&tmp, dest).expect("rename over the plugin");
}
