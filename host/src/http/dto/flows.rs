//! The wire types of `POST /api/v1/flows`: a parent task and the ids it
//! waits for (see `broker/flows.rs` for how a flow is held and released).
//!
//! The parent reuses [`EnqueueRequest`], so a flow parent takes the same
//! fields as any task, and the same checks; the broker then refuses the
//! fields that make no sense for a task that runs when released (`delay`,
//! `run_at`, `unique`).

use super::EnqueueRequest;
use crate::broker::{ChildFailure, FlowSpec, FlowStatus};
use crate::http::error::ApiError;
use crate::task::TaskId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A parent task that runs once every task of `after` has settled.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowRequest {
    /// The parent task (no `delay`, `run_at` or `unique`).
    pub parent: EnqueueRequest,
    /// The ids it waits for: 1 to 10 000, each known to its queue.
    #[schema(example = json!(["image:1a", "image:1b"]))]
    pub after: Vec<String>,
    /// `fail` (default: a dead or cancelled dependency buries the parent)
    /// or `continue` (the parent runs anyway).
    #[schema(example = "fail")]
    pub on_child_failure: Option<String>,
}

/// The id of an enqueued flow parent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlowResponse {
    /// `<queue>:<local id>` of the parent.
    #[schema(example = "report:f-0d9c2a6e4b1f4c3aa1e2b3c4d5e6f708")]
    pub id: String,
}

impl FlowRequest {
    /// The broker's flow, or a 400 naming the field.
    pub fn into_flow(self) -> Result<FlowSpec, ApiError> {
        let parent = self.parent.into_spec("parent.")?;
        let mut after = Vec::with_capacity(self.after.len());
        for (i, text) in self.after.iter().enumerate() {
            let id: TaskId = text
                .parse()
                .map_err(|e| ApiError::bad_request(format!("`after[{i}]`: {e}")))?;
            after.push(id);
        }
        let on_child_failure = match self.on_child_failure.as_deref() {
            None => ChildFailure::Fail,
            Some(text) => text
                .parse()
                .map_err(|e| ApiError::bad_request(format!("`on_child_failure`: {e}")))?,
        };
        Ok(FlowSpec {
            parent,
            after,
            on_child_failure,
        })
    }
}

/// A flow parent and its dependencies, as its parent's slot records them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlowDto {
    /// The parent's id.
    pub id: String,
    /// `fail` or `continue`.
    pub on_child_failure: String,
    /// `waiting`, `released`, `dead` or `cancelled` (the parent was
    /// cancelled while it waited).
    pub outcome: String,
    /// Dependencies not yet counted in.
    pub outstanding: u64,
    /// Every dependency, in the order given.
    pub dependencies: Vec<FlowDependencyDto>,
}

/// One dependency of a flow.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlowDependencyDto {
    /// Its task id.
    pub id: String,
    /// The state it was counted in with (`completed`, `dead`, `cancelled`,
    /// `gone`), or null while outstanding.
    pub counted_as: Option<String>,
}

impl From<FlowStatus> for FlowDto {
    fn from(flow: FlowStatus) -> Self {
        Self {
            id: flow.id.to_string(),
            on_child_failure: flow.on_child_failure.as_str().to_owned(),
            outcome: flow.outcome,
            outstanding: flow.outstanding,
            dependencies: flow
                .dependencies
                .into_iter()
                .map(|(id, counted_as)| FlowDependencyDto {
                    id: id.to_string(),
                    counted_as,
                })
                .collect(),
        }
    }
}
