//! What a flow parent sees of the tasks it waited for: [`Task::children`].
//!
//! A parent enqueued with `wasmq enqueue --after …` (or
//! `Client::enqueue_flow`, `POST /api/v1/flows`) runs once all of them
//! settled, and gets each one's outcome here, in the order they were
//! listed: a fan-in reads its children's outputs, a report lists which of
//! them failed. The host caps the outputs at 16 MiB per flow; past that a
//! completed child has no output and its [`ChildResult::error`] says where
//! to read it.
//!
//! [`Task::children`]: crate::Task::children

use serde::de::DeserializeOwned;

use crate::TaskError;
use crate::bindings::wasmq::plugin::types::{
    ChildResult as WitChildResult, ChildState as WitChildState,
};

/// How a task a flow parent waited for ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildState {
    /// It completed.
    Completed,
    /// It failed for good.
    Dead,
    /// It was cancelled.
    Cancelled,
    /// It settled, but its record had expired before the flow counted it.
    Gone,
}

/// The outcome of one task a flow parent waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildResult {
    /// Its id (for example `image:c-1a2b-0`).
    pub id: String,
    /// How it ended.
    pub state: ChildState,
    /// Its output bytes, when it completed and its output was kept.
    pub output: Option<Vec<u8>>,
    /// The output's content type, if the child set one.
    pub content_type: Option<String>,
    /// Its last error when it died; why `output` is missing otherwise.
    pub error: Option<String>,
}

impl ChildResult {
    /// A completed child with `output`: for native tests of a fan-in.
    pub fn completed(id: impl Into<String>, output: impl Into<Vec<u8>>) -> Self {
        Self {
            id: id.into(),
            state: ChildState::Completed,
            output: Some(output.into()),
            content_type: None,
            error: None,
        }
    }

    /// A dead child with its last `error`: for native tests of a fan-in.
    pub fn dead(id: impl Into<String>, error: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            state: ChildState::Dead,
            output: None,
            content_type: None,
            error: Some(error.into()),
        }
    }

    /// Decodes the output as JSON into `T`. A child that did not complete,
    /// or whose output is missing or is not that JSON, cannot become one on
    /// a retry, so the error is permanent and names the child.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, TaskError> {
        let Some(output) = &self.output else {
            return Err(TaskError::permanent(format!(
                "child {} has no output: it ended {:?}{}",
                self.id,
                self.state,
                self.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            )));
        };
        serde_json::from_slice(output).map_err(|err| {
            TaskError::permanent(format!(
                "the output of child {} is not valid JSON for this handler: {err}",
                self.id
            ))
        })
    }
}

impl From<WitChildResult> for ChildResult {
    fn from(child: WitChildResult) -> Self {
        let (output, content_type) = match child.output {
            Some(out) => (Some(out.data), out.content_type),
            None => (None, None),
        };
        Self {
            id: child.id,
            state: match child.state {
                WitChildState::Completed => ChildState::Completed,
                WitChildState::Dead => ChildState::Dead,
                WitChildState::Cancelled => ChildState::Cancelled,
                WitChildState::Gone => ChildState::Gone,
            },
            output,
            content_type,
            error: child.error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn json_reads_outputs_and_names_children_without_one() {
        let done = ChildResult::completed("echo:c-1-0", br#"{"n":3}"#.to_vec());
        let n: serde_json::Value = done.json().unwrap();
        assert_eq!(n["n"], 3);
        let err = ChildResult::dead("echo:c-1-1", "boom")
            .json::<serde_json::Value>()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        assert!(err.message().contains("echo:c-1-1"), "{}", err.message());
        assert!(err.message().contains("Dead (boom)"), "{}", err.message());
        let err = ChildResult::completed("echo:c-1-2", b"nope".to_vec())
            .json::<serde_json::Value>()
            .unwrap_err();
        assert!(
            err.message().contains("not valid JSON"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn converts_from_wit() {
        let wit = WitChildResult {
            id: "a:c-0".into(),
            state: WitChildState::Completed,
            output: Some(crate::bindings::wasmq::plugin::types::Output {
                data: b"x".to_vec(),
                content_type: Some("text/plain".into()),
            }),
            error: None,
        };
        let child = ChildResult::from(wit);
        assert_eq!(child.output.as_deref(), Some(&b"x"[..]));
        assert_eq!(child.content_type.as_deref(), Some("text/plain"));
    }
}
