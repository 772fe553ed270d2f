//! The host under test: in this process, or a `wasmq run` child.
//!
//! In-process (the default) runs the embeddable host on a runtime and
//! threads of its own, so the bench's producer never shares an executor
//! with it; its CPU is read from this process's `/proc` entry, which also
//! counts the bench's own polling (a few calls per 20 ms, negligible).
//! `--child` runs the real binary exactly as an operator would, for figures
//! that include nothing of the bench; its CPU is read from the child's
//! `/proc` entry.
//!
//! Either way the host serves a private plugins directory holding only the
//! benchmarked plugin, so it compiles nothing else, and is ready once its
//! heartbeat lists that plugin.

use super::probe::{process_cpu_us, process_rss_bytes};
use crate::Client;
use crate::config::RunConfig;
use anyhow::{Context, Result, anyhow, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long a host may take to load its plugin (a cold compile in a debug
/// build is the slow case).
const READY_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a stopping host may take to drain.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the host under test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostMode {
    /// On its own runtime in this process.
    InProcess,
    /// As a `wasmq run` child process.
    Child,
}

impl HostMode {
    /// The name used in the report.
    pub fn label(self) -> &'static str {
        match self {
            HostMode::InProcess => "in-process",
            HostMode::Child => "child",
        }
    }
}

/// What the host is started with.
#[derive(Debug, Clone)]
pub struct HostSpec {
    /// Redis URL.
    pub url: String,
    /// Key namespace.
    pub namespace: String,
    /// Directory holding only the benchmarked plugin.
    pub plugins_dir: PathBuf,
    /// Tasks run at once.
    pub concurrency: usize,
    /// The key ring file the host encrypts with (`bench --encrypt`).
    pub keys_file: Option<PathBuf>,
}

/// A running host.
#[derive(Debug)]
pub struct HostUnderTest {
    /// `None` once stopped.
    kind: Option<Kind>,
    /// When it was started.
    pub started: Instant,
}

#[derive(Debug)]
enum Kind {
    InProcess {
        shutdown: CancellationToken,
        thread: std::thread::JoinHandle<Result<()>>,
    },
    Child {
        child: Child,
        log: PathBuf,
    },
}

impl HostUnderTest {
    /// Starts a host as `mode` says; it is not ready yet (see [`HostUnderTest::wait_ready`]).
    pub fn start(mode: HostMode, spec: &HostSpec, log_dir: &Path) -> Result<HostUnderTest> {
        let started = Instant::now();
        let kind = match mode {
            HostMode::InProcess => start_in_process(spec)?,
            HostMode::Child => start_child(spec, log_dir)?,
        };
        Ok(HostUnderTest {
            kind: Some(kind),
            started,
        })
    }

    /// The host's process id (this process when in-process).
    pub fn pid(&self) -> u32 {
        match &self.kind {
            Some(Kind::Child { child, .. }) => child.id(),
            _ => std::process::id(),
        }
    }

    /// CPU time the host's process used so far, µs.
    pub fn cpu_us(&self) -> Result<u64> {
        process_cpu_us(self.pid()).with_context(|| format!("reading /proc/{}/stat", self.pid()))
    }

    /// The host process's resident memory, bytes.
    pub fn rss_bytes(&self) -> Result<u64> {
        process_rss_bytes(self.pid()).with_context(|| format!("reading /proc/{}/statm", self.pid()))
    }

    /// Fails if the host already stopped (crashed, or refused its config).
    pub fn check_alive(&mut self) -> Result<()> {
        match &mut self.kind {
            None => bail!("the host was stopped"),
            Some(Kind::InProcess { thread, .. }) if thread.is_finished() => {
                bail!("the in-process host stopped unexpectedly (its error follows on stop)")
            }
            Some(Kind::Child { child, log }) => match child.try_wait()? {
                Some(status) => bail!(
                    "the `wasmq run` child exited with {status}; its log ({}):\n{}",
                    log.display(),
                    tail(log)
                ),
                None => Ok(()),
            },
            Some(Kind::InProcess { .. }) => Ok(()),
        }
    }

    /// Waits until the host's heartbeat lists a plugin for `task_type`.
    pub async fn wait_ready(&mut self, client: &Client, task_type: &str) -> Result<Duration> {
        let wanted = format!("{task_type}@");
        loop {
            let hosts = client.hosts().await.context("reading the host registry")?;
            if hosts
                .iter()
                .any(|h| h.plugins.iter().any(|p| p.starts_with(&wanted)))
            {
                return Ok(self.started.elapsed());
            }
            if let Err(e) = self.check_alive() {
                return Err(self.stop_after(e).await);
            }
            if self.started.elapsed() > READY_TIMEOUT {
                let e =
                    anyhow!("the host did not serve plugin {task_type} within {READY_TIMEOUT:?}");
                return Err(self.stop_after(e).await);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the host after a failure and returns the error, with the
    /// host's own error appended if it had one.
    async fn stop_after(&mut self, error: anyhow::Error) -> anyhow::Error {
        match self.stop().await {
            Ok(()) => error,
            Err(stop) => error.context(format!("{stop:#}")),
        }
    }

    /// Stops the host gracefully and waits for it.
    pub async fn stop(&mut self) -> Result<()> {
        match self.kind.take() {
            None => Ok(()),
            Some(Kind::InProcess { shutdown, thread }) => {
                shutdown.cancel();
                tokio::task::spawn_blocking(move || thread.join())
                    .await?
                    .map_err(|_| anyhow!("the in-process host panicked"))?
            }
            Some(Kind::Child { mut child, log }) => {
                // std has no SIGTERM; `kill` is in every Linux base system.
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                let deadline = Instant::now() + STOP_TIMEOUT;
                loop {
                    if let Some(status) = child.try_wait()? {
                        if status.success() {
                            return Ok(());
                        }
                        bail!("`wasmq run` exited with {status}; its log:\n{}", tail(&log));
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        bail!(
                            "`wasmq run` did not stop within {STOP_TIMEOUT:?} of SIGTERM; killed it"
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}

impl Drop for HostUnderTest {
    /// A host left running by an error path is stopped without waiting:
    /// the child is killed, the in-process host told to shut down.
    fn drop(&mut self) {
        match self.kind.take() {
            Some(Kind::Child { mut child, .. }) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Some(Kind::InProcess { shutdown, .. }) => shutdown.cancel(),
            None => {}
        }
    }
}

fn start_in_process(spec: &HostSpec) -> Result<Kind> {
    let mut config = RunConfig::new(&spec.url, &spec.plugins_dir);
    config.namespace = spec.namespace.clone();
    config.concurrency = spec.concurrency;
    if let Some(path) = &spec.keys_file {
        let ring = crate::crypto::KeyRing::from_file(path)?;
        config.encryption = Some(crate::crypto::Encryption::new(ring, None));
    }
    config.validate().context("host settings")?;
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let thread = std::thread::Builder::new()
        .name("wasmq-host".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .thread_name("wasmq-host")
                .enable_all()
                .build()
                .context("building the host's runtime")?;
            runtime
                .block_on(crate::cli::host::run(config, stop.cancelled_owned()))
                .map(drop)
                .map_err(|e| anyhow!("the in-process host failed: {e:#}"))
        })
        .context("spawning the host thread")?;
    Ok(Kind::InProcess { shutdown, thread })
}

fn start_child(spec: &HostSpec, log_dir: &Path) -> Result<Kind> {
    let exe = std::env::current_exe().context("locating the wasmq binary for --child")?;
    let log = log_dir.join("host.log");
    let file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = Command::new(&exe);
    command.arg("run");
    if let Some(path) = &spec.keys_file {
        command.arg("--keys-file").arg(path);
    }
    let child = command
        .args(["--redis", &spec.url])
        .arg("--plugins")
        .arg(&spec.plugins_dir)
        .args(["--namespace", &spec.namespace])
        .args(["--concurrency", &spec.concurrency.to_string()])
        .args(["--log-level", "warn"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .with_context(|| format!("starting `{} run`", exe.display()))?;
    Ok(Kind::Child { child, log })
}

/// The last lines of a log file, for error messages.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
