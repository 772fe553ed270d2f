//! The real example plugins, built on demand, and the real `wasmq` binary.
//!
//! Tests never use stand-in plugins: they run the compiled examples from
//! `plugins/dist/`. [`plugin`] runs `plugins/build.sh` once per test process
//! (cargo makes it a no-op when nothing changed), serialised across
//! concurrently running test binaries by an exclusive lock on a file under
//! `target/`, so two suites never race on the same build.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root (the directory holding the workspace `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives one level below the workspace root")
        .to_path_buf()
}

/// The cargo target directory (`CARGO_TARGET_DIR`, else `<root>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// A plugin runtime for tests: a pool of `max_instances`, and the compile
/// cache under `target/` shared by every suite, so reruns skip compiles.
pub fn test_runtime(max_instances: u32) -> wasmq::runtime::Runtime {
    wasmq::runtime::Runtime::new(wasmq::runtime::RuntimeOptions {
        cache_dir: Some(target_dir().join("wasmq-test-cache")),
        max_instances,
        ..wasmq::runtime::RuntimeOptions::default()
    })
    .expect("the plugin runtime starts")
}

/// Runs `work` while holding an exclusive lock on `target/<name>.lock`.
fn with_lock<T>(name: &str, work: impl FnOnce() -> T) -> T {
    let dir = target_dir();
    std::fs::create_dir_all(&dir).expect("create the target directory");
    let path = dir.join(format!("{name}.lock"));
    let lock = File::create(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
    let result = work();
    drop(lock);
    result
}

fn run(mut command: Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Removes the variables cargo sets for a test process from a build the
/// test starts: some build scripts (ring's) rerun when `CARGO_MANIFEST_DIR`
/// or `CARGO_PKG_*` differ from the outer build's, which rebuilt everything
/// above them there, and again in the next `cargo nextest run` (minutes
/// each time).
fn without_test_vars(command: &mut Command) {
    const PREFIXES: [&str; 5] = [
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_CRATE_",
        "CARGO_BIN_",
        "CARGO_PRIMARY_",
    ];
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if PREFIXES.iter().any(|p| key.starts_with(p))
            || matches!(&*key, "CARGO_TARGET_TMPDIR" | "OUT_DIR")
        {
            command.env_remove(&*key);
        }
    }
}

/// Builds every plugin into `plugins/dist/` (once per process).
pub fn build_plugins() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        with_lock("plugins-build", || {
            let mut command = Command::new("bash");
            command.arg(workspace_root().join("plugins/build.sh"));
            without_test_vars(&mut command);
            run(command, "plugins/build.sh");
        });
    });
}

/// The path of the built plugin `plugins/dist/<name>.wasm`, building the
/// plugins first if needed.
pub fn plugin(name: &str) -> PathBuf {
    build_plugins();
    let path = workspace_root()
        .join("plugins/dist")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "plugin {name} was not built: {} is missing",
        path.display()
    );
    path
}

/// The bytes of a built plugin.
pub fn plugin_bytes(name: &str) -> Vec<u8> {
    let path = plugin(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The built plugin `name` with the grants `email` and `image` need to
/// reach `services` (the demo's mail API and image server), as a host given
/// those grants loads it; any other plugin comes with no manifest.
pub fn granted(
    name: &str,
    services: &wasmq::cli::demo::DemoServices,
) -> wasmq::runtime::PluginFile {
    let path = plugin(name);
    let manifest = services.manifest_text(name).map(|text| {
        wasmq::config::PluginManifest::parse(&text, Path::new("the demo's grants"))
            .expect("the demo's grants parse")
    });
    wasmq::runtime::PluginFile::new(&path, plugin_bytes(name), manifest)
}

/// Copies the built plugin `name` into `dir` as `<as_name>.wasm` (with no
/// manifest) and returns the new path.
pub fn copy_plugin(name: &str, dir: &Path, as_name: &str) -> PathBuf {
    let dest = dir.join(format!("{as_name}.wasm"));
    std::fs::copy(plugin(name), &dest)
        .unwrap_or_else(|e| panic!("copy {name} to {}: {e}", dest.display()));
    dest
}

/// The `wasmq` binary of this workspace, built (once per process, under the
/// same kind of lock) with `cargo build --workspace --all-targets`: the
/// command `tests/run.sh` builds with, so the binary shares its features
/// (and its wasmtime) with the test build instead of compiling both twice.
pub fn wasmq_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        with_lock("wasmq-bin-build", || {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut command = Command::new(cargo);
            without_test_vars(&mut command);
            command.current_dir(workspace_root()).args([
                "build",
                "--quiet",
                "--workspace",
                "--all-targets",
            ]);
            run(command, "cargo build --workspace --all-targets");
        });
        let bin = target_dir().join("debug/wasmq");
        assert!(
            bin.is_file(),
            "{} is missing after the build",
            bin.display()
        );
        bin
    })
    .clone()
}

/// The output of a successful run as UTF-8 text; panics, with the run's
/// log, on any other outcome.
pub fn output_text(outcome: &wasmq::runtime::Outcome) -> String {
    match &outcome.kind {
        wasmq::runtime::OutcomeKind::Success { output, .. } => {
            String::from_utf8(output.clone()).expect("UTF-8 output")
        }
        other => panic!("expected success, got {other:?}\nlog:\n{}", outcome.log),
    }
}
