//! `wasmq queues [rm|limit]`: where the tasks are right now, queue by queue.
//!
//! `queues` answers "where are my tasks right now" (sizes per state, and
//! whether any live host serves the queue); `wasmq stats` (stats.rs)
//! answers "what has happened". Both read the same broker statistics as the
//! HTTP API and the dashboard, so the numbers always agree.
//!
//! Enqueueing to a type no host serves is allowed (hosts may start later),
//! so a typo in a type silently makes a queue nobody drains; `queues` marks
//! such queues, and `queues rm` removes one once it is empty.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::Common;
use super::exit::within;
use super::table::{Table, print_json};
use crate::broker::QueueStats;

/// Arguments of `wasmq queues`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct QueuesArgs {
    #[command(subcommand)]
    pub action: Option<QueuesAction>,
    #[command(flatten)]
    pub common: Common,
}

/// What else `wasmq queues` can do.
#[derive(Debug, Subcommand)]
pub enum QueuesAction {
    /// Remove an empty queue: its keys, counters and kept results, and its
    /// name in the queue list. Refused (exit 1) while it holds any task.
    #[command(after_help = super::EXIT_CODES_HELP)]
    Rm(super::remove::RmArgs),
    /// Show or set the queue's rate limit and concurrency cap across all
    /// hosts (`--rate 100/s [--burst 20] [--concurrency 5]`, `--clear`).
    #[command(after_help = super::EXIT_CODES_HELP)]
    Limit(super::limits::LimitArgs),
}

/// One queue as `wasmq queues --json` prints it: the broker's statistics
/// plus who serves it.
#[derive(Debug, Serialize)]
struct QueueRow<'a> {
    #[serde(flatten)]
    stats: &'a QueueStats,
    /// Live hosts with a plugin for the queue's type.
    live_hosts: u64,
    /// Whether the counters show that any consumer ever ran its tasks.
    ever_run: bool,
}

/// The "served by" cell: how many live hosts serve the queue, or whether
/// one ever did.
fn served_by(live_hosts: u64, ever_run: bool) -> String {
    match (live_hosts, ever_run) {
        (0, true) => "none now".to_owned(),
        (0, false) => "none, never ran".to_owned(),
        (1, _) => "1 host".to_owned(),
        (n, _) => format!("{n} hosts"),
    }
}

/// Runs `wasmq queues` (or `wasmq queues rm`).
pub async fn run(args: QueuesArgs) -> anyhow::Result<()> {
    match args.action {
        Some(QueuesAction::Rm(rm)) => return super::remove::run(rm).await,
        Some(QueuesAction::Limit(limit)) => return super::limits::run(limit).await,
        None => {}
    }
    let client = args.common.connect().await?;
    let stats = within("read the queue sizes", client.stats()).await?;
    let names: Vec<&str> = stats.iter().map(|q| q.queue.as_str()).collect();
    let hosts = within("list the live hosts", client.serving_hosts(&names)).await?;
    let rows: Vec<QueueRow> = stats
        .iter()
        .zip(hosts)
        .map(|(stats, live_hosts)| QueueRow {
            stats,
            live_hosts,
            ever_run: stats.counters.ever_run(),
        })
        .collect();
    if args.common.json {
        return print_json(&rows);
    }
    let mut table = Table::new([
        "queue",
        "served by",
        "paused",
        "pending",
        "(high/normal/low)",
        "scheduled",
        "retry-wait",
        "active",
        "dead",
        "waiting",
    ]);
    for row in &rows {
        let q = row.stats;
        let [high, normal, low] = q.pending_by_priority;
        table.row([
            q.queue.clone(),
            served_by(row.live_hosts, row.ever_run),
            if q.paused { "yes" } else { "no" }.to_owned(),
            q.pending.to_string(),
            format!("{high}/{normal}/{low}"),
            q.scheduled.to_string(),
            q.retry_wait.to_string(),
            q.active.to_string(),
            q.dead.to_string(),
            q.waiting.to_string(),
        ]);
    }
    table.print_or("no queues yet: nothing was ever enqueued in this namespace")?;
    let unserved: Vec<&str> = rows
        .iter()
        .filter(|row| row.live_hosts == 0)
        .map(|row| row.stats.queue.as_str())
        .collect();
    if !unserved.is_empty() {
        eprintln!(
            "note: no live host serves {}; a host runs a queue's tasks when <type>.wasm is in \
             its plugins directory (a mistyped type? `wasmq queues rm <queue>` removes an empty \
             queue)",
            unserved.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_by_says_who_or_whether_ever() {
        assert_eq!(served_by(0, false), "none, never ran");
        assert_eq!(served_by(0, true), "none now");
        assert_eq!(served_by(1, false), "1 host");
        assert_eq!(served_by(3, true), "3 hosts");
    }
}
