//! One GCRA limiter per client, in bounded memory.
//!
//! The HTTP server limits enqueues per bearer token or per client IP, in
//! process: each server enforces its own limit. Clients come and go, so the
//! map is capped at [`MAX_TRACKED_CLIENTS`]. When it is full, limiters that
//! are idle (a full burst available again) are forgotten first, which
//! changes nothing for their clients; if all are busy, the one closest to
//! idle goes, the smallest leniency possible.

use super::{Gcra, Rate};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most clients tracked at once by one [`KeyedLimiter`].
pub const MAX_TRACKED_CLIENTS: usize = 10_000;

/// Per-client limiters sharing one rate and burst.
#[derive(Debug)]
pub struct KeyedLimiter {
    rate: Rate,
    burst: u64,
    cap: usize,
    epoch: Instant,
    clients: Mutex<HashMap<String, Gcra>>,
}

impl KeyedLimiter {
    /// A limiter of `rate` and `burst` per client, tracking at most `cap`
    /// clients (at least 1, at most [`MAX_TRACKED_CLIENTS`]).
    pub fn new(rate: Rate, burst: u64, cap: usize) -> KeyedLimiter {
        KeyedLimiter {
            rate,
            burst,
            cap: cap.clamp(1, MAX_TRACKED_CLIENTS),
            epoch: Instant::now(),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The rate per client.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Takes `n` tasks for `client` now: `Ok` if allowed, else how long
    /// until they would be (all or none: a batch is not half accepted).
    pub fn check(&self, client: &str, n: u64) -> Result<(), Duration> {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.check_at(client, n, now)
    }

    /// [`KeyedLimiter::check`] at a given time (ns since this limiter's start).
    pub fn check_at(&self, client: &str, n: u64, now: u64) -> Result<(), Duration> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if !clients.contains_key(client) && clients.len() >= self.cap {
            clients.retain(|_, g| !g.is_idle(now));
            if clients.len() >= self.cap
                && let Some(victim) = clients
                    .iter()
                    .min_by_key(|(_, g)| g.wait(now))
                    .map(|(k, _)| k.clone())
            {
                clients.remove(&victim);
            }
        }
        let fresh = Gcra::new(self.rate, self.burst);
        let limiter = clients.entry(client.to_owned()).or_insert(fresh);
        let n = n.max(1);
        if n > self.burst {
            // Can never pass at once: refuse, saying when a full burst is back.
            let wait = limiter.wait_for(now, self.burst);
            return Err(Duration::from_nanos(wait).max(Duration::from_millis(1)));
        }
        let mut trial = *limiter;
        if trial.take(now, n).0 == n {
            *limiter = trial;
            return Ok(());
        }
        let wait = limiter.wait_for(now, n);
        Err(Duration::from_nanos(wait).max(Duration::from_millis(1)))
    }

    /// How many clients are tracked now.
    pub fn tracked(&self) -> usize {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
