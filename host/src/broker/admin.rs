//! Looking tasks up by id, cancelling them, and pausing queues.
//!
//! A task id names its queue, so every lookup goes straight to that queue's
//! keys (one slot on Cluster) with no global index. Completed and cancelled
//! tasks are found through their final record in the queue's result buckets,
//! kept for the result TTL (see `results.rs`); with a TTL of zero no record is
//! kept and such tasks read as not found.
//!
//! A flow parent waiting for its dependencies is a task like the others
//! here (state `waiting`, cancellable at once) although its body sits in its
//! flow hash rather than the tasks hash until it is released, so the status
//! and cancel scripts take that hash as a key too.

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::flows::FLOW_KEEP;
use super::options::millis;
use super::records::{FinalRecord, Meta};
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::task::{Priority, TaskId, TaskRecord, TaskState};
use redis::Value;
use serde::Serialize;
use tracing::instrument;

/// Everything known about a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskStatus {
    /// The task id.
    pub id: TaskId,
    /// Where it is now.
    pub state: TaskState,
    /// Attempts started so far.
    pub attempts: u32,
    /// Max retries + 1 (unknown once only the final record is left).
    pub max_attempts: Option<u32>,
    /// Its priority (unknown once only the final record is left).
    pub priority: Option<Priority>,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// Why it is dead (`retries-exhausted`, `permanent`, `lease-expired`,
    /// `malformed`, ...).
    pub dead_reason: Option<String>,
    /// When it was enqueued (ms since the Unix epoch).
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

/// The stored result of a completed task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskResult {
    /// The task id.
    pub id: TaskId,
    /// The output bytes.
    pub output: Vec<u8>,
    /// Their content type.
    pub content_type: Option<String>,
    /// The plugin version that produced them.
    pub plugin_version: Option<String>,
    /// The attempt that succeeded.
    pub attempts: u32,
    /// When it was enqueued (ms since the Unix epoch).
    pub enqueued_at_ms: Option<u64>,
    /// When the successful attempt started.
    pub started_at_ms: Option<u64>,
    /// When it was acked.
    pub finished_at_ms: u64,
    /// Wall-clock time of the successful run.
    pub wall_ms: Option<u64>,
    /// Fuel it consumed, if metered.
    pub fuel_used: Option<u64>,
    /// True when the output is sealed and this client holds no key that
    /// opens it: `output` is then the text `encrypted`.
    pub encrypted: bool,
}

/// What [`Client::cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CancelOutcome {
    /// It was scheduled, pending, waiting to retry or waiting for its flow
    /// dependencies, and is now cancelled.
    Cancelled,
    /// It is running: it was flagged and its host notified; it ends as
    /// cancelled unless it completes first.
    Requested,
    /// It is already in the dead-letter set.
    AlreadyDead,
    /// It already completed or was cancelled.
    AlreadyFinished,
    /// No such task (or its final record expired).
    NotFound,
}

impl Client {
    /// Looks a task up in every state. `None` when the id is unknown, or the
    /// task finished and its record expired (or was never kept: result TTL 0).
    #[instrument(skip_all, fields(task_id = %id, kind = id.queue()))]
    pub async fn status(&self, id: &TaskId) -> BrokerResult<Option<TaskStatus>> {
        let keys = self.keys(id.queue())?;
        let buckets = self.bucket_keys(&keys).await?;
        if let found @ Some(_) = self.status_in(id, &keys, &buckets).await? {
            return Ok(found);
        }
        match self.buckets_since(&keys, &buckets).await? {
            Some(now) => self.status_in(id, &keys, &now).await,
            None => Ok(None),
        }
    }

    /// [`Client::status`] with the result buckets listed.
    async fn status_in(
        &self,
        id: &TaskId,
        keys: &super::keys::QueueKeys,
        buckets: &[String],
    ) -> BrokerResult<Option<TaskStatus>> {
        let op = format!("status of task {id}");
        let mut inv = SCRIPTS.status.prepare_invoke();
        inv.key(&keys.tasks)
            .key(&keys.meta)
            .key(&keys.active)
            .key(&keys.scheduled)
            .key(&keys.retry)
            .key(&keys.dead)
            .key(&keys.cancel)
            .key(&keys.lease)
            .key(&keys.waiting)
            .key(keys.flow(id.local()))
            .key(buckets)
            .arg(id.local());
        let reply = self.invoke(&inv, &op).await?;
        let r = Reply::of(&op);
        let mut items = r.array(reply)?.into_iter();
        let Some(state) = items.next() else {
            return Ok(None);
        };
        let state = r.text(state)?;
        if state == "final" {
            let head = items
                .next()
                .map(|v| r.text(v))
                .transpose()?
                .unwrap_or_default();
            let rec = FinalRecord::parse_header(&head)
                .ok_or_else(|| BrokerError::reply(&op, format!("bad final record {head:?}")))?;
            return Ok(Some(TaskStatus {
                id: id.clone(),
                state: rec.state,
                attempts: rec.attempt,
                max_attempts: None,
                priority: None,
                last_error: None,
                dead_reason: None,
                enqueued_at_ms: rec.enqueued_ms,
                last_started_at_ms: rec.started_ms,
                finished_at_ms: Some(rec.finished_ms),
                plugin_version: rec.version,
                due_at_ms: None,
                lease_deadline_ms: None,
                cancel_requested: false,
            }));
        }
        let state: TaskState = state
            .parse()
            .map_err(|e| BrokerError::reply(&op, format!("{e}")))?;
        let mut next = || items.next().unwrap_or(Value::Nil);
        let head = r
            .opt_bytes(next())?
            .and_then(|h| TaskRecord::decode_header(&h).ok());
        let meta = r
            .opt_text(next())?
            .and_then(|m| Meta::parse(&m))
            .unwrap_or_default();
        let score = match next() {
            Value::Nil | Value::Boolean(false) => None,
            v => Some(r.uint(&v)?),
        };
        let flag = r.int(&next()).unwrap_or(0) == 1;
        // While active, the attempt and start time are in the lease value.
        let mut meta = meta;
        if let Some(lease) = r.opt_text(next())? {
            meta.apply_lease(&lease);
        }
        Ok(Some(TaskStatus {
            id: id.clone(),
            state,
            attempts: meta.attempt,
            max_attempts: head.as_ref().map(|h| h.max_retries.saturating_add(1)),
            priority: head.as_ref().map(|h| h.priority),
            last_error: self.open_error(id.queue(), meta.error),
            dead_reason: meta.reason.filter(|_| state == TaskState::Dead),
            enqueued_at_ms: head.as_ref().map(|h| h.enqueued_at_ms),
            last_started_at_ms: meta.started_ms,
            finished_at_ms: meta.finished_ms.filter(|_| state == TaskState::Dead),
            plugin_version: meta.version,
            due_at_ms: score
                .filter(|_| matches!(state, TaskState::Scheduled | TaskState::RetryWait)),
            lease_deadline_ms: score.filter(|_| state == TaskState::Active),
            cancel_requested: flag,
        }))
    }

    /// The stored result of a completed task; `None` if it is not completed,
    /// unknown, or its record expired (or was never kept: result TTL 0).
    #[instrument(skip_all, fields(task_id = %id, kind = id.queue()))]
    pub async fn result(&self, id: &TaskId) -> BrokerResult<Option<TaskResult>> {
        let op = format!("result of task {id}");
        let Some(bytes) = self.final_record(id, false).await? else {
            return Ok(None);
        };
        let (rec, output) = FinalRecord::parse(&bytes)
            .ok_or_else(|| BrokerError::reply(&op, "the stored final record is malformed"))?;
        if rec.state != TaskState::Completed {
            return Ok(None);
        }
        let (output, encrypted) = self.open_output(id.queue(), output);
        Ok(Some(TaskResult {
            id: id.clone(),
            output,
            encrypted,
            content_type: match encrypted {
                true => Some("text/plain".into()),
                false => rec.content_type,
            },
            plugin_version: rec.version,
            attempts: rec.attempt,
            enqueued_at_ms: rec.enqueued_ms,
            started_at_ms: rec.started_ms,
            finished_at_ms: rec.finished_ms,
            wall_ms: rec.wall_ms,
            fuel_used: rec.fuel,
        }))
    }

    /// Cancels a task: a scheduled, pending, retry-waiting or flow-waiting
    /// one at once (a flow parent's flow record then reads `cancelled`); an
    /// active one by flagging it and publishing its id on the namespace's
    /// cancel channel (see [`Client::cancel_subscription`]).
    #[instrument(skip_all, fields(task_id = %id, kind = id.queue()))]
    pub async fn cancel(&self, id: &TaskId) -> BrokerResult<CancelOutcome> {
        let keys = self.keys(id.queue())?;
        let bucket = self.bucket(&keys);
        let op = format!("cancel task {id}");
        let mut inv = SCRIPTS.cancel.prepare_invoke();
        inv.key(&keys.tasks)
            .key(&keys.meta)
            .key(&keys.pending[..])
            .key(&keys.scheduled)
            .key(&keys.retry)
            .key(&keys.active)
            .key(&keys.cancel)
            .key(&keys.stats)
            .key(&keys.dead)
            .key(&bucket.keys()[..])
            .key(&keys.waiting)
            .key(keys.flow(id.local()))
            .key(keys.flow_results(id.local()))
            .arg(id.local())
            .arg(&self.inner.global.cancel_channel)
            .arg(id.to_string())
            .arg(&bucket.args()[..])
            .arg(millis(FLOW_KEEP));
        let reply = self.invoke(&inv, &op).await?;
        match Reply::of(&op).text(reply)?.as_str() {
            "cancelled" => Ok(CancelOutcome::Cancelled),
            "requested" => Ok(CancelOutcome::Requested),
            "dead" => Ok(CancelOutcome::AlreadyDead),
            "unknown" => Ok(match self.status(id).await? {
                Some(s) if s.state.is_final() => CancelOutcome::AlreadyFinished,
                _ => CancelOutcome::NotFound,
            }),
            other => Err(BrokerError::reply(
                &op,
                format!("unknown outcome {other:?}"),
            )),
        }
    }

    /// Which of these active tasks have a cancellation request: the polling
    /// fallback for a host that may have missed a pub/sub message.
    pub async fn cancel_requested(&self, queue: &str, ids: &[TaskId]) -> BrokerResult<Vec<bool>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.keys(queue)?;
        let op = format!("check cancellations in queue {queue:?}");
        let flags: Vec<bool> = redis::cmd("SMISMEMBER")
            .arg(&keys.cancel)
            .arg(ids.iter().map(TaskId::local).collect::<Vec<_>>())
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(&op, e))?;
        Ok(flags)
    }

    /// Pauses a queue: nothing is leased from it until [`Client::resume`].
    /// Tasks still enqueue, promote and time out as usual.
    pub async fn pause(&self, queue: &str) -> BrokerResult<()> {
        let keys = self.keys(queue)?;
        self.register_queue(queue).await?;
        redis::cmd("SET")
            .arg(&keys.paused)
            .arg(1)
            .exec_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(format!("pause queue {queue:?}"), e))
    }

    /// Resumes a paused queue and wakes its idle consumers.
    /// On Cluster the wake-up is announced on the wake channel too, as
    /// every other path that makes work leasable does (`resume.lua`).
    pub async fn resume(&self, queue: &str) -> BrokerResult<()> {
        let keys = self.keys(queue)?;
        let mut inv = SCRIPTS.resume.prepare_invoke();
        inv.wake_channel(self.wake_channel())
            .key(&keys.paused)
            .key(&keys.wake);
        self.invoke(&inv, &format!("resume queue {queue:?}"))
            .await
            .map(drop)
    }

    /// True if the queue is paused.
    pub async fn is_paused(&self, queue: &str) -> BrokerResult<bool> {
        let keys = self.keys(queue)?;
        redis::cmd("EXISTS")
            .arg(&keys.paused)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(format!("check pause of queue {queue:?}"), e))
    }

    /// Every queue ever enqueued to (or paused) in this namespace, sorted.
    pub async fn queues(&self) -> BrokerResult<Vec<String>> {
        let mut queues: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&self.inner.global.queues)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail("list queues", e))?;
        queues.retain(|q| crate::error::validate_queue_name(q).is_ok());
        queues.sort();
        Ok(queues)
    }
}
