//! What a producer says about a task: [`TaskSpec`], built with chained
//! setters. Unset options take the broker's (or the host's) defaults, so a
//! producer only states what it cares about.

use super::Priority;
use crate::error::ValidationError;
use serde::Serialize;
use std::time::{Duration, SystemTime};

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

#[cfg(test)]
mod tests {
    use super::*;

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
