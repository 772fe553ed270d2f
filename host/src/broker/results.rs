//! Where final records (results of completed tasks, and cancellations) live.
//!
//! One key per result with its own expiry would cost Redis a key, an expiry
//! entry and ~3 µs of CPU per task. Instead, records are fields of one hash
//! per queue and time bucket, `<ns>:{Q}:res:<n>`, written with one `HSET` per
//! ack batch. A bucket spans `result_ttl / 24` (clamped to 1 min .. 1 h); an
//! index sorted set lists the buckets that exist, so lookups check only those
//! (newest first) and maintenance deletes whole buckets with `UNLINK` (freed
//! in the background, so even a big bucket does not stall Redis) once their
//! last record is older than the TTL. A result therefore stays readable for at
//! least `result_ttl` and at most `result_ttl` plus one bucket width. Each
//! bucket also carries a `PEXPIREAT` one width later as a safety net in case
//! no host runs maintenance.
//!
//! Bucket numbers come from the writing host's clock: a skewed clock only
//! shifts which bucket a record lands in, never whether it is found.

use super::client::Client;
use super::error::BrokerResult;
use super::keys::QueueKeys;
use super::options::millis;
use std::time::Duration;

/// Narrowest and widest result bucket.
const MIN_WIDTH: Duration = Duration::from_secs(1);
const MAX_WIDTH: Duration = Duration::from_secs(3600);

/// The result bucket a script writes final records to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bucket {
    /// The bucket hash.
    pub key: String,
    /// The bucket index of its queue.
    pub index: String,
    /// False when results are not kept (result TTL 0).
    pub keep: bool,
    /// Bucket number: start ms / width ms.
    pub number: u64,
    /// Start of the bucket, ms since the Unix epoch.
    pub start_ms: u64,
    /// Safety-net expiry of the bucket hash.
    pub expire_at_ms: u64,
}

impl Bucket {
    /// The two keys scripts take for it: the bucket hash, then the index.
    pub(crate) fn keys(&self) -> [&str; 2] {
        [&self.key, &self.index]
    }

    /// The four arguments scripts take for it: keep (0/1), number, start
    /// ms, expire-at ms.
    pub(crate) fn args(&self) -> [u64; 4] {
        [
            u64::from(self.keep),
            self.number,
            self.start_ms,
            self.expire_at_ms,
        ]
    }
}

/// The width of result buckets for a TTL.
pub(crate) fn bucket_width(ttl: Duration) -> Duration {
    (ttl / 24).clamp(MIN_WIDTH, MAX_WIDTH)
}

/// The bucket `now_ms` falls in.
pub(crate) fn bucket_at(keys: &QueueKeys, ttl: Duration, now_ms: u64) -> Bucket {
    let width = millis(bucket_width(ttl));
    let number = now_ms / width;
    let start_ms = number * width;
    Bucket {
        key: keys.result_bucket(number),
        index: keys.result_index.clone(),
        keep: !ttl.is_zero(),
        number,
        start_ms,
        expire_at_ms: start_ms + 2 * width + millis(ttl),
    }
}

impl Client {
    /// The bucket this host writes final records of `keys`' queue to now.
    pub(crate) fn bucket(&self, keys: &QueueKeys) -> Bucket {
        bucket_at(keys, self.inner.opts.result_ttl, self.inner.clock.host_ms())
    }

    /// The result buckets of a queue that exist, newest first.
    pub(crate) async fn bucket_keys(&self, keys: &QueueKeys) -> BrokerResult<Vec<String>> {
        let numbers: Vec<u64> = redis::cmd("ZREVRANGE")
            .arg(&keys.result_index)
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(format!("list result buckets of queue {:?}", keys.queue), e))?;
        Ok(numbers.into_iter().map(|n| keys.result_bucket(n)).collect())
    }

    /// Deletes result buckets whose every record is older than the TTL;
    /// returns how many.
    pub(crate) async fn trim_results(&self, keys: &QueueKeys) -> BrokerResult<u64> {
        let opts = &self.inner.opts;
        let width = millis(bucket_width(opts.result_ttl));
        let now = self.inner.clock.host_ms();
        // A bucket starting at s holds records up to s + width; they expire
        // at s + width + ttl.
        let cutoff = now.saturating_sub(width + millis(opts.result_ttl));
        let op = format!("trim result buckets of queue {:?}", keys.queue);
        let old: Vec<u64> = redis::cmd("ZRANGEBYSCORE")
            .arg(&keys.result_index)
            .arg("-inf")
            .arg(format!("({cutoff}"))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(&op, e))?;
        if old.is_empty() {
            return Ok(0);
        }
        let buckets: Vec<String> = old.iter().map(|n| keys.result_bucket(*n)).collect();
        redis::pipe()
            .cmd("UNLINK")
            .arg(&buckets)
            .ignore()
            .zrem(&keys.result_index, &old)
            .ignore()
            .exec_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(&op, e))?;
        Ok(old.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn widths() {
        assert_eq!(
            bucket_width(Duration::from_secs(24 * 3600)),
            Duration::from_secs(3600)
        );
        assert_eq!(
            bucket_width(Duration::from_secs(3600)),
            Duration::from_secs(150)
        );
        assert_eq!(bucket_width(Duration::from_secs(10)), MIN_WIDTH);
        assert_eq!(
            bucket_width(Duration::from_secs(60)),
            Duration::from_millis(2500)
        );
        assert_eq!(bucket_width(Duration::from_secs(30 * 24 * 3600)), MAX_WIDTH);
    }

    proptest! {
        #[test]
        fn a_bucket_outlives_its_records(ttl_s in 0u64..100 * 24 * 3600, now in 0u64..4_000_000_000_000) {
            let keys = QueueKeys::new("ns", "q").unwrap();
            let ttl = Duration::from_secs(ttl_s);
            let b = bucket_at(&keys, ttl, now);
            let width = millis(bucket_width(ttl));
            prop_assert!(b.start_ms <= now && now < b.start_ms + width);
            // The last record written to it must live its full TTL.
            prop_assert!(b.expire_at_ms >= b.start_ms + width + millis(ttl));
            prop_assert_eq!(b.keep, ttl_s > 0);
            prop_assert_eq!(b.key, keys.result_bucket(b.number));
        }
    }
}
