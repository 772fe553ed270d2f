//! Loading plugins: bad files are refused with messages that name the file
//! and the problem, manifests are applied, and the compile cache is reused,
//! invalidated and repaired.

use metrics::{KeyName, Metadata, SharedString, Unit};
use std::path::{Path, PathBuf};
use wasmq::config::Limits;
use wasmq::runtime::{
    CancelToken, Invocation, LoadError, LoadProblem, OutcomeKind, Plugin, PluginKind, Runtime,
    RuntimeOptions,
};
use wasmq_tests::plugins::{copy_plugin, plugin, plugin_bytes};

fn runtime_with_cache(cache: &Path) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.to_owned()),
        max_instances: 4,
        ..RuntimeOptions::default()
    })
    .expect("runtime starts")
}

/// Writes `bytes` to `<dir>/<name>` and loads it, expecting an error.
fn load_error(dir: &Path, name: &str, bytes: &[u8]) -> (PathBuf, LoadError) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let runtime = runtime_with_cache(&dir.join("cache"));
    let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
    match runtime.load(&stem, &path, Limits::default()) {
        Ok(plugin) => panic!("{name} loaded as {plugin:?}"),
        Err(error) => (path, error),
    }
}

fn assert_mentions(error: &LoadError, path: &Path, needles: &[&str]) {
    let message = error.to_string();
    println!("{message}");
    assert!(
        message.contains(&path.display().to_string()),
        "no file name in: {message}"
    );
    for needle in needles {
        assert!(
            message.contains(needle),
            "`{needle}` missing from: {message}"
        );
    }
}

fn run_ok(plugin: &Plugin, payload: &str) -> Vec<u8> {
    let outcome = plugin.run_blocking(
        Invocation::new("t:1", plugin.task_type(), payload.into()),
        &CancelToken::new(),
    );
    match outcome.kind {
        OutcomeKind::Success { output, .. } => output,
        other => panic!("expected success, got {other:?}"),
    }
}

#[test]
fn bad_files_are_refused_with_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    let (path, e) = load_error(dir, "script.wasm", b"#!/bin/sh\necho hi\n");
    assert!(matches!(e.problem(), Some(LoadProblem::NotWasm { .. })));
    assert_mentions(
        &e,
        &path,
        &["is not a WebAssembly file (starts with 23 21 2f 62"],
    );

    let (path, e) = load_error(dir, "empty.wasm", b"");
    assert_mentions(&e, &path, &["the file is empty"]);

    let mut corrupt = b"\0asm\x01\0\0\0".to_vec();
    corrupt.extend_from_slice(&[0xff; 64]);
    let (path, e) = load_error(dir, "corrupt.wasm", &corrupt);
    assert!(
        matches!(
            e.problem(),
            Some(LoadProblem::Corrupt { kind: "module", .. })
        ),
        "{e:?}"
    );
    assert_mentions(&e, &path, &["is not a valid WebAssembly module"]);

    let email = plugin_bytes("email");
    let (path, e) = load_error(dir, "truncated.wasm", &email[..email.len() / 2]);
    assert!(
        matches!(
            e.problem(),
            Some(LoadProblem::Corrupt {
                kind: "component",
                ..
            })
        ),
        "{e:?}"
    );
    assert_mentions(
        &e,
        &path,
        &[
            "is not a valid WebAssembly component (truncated or corrupt?)",
            // The import check reads the file before compiling (grants.rs).
            "it ends in the middle of",
        ],
    );

    let (path, e) = load_error(dir, "wrong-world.wasm", &plugin_bytes("wrong-world"));
    assert!(matches!(e.problem(), Some(LoadProblem::WrongWorld { .. })));
    assert_mentions(
        &e,
        &path,
        &[
            "does not export wasmq:plugin/handler",
            "another world",
            "exports: ",
        ],
    );

    let (path, e) = load_error(dir, "future-major.wasm", &plugin_bytes("future-major"));
    assert!(matches!(
        e.problem(),
        Some(LoadProblem::IncompatibleContract { .. })
    ));
    assert_mentions(
        &e,
        &path,
        &["was built for wasmq:plugin@2.0.0; this host supports 0.2.x and 0.1.x"],
    );

    let missing = dir.join("missing.wasm");
    let e = runtime_with_cache(&dir.join("cache"))
        .load("missing", &missing, Limits::default())
        .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert_mentions(&e, &missing, &["cannot read plugin", "does not exist"]);
}

#[test]
fn core_modules_must_be_wasi_commands() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let wat = |text: &str| wat::parse_str(text).expect("valid WAT");

    let (path, e) = load_error(
        dir,
        "lib.wasm",
        &wat(r#"(module (memory (export "memory") 1) (func (export "main")))"#),
    );
    assert!(matches!(
        e.problem(),
        Some(LoadProblem::MissingStart { missing: "_start" })
    ));
    assert_mentions(
        &e,
        &path,
        &[
            "core module",
            "has no `_start` export; a core-module plugin must be a WASI command (fn main) built for wasm32-wasip1",
        ],
    );

    let (path, e) = load_error(
        dir,
        "nomem.wasm",
        &wat(r#"(module (func (export "_start")))"#),
    );
    assert_mentions(&e, &path, &["has no `memory` export"]);

    let (path, e) = load_error(
        dir,
        "evil.wasm",
        &wat(
            r#"(module (import "env" "escape_hatch" (func)) (memory (export "memory") 1) (func (export "_start")))"#,
        ),
    );
    assert!(
        matches!(e.problem(), Some(LoadProblem::UnsatisfiedImports { .. })),
        "{e:?}"
    );
    assert_mentions(
        &e,
        &path,
        &["that this host does not provide", "escape_hatch"],
    );

    // A command that traps: the outcome carries the wasm backtrace.
    let runtime = runtime_with_cache(&dir.join("cache"));
    let trapper = wat(
        r#"(module (memory (export "memory") 1) (func $boom unreachable) (func (export "_start") call $boom))"#,
    );
    let plugin = runtime
        .load_bytes(
            "trapper",
            Path::new("trapper.wasm"),
            &trapper,
            Limits::default(),
        )
        .unwrap();
    assert_eq!(plugin.kind(), PluginKind::Command);
    let outcome = plugin.run_blocking(
        Invocation::new("t:1", "trapper", Vec::new()),
        &CancelToken::new(),
    );
    match outcome.kind {
        OutcomeKind::Trap { message } => {
            println!("{message}");
            assert!(message.contains("unreachable"), "{message}");
            assert!(message.contains("wasm backtrace"), "{message}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn manifest_next_to_the_plugin_is_applied_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = copy_plugin("echo", dir.path(), "echo");
    let runtime = runtime_with_cache(&dir.path().join("cache"));

    std::fs::write(
        dir.path().join("echo.toml"),
        "fuel = 123456\ntimeout = \"2s\"\nmax_retries = 3\n",
    )
    .unwrap();
    let echo = runtime.load("echo", &wasm, Limits::default()).unwrap();
    assert_eq!(echo.limits().fuel, 123456);
    assert_eq!(echo.limits().timeout, std::time::Duration::from_secs(2));
    assert_eq!(echo.limits().memory, Limits::DEFAULT_MEMORY);
    assert_eq!(echo.manifest().and_then(|m| m.max_retries), Some(3));
    assert_eq!(run_ok(&echo, "hi"), b"hi");

    let toml = dir.path().join("echo.toml");
    std::fs::write(&toml, "fule = 1\n").unwrap();
    let e = runtime.load("echo", &wasm, Limits::default()).unwrap_err();
    assert!(matches!(e, LoadError::BadManifest(_)));
    assert_mentions(&e, &toml, &["fule", "allowed keys"]);

    std::fs::write(&toml, "memory = \"64MiB\"\n").unwrap();
    let small = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.path().join("cache")),
        max_instances: 2,
        max_memory: 32 << 20,
        ..RuntimeOptions::default()
    })
    .unwrap();
    let e = small.load("echo", &wasm, Limits::default()).unwrap_err();
    assert_mentions(
        &e,
        &wasm,
        &["memory limit 64.0 MiB is above this host's maximum of 32.0 MiB"],
    );
}

#[test]
fn compile_cache_is_reused_invalidated_and_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let wasm = copy_plugin("echo", dir.path(), "echo");

    let first = runtime_with_cache(&cache)
        .load("echo", &wasm, Limits::default())
        .unwrap();
    assert!(!first.from_cache(), "an empty cache cannot hit");
    let second = runtime_with_cache(&cache)
        .load("echo", &wasm, Limits::default())
        .unwrap();
    assert!(
        second.from_cache(),
        "a new runtime with the same cache dir reuses the artifact"
    );
    assert_eq!(second.version(), first.version());
    assert_eq!(run_ok(&second, "cached"), b"cached");
    println!(
        "echo: compiled in {:?}, loaded from the cache in {:?}",
        first.load_time(),
        second.load_time()
    );

    // A changed file has another hash, so it is compiled, not served stale.
    std::fs::copy(plugin("echo-v2"), &wasm).unwrap();
    let changed = runtime_with_cache(&cache)
        .load("echo", &wasm, Limits::default())
        .unwrap();
    assert!(!changed.from_cache());
    assert_ne!(changed.version(), first.version());

    // A corrupt artifact is recompiled and replaced, not an error.
    for entry in std::fs::read_dir(&cache).unwrap() {
        std::fs::write(entry.unwrap().path(), b"not an artifact").unwrap();
    }
    let repaired = runtime_with_cache(&cache)
        .load("echo", &wasm, Limits::default())
        .unwrap();
    assert!(!repaired.from_cache());
    assert_eq!(run_ok(&repaired, "repaired"), b"repaired");
    let reused = runtime_with_cache(&cache)
        .load("echo", &wasm, Limits::default())
        .unwrap();
    assert!(
        reused.from_cache(),
        "the repaired artifact is used next time"
    );
}

/// Records the names of the metrics registered while it is the thread's
/// recorder.
#[derive(Default)]
struct Names(std::sync::Mutex<Vec<String>>);

impl Names {
    fn add(&self, key: &metrics::Key) {
        self.0.lock().unwrap().push(key.name().to_owned());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl metrics::Recorder for Names {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &metrics::Key, _: &Metadata<'_>) -> metrics::Counter {
        self.add(key);
        metrics::Counter::noop()
    }
    fn register_gauge(&self, key: &metrics::Key, _: &Metadata<'_>) -> metrics::Gauge {
        self.add(key);
        metrics::Gauge::noop()
    }
    fn register_histogram(&self, key: &metrics::Key, _: &Metadata<'_>) -> metrics::Histogram {
        self.add(key);
        metrics::Histogram::noop()
    }
}

#[test]
fn loads_are_measured_runs_are_not() {
    // A run is counted once, by the worker (`wasmq_tasks_total` and the
    // task histograms per type); the runtime counting it again made a
    // second, differently labelled set of series for the same runs.
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime_with_cache(cache.path());
    let names = Names::default();
    let echo = metrics::with_local_recorder(&names, || {
        runtime.load("echo", &plugin("echo"), Limits::default())
    })
    .unwrap();
    assert!(
        names
            .take()
            .contains(&"wasmq_plugin_compiles_total".to_owned()),
        "a compile is counted"
    );
    let output = metrics::with_local_recorder(&names, || run_ok(&echo, "hi"));
    assert_eq!(output, b"hi");
    assert_eq!(names.take(), Vec::<String>::new(), "a run records nothing");
}
