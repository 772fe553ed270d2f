//! Issue 12, child tasks, end to end: the `fanout` plugin enqueues children
//! through `wasmq:plugin/tasks` in real `wasmq run` processes on a real
//! redis-server, and the grant is enforced at load and at call time.
//! (The outbox and forwarder alone, with crashes placed exactly, on a
//! Cluster and with their cost, are in `broker_children.rs`.)

use std::time::Duration;
use wasmq::config::Limits;
use wasmq::runtime::{CancelToken, Invocation, OutcomeKind};
use wasmq::task::{TaskId, TaskState, child_local_id};
use wasmq_tests::broker::client;
use wasmq_tests::host::{HostProcess, enqueue, json_tasks, results, settled, statuses, totals};
use wasmq_tests::plugins::{copy_plugin, test_runtime};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisServer;

const LONG: Duration = Duration::from_secs(600);
const GRANT: &str = "max_retries = 3\n[capabilities]\nenqueue = [\"echo\"]\n";

/// The ids the children of `parent` get.
fn child_ids(parent: &TaskId, n: u32) -> Vec<TaskId> {
    (0..n)
        .map(|i| TaskId::new("echo", &child_local_id(&parent.to_string(), i)).unwrap())
        .collect()
}

/// A fanout that fails its first attempt after enqueueing 5 children
/// commits them once, on its second attempt: exactly 5 echo tasks exist
/// and complete, under the ids the plugin was given. A fanout that fails
/// for good after enqueueing commits none.
#[tokio::test(flavor = "multi_thread")]
async fn children_are_committed_only_when_the_run_succeeds() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("fanout", "fanout"), ("echo", "echo")]);
    plugins.manifest("fanout", GRANT);
    let _host = HostProcess::start(
        &redis.url(),
        plugins.path(),
        &["--concurrency", "2", "--maintenance-tick", "50ms"],
    );
    let client = client(&redis.url()).await;
    let ids = enqueue(
        &client,
        json_tasks(
            "fanout",
            [
                serde_json::json!({ "type": "echo", "n": 5, "fail_attempts": 1 }),
                serde_json::json!({ "type": "echo", "n": 4, "permanent": true }),
            ],
        ),
    )
    .await;
    let parents = settled(&client, &["fanout"], 2, LONG).await;
    assert_eq!((parents.completed, parents.dead), (1, 1), "{parents:?}");
    assert_eq!(parents.retried, 1, "the first attempt failed: {parents:?}");
    let echo = settled(&client, &["echo"], 5, LONG).await;
    assert_eq!(echo.completed, 5, "exactly the successful run's: {echo:?}");

    let expected = child_ids(&ids[0], 5);
    let output = &results(&client, &ids[..1]).await[0];
    let listed = String::from_utf8(output.output.clone()).unwrap();
    let listed: Vec<&str> = listed.lines().collect();
    let expected_text: Vec<String> = expected.iter().map(ToString::to_string).collect();
    assert_eq!(listed, expected_text, "the ids the plugin got back");
    for status in statuses(&client, &expected).await {
        assert_eq!(status.state, TaskState::Completed, "{status:?}");
    }
    for id in child_ids(&ids[1], 4) {
        let status = client.status(&id).await.unwrap();
        assert!(status.is_none(), "a failed run commits nothing: {status:?}");
    }
    // Nothing left behind, and no more children appear later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(totals(&client, &["echo"]).await.completed, 5);
    assert_eq!(
        redis.cli(&["HLEN", "wasmq:{fanout}:outbox"]).trim(),
        "0",
        "the outbox was forwarded and cleared"
    );
}

/// A plugin that imports `wasmq:plugin/tasks` without `[capabilities]
/// enqueue` is refused at load with the key to set; with the grant, a type
/// it was not granted is an error returned to the plugin, naming the grant.
#[test]
fn the_enqueue_grant_is_checked_at_load_and_per_type() {
    let runtime = test_runtime(4);
    let dir = tempfile::tempdir().unwrap();
    let wasm = copy_plugin("fanout", dir.path(), "fanout");
    let err = runtime
        .load("fanout", &wasm, Limits::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("wasmq:plugin/tasks") && err.contains("[capabilities] enqueue"),
        "{err}"
    );

    std::fs::write(
        dir.path().join("fanout.toml"),
        "[capabilities]\nenqueue = [\"email\"]\n",
    )
    .unwrap();
    let plugin = runtime.load("fanout", &wasm, Limits::default()).unwrap();
    let payload = serde_json::json!({ "type": "echo", "n": 1 }).to_string();
    let invocation = Invocation::new("fanout:1", "fanout", payload.into_bytes());
    let outcome = plugin.run_blocking(invocation, &CancelToken::new());
    match &outcome.kind {
        OutcomeKind::Permanent { message } => assert!(
            message.contains("`echo` is not granted") && message.contains("[capabilities] enqueue"),
            "{message}"
        ),
        other => panic!("{other:?}\n{}", outcome.log),
    }
    assert!(outcome.children.is_empty());

    let payload = serde_json::json!({ "type": "email", "n": 2 }).to_string();
    let invocation = Invocation::new("fanout:2", "fanout", payload.into_bytes());
    let outcome = plugin.run_blocking(invocation, &CancelToken::new());
    assert!(outcome.is_success(), "{:?}", outcome.kind);
    let ids: Vec<String> = outcome.children.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(
        ids,
        [0, 1].map(|i| format!("email:{}", child_local_id("fanout:2", i)))
    );
}

/// More children than `enqueue_max_children` in one run: the one past the
/// cap is refused and the run fails, committing none.
#[test]
fn children_per_run_are_capped() {
    let runtime = test_runtime(4);
    let dir = tempfile::tempdir().unwrap();
    let wasm = copy_plugin("fanout", dir.path(), "fanout");
    std::fs::write(
        dir.path().join("fanout.toml"),
        "[capabilities]\nenqueue = [\"echo\"]\nenqueue_max_children = 3\n",
    )
    .unwrap();
    let plugin = runtime.load("fanout", &wasm, Limits::default()).unwrap();
    let payload = serde_json::json!({ "type": "echo", "n": 4 }).to_string();
    let outcome = plugin.run_blocking(
        Invocation::new("fanout:1", "fanout", payload.into_bytes()),
        &CancelToken::new(),
    );
    match &outcome.kind {
        OutcomeKind::Permanent { message } => {
            assert!(message.contains("enqueue_max_children"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(outcome.children.is_empty(), "a failed run has no children");
}

/// Hosts killed -9 while fanouts run, ack and forward: a second host
/// finishes the work, and every parent ends with exactly its children
/// (a repeated forward of a dead host's outbox creates no duplicate).
/// Where the kill lands is up to the scheduler; `broker_children.rs`
/// places it exactly between the ack and the forwarding, 20 times.
#[tokio::test(flavor = "multi_thread")]
async fn hosts_killed_mid_fanout_leave_no_duplicate_child() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("fanout", "fanout"), ("echo", "echo")]);
    plugins.manifest("fanout", GRANT);
    let flags = [
        "--concurrency",
        "4",
        "--lease",
        "1s",
        "--maintenance-tick",
        "50ms",
    ];
    let client = client(&redis.url()).await;
    let payloads = (0..200).map(|_| serde_json::json!({ "type": "echo", "n": 10 }));
    let ids = enqueue(&client, json_tasks("fanout", payloads)).await;
    for at in [40, 100, 160] {
        let mut victim = HostProcess::start(&redis.url(), plugins.path(), &flags);
        wasmq_tests::host::completed_at_least(&client, &["fanout"], at, LONG).await;
        victim.kill();
    }
    let _survivor = HostProcess::start(&redis.url(), plugins.path(), &flags);
    let parents = settled(&client, &["fanout"], 200, LONG).await;
    assert_eq!(parents.completed, 200, "{parents:?}");
    let echo = settled(&client, &["echo"], 2000, LONG).await;
    let enqueued = client.queue_stats("echo").await.unwrap().counters.enqueued;
    assert_eq!((echo.completed, enqueued), (2000, 2000), "{echo:?}");
    let all: Vec<TaskId> = ids.iter().flat_map(|p| child_ids(p, 10)).collect();
    for status in statuses(&client, &all).await {
        assert_eq!(status.state, TaskState::Completed, "{status:?}");
    }
}
