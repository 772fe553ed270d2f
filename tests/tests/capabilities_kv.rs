//! Issue 11: key-value buckets (`wasi:keyvalue`) on a real redis-server,
//! through the real `tally` plugin: buckets are granted per plugin, scoped
//! to it, bounded, and `increment` is atomic under concurrent tasks.

use std::sync::Arc;
use wasmq::broker::BrokerOptions;
use wasmq::config::Limits;
use wasmq::runtime::{CancelToken, Invocation, OutcomeKind, Plugin, Runtime};
use wasmq::worker::RedisKv;
use wasmq_tests::plugins::{plugin, test_runtime};
use wasmq_tests::redis::RedisServer;

/// A runtime whose buckets live in `redis`, and a directory for plugins.
async fn runtime(redis: &RedisServer) -> (Runtime, tempfile::TempDir) {
    let runtime = test_runtime(32);
    let client = wasmq::Client::connect(&redis.url(), BrokerOptions::default())
        .await
        .unwrap();
    assert!(runtime.attach_kv(Arc::new(RedisKv::new(client))));
    (runtime, tempfile::tempdir().unwrap())
}

/// `tally` loaded as task type `name`, with `manifest`.
fn tally(runtime: &Runtime, dir: &tempfile::TempDir, name: &str, manifest: &str) -> Plugin {
    let wasm = dir.path().join(format!("{name}.wasm"));
    std::fs::copy(plugin("tally"), &wasm).unwrap();
    std::fs::write(dir.path().join(format!("{name}.toml")), manifest).unwrap();
    runtime.load(name, &wasm, Limits::default()).unwrap()
}

async fn op(plugin: &Plugin, payload: serde_json::Value) -> Result<String, String> {
    let invocation = Invocation::new(
        format!("{}:1", plugin.task_type()),
        plugin.task_type(),
        payload.to_string().into_bytes(),
    );
    let outcome = plugin.run(invocation, &CancelToken::new()).await;
    match outcome.kind {
        OutcomeKind::Success { output, .. } => Ok(String::from_utf8(output).unwrap()),
        OutcomeKind::Permanent { message } | OutcomeKind::Retryable { message, .. } => Err(message),
        other => panic!("{other:?}\n{}", outcome.log),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_are_scoped_to_their_plugin_and_granted_by_name() {
    let redis = RedisServer::start();
    let (runtime, dir) = runtime(&redis).await;
    let grant = "[capabilities]\nkv = [\"counts\", \"other\"]\n";
    let a = tally(&runtime, &dir, "tally-a", grant);
    let b = tally(&runtime, &dir, "tally-b", grant);
    let set = serde_json::json!({ "bucket": "counts", "set": "k", "value": "from a" });
    assert_eq!(op(&a, set).await.unwrap(), "ok");
    let get = |bucket: &str| serde_json::json!({ "bucket": bucket, "get": "k" });
    assert_eq!(op(&a, get("counts")).await.unwrap(), "from a");
    assert_eq!(
        op(&b, get("counts")).await.unwrap(),
        "<none>",
        "another plugin's bucket of the same name"
    );
    assert_eq!(
        op(&a, get("other")).await.unwrap(),
        "<none>",
        "another bucket of the same plugin"
    );
    let denied = op(&a, serde_json::json!({ "bucket": "secret", "get": "k" }))
        .await
        .unwrap_err();
    assert!(denied.contains("[capabilities] kv"), "{denied}");
    // In Redis, one hash per plugin and bucket.
    assert_eq!(
        redis
            .cli(&["HGET", "wasmq:{kv:tally-a:counts}", "k"])
            .trim(),
        "from a"
    );
    assert_eq!(
        redis.cli(&["EXISTS", "wasmq:{kv:tally-b:counts}"]).trim(),
        "0"
    );

    for i in 0..150 {
        let set =
            serde_json::json!({ "bucket": "other", "set": format!("key{i:03}"), "value": "v" });
        op(&a, set).await.unwrap();
    }
    let keys = op(&a, serde_json::json!({ "bucket": "other", "keys": true }))
        .await
        .unwrap();
    assert_eq!(
        keys.split(',').count(),
        150,
        "list-keys pages through the whole bucket"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn increment_is_atomic_under_eight_concurrent_tasks() {
    let redis = RedisServer::start();
    let (runtime, dir) = runtime(&redis).await;
    let counter = tally(
        &runtime,
        &dir,
        "tally",
        "[capabilities]\nkv = [\"counts\"]\n",
    );
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let counter = counter.clone();
            tokio::spawn(async move {
                for _ in 0..25 {
                    op(
                        &counter,
                        serde_json::json!({ "bucket": "counts", "incr": "hits" }),
                    )
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let total = op(
        &counter,
        serde_json::json!({ "bucket": "counts", "get": "hits" }),
    )
    .await
    .unwrap();
    assert_eq!(total, "200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_are_capped_buckets_expire_and_an_ungranted_import_is_refused() {
    let redis = RedisServer::start();
    let (runtime, dir) = runtime(&redis).await;
    let small = tally(
        &runtime,
        &dir,
        "small",
        "[capabilities]\nkv = [\"counts\"]\nkv_max_value = 16\nkv_ttl = { counts = \"1h\" }\n",
    );
    let big = serde_json::json!({ "bucket": "counts", "set": "k", "value": "x".repeat(17) });
    let refused = op(&small, big).await.unwrap_err();
    assert!(refused.contains("kv_max_value"), "{refused}");
    assert_eq!(
        redis.cli(&["EXISTS", "wasmq:{kv:small:counts}"]).trim(),
        "0",
        "nothing was written"
    );
    op(
        &small,
        serde_json::json!({ "bucket": "counts", "set": "k", "value": "fits" }),
    )
    .await
    .unwrap();
    let ttl: i64 = redis
        .cli(&["PTTL", "wasmq:{kv:small:counts}"])
        .trim()
        .parse()
        .unwrap();
    assert!(
        ttl > 3_500_000 && ttl <= 3_600_000,
        "the bucket expires an hour after its last write: {ttl}"
    );

    let wasm = dir.path().join("bare.wasm");
    std::fs::copy(plugin("tally"), &wasm).unwrap();
    let error = runtime
        .load("bare", &wasm, Limits::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("wasi:keyvalue") && error.contains("[capabilities] kv"),
        "{error}"
    );
}
