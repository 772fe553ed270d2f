//! The task-level operator commands end to end: `enqueue`, `status`,
//! `result` and `cancel`, their exit codes and error messages, with the real
//! `wasmq` binary as a process against a real `redis-server` and tasks
//! settled through the broker's consumer API exactly as a host settles them.

use wasmq_tests::broker::{PLUGIN_VERSION, client, complete, heartbeat, lease_one};
use wasmq_tests::cli::{enqueued_id, wasmq, wasmq_with_stdin};
use wasmq_tests::redis::RedisServer;

#[tokio::test]
async fn enqueue_status_result_round_trip() {
    let redis = RedisServer::start();
    let url = redis.url();
    let payload = r#"{"to": "a@b.c",  "subject": "hi", "n": 1.50}"#;
    let run = wasmq(
        &url,
        &[
            "enqueue",
            "echo",
            "--payload",
            payload,
            "--priority",
            "high",
            "--json",
        ],
    )
    .await
    .expect(0);
    let id = enqueued_id(&run);
    assert!(id.starts_with("echo:"), "{id}");

    let status = wasmq(&url, &["status", &id, "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(status["state"], "pending");
    assert_eq!(status["priority"], "high");
    let text = wasmq(&url, &["status", &id]).await.expect(0).stdout;
    assert!(text.contains("state:        pending"), "{text}");

    let producer = client(&url).await;
    let task = lease_one(&producer, "echo").await;
    assert_eq!(
        task.payload,
        payload.as_bytes(),
        "the payload is stored verbatim"
    );
    let run = wasmq(&url, &["result", &id]).await.expect(1);
    assert!(
        run.stderr.contains("is active: it has no result yet"),
        "{}",
        run.stderr
    );

    complete(&producer, &task, b"sent to a@b.c", "text/plain").await;
    let run = wasmq(&url, &["result", &id]).await.expect(0);
    assert_eq!(run.stdout, "sent to a@b.c");
    let json = wasmq(&url, &["result", &id, "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(json["output_text"], "sent to a@b.c");
    assert_eq!(json["content_type"], "text/plain");
    assert_eq!(json["plugin_version"], PLUGIN_VERSION);
    let status = wasmq(&url, &["status", &id, "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(status["state"], "completed");
    assert_eq!(status["plugin_version"], PLUGIN_VERSION);
}

#[tokio::test]
async fn payload_from_stdin_and_file_is_raw_bytes() {
    let redis = RedisServer::start();
    let url = redis.url();
    let raw = b"not json \x00\xff bytes";
    wasmq_with_stdin(&url, &["enqueue", "blob", "-"], Some(raw))
        .await
        .expect(0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.bin");
    std::fs::write(&file, b"from a file").unwrap();
    let file = file.to_str().unwrap();
    wasmq(&url, &["enqueue", "blob", "--payload-file", file])
        .await
        .expect(0);
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
    assert!(
        run.stdout.is_empty(),
        "binary output must not reach a terminal"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.png");
    wasmq(&url, &["result", &id, "--out", out.to_str().unwrap()])
        .await
        .expect(0);
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    let json = wasmq(&url, &["result", &id, "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(json["output_hex"], "89504e4700fffe");
    assert!(json["output_text"].is_null());
}

#[tokio::test]
async fn bad_input_exits_2_with_a_clear_message() {
    let redis = RedisServer::start();
    let url = redis.url();
    let run = wasmq(
        &url,
        &[
            "enqueue",
            "email",
            "--payload",
            "{\"to\": \"a@b.c\",\n \"subject\": }",
        ],
    )
    .await
    .expect(2);
    let line = run.stderr.trim();
    assert!(
        line.starts_with("error: --payload is not valid JSON: "),
        "{line}"
    );
    assert!(line.contains("at line 2 column"), "{line}");
    assert!(line.ends_with("use --payload-file for raw bytes"), "{line}");
    assert!(run.stdout.is_empty());

    let cases: &[(&[&str], &str)] = &[
        (&["enqueue", "email", "--priority", "urgent"], "urgent"),
        (&["enqueue", "bad{name}"], "invalid queue name"),
        (
            &["enqueue", "email", "--at", "2030-01-31T09:30:00"],
            "time zone",
        ),
        (&["enqueue", "email", "--delay", "soon"], "soon"),
        (
            &["enqueue", "email", "--delay", "400days"],
            "--delay is 34560000000 ms (about 400 days), above the limit of 365 days",
        ),
        (
            &["enqueue", "email", "--at", "2999-01-01T00:00:00Z"],
            "--at is 32472144000000 ms since the Unix epoch, more than 365 days from now",
        ),
        (
            &[
                "enqueue",
                "email",
                "--unique",
                "k",
                "--unique-ttl",
                "2years",
            ],
            "--unique-ttl is ",
        ),
        (&["enqueue", "email", "--fuel", "0"], "--fuel is 0"),
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
    assert_eq!(
        queues,
        serde_json::json!([]),
        "nothing was enqueued by bad input"
    );
}

#[tokio::test]
async fn unknown_ids_exit_1() {
    let redis = RedisServer::start();
    let url = redis.url();
    for command in ["status", "result", "cancel"] {
        let run = wasmq(&url, &[command, "email:zzzz"]).await.expect(1);
        assert!(
            run.stderr.contains("no task email:zzzz"),
            "{command}: {}",
            run.stderr
        );
    }
    let run = wasmq(&url, &["dead", "list", "--id", "email:zzzz"])
        .await
        .expect(1);
    assert!(run.stderr.contains("email:zzzz"), "{}", run.stderr);
}

#[tokio::test]
async fn redis_down_exits_3() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    redis.kill();
    for args in [
        &["queues"][..],
        &["status", "email:1"],
        &["enqueue", "email", "--payload", "{}"],
    ] {
        let run = wasmq(&url, args).await.expect(3);
        assert!(
            run.stderr.starts_with("error: "),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("--redis"), "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "one line: {}",
            run.stderr
        );
    }
    // The flag wins over the environment.
    let run = wasmq("redis://127.0.0.1:1", &["hosts", "--redis", &url])
        .await
        .expect(3);
    assert!(run.stderr.contains(&url), "{}", run.stderr);
}

#[tokio::test]
async fn schedules_unique_keys_and_the_no_host_warning() {
    let redis = RedisServer::start();
    let url = redis.url();
    let later = wasmq(&url, &["enqueue", "echo", "--delay", "1h", "--json"])
        .await
        .expect(0);
    let status = wasmq(&url, &["status", &enqueued_id(&later), "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(status["state"], "scheduled");
    assert!(status["due_at_ms"].as_u64().is_some());

    let past = wasmq(
        &url,
        &[
            "enqueue",
            "echo",
            "--at",
            "2001-02-03T04:05:06+01:00",
            "--json",
        ],
    )
    .await
    .expect(0);
    assert!(
        past.stderr
            .contains("in the past; enqueuing the task to run now"),
        "{}",
        past.stderr
    );
    let status = wasmq(&url, &["status", &enqueued_id(&past), "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(status["state"], "pending");

    let args = [
        "enqueue",
        "echo",
        "--unique",
        "order-17",
        "--unique-ttl",
        "10m",
        "--json",
    ];
    let first = enqueued_id(&wasmq(&url, &args).await.expect(0));
    let second = enqueued_id(&wasmq(&url, &args).await.expect(0));
    assert_eq!(first, second, "a held unique key returns the first id");

    let run = wasmq(&url, &["enqueue", "echo"]).await.expect(0);
    assert!(
        run.stderr.contains("no live host serves task type `echo`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("no host is running"), "{}", run.stderr);
    heartbeat(
        &client(&url).await,
        "host-a",
        &["echo@1a2b3c", "noop@4d5e6f"],
    )
    .await;
    let run = wasmq(&url, &["enqueue", "echo"]).await.expect(0);
    assert!(
        !run.stderr.contains("warning"),
        "echo is served now: {}",
        run.stderr
    );
    let run = wasmq(&url, &["enqueue", "ecoh"]).await.expect(0);
    assert!(run.stderr.contains("serve: echo, noop"), "{}", run.stderr);
}

#[tokio::test]
async fn cancel_waiting_running_and_finished_tasks() {
    let redis = RedisServer::start();
    let url = redis.url();
    let waiting = enqueued_id(&wasmq(&url, &["enqueue", "echo", "--json"]).await.expect(0));
    let run = wasmq(&url, &["cancel", &waiting]).await.expect(0);
    assert!(run.stdout.starts_with("cancelled:"), "{}", run.stdout);
    let status = wasmq(&url, &["status", &waiting, "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(status["state"], "cancelled");
    let run = wasmq(&url, &["cancel", &waiting, "--json"]).await.expect(1);
    assert_eq!(run.json()["outcome"], "already-finished");
    assert!(run.stderr.contains("already cancelled"), "{}", run.stderr);

    let running = enqueued_id(&wasmq(&url, &["enqueue", "echo", "--json"]).await.expect(0));
    let producer = client(&url).await;
    let _lease = lease_one(&producer, "echo").await;
    let run = wasmq(&url, &["cancel", &running, "--json"]).await.expect(0);
    assert_eq!(run.json()["outcome"], "requested");
    let status = wasmq(&url, &["status", &running, "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(status["state"], "active");
    assert_eq!(status["cancel_requested"], true);
}
