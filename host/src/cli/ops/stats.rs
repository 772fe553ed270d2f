//! `wasmq stats`: what has happened, queue by queue: the lifetime counters
//! and the per-minute throughput of the last minutes, summed over the
//! queues shown.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use clap::Args;
use serde::Serialize;

use super::Common;
use super::exit::within;
use super::table::{Table, emit, print_json, timestamp};
use crate::broker::{Counters, QueueStats, ThroughputPoint};

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
pub async fn run(args: StatsArgs) -> anyhow::Result<()> {
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
