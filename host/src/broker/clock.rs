//! Redis's clock, as a host estimates it without a round trip.
//!
//! The scripts take every time they store from Redis's `TIME`, so hosts with
//! skewed clocks agree. One choice cannot be made inside a script: which
//! result bucket (`res:<n>`, see `results.rs`) an ack writes to. The bucket
//! is a key, every key a script touches must be declared in `KEYS` (Redis
//! Cluster routes the call by them), so the host names the bucket before the
//! script runs, and it needs Redis's time to do so.
//!
//! The client therefore keeps the offset between Redis's clock and its own:
//! at connect it sends `TIME` and takes Redis's answer as the time at the
//! midpoint of the round trip (off by at most half of it), then refreshes
//! the offset in the background every [`RESYNC_EVERY`]. Between refreshes the
//! estimate follows the host's clock, so it is off only by what that clock
//! drifted or was stepped since, and the scripts check the bucket against
//! their own `TIME` anyway (`touch_bucket` in `prelude.lua`): a wrong guess
//! can only make a bucket live longer, never drop a record early.
//!
//! On Cluster the offset comes from the node that answers `TIME`; nodes are
//! expected to keep their clocks in step (NTP), and the scripts' check covers
//! what they do not.

use super::client::Client;
use super::error::BrokerResult;
use crate::task::unix_ms;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tracing::debug;

/// How often a client refreshes its estimate of Redis's clock.
pub(crate) const RESYNC_EVERY: Duration = Duration::from_secs(60);

/// A client's estimate of Redis's clock.
#[derive(Debug, Default)]
pub(crate) struct RedisClock {
    /// Added to the host's clock; non-zero only in tests that play a host
    /// whose clock is off.
    host_skew_ms: AtomicI64,
    /// Redis's clock minus the host's, in ms.
    offset_ms: AtomicI64,
    /// When the last refresh started; `None` before the first.
    last_sync: Mutex<Option<Instant>>,
}

impl RedisClock {
    /// A clock for a host whose clock is `host_skew_ms` off.
    pub(crate) fn new(host_skew_ms: i64) -> Self {
        RedisClock {
            host_skew_ms: AtomicI64::new(host_skew_ms),
            ..RedisClock::default()
        }
    }

    /// The host's clock, ms since the Unix epoch.
    pub(crate) fn host_ms(&self) -> u64 {
        let skew = self.host_skew_ms.load(Ordering::Relaxed);
        (unix_ms(SystemTime::now()) as i64)
            .saturating_add(skew)
            .max(0) as u64
    }

    /// How far this host's clock is set off (tests only; 0 otherwise).
    pub(crate) fn skew_ms(&self) -> i64 {
        self.host_skew_ms.load(Ordering::Relaxed)
    }

    /// Redis's clock as estimated now, ms since the Unix epoch.
    pub(crate) fn now_ms(&self) -> u64 {
        let offset = self.offset_ms.load(Ordering::Relaxed);
        (self.host_ms() as i64).saturating_add(offset).max(0) as u64
    }

    /// Moves the host's clock by `ms` without refreshing the estimate.
    fn step(&self, ms: i64) {
        self.host_skew_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// True when a refresh is due; the caller then makes it (so concurrent
    /// callers start one refresh, not one each).
    fn claim_sync(&self) -> bool {
        let mut last = self.last_sync.lock().unwrap_or_else(|p| p.into_inner());
        match *last {
            Some(at) if at.elapsed() < RESYNC_EVERY => false,
            _ => {
                *last = Some(Instant::now());
                true
            }
        }
    }
}

/// Redis's clock minus the host's, from one `TIME` round trip: Redis read
/// `redis_ms` somewhere between `sent_ms` and `received_ms` (host clock);
/// the midpoint is off by at most half the round trip.
pub(crate) fn offset_ms(sent_ms: u64, received_ms: u64, redis_ms: u64) -> i64 {
    let midpoint = (i128::from(sent_ms) + i128::from(received_ms)) / 2;
    let offset = i128::from(redis_ms) - midpoint;
    offset.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

impl Client {
    /// Redis's clock (ms since the Unix epoch) as this client estimates it;
    /// starts a refresh in the background when the estimate is older than
    /// [`RESYNC_EVERY`].
    pub(crate) fn redis_now_ms(&self) -> u64 {
        let clock = &self.inner.clock;
        if clock.claim_sync()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let client = self.clone();
            runtime.spawn(async move {
                if let Err(e) = client.sync_clock().await {
                    debug!(error = %e, "cannot read Redis's clock; keeping the last estimate");
                }
            });
        }
        clock.now_ms()
    }

    /// Reads Redis's clock (`TIME`) and updates the estimate.
    pub(crate) async fn sync_clock(&self) -> BrokerResult<()> {
        let clock = &self.inner.clock;
        clock.claim_sync();
        let sent = clock.host_ms();
        let (secs, micros): (u64, u64) = redis::cmd("TIME")
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail("read Redis's clock (TIME)", e))?;
        let received = clock.host_ms();
        let redis_ms = secs.saturating_mul(1000).saturating_add(micros / 1000);
        clock
            .offset_ms
            .store(offset_ms(sent, received, redis_ms), Ordering::Relaxed);
        Ok(())
    }

    /// Steps this client's idea of the host's clock by `ms`, as an NTP step
    /// would, leaving its estimate of Redis's clock stale until the next
    /// refresh. Only for tests of what a host clock can and cannot break.
    #[doc(hidden)]
    pub fn step_host_clock(&self, ms: i64) {
        self.inner.clock.step(ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_fresh_clock_claims_one_sync() {
        let clock = RedisClock::new(0);
        assert!(clock.claim_sync());
        assert!(!clock.claim_sync(), "the next refresh waits RESYNC_EVERY");
    }

    proptest! {
        #[test]
        fn the_estimate_is_off_by_at_most_half_the_round_trip(
            host_start in 0u64..4_000_000_000_000,
            skew in -100_000_000_000i64..100_000_000_000,
            before in 0u64..10_000,
            after in 0u64..10_000,
            later in 0u64..1_000_000,
        ) {
            // Redis answers `before` ms after the host sent TIME and the
            // answer arrives `after` ms later; Redis's clock is `skew` ahead.
            let sent = host_start;
            let redis = (sent + before) as i64 + skew;
            prop_assume!(redis >= 0);
            let received = sent + before + after;
            let offset = offset_ms(sent, received, redis as u64);
            // Any later moment, by the host's clock and by Redis's.
            let host_then = (received + later) as i64;
            let redis_then = (received + later) as i64 + skew;
            let error = (host_then + offset - redis_then).abs();
            prop_assert!(error <= (before + after).div_ceil(2) as i64, "error {error}");
        }
    }
}
