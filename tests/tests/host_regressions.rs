//! The bugs of the original design, each pinned by a test named after it.
//! They run whole `wasmq run` processes against a real Redis, because each
//! bug lived in the interplay of hosts, leases and Redis, not in one function.

use std::time::Duration;
use wasmq::cli::demo::DemoServices;
use wasmq::task::{TaskId, TaskSpec, TaskState};
use wasmq_tests::broker::client;
use wasmq_tests::host::{
    HostProcess, enqueue, eventually, json_tasks, results, settled, statuses, totals,
};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisServer;

const LONG: Duration = Duration::from_secs(600);

/// Old bug: a worker popped a task and then pushed it to a processing list
/// in a second step; dying in between lost the task. Here a host is killed
/// (SIGKILL) while it holds leases: the tasks stay in Redis (active, with a
/// deadline) and another host completes every one of them.
#[tokio::test(flavor = "multi_thread")]
async fn regression_crash_between_pop_and_push() {
    let redis = RedisServer::start();
    let services = DemoServices::start().unwrap();
    let plugins = PluginsDir::with(&[("image", "image")]);
    plugins.granted("image", &services, "");
    let mut victim = HostProcess::start(
        &redis.url(),
        plugins.path(),
        &["--concurrency", "2", "--lease", "1s"],
    );
    let client = client(&redis.url()).await;
    // The image plugin refuses unknown fields, so the jobs are identical.
    let payloads =
        (0..100).map(|_| serde_json::json!({ "width": 1024, "height": 1024, "scale": 0.5 }));
    let ids = enqueue(&client, json_tasks("image", payloads)).await;
    eventually("the victim to hold leases", LONG, || async {
        (totals(&client, &["image"]).await.active > 0).then_some(())
    })
    .await;
    victim.kill();
    let held: Vec<TaskId> = statuses(&client, &ids)
        .await
        .into_iter()
        .filter(|s| s.state == TaskState::Active)
        .map(|s| s.id)
        .collect();
    assert!(
        !held.is_empty(),
        "the killed host held leases; they are still in Redis"
    );

    let survivor = HostProcess::start(&redis.url(), plugins.path(), &["--concurrency", "2"]);
    let t = settled(&client, &["image"], 100, LONG).await;
    assert_eq!((t.completed, t.dead), (100, 0), "no task lost: {t:?}");
    for status in statuses(&client, &held).await {
        assert_eq!(
            (status.state, status.attempts),
            (TaskState::Completed, 2),
            "{status:?}"
        );
    }
    drop(survivor);
}

/// Old bug: an EXPIRE on the processing list dropped every in-flight task
/// of a worker once one ran longer than the expiry. Here leases last 300 ms
/// and a task runs for 2 s (a `loop` stopped by its 2 s timeout) while a
/// second host's reaper watches: the lease is extended, so the task keeps
/// its single owner, runs once, and ends in a final state.
#[tokio::test(flavor = "multi_thread")]
async fn regression_processing_expire_loses_inflight() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("loop", "loop")]);
    plugins.manifest(
        "loop",
        "fuel = 1_000_000_000_000_000\ntimeout = \"2s\"\nmax_retries = 0\n",
    );
    let flags = [
        "--concurrency",
        "1",
        "--lease",
        "300ms",
        "--maintenance-tick",
        "50ms",
    ];
    let a = HostProcess::start(&redis.url(), plugins.path(), &flags);
    let b = HostProcess::start(&redis.url(), plugins.path(), &flags);
    let client = client(&redis.url()).await;
    let ids = enqueue(
        &client,
        json_tasks("loop", [serde_json::json!({ "long": true })]),
    )
    .await;
    let t = settled(&client, &["loop"], 1, LONG).await;
    assert_eq!(t.expired, 0, "the lease never expired: {t:?}");
    let status = &statuses(&client, &ids).await[0];
    assert_eq!(status.attempts, 1, "nobody else got it: {status:?}");
    assert_eq!(status.state, TaskState::Dead, "{status:?}");
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("timed out after 2"),
        "{status:?}"
    );
    let runs = [&a, &b]
        .iter()
        .filter(|h| h.log().contains(&ids[0].to_string()))
        .count();
    assert_eq!(runs, 1, "exactly one host ran it");
}

/// Old bug: every host promoted due delayed tasks with a read then a write,
/// so two hosts could both promote (and run) the same task. Here 3000
/// delayed tasks come due while two hosts' promoters run every 20 ms.
#[tokio::test(flavor = "multi_thread")]
async fn regression_concurrent_promotion_duplicates() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("echo", "echo")]);
    let flags = ["--concurrency", "2", "--maintenance-tick", "20ms"];
    let _a = HostProcess::start(&redis.url(), plugins.path(), &flags);
    let _b = HostProcess::start(&redis.url(), plugins.path(), &flags);
    let client = client(&redis.url()).await;
    let specs: Vec<TaskSpec> = (0..3000)
        .map(|n| {
            TaskSpec::new("echo", serde_json::json!({ "n": n }).to_string())
                .delay(Duration::from_secs(2))
        })
        .collect();
    let ids = enqueue(&client, specs).await;
    assert!(
        totals(&client, &["echo"]).await.scheduled > 0,
        "the tasks start delayed"
    );
    let t = settled(&client, &["echo"], 3000, LONG).await;
    assert_eq!((t.completed, t.dead, t.expired), (3000, 0, 0), "{t:?}");
    for status in statuses(&client, &ids).await {
        assert_eq!(
            (status.state, status.attempts),
            (TaskState::Completed, 1),
            "promoted twice: {status:?}"
        );
    }
}

/// Old bug: a handler that timed out was abandoned, not stopped: it kept a
/// thread and a core busy forever. Here, with one slot, a `loop` times out
/// and the next task still runs; then the host's CPU use drops to idle.
#[tokio::test(flavor = "multi_thread")]
async fn regression_timed_out_handler_keeps_running() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("loop", "loop"), ("echo", "echo")]);
    plugins.manifest(
        "loop",
        "fuel = 1_000_000_000_000_000\ntimeout = \"500ms\"\nmax_retries = 0\n",
    );
    let host = HostProcess::start(&redis.url(), plugins.path(), &["--concurrency", "1"]);
    let client = client(&redis.url()).await;
    let looping = enqueue(&client, json_tasks("loop", [serde_json::json!({})])).await;
    let after = enqueue(
        &client,
        json_tasks("echo", (0..5).map(|n| serde_json::json!({ "n": n }))),
    )
    .await;
    let t = settled(&client, &["loop", "echo"], 6, LONG).await;
    assert_eq!((t.completed, t.dead), (5, 1), "{t:?}");
    let status = &statuses(&client, &looping).await[0];
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("timed out"),
        "{status:?}"
    );
    assert_eq!(results(&client, &after).await.len(), 5);

    let before = host.cpu_time();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = host.cpu_time() - before;
    println!("host CPU over 2 s of idling after the timeout: {used:?}");
    assert!(
        used < Duration::from_millis(1000),
        "a core is still busy: {used:?} of CPU in 2 s"
    );
}

/// Old bug: acks found the task to remove by re-serialising its JSON, so a
/// payload whose JSON did not round-trip byte for byte (key order,
/// whitespace, big numbers, escapes) was never acked, and two identical
/// payloads were confused. Acks now use the task id and lease token.
#[tokio::test(flavor = "multi_thread")]
async fn regression_ack_matches_reserialised_json() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("echo", "echo")]);
    let _host = HostProcess::start(&redis.url(), plugins.path(), &["--concurrency", "2"]);
    let client = client(&redis.url()).await;
    let payloads: [&str; 6] = [
        r#"{"b":1,"a":2}"#,
        "{ \"a\" :\t2 ,\n \"b\" : 1 }",
        r#"{"big":123456789012345678901234567890,"float":1.0e+2}"#,
        r#"{"s":"caf\u00e9 \ud83d\ude00","dup":1,"dup":2}"#,
        r#"{"b":1,"a":2}"#,
        "[1,2,3]   ",
    ];
    let specs: Vec<TaskSpec> = payloads.iter().map(|p| TaskSpec::new("echo", *p)).collect();
    let ids = enqueue(&client, specs).await;
    let t = settled(&client, &["echo"], 6, LONG).await;
    assert_eq!(
        (t.completed, t.dead, t.retried, t.expired),
        (6, 0, 0, 0),
        "{t:?}"
    );
    for (payload, result) in payloads.iter().zip(results(&client, &ids).await) {
        assert_eq!(
            result.output,
            payload.as_bytes(),
            "byte for byte: {}",
            result.id
        );
        assert_eq!(result.attempts, 1);
    }
    assert_ne!(ids[0], ids[4], "identical payloads are distinct tasks");
}
