//! Plugins directories, as hosts load and watch them: temp directories of
//! real compiled plugins (with manifests when a test needs grants or
//! limits), a scanned registry with its watcher running, and polling the
//! registry with a generous deadline, because the watcher applies changes
//! asynchronously and tests must wait on state, never on time.

use crate::plugins::copy_plugin;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wasmq::config::Limits;
use wasmq::plugins::{PluginDir, PluginEntry, Registry, spawn_watcher};
use wasmq::runtime::{CancelToken, Invocation, OutcomeKind, Plugin, Runtime, RuntimeOptions};

/// A plugins directory in a temp dir holding copies of built plugins.
#[derive(Debug)]
pub struct PluginsDir {
    dir: tempfile::TempDir,
}

impl PluginsDir {
    /// A directory with each `(built plugin, task type)` copied in.
    pub fn with(plugins: &[(&str, &str)]) -> PluginsDir {
        let dir = tempfile::Builder::new()
            .prefix("wasmq-plugins-")
            .tempdir()
            .unwrap();
        for (name, as_type) in plugins {
            copy_plugin(name, dir.path(), as_type);
        }
        PluginsDir { dir }
    }

    /// Writes `<task_type>.toml` with `text`.
    pub fn manifest(&self, task_type: &str, text: &str) -> &Self {
        std::fs::write(self.path().join(format!("{task_type}.toml")), text).unwrap();
        self
    }

    /// Writes `<task_type>.toml` with `limits` (top-level keys, may be
    /// empty) and the grants `email` or `image` need to reach `services`.
    pub fn granted(
        &self,
        task_type: &str,
        services: &wasmq::cli::demo::DemoServices,
        limits: &str,
    ) -> &Self {
        let grants = services
            .manifest_text(task_type)
            .unwrap_or_else(|| panic!("the demo grants nothing to {task_type}"));
        self.manifest(task_type, &format!("{limits}{grants}"))
    }

    /// Replaces `<task_type>.wasm` the way a deploy should: write a temp
    /// file, then rename it over the old one.
    pub fn replace_atomically(&self, task_type: &str, bytes: &[u8]) {
        let tmp = self.path().join(format!(".{task_type}.wasm.tmp"));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, self.path().join(format!("{task_type}.wasm"))).unwrap();
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

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

/// Cancels the watcher and waits for it to end.
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
