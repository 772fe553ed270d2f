//! The task as a handler sees it.
//!
//! The WIT record arrives as generated bindings; [`Task`] copies it into a
//! plain struct so handlers never touch generated types and can build tasks
//! themselves in native tests.

use serde::de::DeserializeOwned;

use crate::bindings::wasmq::plugin::types::Task as WitTask;
use crate::{ChildResult, TaskError};

/// One task, handed to the handler by the host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Task {
    /// The task id, unique in its queue (for example `email:1a2b`).
    pub id: String,
    /// The task type, which is also the plugin's name and the queue.
    pub task_type: String,
    /// The payload bytes, JSON by convention.
    pub payload: Vec<u8>,
    /// 1 on the first run, 2 on the first retry, and so on.
    pub attempt: u32,
    /// The attempt after which a failure goes to the dead-letter set.
    pub max_attempts: u32,
    /// When the task was enqueued, in milliseconds since the Unix epoch.
    pub enqueued_at_ms: u64,
    /// When the host will stop this run, in milliseconds since the Unix epoch.
    pub deadline_ms: u64,
    /// For a flow parent, the outcome of each task it waited for, in the
    /// order they were listed; empty for any other task.
    pub children: Vec<ChildResult>,
}

impl Task {
    /// A task with the given type and payload, on its first attempt of
    /// three: a starting point for native tests of a handler.
    pub fn new(task_type: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        let task_type = task_type.into();
        Self {
            id: format!("{task_type}:test"),
            task_type,
            payload: payload.into(),
            attempt: 1,
            max_attempts: 3,
            ..Self::default()
        }
    }

    /// Decodes the payload as JSON into `T`.
    ///
    /// A payload that does not decode can never succeed on a retry, so the
    /// error is permanent; its message names the task, the serde error and
    /// where in the payload it happened.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, TaskError> {
        serde_json::from_slice(&self.payload).map_err(|err| {
            TaskError::permanent(format!(
                "payload of task {} is not valid JSON for this handler: {err}",
                self.id
            ))
        })
    }

    /// The payload as UTF-8 text; a permanent error if it is not UTF-8.
    pub fn payload_str(&self) -> Result<&str, TaskError> {
        std::str::from_utf8(&self.payload).map_err(|err| {
            TaskError::permanent(format!(
                "payload of task {} is not UTF-8 text: {err}",
                self.id
            ))
        })
    }

    /// Whether this is the last attempt: a failure now goes to the
    /// dead-letter set whatever its kind.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

impl From<WitTask> for Task {
    fn from(task: WitTask) -> Self {
        Self {
            id: task.id,
            task_type: task.task_type,
            payload: task.payload,
            attempt: task.attempt,
            max_attempts: task.max_attempts,
            enqueued_at_ms: task.enqueued_at_ms,
            deadline_ms: task.deadline_ms,
            children: task.children.into_iter().map(Into::into).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Mail {
        to: String,
    }

    #[test]
    fn json_decodes_the_payload() {
        let task = Task::new("email", br#"{"to":"a@b.c"}"#.to_vec());
        assert_eq!(task.json::<Mail>().unwrap(), Mail { to: "a@b.c".into() });
    }

    #[test]
    fn json_error_is_permanent_and_names_the_problem() {
        let task = Task::new("email", br#"{"subject":"x"}"#.to_vec());
        let err = task.json::<Mail>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        assert!(err.message().contains("email:test"), "{}", err.message());
        assert!(
            err.message().contains("missing field `to`"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn payload_str_rejects_invalid_utf8() {
        assert_eq!(Task::new("t", "héllo").payload_str().unwrap(), "héllo");
        let err = Task::new("t", vec![0xff, 0xfe]).payload_str().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        assert!(err.message().contains("not UTF-8"), "{}", err.message());
    }

    #[test]
    fn last_attempt() {
        let mut task = Task::new("t", "");
        assert!(!task.is_last_attempt());
        task.attempt = 3;
        assert!(task.is_last_attempt());
    }

    proptest! {
        #[test]
        fn json_never_panics_and_errors_are_permanent(payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            let task = Task::new("t", payload);
            if let Err(err) = task.json::<serde_json::Value>() {
                prop_assert_eq!(err.kind(), ErrorKind::Permanent);
            }
        }

        #[test]
        fn json_round_trips_strings(s in ".*") {
            let task = Task::new("t", serde_json::to_vec(&s).unwrap());
            prop_assert_eq!(task.json::<String>().unwrap(), s);
        }
    }
}
