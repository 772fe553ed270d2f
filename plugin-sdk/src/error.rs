//! Handler failures, and how the host treats them.
//!
//! The host needs exactly one decision from a failing handler: retry or give
//! up. [`TaskError`] carries that decision ([`ErrorKind`]), a message for the
//! task log and the dead-letter set, and optionally how long to wait before
//! the retry (for example from a server's `Retry-After`).

use std::fmt;
use std::time::Duration;

use crate::bindings::wasmq::plugin::types::{ErrorKind as WitErrorKind, TaskError as WitTaskError};

/// Whether the host should try a failed task again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Try again later, with backoff (or after the error's retry delay).
    Retryable,
    /// Never retry: the task goes to the dead-letter set.
    Permanent,
}

/// A failed task: what went wrong and whether to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    kind: ErrorKind,
    message: String,
    retry_after: Option<Duration>,
}

impl TaskError {
    /// A failure that may pass: the host retries the task with backoff until
    /// its attempts run out.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Retryable,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A failure that retrying cannot fix (bad input, a refused request):
    /// the task goes to the dead-letter set at once.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Permanent,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Asks the host to wait `delay` before the retry instead of using its
    /// own backoff. The host ignores it for permanent errors. Delays are sent
    /// in whole milliseconds, saturating at `u64::MAX`.
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// Retry or not.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message shown in the task log and the dead-letter set.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The delay requested with [`TaskError::retry_after`], if any.
    pub fn retry_delay(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether the host will retry this failure (attempts permitting).
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Retryable
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ErrorKind::Retryable => "retryable",
            ErrorKind::Permanent => "permanent",
        };
        write!(f, "{kind} error: {}", self.message)?;
        if let Some(delay) = self.retry_after {
            write!(f, " (retry after {} ms)", delay.as_millis())?;
        }
        Ok(())
    }
}

impl std::error::Error for TaskError {}

/// JSON that does not decode (or encode) will not on a retry either.
impl From<serde_json::Error> for TaskError {
    fn from(err: serde_json::Error) -> Self {
        Self::permanent(format!("JSON error: {err}"))
    }
}

impl From<TaskError> for WitTaskError {
    fn from(err: TaskError) -> Self {
        Self {
            kind: match err.kind {
                ErrorKind::Retryable => WitErrorKind::Retryable,
                ErrorKind::Permanent => WitErrorKind::Permanent,
            },
            message: err.message,
            retry_after_ms: err
                .retry_after
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn builders_set_kind_message_and_delay() {
        let err = TaskError::retryable("smtp busy").retry_after(Duration::from_secs(2));
        assert_eq!(err.kind(), ErrorKind::Retryable);
        assert!(err.is_retryable());
        assert_eq!(err.message(), "smtp busy");
        assert_eq!(err.retry_delay(), Some(Duration::from_secs(2)));
        assert_eq!(
            err.to_string(),
            "retryable error: smtp busy (retry after 2000 ms)"
        );

        let err = TaskError::permanent("bad address");
        assert!(!err.is_retryable());
        assert_eq!(err.retry_delay(), None);
        assert_eq!(err.to_string(), "permanent error: bad address");
    }

    #[test]
    fn serde_errors_are_permanent() {
        let err: TaskError = serde_json::from_str::<u32>("\"x\"").unwrap_err().into();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        assert!(
            err.message().starts_with("JSON error: invalid type"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn converts_to_wit() {
        let wit = WitTaskError::from(
            TaskError::retryable("later").retry_after(Duration::from_millis(1500)),
        );
        assert!(matches!(wit.kind, WitErrorKind::Retryable));
        assert_eq!(wit.message, "later");
        assert_eq!(wit.retry_after_ms, Some(1500));

        let wit = WitTaskError::from(TaskError::permanent("never"));
        assert!(matches!(wit.kind, WitErrorKind::Permanent));
        assert_eq!(wit.retry_after_ms, None);
    }

    #[test]
    fn huge_delays_saturate() {
        let wit = WitTaskError::from(TaskError::retryable("x").retry_after(Duration::MAX));
        assert_eq!(wit.retry_after_ms, Some(u64::MAX));
    }

    proptest! {
        #[test]
        fn delay_round_trips_in_whole_milliseconds(ms in any::<u64>(), nanos in 0u32..1_000_000) {
            let delay = Duration::from_millis(ms) + Duration::from_nanos(u64::from(nanos));
            let wit = WitTaskError::from(TaskError::retryable("x").retry_after(delay));
            prop_assert_eq!(wit.retry_after_ms, Some(ms));
        }
    }
}
