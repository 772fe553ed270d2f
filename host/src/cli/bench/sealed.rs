//! `wasmq bench --encrypt`: the cost of encryption at rest, measured in the
//! same run as the plain figures.
//!
//! After the plain phases, a second backlog of the same size and payload
//! is enqueued by a producer that seals every payload with a fresh random
//! key, and drained by a second host (same mode and concurrency) that holds
//! the key from a file, opens each payload and seals each output. The Redis
//! and host CPU per task of both passes then sit side by side in the report,
//! so the difference is encryption and not another machine or moment.

use super::launch::{HostMode, HostSpec, HostUnderTest};
use super::phases;
use super::target::Target;
use crate::Client;
use crate::broker::BrokerOptions;
use crate::crypto::{Encryption, KeyRing};
use anyhow::{Context, Result};
use base64::Engine;
use indicatif::ProgressBar;
use rand::RngCore;
use serde::Serialize;
use std::path::Path;

/// What the encrypted pass measured (per task, like the plain figures).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SealedFigures {
    /// Redis CPU per queued task at enqueue, µs.
    pub enqueue_redis_cpu_us_per_task: f64,
    /// Redis CPU per task during the drain, µs.
    pub redis_cpu_us_per_task: f64,
    /// Host CPU per task during the drain, µs.
    pub host_cpu_us_per_task: f64,
    /// Tasks per second over the drain's wall time.
    pub drain_per_s: f64,
}

/// Runs the encrypted pass: enqueue `n` sealed tasks of `queue`, drain them
/// under a host that holds the key.
pub async fn run(
    target: &mut Target,
    mode: HostMode,
    spec: &HostSpec,
    work: &Path,
    queue: &str,
    payload: &[u8],
    n: u64,
) -> Result<SealedFigures> {
    let mut key = [0u8; crate::crypto::KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    let ring_text = format!(
        "bench:{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    );
    let key_file = work.join("bench.keys");
    std::fs::write(&key_file, &ring_text).context("writing the bench's key file")?;
    let ring = KeyRing::parse(&ring_text)?;
    let opts = BrokerOptions {
        namespace: target.namespace.clone(),
        encryption: Some(Encryption::new(ring, None)),
        ..BrokerOptions::default()
    };
    let client = Client::connect(&target.url, opts)
        .await
        .context("connecting the encrypting producer")?;
    let hidden = ProgressBar::hidden();
    let queues = [queue.to_owned()];
    let enqueued =
        phases::enqueue_backlog(&client, target, &queues, payload, n as usize, &hidden).await?;
    let spec = HostSpec {
        keys_file: Some(key_file),
        ..spec.clone()
    };
    let mut host = HostUnderTest::start(mode, &spec, work)?;
    let drained = async {
        host.wait_ready(&client, &queues).await?;
        phases::drain(&client, target, &mut host, &queues, n, &hidden).await
    }
    .await;
    let stopped = host.stop().await;
    let drained = drained?;
    stopped?;
    let per_task = |total: u64, tasks: u64| total as f64 / tasks.max(1) as f64;
    Ok(SealedFigures {
        enqueue_redis_cpu_us_per_task: per_task(enqueued.redis_cpu_us, n),
        redis_cpu_us_per_task: per_task(drained.redis_cpu_us, drained.completed),
        host_cpu_us_per_task: per_task(drained.host_cpu_us, drained.completed),
        drain_per_s: drained.completed as f64 / drained.wall.as_secs_f64().max(1e-9),
    })
}
