//! What a producer says about a task: [`TaskSpec`], built with chained
//! setters. Unset options take the broker's (or the host's) defaults, so a
//! producer only states what it cares about.
//!
//! [`TaskSpec::check_options`] holds the one set of bounds every producer
//! (Rust, HTTP, command line) is held to. They exist because the values end
//! up where big numbers break: Redis refuses a `PX` beyond 2^63 ms halfway
//! through a script, and Lua keeps numbers as doubles, exact only up to
//! 2^53, so a delay near 2^63 ms used to wrap and run the task at once.
//! Nothing useful needs more than a year: a task due later belongs in a
//! scheduler, not in a queue.

use super::{Priority, unix_ms};
use crate::error::ValidationError;
use serde::Serialize;
use std::time::{Duration, SystemTime};

/// Furthest ahead a task may be scheduled (`delay`, `run_at`), and longest
/// unique TTL and attempt timeout: 365 days.
pub const MAX_SCHEDULE_AHEAD: Duration = Duration::from_secs(365 * 24 * 3600);

/// Most retries a task may ask for.
pub const MAX_RETRIES: u32 = 1000;

/// Largest fuel budget: 2^53 - 1, the largest integer a Lua number (or a
/// JavaScript client) holds exactly.
pub const MAX_FUEL: u64 = (1 << 53) - 1;

/// When a task becomes ready to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schedule {
    /// Ready immediately.
    #[default]
    Now,
    /// Ready this long after Redis receives the enqueue (Redis's clock).
    Delay(Duration),
    /// Ready at this wall-clock time.
    At(SystemTime),
}

/// Everything a producer says about a task. Build with [`TaskSpec::new`] and
/// the chained setters; unset options take the broker's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    /// The queue, which is also the task type and the plugin name.
    pub queue: String,
    /// The payload bytes (JSON by convention).
    pub payload: Vec<u8>,
    /// The priority within the queue.
    pub priority: Priority,
    /// When the task becomes ready.
    pub schedule: Schedule,
    /// Retries after the first attempt; `None` takes the broker default.
    pub max_retries: Option<u32>,
    /// Wall-clock limit per attempt; `None` leaves it to the host's default.
    pub timeout: Option<Duration>,
    /// Fuel budget per attempt; `None` leaves it to the host's default.
    pub fuel: Option<u64>,
    /// Deduplication key and how long it holds.
    pub unique: Option<(String, Duration)>,
}

impl TaskSpec {
    /// A task for `queue` with raw payload bytes and default options.
    pub fn new(queue: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        Self {
            queue: queue.into(),
            payload: payload.into(),
            priority: Priority::Normal,
            schedule: Schedule::Now,
            max_retries: None,
            timeout: None,
            fuel: None,
            unique: None,
        }
    }

    /// Replaces the payload with `value` serialised as JSON.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self, ValidationError> {
        self.payload = serde_json::to_vec(value).map_err(|e| ValidationError::Json {
            queue: self.queue.clone(),
            message: e.to_string(),
        })?;
        Ok(self)
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Makes the task ready `delay` after Redis receives it.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.schedule = if delay.is_zero() {
            Schedule::Now
        } else {
            Schedule::Delay(delay)
        };
        self
    }

    /// Makes the task ready at `at` (a past time means now).
    pub fn run_at(mut self, at: SystemTime) -> Self {
        self.schedule = Schedule::At(at);
        self
    }

    /// Sets how many times a failed attempt is retried.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = Some(retries);
        self
    }

    /// Sets the wall-clock limit of one attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the fuel budget of one attempt (passed through to the worker).
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }

    /// Deduplicates on `key` for `ttl`: while the key holds, enqueueing
    /// another task with it returns the first task's id instead.
    pub fn unique(mut self, key: impl Into<String>, ttl: Duration) -> Self {
        self.unique = Some((key.into(), ttl));
        self
    }
}

impl TaskSpec {
    /// Checks the scheduling, retry, timeout, fuel and unique-TTL options
    /// against the bounds above, `now` being the producer's clock. The error
    /// names the option and says what to give instead. (The queue name,
    /// payload size and unique key are checked by the broker, which knows
    /// its payload limit.)
    pub fn check_options(&self, now: SystemTime) -> Result<(), ValidationError> {
        let bad = |field: &'static str, reason: String| ValidationError::TaskOption {
            queue: self.queue.clone(),
            field,
            reason,
        };
        let too_long = |field: &'static str, d: Duration, advice: &str| {
            bad(
                field,
                format!(
                    "is {} ms (about {} days), above the limit of 365 days; {advice}",
                    d.as_millis(),
                    d.as_secs() / (24 * 3600)
                ),
            )
        };
        match self.schedule {
            Schedule::Delay(d) if d > MAX_SCHEDULE_AHEAD => {
                return Err(too_long(
                    "delay",
                    d,
                    "schedule at most a year ahead and enqueue later for longer waits",
                ));
            }
            Schedule::At(at) => {
                let latest = now + MAX_SCHEDULE_AHEAD;
                if at > latest {
                    return Err(bad(
                        "run_at",
                        format!(
                            "is {} ms since the Unix epoch, more than 365 days from now; give \
                             a time no later than {} (enqueue later for later runs)",
                            unix_ms(at),
                            humantime::format_rfc3339_seconds(latest)
                        ),
                    ));
                }
            }
            _ => {}
        }
        if let Some((_, ttl)) = &self.unique {
            if *ttl < Duration::from_millis(1) {
                return Err(bad(
                    "unique_ttl",
                    "is below 1 ms; give at least 1 ms".into(),
                ));
            }
            if *ttl > MAX_SCHEDULE_AHEAD {
                return Err(too_long("unique_ttl", *ttl, "give a shorter TTL"));
            }
        }
        if let Some(timeout) = self.timeout {
            if timeout < Duration::from_millis(1) {
                return Err(bad(
                    "timeout",
                    "is below 1 ms; give at least 1 ms, or leave it unset for the host's \
                     default"
                        .into(),
                ));
            }
            if timeout > MAX_SCHEDULE_AHEAD {
                return Err(too_long("timeout", timeout, "give a shorter timeout"));
            }
        }
        match self.fuel {
            Some(0) => {
                return Err(bad(
                    "fuel",
                    "is 0; give at least 1, or leave it unset for the host's default".into(),
                ));
            }
            Some(fuel) if fuel > MAX_FUEL => {
                return Err(bad(
                    "fuel",
                    format!("is {fuel}, above the limit of {MAX_FUEL} (2^53 - 1)"),
                ));
            }
            _ => {}
        }
        if let Some(retries) = self.max_retries.filter(|r| *r > MAX_RETRIES) {
            return Err(bad(
                "max_retries",
                format!("is {retries}, above the limit of {MAX_RETRIES}"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW_S: u64 = 1_800_000_000;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_S)
    }

    fn field_of(spec: &TaskSpec) -> Option<&'static str> {
        match spec.check_options(now()) {
            Ok(()) => None,
            Err(ValidationError::TaskOption { field, .. }) => Some(field),
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn delays_are_bounded_to_a_year() {
        let spec = |d| TaskSpec::new("q", vec![]).delay(d);
        assert_eq!(field_of(&spec(MAX_SCHEDULE_AHEAD)), None);
        assert_eq!(
            field_of(&spec(MAX_SCHEDULE_AHEAD + Duration::from_millis(1))),
            Some("delay")
        );
        // About 2^63 ms: used to overflow the Lua script and run at once.
        let err = spec(Duration::from_millis(1 << 63))
            .check_options(now())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`delay`") && err.contains("\"q\"") && err.contains("365 days"),
            "{err}"
        );
    }

    #[test]
    fn run_at_is_bounded_to_a_year() {
        let spec = |t| TaskSpec::new("q", vec![]).run_at(t);
        assert_eq!(field_of(&spec(now() + MAX_SCHEDULE_AHEAD)), None);
        assert_eq!(field_of(&spec(SystemTime::UNIX_EPOCH)), None, "past is now");
        let err = spec(now() + MAX_SCHEDULE_AHEAD + Duration::from_secs(1))
            .check_options(now())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`run_at`") && err.contains("2028-01-15"),
            "{err}"
        );
    }

    #[test]
    fn every_option_is_bounded() {
        let base = || TaskSpec::new("q", vec![]);
        let year = MAX_SCHEDULE_AHEAD;
        let ms = Duration::from_millis(1);
        let cases = [
            (base().unique("k", Duration::ZERO), Some("unique_ttl")),
            (
                base().unique("k", Duration::from_millis(u64::MAX)),
                Some("unique_ttl"),
            ),
            (base().unique("k", year), None),
            (base().timeout(Duration::from_micros(999)), Some("timeout")),
            (base().timeout(year + ms), Some("timeout")),
            (base().timeout(ms), None),
            (base().fuel(0), Some("fuel")),
            (base().fuel(MAX_FUEL + 1), Some("fuel")),
            (base().fuel(MAX_FUEL), None),
            (base().max_retries(MAX_RETRIES + 1), Some("max_retries")),
            (base().max_retries(MAX_RETRIES), None),
        ];
        for (spec, expected) in cases {
            assert_eq!(field_of(&spec), expected, "{spec:?}");
        }
    }

    proptest! {
        /// Whatever passes the check fits the scripts' exact number range.
        #[test]
        fn accepted_options_fit_in_a_lua_double(
            delay_ms in any::<u64>(), ttl_ms in any::<u64>(), timeout_ms in any::<u64>(),
            fuel in any::<u64>(), at_ms in any::<u64>(),
        ) {
            let lua_exact = 1u64 << 53;
            let spec = TaskSpec::new("q", vec![])
                .delay(Duration::from_millis(delay_ms))
                .unique("k", Duration::from_millis(ttl_ms))
                .timeout(Duration::from_millis(timeout_ms))
                .fuel(fuel);
            if spec.check_options(now()).is_ok() {
                prop_assert!(delay_ms < lua_exact && ttl_ms < lua_exact);
                prop_assert!(timeout_ms < lua_exact && fuel < lua_exact);
            }
            let at = SystemTime::UNIX_EPOCH + Duration::from_millis(at_ms);
            if TaskSpec::new("q", vec![]).run_at(at).check_options(now()).is_ok() {
                prop_assert!(at_ms < lua_exact);
            }
        }
    }

    #[test]
    fn json_payload() {
        let spec = TaskSpec::new("email", vec![])
            .json(&serde_json::json!({"to": "a@b.c"}))
            .unwrap()
            .delay(Duration::ZERO);
        assert_eq!(spec.payload, br#"{"to":"a@b.c"}"#);
        assert_eq!(spec.schedule, Schedule::Now);
    }
}
