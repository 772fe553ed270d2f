//! Every lease this host holds, from the lease until Redis has the verdict,
//! and the loops that look after them: lease extension and cancellation.
//!
//! A lease runs out unless extended, and then the reaper of any host hands
//! the task to someone else. That is what makes a crashed host harmless, but
//! a task that simply runs long must not be mistaken for one: the keeper
//! extends every held lease each third of the lease duration, so a task
//! running for many lease periods keeps its single owner.
//!
//! Cancellation arrives by pub/sub (the broker publishes the id of a task
//! whose cancellation was requested while it was active). A message can be
//! lost while the subscription reconnects, so the keeper also asks Redis,
//! on each extension round, which of the held tasks are flagged. Either way
//! the task's [`CancelToken`] trips and its instance stops within an epoch
//! tick; the broker then records it cancelled when the lease is released.
//!
//! The table holds leases without their payloads: the payload travels with
//! the task to the executor (see [`super::Ticket`]) and is never copied.

use super::stats::{Stats, redis_error};
use crate::broker::{Client, LeasedTask};
use crate::runtime::CancelToken;
use crate::task::TaskId;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

#[derive(Debug)]
struct Entry {
    /// The lease, with its payload taken out.
    lease: LeasedTask,
    cancel: CancelToken,
    /// Its verdict is on its way to Redis: no longer extended (an extension
    /// racing the ack would report a lease lost that was merely settled).
    settling: bool,
}

/// The leases this host holds.
#[derive(Debug, Default)]
pub struct Inflight {
    map: Mutex<HashMap<TaskId, Entry>>,
    /// Wakes the leaser when settled leases were forgotten (room to lease).
    forgotten: Notify,
}

impl Inflight {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<TaskId, Entry>) -> R) -> R {
        f(&mut self.map.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Records a new lease (its payload must already be taken out) and
    /// returns the token that cancels its run.
    pub fn insert(&self, lease: LeasedTask) -> CancelToken {
        let cancel = CancelToken::new();
        let id = lease.id.clone();
        self.with(|map| {
            map.insert(
                id,
                Entry {
                    lease,
                    cancel: cancel.clone(),
                    settling: false,
                },
            )
        });
        metrics::gauge!("wasmq_leases_in_flight").increment(1.0);
        cancel
    }

    /// The lease of `id`, if held, for its settlement call; from now on it
    /// is no longer extended.
    pub fn settle(&self, id: &TaskId) -> Option<LeasedTask> {
        self.with(|map| {
            map.get_mut(id).map(|e| {
                e.settling = true;
                e.lease.clone()
            })
        })
    }

    /// Resolves after leases were forgotten since the last call.
    pub async fn forgotten(&self) {
        self.forgotten.notified().await;
    }

    /// True while `id` is held and has no verdict on its way.
    pub fn is_unsettled(&self, id: &TaskId) -> bool {
        self.with(|map| map.get(id).is_some_and(|e| !e.settling))
    }

    /// Forgets settled leases.
    pub fn remove(&self, ids: impl IntoIterator<Item = TaskId>) {
        let removed = self.with(|map| {
            ids.into_iter()
                .filter(|id| map.remove(id).is_some())
                .count()
        });
        metrics::gauge!("wasmq_leases_in_flight").decrement(removed as f64);
        self.forgotten.notify_one();
    }

    /// Trips the cancel token of `id`; false if this host does not hold it.
    pub fn cancel(&self, id: &TaskId) -> bool {
        self.with(|map| map.get(id).map(|e| e.cancel.cancel()).is_some())
    }

    /// Trips every cancel token (forced shutdown); returns how many.
    pub fn cancel_all(&self) -> usize {
        self.with(|map| {
            map.values().for_each(|e| e.cancel.cancel());
            map.len()
        })
    }

    /// How many leases are held.
    pub fn len(&self) -> usize {
        self.with(|map| map.len())
    }

    /// Every held lease whose task has no verdict yet (without payloads).
    pub fn leases(&self) -> Vec<LeasedTask> {
        self.with(|map| {
            map.values()
                .filter(|e| !e.settling)
                .map(|e| e.lease.clone())
                .collect()
        })
    }
}

/// Extends every held lease each `lease / 3` and polls for cancellations,
/// until `stop`.
pub async fn keep_leases(
    broker: Client,
    inflight: std::sync::Arc<Inflight>,
    stats: std::sync::Arc<Stats>,
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
        match broker.extend(&leases, lease).await {
            Ok(deadlines) => {
                // A lease settled while the extension was on its way is not lost.
                let lost = leases.iter().zip(&deadlines).filter(|(task, deadline)| {
                    deadline.is_none() && inflight.is_unsettled(&task.id)
                });
                for (task, _) in lost {
                    warn!(task_id = %task.id, kind = task.id.queue(),
                        "lost the lease of a running task (it expired and was re-delivered); \
                         its result will be refused as stale");
                }
                debug!(n = leases.len(), "extended leases");
            }
            Err(e) => redis_error(&stats, "extend", &e),
        }
        poll_cancellations(&broker, &inflight, &stats, &leases).await;
    }
}

/// The fallback for lost pub/sub messages: asks Redis which held tasks are
/// flagged for cancellation, one call per queue.
async fn poll_cancellations(
    broker: &Client,
    inflight: &Inflight,
    stats: &Stats,
    leases: &[LeasedTask],
) {
    let mut by_queue: HashMap<&str, Vec<TaskId>> = HashMap::new();
    for task in leases {
        by_queue
            .entry(task.id.queue())
            .or_default()
            .push(task.id.clone());
    }
    for (queue, ids) in by_queue {
        match broker.cancel_requested(queue, &ids).await {
            Ok(flags) => {
                for (id, _) in ids.iter().zip(flags).filter(|(_, flagged)| *flagged) {
                    if inflight.cancel(id) {
                        info!(task_id = %id, kind = queue, "cancellation requested (found by polling)");
                    }
                }
            }
            Err(e) => redis_error(stats, "poll cancellations", &e),
        }
    }
}

/// Trips the cancel token of each task whose cancellation is published,
/// until `stop`. Reconnects (with backoff) if the subscription cannot start.
pub async fn listen_for_cancellations(
    broker: Client,
    inflight: std::sync::Arc<Inflight>,
    stats: std::sync::Arc<Stats>,
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
                        info!(task_id = %id, kind = id.queue(), "cancellation requested: stopping the task");
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
