//! Issue 16, the task browser: a real host runs the real `echo` and `email`
//! plugins until tasks sit in every state, then the HTTP API
//! (`GET /api/v1/queues/{q}/tasks`, `POST .../tasks/actions`) and the CLI
//! (`wasmq tasks list|retry|delete|promote|cancel`) list them by state,
//! page through them by cursor, and act on one, a selection, or all.

use serde_json::{Value, json};
use std::time::Duration;
use wasmq::broker::BrokerOptions;
use wasmq::crypto::{Encryption, KeyRing};
use wasmq::task::{TaskId, TaskSpec, TaskState};
use wasmq_tests::api::{Api, page_ids as ids};
use wasmq_tests::cli::wasmq;
use wasmq_tests::host::{HostProcess, eventually};
use wasmq_tests::plugins_dir::PluginsDir;

const SETTLES: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_every_state_and_act_on_tasks() {
    let api = Api::start(None, None).await;
    let plugins = PluginsDir::with(&[("echo", "echo"), ("email", "email")]);
    plugins.manifest(
        "email",
        "[capabilities]\nhttp = [\"http://127.0.0.1:9\"]\n\
         [config]\nmail_api = \"http://127.0.0.1:9/v1/messages\"\n",
    );
    let _host = HostProcess::start(&api.redis.url(), plugins.path(), &[]);
    let c = &api.client;
    let email = |p: Value, retries| TaskSpec::new("email", p.to_string()).max_retries(retries);
    // Completed: JSON and binary outputs.
    let json_done = c
        .enqueue(TaskSpec::new("echo", r#"{"hello":"world"}"#))
        .await
        .unwrap();
    let bin_done = c
        .enqueue(TaskSpec::new("echo", vec![0xffu8, 0, 0x10]))
        .await
        .unwrap();
    // Retry-wait an hour ahead, and dead.
    let failing = json!({"to": "a@b.example", "subject": "s", "fail_attempts": 9, "retry_after_ms": 3_600_000});
    let retrying = c.enqueue(email(failing, 5)).await.unwrap();
    let dead = c
        .enqueue(email(
            json!({"to": "a@b.example", "subject": "s", "simulate": "transient"}),
            0,
        ))
        .await
        .unwrap();
    // Scheduled an hour ahead.
    let hour = Duration::from_secs(3600);
    let later = c
        .enqueue(TaskSpec::new("echo", r#"{"later":1}"#).delay(hour))
        .await
        .unwrap();
    // Pending: a queue no host serves.
    let mut idle = Vec::new();
    for i in 0..3 {
        idle.push(
            c.enqueue(TaskSpec::new("idle", format!("{{\"n\":{i}}}")))
                .await
                .unwrap(),
        );
    }
    api.until_state(&json_done, TaskState::Completed).await;
    api.until_state(&bin_done, TaskState::Completed).await;
    api.until_state(&retrying, TaskState::RetryWait).await;
    api.until_state(&dead, TaskState::Dead).await;

    // Retry: the row carries the attempt, the error and the payload.
    let (status, page) = api.get("/api/v1/queues/email/tasks?state=retry").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["state"].as_str(), page["total"].as_u64()),
        (Some("retry-wait"), Some(1))
    );
    let row = &page["tasks"][0];
    assert_eq!(row["id"], retrying.to_string());
    assert_eq!(
        (row["attempts"].as_u64(), row["max_attempts"].as_u64()),
        (Some(1), Some(6)),
        "{row}"
    );
    assert!(
        row["last_error"]
            .as_str()
            .unwrap()
            .contains("simulated failure"),
        "{row}"
    );
    assert_eq!(row["payload"]["encoding"], "text");
    assert!(
        row["payload"]["data"]
            .as_str()
            .unwrap()
            .contains("fail_attempts"),
        "{row}"
    );
    assert!(row["age_ms"].is_u64() && row["at_ms"].is_u64(), "{row}");

    // Dead: its reason.
    let (_, page) = api.get("/api/v1/queues/email/tasks?state=dead").await;
    assert_eq!(ids(&page), [dead.to_string()]);
    assert!(page["tasks"][0]["reason"].is_string(), "{page}");

    // Completed: output previews, binary as base64.
    let (_, page) = api.get("/api/v1/queues/echo/tasks?state=completed").await;
    let rows = page["tasks"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{page}");
    let row = |id: &TaskId| {
        rows.iter()
            .find(|r| r["id"] == id.to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(row(&json_done)["output"]["data"], r#"{"hello":"world"}"#);
    assert_eq!(row(&bin_done)["output"]["encoding"], "base64");
    assert_eq!(row(&bin_done)["output"]["data"], "/wAQ");
    assert!(row(&json_done)["wall_ms"].is_u64(), "{page}");

    // Pending, paged by cursor: two pages of 2 + 1, in lease order.
    let (_, first) = api
        .get("/api/v1/queues/idle/tasks?state=pending&limit=2")
        .await;
    assert_eq!(first["total"], 3);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let (_, second) = api
        .get(&format!(
            "/api/v1/queues/idle/tasks?state=pending&limit=2&cursor={cursor}"
        ))
        .await;
    assert!(second["next_cursor"].is_null(), "{second}");
    let all: Vec<String> = ids(&first).into_iter().chain(ids(&second)).collect();
    assert_eq!(
        all,
        idle.iter().map(ToString::to_string).collect::<Vec<_>>()
    );

    // Bad input is refused at the edge with what to send instead.
    for (query, needle) in [
        ("", "`state` is required"),
        ("state=bogus", "pending, scheduled"),
        ("state=waiting", "not a state tasks can be listed in"),
        ("state=pending&limit=0", "not in 1..=500"),
        ("state=pending&limit=501", "not in 1..=500"),
        ("state=pending&cursor=zz", "next_cursor"),
        ("state=pending&cursor=b1.0", "another state"),
        ("state=pending&cursor=o99999999999", "deeper than"),
        ("state=pending&colour=red", "bad query string"),
    ] {
        let (status, body) = api.get(&format!("/api/v1/queues/idle/tasks?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{query}: {body}"
        );
    }
    let (status, body) = api.get("/api/v1/queues/bad%20name/tasks?state=dead").await;
    assert_eq!(status, 400, "{body}");

    // The CLI lists the same page.
    let url = api.redis.url();
    let run = wasmq(&url, &["tasks", "list", "email", "--state", "retry"])
        .await
        .expect(0);
    assert!(
        run.stdout.contains(&retrying.to_string()) && run.stdout.contains("1/6"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("simulated failure"), "{}", run.stdout);
    let run = wasmq(
        &url,
        &[
            "tasks", "list", "idle", "--state", "pending", "--limit", "2",
        ],
    )
    .await
    .expect(0);
    assert!(
        run.stdout.contains(&format!("--cursor {cursor}")),
        "{}",
        run.stdout
    );
    let run = wasmq(&url, &["tasks", "list", "idle", "--state", "nope"])
        .await
        .expect(2);
    assert!(run.stderr.contains("--state"), "{}", run.stderr);
    let run = wasmq(
        &url,
        &["tasks", "list", "echo", "--state", "completed", "--json"],
    )
    .await
    .expect(0);
    assert_eq!(run.json()["tasks"].as_array().unwrap().len(), 2);

    // Actions that a state does not allow, or on another queue's tasks.
    let (status, body) = api
        .act(
            "idle",
            json!({"action": "promote", "state": "pending", "all": true}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("scheduled, retry-wait"),
        "{body}"
    );
    let (status, body) = api
        .act(
            "idle",
            json!({"action": "delete", "state": "pending", "ids": [dead.to_string()]}),
        )
        .await;
    assert!(
        status == 400 && body["error"].as_str().unwrap().contains("not of queue"),
        "{body}"
    );
    let (status, body) = api
        .act("idle", json!({"action": "delete", "state": "pending"}))
        .await;
    assert!(
        status == 400 && body["error"].as_str().unwrap().contains("say which"),
        "{body}"
    );

    // Promote now: the scheduled task runs at once and completes.
    let (status, body) = api
        .act(
            "echo",
            json!({"action": "promote", "state": "scheduled", "ids": [later.to_string()]}),
        )
        .await;
    assert_eq!((status, body["done"].as_u64()), (200, Some(1)), "{body}");
    api.until_state(&later, TaskState::Completed).await;

    // Retry a dead task (re-driven: it runs again and dies again).
    let (status, body) = api
        .act(
            "email",
            json!({"action": "retry", "state": "dead", "all": true}),
        )
        .await;
    assert_eq!((status, body["done"].as_u64()), (200, Some(1)), "{body}");
    eventually("the re-driven task ran", SETTLES, || async {
        let stats = api.client.stats().await.unwrap();
        let email = stats.iter().find(|q| q.queue == "email")?;
        (email.counters.redriven == 1 && email.dead == 1).then_some(())
    })
    .await;

    // Cancel the retry-waiting one; it is listed as cancelled.
    let run = wasmq(
        &url,
        &[
            "tasks",
            "cancel",
            "email",
            "--state",
            "retry",
            "--id",
            &retrying.to_string(),
        ],
    )
    .await
    .expect(0);
    assert!(run.stdout.contains("1 task(s) done"), "{}", run.stdout);
    let (_, page) = api.get("/api/v1/queues/email/tasks?state=cancelled").await;
    assert_eq!(ids(&page), [retrying.to_string()]);

    // Delete one pending task by id, then the rest with "all".
    let (status, body) = api
        .act(
            "idle",
            json!({"action": "delete", "state": "pending", "ids": [idle[1].to_string()]}),
        )
        .await;
    assert_eq!((status, body["done"].as_u64()), (200, Some(1)), "{body}");
    let (_, page) = api.get("/api/v1/queues/idle/tasks?state=pending").await;
    assert_eq!(ids(&page), [idle[0].to_string(), idle[2].to_string()]);
    let run = wasmq(&url, &["tasks", "delete", "idle", "--state", "pending"])
        .await
        .expect(2);
    assert!(run.stderr.contains("--all"), "{}", run.stderr);
    wasmq(
        &url,
        &["tasks", "delete", "idle", "--state", "pending", "--all"],
    )
    .await
    .expect(0);
    let (_, page) = api.get("/api/v1/queues/idle/tasks?state=pending").await;
    assert_eq!(page["total"], 0);
    assert!(
        api.client.status(&idle[0]).await.unwrap().is_none(),
        "deleted for good"
    );
    api.stop().await;
}

/// A sealed payload is marked encrypted and never opened for the listing,
/// even by a server that holds the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_payloads_are_marked_not_shown() {
    let api = Api::start(None, None).await;
    let ring = "k1:MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";
    let opts = BrokerOptions {
        encryption: Some(Encryption::new(KeyRing::parse(ring).unwrap(), None)),
        ..BrokerOptions::default()
    };
    let sealed = wasmq::Client::connect(&api.redis.url(), opts)
        .await
        .unwrap();
    sealed
        .enqueue(TaskSpec::new("vault", "top secret payload"))
        .await
        .unwrap();
    for client in [&api.client, &sealed] {
        let page = client
            .list_tasks("vault", TaskState::Pending, None, 10)
            .await
            .unwrap();
        let preview = page.tasks[0].payload.clone().unwrap();
        assert!(preview.encrypted && preview.bytes.is_empty(), "{preview:?}");
    }
    let (_, page) = api.get("/api/v1/queues/vault/tasks?state=pending").await;
    let text = page.to_string();
    assert!(!text.contains("top secret"), "{text}");
    assert_eq!(page["tasks"][0]["payload"]["encrypted"], true);
    api.stop().await;
}
