//! Measures the broker's cost in Redis, from Redis's own INFO:
//!
//! * memory per queued task beyond its 100-byte payload (`used_memory`
//!   delta over 100,000 pending tasks; target ≤ 150 bytes),
//! * Redis CPU per task for lease + ack in batches of 100
//!   (`used_cpu_sys + used_cpu_user` delta; target ≤ 10 µs), with and
//!   without stored results,
//! * batch enqueue and drain throughput (printed; they depend on the
//!   machine and on the build profile, so nothing is asserted about them).
//!
//! Heavy, so ignored by default. Run it in release:
//! `cargo test -p wasmq-tests --release --test broker_bench -- --ignored --nocapture`

use std::time::{Duration, Instant};
use wasmq::Client;
use wasmq::broker::{BrokerOptions, Completion};
use wasmq::task::TaskSpec;
use wasmq_tests::broker::{connect, drain};
use wasmq_tests::redis::RedisServer;

const N: usize = 100_000;
const PAYLOAD: usize = 100;
const CONSUMERS: usize = 4;
const BATCH: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run with --ignored --nocapture, preferably --release"]
async fn redis_cost_per_task() {
    let server = RedisServer::start();
    let client = connect(&server.url(), BrokerOptions::default()).await;
    // Warm up: scripts loaded, queue registered, allocator settled.
    client.enqueue_many(specs("mem", 1000)).await.unwrap();
    let leased = drain(&client, "mem", 1000).await;
    let acks: Vec<_> = leased.into_iter().map(|t| (t, completion())).collect();
    client.ack_many(&acks).await.unwrap();

    let before = used_memory(&server);
    let started = Instant::now();
    client.enqueue_many(specs("mem", N)).await.unwrap();
    let enqueue_time = started.elapsed();
    let after = used_memory(&server);
    let per_task = (after - before) as f64 / N as f64;
    println!(
        "enqueue: {N} tasks in {enqueue_time:?} = {:.0} tasks/s",
        N as f64 / enqueue_time.as_secs_f64()
    );
    println!(
        "memory: {per_task:.1} bytes per pending task, {:.1} beyond the {PAYLOAD}-byte payload",
        per_task - PAYLOAD as f64
    );

    let (cpu_us, rate) = drain_and_measure(&server, &client, "mem").await;
    println!(
        "lease+ack, results kept 24 h: {cpu_us:.2} µs Redis CPU per task, drain {rate:.0} tasks/s"
    );

    let no_results = BrokerOptions {
        result_ttl: Duration::ZERO,
        ..BrokerOptions::default()
    };
    let lean = connect(&server.url(), no_results).await;
    lean.enqueue_many(specs("lean", N)).await.unwrap();
    let (cpu_us_lean, rate_lean) = drain_and_measure(&server, &lean, "lean").await;
    println!(
        "lease+ack, no results kept: {cpu_us_lean:.2} µs Redis CPU per task, drain {rate_lean:.0} tasks/s"
    );

    assert!(
        per_task - PAYLOAD as f64 <= 150.0,
        "{per_task:.1} bytes per task is above the 150-byte budget"
    );
}

fn specs(queue: &str, n: usize) -> Vec<TaskSpec> {
    (0..n).map(|i| TaskSpec::new(queue, payload(i))).collect()
}

/// A JSON payload of exactly PAYLOAD bytes.
fn payload(i: usize) -> Vec<u8> {
    let head = format!("{{\"to\":\"user{i}@example.com\",\"pad\":\"");
    let mut p = head.into_bytes();
    p.resize(PAYLOAD - 2, b'x');
    p.extend_from_slice(b"\"}");
    p
}

fn completion() -> Completion {
    Completion {
        output: b"{\"ok\":true}".to_vec(),
        content_type: Some("application/json".into()),
        plugin_version: "1.0.0".into(),
        fuel_used: Some(1000),
        wall: Duration::from_millis(1),
        children: Vec::new(),
        run: None,
    }
}

/// Drains `queue` with CONSUMERS concurrent lease(BATCH) + ack_many loops;
/// returns (Redis CPU µs per task, tasks per second).
async fn drain_and_measure(
    server: &RedisServer,
    client: &Client,
    queue: &'static str,
) -> (f64, f64) {
    let cpu_before = used_cpu(server);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONSUMERS {
        let c = client.clone();
        workers.push(tokio::spawn(async move {
            let mut done = 0usize;
            loop {
                let tasks = c.lease(queue, BATCH).await.unwrap();
                if tasks.is_empty() {
                    return done;
                }
                let acks: Vec<_> = tasks.into_iter().map(|t| (t, completion())).collect();
                done += c.ack_many(&acks).await.unwrap().len();
            }
        }));
    }
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    let elapsed = started.elapsed();
    let cpu = used_cpu(server) - cpu_before;
    assert_eq!(total, N);
    (cpu * 1e6 / N as f64, N as f64 / elapsed.as_secs_f64())
}

fn used_memory(server: &RedisServer) -> i64 {
    server.info("memory")["used_memory"].parse().unwrap()
}

fn used_cpu(server: &RedisServer) -> f64 {
    let info = server.info("cpu");
    let get = |k: &str| info[k].parse::<f64>().unwrap();
    get("used_cpu_sys") + get("used_cpu_user")
}
