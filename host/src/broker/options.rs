//! Broker settings and their defaults.
//!
//! Every host and producer of one deployment should use the same namespace,
//! lease duration and result TTL; the other settings are local choices.

use crate::error::{ValidationError, validate_namespace};
use crate::task::RetryPolicy;
use std::time::Duration;

/// Largest number of tasks one lease, ack or extend call may carry: keeps
/// each Lua script call short, since Redis runs nothing else meanwhile.
pub const MAX_BATCH: usize = 1000;

/// Largest argument size of one batched settlement call (8 MiB). Redis
/// closes a connection whose query buffer outgrows its limit, so a batch of
/// large outputs is cut into calls of at most this many bytes (a single
/// larger task goes alone).
pub const MAX_CALL_BYTES: usize = 8 << 20;

/// Cuts items of the given sizes, in order, into consecutive ranges of at
/// most `max_count` items and at most `max_bytes` bytes each; an item larger
/// than `max_bytes` gets a range of its own.
pub(crate) fn split_calls(
    sizes: impl IntoIterator<Item = usize>,
    max_count: usize,
    max_bytes: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let (mut start, mut bytes) = (0, 0usize);
    let mut end = 0;
    for size in sizes {
        let full = end - start >= max_count || (end > start && bytes + size > max_bytes);
        if full {
            ranges.push(start..end);
            (start, bytes) = (end, 0);
        }
        bytes += size;
        end += 1;
    }
    if end > start {
        ranges.push(start..end);
    }
    ranges
}

/// How the broker behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerOptions {
    /// Prefix of every key (default `wasmq`).
    pub namespace: String,
    /// How long a lease lasts before the reaper takes the task back
    /// (default 30 s). Workers extend the leases of longer tasks.
    pub lease_duration: Duration,
    /// How long completed (and cancelled) tasks keep a final record with
    /// their result (default 24 h; records live up to 1/24 of it longer, see
    /// the result buckets in `docs/keys.md`). Zero keeps none: after
    /// completion, status and result lookups then say "not found".
    pub result_ttl: Duration,
    /// Most tasks kept in a queue's dead-letter set (default 10 000).
    pub dead_max_count: u64,
    /// Oldest dead task kept (default 7 days).
    pub dead_max_age: Duration,
    /// Largest payload accepted at enqueue (default 1 MiB).
    pub max_payload_bytes: usize,
    /// Backoff and the default number of retries.
    pub retry: RetryPolicy,
    /// How long one Redis command may take before it fails (default 10 s).
    pub response_timeout: Duration,
    /// Tasks per enqueue script call in batch enqueues (default 500).
    pub enqueue_chunk: usize,
    /// How long per-minute throughput buckets are kept (default 24 h).
    pub throughput_retention: Duration,
    /// Announce completed tasks on `<ns>:done`, one message per ack call
    /// (default true; see [`crate::Client::completion_subscription`]). On
    /// Cluster every PUBLISH crosses the cluster bus, so turn it off there if
    /// nobody listens.
    pub publish_completions: bool,
    /// Seal payloads, outputs and errors at rest, and open them (see
    /// [`crate::crypto`]); `None` (the default) stores them in clear and
    /// shows sealed ones as `encrypted`.
    pub encryption: Option<crate::crypto::Encryption>,
    /// Make enqueues durable against a failover: an enqueue returns only
    /// once this many replicas have its writes (Redis `WAIT`), and fails
    /// with [`crate::broker::BrokerError::NotReplicated`] (naming the ids,
    /// which the master did accept) when they do not confirm within
    /// `durable_timeout`. 0 (the default) returns as soon as the master has
    /// them; see `docs/scaling.md` for what a failover can lose then.
    pub durable_replicas: u32,
    /// How long a durable enqueue waits for its replicas (default 2 s).
    pub durable_timeout: Duration,
}

/// Most replicas a durable enqueue may wait for.
pub const MAX_DURABLE_REPLICAS: u32 = crate::config::MAX_DURABLE_REPLICAS;

/// Longest a durable enqueue may wait for its replicas.
pub const MAX_DURABLE_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for BrokerOptions {
    fn default() -> Self {
        Self {
            namespace: "wasmq".into(),
            lease_duration: Duration::from_secs(30),
            result_ttl: Duration::from_secs(24 * 3600),
            dead_max_count: 10_000,
            dead_max_age: Duration::from_secs(7 * 24 * 3600),
            max_payload_bytes: 1024 * 1024,
            retry: RetryPolicy::default(),
            response_timeout: Duration::from_secs(10),
            enqueue_chunk: 500,
            throughput_retention: Duration::from_secs(24 * 3600),
            publish_completions: true,
            encryption: None,
            durable_replicas: 0,
            durable_timeout: Duration::from_secs(2),
        }
    }
}

impl BrokerOptions {
    /// Checks the settings, naming the first one that is out of range.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_namespace(&self.namespace)?;
        let range = |what: &str, reason: String| ValidationError::OutOfRange {
            what: format!("broker option `{what}`"),
            reason,
        };
        if self.lease_duration < Duration::from_millis(10) {
            return Err(range(
                "lease_duration",
                format!("{:?} is below the minimum of 10 ms", self.lease_duration),
            ));
        }
        if self.dead_max_count == 0 {
            return Err(range("dead_max_count", "must be at least 1".into()));
        }
        if self.dead_max_age.is_zero() {
            return Err(range("dead_max_age", "must be above zero".into()));
        }
        if self.max_payload_bytes == 0 || self.max_payload_bytes > 512 * 1024 * 1024 {
            return Err(range(
                "max_payload_bytes",
                format!("{} is not in 1..=512 MiB", self.max_payload_bytes),
            ));
        }
        if !(1..=MAX_BATCH).contains(&self.enqueue_chunk) {
            return Err(range(
                "enqueue_chunk",
                format!("{} is not in 1..={MAX_BATCH}", self.enqueue_chunk),
            ));
        }
        if self.durable_replicas > MAX_DURABLE_REPLICAS {
            return Err(range(
                "durable_replicas",
                format!(
                    "{} is above the maximum of {MAX_DURABLE_REPLICAS}",
                    self.durable_replicas
                ),
            ));
        }
        if self.durable_timeout < Duration::from_millis(1)
            || self.durable_timeout > MAX_DURABLE_TIMEOUT
        {
            return Err(range(
                "durable_timeout",
                format!(
                    "{:?} is not between 1 ms and {MAX_DURABLE_TIMEOUT:?}",
                    self.durable_timeout
                ),
            ));
        }
        if self.throughput_retention < Duration::from_secs(60) {
            return Err(range(
                "throughput_retention",
                "must be at least one minute".into(),
            ));
        }
        if self.retry.base.is_zero() || self.retry.cap < self.retry.base {
            return Err(range(
                "retry",
                format!(
                    "base {:?} must be above zero and at most cap {:?}",
                    self.retry.base, self.retry.cap
                ),
            ));
        }
        Ok(())
    }

    /// The dead-set age bound in ms.
    pub(crate) fn dead_max_age_ms(&self) -> u64 {
        millis(self.dead_max_age).max(1)
    }
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn settlement_calls_are_cut_by_count_and_bytes(
            sizes in proptest::collection::vec(0usize..3000, 0..300),
            max_count in 1usize..50,
            max_bytes in 1usize..10_000,
        ) {
            let ranges = split_calls(sizes.iter().copied(), max_count, max_bytes);
            // Consecutive, in order, covering every item once.
            let mut next = 0;
            for r in &ranges {
                proptest::prop_assert_eq!(r.start, next);
                proptest::prop_assert!(r.end > r.start);
                proptest::prop_assert!(r.len() <= max_count);
                let bytes: usize = sizes[r.clone()].iter().sum();
                proptest::prop_assert!(bytes <= max_bytes || r.len() == 1);
                next = r.end;
            }
            proptest::prop_assert_eq!(next, sizes.len());
        }
    }

    #[test]
    fn a_batch_of_large_outputs_is_cut_into_calls_redis_accepts() {
        let sizes = vec![3 << 20; 10];
        let ranges = split_calls(sizes, MAX_BATCH, MAX_CALL_BYTES);
        assert_eq!(ranges, vec![0..2, 2..4, 4..6, 6..8, 8..10]);
        assert_eq!(
            split_calls(vec![64; 2500], MAX_BATCH, MAX_CALL_BYTES).len(),
            3
        );
        assert_eq!(
            split_calls([20 << 20, 1], MAX_BATCH, MAX_CALL_BYTES),
            vec![0..1, 1..2]
        );
    }

    #[test]
    fn defaults_are_valid() {
        BrokerOptions::default().validate().unwrap();
    }

    #[test]
    fn errors_name_the_option() {
        let opts = BrokerOptions {
            enqueue_chunk: 0,
            ..Default::default()
        };
        let err = opts.validate().unwrap_err().to_string();
        assert!(err.contains("enqueue_chunk"), "{err}");
        let opts = BrokerOptions {
            namespace: "a b".into(),
            ..Default::default()
        };
        assert!(
            opts.validate()
                .unwrap_err()
                .to_string()
                .contains("namespace")
        );
    }
}
