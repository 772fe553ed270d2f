//! What the plugins directory must survive: FIFOs named like plugins or
//! manifests (which used to hang the host in `open`), symlinks out of the
//! directory (which used to be followed), oversized manifests (read whole)
//! and a file replaced between hashing and compiling.
//!
//! A test that could hang on a regression runs on its own thread and
//! runtime, under [`bounded`]: a hang fails the test instead of blocking the
//! suite (the stuck thread is abandoned). The bound is a liveness limit, not
//! a timing assertion.

#![cfg(unix)]

use std::future::Future;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;
use wasmq::config::{Limits, MAX_MANIFEST_SIZE};
use wasmq::plugins::{PluginDir, Registry};
use wasmq::runtime::{DEFAULT_MAX_PLUGIN_SIZE, PluginFile};
use wasmq_tests::plugins::plugin;
use wasmq_tests::plugins_dir::{PluginsDir, content_type, entry, runtime, stop, wait_for, watched};

/// Longer than the watcher deadline of the helpers, so that their own
/// failure (with its message) comes first.
const HANG: Duration = Duration::from_secs(150);

/// Runs `body` on a fresh runtime on its own thread, failing if it does not
/// finish within [`HANG`].
fn bounded<F, Fut>(what: &str, body: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("build a tokio runtime");
        runtime.block_on(body());
        let _ = done.send(());
    });
    match finished.recv_timeout(HANG) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: still blocked after {HANG:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: failed (see above)"),
    }
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn a_fifo_named_wasm_is_refused_without_hanging() {
    bounded("scanning a FIFO named echo.wasm", || async {
        let dir = PluginsDir::with(&[("noop", "noop")]);
        let fifo = dir.path().join("echo.wasm");
        mkfifo(&fifo);
        let plugins = PluginDir::open(dir.path(), runtime(), Limits::default()).unwrap();
        let registry = Registry::new();
        let report = plugins.scan(&registry).await.unwrap();
        assert_eq!(
            report.loaded,
            ["noop"],
            "the other plugins load: {report:?}"
        );
        let error = entry(&registry, "echo").unwrap().error.unwrap();
        assert!(
            error.contains(&fifo.display().to_string())
                && error.contains("not a regular file: it is a FIFO")
                && error.contains("a plugin must be a regular file"),
            "{error}"
        );
        assert!(registry.get("echo").is_none());

        // `wasmq call FILE` reads through the same code.
        let error = runtime()
            .load("echo", &fifo, Limits::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("it is a FIFO"), "{error}");
    });
}

#[test]
fn a_fifo_manifest_is_refused() {
    bounded("the watcher meeting a FIFO named echo.toml", || async {
        let dir = PluginsDir::with(&[("echo", "echo")]);
        let manifest = dir.path().join("echo.toml");
        std::fs::write(&manifest, "fuel = 123456789\n").unwrap();
        let (registry, _plugins, shutdown, watcher) = watched(dir.path()).await;
        assert_eq!(registry.get("echo").unwrap().limits().fuel, 123_456_789);

        // Swapped in at once, so no sync sees the manifest missing.
        let temp = dir.path().join(".echo.toml.tmp");
        mkfifo(&temp);
        std::fs::rename(&temp, &manifest).unwrap();
        wait_for(&registry, "the FIFO manifest is reported", |r| {
            entry(r, "echo").is_some_and(|e| e.error.is_some())
        })
        .await;
        let error = entry(&registry, "echo").unwrap().error.unwrap();
        assert!(
            error.contains("echo.toml")
                && error.contains("it is a FIFO")
                && error.contains("a plugin manifest must be a regular file"),
            "{error}"
        );
        let serving = registry.get("echo").unwrap();
        assert_eq!(serving.limits().fuel, 123_456_789, "the old version serves");
        assert_eq!(content_type(serving).await, "application/json");

        // The watcher is still alive: removing the FIFO restores defaults.
        std::fs::remove_file(&manifest).unwrap();
        wait_for(&registry, "defaults back without the FIFO", |r| {
            r.get("echo")
                .is_some_and(|p| p.limits().fuel == Limits::DEFAULT_FUEL)
                && entry(r, "echo").is_some_and(|e| e.error.is_none())
        })
        .await;
        stop(shutdown, watcher).await;
    });
}

#[tokio::test]
async fn a_symlink_out_of_the_directory_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let (dir, elsewhere) = (root.path().join("plugins"), root.path().join("elsewhere"));
    std::fs::create_dir(&dir).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::copy(plugin("echo"), elsewhere.join("echo.wasm")).unwrap();
    std::fs::write(elsewhere.join("noop.toml"), "fuel = 7\n").unwrap();
    symlink("../elsewhere/echo.wasm", dir.join("echo.wasm")).unwrap();
    std::fs::copy(plugin("noop"), dir.join("noop.wasm")).unwrap();
    symlink(elsewhere.join("noop.toml"), dir.join("noop.toml")).unwrap();

    let plugins = PluginDir::open(&dir, runtime(), Limits::default()).unwrap();
    let registry = Registry::new();
    let report = plugins.scan(&registry).await.unwrap();
    assert!(report.loaded.is_empty(), "{report:?}");
    assert!(registry.types().is_empty());
    for (task_type, link, target) in [
        ("echo", "echo.wasm", "echo.wasm"),
        ("noop", "noop.toml", "noop.toml"),
    ] {
        let error = entry(&registry, task_type).unwrap().error.unwrap();
        let target = elsewhere.canonicalize().unwrap().join(target);
        assert!(
            error.contains(&dir.join(link).display().to_string())
                && error.contains(&format!("is a symlink to {}", target.display()))
                && error.contains("outside")
                && error.contains("copy the file in instead"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn symlinks_inside_the_directory_are_followed_and_dangling_ones_reported() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("plugins");
    let releases = dir.join("releases");
    std::fs::create_dir_all(&releases).unwrap();
    std::fs::copy(plugin("echo-v2"), releases.join("echo-2.wasm")).unwrap();
    std::fs::write(releases.join("echo-2.toml"), "fuel = 4242\n").unwrap();
    symlink("releases/echo-2.wasm", dir.join("echo.wasm")).unwrap();
    symlink("releases/echo-2.toml", dir.join("echo.toml")).unwrap();
    symlink("releases/noop-9.wasm", dir.join("noop.wasm")).unwrap();
    // The directory itself may be reached through a symlink.
    let alias = root.path().join("current");
    symlink(&dir, &alias).unwrap();

    let plugins = PluginDir::open(&alias, runtime(), Limits::default()).unwrap();
    let registry = Registry::new();
    let report = plugins.scan(&registry).await.unwrap();
    assert_eq!(report.loaded, ["echo"], "{report:?}");
    let echo = registry.get("echo").unwrap();
    assert_eq!(echo.limits().fuel, 4242);
    assert_eq!(content_type(echo).await, "application/x-echo-v2");

    let error = entry(&registry, "noop").unwrap().error.unwrap();
    assert!(
        error.contains("noop.wasm") && error.contains("releases/noop-9.wasm, which does not exist"),
        "{error}"
    );
}

#[tokio::test]
async fn an_oversized_manifest_is_refused() {
    let dir = PluginsDir::with(&[("echo", "echo"), ("noop", "noop")]);
    // Both valid TOML: a setting and a comment, at and one byte over the cap.
    let manifest = |len: u64| {
        let mut text = "fuel = 4242\n#".to_owned();
        text.push_str(&"x".repeat(len as usize - text.len() - 1));
        text.push('\n');
        assert_eq!(text.len() as u64, len);
        text
    };
    std::fs::write(dir.path().join("noop.toml"), manifest(MAX_MANIFEST_SIZE)).unwrap();
    std::fs::write(
        dir.path().join("echo.toml"),
        manifest(MAX_MANIFEST_SIZE + 1),
    )
    .unwrap();

    let plugins = PluginDir::open(dir.path(), runtime(), Limits::default()).unwrap();
    let registry = Registry::new();
    let report = plugins.scan(&registry).await.unwrap();
    assert_eq!(report.loaded, ["noop"], "{report:?}");
    assert_eq!(registry.get("noop").unwrap().limits().fuel, 4242);
    let error = entry(&registry, "echo").unwrap().error.unwrap();
    assert!(
        error.contains("echo.toml")
            && error.contains(&format!("{} bytes", MAX_MANIFEST_SIZE + 1))
            && error.contains(&format!(
                "above the {MAX_MANIFEST_SIZE} byte limit for a plugin manifest"
            )),
        "{error}"
    );
    assert!(registry.get("echo").is_none());
}

#[test]
fn compile_uses_the_hashed_bytes() {
    let dir = PluginsDir::with(&[("echo", "echo")]);
    let path = dir.path().join("echo.wasm");
    let manifest = dir.path().join("echo.toml");
    std::fs::write(&manifest, "fuel = 4242\n").unwrap();
    let file = PluginFile::read(&path, DEFAULT_MAX_PLUGIN_SIZE, Some(dir.path())).unwrap();

    // Between the read and the compile, the plugin and manifest change.
    std::fs::write(&path, b"not wasm at all").unwrap();
    std::fs::remove_file(&manifest).unwrap();

    let plugin = runtime()
        .load_file("echo", &file, Limits::default())
        .expect("the bytes read are compiled, not the file now on disk");
    assert_eq!(plugin.sha256(), file.sha256());
    assert_eq!(plugin.version(), &file.sha256()[..plugin.version().len()]);
    assert_eq!(plugin.limits().fuel, 4242, "the manifest read with it");
    let tokio = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(tokio.block_on(content_type(plugin)), "application/json");
}
