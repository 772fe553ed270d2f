//! What the host hands a plugin for one run, and how to cancel that run.

use crate::config::Limits;
use crate::task::ChildResult;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// One task, as the runtime runs it. Mirrors the WIT `task` record; the
/// deadline is computed by the runtime from the effective timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The task id (for example `email:1a2b`).
    pub id: String,
    /// The task type, which is also the plugin name.
    pub task_type: String,
    /// The payload bytes (JSON by convention).
    pub payload: Vec<u8>,
    /// 1 on the first run, 2 on the first retry, and so on.
    pub attempt: u32,
    /// The attempt after which a failure is dead-lettered.
    pub max_attempts: u32,
    /// When the task was enqueued, in milliseconds since the Unix epoch.
    pub enqueued_at_ms: u64,
    /// Limits for this run only, replacing the plugin's (for example a
    /// per-task timeout). Memory is clamped to the runtime's maximum.
    pub limits: Option<Limits>,
    /// Largest payload of a child task (`wasmq:plugin/tasks`), in bytes:
    /// the broker's max payload on a host.
    pub max_child_payload: usize,
    /// For a flow parent, the outcome of each task it waited for (the WIT
    /// `task.children`); empty otherwise.
    pub children: Vec<ChildResult>,
}

/// [`Invocation::max_child_payload`] by default: 1 MiB, the broker's
/// default max payload.
pub const DEFAULT_MAX_CHILD_PAYLOAD: usize = 1 << 20;

impl Invocation {
    /// A first attempt of a task enqueued now, with the plugin's limits.
    pub fn new(id: impl Into<String>, task_type: impl Into<String>, payload: Vec<u8>) -> Self {
        Invocation {
            id: id.into(),
            task_type: task_type.into(),
            payload,
            attempt: 1,
            max_attempts: 1,
            enqueued_at_ms: now_ms(),
            limits: None,
            max_child_payload: DEFAULT_MAX_CHILD_PAYLOAD,
            children: Vec::new(),
        }
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Cancels a running task from another thread or task.
///
/// A run stops within about one epoch tick of [`cancel`](Self::cancel),
/// whatever the guest is doing: the epoch callback stops wasm code, and the
/// run's future is dropped when the guest is blocked in a host call (see
/// [`Plugin::run`](super::Plugin::run)). Clones share the state. A token stays
/// cancelled once cancelled.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(CancellationToken);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every run holding this token to stop.
    pub fn cancel(&self) {
        self.0.cancel();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Resolves once [`cancel`](Self::cancel) is called.
    pub async fn cancelled(&self) {
        self.0.cancelled().await;
    }
}
