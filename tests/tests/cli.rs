//! The operator commands end to end: the real `wasmq` binary as a process
//! against a real `redis-server`, with tasks settled through the broker's
//! consumer API exactly as a host settles them.

mod cli_common;

use cli_common::{client, complete, enqueued_id, heartbeat, lease_one, wasmq, wasmq_with_stdin};
use wasmq::broker::Failure;
use wasmq_tests::redis::RedisServer;

#[tokio::test]
async fn enqueue_status_result_round_trip() {
    let redis = RedisServer::start();
    let url = redis.url();
    let payload = r#"{"to": "a@b.c",  "subject": "hi", "n": 1.50}"#;
    let run = wasmq(&url, &["enqueue", "echo", "--payload", payload, "--priority", "high", "--json"])
        .await
        .expect(0);
    let id = enqueued_id(&run);
    assert!(id.starts_with("echo:"), "{id}");

    let status = wasmq(&url, &["status", &id, "--json"]).await.expect(0).json();
    assert_eq!(status["state"], "pending");
    assert_eq!(status["priority"], "high");
    let text = wasmq(&url, &["status", &id]).await.expect(0).stdout;
    assert!(text.contains("state:        pending"), "{text}");

    let producer = client(&url).await;
    let task = lease_one(&producer, "echo").await;
    assert_eq!(task.payload, payload.as_bytes(), "the payload is stored verbatim");
    let run = wasmq(&url, &["result", &id]).await.expect(1);
    assert!(run.stderr.contains("is active: it has no result yet"), "{}", run.stderr);

    complete(&producer, &task, b"sent to a@b.c", "text/plain").await;
    let run = wasmq(&url, &["result", &id]).await.expect(0);
    assert_eq!(run.stdout, "sent to a@b.c");
    let json = wasmq(&url, &["result", &id, "--json"]).await.expect(0).json();
    assert_eq!(json["output_text"], "sent to a@b.c");
    assert_eq!(json["content_type"], "text/plain");
    assert_eq!(json["plugin_version"], "test0001");
    let status = wasmq(&url, &["status", &id, "--json"]).await.expect(0).json();
    assert_eq!(status["state"], "completed");
    assert_eq!(status["plugin_version"], "test0001");
}

#[tokio::test]
async fn payload_from_stdin_and_file_is_raw_bytes() {
    let redis = RedisServer::start();
    let url = redis.url();
    let raw = b"not json \x00\xff bytes";
    wasmq_with_stdin(&url, &["enqueue", "blob", "-"], Some(raw)).await.expect(0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.bin");
    std::fs::write(&file, b"from a file").unwrap();
    let file = file.to_str().unwrap();
    wasmq(&url, &["enqueue", "blob", "--payload-file", file]).await.expect(0);
    let producer = client(&url).await;
    assert_eq!(lease_one(&producer, "blob").await.payload, raw);
    assert_eq!(lease_one(&producer, "blob").await.payload, b"from a file");
}

#[tokio::test]
async fn binary_results_need_an_out_file() {
    let redis = RedisServer::start();
    let url = redis.url();
    let id = enqueued_id(&wasmq(&url, &["enqueue", "image", "--json"]).await.expect(0));
    let producer = client(&url).await;
    let task = lease_one(&producer, "image").await;
    let bytes = [0x89, b'P', b'N', b'G', 0x00, 0xff, 0xfe];
    complete(&producer, &task, &bytes, "image/png").await;
    let run = wasmq(&url, &["result", &id]).await.expect(1);
    assert!(run.stderr.contains("--out FILE"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "binary output must not reach a terminal");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.png");
    wasmq(&url, &["result", &id, "--out", out.to_str().unwrap()]).await.expect(0);
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    let json = wasmq(&url, &["result", &id, "--json"]).await.expect(0).json();
    assert_eq!(json["output_hex"], "89504e4700fffe");
    assert!(json["output_text"].is_null());
}

#[tokio::test]
async fn bad_input_exits_2_with_a_clear_message() {
    let redis = RedisServer::start();
    let url = redis.url();
    let run = wasmq(&url, &["enqueue", "email", "--payload", "{\"to\": \"a@b.c\",\n \"subject\": }"])
        .await
        .expect(2);
    let line = run.stderr.trim();
    assert!(line.starts_with("error: --payload is not valid JSON: "), "{line}");
    assert!(line.contains("at line 2 column"), "{line}");
    assert!(line.ends_with("use --payload-file for raw bytes"), "{line}");
    assert!(run.stdout.is_empty());

    let cases: &[(&[&str], &str)] = &[
        (&["enqueue", "email", "--priority", "urgent"], "urgent"),
        (&["enqueue", "bad{name}"], "invalid queue name"),
        (&["enqueue", "email", "--at", "2030-01-31T09:30:00"], "time zone"),
        (&["enqueue", "email", "--delay", "soon"], "soon"),
        (&["status", "no-colon"], "invalid task id"),
        (&["cancel", "email:"], "invalid task id"),
        (&["dead", "retry"], "needs --queue QUEUE, --id ID or --all"),
        (&["pause", "a b"], "invalid queue name"),
        (&["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, needle) in cases {
        let run = wasmq(&url, args).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
    let queues = wasmq(&url, &["queues", "--json"]).await.expect(0).json();
    assert_eq!(queues, serde_json::json!([]), "nothing was enqueued by bad input");
}

#[tokio::test]
async fn unknown_ids_exit_1() {
    let redis = RedisServer::start();
    let url = redis.url();
    for command in ["status", "result", "cancel"] {
        let run = wasmq(&url, &[command, "email:zzzz"]).await.expect(1);
        assert!(run.stderr.contains("no task email:zzzz"), "{command}: {}", run.stderr);
    }
    let run = wasmq(&url, &["dead", "list", "--id", "email:zzzz"]).await.expect(1);
    assert!(run.stderr.contains("email:zzzz"), "{}", run.stderr);
}

#[tokio::test]
async fn redis_down_exits_3() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    redis.kill();
    for args in [&["queues"][..], &["status", "email:1"], &["enqueue", "email", "--payload", "{}"]] {
        let run = wasmq(&url, args).await.expect(3);
        assert!(run.stderr.starts_with("error: "), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("--redis"), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.trim().lines().count(), 1, "one line: {}", run.stderr);
    }
    // The flag wins over the environment.
    let run = wasmq("redis://127.0.0.1:1", &["hosts", "--redis", &url]).await.expect(3);
    assert!(run.stderr.contains(&url), "{}", run.stderr);
}

#[tokio::test]
async fn schedules_unique_keys_and_the_no_host_warning() {
    let redis = RedisServer::start();
    let url = redis.url();
    let later = wasmq(&url, &["enqueue", "echo", "--delay", "1h", "--json"]).await.expect(0);
    let status = wasmq(&url, &["status", &enqueued_id(&later), "--json"]).await.expect(0).json();
    assert_eq!(status["state"], "scheduled");
    assert!(status["due_at_ms"].as_u64().is_some());

    let past = wasmq(&url, &["enqueue", "echo", "--at", "2001-02-03T04:05:06+01:00", "--json"])
        .await
        .expect(0);
    assert!(past.stderr.contains("in the past; enqueuing the task to run now"), "{}", past.stderr);
    let status = wasmq(&url, &["status", &enqueued_id(&past), "--json"]).await.expect(0).json();
    assert_eq!(status["state"], "pending");

    let args = ["enqueue", "echo", "--unique", "order-17", "--unique-ttl", "10m", "--json"];
    let first = enqueued_id(&wasmq(&url, &args).await.expect(0));
    let second = enqueued_id(&wasmq(&url, &args).await.expect(0));
    assert_eq!(first, second, "a held unique key returns the first id");

    let run = wasmq(&url, &["enqueue", "echo"]).await.expect(0);
    assert!(run.stderr.contains("no live host serves task type `echo`"), "{}", run.stderr);
    assert!(run.stderr.contains("no host is running"), "{}", run.stderr);
    heartbeat(&client(&url).await, "host-a", &["echo@1a2b3c", "noop@4d5e6f"]).await;
    let run = wasmq(&url, &["enqueue", "echo"]).await.expect(0);
    assert!(!run.stderr.contains("warning"), "echo is served now: {}", run.stderr);
    let run = wasmq(&url, &["enqueue", "ecoh"]).await.expect(0);
    assert!(run.stderr.contains("serve: echo, noop"), "{}", run.stderr);
}

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
    let ids: Vec<&str> = hosts.as_array().unwrap().iter().map(|h| h["host_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"host-a") && ids.contains(&"host-b"), "{ids:?}");
    let table = wasmq(&url, &["hosts"]).await.expect(0).stdout;
    assert!(table.starts_with("ID "), "{table}");
    assert!(table.contains("test-box") && table.contains("4242") && table.contains("1m 30s"), "{table}");

    let plugins = wasmq(&url, &["plugins", "--json"]).await.expect(0).json();
    let rows: Vec<(String, String, usize)> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let field = |k: &str| p[k].as_str().unwrap().to_owned();
            (field("task_type"), field("version"), p["hosts"].as_array().unwrap().len())
        })
        .collect();
    let row = |t: &str, v: &str, n| (t.to_owned(), v.to_owned(), n);
    assert_eq!(rows, vec![row("echo", "v1", 1), row("echo", "v2", 1), row("noop", "n1", 1)]);
}

#[tokio::test]
async fn queues_stats_pause_and_resume() {
    let redis = RedisServer::start();
    let url = redis.url();
    for priority in ["high", "low", "low"] {
        wasmq(&url, &["enqueue", "echo", "--priority", priority]).await.expect(0);
    }
    wasmq(&url, &["enqueue", "noop", "--delay", "1h"]).await.expect(0);
    let queues = wasmq(&url, &["queues", "--json"]).await.expect(0).json();
    assert_eq!(queues[0]["queue"], "echo");
    assert_eq!(queues[0]["pending"], 3);
    assert_eq!(queues[0]["pending_by_priority"], serde_json::json!([1, 0, 2]));
    assert_eq!(queues[1]["queue"], "noop");
    assert_eq!(queues[1]["scheduled"], 1);

    let run = wasmq(&url, &["pause", "echo"]).await.expect(0);
    assert!(run.stdout.contains("paused queue echo"), "{}", run.stdout);
    let table = wasmq(&url, &["queues"]).await.expect(0).stdout;
    let echo_row = table.lines().find(|l| l.starts_with("echo")).unwrap();
    assert!(echo_row.contains("yes"), "{table}");
    let producer = client(&url).await;
    assert!(producer.lease("echo", 10).await.unwrap().is_empty(), "nothing is leased from a paused queue");

    wasmq(&url, &["resume", "echo"]).await.expect(0);
    let task = lease_one(&producer, "echo").await;
    complete(&producer, &task, b"ok", "text/plain").await;

    let stats = wasmq(&url, &["stats", "--json", "--minutes", "5"]).await.expect(0).json();
    assert_eq!(stats["queues"][0]["counters"]["enqueued"], 3);
    assert_eq!(stats["queues"][0]["counters"]["completed"], 1);
    let points = stats["throughput"].as_array().unwrap();
    assert!(!points.is_empty() && points.len() <= 5, "{points:?}");
    let completed: u64 = points.iter().map(|p| p["completed"].as_u64().unwrap()).sum();
    assert_eq!(completed, 1);
    let text = wasmq(&url, &["stats", "--queue", "echo"]).await.expect(0).stdout;
    assert!(text.contains("total: 1 completed, 0 failed"), "{text}");
}

#[tokio::test]
async fn cancel_waiting_running_and_finished_tasks() {
    let redis = RedisServer::start();
    let url = redis.url();
    let waiting = enqueued_id(&wasmq(&url, &["enqueue", "echo", "--json"]).await.expect(0));
    let run = wasmq(&url, &["cancel", &waiting]).await.expect(0);
    assert!(run.stdout.starts_with("cancelled:"), "{}", run.stdout);
    let status = wasmq(&url, &["status", &waiting, "--json"]).await.expect(0).json();
    assert_eq!(status["state"], "cancelled");
    let run = wasmq(&url, &["cancel", &waiting, "--json"]).await.expect(1);
    assert_eq!(run.json()["outcome"], "already-finished");
    assert!(run.stderr.contains("already cancelled"), "{}", run.stderr);

    let running = enqueued_id(&wasmq(&url, &["enqueue", "echo", "--json"]).await.expect(0));
    let producer = client(&url).await;
    let _lease = lease_one(&producer, "echo").await;
    let run = wasmq(&url, &["cancel", &running, "--json"]).await.expect(0);
    assert_eq!(run.json()["outcome"], "requested");
    let status = wasmq(&url, &["status", &running, "--json"]).await.expect(0).json();
    assert_eq!(status["state"], "active");
    assert_eq!(status["cancel_requested"], true);
}

#[tokio::test]
async fn dead_list_retry_and_purge() {
    let redis = RedisServer::start();
    let url = redis.url();
    let producer = client(&url).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        let payload = format!("{{\"n\": {n}}}");
        ids.push(enqueued_id(&wasmq(&url, &["enqueue", "email", "--payload", &payload, "--json"]).await.expect(0)));
        let task = lease_one(&producer, "email").await;
        let failure = Failure {
            reason: "permanent".into(),
            message: format!("bad address in task {n}\nsecond line"),
            plugin_version: "test0001".into(),
        };
        producer.dead(&task, &failure).await.expect("dead");
    }
    let page = wasmq(&url, &["dead", "list", "--json"]).await.expect(0).json();
    assert_eq!(page["total"], 4);
    assert_eq!(page["tasks"][0]["reason"], "permanent");
    let table = wasmq(&url, &["dead", "list", "--queue", "email", "--limit", "2"]).await.expect(0).stdout;
    assert_eq!(table.lines().filter(|l| l.starts_with("email:")).count(), 2, "{table}");
    assert!(table.contains("showing 2 of 4"), "{table}");
    let one = wasmq(&url, &["dead", "list", "--id", &ids[0], "--json"]).await.expect(0).json();
    assert_eq!(one["tasks"][0]["last_error"], "bad address in task 0\nsecond line");

    let run = wasmq(&url, &["dead", "retry", "--id", &ids[0]]).await.expect(0);
    assert!(run.stdout.contains("re-drove 1 dead task(s)"), "{}", run.stdout);
    let status = wasmq(&url, &["status", &ids[0], "--json"]).await.expect(0).json();
    assert_eq!(status["state"], "pending");
    wasmq(&url, &["dead", "retry", "--id", &ids[0]]).await.expect(1);

    let run = wasmq(&url, &["dead", "purge", "--queue", "email", "--limit", "1", "--json"]).await.expect(0);
    assert_eq!(run.json()["count"], 1);
    let page = wasmq(&url, &["dead", "list", "--json"]).await.expect(0).json();
    assert_eq!(page["total"], 2);
    let run = wasmq(&url, &["dead", "retry", "--all", "--json"]).await.expect(0);
    assert_eq!(run.json()["count"], 2);
    let queues = wasmq(&url, &["queues", "--json"]).await.expect(0).json();
    assert_eq!(queues[0]["pending"], 3);
    assert_eq!(queues[0]["dead"], 0);
}
