//! The consumer side: leased tasks and settling them (leasing is in
//! `lease.rs`).
//!
//! A lease moves up to K tasks from a queue's pending lists to its active set
//! in one script call, under a fresh random token and a deadline. Every
//! settlement (ack, retry, dead, extend, release) presents that token; if the
//! lease expired and the task went to another consumer meanwhile, the token no
//! longer matches and the call returns [`Settlement::StaleLease`] without
//! touching the new owner's lease.

use super::client::Client;
use super::error::BrokerResult;
use super::options::{MAX_BATCH, MAX_CALL_BYTES, millis, split_calls};
use super::records::ack_tail;
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::task::{Priority, TaskId};
use std::sync::Arc;
use std::time::Duration;
use tracing::instrument;

/// A task leased to this consumer.
#[derive(Debug, Clone)]
pub struct LeasedTask {
    /// The task id.
    pub id: TaskId,
    /// 1 on the first run, 2 on the first retry, and so on.
    pub attempt: u32,
    /// The attempt after which a failure is final (max retries + 1).
    pub max_attempts: u32,
    /// The task's priority.
    pub priority: Priority,
    /// Wall-clock limit per attempt, if the producer set one.
    pub timeout: Option<Duration>,
    /// Fuel budget per attempt, if the producer set one.
    pub fuel: Option<u64>,
    /// When the producer enqueued it (ms since the Unix epoch, its clock).
    pub enqueued_at_ms: u64,
    /// When this lease began (ms since the Unix epoch, Redis's clock).
    pub started_at_ms: u64,
    /// When the lease runs out unless extended (Redis's clock).
    pub lease_deadline_ms: u64,
    /// The payload bytes.
    pub payload: Vec<u8>,
    pub(super) token: Arc<str>,
}

impl LeasedTask {
    /// The lease token every settlement must present.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// This lease's identity: the task id and the token it was leased under.
    pub fn key(&self) -> LeaseKey {
        LeaseKey {
            id: self.id.clone(),
            token: self.token.clone(),
        }
    }
}

/// A lease of `id` under `token`, with no payload, for unit tests of what
/// tracks leases.
#[cfg(test)]
pub(crate) fn test_lease(id: TaskId, token: &str) -> LeasedTask {
    LeasedTask {
        id,
        attempt: 1,
        max_attempts: 1,
        priority: Priority::Normal,
        timeout: None,
        fuel: None,
        enqueued_at_ms: 0,
        started_at_ms: 0,
        lease_deadline_ms: 0,
        payload: Vec::new(),
        token: token.into(),
    }
}

/// One lease of one task. A host can hold two leases of the same task at
/// once (the first expired while its run was frozen, and the task was
/// re-leased to the same host), so whatever tracks a lease is keyed by this,
/// never by the task id alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseKey {
    /// The task.
    pub id: TaskId,
    /// The token of the lease call that leased it (shared by its batch).
    pub token: Arc<str>,
}

impl std::fmt::Display for LeaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.id, self.token)
    }
}

/// A successful run, as the worker reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    /// The output bytes.
    pub output: Vec<u8>,
    /// Their content type, for example `application/json`.
    pub content_type: Option<String>,
    /// The version of the plugin that ran the task.
    pub plugin_version: String,
    /// Fuel consumed, if metered.
    pub fuel_used: Option<u64>,
    /// Wall-clock time of the run.
    pub wall: Duration,
    /// Child tasks to commit with the ack: written to the queue's outbox in
    /// the ack's script, forwarded to their queues afterwards.
    pub children: Vec<crate::task::ChildSpec>,
}

/// A failed run, as the worker reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    /// Short machine-readable reason for dead tasks (`permanent`,
    /// `malformed`, `trap`, ...); ignored by retries.
    pub reason: String,
    /// The error message, kept as the task's last error.
    pub message: String,
    /// The version of the plugin that ran the task (may be empty).
    pub plugin_version: String,
}

/// What a settlement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Acked: the task is completed.
    Completed,
    /// Waiting in the retry set until `due_at_ms` (Redis's clock).
    RetryScheduled {
        /// When the promoter makes it pending again.
        due_at_ms: u64,
    },
    /// Retried with no delay: straight back to the pending list.
    Requeued,
    /// In the dead-letter set.
    Dead,
    /// Cancellation had been requested while it ran: now cancelled.
    Cancelled,
    /// Given back unrun (graceful shutdown).
    Released,
    /// The lease had expired and the task was re-delivered (or already
    /// settled): nothing was changed.
    StaleLease,
}

impl Settlement {
    /// True for [`Settlement::StaleLease`].
    pub fn is_stale(self) -> bool {
        self == Settlement::StaleLease
    }
}

impl Client {
    /// Acks finished tasks (any mix of queues): one script call per queue
    /// and chunk. Returns, in order, [`Settlement::Completed`] or
    /// [`Settlement::StaleLease`] for each.
    #[instrument(skip_all, fields(n = done.len()))]
    pub async fn ack_many(
        &self,
        done: &[(LeasedTask, Completion)],
    ) -> BrokerResult<Vec<Settlement>> {
        let mut out = vec![Settlement::StaleLease; done.len()];
        for (queue, indices) in group_by_queue(done.iter().map(|(t, _)| &t.id)) {
            let keys = self.keys(&queue)?;
            let bucket = self.bucket(&keys);
            // The record tails are built first, so that a call is cut by
            // bytes as well as by count: a few large outputs must not make
            // one call larger than Redis takes (its query buffer).
            let tails: Vec<Vec<u8>> = indices
                .iter()
                .map(|&i| {
                    let (task, c) = &done[i];
                    if !bucket.keep {
                        return Vec::new();
                    }
                    let output = self.seal(crate::crypto::Field::Output, &queue, &c.output);
                    ack_tail(
                        task.attempt,
                        task.enqueued_at_ms,
                        task.started_at_ms,
                        millis(c.wall),
                        c.fuel_used,
                        &c.plugin_version,
                        c.content_type.as_deref(),
                        &output,
                    )
                })
                .collect();
            // Children go to the outbox in the same script (outbox.rs).
            let enqueued_at_ms = crate::task::unix_ms(std::time::SystemTime::now());
            let default_retries = self.inner.opts.retry.max_retries;
            let children: Vec<Vec<u8>> = indices
                .iter()
                .map(|&i| {
                    let children = self.seal_children(&done[i].1.children);
                    super::outbox::encode(&children, default_retries, enqueued_at_ms)
                })
                .collect();
            let sizes = tails
                .iter()
                .zip(&children)
                .map(|(t, c)| t.len() + c.len() + ACK_ARG_OVERHEAD);
            for range in split_calls(sizes, MAX_BATCH, MAX_CALL_BYTES) {
                let chunk = &indices[range.clone()];
                let mut inv = SCRIPTS.ack.prepare_invoke();
                inv.key(&keys.active)
                    .key(&keys.lease)
                    .key(&keys.meta)
                    .key(&keys.tasks)
                    .key(&keys.cancel)
                    .key(&keys.stats)
                    .key(&keys.throughput)
                    .key(&bucket.keys()[..])
                    .key(&keys.outbox);
                let channel = match self.inner.opts.publish_completions {
                    true => self.inner.global.done_channel.as_str(),
                    false => "",
                };
                inv.arg(&bucket.args()[..])
                    .arg(channel)
                    .arg(&queue)
                    .arg(chunk.len());
                for ((&i, tail), kids) in chunk
                    .iter()
                    .zip(&tails[range.clone()])
                    .zip(&children[range])
                {
                    let task = &done[i].0;
                    inv.arg(task.id.local())
                        .arg(task.token())
                        .arg(tail)
                        .arg(kids);
                }
                let op = format!("ack tasks of queue {queue:?}");
                let flags = self.invoke_flags(&inv, &op, chunk.len()).await?;
                let r = Reply::of(&op);
                let mut stale = 0u64;
                for (&i, flag) in chunk.iter().zip(flags) {
                    out[i] = if r.int(&flag)? == 1 {
                        Settlement::Completed
                    } else {
                        stale += 1;
                        Settlement::StaleLease
                    };
                }
                metrics::counter!("wasmq_broker_acked_total", "queue" => queue.clone())
                    .increment(chunk.len() as u64 - stale);
                metrics::counter!("wasmq_broker_stale_leases_total", "queue" => queue.clone())
                    .increment(stale);
            }
        }
        Ok(out)
    }

    /// Acks one finished task.
    #[instrument(skip_all, fields(task_id = %task.id, kind = task.id.queue()))]
    pub async fn ack(&self, task: &LeasedTask, completion: Completion) -> BrokerResult<Settlement> {
        let out = self.ack_many(&[(task.clone(), completion)]).await?;
        Ok(out.first().copied().unwrap_or(Settlement::StaleLease))
    }
}

/// Bytes an ack call spends per task beside its record tail (id, token,
/// the protocol's framing), for cutting calls by size.
const ACK_ARG_OVERHEAD: usize = 64;

/// Indices of `ids` grouped by queue, in first-seen order.
pub(crate) fn group_by_queue<'a>(
    ids: impl Iterator<Item = &'a TaskId>,
) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, id) in ids.enumerate() {
        match groups.iter_mut().find(|(q, _)| q == id.queue()) {
            Some((_, v)) => v.push(i),
            None => groups.push((id.queue().to_owned(), vec![i])),
        }
    }
    groups
}
