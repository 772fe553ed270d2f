//! Helpers shared by the host-level tests (`host_*.rs`): enqueueing in
//! bulk, reading every task's status and result, and waiting for a set of
//! queues to settle.

#![allow(dead_code)] // each test binary uses a different subset

use futures::{StreamExt, TryStreamExt};
use std::time::Duration;
use wasmq::Client;
use wasmq::broker::{TaskResult, TaskStatus};
use wasmq::task::{TaskId, TaskSpec};
use wasmq_tests::host::eventually;

/// Enqueues `specs` in chunks and returns their ids in order.
pub async fn enqueue(client: &Client, specs: Vec<TaskSpec>) -> Vec<TaskId> {
    let mut ids = Vec::with_capacity(specs.len());
    let mut specs = specs.into_iter().peekable();
    while specs.peek().is_some() {
        let chunk: Vec<TaskSpec> = specs.by_ref().take(2000).collect();
        ids.extend(client.enqueue_many(chunk).await.expect("enqueue"));
    }
    ids
}

/// JSON tasks for `queue`, one per payload.
pub fn json_tasks(
    queue: &str,
    payloads: impl IntoIterator<Item = serde_json::Value>,
) -> Vec<TaskSpec> {
    payloads
        .into_iter()
        .map(|p| TaskSpec::new(queue, p.to_string()))
        .collect()
}

/// The status of every task, in order (each must exist).
pub async fn statuses(client: &Client, ids: &[TaskId]) -> Vec<TaskStatus> {
    futures::stream::iter(ids)
        .map(|id| async move {
            client
                .status(id)
                .await
                .map(|s| s.unwrap_or_else(|| panic!("no status for {id}")))
        })
        .buffered(64)
        .try_collect()
        .await
        .expect("read statuses")
}

/// The result of every task, in order (each must exist).
pub async fn results(client: &Client, ids: &[TaskId]) -> Vec<TaskResult> {
    futures::stream::iter(ids)
        .map(|id| async move {
            client
                .result(id)
                .await
                .map(|r| r.unwrap_or_else(|| panic!("no result for {id}")))
        })
        .buffered(64)
        .try_collect()
        .await
        .expect("read results")
}

/// Sizes and counters summed over queues.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub completed: u64,
    pub dead: u64,
    pub retried: u64,
    pub cancelled: u64,
    pub expired: u64,
    pub pending: u64,
    pub scheduled: u64,
    pub retry_wait: u64,
    pub active: u64,
    /// Flow parents waiting for their dependencies.
    pub flow_waiting: u64,
}

impl Totals {
    /// Tasks in a final state.
    pub fn settled(&self) -> u64 {
        self.completed + self.dead + self.cancelled
    }

    /// Tasks not yet in a final state.
    pub fn waiting(&self) -> u64 {
        self.pending + self.scheduled + self.retry_wait + self.active + self.flow_waiting
    }
}

/// Current totals over `queues`.
pub async fn totals(client: &Client, queues: &[&str]) -> Totals {
    try_totals(client, queues).await.expect("queue stats")
}

/// Current totals over `queues`, or the Redis error (Redis may be down).
pub async fn try_totals(
    client: &Client,
    queues: &[&str],
) -> Result<Totals, wasmq::broker::BrokerError> {
    let mut t = Totals::default();
    for queue in queues {
        let s = client.queue_stats(queue).await?;
        t.completed += s.counters.completed;
        t.dead += s.counters.dead;
        t.retried += s.counters.retried;
        t.cancelled += s.counters.cancelled;
        t.expired += s.counters.expired;
        t.pending += s.pending;
        t.scheduled += s.scheduled;
        t.retry_wait += s.retry_wait;
        t.active += s.active;
        t.flow_waiting += s.waiting;
    }
    Ok(t)
}

/// Waits until `n` tasks of `queues` are settled and none is waiting.
pub async fn settled(client: &Client, queues: &[&str], n: u64, timeout: Duration) -> Totals {
    eventually(
        &format!("{n} tasks of {queues:?} to settle"),
        timeout,
        || async {
            let t = try_totals(client, queues).await.ok()?;
            (t.settled() >= n && t.waiting() == 0).then_some(t)
        },
    )
    .await
}

/// Waits until at least `n` tasks of `queues` completed.
pub async fn completed_at_least(
    client: &Client,
    queues: &[&str],
    n: u64,
    timeout: Duration,
) -> Totals {
    eventually(
        &format!("{n} completions in {queues:?}"),
        timeout,
        || async {
            let t = try_totals(client, queues).await.ok()?;
            (t.completed >= n).then_some(t)
        },
    )
    .await
}
