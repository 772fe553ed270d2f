//! What the API says about one task: its status, its result, a cancellation.
//!
//! These mirror the broker's types field for field but live here, with the
//! OpenAPI schema derive, so the broker needs no HTTP or utoipa dependency
//! and the wire format is pinned in one place even if the broker's structs
//! grow.

use crate::broker::{CancelOutcome, TaskResult, TaskStatus};
use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Everything known about a task.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskStatusDto {
    /// `<queue>:<local id>`.
    #[schema(example = "email:1a")]
    pub id: String,
    /// The queue (task type).
    pub queue: String,
    /// `waiting` (a flow parent waiting for its dependencies), `scheduled`,
    /// `pending`, `active`, `retry-wait`, `completed`, `dead` or `cancelled`.
    #[schema(example = "pending")]
    pub state: String,
    /// Attempts started so far.
    pub attempts: u32,
    /// Max retries + 1 (unknown once only the final record is left).
    pub max_attempts: Option<u32>,
    /// `high`, `normal` or `low` (unknown once only the final record is left).
    pub priority: Option<String>,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// Why it is dead (`retries-exhausted`, `permanent`, ...).
    pub dead_reason: Option<String>,
    /// When it was enqueued, ms since the Unix epoch.
    pub enqueued_at_ms: Option<u64>,
    /// When its last attempt started.
    pub last_started_at_ms: Option<u64>,
    /// When it reached a final state.
    pub finished_at_ms: Option<u64>,
    /// The plugin version that last ran it.
    pub plugin_version: Option<String>,
    /// When a scheduled or retry-waiting task becomes pending.
    pub due_at_ms: Option<u64>,
    /// When an active task's lease runs out.
    pub lease_deadline_ms: Option<u64>,
    /// True if cancellation of this active task was requested.
    pub cancel_requested: bool,
}

impl From<TaskStatus> for TaskStatusDto {
    fn from(s: TaskStatus) -> Self {
        Self {
            id: s.id.to_string(),
            queue: s.id.queue().to_owned(),
            state: s.state.as_str().to_owned(),
            attempts: s.attempts,
            max_attempts: s.max_attempts,
            priority: s.priority.map(|p| p.as_str().to_owned()),
            last_error: s.last_error,
            dead_reason: s.dead_reason,
            enqueued_at_ms: s.enqueued_at_ms,
            last_started_at_ms: s.last_started_at_ms,
            finished_at_ms: s.finished_at_ms,
            plugin_version: s.plugin_version,
            due_at_ms: s.due_at_ms,
            lease_deadline_ms: s.lease_deadline_ms,
            cancel_requested: s.cancel_requested,
        }
    }
}

/// The stored result of a completed task.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskResultDto {
    /// The task id.
    pub id: String,
    /// The output's content type, as the plugin declared it.
    pub content_type: Option<String>,
    /// The output parsed as JSON, when it is JSON; otherwise `null`.
    pub output: Option<Value>,
    /// The output as UTF-8 text, when it is text but not JSON.
    pub output_text: Option<String>,
    /// The output bytes, base64 (always present).
    pub output_b64: String,
    /// The plugin version that produced it.
    pub plugin_version: Option<String>,
    /// The attempt that succeeded.
    pub attempts: u32,
    /// When it was enqueued, ms since the Unix epoch.
    pub enqueued_at_ms: Option<u64>,
    /// When the successful attempt started.
    pub started_at_ms: Option<u64>,
    /// When it was acked.
    pub finished_at_ms: u64,
    /// Wall-clock time of the successful run, in ms.
    pub wall_ms: Option<u64>,
    /// Fuel it consumed, if metered.
    pub fuel_used: Option<u64>,
}

impl From<TaskResult> for TaskResultDto {
    fn from(r: TaskResult) -> Self {
        let output = serde_json::from_slice::<Value>(&r.output).ok();
        let output_text = match output {
            Some(_) => None,
            None => String::from_utf8(r.output.clone()).ok(),
        };
        Self {
            id: r.id.to_string(),
            content_type: r.content_type,
            output,
            output_text,
            output_b64: base64::engine::general_purpose::STANDARD.encode(&r.output),
            plugin_version: r.plugin_version,
            attempts: r.attempts,
            enqueued_at_ms: r.enqueued_at_ms,
            started_at_ms: r.started_at_ms,
            finished_at_ms: r.finished_at_ms,
            wall_ms: r.wall_ms,
            fuel_used: r.fuel_used,
        }
    }
}

/// What a cancellation did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CancelResponse {
    /// The task id.
    pub id: String,
    /// `cancelled` (it had not started: it never will) or `requested` (it is
    /// running: its host was told to stop it).
    #[schema(example = "cancelled")]
    pub outcome: String,
}

/// The outcome name used on the wire.
pub fn outcome_name(outcome: CancelOutcome) -> &'static str {
    match outcome {
        CancelOutcome::Cancelled => "cancelled",
        CancelOutcome::Requested => "requested",
        CancelOutcome::AlreadyDead => "already-dead",
        CancelOutcome::AlreadyFinished => "already-finished",
        CancelOutcome::NotFound => "not-found",
    }
}

/// One attempt of a task, with what it cost.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptDto {
    /// 1 for the first run.
    pub attempt: u32,
    /// When it started, ms since the Unix epoch (Redis's clock).
    pub started_at_ms: Option<u64>,
    /// When it was settled.
    pub finished_at_ms: Option<u64>,
    /// How it ended: `success`, `retryable`, `permanent`, `out_of_fuel`,
    /// `timed_out`, `out_of_memory`, `trap`, `panic`, ...
    #[schema(example = "success")]
    pub outcome: String,
    /// Wall time, ms.
    pub wall_ms: Option<u64>,
    /// Fuel consumed.
    pub fuel_used: Option<u64>,
    /// Peak linear memory, bytes.
    pub peak_memory_bytes: Option<u64>,
    /// The plugin version that ran it.
    pub plugin_version: Option<String>,
    /// Its error, if it failed.
    pub error: Option<String>,
    /// Its log (the plugin's log lines, stdout, stderr), if kept: the last
    /// 5 attempts' logs, at most 16 KiB each.
    pub log: Option<String>,
}

/// A task's progress as its handler last reported it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgressDto {
    /// 0 to 100.
    pub percent: u8,
    /// The note that came with it.
    pub note: String,
}

/// A task's run history: the last 25 attempts, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskRunsDto {
    /// The task id.
    pub id: String,
    /// The kept attempts.
    pub attempts: Vec<AttemptDto>,
    /// The last progress reported.
    pub progress: Option<ProgressDto>,
}

impl TaskRunsDto {
    /// The history of task `id` as sent.
    pub fn new(id: String, runs: crate::broker::TaskRuns) -> Self {
        Self {
            id,
            attempts: runs
                .attempts
                .into_iter()
                .map(|a| AttemptDto {
                    attempt: a.attempt,
                    started_at_ms: a.started_at_ms,
                    finished_at_ms: a.finished_at_ms,
                    outcome: a.outcome,
                    wall_ms: a.wall_ms,
                    fuel_used: a.fuel_used,
                    peak_memory_bytes: a.peak_memory,
                    plugin_version: a.plugin_version,
                    error: a.error,
                    log: a.log,
                })
                .collect(),
            progress: runs
                .progress
                .map(|(percent, note)| ProgressDto { percent, note }),
        }
    }
}
