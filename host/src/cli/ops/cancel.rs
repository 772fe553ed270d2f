//! `wasmq cancel`: stops one task, by id: a waiting one is cancelled, a
//! running one interrupted by its host.

use clap::Args;
use serde::Serialize;
use tracing::{Span, instrument};

use super::exit::within;
use super::status::{lookup, not_found};
use super::table::{emit, print_json};
use super::{Common, Refused};
use crate::broker::CancelOutcome;
use crate::task::TaskId;

/// Arguments of `wasmq cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The task id, as printed by `wasmq enqueue` (e.g. `email:1a2b`).
    pub id: String,
    #[command(flatten)]
    pub common: Common,
}

/// What `wasmq cancel --json` prints.
#[derive(Debug, Serialize)]
struct CancelJson {
    id: String,
    outcome: CancelOutcome,
}

/// Runs `wasmq cancel`. Exits 1 when there was nothing to cancel.
#[instrument(skip_all, fields(task_id = %args.id, task_type))]
pub async fn run(args: CancelArgs) -> anyhow::Result<()> {
    let id: TaskId = args.id.parse()?;
    Span::current().record("task_type", id.queue());
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
