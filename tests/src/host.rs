//! Real `wasmq run` processes for the host-level tests, and the helpers
//! those tests share: a plugins directory of real compiled plugins, a broker
//! client, polling with a deadline.
//!
//! A [`HostProcess`] is the built binary started with `--redis`, `--plugins`
//! and a private compile cache; its stdout and stderr go to a log file the
//! test can search. It can be stopped the ways production stops a host:
//! SIGTERM (graceful drain) or SIGKILL (a crash). Dropping it kills it.

use crate::plugins::{copy_plugin, wasmq_bin};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use wasmq::Client;
use wasmq::broker::BrokerOptions;

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

/// A running `wasmq run` process.
#[derive(Debug)]
pub struct HostProcess {
    child: Child,
    log: PathBuf,
    status: Option<ExitStatus>,
    _scratch: tempfile::TempDir,
}

impl HostProcess {
    /// Starts `wasmq run --redis URL --plugins DIR` plus `extra` flags, with
    /// a private compile cache and `info` logs, and waits until it serves.
    pub fn start(redis_url: &str, plugins: &Path, extra: &[&str]) -> HostProcess {
        HostProcess::start_logging(redis_url, plugins, "info", extra)
    }

    /// As [`HostProcess::start`], and also logs each run's start (a debug
    /// line), so that [`HostProcess::wait_for_runs`] can tell a guest that
    /// runs from a task that is only leased.
    pub fn start_traced(redis_url: &str, plugins: &Path, extra: &[&str]) -> HostProcess {
        HostProcess::start_logging(
            redis_url,
            plugins,
            "info,wasmq::worker::execute=debug",
            extra,
        )
    }

    fn start_logging(redis_url: &str, plugins: &Path, level: &str, extra: &[&str]) -> HostProcess {
        let scratch = tempfile::Builder::new()
            .prefix("wasmq-host-")
            .tempdir()
            .unwrap();
        let log = scratch.path().join("host.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(wasmq_bin());
        // Settings come from the flags only, not from the test's environment.
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("WASMQ_") || k == "RUST_LOG")
        {
            command.env_remove(key);
        }
        let child = command
            .args(["run", "--redis", redis_url, "--log-level", level])
            .arg("--plugins")
            .arg(plugins)
            .arg("--cache-dir")
            .arg(scratch.path().join("cache"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start wasmq run");
        let mut host = HostProcess {
            child,
            log,
            status: None,
            _scratch: scratch,
        };
        host.wait_for_log("worker started", Duration::from_secs(120));
        host
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the host has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`; panics with the log if the
    /// host exits or `timeout` passes first.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "wasmq run exited ({status}) before logging {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the host log after {timeout:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `n` runs have started (a host from
    /// [`HostProcess::start_traced`]): a leased task may still be released
    /// unstarted by a shutdown; a started one is drained.
    pub fn wait_for_runs(&mut self, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.log().matches("run started").count() < n {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "wasmq run exited ({status}) before {n} runs started:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "fewer than {n} runs started after {timeout:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Crashes the host: SIGKILL, no drain, leases left to expire.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        self.status = self.child.wait().ok();
    }

    /// Sends SIGTERM (a graceful drain).
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Freezes the process (SIGSTOP), as a long GC pause or a hung VM would.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// Thaws a frozen process (SIGCONT).
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// Waits for the process to exit; panics with the log after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.status {
                return status;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                self.status = Some(status);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "wasmq run still running after {timeout:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// CPU time (user + system) the process has used, from `/proc`.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the parenthesised command name; utime and stime are
        // the 14th and 15th fields of the whole line, in clock ticks.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10)
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A broker client on `url` with the default namespace (what hosts use).
pub async fn client(url: &str) -> Client {
    Client::connect(url, BrokerOptions::default())
        .await
        .expect("connect to the test Redis")
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after
/// `timeout` with `what`. Tests wait on state, never on time.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
