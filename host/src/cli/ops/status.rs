//! `wasmq status`: where one task is, by id; and the lookup `wasmq result`
//! and `wasmq cancel` share.
//!
//! A task id names its queue (`email:1a2b`), so each of these commands is a
//! single lookup. "Not found" (exit 1) covers both an id that never existed
//! and a finished task whose record outlived the result TTL; the message says
//! so, since the operator cannot tell the two apart either.

use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use tracing::{Span, instrument};

use super::exit::within;
use super::table::{emit, print_json, relative, timestamp_ms};
use super::{Common, Refused};
use crate::Client;
use crate::broker::TaskStatus;
use crate::task::TaskId;

/// Arguments of `wasmq status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The task id, as printed by `wasmq enqueue` (e.g. `email:1a2b`).
    pub id: String,
    /// Also show every attempt with its cost, the progress, the output and
    /// the last log.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    #[command(flatten)]
    pub common: Common,
}

/// The refusal for an id with no task record.
pub(super) fn not_found(id: &TaskId) -> Refused {
    Refused(format!(
        "no task {id}: the id is unknown, or the task finished longer ago than the result TTL \
         (24 h by default); check the id printed by `wasmq enqueue`"
    ))
}

/// The task's status record, if it has one.
pub(super) async fn lookup(client: &Client, id: &TaskId) -> anyhow::Result<Option<TaskStatus>> {
    within(&format!("look up task {id}"), client.status(id)).await
}

/// Runs `wasmq status`.
#[instrument(skip_all, fields(task_id = %args.id, task_type))]
pub async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let id: TaskId = args.id.parse()?;
    Span::current().record("task_type", id.queue());
    let client = args.common.connect().await?;
    let status = lookup(&client, &id).await?;
    // A flow parent shows its dependencies as a tree (flow_tree.rs).
    if let Some(flow) = super::flow_tree::lookup(&client, &id).await? {
        let tree = super::flow_tree::tree(&client, flow, status.as_ref()).await?;
        if args.common.json {
            return print_json(&tree);
        }
        let own = status.as_ref().map(|s| describe(s, SystemTime::now()));
        let head = own.unwrap_or_default() + &super::flow_tree::describe(&tree);
        // With --verbose, the parent's own runs follow its tree.
        return match (&status, args.verbose) {
            (Some(status), true) => super::runs::verbose(&client, status, head, false).await,
            _ => emit(head),
        };
    }
    let status = status.ok_or_else(|| not_found(&id))?;
    if args.verbose {
        let head = describe(&status, SystemTime::now());
        return super::runs::verbose(&client, &status, head, args.common.json).await;
    }
    if args.common.json {
        return print_json(&status);
    }
    emit(describe(&status, SystemTime::now()))
}

/// The human-readable status: one `label: value` line per known field.
fn describe(status: &TaskStatus, now: SystemTime) -> String {
    let when = |ms: Option<u64>| {
        ms.map(|ms| {
            let at = UNIX_EPOCH + std::time::Duration::from_millis(ms);
            format!("{} ({})", timestamp_ms(Some(ms)), relative(at, now))
        })
    };
    let attempts = match status.max_attempts {
        Some(max) => format!("{} of {max}", status.attempts),
        None => status.attempts.to_string(),
    };
    let mut lines: Vec<(&str, Option<String>)> = vec![
        ("id", Some(status.id.to_string())),
        ("state", Some(status.state.to_string())),
        ("attempts", Some(attempts)),
        ("priority", status.priority.map(|p| p.to_string())),
        ("enqueued", when(status.enqueued_at_ms)),
        ("due", when(status.due_at_ms)),
        ("last started", when(status.last_started_at_ms)),
        ("lease until", when(status.lease_deadline_ms)),
        ("finished", when(status.finished_at_ms)),
        ("plugin", status.plugin_version.clone()),
        ("dead reason", status.dead_reason.clone()),
        ("last error", status.last_error.clone()),
    ];
    if status.cancel_requested {
        lines.push((
            "cancel",
            Some("requested; the host is interrupting it".into()),
        ));
    }
    let mut out = String::new();
    for (label, value) in lines {
        if let Some(value) = value {
            out.push_str(&format!(
                "{:<13} {}\n",
                format!("{label}:"),
                value.replace('\n', " ")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskState;
    use std::time::Duration;

    #[test]
    fn describes_only_known_fields() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        let status = TaskStatus {
            id: "email:1a".parse().unwrap(),
            state: TaskState::Dead,
            attempts: 3,
            max_attempts: Some(3),
            priority: None,
            last_error: Some("bad address\nline two".into()),
            dead_reason: Some("permanent".into()),
            enqueued_at_ms: Some(9_000_000),
            last_started_at_ms: None,
            finished_at_ms: Some(9_990_000),
            plugin_version: None,
            due_at_ms: None,
            lease_deadline_ms: None,
            cancel_requested: false,
        };
        let text = describe(&status, now);
        assert!(text.contains("state:        dead\n"), "{text}");
        assert!(text.contains("attempts:     3 of 3\n"), "{text}");
        assert!(text.contains("(16m 40s ago)"), "{text}");
        assert!(
            text.contains("last error:   bad address line two\n"),
            "{text}"
        );
        assert!(!text.contains("priority"), "{text}");
        assert_eq!(text.lines().count(), 7, "{text}");
    }
}
