//! `fanin`: a flow parent that reports what the tasks it waited for did.
//!
//! Run as the parent of a flow (`wasmq enqueue fanin --after A,B,…`), it
//! reads `task.children` (contract 0.2) and outputs, as JSON, how many
//! there were, how many ended in each state, the ids in the order the
//! host handed them, the sum of the outputs that parse as numbers (the
//! `echo` children of the tests output their index), the output bytes, and
//! the errors of the ones that died. It needs no capability: the host
//! hands every flow parent its children's outcomes.

use serde::Serialize;
use std::collections::BTreeMap;
use wasmq_plugin_sdk::{ChildState, Output, Task, TaskError};

#[derive(Serialize, Default, Debug, PartialEq)]
struct Report {
    children: usize,
    states: BTreeMap<&'static str, usize>,
    ids: Vec<String>,
    sum: i64,
    output_bytes: usize,
    errors: BTreeMap<String, String>,
}

fn report(task: &Task) -> Report {
    let mut report = Report {
        children: task.children.len(),
        ..Report::default()
    };
    for child in &task.children {
        let state = match child.state {
            ChildState::Completed => "completed",
            ChildState::Dead => "dead",
            ChildState::Cancelled => "cancelled",
            ChildState::Gone => "gone",
        };
        *report.states.entry(state).or_default() += 1;
        report.ids.push(child.id.clone());
        if let Some(output) = &child.output {
            report.output_bytes += output.len();
            let number = std::str::from_utf8(output)
                .ok()
                .and_then(|text| text.trim().trim_matches('"').parse::<i64>().ok());
            report.sum += number.unwrap_or(0);
        }
        if let Some(error) = &child.error {
            report.errors.insert(child.id.clone(), error.clone());
        }
    }
    report
}

#[wasmq_plugin_sdk::handler]
fn handle(task: Task) -> Result<Output, TaskError> {
    Output::json(&report(&task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmq_plugin_sdk::ChildResult;

    #[test]
    fn sums_counts_and_keeps_the_order() {
        let mut task = Task::new("fanin", "{}");
        task.children = vec![
            ChildResult::completed("echo:c-1-0", b"2".to_vec()),
            ChildResult::dead("echo:c-1-1", "boom"),
            ChildResult::completed("echo:c-1-2", b"\"40\"".to_vec()),
        ];
        let r = report(&task);
        assert_eq!(r.children, 3);
        assert_eq!(r.sum, 42);
        assert_eq!(r.states["completed"], 2);
        assert_eq!(r.states["dead"], 1);
        assert_eq!(r.ids, ["echo:c-1-0", "echo:c-1-1", "echo:c-1-2"]);
        assert_eq!(r.errors["echo:c-1-1"], "boom");
        assert_eq!(r.output_bytes, 5);
    }

    #[test]
    fn a_task_that_is_no_flow_parent_reports_nothing() {
        let r = report(&Task::new("fanin", "{}"));
        assert_eq!(r, Report::default());
    }
}
