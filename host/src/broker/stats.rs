//! Queue statistics: sizes per state (flow parents still waiting for their
//! dependencies included), lifetime counters, and per-minute
//! completed/failed buckets for a throughput chart.
//!
//! Counters live in one hash per queue and are bumped inside the same scripts
//! that move tasks, so they agree with the state at every instant. Buckets
//! are fields `c:<minute>` and `f:<minute>` of one hash per queue; the
//! housekeeping tick trims those older than the retention (24 h by default).

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::task::unix_ms;
use redis::Value;
use serde::Serialize;
use std::time::SystemTime;

/// Width of a throughput bucket, ms: the minute `c:<minute>` and
/// `f:<minute>` count. `prelude.lua` has the same `MINUTE_MS` (the scripts
/// write the buckets; a unit test keeps the two equal).
pub(crate) const MINUTE_MS: u64 = 60_000;

/// Lifetime counters of a queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Tasks accepted (duplicates of a unique key not counted).
    pub enqueued: u64,
    /// Tasks acked.
    pub completed: u64,
    /// Attempts that ended without success (error, expiry, malformed).
    pub failed: u64,
    /// Failed attempts scheduled for another try.
    pub retried: u64,
    /// Tasks moved to the dead-letter set.
    pub dead: u64,
    /// Tasks cancelled.
    pub cancelled: u64,
    /// Leases that expired and were reaped.
    pub expired: u64,
    /// Foreign or malformed members set aside.
    pub garbage: u64,
    /// Dead tasks re-driven.
    pub redriven: u64,
}

impl Counters {
    /// True once some consumer has run a task of the queue to its end or
    /// lost its lease: a host served the queue at some point (as far as the
    /// counters, which `queues rm` resets, remember).
    pub fn ever_run(&self) -> bool {
        self.completed + self.failed + self.expired > 0
    }
}

/// A queue's current sizes and counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// The queue name.
    pub queue: String,
    /// True while paused.
    pub paused: bool,
    /// Pending tasks of all priorities.
    pub pending: u64,
    /// Pending tasks by priority: high, normal, low.
    pub pending_by_priority: [u64; 3],
    /// Waiting for their run-at time.
    pub scheduled: u64,
    /// Waiting out a retry backoff.
    pub retry_wait: u64,
    /// Leased and running.
    pub active: u64,
    /// In the dead-letter set.
    pub dead: u64,
    /// Flow parents waiting for their dependencies.
    pub waiting: u64,
    /// Ids in the garbage list (last 1000 set aside).
    pub garbage_list: u64,
    /// Lifetime counters.
    pub counters: Counters,
}

/// Completed and failed counts of one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ThroughputPoint {
    /// Start of the minute, ms since the Unix epoch.
    pub minute_start_ms: u64,
    /// Tasks acked in that minute.
    pub completed: u64,
    /// Attempts that failed in that minute.
    pub failed: u64,
}

impl Client {
    /// Sizes and counters of one queue.
    pub async fn queue_stats(&self, queue: &str) -> BrokerResult<QueueStats> {
        let keys = self.keys(queue)?;
        let op = format!("stats of queue {queue:?}");
        let mut inv = SCRIPTS.stats.prepare_invoke();
        inv.key(&keys.pending[..])
            .key(&keys.scheduled)
            .key(&keys.retry)
            .key(&keys.active)
            .key(&keys.dead)
            .key(&keys.stats)
            .key(&keys.paused)
            .key(&keys.garbage)
            .key(&keys.waiting);
        let reply = self.invoke(&inv, &op).await?;
        let r = Reply::of(&op);
        let mut items = r.array(reply)?.into_iter();
        let mut sizes = [0u64; 10];
        for size in &mut sizes {
            *size = match items.next() {
                Some(v) => r.uint(&v)?,
                None => return Err(BrokerError::reply(&op, "short reply")),
            };
        }
        let mut counters = Counters::default();
        for (field, value) in r.pairs(items.next().unwrap_or(Value::Nil))? {
            let value = r.uint(&value)?;
            match field.as_str() {
                "enqueued" => counters.enqueued = value,
                "completed" => counters.completed = value,
                "failed" => counters.failed = value,
                "retried" => counters.retried = value,
                "dead" => counters.dead = value,
                "cancelled" => counters.cancelled = value,
                "expired" => counters.expired = value,
                "garbage" => counters.garbage = value,
                "redriven" => counters.redriven = value,
                _ => {}
            }
        }
        let [
            p0,
            p1,
            p2,
            scheduled,
            retry_wait,
            active,
            dead,
            paused,
            garbage_list,
            waiting,
        ] = sizes;
        Ok(QueueStats {
            queue: queue.to_owned(),
            paused: paused == 1,
            pending: p0 + p1 + p2,
            pending_by_priority: [p0, p1, p2],
            scheduled,
            retry_wait,
            active,
            dead,
            waiting,
            garbage_list,
            counters,
        })
    }

    /// Sizes and counters of every known queue.
    pub async fn stats(&self) -> BrokerResult<Vec<QueueStats>> {
        let mut out = Vec::new();
        for queue in self.queues().await? {
            out.push(self.queue_stats(&queue).await?);
        }
        Ok(out)
    }

    /// Completed and failed counts per minute for the last `minutes` minutes
    /// (oldest first, the current minute last). Minutes are cut by Redis's
    /// clock; the window is placed with this host's, so a skewed clock shifts
    /// it.
    pub async fn throughput(
        &self,
        queue: &str,
        minutes: u32,
    ) -> BrokerResult<Vec<ThroughputPoint>> {
        let keys = self.keys(queue)?;
        let now_minute = unix_ms(SystemTime::now()) / MINUTE_MS;
        let first = now_minute.saturating_sub(u64::from(minutes.max(1)) - 1);
        let mut fields = Vec::new();
        for m in first..=now_minute {
            fields.push(format!("c:{m}"));
            fields.push(format!("f:{m}"));
        }
        let op = format!("throughput of queue {queue:?}");
        let values: Vec<Option<u64>> = redis::cmd("HMGET")
            .arg(&keys.throughput)
            .arg(&fields)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(&op, e))?;
        Ok((first..=now_minute)
            .zip(values.chunks(2))
            .map(|(m, pair)| ThroughputPoint {
                minute_start_ms: m * MINUTE_MS,
                completed: pair.first().copied().flatten().unwrap_or(0),
                failed: pair.get(1).copied().flatten().unwrap_or(0),
            })
            .collect())
    }
}
