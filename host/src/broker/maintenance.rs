//! The maintenance steps of one queue: promoting due tasks, reaping expired
//! leases, and trimming the dead set, throughput buckets and result buckets.
//!
//! Every step is an atomic script with a LIMIT, so any number of hosts can run
//! them at once: racing promoters or reapers never move a task twice (the
//! read and the move happen in one script), and no call blocks Redis for long.
//!
//! The maintenance loop (`maintainer.rs`) runs all steps of a queue in one
//! call, `maintain.lua`, so a tick costs one round trip per queue rather than
//! one per step; an idle queue's call reads three sorted sets and writes
//! nothing. The single-step calls ([`Client::promote_due`],
//! [`Client::reap_expired`], [`Client::trim`]) share their Lua with it (the
//! step bodies are functions in `prelude_queue.lua`) and serve tests and admin
//! tools.

use super::client::Client;
use super::error::BrokerResult;
use super::invoke::count;
use super::keys::QueueKeys;
use super::options::millis;
use super::reply::Reply;
use super::scripts::SCRIPTS;
use super::stats::MINUTE_MS;
use serde::Serialize;
use tracing::warn;

/// Rounds of `maintain.lua` per queue and tick while a full batch keeps
/// coming back.
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

impl ReapReport {
    /// Tasks taken back, whatever became of them.
    pub fn total(&self) -> u64 {
        self.requeued + self.dead + self.cancelled
    }

    fn add(&mut self, other: ReapReport) {
        self.requeued += other.requeued;
        self.dead += other.dead;
        self.cancelled += other.cancelled;
    }
}

/// What the maintenance of one queue did in one tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct QueueWork {
    /// Scheduled and retry-waiting tasks made pending.
    pub promoted: u64,
    /// Expired leases taken back.
    pub reaped: ReapReport,
    /// Whether this tick trimmed the queue.
    pub trimmed: bool,
    /// Dead tasks dropped by the count and age bounds.
    pub dead_trimmed: u64,
    /// Result buckets deleted.
    pub buckets_trimmed: u64,
    /// Child tasks forwarded from the queue's outbox.
    pub forwarded: u64,
    /// What the last call saw afterwards, for the due index.
    pub outlook: Outlook,
}

/// When a queue needs its next maintenance visit, as its last
/// `maintain.lua` call saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Outlook {
    /// Redis's clock at that call, ms.
    pub now_ms: u64,
    /// The earliest due time or lease deadline left.
    pub soonest_ms: Option<u64>,
    /// A step left a full batch behind: visit again at once.
    pub more: bool,
    /// Parents still wait in the outbox or for their flow dependencies.
    pub waiting: bool,
    /// A trim may find something to drop.
    pub trimmable: bool,
}

impl Outlook {
    /// When the queue should next be visited: at once while work is left,
    /// after `tick` while parents wait, at its soonest time, and no later
    /// than `trim_every` while a trim may find something.
    pub(crate) fn next_visit(
        &self,
        tick: std::time::Duration,
        trim_every: std::time::Duration,
    ) -> Option<u64> {
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let candidates = [
            self.more.then_some(self.now_ms),
            self.waiting.then(|| self.now_ms.saturating_add(ms(tick))),
            self.soonest_ms,
            self.trimmable
                .then(|| self.now_ms.saturating_add(ms(trim_every))),
        ];
        candidates.into_iter().flatten().min()
    }
}

impl Client {
    /// Moves up to `limit` due tasks from each of the scheduled and retry
    /// sets of `queue` to its pending lists; returns how many moved.
    pub async fn promote_due(&self, queue: &str, limit: usize) -> BrokerResult<u64> {
        let keys = self.keys(queue)?;
        let op = format!("promote due tasks of queue {queue:?}");
        let mut inv = SCRIPTS.promote.prepare_invoke();
        inv.wake_channel(self.wake_channel())
            .key(&keys.scheduled)
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
        note(
            queue,
            promoted,
            count(&r, &counts, 1)?,
            ReapReport::default(),
        );
        Ok(promoted)
    }

    /// Takes back up to `limit` tasks of `queue` whose lease expired.
    pub async fn reap_expired(&self, queue: &str, limit: usize) -> BrokerResult<ReapReport> {
        let keys = self.keys(queue)?;
        let bucket = self.bucket(&keys);
        let opts = &self.inner.opts;
        let op = format!("reap expired leases of queue {queue:?}");
        let mut inv = SCRIPTS.reap.prepare_invoke();
        inv.wake_channel(self.wake_channel())
            .key(&keys.active)
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
        note(queue, 0, 0, report);
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
            .arg(millis(opts.throughput_retention) / MINUTE_MS)
            .arg(limit.max(1));
        let r = Reply::of(&op);
        let dropped = count(&r, &r.array(self.invoke(&inv, &op).await?)?, 0)?;
        self.trim_results(&keys).await?;
        Ok(dropped)
    }

    /// One tick of one queue: `maintain.lua` (promote and reap, plus trim
    /// if `trim`), again while a step finds a full batch (at most
    /// [`MAX_ROUNDS`] calls), then the result buckets if `trim`.
    pub(crate) async fn maintain_queue(
        &self,
        queue: &str,
        limit: usize,
        trim: bool,
    ) -> BrokerResult<QueueWork> {
        let keys = self.keys(queue)?;
        let mut work = QueueWork {
            trimmed: trim,
            ..QueueWork::default()
        };
        let (mut outbox, mut flows) = (0, 0);
        // Promote and reap first, again while a step fills its batch; trim
        // only in the first round (its bounds need no second pass). Each
        // reply also says whether the steps below have anything to do.
        for round in 0..MAX_ROUNDS {
            let (more, waiting, parents) = self
                .maintain_call(&keys, limit, trim && round == 0, &mut work)
                .await?;
            (outbox, flows) = (waiting, parents);
            work.outlook.more = more;
            if !more {
                break;
            }
        }
        // Children a forwarder left behind (its host died after the ack):
        // only when the last round saw a non-empty outbox, so an idle queue
        // costs no call here.
        for _ in 0..MAX_ROUNDS {
            if outbox == 0 {
                break;
            }
            let report = self.forward_children(queue, limit).await?;
            work.forwarded += report.forwarded;
            outbox = u64::from(report.more);
        }
        // Flow parents waiting for their dependencies (see flows.rs): the
        // resolver reads other queues' slots, so it runs only when the last
        // round counted waiting parents.
        if flows > 0 {
            self.resolve_flows(queue, limit).await?;
        }
        work.outlook.waiting = outbox > 0 || flows > 0;
        // Result buckets on a trim tick, in a call of their own: their keys
        // must be read from the index before a script can name them.
        if trim {
            work.buckets_trimmed = self.trim_results(&keys).await?;
        }
        Ok(work)
    }

    /// One `maintain.lua` call; adds what it did to `work` and returns
    /// whether a step found a full batch (so another round may find more),
    /// how many parents wait in the outbox and how many flow parents wait.
    async fn maintain_call(
        &self,
        keys: &QueueKeys,
        limit: usize,
        trim: bool,
        work: &mut QueueWork,
    ) -> BrokerResult<(bool, u64, u64)> {
        let bucket = self.bucket(keys);
        let opts = &self.inner.opts;
        let op = format!("maintain queue {:?}", keys.queue);
        let mut inv = SCRIPTS.maintain.prepare_invoke();
        inv.wake_channel(self.wake_channel())
            .key(&keys.scheduled)
            .key(&keys.retry)
            .key(&keys.tasks)
            .key(&keys.pending[..])
            .key(&keys.wake)
            .key(&keys.dead)
            .key(&keys.meta)
            .key(&keys.stats)
            .key(&keys.garbage)
            .key(&keys.active)
            .key(&keys.lease)
            .key(&keys.cancel)
            .key(&keys.throughput)
            .key(&bucket.keys()[..])
            .key(&keys.outbox)
            .key(&keys.waiting)
            .arg(limit.max(1))
            .arg(opts.dead_max_count)
            .arg(opts.dead_max_age_ms())
            .arg(u8::from(trim))
            .arg(millis(opts.throughput_retention) / MINUTE_MS)
            .arg(&bucket.args()[..]);
        let r = Reply::of(&op);
        let counts = r.array(self.invoke(&inv, &op).await?)?;
        let promoted = count(&r, &counts, 0)?;
        let reaped = ReapReport {
            requeued: count(&r, &counts, 2)?,
            dead: count(&r, &counts, 3)?,
            cancelled: count(&r, &counts, 4)?,
        };
        note(&keys.queue, promoted, count(&r, &counts, 1)?, reaped);
        work.promoted += promoted;
        work.reaped.add(reaped);
        work.dead_trimmed += count(&r, &counts, 5)?;
        let soonest = counts.get(11).map(|v| r.int(v)).transpose()?.unwrap_or(-1);
        work.outlook = Outlook {
            now_ms: count(&r, &counts, 10)?,
            soonest_ms: u64::try_from(soonest).ok(),
            more: false,
            waiting: false,
            trimmable: count(&r, &counts, 12)? > 0,
        };
        Ok((
            count(&r, &counts, 7)? > 0,
            count(&r, &counts, 8)?,
            count(&r, &counts, 9)?,
        ))
    }
}

/// Logs and counts what a promote or reap step of `queue` did.
fn note(queue: &str, promoted: u64, malformed: u64, reaped: ReapReport) {
    if malformed > 0 {
        tracing::error!(
            queue,
            count = malformed,
            "set aside malformed scheduled tasks"
        );
    }
    if promoted > 0 {
        metrics::counter!("wasmq_broker_promoted_total", "queue" => queue.to_owned())
            .increment(promoted);
    }
    if reaped.total() > 0 {
        warn!(queue, report = ?reaped, "reaped expired leases (hosts died or hung)");
        metrics::counter!("wasmq_broker_reaped_total", "queue" => queue.to_owned())
            .increment(reaped.total());
    }
}
