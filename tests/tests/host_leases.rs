//! Leases under faults that leave a host alive: a host frozen past its
//! lease and thawed (it then holds two leases of one task), a shutdown that
//! arrives while a lease call is inside Redis, and one queue whose keys fail
//! while another's task runs. Each is a defect the audit of issue 9
//! reproduced; each test fails on the code before its fix.

use std::time::Duration;
use wasmq::task::{TaskSpec, TaskState};
use wasmq_tests::broker::client;
use wasmq_tests::host::{HostProcess, enqueue, eventually, settled, statuses, totals};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::{RedisCluster, RedisServer};

const LONG: Duration = Duration::from_secs(600);

/// A sleeper task that runs `ms` and fails its first `fail` attempts, with
/// `retries` retries.
fn sleeper(queue: &str, ms: u64, fail: u32, retries: u32) -> TaskSpec {
    let payload = serde_json::json!({ "ms": ms, "fail_attempts": fail });
    TaskSpec::new(queue, payload.to_string()).max_retries(retries)
}

/// Issue 9, item 1. The host is frozen (SIGSTOP) mid-run for longer than
/// its lease; meanwhile the lease expires and is reaped (as another host's
/// reaper would), and on thawing this host leases the task again while the
/// first run is still going. The first run fails (attempt 1 of 2 fails on
/// purpose); its verdict must settle the first lease, which Redis refuses as
/// stale, not the second. Keyed by task id, it settled the second lease and
/// dead-lettered the task as retries-exhausted while attempt 2 was running.
#[tokio::test(flavor = "multi_thread")]
async fn a_host_frozen_past_its_lease_settles_each_lease_once() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("sleeper", "sleeper")]);
    let mut host = HostProcess::start(
        &redis.url(),
        plugins.path(),
        &["--concurrency", "2", "--lease", "1s"],
    );
    let client = client(&redis.url()).await;
    let ids = enqueue(&client, vec![sleeper("sleeper", 3000, 1, 1)]).await;
    eventually("the first run to start", LONG, || async {
        (totals(&client, &["sleeper"]).await.active == 1).then_some(())
    })
    .await;

    host.freeze();
    // Past the 1 s lease; then take the task back as any host's reaper would.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let reaped = client.reap_expired("sleeper", 10).await.unwrap();
    assert_eq!(
        reaped.requeued, 1,
        "the frozen lease expired and was reaped"
    );
    host.thaw();

    let t = settled(&client, &["sleeper"], 1, LONG).await;
    let status = &statuses(&client, &ids).await[0];
    assert_eq!(
        (status.state, status.attempts, t.dead),
        (TaskState::Completed, 2, 0),
        "attempt 2 completes; the first run's failure must not bury it: {status:?}\n{}",
        host.log()
    );
    host.terminate();
    host.wait(LONG);
    let log = host.log();
    assert_eq!(
        log.matches("stale lease").count(),
        1,
        "exactly the first lease's verdict is refused as stale:\n{log}"
    );
    assert!(
        !log.contains("does not hold"),
        "every verdict found its lease:\n{log}"
    );
}

/// Issue 9, item 2. A shutdown that comes while a lease call is inside
/// Redis (here held there by `CLIENT PAUSE`) must wait for its reply and
/// give those tasks back, not drop the call: Redis runs the script anyway,
/// and its tasks would stay leased to nobody until the lease expired,
/// costing each an attempt.
#[tokio::test(flavor = "multi_thread")]
async fn a_shutdown_never_drops_a_lease_call_in_flight() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("noop", "noop")]);
    let mut host = HostProcess::start(
        &redis.url(),
        plugins.path(),
        &["--concurrency", "4", "--lease-batch", "32"],
    );
    let client = client(&redis.url()).await;
    let n = 20_000;
    enqueue(&client, (0..n).map(|_| TaskSpec::new("noop", "")).collect()).await;
    eventually("the host to drain", LONG, || async {
        (totals(&client, &["noop"]).await.completed >= 500).then_some(())
    })
    .await;
    // Every write (each lease, ack and release) now waits inside Redis.
    redis.cli(&["CLIENT", "PAUSE", "2000", "WRITE"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    host.terminate();
    assert!(host.wait(LONG).success(), "{}", host.log());

    let t = totals(&client, &["noop"]).await;
    assert_eq!(
        t.active,
        0,
        "no task left leased to nobody: {t:?}\n{}",
        host.log()
    );
    assert_eq!(t.completed + t.pending, n as u64, "{t:?}");
    assert_eq!(t.expired, 0, "{t:?}");
}

/// Issue 9, item 3. Two queues run a long task each on one host; then the
/// host loses access to one queue's keys (an ACL change: the same failure a
/// Cluster shard going down gives that queue). The healthy queue's lease
/// must still be extended, so its task keeps its single owner although a
/// reaper runs all along; before the fix, one failing queue stopped the
/// whole extension round.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_queue_does_not_stop_lease_extension_of_the_others() {
    let redis = RedisServer::start();
    redis.cli(&[
        "ACL",
        "SETUSER",
        "host",
        "on",
        ">host-password",
        "~*",
        "&*",
        "+@all",
    ]);
    let plugins = PluginsDir::with(&[("sleeper", "good"), ("sleeper", "bad")]);
    let url = format!("redis://host:host-password@127.0.0.1:{}", redis.port());
    // A 3 s lease leaves room for a loaded machine's scheduling; the tasks
    // outlive it well, so a round of missed extensions would show.
    let mut host = HostProcess::start(
        &url,
        plugins.path(),
        &["--concurrency", "4", "--lease", "3s"],
    );
    let client = client(&redis.url()).await;
    let ids = enqueue(
        &client,
        vec![sleeper("good", 8000, 0, 3), sleeper("bad", 8000, 0, 3)],
    )
    .await;
    eventually("both tasks to run", LONG, || async {
        (totals(&client, &["good", "bad"]).await.active == 2).then_some(())
    })
    .await;
    // The host may no longer touch the bad queue's keys.
    redis.cli(&[
        "ACL",
        "SETUSER",
        "host",
        "resetkeys",
        "~wasmq:queues",
        "~wasmq:{hosts}:*",
        "~wasmq:{good}:*",
    ]);
    // Reap as another host would, until the good task is settled.
    let good = eventually("the good task to finish", LONG, || async {
        client.reap_expired("good", 10).await.unwrap();
        let status = statuses(&client, &ids[..1]).await.remove(0);
        (status.state == TaskState::Completed).then_some(status)
    })
    .await;
    assert_eq!(
        good.attempts,
        1,
        "the healthy queue's lease was kept although the other queue failed: {good:?}\n{}",
        host.log()
    );
    let log = host.log();
    assert!(
        log.contains("could not extend this queue's leases"),
        "{log}"
    );
    host.terminate();
    host.wait(LONG);
}

/// Issue 9, item 3, for verdicts. On a Redis Cluster, the node holding one
/// queue hangs (`CLIENT PAUSE`) just before that queue's task ends, so its
/// verdict's call waits there. Verdicts are settled in one lane per queue:
/// the other queue's task, ending later on a healthy node, must be settled
/// while the hang lasts. With one settler for all queues it waited behind
/// the hung call, retried through the whole pause.
#[tokio::test(flavor = "multi_thread")]
async fn a_hung_shard_does_not_hold_up_the_verdicts_of_other_queues() {
    let cluster = RedisCluster::start();
    let key = |q: &str| format!("wasmq:{{{q}}}:t");
    // The hung node holds neither the host registry nor the queue list.
    let busy = [
        cluster.node_of("wasmq:{hosts}:index"),
        cluster.node_of("wasmq:queues"),
    ];
    let hung_node = *cluster
        .ports()
        .iter()
        .find(|p| !busy.contains(p))
        .expect("three masters, two keys: one node holds neither");
    let on = |hung: bool| {
        (0..)
            .map(|i| format!("q{i}"))
            .find(|q| (cluster.node_of(&key(q)) == hung_node) == hung)
            .unwrap()
    };
    let (bad, good) = (on(true), on(false));
    let plugins = PluginsDir::with(&[("sleeper", bad.as_str()), ("sleeper", good.as_str())]);
    let mut host = HostProcess::start(&cluster.url(), plugins.path(), &["--concurrency", "4"]);
    let client = client(&cluster.url()).await;
    let ids = enqueue(
        &client,
        // Should the hung queue's lease expire and be reaped on a slow
        // machine, it has retries left to run again.
        vec![sleeper(&bad, 1500, 0, 3), sleeper(&good, 3000, 0, 0)],
    )
    .await;
    eventually("both tasks to run", LONG, || async {
        (totals(&client, &[&bad, &good]).await.active == 2).then_some(())
    })
    .await;
    let paused_at = std::time::Instant::now();
    let pause = Duration::from_secs(20);
    let port = hung_node.to_string();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &port])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(cli(&["CLIENT", "PAUSE", &pause.as_millis().to_string(), "ALL"]).contains("OK"));
    // The good task's node answers; the test reads only from it.
    let good_done = eventually("the good task to be settled", pause / 2, || async {
        let status = statuses(&client, &ids[1..]).await.remove(0);
        (status.state == TaskState::Completed).then_some(status)
    })
    .await;
    println!(
        "the healthy queue's verdict landed {:?} into the other node's {pause:?} hang",
        paused_at.elapsed()
    );
    assert_eq!(good_done.attempts, 1, "{good_done:?}");
    assert!(cli(&["CLIENT", "UNPAUSE"]).contains("OK"));
    // Nothing is lost: the hung queue's verdict lands once its node is back.
    let bad_done = eventually("the hung queue's task to be settled", LONG, || async {
        let status = statuses(&client, &ids[..1]).await.remove(0);
        (status.state == TaskState::Completed).then_some(status)
    })
    .await;
    assert!(bad_done.attempts >= 1, "{bad_done:?}");
    host.terminate();
    host.wait(LONG);
}
