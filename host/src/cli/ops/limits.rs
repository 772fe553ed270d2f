//! `wasmq queues limit`: a queue's rate limit and global concurrency cap.
//!
//! The limits are stored in Redis and enforced by the lease script on every
//! host, so they apply at once to all hosts, running or not yet started.
//! With no option the command shows the limits in force. Precedence (see
//! `broker/limits.rs`): what this command sets wins over the plugin
//! manifest's `rate`/`burst`/`global_concurrency`; `--clear` deletes it so
//! the manifest's apply again, and `--unlimited` stores "no limit", which
//! also overrides the manifest.

use clap::Args;
use serde::Serialize;

use super::exit::within;
use super::table::{emit, print_json};
use super::{BadInput, Common};
use crate::ratelimit::QueueLimits;

/// Arguments of `wasmq queues limit`.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// The queue (task type).
    pub queue: String,
    /// Most task starts per period across all hosts: 100/s, 30/m or 2/h.
    #[arg(long, value_name = "COUNT/UNIT")]
    pub rate: Option<String>,
    /// Starts allowed at once after an idle spell (default: 100 ms of the rate, at least 1; needs --rate).
    #[arg(long, value_name = "N")]
    pub burst: Option<u64>,
    /// Most tasks of this type running at once across all hosts.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<u64>,
    /// Delete the limits set here: the plugin manifest's defaults apply again.
    #[arg(long, conflicts_with_all = ["rate", "burst", "concurrency", "unlimited"])]
    pub clear: bool,
    /// Store "no limit", overriding any manifest default.
    #[arg(long, conflicts_with_all = ["rate", "burst", "concurrency"])]
    pub unlimited: bool,
    #[command(flatten)]
    pub common: Common,
}

/// The limits as `--json` prints them.
#[derive(Debug, Serialize)]
struct Shown {
    queue: String,
    /// `redis` (set with this command or the API), or `none` (the plugin
    /// manifest's defaults, if any, apply).
    source: &'static str,
    rate: Option<String>,
    burst: Option<u64>,
    concurrency: Option<u64>,
    throttled_ms: Option<u64>,
}

/// Runs `wasmq queues limit`.
pub async fn run(args: LimitArgs) -> anyhow::Result<()> {
    crate::error::validate_queue_name(&args.queue).map_err(|e| BadInput(format!("QUEUE: {e}")))?;
    let setting = args.rate.is_some() || args.burst.is_some() || args.concurrency.is_some();
    let limits = if setting || args.unlimited {
        Some(
            QueueLimits::from_parts(args.rate.as_deref(), args.burst, args.concurrency)
                .map_err(|e| BadInput(e.to_string()))?,
        )
    } else {
        None
    };
    let client = args.common.connect().await?;
    let queue = &args.queue;
    if args.clear {
        within(
            &format!("clear the limits of {queue}"),
            client.clear_limits(queue),
        )
        .await?;
    } else if let Some(limits) = &limits {
        within(
            &format!("set the limits of {queue}"),
            client.set_limits(queue, limits),
        )
        .await?;
    }
    let stored = within(&format!("read the limits of {queue}"), client.limits(queue)).await?;
    let throttled = within(
        &format!("read the throttle of {queue}"),
        client.throttled_for(queue),
    )
    .await?;
    let current = stored.as_ref().map(|s| s.limits).unwrap_or_default();
    if args.common.json {
        return print_json(&Shown {
            queue: queue.clone(),
            source: if stored.is_some() { "redis" } else { "none" },
            rate: current.rate.map(|r| r.to_string()),
            burst: current.rate.map(|_| current.effective_burst()),
            concurrency: current.concurrency,
            throttled_ms: throttled.map(|d| d.as_millis() as u64),
        });
    }
    let mut text = match &stored {
        Some(s) => format!(
            "queue {queue}: {} (set in Redis, on every host)\n",
            s.limits
        ),
        None => format!(
            "queue {queue}: no limits set in Redis; the plugin manifest's rate, burst and \
             global_concurrency apply, if any\n"
        ),
    };
    if let Some(t) = throttled {
        text.push_str(&format!(
            "leasing is throttled for {} ms more (a plugin's retry-after)\n",
            t.as_millis()
        ));
    }
    emit(text)
}
