//! The consumer side's types: leased tasks, what a run reports, and what a
//! settlement did (leasing is in `lease.rs`, settling in `settle.rs`).
//!
//! A lease moves up to K tasks from a queue's pending lists to its active set
//! in one script call, under a fresh random token and a deadline. Every
//! settlement (ack, retry, dead, extend, release) presents that token; if the
//! lease expired and the task went to another consumer meanwhile, the token no
//! longer matches and the call returns [`Settlement::StaleLease`] without
//! touching the new owner's lease.

use crate::task::{Priority, TaskId};
use std::sync::Arc;
use std::time::Duration;

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
    /// The run's cost, log and progress, kept in the task's run history
    /// (`None`: record no attempt).
    pub run: Option<super::runs::RunReport>,
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
    /// The run's cost, log and progress, kept in the task's run history
    /// (`None`: record no attempt).
    pub run: Option<super::runs::RunReport>,
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
