//! Child tasks (`wasmq:plugin/tasks`): hand work on to the next step from
//! inside a handler, for handlers whose manifest grants the task types:
//!
//! ```toml
//! # <type>.toml
//! [capabilities]
//! enqueue = ["email", "image"]
//! enqueue_max_children = 100    # optional, per run (default 100, at most 1000)
//! ```
//!
//! ```no_run
//! use wasmq_plugin_sdk::{tasks, Output, Task, TaskError};
//! use std::time::Duration;
//!
//! #[wasmq_plugin_sdk::handler]
//! fn signup(task: Task) -> Result<Output, TaskError> {
//!     let welcome = tasks::enqueue("email", &task.payload, tasks::Options::default())?;
//!     let later = tasks::Options::default().delay(Duration::from_secs(3600));
//!     tasks::enqueue("email", br#"{"template":"tips"}"#, later)?;
//!     Ok(Output::text(welcome))
//! }
//! # fn main() {}
//! ```
//!
//! **Children are committed only if the run succeeds**, with its ack: a run
//! that fails (and each retry of it) commits none of the children it
//! enqueued, so a retried handler enqueues them again without duplicates.
//! The id returned is known at once; it is derived from this task's id and
//! the child's index in the run, so it is the same on every attempt.
//!
//! Natively (unit tests), children are kept in this thread's memory and
//! [`enqueued`] returns them.

use crate::TaskError;
use std::time::Duration;

/// A child's priority in its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    /// Leased before everything else.
    High,
    /// The default.
    #[default]
    Normal,
    /// Leased only when nothing of higher priority waits.
    Low,
}

/// How a child is enqueued. Unset options take the host's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// Its priority.
    pub priority: Priority,
    /// Ready this long after it reaches its queue (at most 365 days).
    pub delay: Duration,
    /// Retries after the first attempt (at most 1000); `None`: the host's.
    pub max_retries: Option<u32>,
}

impl Options {
    /// Sets the priority.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the delay.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sets the retries after the first attempt.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = Some(retries);
        self
    }
}

/// Enqueues a child task of type `task_type` and returns its id. Fails,
/// with the host's reason, for a type not in `[capabilities] enqueue`,
/// past `enqueue_max_children` in this run, for a payload over the host's
/// limit or an option out of range. The error converts into a permanent
/// [`TaskError`] with `?`.
pub fn enqueue(task_type: &str, payload: &[u8], options: Options) -> Result<String, EnqueueError> {
    imp::enqueue(task_type, payload, options).map_err(EnqueueError)
}

/// Why the host refused a child, in its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnqueueError(pub String);

impl std::fmt::Display for EnqueueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "enqueueing a child task failed: {}", self.0)
    }
}

impl std::error::Error for EnqueueError {}

impl From<EnqueueError> for TaskError {
    fn from(e: EnqueueError) -> Self {
        TaskError::permanent(e.to_string())
    }
}

#[cfg(target_family = "wasm")]
mod imp {
    use super::{Options, Priority};
    use crate::capability_bindings::wasmq::plugin::tasks;

    pub fn enqueue(task_type: &str, payload: &[u8], options: Options) -> Result<String, String> {
        let options = tasks::EnqueueOptions {
            priority: match options.priority {
                Priority::High => tasks::Priority::High,
                Priority::Normal => tasks::Priority::Normal,
                Priority::Low => tasks::Priority::Low,
            },
            delay_ms: u64::try_from(options.delay.as_millis()).unwrap_or(u64::MAX),
            max_retries: options.max_retries,
        };
        tasks::enqueue(task_type, payload, options)
    }
}

#[cfg(not(target_family = "wasm"))]
mod imp {
    use super::Options;
    use std::cell::RefCell;

    thread_local! {
        pub static CHILDREN: RefCell<Vec<(String, Vec<u8>, Options)>> = const { RefCell::new(Vec::new()) };
    }

    pub fn enqueue(task_type: &str, payload: &[u8], options: Options) -> Result<String, String> {
        CHILDREN.with(|c| {
            let mut c = c.borrow_mut();
            c.push((task_type.to_owned(), payload.to_vec(), options));
            Ok(format!("{task_type}:native-{}", c.len() - 1))
        })
    }
}

/// Natively only: the children enqueued on this thread so far (type,
/// payload, options), leaving none.
#[cfg(not(target_family = "wasm"))]
pub fn enqueued() -> Vec<(String, Vec<u8>, Options)> {
    imp::CHILDREN.with(|c| std::mem::take(&mut *c.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_children_are_recorded() {
        let id = enqueue("email", b"{}", Options::default().max_retries(2)).unwrap();
        assert_eq!(id, "email:native-0");
        let all = enqueued();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].2.max_retries, Some(2));
        let err: TaskError = EnqueueError("no".into()).into();
        assert!(!err.is_retryable());
    }
}
