//! Hosts whose plugins change under them, as processes: a plugin removed
//! under load parks its tasks until it returns, and one type's
//! `max_concurrency` caps it while the other types use the free slots.

use std::time::Duration;
use wasmq::cli::demo::DemoServices;
use wasmq_tests::broker::client;
use wasmq_tests::host::{
    HostProcess, completed_at_least, enqueue, eventually, json_tasks, results, settled,
};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisServer;

const LONG: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread")]
async fn removing_a_plugin_under_load_parks_its_tasks_until_it_returns() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("echo", "echo"), ("noop", "noop")]);
    let host = HostProcess::start(&redis.url(), plugins.path(), &["--concurrency", "2"]);
    let client = client(&redis.url()).await;
    let payload = |n: usize| serde_json::json!({ "n": n });
    let mut enqueued = enqueue(&client, json_tasks("echo", (0..1000).map(payload)))
        .await
        .len();
    completed_at_least(&client, &["echo"], 300, LONG).await;
    std::fs::remove_file(plugins.path().join("echo.wasm")).unwrap();
    // Keep echo tasks coming until the host has dropped the type.
    let dropped = "serving queues queues=[\"noop\"]";
    while !host.log().contains(dropped) {
        enqueued += enqueue(&client, json_tasks("echo", (0..50).map(payload)))
            .await
            .len();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Enqueued after the removal: nobody may run these.
    enqueued += enqueue(&client, json_tasks("echo", (0..500).map(payload)))
        .await
        .len();
    let parked = eventually("echo leases to be settled or released", LONG, || async {
        let t = wasmq_tests::host::try_totals(&client, &["echo"])
            .await
            .ok()?;
        (t.active == 0).then_some(t)
    })
    .await;
    assert!(parked.pending >= 500, "{parked:?}");
    assert_eq!(
        (parked.dead, parked.retried),
        (0, 0),
        "removed-type tasks wait, they do not fail: {parked:?}"
    );
    // Other types keep flowing meanwhile.
    enqueue(
        &client,
        json_tasks("noop", (0..500).map(|n| serde_json::json!({ "n": n }))),
    )
    .await;
    settled(&client, &["noop"], 500, LONG).await;
    let still = wasmq_tests::host::totals(&client, &["echo"]).await;
    assert_eq!(
        still.completed, parked.completed,
        "nothing ran echo while it was gone"
    );

    std::fs::copy(
        wasmq_tests::plugins::plugin("echo"),
        plugins.path().join("echo.wasm"),
    )
    .unwrap();
    let t = settled(&client, &["echo"], enqueued as u64, LONG).await;
    assert_eq!(
        (t.completed, t.dead, t.retried),
        (enqueued as u64, 0, 0),
        "{t:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_types_max_concurrency_caps_it_while_other_types_use_the_free_slots() {
    let redis = RedisServer::start();
    let services = DemoServices::start().unwrap();
    let plugins = PluginsDir::with(&[("image", "image"), ("echo", "echo")]);
    plugins.granted("image", &services, "max_concurrency = 1\n");
    let _host = HostProcess::start(&redis.url(), plugins.path(), &["--concurrency", "3"]);
    let client = client(&redis.url()).await;
    let job = serde_json::json!({ "width": 2048, "height": 2048, "scale": 0.5 });
    let images = enqueue(&client, json_tasks("image", std::iter::repeat_n(job, 12))).await;
    enqueue(
        &client,
        json_tasks("echo", (0..3000).map(|n| serde_json::json!({ "n": n }))),
    )
    .await;
    let t = settled(&client, &["image", "echo"], 3012, LONG).await;
    assert_eq!((t.completed, t.dead), (3012, 0), "{t:?}");
    // Runs one at a time fit inside the span from the first lease to the
    // last ack; two at a time would add up to about twice that span.
    let runs = results(&client, &images).await;
    let busy: u64 = runs.iter().map(|r| r.wall_ms.unwrap()).sum();
    let first = runs.iter().map(|r| r.started_at_ms.unwrap()).min().unwrap();
    let last = runs.iter().map(|r| r.finished_at_ms).max().unwrap();
    println!(
        "12 image runs: {busy} ms of runs within {} ms",
        last - first
    );
    assert!(
        busy <= last - first + 12,
        "image runs overlapped: {busy} ms of runs in {} ms",
        last - first
    );
}
