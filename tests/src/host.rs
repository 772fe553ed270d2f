//! Real `wasmq run` processes for the host-level tests, and what those
//! tests need to judge a whole workload: enqueueing in bulk, every task's
//! status and result, totals over queues, and waiting (never sleeping) until
//! the queues settle.
//!
//! A host is tested as the process production runs, not as a library call,
//! so that signals, crashes, config parsing and logging are part of what is
//! tested. A [`HostProcess`] is the built binary started with `--redis`,
//! `--plugins` and a private compile cache; its stdout and stderr go to a
//! log file the test can search. It can be stopped the ways production
//! stops a host: SIGTERM (graceful drain) or SIGKILL (a crash). Dropping it
//! kills it.

use crate::plugins::wasmq_bin;
use futures::{StreamExt, TryStreamExt};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use wasmq::Client;
use wasmq::broker::{TaskResult, TaskStatus};
use wasmq::task::{TaskId, TaskSpec};

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
    /// a private compile cache (unless `extra` names a `--cache-dir`) and
    /// `info` logs, and waits until it serves.
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
            // A private compile cache, unless the test shares one.
            .args(if extra.contains(&"--cache-dir") {
                vec![]
            } else {
                vec!["--cache-dir".into(), scratch.path().join("cache")]
            })
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

/// Enqueues `specs` in chunks and returns their ids in order.
pub async fn enqueue(client: &Client, specs: Vec<TaskSpec>) -> Vec<TaskId> {
    let mut ids = Vec::with_capacity(specs.len());
    let mut specs = specs.into_iter().peekable();
    while specs.peek().is_some() {
        let chunk: Vec<TaskSpec> = specs.by_ref().take(2000).collect();
        ids.extend(client.enqueue_many(chunk).await.expect("enqueue"));
    }
    ids
}

/// JSON tasks for `queue`, one per payload.
pub fn json_tasks(
    queue: &str,
    payloads: impl IntoIterator<Item = serde_json::Value>,
) -> Vec<TaskSpec> {
    payloads
        .into_iter()
        .map(|p| TaskSpec::new(queue, p.to_string()))
        .collect()
}

/// The status of every task, in order (each must exist).
pub async fn statuses(client: &Client, ids: &[TaskId]) -> Vec<TaskStatus> {
    read_each(ids, "status", |id| client.status(id))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The status of every task, in order, or the first Redis error (right
/// after a failover a client may meet some before it follows the new
/// topology); panics if a task does not exist.
pub async fn try_statuses(client: &Client, ids: &[TaskId]) -> Result<Vec<TaskStatus>, String> {
    read_each(ids, "status", |id| client.status(id)).await
}

/// The result of every task, in order (each must exist).
pub async fn results(client: &Client, ids: &[TaskId]) -> Vec<TaskResult> {
    read_each(ids, "result", |id| client.result(id))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `read(id)` for every id, 64 at a time, in order; panics naming `what`
/// when a read finds nothing, and fails naming it when a read fails.
async fn read_each<'a, T, F, Fut>(ids: &'a [TaskId], what: &str, read: F) -> Result<Vec<T>, String>
where
    F: Fn(&'a TaskId) -> Fut,
    Fut: Future<Output = Result<Option<T>, wasmq::broker::BrokerError>>,
{
    futures::stream::iter(ids)
        .map(|id| {
            let found = read(id);
            async move {
                found
                    .await
                    .map(|v| v.unwrap_or_else(|| panic!("no {what} for {id}")))
            }
        })
        .buffered(64)
        .try_collect()
        .await
        .map_err(|e| format!("read every {what}: {e}"))
}

/// Sizes and counters summed over queues.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub completed: u64,
    pub dead: u64,
    pub retried: u64,
    pub cancelled: u64,
    pub expired: u64,
    pub pending: u64,
    pub scheduled: u64,
    pub retry_wait: u64,
    pub active: u64,
    /// Flow parents waiting for their dependencies.
    pub flow_waiting: u64,
}

impl Totals {
    /// Tasks in a final state.
    pub fn settled(&self) -> u64 {
        self.completed + self.dead + self.cancelled
    }

    /// Tasks not yet in a final state.
    pub fn waiting(&self) -> u64 {
        self.pending + self.scheduled + self.retry_wait + self.active + self.flow_waiting
    }
}

/// Current totals over `queues`.
pub async fn totals(client: &Client, queues: &[&str]) -> Totals {
    try_totals(client, queues).await.expect("queue stats")
}

/// Current totals over `queues`, or the Redis error (Redis may be down).
pub async fn try_totals(
    client: &Client,
    queues: &[&str],
) -> Result<Totals, wasmq::broker::BrokerError> {
    let mut t = Totals::default();
    for queue in queues {
        let s = client.queue_stats(queue).await?;
        t.completed += s.counters.completed;
        t.dead += s.counters.dead;
        t.retried += s.counters.retried;
        t.cancelled += s.counters.cancelled;
        t.expired += s.counters.expired;
        t.pending += s.pending;
        t.scheduled += s.scheduled;
        t.retry_wait += s.retry_wait;
        t.active += s.active;
        t.flow_waiting += s.waiting;
    }
    Ok(t)
}

/// Waits until `n` tasks of `queues` are settled and none is waiting.
pub async fn settled(client: &Client, queues: &[&str], n: u64, timeout: Duration) -> Totals {
    eventually(
        &format!("{n} tasks of {queues:?} to settle"),
        timeout,
        || async {
            let t = try_totals(client, queues).await.ok()?;
            (t.settled() >= n && t.waiting() == 0).then_some(t)
        },
    )
    .await
}

/// Waits until at least `n` tasks of `queues` completed.
pub async fn completed_at_least(
    client: &Client,
    queues: &[&str],
    n: u64,
    timeout: Duration,
) -> Totals {
    eventually(
        &format!("{n} completions in {queues:?}"),
        timeout,
        || async {
            let t = try_totals(client, queues).await.ok()?;
            (t.completed >= n).then_some(t)
        },
    )
    .await
}
