//! Background work every host runs: promoting due tasks, reaping expired
//! leases, and trimming the dead set and throughput buckets.
//!
//! Every step is an atomic script with a LIMIT, so any number of hosts can run
//! the loop at once: racing promoters or reapers never move a task twice (the
//! read and the move happen in one script), and no tick blocks Redis for long.

use super::client::Client;
use super::error::BrokerResult;
use super::invoke::count;
use super::options::millis;
use super::reply::Reply;
use super::scripts::SCRIPTS;
use serde::Serialize;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Rounds of a step per queue and tick while a full batch keeps coming back.
const MAX_ROUNDS: usize = 10;

/// What the reaper did in one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReapReport {
    /// Back to pending, attempt counted.
    pub requeued: u64,
    /// To the dead set: their last attempt's lease expired.
    pub dead: u64,
    /// Cancelled: cancellation had been requested.
    pub cancelled: u64,
}

/// What one maintenance tick did, over all queues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MaintenanceReport {
    /// Scheduled and retry-waiting tasks made pending.
    pub promoted: u64,
    /// Expired leases taken back.
    pub reaped: ReapReport,
    /// Dead tasks dropped by the count and age bounds.
    pub dead_trimmed: u64,
}

impl Client {
    /// Moves up to `limit` due tasks from each of the scheduled and retry
    /// sets of `queue` to its pending lists; returns how many moved.
    pub async fn promote_due(&self, queue: &str, limit: usize) -> BrokerResult<u64> {
        let keys = self.keys(queue)?;
        let op = format!("promote due tasks of queue {queue:?}");
        let mut inv = SCRIPTS.promote.prepare_invoke();
        inv.key(&keys.scheduled)
            .key(&keys.retry)
            .key(&keys.tasks)
            .key(&keys.pending[..])
            .key(&keys.wake)
            .key(&keys.dead)
            .key(&keys.meta)
            .key(&keys.stats)
            .key(&keys.garbage)
            .arg(limit.max(1));
        let r = Reply::of(&op);
        let counts = r.array(self.invoke(&inv, &op).await?)?;
        let promoted = count(&r, &counts, 0)?;
        let bad = count(&r, &counts, 1)?;
        if bad > 0 {
            tracing::error!(queue, count = bad, "set aside malformed scheduled tasks");
        }
        metrics::counter!("wasmq_broker_promoted_total", "queue" => queue.to_owned())
            .increment(promoted);
        Ok(promoted)
    }

    /// Takes back up to `limit` tasks of `queue` whose lease expired.
    pub async fn reap_expired(&self, queue: &str, limit: usize) -> BrokerResult<ReapReport> {
        let keys = self.keys(queue)?;
        let bucket = self.bucket(&keys);
        let opts = &self.inner.opts;
        let op = format!("reap expired leases of queue {queue:?}");
        let mut inv = SCRIPTS.reap.prepare_invoke();
        inv.key(&keys.active)
            .key(&keys.lease)
            .key(&keys.meta)
            .key(&keys.tasks)
            .key(&keys.pending[..])
            .key(&keys.dead)
            .key(&keys.cancel)
            .key(&keys.wake)
            .key(&keys.stats)
            .key(&keys.throughput)
            .key(&keys.garbage)
            .key(&bucket.keys()[..])
            .arg(limit.max(1))
            .arg(opts.dead_max_count)
            .arg(opts.dead_max_age_ms())
            .arg(&bucket.args()[..]);
        let r = Reply::of(&op);
        let counts = r.array(self.invoke(&inv, &op).await?)?;
        let report = ReapReport {
            requeued: count(&r, &counts, 0)?,
            dead: count(&r, &counts, 1)?,
            cancelled: count(&r, &counts, 2)?,
        };
        if report != ReapReport::default() {
            warn!(queue, ?report, "reaped expired leases (hosts died or hung)");
        }
        metrics::counter!("wasmq_broker_reaped_total", "queue" => queue.to_owned())
            .increment(report.requeued + report.dead + report.cancelled);
        Ok(report)
    }

    /// Drops dead tasks beyond the count and age bounds and throughput
    /// buckets beyond the retention (at most `limit` of each), and result
    /// buckets older than the result TTL; returns the number of dead tasks
    /// dropped.
    pub async fn trim(&self, queue: &str, limit: usize) -> BrokerResult<u64> {
        let keys = self.keys(queue)?;
        let opts = &self.inner.opts;
        let op = format!("trim queue {queue:?}");
        let mut inv = SCRIPTS.trim.prepare_invoke();
        inv.key(&keys.dead)
            .key(&keys.tasks)
            .key(&keys.meta)
            .key(&keys.throughput)
            .arg(opts.dead_max_count)
            .arg(opts.dead_max_age_ms())
            .arg(millis(opts.throughput_retention) / 60_000)
            .arg(limit.max(1));
        let r = Reply::of(&op);
        let dropped = count(&r, &r.array(self.invoke(&inv, &op).await?)?, 0)?;
        self.trim_results(&keys).await?;
        Ok(dropped)
    }

    /// One maintenance tick over every known queue.
    pub async fn maintain_once(&self, limit: usize) -> BrokerResult<MaintenanceReport> {
        let mut report = MaintenanceReport::default();
        for queue in self.queues().await? {
            for _ in 0..MAX_ROUNDS {
                let n = self.promote_due(&queue, limit).await?;
                report.promoted += n;
                if n < limit as u64 {
                    break;
                }
            }
            for _ in 0..MAX_ROUNDS {
                let reaped = self.reap_expired(&queue, limit).await?;
                report.reaped.requeued += reaped.requeued;
                report.reaped.dead += reaped.dead;
                report.reaped.cancelled += reaped.cancelled;
                if reaped.requeued + reaped.dead + reaped.cancelled < limit as u64 {
                    break;
                }
            }
            report.dead_trimmed += self.trim(&queue, limit).await?;
        }
        Ok(report)
    }

    /// Runs [`Client::maintain_once`] every `interval` until `shutdown` is
    /// cancelled. Errors (Redis restarting, say) are logged and the loop goes
    /// on; it never gives up on its own.
    pub async fn run_maintenance(
        &self,
        interval: Duration,
        limit: usize,
        shutdown: CancellationToken,
    ) {
        info!(?interval, limit, "broker maintenance started");
        let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticker.tick() => {}
            }
            match self.maintain_once(limit).await {
                Ok(report) if report != MaintenanceReport::default() => {
                    debug!(?report, "maintenance tick")
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "maintenance tick failed; retrying next tick"),
            }
        }
        info!("broker maintenance stopped");
    }
}
