//! The live phase: latency of single tasks arriving at a steady rate at an
//! idle host.
//!
//! # How completion is observed
//!
//! The broker stamps each final record with Redis's clock in milliseconds,
//! too coarse for a target below one millisecond, and polling `status` adds
//! the very load and delay being measured. Instead the bench listens where
//! the broker announces completions: every ack call PUBLISHes the ids it
//! completed ([`Client::completion_subscription`], a RESP3 connection of
//! its own). A listener task stamps each id with the monotonic clock as it
//! comes off that connection; the bench runs on a single-threaded runtime
//! that is otherwise idle while it waits, so the stamp follows the message's
//! arrival by microseconds.
//!
//! A task's latency is then the time from just before its `enqueue` call to
//! that stamp: the enqueue round trip, the host's wake-up (`BLPOP`), the
//! lease, the plugin run, the ack, and the announcement's trip back to the
//! bench. It is what a producer waiting for the result would see, to within
//! the announcement's one extra hop through Redis (tens of microseconds).

use super::sample::Percentiles;
use crate::Client;
use crate::task::{TaskId, TaskSpec};
use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::time::MissedTickBehavior;

/// How long the bench waits, after the last enqueue, for stragglers.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the live phase measured.
#[derive(Debug, Clone)]
pub struct LiveResult {
    /// Tasks sent and completed.
    pub n: usize,
    /// Enqueue → completion, in milliseconds.
    pub latency: Percentiles,
    /// The rate actually achieved (tasks per second of sending).
    pub achieved_rate: f64,
}

/// Completion instants by task, filled by the listener.
type Seen = Arc<Mutex<HashMap<TaskId, Instant>>>;

/// Sends `n` tasks to `queue` at `rate` per second, one at a time, and
/// measures each one's latency to completion.
pub async fn run(
    client: &Client,
    queue: &str,
    payload: &[u8],
    rate: f64,
    n: usize,
    bar: &ProgressBar,
) -> Result<LiveResult> {
    let seen: Seen = Arc::default();
    let listener = listen(client, seen.clone()).await?;
    let measured = send_and_wait(client, queue, payload, rate, n, bar, &seen).await;
    listener.abort();
    measured
}

/// Sends the tasks, then waits for the last completions.
async fn send_and_wait(
    client: &Client,
    queue: &str,
    payload: &[u8],
    rate: f64,
    n: usize,
    bar: &ProgressBar,
    seen: &Seen,
) -> Result<LiveResult> {
    let mut starts: Vec<(TaskId, Instant)> = Vec::with_capacity(n);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let began = Instant::now();
    for _ in 0..n {
        ticker.tick().await;
        let start = Instant::now();
        let id = client
            .enqueue(TaskSpec::new(queue, payload.to_vec()))
            .await
            .with_context(|| format!("live enqueue to queue {queue:?}"))?;
        starts.push((id, start));
        bar.inc(1);
    }
    let achieved_rate = n as f64 / began.elapsed().as_secs_f64();

    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut latencies = loop {
        let found = collect(&starts, seen);
        if found.len() == starts.len() {
            break found;
        }
        if Instant::now() > deadline {
            bail!(
                "only {} of {} live tasks completed within {SETTLE_TIMEOUT:?} of the last enqueue; \
                 is the host running and the plugin succeeding? (see `wasmq stats`)",
                found.len(),
                starts.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let latency =
        Percentiles::of_micros(&mut latencies).context("no live samples (--live-n 0?)")?;
    Ok(LiveResult {
        n,
        latency,
        achieved_rate,
    })
}

/// Latencies in µs of the tasks whose completion was seen so far.
fn collect(starts: &[(TaskId, Instant)], seen: &Seen) -> Vec<u64> {
    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
    starts
        .iter()
        .filter_map(|(key, start)| {
            let done = seen.get(key)?;
            Some(done.saturating_duration_since(*start).as_micros() as u64)
        })
        .collect()
}

/// Subscribes to completions and records, in `seen`, the first instant
/// each task id is announced. Returns once subscribed.
async fn listen(client: &Client, seen: Seen) -> Result<tokio::task::JoinHandle<()>> {
    let mut completions = client
        .completion_subscription()
        .await
        .context("subscribing to completions (needs Redis 6+ for RESP3)")?;
    Ok(tokio::spawn(async move {
        while let Some(id) = completions.next().await {
            let now = Instant::now();
            seen.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(id)
                .or_insert(now);
        }
    }))
}
