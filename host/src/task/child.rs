//! Child tasks: the tasks a plugin enqueues during a run
//! (`wasmq:plugin/tasks`), as the runtime collects them and the broker
//! commits them with the parent's ack.
//!
//! A child's id is derived from its parent's id and its index in the run
//! ([`child_local_id`]) rather than drawn from the target queue's sequence,
//! for two reasons. The plugin gets the id back at once, before anything
//! reaches Redis (children are committed only if the run succeeds). And the
//! forwarder, which moves committed children from the parent's outbox to
//! their queues, can repeat after a crash without creating a duplicate: the
//! same child has the same id, and enqueueing an id that exists is a no-op.
//!
//! This module is a leaf like the rest of `task`: the runtime builds
//! [`ChildSpec`]s, the broker stores them, neither knows the other.

use super::{Priority, TaskId, TaskSpec};
use crate::error::{ValidationError, validate_queue_name};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime};

/// Default cap on the children of one run (`enqueue_max_children`).
pub const DEFAULT_MAX_CHILDREN: u32 = 100;
/// Largest `enqueue_max_children` accepted.
pub const MAX_CHILDREN: u32 = 1000;

/// The options a plugin may give a child (`enqueue-options` in the WIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChildOptions {
    /// Its priority in its queue.
    pub priority: Priority,
    /// How long after forwarding it becomes ready (zero: at once).
    pub delay: Duration,
    /// Retries after the first attempt; `None` takes the broker default.
    pub max_retries: Option<u32>,
}

/// One child task, as a plugin asked for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChildSpec {
    /// Its id, derived from the parent's id and the child's index.
    #[serde(serialize_with = "as_text")]
    pub id: TaskId,
    /// The payload bytes.
    #[serde(skip)]
    pub payload: Vec<u8>,
    /// Its priority in its queue.
    pub priority: Priority,
    /// How long after forwarding it becomes ready (zero: at once).
    #[serde(skip)]
    pub delay: Duration,
    /// Retries after the first attempt; `None` takes the broker default.
    pub max_retries: Option<u32>,
}

fn as_text<S: serde::Serializer>(id: &TaskId, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

/// The local id of child `index` of the task `parent` (its full id):
/// `c-<20 hex digits of SHA-256(parent)>-<index>`. 80 bits of hash keep
/// two parents' children apart; the `-` keeps them apart from the base-36
/// ids of the queue's own sequence, which never contain one.
pub fn child_local_id(parent: &str, index: u32) -> String {
    let digest = Sha256::digest(parent.as_bytes());
    format!("c-{}-{index}", &hex::encode(digest)[..20])
}

impl ChildSpec {
    /// Child `index` of `parent`, after checking the type name and the
    /// options with the bounds every producer is held to
    /// ([`TaskSpec::check_options`]) and the payload against `max_payload`.
    pub fn new(
        parent: &str,
        index: u32,
        task_type: &str,
        payload: Vec<u8>,
        options: ChildOptions,
        max_payload: usize,
    ) -> Result<ChildSpec, ValidationError> {
        let ChildOptions {
            priority,
            delay,
            max_retries,
        } = options;
        validate_queue_name(task_type)?;
        if payload.len() > max_payload {
            return Err(ValidationError::PayloadTooLarge {
                queue: task_type.to_owned(),
                size: payload.len(),
                limit: max_payload,
            });
        }
        let mut spec = TaskSpec::new(task_type, Vec::new())
            .priority(priority)
            .delay(delay);
        spec.max_retries = max_retries;
        spec.check_options(SystemTime::now())?;
        Ok(ChildSpec {
            id: TaskId::from_parts(task_type, &child_local_id(parent, index)),
            payload,
            priority,
            delay,
            max_retries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{MAX_RETRIES, MAX_SCHEDULE_AHEAD};
    use proptest::prelude::*;

    fn child(index: u32, delay: Duration, retries: Option<u32>) -> Result<ChildSpec, String> {
        ChildSpec::new(
            "fanout:1",
            index,
            "echo",
            b"x".to_vec(),
            ChildOptions {
                delay,
                max_retries: retries,
                ..ChildOptions::default()
            },
            8,
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn options_are_bounded_like_a_producers() {
        let ms = Duration::from_millis(1);
        assert!(child(0, MAX_SCHEDULE_AHEAD, Some(MAX_RETRIES)).is_ok());
        let err = child(0, MAX_SCHEDULE_AHEAD + ms, None).unwrap_err();
        assert!(err.contains("`delay`"), "{err}");
        let err = child(0, ms, Some(MAX_RETRIES + 1)).unwrap_err();
        assert!(err.contains("`max_retries`"), "{err}");
        let big = ChildSpec::new("p:1", 0, "echo", vec![0; 9], ChildOptions::default(), 8);
        assert!(matches!(
            big,
            Err(ValidationError::PayloadTooLarge { limit: 8, .. })
        ));
        let bad = ChildSpec::new("p:1", 0, "no{tag}", vec![], ChildOptions::default(), 8);
        assert!(matches!(bad, Err(ValidationError::QueueName { .. })));
    }

    proptest! {
        /// Ids are deterministic, valid local ids, distinct per index and
        /// per parent, and never look like a sequence id.
        #[test]
        fn ids_are_deterministic_and_distinct(
            a in "[a-z0-9_.-]{1,64}:[a-z0-9]{1,13}",
            b in "[a-z0-9_.-]{1,64}:[a-z0-9]{1,13}",
            i in 0u32..MAX_CHILDREN, j in 0u32..MAX_CHILDREN,
        ) {
            let id = child_local_id(&a, i);
            prop_assert_eq!(&id, &child_local_id(&a, i));
            prop_assert!(TaskId::new("echo", &id).is_ok(), "{}", id);
            prop_assert!(id.contains('-'));
            prop_assert_eq!(i == j, id == child_local_id(&a, j));
            if a != b {
                prop_assert_ne!(id, child_local_id(&b, i));
            }
        }

        /// Whatever passes the check is within the producer bounds.
        #[test]
        fn accepted_options_are_within_bounds(delay_ms in any::<u64>(), retries in any::<u32>()) {
            let ok = child(0, Duration::from_millis(delay_ms), Some(retries)).is_ok();
            let within = Duration::from_millis(delay_ms) <= MAX_SCHEDULE_AHEAD
                && retries <= MAX_RETRIES;
            prop_assert_eq!(ok, within);
        }
    }
}
