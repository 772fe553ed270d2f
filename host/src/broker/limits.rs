//! Limits per queue, across all hosts: storing them and throttling.
//!
//! A queue's limits live in its `limits` hash (in the queue's slot, beside
//! the keys the lease script counts), so one script call can read them and
//! apply them atomically with the lease: the limit holds however many hosts
//! lease. Precedence: limits set in Redis (CLI, HTTP API) win over the
//! plugin manifest's defaults, which each host passes to the lease script
//! and which apply only while the hash does not exist. Setting "no limit" in
//! Redis therefore still writes the hash (with only `set_at`), overriding a
//! manifest default; clearing deletes it, restoring the manifest's.
//!
//! The throttle is a `STRING` with a TTL: while it exists no host leases
//! from the queue. It is how a plugin's `retry-after` pauses a whole queue.

use super::client::Client;
use super::error::BrokerResult;
use super::scripts::SCRIPTS;
use crate::error::ValidationError;
use crate::ratelimit::{Period, QueueLimits, Rate};
use redis::AsyncCommands;
use std::collections::HashMap;
use std::time::Duration;

/// Longest throttle accepted: one day (a longer retry-after is clamped).
pub const MAX_THROTTLE: Duration = Duration::from_secs(86_400);

/// A queue's limits as stored, with where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLimits {
    /// The limits (all `None` when set to "no limit").
    pub limits: QueueLimits,
    /// When they were set (ms since the Unix epoch, the setter's clock).
    pub set_at_ms: u64,
}

impl Client {
    /// Replaces `queue`'s limits on every host (validated first). Unlimited
    /// limits still override a manifest default; see [`Client::clear_limits`].
    pub async fn set_limits(&self, queue: &str, limits: &QueueLimits) -> BrokerResult<()> {
        limits.validate().map_err(ValidationError::from)?;
        let keys = self.keys(queue)?;
        let mut fields: Vec<(&str, u64)> = Vec::new();
        if let Some(r) = limits.rate {
            fields.push(("rate", r.count));
            fields.push(("period", r.period.millis()));
            fields.push(("burst", limits.effective_burst()));
        }
        if let Some(c) = limits.concurrency {
            fields.push(("concurrency", c));
        }
        let mut inv = SCRIPTS.limits_set.prepare_invoke();
        inv.key(&keys.limits).key(&keys.rate_state);
        inv.arg(crate::task::unix_ms(std::time::SystemTime::now()));
        for (f, v) in fields {
            inv.arg(f).arg(v);
        }
        let op = format!("set the limits of queue {queue:?}");
        self.invoke(&inv, &op).await?;
        self.register_queue(queue).await?;
        Ok(())
    }

    /// Deletes `queue`'s limits from Redis: the manifest defaults (if any)
    /// apply again.
    pub async fn clear_limits(&self, queue: &str) -> BrokerResult<()> {
        let keys = self.keys(queue)?;
        let _: () = self
            .conn()
            .del(&[&keys.limits, &keys.rate_state])
            .await
            .map_err(|e| self.fail(format!("clear the limits of queue {queue:?}"), e))?;
        Ok(())
    }

    /// `queue`'s limits as stored in Redis, or `None` when none are set.
    /// Malformed stored values are an error naming the queue.
    pub async fn limits(&self, queue: &str) -> BrokerResult<Option<StoredLimits>> {
        let keys = self.keys(queue)?;
        let op = format!("read the limits of queue {queue:?}");
        let map: HashMap<String, String> = self
            .conn()
            .hgetall(&keys.limits)
            .await
            .map_err(|e| self.fail(&op, e))?;
        if map.is_empty() {
            return Ok(None);
        }
        let num = |f: &str| -> BrokerResult<Option<u64>> {
            map.get(f)
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        super::BrokerError::reply(&op, format!("field {f} is not a number: {v:?}"))
                    })
                })
                .transpose()
        };
        let rate = match (num("rate")?, num("period")?) {
            (Some(count), Some(ms)) => {
                let period = Period::from_millis(ms).ok_or_else(|| {
                    super::BrokerError::reply(&op, format!("period {ms} ms is not s, m or h"))
                })?;
                Some(Rate { count, period })
            }
            _ => None,
        };
        Ok(Some(StoredLimits {
            limits: QueueLimits {
                rate,
                burst: rate.and(num("burst")?),
                concurrency: num("concurrency")?,
            },
            set_at_ms: num("set_at")?.unwrap_or(0),
        }))
    }

    /// Stops leasing from `queue` on every host for `duration` (at least
    /// 1 ms, at most [`MAX_THROTTLE`]); a longer throttle in force is kept.
    /// Returns how long leasing is now throttled.
    pub async fn throttle(&self, queue: &str, duration: Duration) -> BrokerResult<Duration> {
        let keys = self.keys(queue)?;
        let ms = super::options::millis(duration.clamp(Duration::from_millis(1), MAX_THROTTLE));
        let mut inv = SCRIPTS.throttle.prepare_invoke();
        inv.key(&keys.throttle).arg(ms);
        let op = format!("throttle queue {queue:?}");
        let v = self.invoke(&inv, &op).await?;
        let held = super::reply::Reply::of(&op).uint(&v)?;
        Ok(Duration::from_millis(held))
    }

    /// How long leasing from `queue` stays throttled (`None` if it is not).
    pub async fn throttled_for(&self, queue: &str) -> BrokerResult<Option<Duration>> {
        let keys = self.keys(queue)?;
        let ms: i64 = self
            .conn()
            .pttl(&keys.throttle)
            .await
            .map_err(|e| self.fail(format!("read the throttle of queue {queue:?}"), e))?;
        Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
    }
}
