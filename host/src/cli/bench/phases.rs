//! The backlog phases: enqueue N tasks, drain them, and read back how long
//! each one waited.
//!
//! The queues (one, or `--queues Q` filled round-robin) are paused while
//! the backlog is built, so the Redis memory reading after the enqueue sees
//! every task queued at once and none run. The hosts are started on the
//! paused queues and the clock starts when the queues are resumed: startup
//! (compiling or loading the plugin) is reported on its own and does not
//! dilute the drain rate.
//!
//! Completion is watched through the queues' own counters (one small
//! script call per queue every [`POLL`]), which costs Redis well under 0.1%
//! of the drain's work. Latencies are read afterwards from each task's final
//! record: the enqueue stamp (producer clock) and the ack stamp (Redis
//! clock), both in milliseconds, on the same machine.

use super::launch::HostUnderTest;
use super::sample::Percentiles;
use super::target::Target;
use crate::Client;
use crate::task::{TaskId, TaskSpec};
use anyhow::{Context, Result, bail};
use futures::stream::{self, StreamExt, TryStreamExt};
use indicatif::ProgressBar;
use std::time::{Duration, Instant};

/// Tasks per `enqueue_many` call (the client pipelines its chunks).
const ENQUEUE_SLICE: usize = 10_000;

/// How often the drain's progress is read.
const POLL: Duration = Duration::from_millis(20);

/// A drain that completes nothing for this long has failed.
const STALL: Duration = Duration::from_secs(30);

/// Final records read at once after the drain.
const READ_CONCURRENCY: usize = 64;

/// A JSON payload of exactly `bytes` bytes: `{"p":"xxx…"}` (at least 8).
pub fn payload(bytes: usize) -> Vec<u8> {
    let pad = bytes.saturating_sub(8);
    let mut out = Vec::with_capacity(bytes.max(8));
    out.extend_from_slice(b"{\"p\":\"");
    out.resize(6 + pad, b'x');
    out.extend_from_slice(b"\"}");
    out
}

/// What building the backlog measured.
#[derive(Debug, Clone)]
pub struct Enqueued {
    /// The ids, in order.
    pub ids: Vec<TaskId>,
    /// From the first enqueue call to the last reply.
    pub elapsed: Duration,
    /// Growth of Redis `used_memory`.
    pub memory_delta: i64,
    /// Redis CPU spent, µs.
    pub redis_cpu_us: u64,
}

/// Pauses `queues` and enqueues `n` tasks to them, round-robin, with the
/// batch API.
pub async fn enqueue_backlog(
    client: &Client,
    target: &mut Target,
    queues: &[String],
    payload: &[u8],
    n: usize,
    bar: &ProgressBar,
) -> Result<Enqueued> {
    for queue in queues {
        client
            .pause(queue)
            .await
            .with_context(|| format!("pausing the bench queue {queue:?}"))?;
    }
    let before = target.reading().await?;
    let mut ids = Vec::with_capacity(n);
    let started = Instant::now();
    while ids.len() < n {
        let slice = ENQUEUE_SLICE.min(n - ids.len());
        let specs = (ids.len()..ids.len() + slice)
            .map(|i| TaskSpec::new(&queues[i % queues.len()], payload.to_vec()))
            .collect();
        let batch = client.enqueue_many(specs).await.with_context(|| {
            format!(
                "enqueueing tasks {}..{} of the backlog",
                ids.len(),
                ids.len() + slice
            )
        })?;
        ids.extend(batch);
        bar.set_position(ids.len() as u64);
    }
    let elapsed = started.elapsed();
    let after = target.reading().await?;
    Ok(Enqueued {
        ids,
        elapsed,
        memory_delta: after.used_memory as i64 - before.used_memory as i64,
        redis_cpu_us: after.cpu_us.saturating_sub(before.cpu_us),
    })
}

/// What the drain measured.
#[derive(Debug, Clone)]
pub struct Drained {
    /// Tasks completed.
    pub completed: u64,
    /// From resuming the queue to seeing the last completion.
    pub wall: Duration,
    /// Redis CPU meanwhile, µs.
    pub redis_cpu_us: u64,
    /// Host process CPU meanwhile, µs.
    pub host_cpu_us: u64,
    /// Host resident memory: the most seen during the drain minus before.
    pub rss_growth: u64,
}

/// Resumes the paused `queues` under running hosts and waits until `n`
/// more tasks have completed over all of them.
pub async fn drain(
    client: &Client,
    target: &mut Target,
    host: &mut HostUnderTest,
    queues: &[String],
    n: u64,
    bar: &ProgressBar,
) -> Result<Drained> {
    let base = counters(client, queues).await?;
    let redis_before = target.reading().await?;
    let host_before = host.cpu_us()?;
    let rss_before = host.rss_bytes()?;
    let mut rss_peak = rss_before;
    let started = Instant::now();
    for queue in queues {
        client
            .resume(queue)
            .await
            .with_context(|| format!("resuming the bench queue {queue:?}"))?;
    }
    let mut last_progress = (0u64, Instant::now());
    loop {
        tokio::time::sleep(POLL).await;
        let now = counters(client, queues).await?;
        rss_peak = rss_peak.max(host.rss_bytes()?);
        let completed = now.completed - base.completed;
        bar.set_position(completed);
        if completed >= n {
            break;
        }
        let failed = now.failed - base.failed;
        if failed > 0 {
            bail!(
                "{failed} tasks failed while draining {queues:?} (completed {completed} of {n}); \
                 the plugin is not fit for benchmarking: check it with `wasmq call`"
            );
        }
        host.check_alive()?;
        if completed > last_progress.0 {
            last_progress = (completed, Instant::now());
        } else if last_progress.1.elapsed() > STALL {
            bail!("the drain stalled: {completed} of {n} tasks completed and none for {STALL:?}");
        }
    }
    let wall = started.elapsed();
    let host_cpu_us = host.cpu_us()?.saturating_sub(host_before);
    let redis_after = target.reading().await?;
    let completed = counters(client, queues).await?.completed - base.completed;
    Ok(Drained {
        completed,
        wall,
        redis_cpu_us: redis_after.cpu_us.saturating_sub(redis_before.cpu_us),
        host_cpu_us,
        rss_growth: rss_peak.saturating_sub(rss_before),
    })
}

/// Completed and failed tasks so far, summed over `queues` (read at once).
async fn counters(client: &Client, queues: &[String]) -> Result<Totals> {
    let stats = futures::future::try_join_all(queues.iter().map(|q| client.queue_stats(q)))
        .await
        .context("reading the bench queues' counters")?;
    Ok(stats.iter().fold(Totals::default(), |sum, s| Totals {
        completed: sum.completed + s.counters.completed,
        failed: sum.failed + s.counters.failed,
    }))
}

/// Counters summed over the bench's queues.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    completed: u64,
    failed: u64,
}

/// Backlog latencies and the drain's span, from the final records.
#[derive(Debug, Clone)]
pub struct Records {
    /// Enqueue → completion, ms.
    pub latency: Percentiles,
    /// First lease to last ack (Redis clock), ms.
    pub span_ms: u64,
}

/// Reads the final record of every task in `ids`.
pub async fn read_records(client: &Client, ids: &[TaskId], bar: &ProgressBar) -> Result<Records> {
    let results: Vec<_> = stream::iter(ids)
        .map(|id| async move {
            let result = client
                .result(id)
                .await
                .with_context(|| format!("reading the result of {id}"))?;
            bar.inc(1);
            result.with_context(|| format!("task {id} has no completed record after the drain"))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let mut latencies = Vec::with_capacity(results.len());
    let (mut first_start, mut last_finish) = (u64::MAX, 0u64);
    for r in &results {
        let enqueued = r
            .enqueued_at_ms
            .context("a final record lacks its enqueue time")?;
        latencies.push(r.finished_at_ms.saturating_sub(enqueued));
        first_start = first_start.min(r.started_at_ms.unwrap_or(r.finished_at_ms));
        last_finish = last_finish.max(r.finished_at_ms);
    }
    let latency = Percentiles::of_millis(&mut latencies).context("no tasks to read")?;
    Ok(Records {
        latency,
        span_ms: last_finish.saturating_sub(first_start),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn payload_is_json_of_the_exact_size(bytes in 8usize..5000) {
            let p = payload(bytes);
            prop_assert_eq!(p.len(), bytes);
            let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
            prop_assert_eq!(v["p"].as_str().unwrap().len(), bytes - 8);
        }
    }
}
