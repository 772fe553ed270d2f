//! Telling Redis how each task ended: batched, and patient with outages.
//!
//! Executors do not talk to Redis. They hand a [`Verdict`] to the settler
//! over a channel and take the next task. The settler routes each verdict to
//! its queue's lane, a task of its own: each lane takes every verdict
//! waiting (up to [`MAX_BATCH`]) and acks the whole batch with one `ack_many`
//! script call; retries, dead-letters and releases go out in the same round,
//! concurrently. Verdicts that arrive during a round wait for the
//! next, so batches grow with the load by themselves; under load (the last
//! round had more than a handful) the settler also lingers up to
//! [`BATCH_WAIT`] to fill the batch, while on an idle host a lone verdict
//! goes out at once. At a few hundred tasks per call this is what lets one
//! host settle tens of thousands of short tasks per second: the round trip
//! and the script's fixed cost are paid per batch, not per task.
//!
//! Lanes are per queue because queues fail alone: a queue whose keys cannot
//! be reached (its Cluster shard is down) retries its own batch while the
//! other queues' verdicts keep landing, so their leases are not left to
//! expire and their tasks to run twice.
//!
//! When Redis is unreachable the plugin has already run, so its verdict is
//! worth keeping: the lane retries with backoff (50 ms doubling to 2 s)
//! until Redis answers or the host gives up at shutdown. If the lease expired
//! meanwhile, another host may run the task again; that is the at-least-once
//! contract, and the late verdict comes back as a stale lease, which is
//! logged and counted but is not an error. A reply that is not about the
//! connection (a malformed reply, say) is tried three times and then dropped,
//! leaving the lease to expire, rather than wedging every later verdict.

use super::inflight::Inflight;
use super::stats::{Counted, Stats, redis_error};
use crate::broker::{BrokerResult, Client, Completion, Failure, LeaseKey, LeasedTask, Settlement};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, warn};

/// Most verdicts settled in one round.
pub const MAX_BATCH: usize = 512;

/// How long the settler waits for more verdicts before a round, under load.
pub const BATCH_WAIT: Duration = Duration::from_millis(1);

/// A round this large means load: the next round lingers for [`BATCH_WAIT`].
const LINGER_ABOVE: usize = 8;

/// What to tell Redis about a task.
#[derive(Debug)]
pub enum Action {
    /// Completed with this output.
    Ack(Completion),
    /// Failed; try again after `delay`.
    Retry {
        /// The backoff.
        delay: Duration,
        /// The error, kept as the task's last error.
        failure: Failure,
    },
    /// Failed for good.
    Dead(Failure),
    /// Give the lease back (cancelled, shutdown, plugin removed).
    Release,
}

/// The verdict on one lease of a task: it settles that lease and no other.
#[derive(Debug)]
pub struct Verdict {
    /// The lease the run held.
    pub lease: LeaseKey,
    /// What to do.
    pub action: Action,
}

/// Starts the settler. It ends once every sender is dropped and the last
/// verdicts are settled, or when `abandon` is cancelled (verdicts still
/// unsettled then are left to lease expiry).
pub fn spawn_settler(
    broker: Client,
    inflight: Arc<Inflight>,
    stats: Arc<Stats>,
    abandon: CancellationToken,
) -> (UnboundedSender<Verdict>, JoinHandle<()>) {
    let (tx, rx) = unbounded_channel();
    let settler = Arc::new(Settler {
        broker,
        inflight,
        stats,
        abandon,
    });
    (tx, tokio::spawn(route(settler, rx)))
}

struct Settler {
    broker: Client,
    inflight: Arc<Inflight>,
    stats: Arc<Stats>,
    abandon: CancellationToken,
}

/// Routes verdicts to their queue's lane, starting lanes as queues appear;
/// when every sender is gone, closes the lanes and waits for them.
async fn route(settler: Arc<Settler>, mut rx: UnboundedReceiver<Verdict>) {
    let lanes_running = TaskTracker::new();
    let mut lanes: HashMap<String, UnboundedSender<Verdict>> = HashMap::new();
    while let Some(verdict) = rx.recv().await {
        let queue = verdict.lease.id.queue();
        let lane = match lanes.get(queue) {
            Some(lane) => lane,
            None => {
                let (tx, lane_rx) = unbounded_channel();
                lanes_running.spawn(settler.clone().lane(lane_rx));
                lanes.entry(queue.to_owned()).or_insert(tx)
            }
        };
        // A lane only ends when its sender is dropped, below.
        let _ = lane.send(verdict);
    }
    // Dropping the senders ends each lane once it has settled what it holds.
    drop(lanes);
    lanes_running.close();
    lanes_running.wait().await;
}

impl Settler {
    /// One queue's lane: batches its verdicts and settles them, retrying
    /// through outages without holding up any other queue.
    async fn lane(self: Arc<Self>, mut rx: UnboundedReceiver<Verdict>) {
        let mut last_batch = 0;
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            // Linger only under load: a lone verdict on an idle host goes out
            // at once, so a task's latency does not pay for batching.
            let linger = if last_batch >= LINGER_ABOVE {
                BATCH_WAIT
            } else {
                Duration::ZERO
            };
            let deadline = tokio::time::Instant::now() + linger;
            while batch.len() < MAX_BATCH {
                while batch.len() < MAX_BATCH
                    && let Ok(verdict) = rx.try_recv()
                {
                    batch.push(verdict);
                }
                if batch.len() >= MAX_BATCH {
                    break;
                }
                if linger.is_zero() {
                    break;
                }
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(verdict)) => batch.push(verdict),
                    Ok(None) | Err(_) => break,
                }
            }
            last_batch = batch.len();
            // Awaited here: verdicts arriving meanwhile make the next, larger batch.
            self.settle(batch).await;
        }
    }

    async fn settle(&self, batch: Vec<Verdict>) {
        let Some(first) = batch.first() else { return };
        let queue = first.lease.id.queue().to_owned();
        let queue = queue.as_str();
        let mut acks = Vec::new();
        let mut releases = Vec::new();
        let mut singles = Vec::new();
        let mut keys = Vec::with_capacity(batch.len());
        // Marked settling first: the keeper stops extending a lease whose verdict is on its way.
        for verdict in batch {
            let Some(lease) = self.inflight.settle(&verdict.lease) else {
                // Each lease gets one verdict: this is a bug, not a race.
                error!(task_id = %verdict.lease.id, "a verdict for a lease this host does not hold; ignored");
                continue;
            };
            keys.push(verdict.lease);
            match verdict.action {
                Action::Ack(completion) => acks.push((lease, completion)),
                Action::Release => releases.push(lease),
                other => singles.push((lease, other)),
            }
        }
        let ack_round = async {
            if acks.is_empty() {
                return;
            }
            let settled = self
                .persist(queue, "ack", || self.broker.ack_many(&acks))
                .await;
            let committed_children = acks
                .iter()
                .zip(settled.iter().flatten())
                .any(|((_, c), s)| !c.children.is_empty() && *s == Settlement::Completed);
            self.count(acks.iter().map(|(t, _)| t), settled);
            if committed_children {
                self.forward_soon(queue);
            }
        };
        let release_round = async {
            if releases.is_empty() {
                return;
            }
            let settled = self
                .persist(queue, "release", || self.broker.release(&releases))
                .await;
            self.count(releases.iter(), settled);
        };
        let singles_round =
            futures::future::join_all(singles.iter().map(|(lease, action)| async move {
                let settled = match action {
                    Action::Retry { delay, failure } => {
                        self.persist(queue, "retry", || self.broker.retry(lease, *delay, failure))
                            .await
                    }
                    Action::Dead(failure) => {
                        self.persist(queue, "dead", || self.broker.dead(lease, failure))
                            .await
                    }
                    Action::Ack(_) | Action::Release => None,
                };
                self.count(std::iter::once(lease), settled.map(|s| vec![s]));
            }));
        // All kinds at once: a batch costs one round trip, whatever its mix.
        futures::join!(ack_round, release_round, singles_round);
        // Forgotten last: until Redis has answered, these leases count against `max_held`.
        self.inflight.remove(keys);
    }

    /// Forwards the children just committed to `queue`'s outbox, in the
    /// background. A failure is logged and counted; maintenance forwards
    /// whatever is left (see `broker/outbox.rs`).
    fn forward_soon(&self, queue: &str) {
        let (broker, queue) = (self.broker.clone(), queue.to_owned());
        tokio::spawn(async move {
            if let Err(e) = broker.forward_children(&queue, MAX_BATCH).await {
                warn!(queue, error = %e, "could not forward child tasks now; maintenance will");
                metrics::counter!("wasmq_forward_errors_total", "queue" => queue.clone())
                    .increment(1);
                // Maintenance visits only queues in the due index.
                broker
                    .mark_due_or_warn(&queue, crate::broker::DueAt::Now)
                    .await;
            }
        });
    }

    fn count<'a>(
        &self,
        leases: impl Iterator<Item = &'a LeasedTask>,
        settled: Option<Vec<Settlement>>,
    ) {
        let Some(settled) = settled else { return };
        for (lease, settlement) in leases.zip(settled) {
            let what = match settlement {
                Settlement::Completed => Counted::Completed,
                Settlement::RetryScheduled { .. } | Settlement::Requeued => Counted::Retried,
                Settlement::Dead => Counted::Dead,
                Settlement::Cancelled => Counted::Cancelled,
                Settlement::Released => Counted::Released,
                Settlement::StaleLease => {
                    warn!(task_id = %lease.id, task_type = lease.id.queue(), attempt = lease.attempt,
                        "stale lease: the task was re-delivered before its verdict arrived; verdict dropped");
                    Counted::Stale
                }
            };
            self.stats.add(what, 1);
        }
    }

    /// Runs `call` until it succeeds, retrying connection errors with
    /// backoff until `abandon`, other errors three times.
    async fn persist<T, F, Fut>(&self, queue: &str, op: &'static str, mut call: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = BrokerResult<T>>,
    {
        let mut delay = Duration::from_millis(50);
        let mut failures = 0;
        loop {
            let error = match call().await {
                Ok(value) => return Some(value),
                Err(error) => error,
            };
            redis_error(&self.stats, op, &error);
            metrics::counter!("wasmq_settle_errors_total", "queue" => queue.to_owned())
                .increment(1);
            failures += 1;
            if !error.is_connection() && failures >= 3 {
                error!(op, task_type = queue, error = %error, "giving up on this verdict; the lease will expire and the task be re-delivered");
                return None;
            }
            tokio::select! {
                _ = self.abandon.cancelled() => {
                    warn!(op, task_type = queue, "shutting down with verdicts unsettled; their leases will expire and the tasks be re-delivered");
                    return None;
                }
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }
}
