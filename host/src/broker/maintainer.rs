//! The maintenance loop every host runs, and how one failing queue is kept
//! from holding up the others.
//!
//! A tick used to walk the queues in turn with four calls each and stop at
//! the first error, so one broken queue (a foreign value in one of its keys,
//! its Cluster shard down) stopped promotion and reaping of every queue
//! after it, and the tick's cost grew by four round trips per queue, junk
//! queues included. Now:
//!
//! * **Each queue is its own unit of work.** A tick spawns one task per due
//!   queue, which runs `maintain.lua` (see `maintenance.rs`) once. The calls
//!   go out together and pipeline on the multiplexed connection (on Cluster
//!   they fan out to each queue's node), so a tick's wall time does not grow
//!   with the number of queues. A tick waits at most one interval for its
//!   work; a queue whose call is still running (its node hangs) is not
//!   called again until it returns, and nobody else waits for it.
//! * **A failure stays with its queue.** It is logged with the queue name,
//!   counted in `wasmq_maintenance_errors_total{queue}`, listed in the
//!   tick's [`MaintenanceReport::failed`], and the queue is skipped for 1,
//!   2, 4 … ticks (at most [`MAX_BACKOFF`]) before its next try; a success
//!   resets that. Every other queue is maintained on schedule.
//! * **Listing the queues may fail too** (`<ns>:queues` lives on one node):
//!   when it fails or hangs past the tick's wait, the tick works on the
//!   queues it already knew and counts `wasmq_maintenance_list_errors_total`.
//! * **Trimming is rare.** Dead-set, throughput and result-bucket bounds are
//!   loose and change slowly, so a queue is trimmed once per [`TRIM_PERIOD`]
//!   (inside the same `maintain.lua` call, plus one read of its result
//!   bucket index); the first trims of newly seen queues are spread over the
//!   period so they do not all land on one tick.
//!
//! * **Hosts visit only the queues that are due** (`maintainer/indexed.rs`,
//!   `due.rs`): [`Client::run_maintenance`] claims due queues from the due
//!   indexes instead of listing them all, so an idle queue costs nothing per
//!   tick. [`Client::maintain_once`] and [`Maintainer::tick`] still visit
//!   every listed queue (tests and admin tools, and what the sweeps amount to).
//!
//! Cost per host and tick when indexed: one claim per due bucket (16), and
//! per visited queue one `EVALSHA` and one settle; per queue and
//! `TRIM_PERIOD`, one `ZRANGEBYSCORE` more (and an `UNLINK` when result
//! buckets expired). Listed: one `EVALSHA` per queue and one `SMEMBERS`.
//! Schedules count ticks, not time, so they are deterministic in tests.

use super::client::Client;
use super::error::BrokerResult;
use super::maintenance::{QueueWork, ReapReport};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// How often each queue's dead set, throughput buckets and result buckets
/// are trimmed. Their bounds (dead count and age, retention, result TTL)
/// are hours or thousands of tasks, so 30 s late is nothing, while trimming
/// every tick cost two of the four round trips per queue.
pub const TRIM_PERIOD: Duration = Duration::from_secs(30);

/// Longest pause before a failing queue is tried again.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What one maintenance tick did, over all queues.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MaintenanceReport {
    /// Scheduled and retry-waiting tasks made pending.
    pub promoted: u64,
    /// Expired leases taken back.
    pub reaped: ReapReport,
    /// Dead tasks dropped by the count and age bounds.
    pub dead_trimmed: u64,
    /// Result buckets deleted (older than the result TTL).
    pub buckets_trimmed: u64,
    /// Child tasks forwarded from outboxes (left by hosts that died after
    /// an ack, or whose forward failed).
    pub forwarded: u64,
    /// Queues whose maintenance finished (this tick's or a straggler's).
    pub maintained: u64,
    /// Of those, queues that were also trimmed.
    pub trimmed: u64,
    /// Queues skipped because they are backing off after an error.
    pub backing_off: u64,
    /// Queues whose call was still running when the tick ended.
    pub in_flight: u64,
    /// Queues whose maintenance failed, with the error.
    pub failed: BTreeMap<String, String>,
}

impl MaintenanceReport {
    /// True when the tick moved or dropped anything.
    pub fn changed_anything(&self) -> bool {
        self.promoted
            + self.reaped.total()
            + self.dead_trimmed
            + self.buckets_trimmed
            + self.forwarded
            > 0
    }

    fn add(&mut self, work: &QueueWork) {
        self.promoted += work.promoted;
        self.reaped.requeued += work.reaped.requeued;
        self.reaped.dead += work.reaped.dead;
        self.reaped.cancelled += work.reaped.cancelled;
        self.dead_trimmed += work.dead_trimmed;
        self.buckets_trimmed += work.buckets_trimmed;
        self.forwarded += work.forwarded;
        self.maintained += 1;
        self.trimmed += u64::from(work.trimmed);
    }
}

/// Where one queue stands, in ticks.
#[derive(Debug)]
struct QueueState {
    /// Failures in a row.
    failures: u32,
    /// First tick it may be tried again.
    next_try: u64,
    /// First tick it is trimmed again.
    next_trim: u64,
    /// Its call is still running.
    running: bool,
    /// The last tick it was listed or claimed.
    last_seen: u64,
}

/// Runs maintenance ticks over every queue of a namespace, keeping each
/// queue's backoff and trim schedule between ticks. Made by
/// [`Client::maintainer`]; [`Client::run_maintenance`] drives one. Dropping
/// it aborts the calls still running.
#[derive(Debug)]
pub struct Maintainer {
    client: Client,
    limit: usize,
    trim_every: u64,
    backoff_cap: u64,
    tick: u64,
    discovered: u64,
    queues: HashMap<String, QueueState>,
    work: JoinSet<(String, BrokerResult<QueueWork>)>,
    running: HashMap<Id, String>,
    /// Set when the due indexes choose the queues (see `indexed.rs`).
    indexed: Option<indexed::Indexed>,
}

impl Client {
    /// A maintainer ticking every `interval` (which sets how many ticks
    /// make [`TRIM_PERIOD`] and [`MAX_BACKOFF`]), moving at most `limit`
    /// tasks per step and call.
    pub fn maintainer(&self, interval: Duration, limit: usize) -> Maintainer {
        Maintainer {
            client: self.clone(),
            limit: limit.max(1),
            trim_every: ticks(TRIM_PERIOD, interval),
            backoff_cap: ticks(MAX_BACKOFF, interval),
            tick: 0,
            discovered: 0,
            queues: HashMap::new(),
            work: JoinSet::new(),
            running: HashMap::new(),
            indexed: None,
        }
    }

    /// One maintenance tick over every known queue, trimming each, and
    /// waiting for all of them. A queue that fails is logged, counted and
    /// listed in [`MaintenanceReport::failed`]; the others are still
    /// maintained. Fails only when the queues cannot be listed.
    pub async fn maintain_once(&self, limit: usize) -> BrokerResult<MaintenanceReport> {
        self.maintainer(TRIM_PERIOD, limit).tick().await
    }

    /// Runs maintenance ticks every `interval` until `shutdown` is
    /// cancelled. Failures are logged and counted, per queue where they
    /// belong, and the loop goes on; it never gives up on its own.
    pub async fn run_maintenance(
        &self,
        interval: Duration,
        limit: usize,
        shutdown: CancellationToken,
    ) {
        let interval = interval.max(Duration::from_millis(10));
        info!(?interval, limit, "broker maintenance started");
        let mut maintainer = self.maintainer(interval, limit).indexed(interval);
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let tick = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                tick = maintainer.tick_within(Some(interval)) => tick,
            };
            match tick {
                Ok(report) if report.changed_anything() => debug!(?report, "maintenance tick"),
                Ok(_) => {}
                Err(e) => warn!(error = %e, "maintenance tick failed; retrying next tick"),
            }
        }
        info!("broker maintenance stopped");
    }
}

impl Maintainer {
    /// One tick: lists the queues, starts the maintenance of every queue
    /// that is due, and waits until every call has returned.
    pub async fn tick(&mut self) -> BrokerResult<MaintenanceReport> {
        self.tick_within(None).await
    }

    /// A tick that waits at most `wait` (if given) for the calls; those
    /// still running are reported by a later tick.
    async fn tick_within(&mut self, wait: Option<Duration>) -> BrokerResult<MaintenanceReport> {
        self.tick += 1;
        // Indexed: sweep when due, then claim the due queues; listed: all.
        let queues = match self.indexed.is_some() {
            true => {
                self.sweep_if_due().await;
                self.claim(wait).await
            }
            false => self.list(wait).await?,
        };
        let listed: HashSet<&String> = queues.iter().collect();
        // Listed: forget queues no longer listed. Indexed: a queue is
        // claimed only when due, so keep its state a while (its backoff
        // and trim schedule), then forget it.
        let (tick, keep) = match self.indexed.is_some() {
            true => (self.tick, self.trim_every.saturating_mul(20)),
            false => (self.tick, 0),
        };
        self.queues
            .retain(|q, s| s.running || listed.contains(q) || s.last_seen + keep > tick);
        let mut report = MaintenanceReport::default();
        let spread = self.indexed.is_none();
        for queue in &queues {
            let (tick, trim_every, discovered) = (self.tick, self.trim_every, &mut self.discovered);
            let state = self.queues.entry(queue.clone()).or_insert_with(|| {
                // Spread first trims over the period (visits from the due
                // indexes are spread already: trim on the first).
                let next_trim = if spread {
                    tick + *discovered % trim_every
                } else {
                    tick
                };
                *discovered += 1;
                QueueState {
                    failures: 0,
                    next_try: 0,
                    next_trim,
                    running: false,
                    last_seen: tick,
                }
            });
            state.last_seen = tick;
            if state.running {
                continue;
            }
            if state.next_try > self.tick {
                report.backing_off += 1;
                continue;
            }
            state.running = true;
            let trim = state.next_trim <= self.tick;
            let (client, limit, name) = (self.client.clone(), self.limit, queue.clone());
            let settle = self.settle_plan();
            let handle = self.work.spawn(async move {
                let result = client.maintain_queue(&name, limit, trim).await;
                let result = match (result, settle) {
                    // The entry is settled by the visit itself, so a
                    // straggler settles under its own claim.
                    (Ok(work), Some(plan)) => plan.settle(&client, &name, work).await,
                    (other, _) => other,
                };
                (name, result)
            });
            self.running.insert(handle.id(), queue.clone());
        }
        let deadline = wait.map(|w| Instant::now() + w);
        loop {
            let joined = match deadline {
                None => self.work.join_next_with_id().await,
                Some(at) => {
                    match tokio::time::timeout_at(at, self.work.join_next_with_id()).await {
                        Ok(joined) => joined,
                        Err(_) => break,
                    }
                }
            };
            match joined {
                Some(joined) => self.finish(joined, &mut report),
                None => break,
            }
        }
        report.in_flight = self.running.len() as u64;
        Ok(report)
    }

    /// The queues to maintain: the listed ones or, when listing fails or
    /// takes longer than `wait` (the node of `<ns>:queues` hangs), those
    /// known before, if any.
    async fn list(&mut self, wait: Option<Duration>) -> BrokerResult<Vec<String>> {
        let known = !self.queues.is_empty();
        let error = match wait.filter(|_| known) {
            Some(wait) => match tokio::time::timeout(wait, self.client.queues()).await {
                Ok(Ok(queues)) => return Ok(queues),
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("listing the queues took longer than {wait:?}"),
            },
            None => match self.client.queues().await {
                Ok(queues) => return Ok(queues),
                Err(e) if !known => {
                    metrics::counter!("wasmq_maintenance_list_errors_total").increment(1);
                    return Err(e);
                }
                Err(e) => e.to_string(),
            },
        };
        metrics::counter!("wasmq_maintenance_list_errors_total").increment(1);
        warn!(%error, "could not list the queues; maintaining the ones known");
        let mut queues: Vec<String> = self.queues.keys().cloned().collect();
        queues.sort();
        Ok(queues)
    }

    /// Books one finished call: the queue's schedule, the report, and on
    /// failure the log line, the metric and the backoff.
    fn finish(
        &mut self,
        joined: Result<(Id, (String, BrokerResult<QueueWork>)), JoinError>,
        report: &mut MaintenanceReport,
    ) {
        let (id, outcome) = match joined {
            Ok((id, (_, result))) => (id, result.map_err(|e| e.to_string())),
            Err(e) => (e.id(), Err(format!("maintenance task ended: {e}"))),
        };
        let Some(queue) = self.running.remove(&id) else {
            return;
        };
        let (tick, trim_every, cap) = (self.tick, self.trim_every, self.backoff_cap);
        let Some(state) = self.queues.get_mut(&queue) else {
            return;
        };
        state.running = false;
        match outcome {
            Ok(work) => {
                if state.failures > 0 {
                    info!(
                        queue,
                        failures = state.failures,
                        "maintenance of queue recovered"
                    );
                }
                state.failures = 0;
                state.next_try = 0;
                if work.trimmed {
                    state.next_trim = tick + trim_every;
                }
                report.add(&work);
            }
            Err(error) => {
                state.failures = state.failures.saturating_add(1);
                let skip = backoff_ticks(state.failures, cap);
                state.next_try = tick + 1 + skip;
                warn!(
                    queue, %error, failures = state.failures, skip_ticks = skip,
                    "maintenance of queue failed; retrying it after a backoff, the others go on"
                );
                metrics::counter!("wasmq_maintenance_errors_total", "queue" => queue.clone())
                    .increment(1);
                report.failed.insert(queue, error);
            }
        }
    }
}

mod indexed;

/// Ticks of `interval` in `period`, rounded up, at least 1.
fn ticks(period: Duration, interval: Duration) -> u64 {
    let n = period.as_nanos().div_ceil(interval.as_nanos().max(1));
    u64::try_from(n).unwrap_or(u64::MAX).max(1)
}

/// Ticks a queue skips after its `failures`-th failure in a row: 1, 2, 4 …
/// up to `cap`.
fn backoff_ticks(failures: u32, cap: u64) -> u64 {
    1u64.checked_shl(failures.saturating_sub(1))
        .unwrap_or(u64::MAX)
        .min(cap)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let skips: Vec<u64> = (1..=9).map(|f| backoff_ticks(f, 60)).collect();
        assert_eq!(skips, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff_ticks(200, 60), 60);
        assert_eq!(backoff_ticks(3, 1), 1);
    }

    #[test]
    fn periods_become_ticks() {
        let ms = Duration::from_millis;
        assert_eq!(ticks(TRIM_PERIOD, ms(500)), 60);
        assert_eq!(ticks(TRIM_PERIOD, ms(7000)), 5);
        assert_eq!(ticks(TRIM_PERIOD, TRIM_PERIOD), 1);
        assert_eq!(ticks(TRIM_PERIOD, Duration::from_secs(3600)), 1);
        assert_eq!(ticks(TRIM_PERIOD, Duration::ZERO), 30_000_000_000);
    }
}
