//! The task browser's read path: a queue's tasks in one state, a page at a
//! time, with what an operator needs to judge each one (age, attempts, last
//! error, a preview of its payload or output).
//!
//! Live states are read by `task_page.lua` in one call; completed and
//! cancelled tasks by walking the result buckets with `result_page.lua`
//! (see [`cursor`] for the cursor forms). Previews are cut to
//! [`PREVIEW_BYTES`] inside Redis, so a page never moves whole payloads.
//! A sealed payload or output is shown as encrypted and never opened here:
//! the browser is a listing, and no other listing opens payloads. Errors are
//! opened as the dead-letter listing opens them.

mod cursor;

pub use cursor::{BROWSABLE, TaskCursor, browse_state};

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::records::{FinalRecord, Meta};
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::crypto;
use crate::task::{Priority, TaskId, TaskRecord, TaskState};
use redis::Value;
use serde::Serialize;

/// Payload or output bytes a row carries at most.
pub const PREVIEW_BYTES: usize = 256;
/// Largest page.
pub const MAX_PAGE: u64 = 500;
/// Result-bucket scan steps one page takes at most (a page of sparse
/// buckets ends early, with a cursor to go on).
const MAX_SCAN_STEPS: usize = 64;

/// The first bytes of a payload or output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preview {
    /// Its whole size in bytes.
    pub size: u64,
    /// At most [`PREVIEW_BYTES`] of it; empty when it is encrypted.
    pub bytes: Vec<u8>,
    /// True when `bytes` is not all of it.
    pub truncated: bool,
    /// True when it is stored sealed: `bytes` is then empty.
    pub encrypted: bool,
}

impl Preview {
    fn of(prefix: &[u8], size: u64) -> Self {
        if crypto::is_sealed(prefix) {
            return Self {
                size,
                bytes: Vec::new(),
                truncated: size > 0,
                encrypted: true,
            };
        }
        let bytes = prefix[..prefix.len().min(PREVIEW_BYTES)].to_vec();
        Self {
            truncated: (bytes.len() as u64) < size,
            size,
            bytes,
            encrypted: false,
        }
    }
}

/// One task of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRow {
    /// The task id.
    pub id: TaskId,
    /// When it was enqueued (ms since the Unix epoch), if known.
    pub enqueued_at_ms: Option<u64>,
    /// Attempts started so far.
    pub attempts: u32,
    /// Max retries + 1, while its body is there.
    pub max_attempts: Option<u32>,
    /// Its priority, while its body is there.
    pub priority: Option<Priority>,
    /// The error of its last failed attempt.
    pub last_error: Option<String>,
    /// Why it is dead.
    pub reason: Option<String>,
    /// The plugin version that last ran it.
    pub plugin_version: Option<String>,
    /// The time the state is about: due (scheduled, retry), lease deadline
    /// (active), death (dead) or finish (completed, cancelled).
    pub at_ms: Option<u64>,
    /// When its last attempt started.
    pub started_at_ms: Option<u64>,
    /// Wall time of the run that completed it.
    pub wall_ms: Option<u64>,
    /// Fuel the run that completed it used.
    pub fuel_used: Option<u64>,
    /// Its payload (live states).
    pub payload: Option<Preview>,
    /// Its output (completed).
    pub output: Option<Preview>,
}

/// A page of tasks in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskPage {
    /// The state listed.
    pub state: TaskState,
    /// Tasks in that state (live states only: final records are not counted).
    pub total: Option<u64>,
    /// This page.
    pub tasks: Vec<TaskRow>,
    /// Where the next page starts; `None` after the last.
    pub next_cursor: Option<TaskCursor>,
}

impl Client {
    /// A page of `queue`'s tasks in `state` (one of [`BROWSABLE`]), from
    /// `cursor` (`None`: the first page), about `limit` (1 to [`MAX_PAGE`])
    /// long.
    pub async fn list_tasks(
        &self,
        queue: &str,
        state: TaskState,
        cursor: Option<TaskCursor>,
        limit: u64,
    ) -> BrokerResult<TaskPage> {
        self.keys(queue)?;
        let bad = |reason: String| {
            BrokerError::from(crate::error::ValidationError::OutOfRange {
                what: "task page".into(),
                reason,
            })
        };
        if !BROWSABLE.contains(&state) {
            return Err(bad(format!("tasks cannot be listed in state {state}")));
        }
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(bad(format!("limit {limit} is not in 1..={MAX_PAGE}")));
        }
        if let Some(c) = cursor.filter(|c| !c.fits(state)) {
            return Err(bad(format!(
                "cursor {c} belongs to a page of another state than {state}"
            )));
        }
        match state {
            TaskState::Completed | TaskState::Cancelled => {
                self.list_final(queue, state, cursor, limit).await
            }
            _ => self.list_live(queue, state, cursor, limit).await,
        }
    }

    async fn list_live(
        &self,
        queue: &str,
        state: TaskState,
        cursor: Option<TaskCursor>,
        limit: u64,
    ) -> BrokerResult<TaskPage> {
        let keys = self.keys(queue)?;
        let offset = match cursor {
            Some(TaskCursor::Offset(n)) => n,
            _ => 0,
        };
        let op = format!("list {state} tasks of queue {queue:?}");
        let mut inv = SCRIPTS.task_page.prepare_invoke();
        inv.key(&keys.tasks)
            .key(&keys.meta)
            .key(&keys.pending[..])
            .key(&keys.scheduled)
            .key(&keys.retry)
            .key(&keys.active)
            .key(&keys.dead)
            .key(&keys.lease)
            .arg(state.as_str())
            .arg(offset)
            .arg(limit)
            .arg(PREVIEW_BYTES);
        let r = Reply::of(&op);
        let mut items = r.array(self.invoke(&inv, &op).await?)?.into_iter();
        let total = r.uint(&items.next().unwrap_or(Value::Nil))?;
        let mut tasks = Vec::new();
        while let (Some(id), Some(score), Some(meta), Some(head), Some(size), Some(lease)) = (
            items.next(),
            items.next(),
            items.next(),
            items.next(),
            items.next(),
            items.next(),
        ) {
            let mut meta = r
                .opt_text(meta)?
                .and_then(|m| Meta::parse(&m))
                .unwrap_or_default();
            // While active, the attempt and start time are in the lease value.
            if let Some(lease) = r.opt_text(lease)? {
                meta.apply_lease(&lease);
            }
            let head = r.opt_bytes(head)?.unwrap_or_default();
            let nl = head.iter().position(|b| *b == b'\n');
            let record = nl.and_then(|i| TaskRecord::decode_header(&head[..i]).ok());
            let body_size = r.uint(&size)?;
            let payload = nl.map(|i| Preview::of(&head[i + 1..], body_size - (i as u64 + 1)));
            let at_ms = match score {
                Value::Nil | Value::Boolean(false) => None,
                v => Some(r.uint(&v)?),
            };
            tasks.push(TaskRow {
                id: TaskId::from_parts(queue, &r.text(id)?),
                enqueued_at_ms: record.as_ref().map(|h| h.enqueued_at_ms),
                attempts: meta.attempt,
                max_attempts: record.as_ref().map(|h| h.max_retries.saturating_add(1)),
                priority: record.as_ref().map(|h| h.priority),
                last_error: self.open_error(queue, meta.error),
                reason: meta.reason.filter(|_| state == TaskState::Dead),
                plugin_version: meta.version,
                at_ms,
                started_at_ms: meta.started_ms,
                wall_ms: None,
                fuel_used: None,
                payload,
                output: None,
            });
        }
        let next = offset + tasks.len() as u64;
        Ok(TaskPage {
            state,
            total: Some(total),
            next_cursor: (!tasks.is_empty() && next < total).then_some(TaskCursor::Offset(next)),
            tasks,
        })
    }

    async fn list_final(
        &self,
        queue: &str,
        state: TaskState,
        cursor: Option<TaskCursor>,
        limit: u64,
    ) -> BrokerResult<TaskPage> {
        let keys = self.keys(queue)?;
        let op = format!("list {state} tasks of queue {queue:?}");
        let numbers = self.bucket_numbers(&keys).await?;
        // Newest bucket first; a cursor's bucket that expired meanwhile
        // continues with the next older one.
        let (mut at, mut scan) = match cursor {
            Some(TaskCursor::Bucket { number, scan }) => {
                let at = numbers.iter().position(|n| *n <= number);
                let scan = match at {
                    Some(i) if numbers[i] == number => scan,
                    _ => 0,
                };
                (at.unwrap_or(numbers.len()), scan)
            }
            _ => (0, 0),
        };
        let r = Reply::of(&op);
        let mut tasks = Vec::new();
        for _ in 0..MAX_SCAN_STEPS {
            if at >= numbers.len() || tasks.len() as u64 >= limit {
                break;
            }
            let mut inv = SCRIPTS.result_page.prepare_invoke();
            inv.key(keys.result_bucket(numbers[at]))
                .arg(scan)
                .arg((limit - tasks.len() as u64).max(10))
                .arg(PREVIEW_BYTES);
            let mut items = r.array(self.invoke(&inv, &op).await?)?.into_iter();
            scan = r
                .text(items.next().unwrap_or(Value::Nil))?
                .parse()
                .unwrap_or(0);
            while let (Some(id), Some(head), Some(size)) =
                (items.next(), items.next(), items.next())
            {
                let head = r.bytes(head)?;
                let size = r.uint(&size)?;
                if let Some(row) = self.final_row(queue, state, &r.text(id)?, &head, size) {
                    tasks.push(row);
                }
            }
            if scan == 0 {
                at += 1;
            }
        }
        let next_cursor = (at < numbers.len()).then(|| TaskCursor::Bucket {
            number: numbers[at],
            scan,
        });
        Ok(TaskPage {
            state,
            total: None,
            tasks,
            next_cursor,
        })
    }

    /// A row from a final record's head, if it is in `state`.
    fn final_row(
        &self,
        queue: &str,
        state: TaskState,
        local: &str,
        head: &[u8],
        size: u64,
    ) -> Option<TaskRow> {
        let nl = head.iter().position(|b| *b == b'\n');
        let line = &head[..nl.unwrap_or(head.len())];
        let rec = FinalRecord::parse_header(std::str::from_utf8(line).ok()?)?;
        if rec.state != state {
            return None;
        }
        let output = nl.map(|i| Preview::of(&head[i + 1..], size - (i as u64 + 1)));
        Some(TaskRow {
            id: TaskId::from_parts(queue, local),
            enqueued_at_ms: rec.enqueued_ms,
            attempts: rec.attempt,
            max_attempts: None,
            priority: None,
            last_error: None,
            reason: None,
            plugin_version: rec.version,
            at_ms: Some(rec.finished_ms),
            started_at_ms: rec.started_ms,
            wall_ms: rec.wall_ms,
            fuel_used: rec.fuel,
            payload: None,
            output: output.filter(|_| state == TaskState::Completed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_cut_and_mark_sealed_values() {
        let p = Preview::of(b"hello", 5);
        assert_eq!(
            (p.bytes.as_slice(), p.truncated, p.encrypted),
            (&b"hello"[..], false, false)
        );
        let long = vec![b'x'; PREVIEW_BYTES + 10];
        let p = Preview::of(&long, 9000);
        assert_eq!((p.bytes.len(), p.truncated), (PREVIEW_BYTES, true));
        let p = Preview::of(b"\x01wqe1:k1:abcdef", 300);
        assert!(p.encrypted && p.bytes.is_empty(), "{p:?}");
    }
}
