//! A loaded plugin: compiled, checked, pre-linked, ready to run tasks.

use super::RuntimeShared;
use super::command;
use super::component;
use super::contract::PluginKind;
use super::invocation::{CancelToken, Invocation};
use super::outcome::{Outcome, OutcomeKind};
use super::run::{Finished, RunPlan};
use super::sandbox::{SharedLog, deadline_ms, effective};
use crate::config::{Limits, PluginManifest};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::instrument;

/// The compiled, pre-linked code of either kind.
pub(crate) enum Code {
    Component(component::Prepared),
    Command(command::Prepared),
}

pub(crate) struct PluginInner {
    pub task_type: String,
    pub sha256: String,
    pub kind: PluginKind,
    pub limits: Limits,
    pub manifest: Option<PluginManifest>,
    pub from_cache: bool,
    pub load_time: Duration,
    pub code: Code,
    /// Keeps the engine's epoch ticker alive while the plugin can run.
    pub runtime: Arc<RuntimeShared>,
}

/// A plugin ready to run tasks. Cheap to clone (an `Arc`); safe to run from
/// many tasks and threads at once, each run in its own instance.
#[derive(Clone)]
pub struct Plugin {
    pub(crate) inner: Arc<PluginInner>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("task_type", &self.inner.task_type)
            .field("version", &self.version())
            .field("kind", &self.inner.kind)
            .field("limits", &self.inner.limits)
            .field("from_cache", &self.inner.from_cache)
            .finish()
    }
}

impl Plugin {
    /// The task type it runs (its file's stem).
    pub fn task_type(&self) -> &str {
        &self.inner.task_type
    }

    /// A short content version: the first 12 hex digits of the sha256 of
    /// the plugin file. Changes whenever the file does.
    pub fn version(&self) -> &str {
        &self.inner.sha256[..12]
    }

    /// The full sha256 of the plugin file, in hex.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// Component or command.
    pub fn kind(&self) -> PluginKind {
        self.inner.kind
    }

    /// The limits of a run: the host defaults merged with the manifest.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// The manifest found next to the plugin, if any (the worker reads its
    /// concurrency and retry settings).
    pub fn manifest(&self) -> Option<&PluginManifest> {
        self.inner.manifest.as_ref()
    }

    /// Whether the compiled code came from the disk cache.
    pub fn from_cache(&self) -> bool {
        self.inner.from_cache
    }

    /// How long loading took (compile or cache load, checks, linking).
    pub fn load_time(&self) -> Duration {
        self.inner.load_time
    }

    /// Runs one task in a fresh, sandboxed instance and reports how it went.
    ///
    /// Async: wasm runs on a fiber inside this future, a guest waiting in a
    /// WASI call (a sleep, a poll) suspends it rather than blocking a thread,
    /// and a CPU-bound guest yields every epoch tick. The run ends by its
    /// deadline or on `cancel`, whatever the guest is doing:
    ///
    /// * in wasm code, the epoch callback traps within a tick, and the
    ///   outcome keeps the run's log, fuel and memory figures;
    /// * blocked in a host call, where no callback runs, the run's future is
    ///   dropped [`STOP_GRACE`] later, which ends the call and throws the
    ///   store away; the outcome says it timed out or was cancelled and
    ///   keeps what the run had logged, but has no fuel or memory figures.
    ///
    /// Never panics on guest behaviour; every way the guest can fail is an
    /// [`OutcomeKind`]. Records no metrics: the caller knows what the run
    /// was for (the worker counts tasks per type and outcome).
    #[instrument(skip_all, fields(task_id = %invocation.id, task_type = %invocation.task_type))]
    pub async fn run(&self, invocation: Invocation, cancel: &CancelToken) -> Outcome {
        // Clamped to the engine's pool before anything is sized from them.
        let limits = effective(
            invocation.limits.unwrap_or(self.inner.limits),
            self.inner.runtime.max_memory,
        );
        // One clock for the epoch deadline, the stop timer and the wall time reported.
        let started = Instant::now();
        let plan = RunPlan {
            limits,
            deadline_ms: deadline_ms(limits.timeout),
            deadline: started + limits.timeout,
            log: SharedLog::default(),
            kv: self.inner.runtime.kv.get().cloned(),
        };
        // Kept here too, so a run whose future is dropped still reports what it logged.
        let log = plan.log.clone();
        // Cancelled before it started: no instance is taken from the pool.
        let finished = if cancel.is_cancelled() {
            Finished::stopped(OutcomeKind::Cancelled, &limits, Duration::ZERO, log)
        } else {
            let run = async {
                match &self.inner.code {
                    Code::Component(code) => code.run(&plan, invocation, cancel).await,
                    Code::Command(code) => code.run(&plan, invocation, cancel).await,
                }
            };
            // The same deadline as the epoch callback's, plus the grace.
            let stop_at = tokio::time::Instant::from_std(plan.deadline + STOP_GRACE);
            // Wasm stops at the next epoch tick; the grace is for a guest blocked in a host call.
            let cancelled = async {
                cancel.cancelled().await;
                tokio::time::sleep(STOP_GRACE).await;
            };
            // Biased: a run that has finished is reported as it finished,
            // even when a timer is due in the same poll.
            tokio::select! {
                biased;
                finished = run => finished,
                () = tokio::time::sleep_until(stop_at) => Finished::stopped(
                    OutcomeKind::TimedOut { after: started.elapsed() },
                    &limits,
                    started.elapsed(),
                    log,
                ),
                () = cancelled => {
                    Finished::stopped(OutcomeKind::Cancelled, &limits, started.elapsed(), log)
                }
            }
        };
        let outcome = finished.into_outcome();
        tracing::debug!(
            outcome = outcome.label(),
            fuel_used = outcome.fuel_used,
            peak_memory = outcome.peak_memory,
            wall_time_us = outcome.wall_time.as_micros() as u64,
            "plugin run finished"
        );
        outcome
    }

    /// [`run`](Self::run) for a caller with no async runtime (tools, tests):
    /// runs the task on a runtime of its own, on this thread.
    ///
    /// # Panics
    /// If called from inside an async runtime (use [`run`](Self::run)
    /// there), or if the OS refuses the runtime's timer.
    pub fn run_blocking(&self, invocation: Invocation, cancel: &CancelToken) -> Outcome {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("cannot build a single-thread runtime for the run")
            .block_on(self.run(invocation, cancel))
    }
}

/// How long after its deadline (or its cancellation) a run blocked in a host
/// call is dropped. Long enough for a run in wasm code to be stopped by the
/// epoch callback first (a tick or two), which keeps its log and figures;
/// short enough that a blocked run ends within 100 ms of its deadline.
pub const STOP_GRACE: Duration = Duration::from_millis(30);
