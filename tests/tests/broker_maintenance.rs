//! The maintenance loop against real Redis. A queue whose keys hold a
//! foreign value (a real WRONGTYPE fault) or whose Cluster shard hangs must
//! not stop promotion and reaping of the other queues; a failing queue backs
//! off and recovers; a tick costs one script call per queue, junk queues
//! included (counted with `INFO commandstats`); reaped tasks keep their
//! priority.

use std::process::Command;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use wasmq::Client;
use wasmq::broker::BrokerOptions;
use wasmq::task::{Priority, TaskSpec};
use wasmq_tests::backends::Raw;
use wasmq_tests::broker::{connect, drain, opts, payload_text};
use wasmq_tests::redis::{RedisCluster, RedisServer};

wasmq_tests::both_backends!(
    one_failing_queue_does_not_stop_maintenance_of_the_others,
    reaped_tasks_keep_their_priority,
);

/// Healthy queues beside the failing one.
const HEALTHY: usize = 4;

fn short_lease() -> BrokerOptions {
    BrokerOptions {
        lease_duration: Duration::from_millis(300),
        ..opts()
    }
}

/// Gives `queue` one lease that expires in 300 ms and one task due in 100 ms.
async fn plant_work(client: &Client, queue: &str) {
    client
        .enqueue(TaskSpec::new(queue, "leased"))
        .await
        .unwrap();
    assert_eq!(client.lease(queue, 1).await.unwrap().len(), 1);
    let delayed = TaskSpec::new(queue, "delayed").delay(Duration::from_millis(100));
    client.enqueue(delayed).await.unwrap();
}

/// `wasmq_maintenance_errors_total{queue}` in this process's scrape.
fn errors_counted(queue: &str) -> u64 {
    let text = wasmq::http::metrics::install().unwrap().render();
    let prefix = format!("wasmq_maintenance_errors_total{{queue=\"{queue}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// Replaces a key of `queue` with a string: every script that reads it
/// fails with WRONGTYPE.
async fn break_key(url: &str, queue: &str, suffix: &str) {
    let key = format!("wasmq:{{{queue}}}:{suffix}");
    let mut raw = Raw::open(url).await;
    let _: () = raw.run(&["DEL", &key]).await;
    let _: () = raw.run(&["SET", &key, "not what wasmq stored"]).await;
}

/// Polls `done` every 20 ms until it holds; panics after `limit`.
async fn eventually<F: AsyncFn() -> bool>(what: &str, limit: Duration, done: F) {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < limit, "{what}: still not done");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn one_failing_queue_does_not_stop_maintenance_of_the_others(url: String) {
    wasmq::http::metrics::install().unwrap();
    // The bad queue sorts first: the old loop walked the queues in order and
    // stopped at the first error.
    let tag = if url.contains("cluster") { "cl" } else { "sa" };
    let bad = format!("a-bad-{tag}");
    let healthy: Vec<String> = (0..HEALTHY).map(|i| format!("q{i}-{tag}")).collect();
    let client = connect(&url, short_lease()).await;
    for queue in healthy.iter().chain([&bad]) {
        plant_work(&client, queue).await;
    }
    break_key(&url, &bad, "active").await;
    tokio::time::sleep(Duration::from_millis(400)).await; // leases expire, delays fall due

    let report = client
        .maintain_once(100)
        .await
        .expect("the queues can be listed");
    assert_eq!(
        report.failed.keys().collect::<Vec<_>>(),
        [&bad],
        "{report:?}"
    );
    assert!(report.failed[&bad].contains("WRONGTYPE"), "{report:?}");
    assert_eq!(report.maintained, HEALTHY as u64);
    assert_eq!(report.promoted, HEALTHY as u64, "{report:?}");
    assert_eq!(report.reaped.requeued, HEALTHY as u64, "{report:?}");
    for queue in &healthy {
        let s = client.queue_stats(queue).await.unwrap();
        assert_eq!((s.pending, s.scheduled, s.active), (2, 0, 0), "{queue}");
    }
    let mut raw = Raw::open(&url).await;
    let scheduled: u64 = raw
        .run(&["ZCARD", &format!("wasmq:{{{bad}}}:scheduled")])
        .await;
    assert_eq!(
        scheduled, 1,
        "the bad queue's call failed before it moved anything"
    );
    assert_eq!(errors_counted(&bad), 1);

    // The loop keeps maintaining the healthy queues, and retrying the bad one.
    let stop = CancellationToken::new();
    let maintenance = {
        let (client, stop) = (client.clone(), stop.clone());
        tokio::spawn(async move {
            client
                .run_maintenance(Duration::from_millis(50), 100, stop)
                .await
        })
    };
    for queue in &healthy {
        let later = TaskSpec::new(queue, "later").delay(Duration::from_millis(100));
        client.enqueue(later).await.unwrap();
    }
    eventually(
        "promote the healthy queues",
        Duration::from_secs(30),
        async || {
            for queue in &healthy {
                if client.queue_stats(queue).await.unwrap().pending < 3 {
                    return false;
                }
            }
            true
        },
    )
    .await;
    stop.cancel();
    maintenance.await.unwrap();
    assert!(
        errors_counted(&bad) >= 2,
        "the loop tried the bad queue again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_queue_backs_off_and_recovers() {
    wasmq::http::metrics::install().unwrap();
    let server = RedisServer::start();
    let client = connect(&server.url(), opts()).await;
    let bad = "a-backoff";
    for queue in [bad, "q0", "q1"] {
        client.enqueue(TaskSpec::new(queue, "x")).await.unwrap();
    }
    break_key(&server.url(), bad, "scheduled").await;

    // 500 ms ticks: the backoff is capped at 60 ticks, far beyond this test.
    let mut maintainer = client.maintainer(Duration::from_millis(500), 100);
    let mut failed_at = Vec::new();
    for tick in 1..=19 {
        let report = maintainer.tick().await.unwrap();
        assert_eq!(report.maintained, 2, "tick {tick}: the healthy queues");
        if report.failed.contains_key(bad) {
            failed_at.push(tick);
        } else {
            assert_eq!(report.backing_off, 1, "tick {tick}: {report:?}");
        }
    }
    assert_eq!(failed_at, [1, 3, 6, 11], "skips 1, 2, 4, then 8 ticks");
    assert_eq!(errors_counted(bad), 4);

    server.cli(&["DEL", &format!("wasmq:{{{bad}}}:scheduled")]);
    for tick in 20..=22 {
        let report = maintainer.tick().await.unwrap();
        assert_eq!(
            report.maintained, 3,
            "tick {tick}: recovered, then every tick"
        );
        assert_eq!((report.failed.len(), report.backing_off), (0, 0));
    }
}

/// Calls of one command since the last `CONFIG RESETSTAT`.
fn calls(server: &RedisServer, command: &str) -> u64 {
    let stats = server.info("commandstats");
    stats.get(&format!("cmdstat_{command}")).map_or(0, |v| {
        let n = v.split(',').next().and_then(|c| c.strip_prefix("calls="));
        n.unwrap().parse().unwrap()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn maintenance_is_one_call_per_queue_per_tick() {
    const JUNK: u64 = 50;
    let server = RedisServer::start();
    let client = connect(&server.url(), opts()).await;
    // Junk queues: names in the queue set with no key at all.
    for i in 0..JUNK {
        server.cli(&["SADD", "wasmq:queues", &format!("junk{i:02}")]);
    }
    let mut maintainer = client.maintainer(Duration::from_millis(500), 500);
    for tick in 1..=5 {
        server.cli(&["CONFIG", "RESETSTAT"]);
        let report = maintainer.tick().await.unwrap();
        let (evalsha, smembers) = (calls(&server, "evalsha"), calls(&server, "smembers"));
        println!(
            "tick {tick}: {JUNK} queues, {evalsha} EVALSHA, {smembers} SMEMBERS, {} queues trimmed",
            report.trimmed
        );
        assert_eq!(report.maintained, JUNK);
        assert_eq!(evalsha, JUNK, "one script call per queue and tick");
        assert_eq!(smembers, 1, "one listing per tick");
        // The first trims of 50 new queues are spread over the 60 ticks of
        // the trim period: one queue (one ZRANGEBYSCORE more) per tick.
        assert_eq!(report.trimmed, 1, "tick {tick}");
    }
}

async fn reaped_tasks_keep_their_priority(url: String) {
    let client = connect(&url, short_lease()).await;
    // The loop first: maintain_once maintains every queue, and the drained
    // tasks of the first queue would expire during the second round.
    for (queue, via_loop) in [("reprio-loop", true), ("reprio-reap", false)] {
        for (payload, priority) in [
            ("low", Priority::Low),
            ("normal", Priority::Normal),
            ("high", Priority::High),
        ] {
            let spec = TaskSpec::new(queue, payload).priority(priority);
            client.enqueue(spec).await.unwrap();
        }
        assert_eq!(client.lease(queue, 3).await.unwrap().len(), 3);
        tokio::time::sleep(Duration::from_millis(400)).await;
        let requeued = if via_loop {
            client.maintain_once(100).await.unwrap().reaped.requeued
        } else {
            client.reap_expired(queue, 100).await.unwrap().requeued
        };
        assert_eq!(requeued, 3, "{queue}");
        let stats = client.queue_stats(queue).await.unwrap();
        assert_eq!(stats.pending_by_priority, [1, 1, 1], "{queue}");
        let order: Vec<String> = drain(&client, queue, 1)
            .await
            .iter()
            .map(payload_text)
            .collect();
        assert_eq!(order, ["high", "normal", "low"], "{queue}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_shard_does_not_hold_up_the_others() {
    hung_shard(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_queue_list_does_not_stop_maintenance() {
    hung_shard(true).await;
}

/// Hangs one Cluster node (the one holding `<ns>:queues` if `the_list`) and
/// checks that queues on the other nodes are still promoted.
async fn hung_shard(the_list: bool) {
    let cluster = RedisCluster::start();
    let queue_key = |q: &str| format!("wasmq:{{{q}}}:t");
    let list_node = cluster.node_of("wasmq:queues");
    let hung_node = *cluster
        .ports()
        .iter()
        .find(|p| (**p == list_node) == the_list)
        .unwrap();
    let hung = (0..)
        .map(|i| format!("hung{i}"))
        .find(|q| cluster.node_of(&queue_key(q)) == hung_node)
        .unwrap();
    let healthy: Vec<String> = (0..)
        .map(|i| format!("ok{i}"))
        .filter(|q| cluster.node_of(&queue_key(q)) != hung_node)
        .take(3)
        .collect();
    // Calls to the hung node wait (no response timeout to end them early).
    let opts = BrokerOptions {
        response_timeout: Duration::from_secs(300),
        ..opts()
    };
    let client = connect(&cluster.url(), opts).await;
    for queue in healthy.iter().chain([&hung]) {
        client.enqueue(TaskSpec::new(queue, "first")).await.unwrap();
    }
    let stop = CancellationToken::new();
    let maintenance = {
        let (client, stop) = (client.clone(), stop.clone());
        tokio::spawn(async move {
            client
                .run_maintenance(Duration::from_millis(50), 100, stop)
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Every client of that node now waits for 5 minutes (the cluster bus
    // goes on, so the cluster stays up): the loop's next call for `hung`
    // (and, if `the_list`, its next SMEMBERS) hangs. The client registered
    // its queues already, so enqueueing below touches only the other nodes.
    let paused = Command::new("redis-cli")
        .args([
            "-p",
            &hung_node.to_string(),
            "CLIENT",
            "PAUSE",
            "300000",
            "ALL",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&paused.stdout).contains("OK"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    for queue in &healthy {
        let later = TaskSpec::new(queue, "later").delay(Duration::from_millis(100));
        client.enqueue(later).await.unwrap();
    }
    eventually(
        "promote on the healthy shards",
        Duration::from_secs(60),
        async || {
            for queue in &healthy {
                if client.queue_stats(queue).await.unwrap().pending < 2 {
                    return false;
                }
            }
            true
        },
    )
    .await;
    stop.cancel();
    maintenance.await.unwrap();
}
