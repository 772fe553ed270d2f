//! Retry backoff: exponential with full jitter.
//!
//! After the n-th failed attempt a task waits a uniformly random time between
//! zero and `min(cap, base * 2^(n-1))`. The jitter spreads a burst of failures
//! (say, a downstream outage that failed a thousand tasks at once) over the
//! whole window instead of retrying them in lockstep; the cap keeps the wait
//! bounded. A plugin that knows better (a `retry-after-ms` from a rate-limited
//! API) overrides the computed delay.
//!
//! The function is pure: the caller passes the random source, so tests can
//! seed it and the worker can use a fast thread-local one.

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The longest delay wasmq ever waits, whatever a plugin asks: 30 days.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30 * 24 * 3600);

/// How failed attempts are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Upper bound of the first retry's delay.
    #[serde(with = "serde_ms")]
    pub base: Duration,
    /// The delay never exceeds this (unless a plugin's retry-after asks for more).
    #[serde(with = "serde_ms")]
    pub cap: Duration,
    /// Retries after the first attempt for tasks that do not set their own.
    pub max_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(600),
            max_retries: 3,
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the delay after failed attempt number `attempt`
    /// (1 for the first attempt): `min(cap, base * 2^(attempt-1))`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(63);
        let factor = 1u128 << doublings;
        let ceiling_ms = self.base.as_millis().saturating_mul(factor);
        let cap_ms = self.cap.as_millis();
        Duration::from_millis(u64::try_from(ceiling_ms.min(cap_ms)).unwrap_or(u64::MAX))
    }

    /// The delay before retrying after failed attempt number `attempt`.
    ///
    /// `retry_after` (a plugin's own estimate) wins over the computed backoff,
    /// bounded only by `MAX_RETRY_DELAY`. Otherwise the delay is uniform in
    /// `[0, ceiling(attempt)]`, with millisecond resolution.
    pub fn backoff<R: Rng + ?Sized>(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut R,
    ) -> Duration {
        if let Some(after) = retry_after {
            return after.min(MAX_RETRY_DELAY);
        }
        let ceiling_ms = u64::try_from(self.ceiling(attempt).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rng.random_range(0..=ceiling_ms))
    }
}

/// Serialises durations as whole milliseconds, so configs and the JSON API
/// agree on one unit.
mod serde_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn policy() -> impl Strategy<Value = RetryPolicy> {
        (1u64..10_000, 1u64..10_000_000, 0u32..20).prop_map(|(base, cap, max_retries)| {
            RetryPolicy {
                base: Duration::from_millis(base),
                cap: Duration::from_millis(cap),
                max_retries,
            }
        })
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
            max_retries: 5,
        };
        let ms: Vec<u128> = (1..=6).map(|a| p.ceiling(a).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_millis(1000));
    }

    proptest! {
        #[test]
        fn never_exceeds_cap(p in policy(), attempt in 0u32..200, seed in any::<u64>()) {
            let mut rng = StdRng::seed_from_u64(seed);
            let d = p.backoff(attempt, None, &mut rng);
            prop_assert!(d <= p.cap);
            prop_assert!(d <= p.ceiling(attempt));
        }

        #[test]
        fn ceiling_grows_with_attempts(p in policy(), attempt in 1u32..200) {
            prop_assert!(p.ceiling(attempt) <= p.ceiling(attempt + 1));
            if p.ceiling(attempt) < p.cap {
                prop_assert!(p.ceiling(attempt + 1) > p.ceiling(attempt));
            }
        }

        #[test]
        fn deterministic_with_a_seed(p in policy(), attempt in 1u32..50, seed in any::<u64>()) {
            let a = p.backoff(attempt, None, &mut StdRng::seed_from_u64(seed));
            let b = p.backoff(attempt, None, &mut StdRng::seed_from_u64(seed));
            prop_assert_eq!(a, b);
        }

        #[test]
        fn retry_after_wins(p in policy(), attempt in 1u32..50, after in 0u64..u64::MAX) {
            let after = Duration::from_millis(after);
            let d = p.backoff(attempt, Some(after), &mut rand::rng());
            prop_assert_eq!(d, after.min(MAX_RETRY_DELAY));
        }
    }

    #[test]
    fn jitter_spreads_over_the_window() {
        let p = RetryPolicy {
            base: Duration::from_millis(1000),
            cap: Duration::from_secs(60),
            max_retries: 3,
        };
        let mut rng = StdRng::seed_from_u64(7);
        let samples: Vec<Duration> = (0..1000).map(|_| p.backoff(3, None, &mut rng)).collect();
        let low = samples
            .iter()
            .filter(|d| **d < Duration::from_millis(2000))
            .count();
        // Uniform on [0, 4000] ms: about half fall below 2000 ms.
        assert!(
            (350..650).contains(&low),
            "{low} of 1000 below the midpoint"
        );
    }
}
