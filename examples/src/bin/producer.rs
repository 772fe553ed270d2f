//! Enqueues a mixed workload, the way an application would: email tasks
//! (`{"to", "subject"}`) and image tasks (`{"width", "height", "scale"}`),
//! every tenth task high priority, every seventh delayed by a few minutes,
//! all in one pipelined batch.
//!
//! ```text
//! cargo run -p wasmq-examples --bin producer -- --redis redis://127.0.0.1:6379 --n 1000
//! ```

use anyhow::Context;
use clap::Parser;
use rand::Rng;
use serde_json::json;
use std::time::{Duration, Instant};
use wasmq::Client;
use wasmq::broker::BrokerOptions;
use wasmq::task::{Priority, TaskSpec};

/// Enqueue example email and image tasks.
#[derive(Debug, Parser)]
struct Args {
    /// Redis URL (`redis+cluster://host:port` or `?cluster=true` for Cluster).
    #[arg(long, env = "WASMQ_REDIS", default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// Number of tasks to enqueue.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Key namespace.
    #[arg(long, default_value = "wasmq")]
    namespace: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let opts = BrokerOptions {
        namespace: args.namespace.clone(),
        ..BrokerOptions::default()
    };
    let client = Client::connect(&args.redis, opts)
        .await
        .with_context(|| format!("connecting to {}", args.redis))?;
    let specs = workload(args.n, &mut rand::rng())?;
    let started = Instant::now();
    let ids = client
        .enqueue_many(specs)
        .await
        .context("enqueueing the workload")?;
    let elapsed = started.elapsed();
    println!(
        "enqueued {} tasks in {elapsed:?} ({:.0} tasks/s); first {}, last {}",
        ids.len(),
        ids.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        ids.first().map(ToString::to_string).unwrap_or_default(),
        ids.last().map(ToString::to_string).unwrap_or_default(),
    );
    for queue in ["email", "image"] {
        let s = client.queue_stats(queue).await?;
        println!("{queue}: {} pending, {} scheduled", s.pending, s.scheduled);
    }
    Ok(())
}

/// `n` tasks alternating between email and image.
fn workload(n: usize, rng: &mut impl Rng) -> anyhow::Result<Vec<TaskSpec>> {
    (0..n)
        .map(|i| {
            let spec = if i % 2 == 0 {
                TaskSpec::new("email", Vec::new()).json(&json!({
                    "to": format!("user{i}@example.com"),
                    "subject": format!("Welcome aboard, user {i}"),
                }))?
            } else {
                TaskSpec::new("image", Vec::new()).json(&json!({
                    "width": rng.random_range(320..4000),
                    "height": rng.random_range(240..3000),
                    "scale": 0.5,
                }))?
            };
            let spec = if i % 10 == 0 {
                spec.priority(Priority::High)
            } else {
                spec
            };
            let spec = if i % 7 == 3 {
                spec.delay(Duration::from_secs(60 * rng.random_range(1..=10)))
            } else {
                spec
            };
            Ok(spec.max_retries(3).timeout(Duration::from_secs(30)))
        })
        .collect()
}
