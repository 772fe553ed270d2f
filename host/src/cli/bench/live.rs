//! The live phase: latency of single tasks arriving at a steady rate at an
//! idle host.
//!
//! # How completion is observed
//!
//! The broker stamps each final record with Redis's clock in milliseconds,
//! too coarse for a target below one millisecond, and polling `status` adds
//! the very load and delay being measured. Instead the bench asks Redis to
//! tell it the instant a task completes, without changing the server's
//! configuration: a RESP3 connection turns on client-side-caching tracking
//! in broadcast mode for the prefix of the queue's final-record keys
//! (`CLIENT TRACKING ON BCAST PREFIX <ns>:{<queue>}:r:`). When the host's
//! ack script writes `r:<id>`, Redis pushes an `invalidate` message naming
//! the key to this connection alone. The push handler stamps it with the
//! monotonic clock as it is decoded, on the connection's reader task.
//!
//! A task's latency is then the time from just before its `enqueue` call
//! to that push: the enqueue round trip, the host's wake-up (`BLPOP`), the
//! lease, the plugin run, the ack, and Redis's push back to the bench. It
//! is what a producer waiting for the result would see, to within the
//! push's one extra hop through the loopback (tens of microseconds).

use super::sample::Percentiles;
use crate::Client;
use crate::broker::keys::QueueKeys;
use crate::task::TaskSpec;
use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;
use redis::{IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, Value};
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

/// Completion instants by final-record key, filled by the push handler.
type Seen = Arc<Mutex<HashMap<Vec<u8>, Instant>>>;

/// Sends `n` tasks to `queue` at `rate` per second, one at a time, and
/// measures each one's latency to completion.
pub async fn run(
    client: &Client,
    url: &str,
    queue: &str,
    payload: &[u8],
    rate: f64,
    n: usize,
    bar: &ProgressBar,
) -> Result<LiveResult> {
    let keys = QueueKeys::new(&client.options().namespace, queue)?;
    let prefix = keys.result("");
    let seen: Seen = Arc::default();
    let _tracking = track_completions(url, &prefix, seen.clone()).await?;

    let mut starts: Vec<(Vec<u8>, Instant)> = Vec::with_capacity(n);
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
        starts.push((keys.result(id.local()).into_bytes(), start));
        bar.inc(1);
    }
    let achieved_rate = n as f64 / began.elapsed().as_secs_f64();

    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut latencies = loop {
        let found = collect(&starts, &seen);
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
    let latency = Percentiles::of_micros(&mut latencies).context("no live samples (--live-n 0?)")?;
    Ok(LiveResult {
        n,
        latency,
        achieved_rate,
    })
}

/// Latencies in µs of the tasks whose completion was seen so far.
fn collect(starts: &[(Vec<u8>, Instant)], seen: &Seen) -> Vec<u64> {
    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
    starts
        .iter()
        .filter_map(|(key, start)| {
            let done = seen.get(key)?;
            Some(done.saturating_duration_since(*start).as_micros() as u64)
        })
        .collect()
}

/// Opens a RESP3 connection that records, in `seen`, the first instant each
/// key under `prefix` is written. Tracking lasts as long as the returned
/// connection.
async fn track_completions(
    url: &str,
    prefix: &str,
    seen: Seen,
) -> Result<redis::aio::MultiplexedConnection> {
    let info = url
        .into_connection_info()
        .context("parsing the Redis URL for the live phase")?;
    let settings = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
    let client = redis::Client::open(info.set_redis_settings(settings))?;
    let handler = move |push: PushInfo| -> Result<(), std::convert::Infallible> {
        let now = Instant::now();
        if push.kind == PushKind::Invalidate {
            let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
            for key in invalidated_keys(&push.data) {
                seen.entry(key).or_insert(now);
            }
        }
        Ok(())
    };
    let config = redis::AsyncConnectionConfig::new().set_push_sender(handler);
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .context("opening the RESP3 connection that observes completions (needs Redis 6+)")?;
    redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        .arg("BCAST")
        .arg("PREFIX")
        .arg(prefix)
        .exec_async(&mut conn)
        .await
        .context("CLIENT TRACKING ON BCAST (needs Redis 6+)")?;
    Ok(conn)
}

/// The keys named by an `invalidate` push (`[[key, ...]]`; nil means a
/// flush, which names none).
fn invalidated_keys(data: &[Value]) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    for item in data {
        match item {
            Value::Array(items) => keys.extend(items.iter().filter_map(|v| match v {
                Value::BulkString(bytes) => Some(bytes.clone()),
                Value::SimpleString(text) => Some(text.clone().into_bytes()),
                _ => None,
            })),
            Value::BulkString(bytes) => keys.push(bytes.clone()),
            _ => {}
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidate_payloads() {
        let data = vec![Value::Array(vec![
            Value::BulkString(b"ns:{q}:r:1".to_vec()),
            Value::BulkString(b"ns:{q}:r:2".to_vec()),
        ])];
        assert_eq!(invalidated_keys(&data), vec![b"ns:{q}:r:1".to_vec(), b"ns:{q}:r:2".to_vec()]);
        assert!(invalidated_keys(&[Value::Nil]).is_empty());
    }
}
