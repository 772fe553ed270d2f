//! Rate limits and concurrency caps: the pure part.
//!
//! Limits are enforced in two places. Per task type, across all hosts, the
//! lease script (`broker/lua/lease.lua`) runs GCRA on Redis's clock, so the
//! limit holds however many hosts lease; this module only parses, validates
//! and describes those limits ([`QueueLimits`]), so that the CLI, the HTTP
//! API and the manifest accept exactly the same values with the same errors.
//! On enqueue, the HTTP server limits each client in process with the same
//! algorithm ([`Gcra`], [`KeyedLimiter`]); the Rust model is also what the
//! property tests check the algorithm against.
//!
//! Every number is bounded here, at the edge: a rate of 1 to
//! [`MAX_RATE_COUNT`] tasks per second, minute or hour, a burst of 1 to
//! [`MAX_BURST`], a concurrency cap of 1 to [`MAX_CONCURRENCY`].

mod gcra;
mod keyed;

pub use gcra::Gcra;
pub use keyed::{KeyedLimiter, MAX_TRACKED_CLIENTS};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Most tasks per period a rate may allow (so at most 1,000,000/s).
pub const MAX_RATE_COUNT: u64 = 1_000_000;
/// Largest burst: tasks that may start at once after an idle spell.
pub const MAX_BURST: u64 = 100_000;
/// Largest global concurrency cap.
pub const MAX_CONCURRENCY: u64 = 100_000;

/// Why a limit was refused. Every message names the value and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// The rate text is not `<count>/<unit>`.
    #[error(
        "invalid rate {given:?}: {reason}; write a rate as <count>/<unit> with a whole count \
         from 1 to {MAX_RATE_COUNT} and a unit of s, m or h, for example 100/s or 30/m"
    )]
    Rate {
        /// The rejected text.
        given: String,
        /// What exactly is wrong with it.
        reason: String,
    },
    /// A number outside its bounds.
    #[error("invalid {what} {given}: must be a whole number from 1 to {max}")]
    OutOfRange {
        /// `burst` or `concurrency`.
        what: &'static str,
        /// The rejected value.
        given: String,
        /// The largest accepted value.
        max: u64,
    },
    /// A burst without a rate.
    #[error("a burst needs a rate: give --rate (or `rate`) as well, or leave out the burst")]
    BurstWithoutRate,
}

/// The period a rate counts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Period {
    /// Per second (`/s`).
    Second,
    /// Per minute (`/m`).
    Minute,
    /// Per hour (`/h`).
    Hour,
}

impl Period {
    /// Its length in milliseconds.
    pub fn millis(self) -> u64 {
        match self {
            Period::Second => 1_000,
            Period::Minute => 60_000,
            Period::Hour => 3_600_000,
        }
    }

    /// The period of a length in milliseconds, if it is one of the three.
    pub fn from_millis(ms: u64) -> Option<Period> {
        [Period::Second, Period::Minute, Period::Hour]
            .into_iter()
            .find(|p| p.millis() == ms)
    }

    fn suffix(self) -> &'static str {
        match self {
            Period::Second => "s",
            Period::Minute => "m",
            Period::Hour => "h",
        }
    }
}

/// A rate: `count` tasks per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// Tasks per period (1 to [`MAX_RATE_COUNT`]).
    pub count: u64,
    /// The period.
    pub period: Period,
}

impl Rate {
    /// Parses `100/s`, `30/m`, `2/h` (also `/sec`, `/min`, `/hour`).
    pub fn parse(text: &str) -> Result<Rate, LimitError> {
        let bad = |reason: &str| LimitError::Rate {
            given: text.chars().take(40).collect(),
            reason: reason.to_owned(),
        };
        let (count, unit) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("no unit after the count"))?;
        let period = match unit.trim() {
            "s" | "sec" | "second" => Period::Second,
            "m" | "min" | "minute" => Period::Minute,
            "h" | "hour" => Period::Hour,
            "" => return Err(bad("no unit after the '/'")),
            _ => return Err(bad("unknown unit")),
        };
        let count = count.trim().replace('_', "");
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the count is not a whole number"));
        }
        let count: u64 = count.parse().map_err(|_| bad("the count is too large"))?;
        if count == 0 {
            return Err(bad(
                "the count must be at least 1 (to stop a queue, pause it)",
            ));
        }
        if count > MAX_RATE_COUNT {
            return Err(bad("the count is too large"));
        }
        Ok(Rate { count, period })
    }

    /// The interval between two tasks at this rate.
    pub fn interval(self) -> Duration {
        Duration::from_nanos(self.period.millis() * 1_000_000 / self.count)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.period.suffix())
    }
}

/// The limits of one task type, across all hosts. `None` means no limit of
/// that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct QueueLimits {
    /// Most task starts per period.
    pub rate: Option<Rate>,
    /// Starts allowed at once after an idle spell (when unset, what 100 ms
    /// of the rate allows: see [`QueueLimits::effective_burst`]).
    pub burst: Option<u64>,
    /// Most tasks running at once across all hosts.
    pub concurrency: Option<u64>,
}

impl QueueLimits {
    /// Limits from the edge's texts and numbers, all validated.
    pub fn from_parts(
        rate: Option<&str>,
        burst: Option<u64>,
        concurrency: Option<u64>,
    ) -> Result<QueueLimits, LimitError> {
        let limits = QueueLimits {
            rate: rate.map(Rate::parse).transpose()?,
            burst,
            concurrency,
        };
        limits.validate()?;
        Ok(limits)
    }

    /// Checks the bounds (what was built field by field, or read back).
    pub fn validate(&self) -> Result<(), LimitError> {
        if let Some(b) = self.burst {
            if self.rate.is_none() {
                return Err(LimitError::BurstWithoutRate);
            }
            check("burst", b, MAX_BURST)?;
        }
        if let Some(c) = self.concurrency {
            check("concurrency", c, MAX_CONCURRENCY)?;
        }
        if let Some(r) = self.rate
            && !(1..=MAX_RATE_COUNT).contains(&r.count)
        {
            return Err(LimitError::Rate {
                given: r.to_string(),
                reason: "the count is out of range".into(),
            });
        }
        Ok(())
    }

    /// True when nothing is limited.
    pub fn is_unlimited(&self) -> bool {
        self.rate.is_none() && self.concurrency.is_none()
    }

    /// The burst in force: when unset, what 100 ms of the rate allows (at
    /// least 1). A burst of 1 spaces tasks strictly, and then every lease
    /// that comes late (a timer's granularity, a round trip) loses that
    /// time for good: at 50/s, 2 ms late per lease is 10% below the rate.
    /// A burst of 100 ms worth absorbs that lateness, and still never lets
    /// the long-run rate exceed the limit.
    pub fn effective_burst(&self) -> u64 {
        match (self.burst, self.rate) {
            (Some(b), _) => b,
            (None, Some(r)) => default_burst(r),
            (None, None) => 1,
        }
    }
}

impl fmt::Display for QueueLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(r) = self.rate {
            parts.push(format!("rate {r}, burst {}", self.effective_burst()));
        }
        if let Some(c) = self.concurrency {
            parts.push(format!("concurrency {c}"));
        }
        if parts.is_empty() {
            f.write_str("unlimited")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// What 100 ms of `rate` allows, at least 1 and at most [`MAX_BURST`].
pub fn default_burst(rate: Rate) -> u64 {
    (rate.count * 100)
        .div_ceil(rate.period.millis())
        .clamp(1, MAX_BURST)
}

fn check(what: &'static str, value: u64, max: u64) -> Result<(), LimitError> {
    if (1..=max).contains(&value) {
        Ok(())
    } else {
        Err(LimitError::OutOfRange {
            what,
            given: value.to_string(),
            max,
        })
    }
}

#[cfg(test)]
mod tests;
