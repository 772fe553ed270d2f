//! The task browser on the wire: a page of one queue's tasks in one state,
//! and the actions on a selection of them.

use crate::broker::{ActionReport, Preview, TaskPage, TaskRow};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Which page of a queue's tasks to list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TasksQuery {
    /// `pending`, `scheduled`, `active`, `retry` (or `retry-wait`), `dead`,
    /// `completed` or `cancelled` (required).
    pub state: Option<String>,
    /// The `next_cursor` of the previous page; absent for the first page.
    pub cursor: Option<String>,
    /// Tasks per page, 1 to 500 (default 50).
    pub limit: Option<u64>,
}

/// The first bytes of a payload or output.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviewDto {
    /// The whole value's size in bytes.
    pub size: u64,
    /// `text` (UTF-8), `base64` (binary) or `none` (encrypted or empty).
    #[schema(example = "text")]
    pub encoding: String,
    /// At most 256 bytes of it, as `encoding` says.
    pub data: String,
    /// True when `data` is not all of it.
    pub truncated: bool,
    /// True when it is stored encrypted: it is never opened for a listing.
    pub encrypted: bool,
}

impl From<Preview> for PreviewDto {
    fn from(p: Preview) -> Self {
        let (encoding, data) = if p.encrypted || p.bytes.is_empty() {
            ("none", String::new())
        } else {
            match std::str::from_utf8(&p.bytes) {
                Ok(text) => ("text", text.to_owned()),
                // A cut through the last character is still text.
                Err(e) if e.error_len().is_none() && p.truncated => (
                    "text",
                    String::from_utf8_lossy(&p.bytes[..e.valid_up_to()]).into_owned(),
                ),
                Err(_) => (
                    "base64",
                    base64::engine::general_purpose::STANDARD.encode(&p.bytes),
                ),
            }
        };
        Self {
            size: p.size,
            encoding: encoding.to_owned(),
            data,
            truncated: p.truncated,
            encrypted: p.encrypted,
        }
    }
}

/// One task of a page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskRowDto {
    /// `<queue>:<local id>`.
    pub id: String,
    /// When it was enqueued, ms since the Unix epoch.
    pub enqueued_at_ms: Option<u64>,
    /// Its age by the server's clock, ms.
    pub age_ms: Option<u64>,
    /// Attempts started so far.
    pub attempts: u32,
    /// Max retries + 1, while its body is kept.
    pub max_attempts: Option<u32>,
    /// `high`, `normal` or `low`, while its body is kept.
    pub priority: Option<String>,
    /// The error of its last failed attempt.
    pub last_error: Option<String>,
    /// Why it is dead.
    pub reason: Option<String>,
    /// The plugin version that last ran it.
    pub plugin_version: Option<String>,
    /// Due (scheduled, retry), lease deadline (active), death (dead) or
    /// finish (completed, cancelled), ms since the Unix epoch.
    pub at_ms: Option<u64>,
    /// When its last attempt started.
    pub started_at_ms: Option<u64>,
    /// Wall time of the run that completed it, ms.
    pub wall_ms: Option<u64>,
    /// Fuel the run that completed it used.
    pub fuel_used: Option<u64>,
    /// Its payload (live states).
    pub payload: Option<PreviewDto>,
    /// Its output (completed).
    pub output: Option<PreviewDto>,
}

impl TaskRowDto {
    fn new(t: TaskRow, now_ms: u64) -> Self {
        Self {
            id: t.id.to_string(),
            age_ms: t.enqueued_at_ms.map(|e| now_ms.saturating_sub(e)),
            enqueued_at_ms: t.enqueued_at_ms,
            attempts: t.attempts,
            max_attempts: t.max_attempts,
            priority: t.priority.map(|p| p.as_str().to_owned()),
            last_error: t.last_error,
            reason: t.reason,
            plugin_version: t.plugin_version,
            at_ms: t.at_ms,
            started_at_ms: t.started_at_ms,
            wall_ms: t.wall_ms,
            fuel_used: t.fuel_used,
            payload: t.payload.map(Into::into),
            output: t.output.map(Into::into),
        }
    }
}

/// A page of one queue's tasks in one state.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskPageResponse {
    /// The queue.
    pub queue: String,
    /// The state listed (`retry-wait` for `retry`).
    pub state: String,
    /// Tasks in that state; absent for completed and cancelled, which are
    /// not counted.
    pub total: Option<u64>,
    /// Page size asked for.
    pub limit: u64,
    /// The server's clock, ms since the Unix epoch.
    pub now_ms: u64,
    /// Pass as `cursor` for the next page; absent after the last.
    pub next_cursor: Option<String>,
    /// This page.
    pub tasks: Vec<TaskRowDto>,
}

impl TaskPageResponse {
    /// The page as sent, ages by `now_ms`.
    pub fn new(queue: String, limit: u64, now_ms: u64, page: TaskPage) -> Self {
        Self {
            queue,
            state: page.state.as_str().to_owned(),
            total: page.total,
            limit,
            now_ms,
            next_cursor: page.next_cursor.map(|c| c.to_string()),
            tasks: page
                .tasks
                .into_iter()
                .map(|t| TaskRowDto::new(t, now_ms))
                .collect(),
        }
    }
}

/// An action on tasks of one queue in one state: `ids` or `all: true`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskActionRequest {
    /// `retry` (dead: re-drive; retry, scheduled: run now), `delete` (for
    /// good, no record), `cancel`, or `promote` (scheduled, retry: run now).
    #[schema(example = "retry")]
    pub action: String,
    /// The state the tasks are in, as in the listing.
    #[schema(example = "dead")]
    pub state: String,
    /// These tasks (1 to 1000, all of this queue).
    pub ids: Option<Vec<String>>,
    /// Every task of the queue in `state`.
    #[serde(default)]
    pub all: bool,
}

/// What an action did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskActionResponse {
    /// The action.
    pub action: String,
    /// The state.
    pub state: String,
    /// Tasks it applied to.
    pub done: u64,
    /// Selected tasks that had left the state (or dead ones with no usable
    /// body, dropped instead of re-driven).
    pub skipped: u64,
}

impl TaskActionResponse {
    /// The report as sent.
    pub fn new(action: &str, state: &str, r: ActionReport) -> Self {
        Self {
            action: action.to_owned(),
            state: state.to_owned(),
            done: r.done,
            skipped: r.skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview(bytes: &[u8], size: u64, encrypted: bool) -> PreviewDto {
        Preview {
            size,
            bytes: bytes.to_vec(),
            truncated: (bytes.len() as u64) < size,
            encrypted,
        }
        .into()
    }

    #[test]
    fn previews_are_text_base64_or_hidden() {
        let p = preview(br#"{"to":"a@b"}"#, 12, false);
        assert_eq!(
            (p.encoding.as_str(), p.data.as_str()),
            ("text", r#"{"to":"a@b"}"#)
        );
        let p = preview(&[0xff, 0x00, 0x10], 3, false);
        assert_eq!((p.encoding.as_str(), p.data.as_str()), ("base64", "/wAQ"));
        let p = preview("héllo".as_bytes().get(..2).unwrap(), 6, false);
        assert_eq!((p.encoding.as_str(), p.data.as_str()), ("text", "h"));
        let p = preview(b"", 40, true);
        assert_eq!(
            (p.encoding.as_str(), p.data.as_str(), p.encrypted),
            ("none", "", true)
        );
    }
}
