//! `wasmq queues [rm]`, `wasmq stats`, `wasmq pause` and `wasmq resume`.
//!
//! `queues` answers "where are my tasks right now" (sizes per state, and
//! whether any live host serves the queue), and `stats` answers "what has
//! happened" (lifetime counters and the per-minute throughput of the last
//! minutes). Both read the same broker statistics as the HTTP API and the
//! dashboard, so the numbers always agree.
//!
//! Enqueueing to a type no host serves is allowed (hosts may start later),
//! so a typo in a type silently makes a queue nobody drains; `queues` marks
//! such queues, and `queues rm` removes one once it is empty.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use clap::{Args, Subcommand};
use serde::Serialize;

use super::Common;
use super::exit::within;
use super::table::{Table, emit, print_json, timestamp};
use crate::broker::{Counters, QueueStats, ThroughputPoint};

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

/// Arguments of `wasmq stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Only this queue.
    #[arg(long, value_name = "QUEUE")]
    pub queue: Option<String>,
    /// How many minutes of throughput to show (the current minute included).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub minutes: u32,
    #[command(flatten)]
    pub common: Common,
}

/// Arguments of `wasmq pause` and `wasmq resume`.
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// The queue (task type).
    pub queue: String,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `wasmq queues` (or `wasmq queues rm`).
pub async fn queues(args: QueuesArgs) -> anyhow::Result<()> {
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

/// What `wasmq stats --json` prints.
#[derive(Debug, Serialize)]
struct StatsJson<'a> {
    minutes: u32,
    queues: Vec<QueueCounters<'a>>,
    throughput: Vec<ThroughputPoint>,
}

#[derive(Debug, Serialize)]
struct QueueCounters<'a> {
    queue: &'a str,
    counters: Counters,
}

/// Runs `wasmq stats`.
pub async fn stats(args: StatsArgs) -> anyhow::Result<()> {
    let client = args.common.connect().await?;
    let stats: Vec<QueueStats> = match &args.queue {
        Some(queue) => vec![
            within(
                &format!("read the stats of queue {queue}"),
                client.queue_stats(queue),
            )
            .await?,
        ],
        None => within("read the queue stats", client.stats()).await?,
    };
    let mut series = Vec::with_capacity(stats.len());
    for q in &stats {
        let what = format!("read the throughput of queue {}", q.queue);
        series.push(within(&what, client.throughput(&q.queue, args.minutes)).await?);
    }
    let throughput = merge_throughput(series);
    if args.common.json {
        return print_json(&StatsJson {
            minutes: args.minutes,
            queues: stats
                .iter()
                .map(|q| QueueCounters {
                    queue: &q.queue,
                    counters: q.counters,
                })
                .collect(),
            throughput,
        });
    }
    let mut table = Table::new([
        "queue",
        "enqueued",
        "completed",
        "failed",
        "retried",
        "dead",
        "cancelled",
        "expired",
        "redriven",
    ]);
    for q in &stats {
        let c = &q.counters;
        let mut row = vec![q.queue.clone()];
        row.extend(
            [
                c.enqueued,
                c.completed,
                c.failed,
                c.retried,
                c.dead,
                c.cancelled,
                c.expired,
                c.redriven,
            ]
            .map(|n| n.to_string()),
        );
        table.row(row);
    }
    table.print_or("no queues yet: nothing was ever enqueued in this namespace")?;
    let scope = match &args.queue {
        Some(queue) => format!("queue {queue}"),
        None => format!("all {} queue(s)", stats.len()),
    };
    emit(format!(
        "\nthroughput, last {} minute(s), {scope}:\n",
        args.minutes
    ))?;
    let mut minutes = Table::new(["minute (UTC)", "completed", "failed", "completed/s"]);
    for point in &throughput {
        let start = UNIX_EPOCH + Duration::from_millis(point.minute_start_ms);
        minutes.row([
            timestamp(Some(start)),
            point.completed.to_string(),
            point.failed.to_string(),
            format!("{:.1}", point.completed as f64 / 60.0),
        ]);
    }
    minutes.print_or("no throughput recorded")?;
    let (completed, failed) = throughput
        .iter()
        .fold((0, 0), |(c, f), p| (c + p.completed, f + p.failed));
    emit(format!("total: {completed} completed, {failed} failed\n"))
}

/// Sums per-queue series minute by minute, oldest first.
pub fn merge_throughput(series: Vec<Vec<ThroughputPoint>>) -> Vec<ThroughputPoint> {
    let mut by_minute: BTreeMap<u64, ThroughputPoint> = BTreeMap::new();
    for point in series.into_iter().flatten() {
        let sum = by_minute
            .entry(point.minute_start_ms)
            .or_insert(ThroughputPoint {
                minute_start_ms: point.minute_start_ms,
                ..ThroughputPoint::default()
            });
        sum.completed += point.completed;
        sum.failed += point.failed;
    }
    by_minute.into_values().collect()
}

/// Runs `wasmq pause` (`pause == true`) or `wasmq resume`.
pub async fn pause(args: PauseArgs, pause: bool) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn point(minute: u64, completed: u64, failed: u64) -> ThroughputPoint {
        ThroughputPoint {
            minute_start_ms: minute * 60_000,
            completed,
            failed,
        }
    }

    #[test]
    fn served_by_says_who_or_whether_ever() {
        assert_eq!(served_by(0, false), "none, never ran");
        assert_eq!(served_by(0, true), "none now");
        assert_eq!(served_by(1, false), "1 host");
        assert_eq!(served_by(3, true), "3 hosts");
    }

    #[test]
    fn merges_by_minute() {
        let merged = merge_throughput(vec![
            vec![point(1, 5, 0), point(2, 1, 1)],
            vec![point(2, 2, 3), point(3, 0, 0)],
        ]);
        assert_eq!(merged, vec![point(1, 5, 0), point(2, 3, 4), point(3, 0, 0)]);
    }

    proptest! {
        /// Merging keeps every count, sorts by minute, and has one point per minute.
        #[test]
        fn merge_preserves_totals(series in prop::collection::vec(
            prop::collection::vec((0u64..20, 0u64..1000, 0u64..1000), 0..10), 0..6)
        ) {
            let series: Vec<Vec<ThroughputPoint>> = series
                .into_iter()
                .map(|s| s.into_iter().map(|(m, c, f)| point(m, c, f)).collect())
                .collect();
            let total = |points: &[ThroughputPoint]| points.iter()
                .fold((0, 0), |(c, f), p| (c + p.completed, f + p.failed));
            let expected = series.iter().fold((0, 0), |(c, f), s| {
                let (sc, sf) = total(s);
                (c + sc, f + sf)
            });
            let merged = merge_throughput(series);
            prop_assert_eq!(total(&merged), expected);
            prop_assert!(merged.windows(2).all(|w| w[0].minute_start_ms < w[1].minute_start_ms));
        }
    }
}
