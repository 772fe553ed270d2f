//! Shared input-validation errors.
//!
//! Producers, the HTTP API and the command line all hand user input (queue
//! names, task ids, priorities, payloads) to the same checks. Keeping the
//! error type in a leaf module lets every layer report the same clear message
//! — what was wrong, where, and what to do — without depending on Redis or
//! wasmtime.

use thiserror::Error;

/// Longest accepted queue (task type) name, in bytes.
pub const MAX_QUEUE_NAME_LEN: usize = 64;

/// Longest accepted unique key, in bytes.
pub const MAX_UNIQUE_KEY_LEN: usize = 256;

/// Input that wasmq refuses before it reaches Redis.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    /// A queue (task type) name with a forbidden character or length.
    #[error(
        "invalid queue name {name:?}: {reason}; a queue (task type) name is 1 to 64 characters \
         from A-Z, a-z, 0-9, '_', '.' and '-'"
    )]
    QueueName {
        /// The rejected name.
        name: String,
        /// What exactly is wrong with it.
        reason: String,
    },

    /// A key namespace with a forbidden character or length.
    #[error(
        "invalid namespace {name:?}: {reason}; a namespace is 1 to 64 characters from A-Z, a-z, \
         0-9, '_', '.', ':' and '-' (no braces: they would break Redis Cluster hash tags)"
    )]
    Namespace {
        /// The rejected namespace.
        name: String,
        /// What exactly is wrong with it.
        reason: String,
    },

    /// A task id that is not `<queue>:<local id>`.
    #[error(
        "invalid task id {id:?}: {reason}; a task id looks like `<queue>:<local id>`, for \
         example `email:1a2b`, as returned by enqueue"
    )]
    TaskId {
        /// The rejected id.
        id: String,
        /// What exactly is wrong with it.
        reason: String,
    },

    /// A priority name that is not high, normal or low.
    #[error("unknown priority {given:?}: use `high`, `normal` or `low` (or 0, 1, 2)")]
    Priority {
        /// The rejected text.
        given: String,
    },

    /// A task state name that wasmq does not know.
    #[error(
        "unknown task state {given:?}: use waiting, scheduled, pending, active, retry-wait, \
         completed, dead or cancelled"
    )]
    State {
        /// The rejected text.
        given: String,
    },

    /// A payload above the broker's size limit.
    #[error(
        "the payload of a task for queue {queue:?} is {size} bytes, above the limit of {limit} \
         bytes; store large data elsewhere and enqueue a reference to it, or raise \
         `max_payload_bytes` in the broker options"
    )]
    PayloadTooLarge {
        /// The queue the task was meant for.
        queue: String,
        /// The payload size in bytes.
        size: usize,
        /// The configured limit in bytes.
        limit: usize,
    },

    /// A unique key that is empty or too long.
    #[error(
        "invalid unique key for queue {queue:?}: {reason}; a unique key is 1 to 256 bytes and \
         its TTL at least 1 ms"
    )]
    UniqueKey {
        /// The queue the task was meant for.
        queue: String,
        /// What exactly is wrong with it.
        reason: String,
    },

    /// A rate limit or concurrency cap that is malformed or out of bounds.
    #[error(transparent)]
    Limit(#[from] crate::ratelimit::LimitError),

    /// A number outside the range wasmq accepts.
    #[error("{what} is out of range: {reason}")]
    OutOfRange {
        /// Which setting or field (for example `lease count`).
        what: String,
        /// The accepted range and the given value.
        reason: String,
    },

    /// A task option outside the range wasmq can store and honour (a delay
    /// more than a year ahead, a fuel budget beyond 2^53, ...).
    #[error("`{field}` of a task for queue {queue:?} {reason}")]
    TaskOption {
        /// The queue the task was meant for.
        queue: String,
        /// The option, named as in [`crate::task::TaskSpec`]: `delay`,
        /// `run_at`, `unique_ttl`, `timeout`, `fuel` or `max_retries`.
        field: &'static str,
        /// What is wrong with the value and what to give instead.
        reason: String,
    },

    /// An invalid task of a batch, with its position: nothing of the batch
    /// was enqueued.
    #[error(
        "task [{index}] of the batch (counting from 0): {source}; nothing of the batch was enqueued"
    )]
    InBatch {
        /// Position of the task in the batch, from 0.
        index: usize,
        /// What is wrong with it.
        source: Box<ValidationError>,
    },

    /// A payload value that could not be serialised as JSON.
    #[error("the payload for queue {queue:?} could not be serialised as JSON: {message}")]
    Json {
        /// The queue the task was meant for.
        queue: String,
        /// serde_json's message.
        message: String,
    },

    /// A flow that cannot be enqueued (see `broker/flows.rs`).
    #[error("flow refused, nothing enqueued: {reason}")]
    Flow {
        /// What is wrong with it (names the offending dependency).
        reason: String,
    },
}

impl ValidationError {
    /// The error itself, or for [`ValidationError::InBatch`] the error of the
    /// task it wraps (to pick a status code by kind).
    pub fn root(&self) -> &ValidationError {
        match self {
            ValidationError::InBatch { source, .. } => source.root(),
            other => other,
        }
    }
}

/// Checks that `name` is a valid queue (task type) name:
/// `[A-Za-z0-9_.-]{1,64}`.
pub fn validate_queue_name(name: &str) -> Result<(), ValidationError> {
    let fail = |reason: String| ValidationError::QueueName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(fail("it is empty".into()));
    }
    if name.len() > MAX_QUEUE_NAME_LEN {
        return Err(fail(format!("it is {} bytes long", name.len())));
    }
    if let Some(c) = name.chars().find(|c| !is_name_char(*c)) {
        return Err(fail(format!("it contains {c:?}")));
    }
    Ok(())
}

/// Checks that `ns` is a valid key namespace: `[A-Za-z0-9_.:-]{1,64}`.
pub fn validate_namespace(ns: &str) -> Result<(), ValidationError> {
    let fail = |reason: String| ValidationError::Namespace {
        name: ns.to_owned(),
        reason,
    };
    if ns.is_empty() {
        return Err(fail("it is empty".into()));
    }
    if ns.len() > MAX_QUEUE_NAME_LEN {
        return Err(fail(format!("it is {} bytes long", ns.len())));
    }
    if let Some(c) = ns.chars().find(|c| !(is_name_char(*c) || *c == ':')) {
        return Err(fail(format!("it contains {c:?}")));
    }
    Ok(())
}

/// Characters allowed in queue names and local task ids.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn queue_names() {
        assert!(validate_queue_name("email").is_ok());
        assert!(validate_queue_name("img.resize-v2_x").is_ok());
        let err = validate_queue_name("a{b}").unwrap_err().to_string();
        assert!(err.contains("'{'"), "{err}");
        assert!(validate_queue_name("").is_err());
        assert!(validate_queue_name(&"a".repeat(65)).is_err());
        assert!(validate_queue_name("a:b").is_err());
        assert!(validate_queue_name("a b").is_err());
    }

    #[test]
    fn namespaces() {
        assert!(validate_namespace("wasmq").is_ok());
        assert!(validate_namespace("prod:wasmq").is_ok());
        assert!(validate_namespace("x{y}").is_err());
        assert!(validate_namespace("").is_err());
    }

    proptest! {
        #[test]
        fn valid_names_accepted(name in "[A-Za-z0-9_.-]{1,64}") {
            prop_assert!(validate_queue_name(&name).is_ok());
        }

        #[test]
        fn names_with_a_bad_char_rejected(
            pre in "[a-z]{0,10}",
            bad in "[^A-Za-z0-9_.-]",
            post in "[a-z]{0,10}",
        ) {
            let name = format!("{pre}{bad}{post}");
            prop_assert!(validate_queue_name(&name).is_err());
        }
    }
}
