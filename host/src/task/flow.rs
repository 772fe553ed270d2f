//! What a flow parent sees of the tasks it waited for.
//!
//! A flow parent runs once its dependencies settled (see
//! `broker/flows.rs`), and it usually needs their outcomes: a fan-in that
//! sums its children's outputs, a report that lists which steps failed. The
//! broker captures each dependency's outcome when it counts it in, into the
//! parent's flow hash, because the dependency's own record may expire (a
//! result TTL) or sit in another Cluster slot; the worker reads them back
//! just before the parent runs and hands them to the plugin as
//! `task.children` (`wit/wasmq.wit`, contract 0.2).
//!
//! The outputs are bounded per flow ([`MAX_FLOW_RESULT_BYTES`]): up to
//! 10 000 dependencies with outputs of up to the host's max output each
//! would not fit a guest's memory. Past the cap a result keeps its state
//! and says in `error` that its output was left out, and where to read it.

use super::TaskId;
use serde::Serialize;

/// The local ids of flow parents start with this. The queue's own ids are
/// base-36 and children's start with `c-`, so the prefix alone tells a flow
/// parent from any other task without a Redis lookup.
pub const FLOW_PREFIX: &str = "f-";

/// Most output bytes one flow parent is handed, all dependencies together.
pub const MAX_FLOW_RESULT_BYTES: usize = 16 * 1024 * 1024;

/// How a dependency ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildState {
    /// Completed.
    Completed,
    /// Failed for good.
    Dead,
    /// Cancelled.
    Cancelled,
    /// Settled, but its record had expired before the flow counted it.
    Gone,
}

impl ChildState {
    /// The name used in Redis (`s:<id>` in the flow hash).
    pub fn as_str(self) -> &'static str {
        match self {
            ChildState::Completed => "completed",
            ChildState::Dead => "dead",
            ChildState::Cancelled => "cancelled",
            ChildState::Gone => "gone",
        }
    }

    /// The state named `name`, if it is a final one.
    pub fn parse(name: &str) -> Option<ChildState> {
        match name {
            "completed" => Some(ChildState::Completed),
            "dead" => Some(ChildState::Dead),
            "cancelled" => Some(ChildState::Cancelled),
            "gone" => Some(ChildState::Gone),
            _ => None,
        }
    }
}

/// The outcome of one dependency, as its flow parent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChildResult {
    /// The dependency's id.
    pub id: TaskId,
    /// How it ended.
    pub state: ChildState,
    /// Its output, when it completed and the output was kept.
    #[serde(skip)]
    pub output: Option<Vec<u8>>,
    /// The output's content type.
    pub content_type: Option<String>,
    /// Its last error when it died; why `output` is missing otherwise.
    pub error: Option<String>,
}

impl TaskId {
    /// Whether this is a flow parent's id (`Client::enqueue_flow`).
    pub fn is_flow_parent(&self) -> bool {
        self.local().starts_with(FLOW_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_flow_ids_are_flow_parents() {
        let id = |s: &str| s.parse::<TaskId>().unwrap();
        assert!(id("report:f-0123abcd").is_flow_parent());
        assert!(!id("report:1z").is_flow_parent());
        assert!(!id("report:c-0123abcd-0").is_flow_parent());
    }

    #[test]
    fn states_round_trip() {
        for s in [
            ChildState::Completed,
            ChildState::Dead,
            ChildState::Cancelled,
            ChildState::Gone,
        ] {
            assert_eq!(ChildState::parse(s.as_str()), Some(s));
        }
        assert_eq!(ChildState::parse("active"), None);
    }
}
