//! Issue 10 on a host: a guest blocked in a host call is retried or dead by
//! its policy when its deadline passes, stops when cancelled, and cannot
//! hold a SIGTERM hostage; and a burst of CPU-bound guests does not delay
//! the host's lease extension or heartbeat.
//!
//! Before the async runtime, such a task stayed active with its lease
//! extended forever, `cancel` did nothing, and the host outlived SIGTERM.

use std::time::{Duration, Instant};
use wasmq::broker::CancelOutcome;
use wasmq::task::{TaskSpec, TaskState};
use wasmq_tests::broker::client;
use wasmq_tests::host::{HostProcess, enqueue, eventually, json_tasks, settled, statuses, totals};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisServer;

const LONG: Duration = Duration::from_secs(600);

/// Both plugin kinds, from the same guest source.
const KINDS: [&str; 2] = ["stall", "stall-cmd"];

fn plugins() -> PluginsDir {
    let plugins = PluginsDir::with(&[
        ("stall", "stall"),
        ("stall-cmd", "stall-cmd"),
        ("echo", "echo"),
    ]);
    for kind in KINDS {
        plugins.manifest(kind, "fuel = 1_000_000_000_000_000\ntimeout = \"1h\"\n");
    }
    plugins
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_blocked_in_a_host_call_times_out_and_follows_its_retry_policy() {
    let redis = RedisServer::start();
    let plugins = plugins();
    let host = HostProcess::start(
        &redis.url(),
        plugins.path(),
        &[
            "--concurrency",
            "8",
            "--backoff-base",
            "10ms",
            "--backoff-cap",
            "10ms",
        ],
    );
    let client = client(&redis.url()).await;
    let mut specs = Vec::new();
    for kind in KINDS {
        for mode in ["sleep", "stdin"] {
            specs.push(
                TaskSpec::new(kind, format!("\"{mode}\""))
                    .timeout(Duration::from_secs(1))
                    .max_retries(1),
            );
        }
    }
    let ids = enqueue(&client, specs).await;
    let t = settled(&client, &KINDS, ids.len() as u64, LONG).await;
    assert_eq!(t.dead, ids.len() as u64, "{t:?}\n{}", host.log());
    assert_eq!(
        t.retried,
        ids.len() as u64,
        "each was retried once first: {t:?}"
    );
    for status in statuses(&client, &ids).await {
        assert_eq!(
            (status.state, status.attempts),
            (TaskState::Dead, 2),
            "{status:?}"
        );
        let error = status.last_error.clone().unwrap_or_default();
        assert!(error.contains("timed out"), "{status:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_guest_blocked_in_a_host_call_stops_it_and_frees_its_slot() {
    let redis = RedisServer::start();
    let plugins = plugins();
    let host = HostProcess::start(&redis.url(), plugins.path(), &["--concurrency", "1"]);
    let client = client(&redis.url()).await;
    for kind in KINDS {
        let ids = enqueue(&client, json_tasks(kind, [serde_json::json!("sleep")])).await;
        eventually("the sleeper to run", LONG, || async {
            (totals(&client, &[kind]).await.active == 1).then_some(())
        })
        .await;
        let asked = Instant::now();
        assert_eq!(
            client.cancel(&ids[0]).await.unwrap(),
            CancelOutcome::Requested
        );
        eventually("the sleeper to be cancelled", LONG, || async {
            let status = client.status(&ids[0]).await.unwrap()?;
            (status.state == TaskState::Cancelled).then_some(())
        })
        .await;
        println!("{kind}: cancelled {:?} after the request", asked.elapsed());
        // With concurrency 1, the next task runs only if the sleeper stopped.
        let next = enqueue(
            &client,
            json_tasks("echo", [serde_json::json!({ "after": kind })]),
        )
        .await;
        eventually("the next task to run", LONG, || async {
            let status = client.status(&next[0]).await.unwrap()?;
            (status.state == TaskState::Completed).then_some(())
        })
        .await;
    }
    assert!(
        host.log().contains("cancellation requested"),
        "{}",
        host.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_ends_a_host_whose_guests_are_blocked_in_host_calls() {
    let redis = RedisServer::start();
    let plugins = plugins();
    let mut host = HostProcess::start_traced(
        &redis.url(),
        plugins.path(),
        &["--concurrency", "4", "--drain-timeout", "1s"],
    );
    let client = client(&redis.url()).await;
    let specs = KINDS
        .iter()
        .flat_map(|kind| {
            json_tasks(
                kind,
                [serde_json::json!("sleep"), serde_json::json!("stdin")],
            )
        })
        .collect();
    let ids = enqueue(&client, specs).await;
    // Started, not just leased: the drain must stop guests inside host calls.
    host.wait_for_runs(4, LONG);
    let asked = Instant::now();
    host.terminate();
    // Drain 1 s + cancel grace 2 s + settle grace 10 s, with room to spare;
    // the old host never exited (the sleeps last an hour).
    let status = host.wait(Duration::from_secs(60));
    println!("exited {:?} after SIGTERM", asked.elapsed());
    assert!(status.success(), "{status}:\n{}", host.log());
    for status in statuses(&client, &ids).await {
        assert_eq!(
            (status.state, status.attempts),
            (TaskState::Pending, 0),
            "released unfinished, attempt not counted: {status:?}\n{}",
            host.log()
        );
    }
}

/// A burst of CPU-bound guests (pure `loop {}`, more than the cores) must
/// not hold up the lease keeper or the heartbeat: every running task's lease
/// keeps at least two thirds of the lease ahead of it, minus one extension
/// period, i.e. no extension comes more than a third of a lease late.
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_cpu_bound_guests_does_not_delay_lease_extension() {
    let redis = RedisServer::start();
    let plugins = plugins();
    let lease = Duration::from_secs(6);
    let _host = HostProcess::start(
        &redis.url(),
        plugins.path(),
        &["--concurrency", "64", "--lease", "6s", "--heartbeat", "1s"],
    );
    let client = client(&redis.url()).await;
    let specs = (0..64)
        .map(|_| TaskSpec::new("stall", "\"loop\"").timeout(Duration::from_secs(15)))
        .collect();
    enqueue(&client, specs).await;
    eventually("the burst to run", LONG, || async {
        (totals(&client, &["stall"]).await.active == 64).then_some(())
    })
    .await;
    let mut least_ahead = lease;
    let mut oldest_beat = Duration::ZERO;
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        let now_ms = redis_now_ms(&redis);
        let deadlines = redis.cli(&["ZRANGE", "wasmq:{stall}:active", "0", "0", "WITHSCORES"]);
        if let Some(deadline) = deadlines
            .lines()
            .nth(1)
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            least_ahead = least_ahead.min(Duration::from_millis(deadline.saturating_sub(now_ms)));
        }
        let beats = redis.cli(&["ZRANGE", "wasmq:{hosts}:index", "0", "-1", "WITHSCORES"]);
        if let Some(beat) = beats
            .lines()
            .nth(1)
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            oldest_beat = oldest_beat.max(Duration::from_millis(now_ms.saturating_sub(beat)));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "during the burst: least lease ahead {least_ahead:?}, oldest heartbeat {oldest_beat:?}"
    );
    assert!(
        least_ahead >= lease / 3,
        "an extension came more than a third of a lease late: only {least_ahead:?} of a {lease:?} lease left"
    );
    assert!(
        oldest_beat <= Duration::from_secs(1) + lease / 3,
        "the heartbeat fell {oldest_beat:?} behind"
    );
}

/// Redis's clock, in ms.
fn redis_now_ms(redis: &RedisServer) -> u64 {
    let time = redis.cli(&["TIME"]);
    let mut parts = time.lines().map(|l| l.trim().parse::<u64>().unwrap());
    let (secs, micros) = (parts.next().unwrap(), parts.next().unwrap());
    secs * 1000 + micros / 1000
}
