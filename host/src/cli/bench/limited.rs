//! The cost of a rate-limited lease, next to a plain one, in the same run.
//!
//! With `--rate R`, after the main phases, the same host drains two more
//! backlogs of the bench queue: one with no limit, then one with a limit of
//! `R` (burst `R`, capped at the largest burst) set in Redis. Pick `R` high
//! enough not to bind (the default bench is far below 1,000,000/s): the
//! difference is then what the lease script's limit check and GCRA update
//! cost, in Redis CPU and in host CPU per task, with everything else equal.

use super::launch::HostUnderTest;
use super::phases::{self, Drained};
use super::target::Target;
use crate::Client;
use crate::ratelimit::{MAX_BURST, QueueLimits, Rate};
use anyhow::{Context, Result};
use indicatif::ProgressBar;
use serde::Serialize;

/// Most tasks per drain of this phase.
pub const MAX_TASKS: u64 = 20_000;

/// What the two drains measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitCost {
    /// The limit of the limited drain.
    pub rate: String,
    /// Tasks per drain.
    pub n: u64,
    /// Redis CPU per task, µs, without and with the limit.
    pub plain_redis_cpu_us_per_task: f64,
    pub limited_redis_cpu_us_per_task: f64,
    /// Host CPU per task, µs, without and with the limit.
    pub plain_host_cpu_us_per_task: f64,
    pub limited_host_cpu_us_per_task: f64,
    /// Drain rates, tasks/s, without and with the limit.
    pub plain_per_s: f64,
    pub limited_per_s: f64,
}

/// Drains `n` tasks of `queue` plain, then `n` under `rate`.
pub async fn measure(
    client: &Client,
    target: &mut Target,
    host: &mut HostUnderTest,
    queue: &str,
    payload: &[u8],
    n: u64,
    rate: Rate,
) -> Result<LimitCost> {
    let n = n.min(MAX_TASKS);
    client.clear_limits(queue).await?;
    let plain = drain(client, target, host, queue, payload, n).await?;
    let limits = QueueLimits {
        rate: Some(rate),
        burst: Some(rate.count.min(MAX_BURST)),
        concurrency: None,
    };
    client
        .set_limits(queue, &limits)
        .await
        .context("setting the bench queue's limit")?;
    let limited = drain(client, target, host, queue, payload, n).await;
    client.clear_limits(queue).await?;
    let limited = limited?;
    let per = |us: u64, d: &Drained| us as f64 / d.completed.max(1) as f64;
    let rate_of = |d: &Drained| d.completed as f64 / d.wall.as_secs_f64().max(1e-9);
    Ok(LimitCost {
        rate: rate.to_string(),
        n,
        plain_redis_cpu_us_per_task: per(plain.redis_cpu_us, &plain),
        limited_redis_cpu_us_per_task: per(limited.redis_cpu_us, &limited),
        plain_host_cpu_us_per_task: per(plain.host_cpu_us, &plain),
        limited_host_cpu_us_per_task: per(limited.host_cpu_us, &limited),
        plain_per_s: rate_of(&plain),
        limited_per_s: rate_of(&limited),
    })
}

async fn drain(
    client: &Client,
    target: &mut Target,
    host: &mut HostUnderTest,
    queue: &str,
    payload: &[u8],
    n: u64,
) -> Result<Drained> {
    let bar = ProgressBar::hidden();
    let queues = [queue.to_owned()];
    phases::enqueue_backlog(client, target, &queues, payload, n as usize, &bar).await?;
    phases::drain(client, target, host, &queues, n, &bar).await
}
