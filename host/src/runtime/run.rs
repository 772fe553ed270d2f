//! What both plugin kinds share around a run: the plan going in and the
//! assembly of the [`Outcome`] coming out.

use super::outcome::{Outcome, OutcomeKind};
use super::sandbox::{Sandbox, SharedLog};
use crate::config::Limits;
use std::time::Duration;

/// The effective limits of one run, its deadline (for the task record, and
/// for host calls that must end by it) and its task log.
#[derive(Clone)]
pub(crate) struct RunPlan {
    pub limits: Limits,
    pub deadline_ms: u64,
    /// When the run must end: the epoch callback's and the stop timer's.
    pub deadline: std::time::Instant,
    pub log: SharedLog,
    /// Where granted key-value buckets live, if the runtime has a store.
    pub kv: Option<std::sync::Arc<dyn super::kv::KvStore>>,
}

/// The raw result of a run, before it becomes an [`Outcome`].
#[derive(Debug)]
pub(crate) struct Finished {
    pub kind: OutcomeKind,
    pub fuel_used: u64,
    pub elapsed: Duration,
    pub sandbox: Sandbox,
    /// The guest's stdout as log text (components only; a command's stdout
    /// is its output).
    pub stdout: String,
    pub stderr: String,
    /// The child tasks the run enqueued (components only).
    pub children: Vec<crate::task::ChildSpec>,
}

impl Finished {
    /// A run that ended without an outcome of its own: never started (the
    /// task was already cancelled), or stopped by the host while blocked in
    /// a host call, its store thrown away with whatever it had logged.
    /// What the run had logged is kept (`log`).
    pub fn stopped(
        kind: OutcomeKind,
        limits: &crate::config::Limits,
        elapsed: Duration,
        log: SharedLog,
    ) -> Self {
        Finished {
            kind,
            fuel_used: 0,
            elapsed,
            sandbox: Sandbox::new(limits, log),
            stdout: String::new(),
            stderr: String::new(),
            children: Vec::new(),
        }
    }

    /// The outcome, with the task log assembled: the `log` entries first,
    /// then stdout and stderr, each line prefixed with its stream.
    pub fn into_outcome(self) -> Outcome {
        let Finished {
            kind,
            fuel_used,
            elapsed,
            sandbox,
            stdout,
            stderr,
            children,
        } = self;
        let kind_is_success = matches!(kind, OutcomeKind::Success { .. });
        let mut log = sandbox.log.take();
        for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            for line in text.lines() {
                log.push('[');
                log.push_str(stream);
                log.push_str("] ");
                log.push_str(line);
                log.push('\n');
            }
        }
        Outcome {
            kind,
            fuel_used,
            peak_memory: sandbox.limiter.peak as u64,
            wall_time: elapsed,
            log,
            progress: sandbox.progress,
            // A failed run commits none of its children: drop them here.
            children: if kind_is_success {
                children
            } else {
                Vec::new()
            },
        }
    }
}
