//! A loaded plugin: compiled, checked, pre-linked, ready to run tasks.

use super::RuntimeShared;
use super::command;
use super::component;
use super::contract::PluginKind;
use super::invocation::{CancelToken, Invocation};
use super::outcome::{Outcome, OutcomeKind};
use super::run::{Finished, RunPlan};
use super::sandbox::{Sandbox, deadline_ms, effective};
use crate::config::{Limits, PluginManifest};
use std::sync::Arc;
use std::time::Duration;
use tracing::instrument;

/// The compiled, pre-linked code of either kind.
pub(crate) enum Code {
    Component(component::Prepared),
    Command(command::Prepared),
}

pub(crate) struct PluginInner {
    pub name: String,
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
/// many threads at once, each run in its own instance.
#[derive(Clone)]
pub struct Plugin {
    pub(crate) inner: Arc<PluginInner>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.name)
            .field("version", &self.version())
            .field("kind", &self.inner.kind)
            .field("limits", &self.inner.limits)
            .field("from_cache", &self.inner.from_cache)
            .finish()
    }
}

impl Plugin {
    /// The plugin (and task type) name.
    pub fn name(&self) -> &str {
        &self.inner.name
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
    /// Synchronous: the wasm runs on the calling thread and blocks it until
    /// the run ends. The worker calls it on its executors, OS threads of
    /// their own (`worker/execute.rs`); `wasmq call` on its main thread.
    /// Never panics on guest behaviour; every way the guest can fail is an
    /// [`OutcomeKind`]. Records no metrics: the caller knows what the run
    /// was for (the worker counts tasks per type and outcome).
    #[instrument(skip_all, fields(task_id = %invocation.id, kind = %invocation.task_type))]
    pub fn run(&self, invocation: Invocation, cancel: &CancelToken) -> Outcome {
        let limits = effective(
            invocation.limits.unwrap_or(self.inner.limits),
            self.inner.runtime.max_memory,
        );
        let plan = RunPlan {
            limits,
            deadline_ms: deadline_ms(limits.timeout),
        };
        let finished = if cancel.is_cancelled() {
            Finished {
                kind: OutcomeKind::Cancelled,
                fuel_used: 0,
                elapsed: Duration::ZERO,
                sandbox: Sandbox::new(&limits),
                stdout: String::new(),
                stderr: String::new(),
            }
        } else {
            match &self.inner.code {
                Code::Component(code) => code.run(&plan, invocation, cancel),
                Code::Command(code) => code.run(&plan, invocation, cancel),
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
}
