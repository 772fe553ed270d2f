//! `wasmq result`: the output of one completed task, by id, as text, as a
//! file (`--out`) or as JSON; and why there is none when there is none.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use tracing::{Span, instrument};

use super::exit::within;
use super::status::{lookup, not_found};
use super::table::{emit, print_json};
use super::{Common, Refused};
use crate::task::{TaskId, TaskState};

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
#[instrument(skip_all, fields(task_id = %args.id, task_type))]
pub async fn run(args: ResultArgs) -> anyhow::Result<()> {
    let id: TaskId = args.id.parse()?;
    Span::current().record("task_type", id.queue());
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
