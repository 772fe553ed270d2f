//! `wasmq status` of a flow parent: the parent and each dependency with
//! its state, as a tree.
//!
//! A dependency already counted in shows the state it was counted with
//! (final: completed, dead, cancelled or gone); one still outstanding is
//! looked up live, so the tree also shows which ones are still running.
//! Long flows (up to 10 000 dependencies) print the first [`SHOWN`] lines
//! and a count of the rest; `--json` lists them all. The flow line names
//! the flow's outcome (`waiting`, `released`, `dead`, or `cancelled` when
//! the parent was cancelled while it waited), which says why a parent
//! whose dependencies are outstanding no longer waits.

use serde::Serialize;

use super::exit::within;
use crate::Client;
use crate::broker::{FlowStatus, TaskStatus};
use crate::task::TaskId;

/// Dependencies printed in the text tree.
const SHOWN: usize = 100;

/// One dependency in `--json`.
#[derive(Debug, Serialize)]
struct Dependency {
    id: String,
    /// The state it was counted in with, if it was.
    counted_as: Option<String>,
    /// Its state now, looked up for the outstanding ones.
    state: Option<String>,
}

/// What `wasmq status --json` prints for a flow parent.
#[derive(Debug, Serialize)]
pub struct FlowJson<'a> {
    id: String,
    /// The parent's state (`waiting` while it waits for dependencies), or
    /// `gone` when only the flow record is left.
    state: String,
    status: Option<&'a TaskStatus>,
    on_child_failure: &'static str,
    outcome: String,
    outstanding: u64,
    dependencies: Vec<Dependency>,
}

/// The flow of `id`, if it is a flow parent whose record lives.
pub async fn lookup(client: &Client, id: &TaskId) -> anyhow::Result<Option<FlowStatus>> {
    within(&format!("look up flow {id}"), client.flow(id)).await
}

/// The tree (`--json` value) of `flow`, its outstanding dependencies'
/// states looked up now.
pub async fn tree<'a>(
    client: &Client,
    flow: FlowStatus,
    status: Option<&'a TaskStatus>,
) -> anyhow::Result<FlowJson<'a>> {
    let open: Vec<TaskId> = flow
        .dependencies
        .iter()
        .filter(|(_, counted)| counted.is_none())
        .map(|(id, _)| id.clone())
        .collect();
    let live = within("look up the dependencies", client.dependency_states(&open)).await?;
    let mut live = live.into_iter();
    let dependencies = flow
        .dependencies
        .into_iter()
        .map(|(id, counted_as)| {
            let state = match counted_as {
                Some(_) => None,
                None => live.next().and_then(|(_, s)| s),
            };
            Dependency {
                id: id.to_string(),
                counted_as,
                state,
            }
        })
        .collect();
    Ok(FlowJson {
        id: flow.id.to_string(),
        state: status.map_or_else(|| "gone".to_owned(), |s| s.state.to_string()),
        status,
        on_child_failure: flow.on_child_failure.as_str(),
        outcome: flow.outcome,
        outstanding: flow.outstanding,
        dependencies,
    })
}

/// The text tree, printed after the parent's own status lines (or in
/// their place when the parent's own record is gone).
pub fn describe(tree: &FlowJson<'_>) -> String {
    let mut out = String::new();
    if tree.status.is_none() {
        out.push_str(&format!("{:<13} {}\n", "id:", tree.id));
        out.push_str(&format!(
            "{:<13} gone (its task record expired; only the flow record is left)\n",
            "state:"
        ));
    }
    let total = tree.dependencies.len();
    out.push_str(&format!(
        "{:<13} {} of {total} dependencies outstanding, on child failure: {}, outcome: {}\n",
        "flow:", tree.outstanding, tree.on_child_failure, tree.outcome
    ));
    for (i, dep) in tree.dependencies.iter().take(SHOWN).enumerate() {
        let branch = if i + 1 == total { "└─" } else { "├─" };
        let state = match (&dep.counted_as, &dep.state) {
            (Some(counted), _) => counted.clone(),
            (None, Some(now)) => format!("{now} (outstanding)"),
            (None, None) => "unknown (outstanding)".to_owned(),
        };
        out.push_str(&format!("{branch} {}  {state}\n", dep.id));
    }
    if total > SHOWN {
        out.push_str(&format!(
            "└─ … and {} more (--json lists all)\n",
            total - SHOWN
        ));
    }
    out
}
