//! The hosts under test: one in this process, or K `wasmq run` children.
//!
//! In-process (the default) runs the embeddable host on a runtime and
//! threads of its own, so the bench's producer never shares an executor
//! with it; its CPU is read from this process's `/proc` entry, which also
//! counts the bench's own polling (a few calls per 20 ms, negligible).
//! `--child` runs the real binary exactly as an operator would, for figures
//! that include nothing of the bench, and `--hosts K` runs K of them side by
//! side (see `children.rs`); their CPU and memory are read from each
//! child's `/proc` entry and summed.
//!
//! Either way every host serves a private plugins directory holding only the
//! benchmarked plugin, so it compiles nothing else, and the hosts are ready
//! once the heartbeat of each (found by its process id) lists that plugin.

use super::children::Children;
use super::probe::{process_cpu_us, process_rss_bytes};
use crate::Client;
use crate::config::RunConfig;
use anyhow::{Context, Result, anyhow, bail};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long hosts may take to load their plugin (a cold compile in a debug
/// build, by several hosts on two cores, is the slow case).
const READY_TIMEOUT: Duration = Duration::from_secs(300);

/// How long stopping hosts may take to drain.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the hosts under test run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostMode {
    /// On its own runtime in this process.
    InProcess,
    /// As `wasmq run` child processes.
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

/// What the hosts are started with.
#[derive(Debug, Clone)]
pub struct HostSpec {
    /// Redis URL.
    pub url: String,
    /// Key namespace.
    pub namespace: String,
    /// Directory holding only the benchmarked plugin.
    pub plugins_dir: PathBuf,
    /// Tasks run at once, per host.
    pub concurrency: usize,
    /// How many hosts (child processes; in-process there is one).
    pub hosts: usize,
    /// The key ring file the hosts encrypt with (`bench --encrypt`).
    pub keys_file: Option<PathBuf>,
}

/// The running hosts.
#[derive(Debug)]
pub struct HostUnderTest {
    /// `None` once stopped.
    kind: Option<Kind>,
    /// When they were started.
    pub started: Instant,
}

#[derive(Debug)]
enum Kind {
    InProcess {
        shutdown: CancellationToken,
        thread: std::thread::JoinHandle<Result<()>>,
    },
    Children(Children),
}

impl HostUnderTest {
    /// Starts the hosts as `mode` says; they are not ready yet (see
    /// [`HostUnderTest::wait_ready`]).
    pub fn start(mode: HostMode, spec: &HostSpec, log_dir: &Path) -> Result<HostUnderTest> {
        let started = Instant::now();
        let kind = match mode {
            HostMode::InProcess => start_in_process(spec)?,
            HostMode::Child => Kind::Children(Children::start(spec, log_dir)?),
        };
        Ok(HostUnderTest {
            kind: Some(kind),
            started,
        })
    }

    /// The hosts' process ids (this process when in-process).
    pub fn pids(&self) -> Vec<u32> {
        match &self.kind {
            Some(Kind::Children(children)) => children.pids(),
            _ => vec![std::process::id()],
        }
    }

    /// CPU time the hosts' processes used so far, summed, µs.
    pub fn cpu_us(&self) -> Result<u64> {
        self.pids().into_iter().try_fold(0, |sum, pid| {
            let us = process_cpu_us(pid).with_context(|| format!("reading /proc/{pid}/stat"))?;
            Ok(sum + us)
        })
    }

    /// The hosts' resident memory, summed, bytes.
    pub fn rss_bytes(&self) -> Result<u64> {
        self.pids().into_iter().try_fold(0, |sum, pid| {
            let bytes =
                process_rss_bytes(pid).with_context(|| format!("reading /proc/{pid}/statm"))?;
            Ok(sum + bytes)
        })
    }

    /// Fails if a host already stopped (crashed, or refused its config).
    pub fn check_alive(&mut self) -> Result<()> {
        match &mut self.kind {
            None => bail!("the host was stopped"),
            Some(Kind::InProcess { thread, .. }) if thread.is_finished() => {
                bail!("the in-process host stopped unexpectedly (its error follows on stop)")
            }
            Some(Kind::InProcess { .. }) => Ok(()),
            Some(Kind::Children(children)) => children.check_alive(),
        }
    }

    /// Waits until the heartbeat of every host lists a plugin for each of
    /// `task_types`.
    pub async fn wait_ready(&mut self, client: &Client, task_types: &[String]) -> Result<Duration> {
        let pids = self.pids();
        let serves_all = |h: &crate::broker::HostInfo| task_types.iter().all(|t| h.serves(t));
        loop {
            let hosts = client.hosts().await.context("reading the host registry")?;
            let ready = pids
                .iter()
                .filter(|pid| hosts.iter().any(|h| h.pid == **pid && serves_all(h)))
                .count();
            if ready == pids.len() {
                return Ok(self.started.elapsed());
            }
            if let Err(e) = self.check_alive() {
                return Err(self.stop_after(e).await);
            }
            if self.started.elapsed() > READY_TIMEOUT {
                let e = anyhow!(
                    "only {ready} of {} hosts served {task_types:?} within {READY_TIMEOUT:?}",
                    pids.len()
                );
                return Err(self.stop_after(e).await);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the hosts after a failure and returns the error, with the
    /// hosts' own errors appended if they had any.
    async fn stop_after(&mut self, error: anyhow::Error) -> anyhow::Error {
        match self.stop().await {
            Ok(()) => error,
            Err(stop) => error.context(format!("{stop:#}")),
        }
    }

    /// Stops the hosts gracefully and waits for them (bounded).
    pub async fn stop(&mut self) -> Result<()> {
        match self.kind.take() {
            None => Ok(()),
            Some(Kind::InProcess { shutdown, thread }) => {
                shutdown.cancel();
                tokio::task::spawn_blocking(move || thread.join())
                    .await?
                    .map_err(|_| anyhow!("the in-process host panicked"))?
            }
            Some(Kind::Children(mut children)) => children.stop(STOP_TIMEOUT).await,
        }
    }
}

impl Drop for HostUnderTest {
    /// Hosts left running by an error path or an interruption are stopped
    /// without a graceful drain: the children are killed; the in-process
    /// host is told to shut down and waited for a bounded time, so that it
    /// writes nothing into the namespace after the cleanup.
    fn drop(&mut self) {
        match self.kind.take() {
            Some(Kind::Children(mut children)) => children.kill(),
            Some(Kind::InProcess { shutdown, thread }) => {
                shutdown.cancel();
                let deadline = Instant::now() + STOP_TIMEOUT;
                while !thread.is_finished() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
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
