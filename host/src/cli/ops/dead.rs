//! `wasmq dead list|retry|purge`: the dead-letter set.
//!
//! Re-driving and purging are the only operator commands that act on many
//! tasks at once, so they refuse to guess: without `--queue`, `--id` or
//! `--all` they do nothing and say so (exit 2). `--limit N` restricts a
//! re-drive or purge of one queue to its N newest dead tasks, which makes it
//! possible to try a fix on a few tasks before re-driving them all.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use serde::Serialize;

use super::exit::{within, within_for};
use super::table::{Table, ellipsize, emit, print_json, relative};
use super::{BadInput, Common, Refused};
use crate::Client;
use crate::broker::{BULK_LIMIT, DeadPage, DeadSelector, DeadTask, RequeueReport};
use crate::task::{TaskId, TaskState};

/// How long a whole re-drive or purge may take: it runs one bounded script
/// call per [`BULK_LIMIT`] tasks, so a large dead-letter set takes a while.
const BULK_DEADLINE: Duration = Duration::from_secs(300);

/// Largest `--limit`: the most dead tasks one listing returns.
const MAX_LIMIT: u64 = BULK_LIMIT as u64;

/// Arguments of `wasmq dead`.
#[derive(Debug, Args)]
pub struct DeadArgs {
    #[command(subcommand)]
    pub action: DeadAction,
}

/// What to do with the dead-letter set.
#[derive(Debug, Subcommand)]
pub enum DeadAction {
    /// List dead tasks, newest first, with why they died.
    #[command(after_help = super::EXIT_CODES_HELP)]
    List(ListArgs),
    /// Re-drive dead tasks: back to pending with a fresh attempt count.
    #[command(after_help = super::EXIT_CODES_HELP)]
    Retry(ChangeArgs),
    /// Delete dead tasks for good.
    #[command(after_help = super::EXIT_CODES_HELP)]
    Purge(ChangeArgs),
}

/// Arguments of `wasmq dead list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this queue (default: every queue).
    #[arg(long, value_name = "QUEUE")]
    pub queue: Option<String>,
    /// Only this task.
    #[arg(long, value_name = "ID", conflicts_with = "queue")]
    pub id: Option<String>,
    /// Show at most N tasks.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=MAX_LIMIT))]
    pub limit: u64,
    /// Skip the N newest tasks (for paging).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: u64,
    #[command(flatten)]
    pub common: Common,
}

/// Arguments of `wasmq dead retry` and `wasmq dead purge`.
#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// Every dead task of this queue (or its N newest with --limit).
    #[arg(long, value_name = "QUEUE")]
    pub queue: Option<String>,
    /// Just this task.
    #[arg(long, value_name = "ID", conflicts_with_all = ["queue", "all", "limit"])]
    pub id: Option<String>,
    /// Every dead task of every queue.
    #[arg(long, conflicts_with = "queue")]
    pub all: bool,
    /// Only the N newest dead tasks of --queue.
    #[arg(long, value_name = "N", requires = "queue", value_parser = clap::value_parser!(u64).range(1..=MAX_LIMIT))]
    pub limit: Option<u64>,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `wasmq dead ...`.
pub async fn run(args: DeadArgs) -> anyhow::Result<()> {
    match args.action {
        DeadAction::List(args) => list(args).await,
        DeadAction::Retry(args) => change(args, true).await,
        DeadAction::Purge(args) => change(args, false).await,
    }
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let client = args.common.connect().await?;
    let page = match (&args.id, &args.queue) {
        (Some(id), _) => one(&client, &id.parse()?).await?,
        (None, Some(queue)) => {
            within(
                &format!("list the dead tasks of queue {queue}"),
                client.list_dead(queue, args.offset, args.limit),
            )
            .await?
        }
        (None, None) => every_queue(&client, args.offset, args.limit).await?,
    };
    if args.common.json {
        return print_json(&page);
    }
    let now = SystemTime::now();
    let mut table = Table::new(["id", "died", "attempts", "reason", "last error"]);
    for task in &page.tasks {
        table.row([
            task.id.to_string(),
            relative(UNIX_EPOCH + Duration::from_millis(task.died_at_ms), now),
            task.attempts.to_string(),
            task.reason.clone().unwrap_or_else(|| "-".into()),
            ellipsize(task.last_error.as_deref().unwrap_or("-"), 80),
        ]);
    }
    table.print_or("no dead tasks")?;
    if !page.tasks.is_empty() {
        emit(format!(
            "showing {} of {} dead task(s); full errors with `wasmq status ID` or --json\n",
            page.tasks.len(),
            page.total
        ))?;
    }
    Ok(())
}

/// One dead task as a page, from its status.
async fn one(client: &Client, id: &TaskId) -> anyhow::Result<DeadPage> {
    let status = within(&format!("look up task {id}"), client.status(id)).await?;
    match status {
        Some(s) if s.state == TaskState::Dead => Ok(DeadPage {
            total: 1,
            tasks: vec![DeadTask {
                id: s.id,
                died_at_ms: s.finished_at_ms.unwrap_or(0),
                attempts: s.attempts,
                reason: s.dead_reason,
                last_error: s.last_error,
                plugin_version: s.plugin_version,
                priority: s.priority,
                enqueued_at_ms: s.enqueued_at_ms,
            }],
        }),
        Some(s) => Err(Refused(format!("task {id} is not dead: it is {}", s.state)).into()),
        None => Err(Refused(format!(
            "no task {id}: the id is unknown or its record expired"
        ))
        .into()),
    }
}

/// The newest dead tasks across every queue.
async fn every_queue(client: &Client, offset: u64, limit: u64) -> anyhow::Result<DeadPage> {
    let mut page = DeadPage {
        total: 0,
        tasks: Vec::new(),
    };
    for queue in within("list the queues", client.queues()).await? {
        let what = format!("list the dead tasks of queue {queue}");
        let part = within(&what, client.list_dead(&queue, 0, offset + limit)).await?;
        page.total += part.total;
        page.tasks.extend(part.tasks);
    }
    page.tasks.sort_by_key(|t| std::cmp::Reverse(t.died_at_ms));
    page.tasks = page
        .tasks
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    Ok(page)
}

/// What `dead retry|purge --json` prints.
#[derive(Debug, Serialize)]
struct ChangeJson {
    action: &'static str,
    /// Tasks re-driven or purged.
    count: u64,
    /// Malformed entries dropped during a re-drive.
    dropped: u64,
}

async fn change(args: ChangeArgs, retry: bool) -> anyhow::Result<()> {
    let (action, verb) = if retry {
        ("retry", "re-drove")
    } else {
        ("purge", "purged")
    };
    // Check the selection before connecting: a usage error must not depend on Redis.
    let (target, newest) = match (&args.id, &args.queue, args.all) {
        (Some(id), _, _) => (DeadSelector::One(id.parse()?), None),
        (None, Some(queue), _) => {
            crate::error::validate_queue_name(queue)?;
            (DeadSelector::Queue(queue.clone()), args.limit)
        }
        (None, None, true) => (DeadSelector::All, None),
        (None, None, false) => {
            return Err(BadInput(format!(
                "`wasmq dead {action}` needs --queue QUEUE, --id ID or --all; it does not guess \
                 which dead tasks to {action}"
            ))
            .into());
        }
    };
    let client = args.common.connect().await?;
    let selectors = match (target, newest) {
        (DeadSelector::Queue(queue), Some(limit)) => {
            let what = format!("list the dead tasks of queue {queue}");
            let page = within(&what, client.list_dead(&queue, 0, limit)).await?;
            page.tasks
                .into_iter()
                .map(|t| DeadSelector::One(t.id))
                .collect()
        }
        (target, _) => vec![target],
    };
    let mut total = RequeueReport::default();
    for selector in selectors {
        let what = match &selector {
            DeadSelector::One(id) => format!("{action} dead task {id}"),
            DeadSelector::Queue(queue) => format!("{action} the dead tasks of queue {queue}"),
            DeadSelector::All => format!("{action} the dead tasks of every queue"),
        };
        if retry {
            let report = within_for(&what, BULK_DEADLINE, client.requeue_dead(selector)).await?;
            total.requeued += report.requeued;
            total.dropped += report.dropped;
        } else {
            total.requeued += within_for(&what, BULK_DEADLINE, client.purge_dead(selector)).await?;
        }
    }
    if args.common.json {
        print_json(&ChangeJson {
            action,
            count: total.requeued,
            dropped: total.dropped,
        })?;
    } else {
        let dropped = if total.dropped > 0 {
            format!(" ({} malformed entries deleted)", total.dropped)
        } else {
            String::new()
        };
        emit(format!("{verb} {} dead task(s){dropped}\n", total.requeued))?;
    }
    if let Some(id) = &args.id
        && total.requeued + total.dropped == 0
    {
        return Err(Refused(format!("task {id} is not in the dead-letter set")).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        dead: DeadArgs,
    }

    #[test]
    fn selectors_are_exclusive() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["wasmq"], args].concat());
        assert!(parse(&["retry", "--id", "email:1", "--queue", "email"]).is_err());
        assert!(parse(&["purge", "--all", "--queue", "email"]).is_err());
        assert!(parse(&["retry", "--limit", "5"]).is_err());
        assert!(parse(&["retry", "--queue", "email", "--limit", "5"]).is_ok());
        assert!(parse(&["list"]).is_ok());
        assert!(parse(&["list", "--limit", "0"]).is_err());
    }
}
