//! Hosts on a Sentinel-managed Redis (`redis+sentinel://`) through a
//! failover: the master is killed with SIGKILL mid-drain, the sentinels
//! promote the replica, and the hosts, the producer and the cancel
//! subscription follow it without losing a task.

use std::time::Duration;
use wasmq::Client;
use wasmq::broker::BrokerOptions;
use wasmq::task::{TaskId, TaskSpec, TaskState};
use wasmq_tests::host::{HostProcess, completed_at_least, eventually, settled, totals};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisSentinel;

const LONG: Duration = Duration::from_secs(120);
const TASKS: u64 = 400;

async fn connect(url: &str) -> Client {
    Client::connect(url, BrokerOptions::default())
        .await
        .expect("connect through the sentinels")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failover_mid_drain_loses_nothing() {
    let mut group = RedisSentinel::start();
    let url = group.url();
    let plugins = PluginsDir::with(&[("sleep200", "sleep200")]);
    let client = connect(&url).await;
    let specs: Vec<TaskSpec> = (0..TASKS)
        .map(|i| TaskSpec::new("sleep200", i.to_string()))
        .collect();
    let mut ids: Vec<TaskId> = client.enqueue_many(specs).await.expect("enqueue");
    // Replication is asynchronous: what the master acknowledged but had not
    // sent is what a failover may lose (docs/scaling.md). Rule it out here.
    group.wait_replicated();
    let flags = ["--concurrency", "8", "--lease", "3s"];
    let mut hosts: Vec<HostProcess> = (0..2)
        .map(|_| HostProcess::start(&url, plugins.path(), &flags))
        .collect();
    completed_at_least(&client, &["sleep200"], 40, LONG).await;
    let now = totals(&client, &["sleep200"]).await;
    assert!(
        now.waiting() > 0,
        "the kill must land mid-drain: {} completed",
        now.completed
    );

    group.kill_master();
    group.wait_for_failover();

    // A producer that connected before the failover enqueues on the new
    // master once its client has followed the promotion (the first calls
    // fail with a connection error, as in any outage).
    let late = eventually("an enqueue on the new master", LONG, || async {
        match client.enqueue(TaskSpec::new("sleep200", "late")).await {
            Ok(id) => Some(id),
            Err(e) => {
                assert!(
                    e.is_connection(),
                    "only connection errors while failing over: {e}"
                );
                None
            }
        }
    })
    .await;
    ids.push(late);
    let done = settled(&client, &["sleep200"], TASKS + 1, LONG).await;
    assert_eq!(
        (done.completed, done.dead),
        (TASKS + 1, 0),
        "nothing lost, nothing dead"
    );
    for id in &ids {
        let status = client.status(id).await.expect("status").expect("known");
        assert_eq!(status.state, TaskState::Completed, "{id}: {status:?}");
    }
    let info = group.replica_cli(&["INFO", "replication"]);
    assert!(info.contains("role:master"), "{info}");
    for host in &mut hosts {
        assert!(
            host.log()
                .contains("reconnected to the master the sentinels name now"),
            "each host followed the promotion:\n{}",
            host.log()
        );
        host.terminate();
        assert!(host.wait(LONG).success(), "{}", host.log());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_service_name_is_refused_with_the_reason() {
    let group = RedisSentinel::start();
    let url = group.url().replace("/wasmq", "/nosuch");
    let err = Client::connect(&url, BrokerOptions::default())
        .await
        .expect_err("no master is named nosuch")
        .to_string();
    assert!(
        err.contains("does not monitor a master named \"nosuch\""),
        "{err}"
    );
    let _ = group.master_port();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_durable_enqueue_returns_once_the_replica_has_it() {
    let group = RedisSentinel::start();
    let opts = BrokerOptions {
        durable_replicas: 1,
        ..BrokerOptions::default()
    };
    let client = Client::connect(&group.url(), opts.clone())
        .await
        .expect("connect");
    let ids = client
        .enqueue_many(
            (0..50)
                .map(|i| TaskSpec::new("echo", i.to_string()))
                .collect(),
        )
        .await
        .expect("one replica confirms");
    assert_eq!(ids.len(), 50);
    // WAIT returned, so the replica holds every task without further waiting.
    for id in &ids {
        let found = group.replica_cli(&["HEXISTS", "wasmq:{echo}:t", id.local()]);
        assert_eq!(found.trim(), "1", "{id} is on the replica");
    }

    // Asking for more replicas than exist fails, naming what was accepted.
    let opts = BrokerOptions {
        durable_replicas: 2,
        durable_timeout: Duration::from_millis(100),
        ..opts
    };
    let client = Client::connect(&group.url(), opts).await.expect("connect");
    let err = client
        .enqueue(TaskSpec::new("echo", "x"))
        .await
        .expect_err("only one replica exists");
    let text = err.to_string();
    assert!(
        text.contains("only 1 of 2 replica(s) confirmed") && text.contains("echo:"),
        "{text}"
    );
    let wasmq::broker::BrokerError::NotReplicated { ids, .. } = err else {
        panic!("{text}")
    };
    let status = client.status(&ids[0]).await.unwrap().expect("accepted");
    assert_eq!(status.state, TaskState::Pending);
}
