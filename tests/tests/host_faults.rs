//! Hosts under faults, as processes: a host killed with SIGKILL, graceful
//! and forced drains on SIGTERM, Redis restarting under a running host, and
//! a running task cancelled from outside.

use std::time::Duration;
use wasmq::broker::CancelOutcome;
use wasmq::cli::demo::DemoServices;
use wasmq::task::{TaskId, TaskState};
use wasmq_tests::broker::client;
use wasmq_tests::host::{
    HostProcess, completed_at_least, enqueue, eventually, json_tasks, results, settled, statuses,
    totals,
};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisServer;

const LONG: Duration = Duration::from_secs(600);

/// An image job (the plugin refuses unknown fields, so tasks are identical).
fn image(_n: usize, side: u32) -> serde_json::Value {
    serde_json::json!({ "width": side, "height": side, "scale": 0.5 })
}

/// A host with concurrency 1 and the given drain timeout, running one
/// infinite-loop task (fuel and timeout far out of reach): the starting
/// point of the shutdown tests. The server and directory are returned so
/// they live as long as the test.
async fn running_loop(
    drain_timeout: &str,
) -> (
    RedisServer,
    PluginsDir,
    HostProcess,
    wasmq::Client,
    Vec<TaskId>,
) {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("loop", "loop")]);
    plugins.manifest("loop", "fuel = 1_000_000_000_000_000\ntimeout = \"120s\"\n");
    let mut host = HostProcess::start_traced(
        &redis.url(),
        plugins.path(),
        &["--concurrency", "1", "--drain-timeout", drain_timeout],
    );
    let client = client(&redis.url()).await;
    let ids = enqueue(&client, json_tasks("loop", [serde_json::json!({})])).await;
    // Leased is not enough: a shutdown releases a leased task not yet started.
    host.wait_for_runs(1, LONG);
    (redis, plugins, host, client, ids)
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_host_loses_nothing_and_duplicates_only_its_in_flight_tasks() {
    let redis = RedisServer::start();
    let services = DemoServices::start().unwrap();
    let plugins = PluginsDir::with(&[("echo", "echo"), ("image", "image")]);
    plugins.granted("image", &services, "");
    // The victim holds at most concurrency + 4 × lease batch = 34 leases
    // (running, buffered, and verdicts on their way to Redis).
    let capacity = 2 + 4 * 8;
    let mut victim = HostProcess::start(
        &redis.url(),
        plugins.path(),
        &["--concurrency", "2", "--lease-batch", "8", "--lease", "1s"],
    );
    let mut survivor = HostProcess::start(
        &redis.url(),
        plugins.path(),
        &["--concurrency", "2", "--lease", "1s"],
    );
    let client = client(&redis.url()).await;
    let echo_ids = enqueue(
        &client,
        json_tasks("echo", (0..10_000).map(|n| serde_json::json!({ "n": n }))),
    )
    .await;
    let image_ids = enqueue(
        &client,
        json_tasks("image", (0..400).map(|n| image(n, 512))),
    )
    .await;
    completed_at_least(&client, &["echo", "image"], 800, LONG).await;
    victim.kill();

    let t = settled(&client, &["echo", "image"], 10_400, LONG).await;
    assert_eq!((t.completed, t.dead), (10_400, 0), "{t:?}");
    let all: Vec<_> = echo_ids.iter().chain(&image_ids).cloned().collect();
    let again: Vec<_> = statuses(&client, &all)
        .await
        .into_iter()
        .filter(|s| s.attempts > 1)
        .collect();
    assert!(t.expired > 0, "the victim died holding leases: {t:?}");
    println!(
        "the killed host held {} leases that were re-delivered (capacity {capacity})",
        again.len()
    );
    assert!(
        again.len() <= capacity,
        "only the victim's in-flight tasks may run twice: {again:?}"
    );
    assert_eq!(
        t.expired,
        again.len() as u64,
        "each re-delivered task was reaped once: {t:?}"
    );
    for (n, result) in results(&client, &echo_ids).await.into_iter().enumerate() {
        assert_eq!(
            result.output,
            serde_json::json!({ "n": n }).to_string().as_bytes()
        );
    }
    survivor.terminate();
    assert!(survivor.wait(LONG).success(), "{}", survivor.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_running_tasks_and_releases_the_rest() {
    let redis = RedisServer::start();
    let services = DemoServices::start().unwrap();
    let plugins = PluginsDir::with(&[("image", "image")]);
    plugins.granted("image", &services, "");
    let mut host = HostProcess::start(&redis.url(), plugins.path(), &["--concurrency", "2"]);
    let client = client(&redis.url()).await;
    let ids = enqueue(
        &client,
        json_tasks("image", (0..60).map(|n| image(n, 2048))),
    )
    .await;
    completed_at_least(&client, &["image"], 2, LONG).await;
    eventually("two tasks running", LONG, || async {
        (totals(&client, &["image"]).await.active == 2).then_some(())
    })
    .await;
    host.terminate();
    let status = host.wait(LONG);
    assert!(
        status.success(),
        "a drained host exits 0, got {status}:\n{}",
        host.log()
    );
    let log = host.log();
    let drain = log
        .lines()
        .find(|l| l.contains("shutting down: stopped leasing"))
        .expect("the drain is logged");
    println!("{drain}");
    assert!(
        !drain.contains("running=0"),
        "tasks were running when SIGTERM came: {drain}"
    );

    let t = totals(&client, &["image"]).await;
    assert_eq!(t.active, 0, "no lease may be left: {t:?}");
    assert_eq!(t.completed + t.pending, 60, "{t:?}");
    assert_eq!((t.dead, t.retried), (0, 0), "{t:?}");
    assert!(t.pending > 0, "the rest stays pending: {t:?}");
    for status in statuses(&client, &ids).await {
        match status.state {
            TaskState::Completed => assert_eq!(status.attempts, 1, "{status:?}"),
            TaskState::Pending => assert_eq!(
                status.attempts, 0,
                "a released attempt is not counted: {status:?}"
            ),
            _ => panic!("neither completed nor pending: {status:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_after_the_drain_timeout_cancels_and_releases() {
    let (_redis, _plugins, mut host, client, ids) = running_loop("1s").await;
    host.terminate();
    let status = host.wait(LONG);
    assert!(status.success(), "{status}:\n{}", host.log());
    assert!(
        host.log().contains("drain timeout passed"),
        "{}",
        host.log()
    );
    let status = &statuses(&client, &ids).await[0];
    assert_eq!(
        (status.state, status.attempts),
        (TaskState::Pending, 0),
        "released, attempt not counted: {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_restart_mid_run_loses_nothing() {
    let mut redis = RedisServer::start_with(true);
    let services = DemoServices::start().unwrap();
    let plugins = PluginsDir::with(&[("echo", "echo"), ("image", "image")]);
    plugins.granted("image", &services, "");
    let mut host = HostProcess::start(
        &redis.url(),
        plugins.path(),
        &["--concurrency", "2", "--lease", "5s"],
    );
    let client = client(&redis.url()).await;
    enqueue(
        &client,
        json_tasks("echo", (0..20_000).map(|n| serde_json::json!({ "n": n }))),
    )
    .await;
    enqueue(
        &client,
        json_tasks("image", (0..300).map(|n| image(n, 256))),
    )
    .await;
    let before = completed_at_least(&client, &["echo", "image"], 500, LONG).await;
    assert!(
        before.waiting() > 0,
        "Redis must go away mid-run: {before:?}"
    );
    redis.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.restart();
    let t = settled(&client, &["echo", "image"], 20_300, LONG).await;
    assert_eq!((t.completed, t.dead), (20_300, 0), "{t:?}");
    assert!(
        host.log().contains("Redis call failed; will retry"),
        "the outage was seen and retried:\n{}",
        host.log()
    );
    println!(
        "after a Redis restart: {} leases expired and were re-delivered",
        t.expired
    );
    host.terminate();
    assert!(host.wait(LONG).success(), "{}", host.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_running_task_stops_it_and_frees_its_slot() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("loop", "loop"), ("echo", "echo")]);
    plugins.manifest("loop", "fuel = 1_000_000_000_000_000\ntimeout = \"120s\"\n");
    let host = HostProcess::start(&redis.url(), plugins.path(), &["--concurrency", "1"]);
    let client = client(&redis.url()).await;
    let looping = enqueue(&client, json_tasks("loop", [serde_json::json!({})])).await;
    eventually("the loop to run", LONG, || async {
        (totals(&client, &["loop"]).await.active == 1).then_some(())
    })
    .await;
    assert_eq!(
        client.cancel(&looping[0]).await.unwrap(),
        CancelOutcome::Requested
    );
    let status = eventually("the loop to be cancelled", LONG, || async {
        let status = client.status(&looping[0]).await.unwrap()?;
        (status.state == TaskState::Cancelled).then_some(status)
    })
    .await;
    assert!(status.finished_at_ms.is_some(), "{status:?}");
    // With concurrency 1, the next task runs only if the loop really stopped.
    enqueue(
        &client,
        json_tasks("echo", [serde_json::json!({ "after": "cancel" })]),
    )
    .await;
    let t = settled(&client, &["echo"], 1, LONG).await;
    assert_eq!(t.completed, 1);
    assert!(
        host.log().contains("cancellation requested"),
        "{}",
        host.log()
    );
}

/// A host frozen (SIGSTOP) past its lease, as a long pause would: another
/// host takes the task over; when the first one thaws, its late verdict is
/// refused as stale (logged and counted, not an error) and the task is
/// settled once.
#[tokio::test(flavor = "multi_thread")]
async fn frozen_host_verdict_is_refused_as_stale() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("loop", "loop")]);
    plugins.manifest(
        "loop",
        "fuel = 1_000_000_000_000_000\ntimeout = \"1s\"\nmax_retries = 0\n",
    );
    let flags = [
        "--concurrency",
        "1",
        "--lease",
        "500ms",
        "--maintenance-tick",
        "50ms",
    ];
    let mut frozen = HostProcess::start(&redis.url(), plugins.path(), &flags);
    let client = client(&redis.url()).await;
    let ids = enqueue(&client, json_tasks("loop", [serde_json::json!({})])).await;
    eventually("the first host to run the task", LONG, || async {
        (totals(&client, &["loop"]).await.active == 1).then_some(())
    })
    .await;
    frozen.freeze();
    let other = HostProcess::start(&redis.url(), plugins.path(), &flags);
    let t = settled(&client, &["loop"], 1, LONG).await;
    assert_eq!(
        (t.dead, t.expired),
        (1, 1),
        "taken over once the lease expired: {t:?}"
    );
    frozen.thaw();
    frozen.wait_for_log("stale lease", LONG);
    let status = &statuses(&client, &ids).await[0];
    assert_eq!(
        (status.state, status.attempts),
        (TaskState::Dead, 2),
        "{status:?}"
    );
    assert_eq!(
        totals(&client, &["loop"]).await.dead,
        1,
        "the stale verdict changed nothing"
    );
    frozen.terminate();
    assert!(
        frozen.wait(LONG).success(),
        "a stale verdict is not an error:\n{}",
        frozen.log()
    );
    drop(other);
}

#[tokio::test(flavor = "multi_thread")]
async fn second_signal_exits_at_once_and_leaves_the_lease_to_expire() {
    let (_redis, _plugins, mut host, client, _ids) = running_loop("120s").await;
    host.terminate();
    host.wait_for_log("shutting down gracefully", LONG);
    host.terminate();
    let status = host.wait(LONG);
    assert_eq!(status.code(), Some(130), "{status}:\n{}", host.log());
    assert!(host.log().contains("exiting at once"), "{}", host.log());
    assert_eq!(
        totals(&client, &["loop"]).await.active,
        1,
        "the lease is left for the reaper"
    );
}
