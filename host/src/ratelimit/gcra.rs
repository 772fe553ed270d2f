//! GCRA (the generic cell rate algorithm), in Rust.
//!
//! The same algorithm as the lease script's, kept as a model: a limiter
//! holds one number, the theoretical arrival time (TAT) of the next task.
//! A task may start at `now` when `TAT - now <= (burst - 1) × interval`;
//! each start pushes TAT one interval on. Idle time lets TAT fall behind
//! `now`, which is clamped, so at most `burst` tasks go at once. One number
//! per limiter is what makes it cheap in Redis (one STRING per queue).

use super::Rate;

/// One GCRA limiter. Times are nanoseconds on any monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    interval: u64,
    burst: u64,
    tat: u64,
}

impl Gcra {
    /// A limiter of `rate` that lets `burst` (at least 1) tasks go at once.
    pub fn new(rate: Rate, burst: u64) -> Gcra {
        let interval = (rate.period.millis() * 1_000_000 / rate.count).max(1);
        Gcra {
            interval,
            burst: burst.max(1),
            tat: 0,
        }
    }

    /// The interval between tasks, in nanoseconds.
    pub fn interval_ns(&self) -> u64 {
        self.interval
    }

    /// How many of `want` tasks may start at `now`; takes them. The second
    /// value is how long until the next task may start, when none is left.
    pub fn take(&mut self, now: u64, want: u64) -> (u64, Option<u64>) {
        let tat = self.tat.max(now);
        let window = now.saturating_add(self.burst * self.interval);
        let allowed = window.saturating_sub(tat) / self.interval;
        let granted = want.min(allowed);
        self.tat = tat + granted * self.interval;
        if granted < allowed {
            return (granted, None);
        }
        (granted, Some(self.wait(now)))
    }

    /// Nanoseconds from `now` until one more task may start (0 if one may).
    pub fn wait(&self, now: u64) -> u64 {
        self.wait_for(now, 1)
    }

    /// Nanoseconds from `now` until `n` (at most the burst) tasks may start
    /// at once.
    pub fn wait_for(&self, now: u64, n: u64) -> u64 {
        let n = n.clamp(1, self.burst);
        let next = self.tat.saturating_sub((self.burst - n) * self.interval);
        next.saturating_sub(now)
    }

    /// True when the limiter is back to its idle state at `now` (a full
    /// burst is available): forgetting it then changes nothing.
    pub fn is_idle(&self, now: u64) -> bool {
        self.tat <= now
    }
}
