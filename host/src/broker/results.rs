//! Where final records (results of completed tasks, and cancellations) live.
//!
//! One key per result with its own expiry would cost Redis a key, an expiry
//! entry and ~3 µs of CPU per task. Instead, records are fields of one hash
//! per queue and time bucket, `<ns>:{Q}:res:<n>`, written with one `HSET` per
//! ack batch. A bucket spans `result_ttl / 24` (clamped to 1 s .. 1 h); an
//! index sorted set lists the buckets that exist, so lookups check only those
//! and maintenance deletes whole buckets with `UNLINK` (freed in the
//! background, so even a big bucket does not stall Redis) once their last
//! record is older than the TTL. A result therefore stays readable for at
//! least `result_ttl` and at most `result_ttl` plus one bucket width. Each
//! bucket also carries a `PEXPIREAT` as a safety net in case no host runs
//! maintenance.
//!
//! # Whose clock
//!
//! Redis's, everywhere. The bucket is a key, so the host must name it in the
//! script's `KEYS`; it picks the bucket number from its estimate of Redis's
//! clock (`clock.rs`), not from its own. The script then judges the bucket by
//! its own `TIME` (`touch_bucket` in `prelude.lua`): the index score of a
//! bucket is its start, raised to the start of the bucket `TIME` is in when
//! the host's estimate named an older one, and the safety expiry follows the
//! score. Trimming ([`Client::trim_results`]) compares scores with `TIME`
//! inside a script too. So no host clock, however wrong, can delete a record
//! before its TTL; a wrong estimate can only keep a bucket longer.

use super::client::Client;
use super::error::BrokerResult;
use super::keys::QueueKeys;
use super::options::millis;
use super::reply::Reply;
use super::scripts::SCRIPTS;
use std::time::Duration;

/// Narrowest and widest result bucket.
const MIN_WIDTH: Duration = Duration::from_secs(1);
const MAX_WIDTH: Duration = Duration::from_secs(3600);

/// Most buckets of one queue a trim looks at (the oldest ones). A queue has
/// about 25 buckets at any time; more only after maintenance stopped a while.
const TRIM_BATCH: isize = 100;

/// The result bucket a script writes final records to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bucket {
    /// The bucket hash.
    pub key: String,
    /// The bucket index of its queue.
    pub index: String,
    /// False when results are not kept (result TTL 0).
    pub keep: bool,
    /// Bucket number: start ms / width ms, by Redis's clock.
    pub number: u64,
    /// Bucket width, ms.
    pub width_ms: u64,
    /// The result TTL, ms.
    pub ttl_ms: u64,
}

impl Bucket {
    /// The two keys scripts take for it: the bucket hash, then the index.
    pub(crate) fn keys(&self) -> [&str; 2] {
        [&self.key, &self.index]
    }

    /// The four arguments scripts take for it: keep (0/1), number, width
    /// ms, TTL ms.
    pub(crate) fn args(&self) -> [u64; 4] {
        [
            u64::from(self.keep),
            self.number,
            self.width_ms,
            self.ttl_ms,
        ]
    }
}

/// The width of result buckets for a TTL.
pub(crate) fn bucket_width(ttl: Duration) -> Duration {
    (ttl / 24).clamp(MIN_WIDTH, MAX_WIDTH)
}

/// The bucket `now_ms` (Redis's clock) falls in.
pub(crate) fn bucket_at(keys: &QueueKeys, ttl: Duration, now_ms: u64) -> Bucket {
    let width_ms = millis(bucket_width(ttl));
    let number = now_ms / width_ms;
    Bucket {
        key: keys.result_bucket(number),
        index: keys.result_index.clone(),
        keep: !ttl.is_zero(),
        number,
        width_ms,
        ttl_ms: millis(ttl),
    }
}

impl Client {
    /// The bucket final records of `keys`' queue go to now, by this
    /// client's estimate of Redis's clock.
    pub(crate) fn bucket(&self, keys: &QueueKeys) -> Bucket {
        bucket_at(keys, self.inner.opts.result_ttl, self.redis_now_ms())
    }

    /// The result buckets of a queue that exist, newest first.
    pub(crate) async fn bucket_keys(&self, keys: &QueueKeys) -> BrokerResult<Vec<String>> {
        let numbers = self.bucket_numbers(keys).await?;
        Ok(numbers.into_iter().map(|n| keys.result_bucket(n)).collect())
    }

    /// The queue's result buckets again, when they changed since `seen`.
    /// A lookup lists the buckets before it reads them, so an ack in between
    /// may have put its record in a bucket created since: after a miss, a
    /// lookup looks once more in the buckets this returns.
    pub(crate) async fn buckets_since(
        &self,
        keys: &QueueKeys,
        seen: &[String],
    ) -> BrokerResult<Option<Vec<String>>> {
        let now = self.bucket_keys(keys).await?;
        Ok((now != seen).then_some(now))
    }

    /// The stored final record of a task (only its first line with
    /// `head_only`), if it has one.
    pub(crate) async fn final_record(
        &self,
        id: &crate::task::TaskId,
        head_only: bool,
    ) -> BrokerResult<Option<Vec<u8>>> {
        let keys = self.keys(id.queue())?;
        let buckets = self.bucket_keys(&keys).await?;
        if let found @ Some(_) = self.final_in(id, head_only, &buckets).await? {
            return Ok(found);
        }
        match self.buckets_since(&keys, &buckets).await? {
            Some(now) => self.final_in(id, head_only, &now).await,
            None => Ok(None),
        }
    }

    /// [`Client::final_record`] in the buckets listed.
    async fn final_in(
        &self,
        id: &crate::task::TaskId,
        head_only: bool,
        buckets: &[String],
    ) -> BrokerResult<Option<Vec<u8>>> {
        if buckets.is_empty() {
            return Ok(None);
        }
        let op = format!("final record of task {id}");
        let mut inv = SCRIPTS.final_record.prepare_invoke();
        inv.key(buckets)
            .arg(id.local())
            .arg(if head_only { "1" } else { "0" });
        Reply::of(&op).opt_bytes(self.invoke(&inv, &op).await?)
    }

    /// The numbers of a queue's result buckets that exist, newest first.
    pub(crate) async fn bucket_numbers(&self, keys: &QueueKeys) -> BrokerResult<Vec<u64>> {
        redis::cmd("ZREVRANGE")
            .arg(&keys.result_index)
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(format!("list result buckets of queue {:?}", keys.queue), e))
    }

    /// Deletes result buckets whose every record is older than the TTL by
    /// Redis's clock, among the [`TRIM_BATCH`] oldest; returns how many.
    pub(crate) async fn trim_results(&self, keys: &QueueKeys) -> BrokerResult<u64> {
        let opts = &self.inner.opts;
        let op = format!("trim result buckets of queue {:?}", keys.queue);
        let oldest: Vec<u64> = redis::cmd("ZRANGE")
            .arg(&keys.result_index)
            .arg(0)
            .arg(TRIM_BATCH - 1)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(&op, e))?;
        if oldest.is_empty() {
            return Ok(0);
        }
        // A bucket scored s holds records written before s + width; they
        // expire at s + width + ttl.
        let horizon = millis(bucket_width(opts.result_ttl)) + millis(opts.result_ttl);
        let mut inv = SCRIPTS.trim_results.prepare_invoke();
        inv.key(&keys.result_index);
        for number in &oldest {
            inv.key(keys.result_bucket(*number));
        }
        inv.arg(horizon).arg(&oldest[..]);
        let reply = self.invoke(&inv, &op).await?;
        Reply::of(&op).uint(&reply)
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
        fn the_bucket_holds_the_moment_it_was_picked_for(ttl_s in 0u64..100 * 24 * 3600, now in 0u64..4_000_000_000_000) {
            let keys = QueueKeys::new("ns", "q").unwrap();
            let ttl = Duration::from_secs(ttl_s);
            let b = bucket_at(&keys, ttl, now);
            let width = millis(bucket_width(ttl));
            let start = b.number * width;
            prop_assert!(start <= now && now < start + width);
            prop_assert_eq!(b.args(), [u64::from(ttl_s > 0), b.number, width, ttl_s * 1000]);
            prop_assert_eq!(b.key, keys.result_bucket(b.number));
        }
    }
}
