//! What the host hands a plugin for one run, and how to cancel that run.

use crate::config::Limits;
use crate::task::ChildResult;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
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
    /// Where the plugin's progress reports go as they are made (besides
    /// the outcome's last one), for a caller that shows them live.
    pub progress: Option<ProgressFeed>,
}

/// Longest progress note a [`ProgressFeed`] carries, in bytes.
pub const FEED_NOTE_MAX: usize = 1024;

/// The latest progress report of a run, as `(percent, note)`; `None` until
/// the plugin reports. The runtime only sends: it never waits, whoever
/// reads (the worker keeps it in Redis, see `worker/progress.rs`).
#[derive(Debug, Clone)]
pub struct ProgressFeed(std::sync::Arc<watch::Sender<Option<(u8, String)>>>);

/// The reading end of a [`ProgressFeed`].
pub type ProgressReports = watch::Receiver<Option<(u8, String)>>;

impl ProgressFeed {
    /// A feed and the receiver of its reports.
    pub fn new() -> (ProgressFeed, ProgressReports) {
        let (tx, rx) = watch::channel(None);
        (ProgressFeed(std::sync::Arc::new(tx)), rx)
    }

    /// Replaces the latest report (whether or not anyone reads it). The
    /// note is cut at [`FEED_NOTE_MAX`] bytes: a plugin cannot make the
    /// host copy megabytes per report.
    pub fn send(&self, percent: u8, note: &str) {
        let end = note.floor_char_boundary(FEED_NOTE_MAX);
        self.0.send_replace(Some((percent, note[..end].to_owned())));
    }
}

impl PartialEq for ProgressFeed {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ProgressFeed {}

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
            progress: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_keeps_the_latest_report_with_its_note_bounded() {
        let (feed, mut reports) = ProgressFeed::new();
        assert!(reports.borrow_and_update().is_none());
        feed.send(10, "first");
        feed.send(20, &"é".repeat(FEED_NOTE_MAX));
        assert!(reports.has_changed().unwrap());
        let (percent, note) = reports.borrow_and_update().clone().unwrap();
        assert_eq!(percent, 20);
        assert!(
            note.len() <= FEED_NOTE_MAX && note.starts_with('é'),
            "{}",
            note.len()
        );
        assert_eq!(feed, feed.clone());
        assert_ne!(feed, ProgressFeed::new().0);
    }
}
