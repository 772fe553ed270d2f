//! Tasks as producers and consumers see them: ids, priorities, states, the
//! options a producer picks ([`TaskSpec`]), the compact record stored in Redis
//! ([`TaskRecord`]) and the retry backoff ([`RetryPolicy`]).
//!
//! This module is a leaf: it knows nothing of Redis or wasm. The broker stores
//! what [`TaskRecord::encode`] produces and the worker reads what
//! [`TaskRecord::decode`] returns, so the format is defined (and
//! property-tested) in exactly one place.
//!
//! A task id is `<queue>:<local id>`. The queue part lets any lookup by id find
//! the queue's keys (and so its Redis Cluster hash tag) without an index; the
//! local part is a short base-36 sequence number, which keeps the per-task
//! memory in Redis small.

mod child;
mod flow;
mod record;
mod retry;
mod spec;

pub use child::{ChildOptions, ChildSpec, DEFAULT_MAX_CHILDREN, MAX_CHILDREN, child_local_id};
pub use flow::{ChildResult, ChildState, FLOW_PREFIX, MAX_FLOW_RESULT_BYTES};
pub use record::{RecordError, TaskRecord};
pub use retry::RetryPolicy;
pub use spec::{MAX_FUEL, MAX_RETRIES, MAX_SCHEDULE_AHEAD, Schedule, TaskSpec};

use crate::error::{ValidationError, is_name_char, validate_queue_name};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

/// Longest accepted local id (the part after `queue:`), in bytes.
const MAX_LOCAL_ID_LEN: usize = 64;

/// Priority of a task within its queue. Higher priorities are always leased
/// first; within a priority, tasks leave in the order they were enqueued.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Leased before everything else.
    High,
    /// The default.
    #[default]
    Normal,
    /// Leased only when nothing of higher priority waits.
    Low,
}

impl Priority {
    /// All priorities, highest first.
    pub const ALL: [Priority; 3] = [Priority::High, Priority::Normal, Priority::Low];

    /// The level stored in Redis: 0 for high, 1 for normal, 2 for low.
    pub fn level(self) -> u8 {
        match self {
            Priority::High => 0,
            Priority::Normal => 1,
            Priority::Low => 2,
        }
    }

    /// The priority of a stored level, if it is one.
    pub fn from_level(level: u8) -> Option<Self> {
        Self::ALL.get(usize::from(level)).copied()
    }

    /// The lowercase name (`high`, `normal`, `low`).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "high" | "0" => Ok(Priority::High),
            "normal" | "1" => Ok(Priority::Normal),
            "low" | "2" => Ok(Priority::Low),
            _ => Err(ValidationError::Priority {
                given: s.to_owned(),
            }),
        }
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskState {
    /// A flow parent waiting for its flow dependencies to settle.
    Waiting,
    /// Waiting for its run-at time.
    Scheduled,
    /// Ready to be leased.
    Pending,
    /// Leased by a host and running.
    Active,
    /// Failed, waiting for its backoff to pass.
    RetryWait,
    /// Finished successfully.
    Completed,
    /// Failed for good; kept in the dead-letter set.
    Dead,
    /// Cancelled before it finished.
    Cancelled,
}

impl TaskState {
    /// The name used in APIs and in Redis (`retry-wait` for [`TaskState::RetryWait`]).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Waiting => "waiting",
            TaskState::Scheduled => "scheduled",
            TaskState::Pending => "pending",
            TaskState::Active => "active",
            TaskState::RetryWait => "retry-wait",
            TaskState::Completed => "completed",
            TaskState::Dead => "dead",
            TaskState::Cancelled => "cancelled",
        }
    }

    /// True for states a task never leaves on its own.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Dead | TaskState::Cancelled
        )
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskState {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            TaskState::Waiting,
            TaskState::Scheduled,
            TaskState::Pending,
            TaskState::Active,
            TaskState::RetryWait,
            TaskState::Completed,
            TaskState::Dead,
            TaskState::Cancelled,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
        .ok_or_else(|| ValidationError::State {
            given: s.to_owned(),
        })
    }
}

/// The id of a task: its queue plus a short id local to that queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    queue: String,
    local: String,
}

impl TaskId {
    /// Builds an id from a queue and a local id, validating both.
    pub fn new(queue: &str, local: &str) -> Result<Self, ValidationError> {
        let id = format!("{queue}:{local}");
        validate_queue_name(queue).map_err(|e| ValidationError::TaskId {
            id: id.clone(),
            reason: e.to_string(),
        })?;
        let bad = |reason: &str| ValidationError::TaskId {
            id: id.clone(),
            reason: reason.to_owned(),
        };
        if local.is_empty() {
            return Err(bad("the local id after ':' is empty"));
        }
        if local.len() > MAX_LOCAL_ID_LEN {
            return Err(bad("the local id after ':' is longer than 64 bytes"));
        }
        if !local.chars().all(is_name_char) {
            return Err(bad(
                "the local id after ':' may only use A-Z, a-z, 0-9, '_', '.' and '-'",
            ));
        }
        Ok(Self::from_parts(queue, local))
    }

    /// Builds an id from parts read back from Redis, without validation: a
    /// foreign member found in a queue key must still be reportable.
    pub(crate) fn from_parts(queue: &str, local: &str) -> Self {
        Self {
            queue: queue.to_owned(),
            local: local.to_owned(),
        }
    }

    /// The queue (task type) the task belongs to.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The id within the queue, as stored in the queue's keys.
    pub fn local(&self) -> &str {
        &self.local
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.queue, self.local)
    }
}

impl FromStr for TaskId {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (queue, local) = s.split_once(':').ok_or_else(|| ValidationError::TaskId {
            id: s.to_owned(),
            reason: "it has no ':' between the queue and the local id".into(),
        })?;
        Self::new(queue, local)
    }
}

impl Serialize for TaskId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TaskId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Milliseconds since the Unix epoch of `t` (0 before the epoch).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn priority_parse_and_levels() {
        assert_eq!("HIGH".parse::<Priority>().unwrap(), Priority::High);
        assert_eq!("2".parse::<Priority>().unwrap(), Priority::Low);
        let err = "urgent".parse::<Priority>().unwrap_err().to_string();
        assert!(err.contains("urgent") && err.contains("high"), "{err}");
        for p in Priority::ALL {
            assert_eq!(Priority::from_level(p.level()), Some(p));
        }
        assert_eq!(Priority::from_level(3), None);
    }

    #[test]
    fn task_id_errors_say_what_is_wrong() {
        let err = "email".parse::<TaskId>().unwrap_err().to_string();
        assert!(err.contains("no ':'"), "{err}");
        let err = "em ail:1".parse::<TaskId>().unwrap_err().to_string();
        assert!(err.contains("' '"), "{err}");
        assert!("email:".parse::<TaskId>().is_err());
        assert!("email:a b".parse::<TaskId>().is_err());
    }

    #[test]
    fn states_round_trip() {
        for s in [
            "waiting",
            "scheduled",
            "pending",
            "active",
            "retry-wait",
            "completed",
            "dead",
            "cancelled",
        ] {
            let state = s.parse::<TaskState>().unwrap();
            assert_eq!(state.as_str(), s);
            assert_eq!(state.to_string(), s);
        }
        assert!(!TaskState::Waiting.is_final());
        let err = "running".parse::<TaskState>().unwrap_err().to_string();
        assert!(err.contains("running") && err.contains("waiting"), "{err}");
    }

    proptest! {
        #[test]
        fn task_id_round_trips(queue in "[A-Za-z0-9_.-]{1,64}", local in "[a-z0-9]{1,13}") {
            let id = TaskId::new(&queue, &local).unwrap();
            let back: TaskId = id.to_string().parse().unwrap();
            prop_assert_eq!(back, id);
        }
    }
}
