//! `wasmq queues rm`: remove an empty queue.
//!
//! A queue is created by its first enqueue and listed (and visited by every
//! host's maintenance tick) forever after, so a mistyped task type would
//! stay in every listing. Removing one is safe only when it holds nothing,
//! so the command refuses (exit 1) and says what is left otherwise; the
//! check and the deletion are one script in the broker
//! ([`crate::Client::remove_queue`]), so no task enqueued meanwhile is lost.

use clap::Args;

use super::exit::within;
use super::table::{emit, print_json};
use super::{BadInput, Common, Refused};
use crate::broker::QueueRemoval;

/// Arguments of `wasmq queues rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// The queue (task type).
    pub queue: String,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `wasmq queues rm`.
pub async fn run(args: RmArgs) -> anyhow::Result<()> {
    crate::error::validate_queue_name(&args.queue).map_err(|e| BadInput(format!("QUEUE: {e}")))?;
    let client = args.common.connect().await?;
    let queue = &args.queue;
    let outcome = within(&format!("remove queue {queue}"), client.remove_queue(queue)).await?;
    match outcome {
        QueueRemoval::Removed => {}
        QueueRemoval::NotFound => {
            return Err(Refused(format!(
                "there is no queue {queue} in namespace {}; `wasmq queues` lists them",
                args.common.namespace
            ))
            .into());
        }
        QueueRemoval::NotEmpty(left) => {
            return Err(Refused(format!(
                "queue {queue} is not empty: it holds {}; nothing was removed. Let its tasks \
                 finish, or cancel them (`wasmq cancel <id>`) and purge its dead tasks \
                 (`wasmq dead purge --queue {queue}`), then try again",
                left.describe()
            ))
            .into());
        }
    }
    if args.common.json {
        return print_json(&serde_json::json!({ "queue": queue, "removed": true }));
    }
    emit(format!(
        "removed queue {queue}: its counters, kept results and name are gone; enqueueing to \
         it again creates it anew\n"
    ))
}
