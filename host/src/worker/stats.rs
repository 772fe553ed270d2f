//! Counters of one host's work: for the heartbeat, the final report and the
//! tests. Prometheus metrics are recorded alongside, where the events happen;
//! these plain atomics exist because a process must be able to read its own
//! totals without scraping itself.

use crate::broker::BrokerError;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use tracing::warn;

/// Live counters, shared by the worker's loops.
#[derive(Debug, Default)]
pub struct Stats {
    leased: AtomicU64,
    completed: AtomicU64,
    retried: AtomicU64,
    dead: AtomicU64,
    cancelled: AtomicU64,
    released: AtomicU64,
    stale: AtomicU64,
    redis_errors: AtomicU64,
}

/// What a host did, from start to shutdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WorkerReport {
    /// Tasks leased.
    pub leased: u64,
    /// Tasks acked as completed.
    pub completed: u64,
    /// Failed attempts scheduled for another try.
    pub retried: u64,
    /// Tasks moved to the dead-letter set.
    pub dead: u64,
    /// Tasks recorded as cancelled.
    pub cancelled: u64,
    /// Leases given back unrun or unfinished (shutdown, removed plugin).
    pub released: u64,
    /// Settlements refused because the lease had expired meanwhile.
    pub stale_acks: u64,
    /// Redis calls that failed (and were retried or skipped).
    pub redis_errors: u64,
}

impl WorkerReport {
    /// Tasks whose attempt ended here with a verdict (not released or stale).
    pub fn processed(&self) -> u64 {
        self.completed + self.retried + self.dead + self.cancelled
    }
}

/// One of the counted events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Leased,
    Completed,
    Retried,
    Dead,
    Cancelled,
    Released,
    Stale,
}

impl Stats {
    /// Adds `n` to a counter.
    pub fn add(&self, what: Counted, n: u64) {
        let counter = match what {
            Counted::Leased => &self.leased,
            Counted::Completed => &self.completed,
            Counted::Retried => &self.retried,
            Counted::Dead => &self.dead,
            Counted::Cancelled => &self.cancelled,
            Counted::Released => &self.released,
            Counted::Stale => {
                metrics::counter!("wasmq_stale_acks_total").increment(n);
                &self.stale
            }
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The totals so far.
    pub fn report(&self) -> WorkerReport {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WorkerReport {
            leased: get(&self.leased),
            completed: get(&self.completed),
            retried: get(&self.retried),
            dead: get(&self.dead),
            cancelled: get(&self.cancelled),
            released: get(&self.released),
            stale_acks: get(&self.stale),
            redis_errors: get(&self.redis_errors),
        }
    }
}

/// Logs and counts a failed Redis call that the caller will retry or skip.
pub fn redis_error(stats: &Stats, op: &'static str, error: &BrokerError) {
    stats.redis_errors.fetch_add(1, Ordering::Relaxed);
    metrics::counter!("wasmq_redis_errors_total", "op" => op).increment(1);
    warn!(op, error = %error, "Redis call failed; will retry");
}
