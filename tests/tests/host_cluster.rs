//! The whole host flow on a Redis Cluster of three masters with a replica
//! each, as users scale onto it: three `wasmq run` processes, enqueues from
//! the client, the CLI and the HTTP API, retries and dead letters, cancel,
//! pause, the dashboard in Chromium, and stats; then a master
//! killed with SIGKILL mid-drain, its replica promoted, and not one task
//! lost, run twice or dead.

use serde_json::json;
use std::time::Duration;
use wasmq::task::{TaskId, TaskState};
use wasmq_tests::broker::client;
use wasmq_tests::browser::Browser;
use wasmq_tests::cli::{enqueued_id, wasmq};
use wasmq_tests::host::{
    HostProcess, completed_at_least, enqueue, eventually, json_tasks, settled, statuses, totals,
    try_statuses,
};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::{RedisCluster, free_port};

const LONG: Duration = Duration::from_secs(180);

/// Three hosts with their HTTP API on free ports, retrying fast.
fn three_hosts(url: &str, plugins: &PluginsDir, extra: &[&str]) -> (Vec<HostProcess>, Vec<String>) {
    let addrs: Vec<String> = (0..3)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let hosts = addrs
        .iter()
        .map(|addr| {
            let mut flags = vec![
                "--http",
                addr,
                "--backoff-base",
                "10ms",
                "--backoff-cap",
                "50ms",
            ];
            flags.extend(extra);
            let mut host = HostProcess::start(url, plugins.path(), &flags);
            host.wait_for_log("HTTP API and dashboard listening", LONG);
            host
        })
        .collect();
    (hosts, addrs)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_flow_runs_end_to_end_on_a_replicated_cluster() {
    let cluster = RedisCluster::start_replicated();
    let url = cluster.seeds_url();
    let plugins = PluginsDir::with(&[("echo", "echo"), ("panic", "panic"), ("sleeper", "sleeper")]);
    let (hosts, addrs) = three_hosts(&url, &plugins, &[]);
    let producer = client(&url).await;

    // Enqueue through every door: the client, the CLI and each host's API.
    let mut ids = enqueue(
        &producer,
        json_tasks("echo", (0..60).map(|n| json!({ "n": n }))),
    )
    .await;
    let by_cli = wasmq(
        &url,
        &["enqueue", "echo", "--payload", r#"{"via":"cli"}"#, "--json"],
    )
    .await;
    ids.push(enqueued_id(&by_cli.expect(0)).parse().unwrap());
    let http = reqwest::Client::new();
    for addr in &addrs {
        let reply: serde_json::Value = http
            .post(format!("http://{addr}/api/v1/tasks"))
            .json(&json!({"type": "echo", "payload": {"via": addr}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(reply["id"].as_str().expect("an id").parse().unwrap());
    }
    let doomed = wasmq(&url, &["enqueue", "panic", "--max-retries", "2", "--json"]).await;
    let doomed: TaskId = enqueued_id(&doomed.expect(0)).parse().unwrap();

    let done = settled(&producer, &["echo"], ids.len() as u64, LONG).await;
    assert_eq!((done.completed, done.dead), (ids.len() as u64, 0));
    assert!(
        statuses(&producer, &ids)
            .await
            .iter()
            .all(|s| s.state == TaskState::Completed)
    );
    let dead = settled(&producer, &["panic"], 1, LONG).await;
    assert_eq!(
        (dead.dead, dead.retried),
        (1, 2),
        "two retries, then the dead set"
    );
    let shown = wasmq(&url, &["dead", "list", "--queue", "panic", "--json"])
        .await
        .expect(0)
        .stdout;
    assert!(shown.contains(&doomed.to_string()), "{shown}");

    // Cancel a task that sleeps in a host call, on whichever host runs it.
    let sleeping = enqueued_id(
        &wasmq(
            &url,
            &[
                "enqueue",
                "sleeper",
                "--payload",
                r#"{"ms":600000}"#,
                "--json",
            ],
        )
        .await
        .expect(0),
    );
    eventually("the sleeper to run", LONG, || async {
        (totals(&producer, &["sleeper"]).await.active == 1).then_some(())
    })
    .await;
    wasmq(&url, &["cancel", &sleeping]).await.expect(0);
    let cancelled = settled(&producer, &["sleeper"], 1, LONG).await;
    assert_eq!(cancelled.cancelled, 1, "{cancelled:?}");

    // Pause: nothing of the queue runs until it is resumed.
    wasmq(&url, &["pause", "echo"]).await.expect(0);
    let held = enqueue(
        &producer,
        json_tasks("echo", (0..5).map(|n| json!({ "held": n }))),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        totals(&producer, &["echo"]).await.pending,
        5,
        "a paused queue is not leased"
    );
    wasmq(&url, &["resume", "echo"]).await.expect(0);
    settled(&producer, &["echo"], (ids.len() + held.len()) as u64, LONG).await;

    // Stats, the hosts list and the dashboard see all of it from any host.
    let queues = wasmq(&url, &["queues", "--json"]).await.expect(0).json();
    let echo = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "echo");
    let echo = echo.unwrap_or_else(|| panic!("no echo row in {queues}"));
    assert_eq!(
        echo["counters"]["completed"],
        (ids.len() + held.len()) as u64,
        "{queues}"
    );
    assert_eq!(echo["live_hosts"], 3, "{queues}");
    let listed = wasmq(&url, &["hosts", "--json"]).await.expect(0).json();
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    let mut browser = Browser::launch().await.expect("launch headless Chromium");
    browser
        .navigate(&format!("http://{}/", addrs[2]))
        .await
        .unwrap();
    let three_hosts_and_the_queue = "document.querySelectorAll('tr[data-host-id]').length === 3 \
        && document.querySelector(\"tr[data-queue='echo']\") !== null";
    browser
        .wait_for(three_hosts_and_the_queue, LONG)
        .await
        .unwrap();
    browser.assert_no_page_errors();
    drop(hosts);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_master_killed_mid_drain_loses_nothing() {
    const TASKS: u64 = 600;
    let mut cluster = RedisCluster::start_replicated();
    let url = cluster.seeds_url();
    // Six queues, so that each master holds the keys of some.
    let queues = ["fo-a", "fo-b", "fo-c", "fo-d", "fo-e", "fo-f"];
    let plugins = PluginsDir::with(&queues.map(|q| ("sleeper", q)));
    let producer = client(&url).await;
    let mut ids = Vec::new();
    for queue in queues {
        let each = TASKS / queues.len() as u64;
        let specs = json_tasks(queue, (0..each).map(|_| json!({ "ms": 20 })));
        ids.extend(enqueue(&producer, specs).await);
    }
    // Replication is asynchronous: what a master acknowledged but had not
    // sent is what a failover may lose (docs/scaling.md). Rule it out here.
    cluster.wait_replicated();
    let (mut hosts, _) = three_hosts(&url, &plugins, &["--concurrency", "8", "--lease", "3s"]);
    completed_at_least(&producer, &queues, TASKS / 10, LONG).await;
    let victim = cluster.node_of(&format!("{{{}}}", queues[0]));
    cluster.kill_node(victim);
    cluster.wait_for_failover();

    let done = settled(&producer, &queues, TASKS, LONG).await;
    assert_eq!(
        (done.completed, done.dead, done.cancelled),
        (TASKS, 0, 0),
        "every task completed exactly once in the counters: {done:?}"
    );
    // Read until no read fails: a client may meet a few errors (timeouts)
    // while a loaded machine settles after the failover; what is checked
    // is that every task is completed.
    let all = eventually("every status to read after the failover", LONG, || async {
        try_statuses(&producer, &ids).await.ok()
    })
    .await;
    assert!(all.iter().all(|s| s.state == TaskState::Completed));
    for host in &mut hosts {
        assert!(!host.log().contains("panicked"), "{}", host.log());
    }
}
