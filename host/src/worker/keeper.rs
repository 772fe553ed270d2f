//! The loops that look after the leases this host holds: extension and
//! cancellation.
//!
//! A lease runs out unless extended, and then the reaper of any host hands
//! the task to someone else. That is what makes a crashed host harmless, but
//! a task that simply runs long must not be mistaken for one: the keeper
//! extends every held lease each third of the lease duration, so a task
//! running for many lease periods keeps its single owner.
//!
//! Extension goes out one call per queue, concurrently, and each queue
//! fails alone: when a queue's keys cannot be reached (its Cluster shard is
//! down, say), that queue is logged, counted in
//! `wasmq_lease_extension_errors_total` and retried with backoff within the
//! round, while every other queue's leases are extended on time. One failing
//! queue must not let healthy queues' leases expire and their tasks run
//! twice.
//!
//! Cancellation arrives by pub/sub (the broker publishes the id of a task
//! whose cancellation was requested while it was active). A message can be
//! lost while the subscription reconnects, so the keeper also asks Redis,
//! on each extension round, which of the held tasks are flagged. Either way
//! the task's [`CancelToken`](crate::runtime::CancelToken) trips and its
//! instance stops within an epoch tick; the broker then records it
//! cancelled when the lease is released.

use super::inflight::Inflight;
use super::stats::{Stats, redis_error};
use crate::broker::{Client, LeasedTask};
use crate::task::TaskId;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Extends every held lease each `lease / 3` and polls for cancellations,
/// until `stop`.
pub async fn keep_leases(
    broker: Client,
    inflight: Arc<Inflight>,
    stats: Arc<Stats>,
    stop: CancellationToken,
) {
    let lease = broker.options().lease_duration;
    let every = (lease / 3).max(Duration::from_millis(10));
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let leases = inflight.leases();
        if leases.is_empty() {
            continue;
        }
        // Retries of a failing queue end well before the next round.
        let retry_until = Instant::now() + every / 2;
        let by_queue = group_by_queue(&leases);
        futures::future::join_all(by_queue.iter().map(|(queue, tasks)| {
            extend_queue(&broker, &inflight, &stats, queue, tasks, retry_until)
        }))
        .await;
        let poll_until = Instant::now() + every / 2;
        poll_cancellations(&broker, &inflight, &stats, &by_queue, poll_until).await;
    }
}

/// The leases grouped by queue, with the broker's grouping (first-seen
/// order).
fn group_by_queue(leases: &[LeasedTask]) -> Vec<(String, Vec<LeasedTask>)> {
    crate::broker::group_by_queue(leases.iter().map(|t| &t.id))
        .into_iter()
        .map(|(queue, indices)| {
            (
                queue,
                indices.into_iter().map(|i| leases[i].clone()).collect(),
            )
        })
        .collect()
}

/// Extends the leases of one queue, retrying with backoff until
/// `retry_until` if its keys fail; the other queues do not wait for it.
async fn extend_queue(
    broker: &Client,
    inflight: &Inflight,
    stats: &Stats,
    queue: &str,
    tasks: &[LeasedTask],
    retry_until: Instant,
) {
    let lease = broker.options().lease_duration;
    let mut delay = Duration::from_millis(50);
    loop {
        // A hung queue (its shard stalled) is given up on at `retry_until`,
        // so the round, and every other queue's next extension, never waits
        // on it. Dropping an extension halfway is harmless: it only moves a
        // deadline, and the next round tries again.
        let Ok(extended) =
            tokio::time::timeout_at(retry_until, broker.extend(queue, tasks, lease)).await
        else {
            metrics::counter!("wasmq_lease_extension_errors_total", "queue" => queue.to_owned())
                .increment(1);
            warn!(
                task_type = queue,
                n = tasks.len(),
                "extending this queue's leases did not answer in time; other queues go on"
            );
            return;
        };
        match extended {
            Ok(deadlines) => {
                // A lease settled while the extension was on its way is not lost.
                let lost = tasks.iter().zip(&deadlines).filter(|(task, deadline)| {
                    deadline.is_none() && inflight.is_unsettled(&task.key())
                });
                for (task, _) in lost {
                    warn!(task_id = %task.id, task_type = queue,
                        "lost the lease of a running task (it expired and was re-delivered); \
                         its result will be refused as stale");
                }
                debug!(task_type = queue, n = tasks.len(), "extended leases");
                return;
            }
            Err(e) => {
                redis_error(stats, "extend", &e);
                metrics::counter!("wasmq_lease_extension_errors_total", "queue" => queue.to_owned())
                    .increment(1);
                warn!(task_type = queue, n = tasks.len(), error = %e,
                    "could not extend this queue's leases; retrying (other queues go on)");
            }
        }
        if Instant::now() + delay >= retry_until {
            return;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

/// The fallback for lost pub/sub messages: asks Redis which held tasks are
/// flagged for cancellation, one call per queue.
async fn poll_cancellations(
    broker: &Client,
    inflight: &Inflight,
    stats: &Stats,
    by_queue: &[(String, Vec<LeasedTask>)],
    until: Instant,
) {
    // One call per queue, concurrently and bounded by `until`, so a hung
    // queue delays no other queue's poll and not the next extension round.
    futures::future::join_all(by_queue.iter().map(|(queue, tasks)| async move {
        let ids: Vec<TaskId> = tasks.iter().map(|t| t.id.clone()).collect();
        let Ok(polled) = tokio::time::timeout_at(until, broker.cancel_requested(queue, &ids)).await
        else {
            warn!(task_type = %queue, "polling this queue for cancellations did not answer in time");
            return;
        };
        match polled {
            Ok(flags) => {
                for (id, _) in ids.iter().zip(flags).filter(|(_, flagged)| *flagged) {
                    if inflight.cancel(id) {
                        info!(task_id = %id, task_type = %queue, "cancellation requested (found by polling)");
                    }
                }
            }
            Err(e) => redis_error(stats, "poll cancellations", &e),
        }
    }))
    .await;
}

/// Trips the cancel token of each task whose cancellation is published,
/// until `stop`. Reconnects (with backoff) if the subscription cannot start.
pub async fn listen_for_cancellations(
    broker: Client,
    inflight: Arc<Inflight>,
    stats: Arc<Stats>,
    stop: CancellationToken,
) {
    let mut delay = Duration::from_millis(100);
    loop {
        let subscribed = tokio::select! {
            _ = stop.cancelled() => return,
            s = broker.cancel_subscription() => s,
        };
        match subscribed {
            Ok(mut subscription) => {
                delay = Duration::from_millis(100);
                loop {
                    let next = tokio::select! {
                        _ = stop.cancelled() => return,
                        id = subscription.next() => id,
                    };
                    let Some(id) = next else { break };
                    if inflight.cancel(&id) {
                        info!(task_id = %id, task_type = id.queue(), "cancellation requested: stopping the task");
                    }
                }
                warn!("the cancellation subscription ended; subscribing again");
            }
            Err(e) => redis_error(&stats, "subscribe to cancellations", &e),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
