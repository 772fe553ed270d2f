//! The queue-level operator commands end to end: `hosts`, `plugins`,
//! `queues`, `stats`, `pause`/`resume` and `dead list|retry|purge`, with the
//! real `wasmq` binary against a real `redis-server` and tasks settled
//! through the broker's consumer API exactly as a host settles them.

use wasmq_tests::broker::{client, complete, failure, heartbeat, lease_one};
use wasmq_tests::cli::{enqueued_id, wasmq};
use wasmq_tests::redis::RedisServer;

#[tokio::test]
async fn hosts_and_the_plugins_they_serve() {
    let redis = RedisServer::start();
    let url = redis.url();
    let run = wasmq(&url, &["hosts"]).await.expect(0);
    assert!(run.stdout.contains("no live hosts"), "{}", run.stdout);
    let producer = client(&url).await;
    heartbeat(&producer, "host-a", &["echo@v1", "noop@n1"]).await;
    heartbeat(&producer, "host-b", &["echo@v2"]).await;

    let hosts = wasmq(&url, &["hosts", "--json"]).await.expect(0).json();
    let ids: Vec<&str> = hosts
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(
        ids.contains(&"host-a") && ids.contains(&"host-b"),
        "{ids:?}"
    );
    let table = wasmq(&url, &["hosts"]).await.expect(0).stdout;
    assert!(table.starts_with("ID "), "{table}");
    assert!(
        table.contains("test-box") && table.contains("4242") && table.contains("1m 30s"),
        "{table}"
    );

    let plugins = wasmq(&url, &["plugins", "--json"]).await.expect(0).json();
    let rows: Vec<(String, String, usize)> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let field = |k: &str| p[k].as_str().unwrap().to_owned();
            (
                field("task_type"),
                field("version"),
                p["hosts"].as_array().unwrap().len(),
            )
        })
        .collect();
    let row = |t: &str, v: &str, n| (t.to_owned(), v.to_owned(), n);
    assert_eq!(
        rows,
        vec![
            row("echo", "v1", 1),
            row("echo", "v2", 1),
            row("noop", "n1", 1)
        ]
    );
}

#[tokio::test]
async fn queues_stats_pause_and_resume() {
    let redis = RedisServer::start();
    let url = redis.url();
    for priority in ["high", "low", "low"] {
        wasmq(&url, &["enqueue", "echo", "--priority", priority])
            .await
            .expect(0);
    }
    wasmq(&url, &["enqueue", "noop", "--delay", "1h"])
        .await
        .expect(0);
    let queues = wasmq(&url, &["queues", "--json"]).await.expect(0).json();
    assert_eq!(queues[0]["queue"], "echo");
    assert_eq!(queues[0]["pending"], 3);
    assert_eq!(
        queues[0]["pending_by_priority"],
        serde_json::json!([1, 0, 2])
    );
    assert_eq!(queues[1]["queue"], "noop");
    assert_eq!(queues[1]["scheduled"], 1);

    let run = wasmq(&url, &["pause", "echo"]).await.expect(0);
    assert!(run.stdout.contains("paused queue echo"), "{}", run.stdout);
    let table = wasmq(&url, &["queues"]).await.expect(0).stdout;
    let echo_row = table.lines().find(|l| l.starts_with("echo")).unwrap();
    assert!(echo_row.contains("yes"), "{table}");
    let producer = client(&url).await;
    assert!(
        producer.lease("echo", 10).await.unwrap().is_empty(),
        "nothing is leased from a paused queue"
    );

    wasmq(&url, &["resume", "echo"]).await.expect(0);
    let task = lease_one(&producer, "echo").await;
    complete(&producer, &task, b"ok", "text/plain").await;

    let stats = wasmq(&url, &["stats", "--json", "--minutes", "5"])
        .await
        .expect(0)
        .json();
    assert_eq!(stats["queues"][0]["counters"]["enqueued"], 3);
    assert_eq!(stats["queues"][0]["counters"]["completed"], 1);
    let points = stats["throughput"].as_array().unwrap();
    assert!(!points.is_empty() && points.len() <= 5, "{points:?}");
    let completed: u64 = points
        .iter()
        .map(|p| p["completed"].as_u64().unwrap())
        .sum();
    assert_eq!(completed, 1);
    let text = wasmq(&url, &["stats", "--queue", "echo"])
        .await
        .expect(0)
        .stdout;
    assert!(text.contains("total: 1 completed, 0 failed"), "{text}");
}

#[tokio::test]
async fn dead_list_retry_and_purge() {
    let redis = RedisServer::start();
    let url = redis.url();
    let producer = client(&url).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        let payload = format!("{{\"n\": {n}}}");
        ids.push(enqueued_id(
            &wasmq(&url, &["enqueue", "email", "--payload", &payload, "--json"])
                .await
                .expect(0),
        ));
        let task = lease_one(&producer, "email").await;
        let message = format!("bad address in task {n}\nsecond line");
        producer
            .dead(&task, &failure(&message))
            .await
            .expect("dead");
    }
    let page = wasmq(&url, &["dead", "list", "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(page["total"], 4);
    assert_eq!(page["tasks"][0]["reason"], "permanent");
    let table = wasmq(&url, &["dead", "list", "--queue", "email", "--limit", "2"])
        .await
        .expect(0)
        .stdout;
    assert_eq!(
        table.lines().filter(|l| l.starts_with("email:")).count(),
        2,
        "{table}"
    );
    assert!(table.contains("showing 2 of 4"), "{table}");
    let one = wasmq(&url, &["dead", "list", "--id", &ids[0], "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(
        one["tasks"][0]["last_error"],
        "bad address in task 0\nsecond line"
    );

    let run = wasmq(&url, &["dead", "retry", "--id", &ids[0]])
        .await
        .expect(0);
    assert!(
        run.stdout.contains("re-drove 1 dead task(s)"),
        "{}",
        run.stdout
    );
    let status = wasmq(&url, &["status", &ids[0], "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(status["state"], "pending");
    wasmq(&url, &["dead", "retry", "--id", &ids[0]])
        .await
        .expect(1);

    let run = wasmq(
        &url,
        &[
            "dead", "purge", "--queue", "email", "--limit", "1", "--json",
        ],
    )
    .await
    .expect(0);
    assert_eq!(run.json()["count"], 1);
    let page = wasmq(&url, &["dead", "list", "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(page["total"], 2);
    let run = wasmq(&url, &["dead", "retry", "--all", "--json"])
        .await
        .expect(0);
    assert_eq!(run.json()["count"], 2);
    let queues = wasmq(&url, &["queues", "--json"]).await.expect(0).json();
    assert_eq!(queues[0]["pending"], 3);
    assert_eq!(queues[0]["dead"], 0);
}

#[tokio::test]
async fn queues_marks_a_queue_no_host_serves() {
    let redis = RedisServer::start();
    let url = redis.url();
    let producer = client(&url).await;
    heartbeat(&producer, "host-a", &["echo@v1"]).await;
    heartbeat(&producer, "host-b", &["echo@v2", "noop@n1"]).await;
    for task_type in ["echo", "ecoh", "noop"] {
        wasmq(&url, &["enqueue", task_type]).await.expect(0);
    }
    let task = lease_one(&producer, "noop").await;
    complete(&producer, &task, b"ok", "text/plain").await;
    heartbeat(&producer, "host-b", &["echo@v2"]).await;

    let queues = wasmq(&url, &["queues", "--json"]).await.expect(0).json();
    let field = |i: usize, k: &str| queues[i][k].clone();
    assert_eq!(field(0, "queue"), "echo");
    assert_eq!(field(0, "live_hosts"), 2);
    assert_eq!(field(0, "pending"), 1, "the statistics are still there");
    assert_eq!(field(1, "queue"), "ecoh");
    assert_eq!(
        (field(1, "live_hosts"), field(1, "ever_run")),
        (0.into(), false.into())
    );
    assert_eq!(field(2, "queue"), "noop");
    assert_eq!(
        (field(2, "live_hosts"), field(2, "ever_run")),
        (0.into(), true.into())
    );

    let run = wasmq(&url, &["queues"]).await.expect(0);
    let row = |queue: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(queue))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(run.stdout.starts_with("QUEUE  SERVED BY"), "{}", run.stdout);
    assert!(row("ecoh").contains("none, never ran"), "{}", run.stdout);
    assert!(row("echo").contains("2 hosts"), "{}", run.stdout);
    assert!(row("noop").contains("none now"), "{}", run.stdout);
    assert!(
        run.stderr.contains("no live host serves ecoh, noop"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn queues_rm_removes_an_empty_queue_and_refuses_a_busy_one() {
    let redis = RedisServer::start();
    let url = redis.url();
    let producer = client(&url).await;
    for _ in 0..3 {
        wasmq(&url, &["enqueue", "busy"]).await.expect(0);
    }
    wasmq(&url, &["enqueue", "busy", "--delay", "1h"])
        .await
        .expect(0);
    let _running = lease_one(&producer, "busy").await;
    let run = wasmq(&url, &["queues", "rm", "busy"]).await.expect(1);
    assert!(
        run.stderr
            .contains("queue busy is not empty: it holds 2 pending, 1 scheduled, 1 active"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was removed"), "{}", run.stderr);
    let queues = wasmq(&url, &["queues", "--json"]).await.expect(0).json();
    assert_eq!(queues[0]["queue"], "busy");
    assert_eq!(queues[0]["pending"], 2);

    let typo = enqueued_id(&wasmq(&url, &["enqueue", "emial", "--json"]).await.expect(0));
    let task = lease_one(&producer, "emial").await;
    complete(&producer, &task, b"ok", "text/plain").await;
    let run = wasmq(&url, &["queues", "rm", "emial"]).await.expect(0);
    assert!(
        run.stdout.starts_with("removed queue emial"),
        "{}",
        run.stdout
    );
    let queues = wasmq(&url, &["queues", "--json"]).await.expect(0).json();
    let names: Vec<&str> = queues
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["queue"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["busy"]);
    wasmq(&url, &["status", &typo]).await.expect(1);
    let keys = redis.cli(&["--scan", "--pattern", "wasmq:{emial}:*"]);
    assert_eq!(
        keys.trim(),
        "wasmq:{emial}:seq",
        "only the id counter stays"
    );

    let run = wasmq(&url, &["queues", "rm", "emial"]).await.expect(1);
    assert!(
        run.stderr.contains("there is no queue emial"),
        "{}",
        run.stderr
    );
    let run = wasmq(&url, &["queues", "rm", "a b"]).await.expect(2);
    assert!(run.stderr.contains("invalid queue name"), "{}", run.stderr);
    let json = wasmq(&url, &["queues", "rm", "busy", "--json"])
        .await
        .expect(1);
    assert!(json.stdout.is_empty(), "{}", json.stdout);
}
