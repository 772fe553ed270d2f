//! `wasmq pause` and `wasmq resume`: stop or restart leasing from a queue
//! on every host; running tasks finish either way.

use clap::Args;

use super::Common;
use super::exit::within;
use super::table::{emit, print_json};

/// Arguments of `wasmq pause` and `wasmq resume`.
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// The queue (task type).
    pub queue: String,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `wasmq pause` (`pause == true`) or `wasmq resume`.
pub async fn run(args: PauseArgs, pause: bool) -> anyhow::Result<()> {
    crate::error::validate_queue_name(&args.queue)?;
    let client = args.common.connect().await?;
    let known = within("list the queues", client.queues()).await?;
    if !known.contains(&args.queue) {
        eprintln!(
            "note: queue {} has never been used in namespace {}; {} it anyway",
            args.queue,
            args.common.namespace,
            if pause { "pausing" } else { "resuming" }
        );
    }
    let (verb, what) = if pause {
        within(
            &format!("pause queue {}", args.queue),
            client.pause(&args.queue),
        )
        .await?;
        (
            "paused",
            format!(
                "nothing is leased from it until `wasmq resume {}`; running tasks finish",
                args.queue
            ),
        )
    } else {
        within(
            &format!("resume queue {}", args.queue),
            client.resume(&args.queue),
        )
        .await?;
        ("resumed", "hosts lease from it again".to_owned())
    };
    if args.common.json {
        return print_json(&serde_json::json!({ "queue": args.queue, "paused": pause }));
    }
    emit(format!("{verb} queue {}: {what}\n", args.queue))
}
