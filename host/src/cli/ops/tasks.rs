//! `wasmq status`, `wasmq result` and `wasmq cancel`: one task, by id.
//!
//! A task id names its queue (`email:1a2b`), so each command is a single
//! lookup. "Not found" (exit 1) covers both an id that never existed and a
//! finished task whose record outlived the result TTL; the message says so,
//! since the operator cannot tell the two apart either.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use tracing::{Span, instrument};

use super::exit::within;
use super::table::{emit, print_json, relative, timestamp_ms};
use super::{Common, Refused};
use crate::Client;
use crate::broker::{CancelOutcome, TaskStatus};
use crate::task::{TaskId, TaskState};

/// Arguments of `wasmq status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The task id, as printed by `wasmq enqueue` (e.g. `email:1a2b`).
    pub id: String,
    #[command(flatten)]
    pub common: Common,
}

/// Arguments of `wasmq result`.
#[derive(Debug, Args)]
pub struct ResultArgs {
    /// The task id, as printed by `wasmq enqueue` (e.g. `email:1a2b`).
    pub id: String,
    /// Write the output bytes to this file instead of stdout (needed for
    /// binary output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

/// Arguments of `wasmq cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The task id, as printed by `wasmq enqueue` (e.g. `email:1a2b`).
    pub id: String,
    #[command(flatten)]
    pub common: Common,
}

fn not_found(id: &TaskId) -> Refused {
    Refused(format!(
        "no task {id}: the id is unknown, or the task finished longer ago than the result TTL \
         (24 h by default); check the id printed by `wasmq enqueue`"
    ))
}

async fn lookup(client: &Client, id: &TaskId) -> anyhow::Result<Option<TaskStatus>> {
    within(&format!("look up task {id}"), client.status(id)).await
}

/// Runs `wasmq status`.
#[instrument(skip_all, fields(task_id = %args.id, kind))]
pub async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let id: TaskId = args.id.parse()?;
    Span::current().record("kind", id.queue());
    let client = args.common.connect().await?;
    let status = lookup(&client, &id).await?;
    // A flow parent shows its dependencies as a tree (flow_tree.rs).
    if let Some(flow) = super::flow_tree::lookup(&client, &id).await? {
        let tree = super::flow_tree::tree(&client, flow, status.as_ref()).await?;
        if args.common.json {
            return print_json(&tree);
        }
        let own = status.as_ref().map(|s| describe(s, SystemTime::now()));
        return emit(own.unwrap_or_default() + &super::flow_tree::describe(&tree));
    }
    let status = status.ok_or_else(|| not_found(&id))?;
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

/// What `wasmq result --json` prints: the output as text when it is UTF-8,
/// else as hex.
#[derive(Debug, Serialize)]
struct ResultJson<'a> {
    id: String,
    content_type: Option<&'a str>,
    plugin_version: Option<&'a str>,
    attempts: u32,
    enqueued_at_ms: Option<u64>,
    started_at_ms: Option<u64>,
    finished_at_ms: u64,
    wall_ms: Option<u64>,
    fuel_used: Option<u64>,
    size: usize,
    output_text: Option<&'a str>,
    output_hex: Option<String>,
    /// The output is encrypted and no key given opens it (`output_text` is
    /// then `encrypted`).
    encrypted: bool,
}

/// Runs `wasmq result`.
#[instrument(skip_all, fields(task_id = %args.id, kind))]
pub async fn result(args: ResultArgs) -> anyhow::Result<()> {
    let id: TaskId = args.id.parse()?;
    Span::current().record("kind", id.queue());
    let client = args.common.connect().await?;
    let Some(result) = within(&format!("fetch the result of {id}"), client.result(&id)).await?
    else {
        // Say why: still running, failed, or unknown.
        return Err(match lookup(&client, &id).await?.map(|s| s.state) {
            None => not_found(&id).into(),
            Some(TaskState::Completed) => Refused(format!(
                "task {id} completed but its result was not kept (the hosts' result TTL is 0)"
            ))
            .into(),
            Some(state) if state.is_final() => {
                Refused(format!("task {id} is {state}: it has no result")).into()
            }
            Some(state) => Refused(format!(
                "task {id} is {state}: it has no result yet; try again once `wasmq status {id}` \
                 says completed"
            ))
            .into(),
        });
    };
    let text = std::str::from_utf8(&result.output).ok();
    if let Some(path) = &args.out {
        std::fs::write(path, &result.output)
            .with_context(|| format!("cannot write the output to --out {}", path.display()))?;
    }
    if args.common.json {
        return print_json(&ResultJson {
            id: result.id.to_string(),
            content_type: result.content_type.as_deref(),
            plugin_version: result.plugin_version.as_deref(),
            attempts: result.attempts,
            enqueued_at_ms: result.enqueued_at_ms,
            started_at_ms: result.started_at_ms,
            finished_at_ms: result.finished_at_ms,
            wall_ms: result.wall_ms,
            fuel_used: result.fuel_used,
            size: result.output.len(),
            output_text: text,
            output_hex: text.is_none().then(|| hex::encode(&result.output)),
            encrypted: result.encrypted,
        });
    }
    let kind = result.content_type.as_deref().unwrap_or("no content type");
    match (&args.out, text) {
        (Some(path), _) => {
            emit(format!(
                "wrote {} bytes ({kind}) to {}\n",
                result.output.len(),
                path.display()
            ))?;
        }
        (None, Some(text)) => {
            // Exactly the output bytes; a newline only for a terminal prompt.
            emit(text)?;
            if std::io::stdout().is_terminal() && !text.ends_with('\n') {
                emit("\n")?;
            }
        }
        (None, None) => {
            return Err(Refused(format!(
                "the output of {id} is {} bytes of binary data ({kind}); write it to a file with \
                 `wasmq result {id} --out FILE`",
                result.output.len()
            ))
            .into());
        }
    }
    Ok(())
}

/// What `wasmq cancel --json` prints.
#[derive(Debug, Serialize)]
struct CancelJson {
    id: String,
    outcome: CancelOutcome,
}

/// Runs `wasmq cancel`. Exits 1 when there was nothing to cancel.
#[instrument(skip_all, fields(task_id = %args.id, kind))]
pub async fn cancel(args: CancelArgs) -> anyhow::Result<()> {
    let id: TaskId = args.id.parse()?;
    Span::current().record("kind", id.queue());
    let client = args.common.connect().await?;
    let outcome = within(&format!("cancel task {id}"), client.cancel(&id)).await?;
    if args.common.json {
        print_json(&CancelJson {
            id: id.to_string(),
            outcome,
        })?;
    }
    let done = match outcome {
        CancelOutcome::Cancelled => format!("cancelled: {id} was waiting and will not run"),
        CancelOutcome::Requested => format!(
            "interrupt requested: {id} is running; its host stops it and records it as cancelled \
             (unless it completes first); follow with `wasmq status {id}`"
        ),
        CancelOutcome::AlreadyDead => {
            return Err(Refused(format!(
                "task {id} is already dead: nothing to cancel; remove it with `wasmq dead purge \
                 --id {id}`"
            ))
            .into());
        }
        CancelOutcome::AlreadyFinished => {
            let state = lookup(&client, &id).await?.map(|s| s.state);
            let state = state.map_or("finished".to_owned(), |s| s.to_string());
            return Err(Refused(format!("task {id} already {state}: nothing to cancel")).into());
        }
        CancelOutcome::NotFound => return Err(not_found(&id).into()),
    };
    if !args.common.json {
        emit(format!("{done}\n"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
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
