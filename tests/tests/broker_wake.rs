//! Idle waiting (broker/waiter.rs): the wake token is the hand-off on both
//! backends, and on Cluster a host waits on any number of queues over one
//! subscription (a connection per node), not a blocking connection per
//! queue. No assertion here reads a clock: a wake is told from a timeout by
//! what the wait returns (`Some(queue)` or `None`).

use redis::aio::MultiplexedConnection;
use std::collections::HashMap;
use std::time::Duration;
use wasmq::broker::Waiter;
use wasmq::task::TaskSpec;
use wasmq_tests::backends::Raw;
use wasmq_tests::broker::{connect, opts};
use wasmq_tests::redis::{RedisCluster, command_stat, parse_info};

wasmq_tests::both_backends!(a_lease_that_empties_the_queue_drops_its_token);
wasmq_tests::both_backends!(a_token_taken_and_never_used_is_left_again);

/// Long enough never to be what ends a wait that should wake: a wait that
/// returns `None` here timed out, which the tests count as a failure.
const LONG: Duration = Duration::from_secs(20);

async fn a_lease_that_empties_the_queue_drops_its_token(url: String) {
    let client = connect(&url, opts()).await;
    let mut raw = Raw::open(&url).await;
    let wake = "wasmq:{drop}:wake";
    client.enqueue(TaskSpec::new("drop", "a")).await.unwrap();
    client.enqueue(TaskSpec::new("drop", "b")).await.unwrap();
    let len: u64 = raw.run(&["LLEN", wake]).await;
    assert_eq!(len, 1, "one token, however many pushes");
    // Work is left behind: the token stays for the next consumer.
    assert_eq!(client.lease("drop", 1).await.unwrap().len(), 1);
    let len: u64 = raw.run(&["LLEN", wake]).await;
    assert_eq!(len, 1);
    // Nothing is left: the token would only wake someone for nothing.
    assert_eq!(client.lease("drop", 10).await.unwrap().len(), 1);
    let len: u64 = raw.run(&["LLEN", wake]).await;
    assert_eq!(len, 0);
    // And the next push leaves one again.
    client.enqueue(TaskSpec::new("drop", "c")).await.unwrap();
    let len: u64 = raw.run(&["LLEN", wake]).await;
    assert_eq!(len, 1);
}

/// A host that took a queue's token and never leased (it died, shut down,
/// or had no room) would leave hosts that found the queue empty waiting for
/// a token that never comes: the host gives it back (`Client::rewake`), and
/// maintenance leaves one on any visit that finds work pending and no token
/// (a dead host's queues are all visited once it is forgotten).
async fn a_token_taken_and_never_used_is_left_again(url: String) {
    let client = connect(&url, opts()).await;
    let mut raw = Raw::open(&url).await;
    let wake = "wasmq:{lost}:wake";
    client.enqueue(TaskSpec::new("lost", "a")).await.unwrap();
    // A host takes the token, then dies before its lease.
    let token: Option<String> = raw.run(&["LPOP", wake]).await;
    assert!(token.is_some());
    assert!(
        client.rewake("lost").await.unwrap(),
        "work pending, no token"
    );
    let n: u64 = raw.run(&["LLEN", wake]).await;
    assert_eq!(n, 1);
    assert!(
        !client.rewake("lost").await.unwrap(),
        "a token is there already"
    );
    // Taken again and lost: the start-up sweep's visit leaves one.
    let _: Option<String> = raw.run(&["LPOP", wake]).await;
    let mut maintainer = client
        .maintainer(Duration::from_millis(500), 100)
        .indexed(Duration::from_millis(500));
    // (The sweep marks, then claims: a few ticks, as a host's first ones.)
    for _ in 0..3 {
        maintainer.tick().await.unwrap();
    }
    let n: u64 = raw.run(&["LLEN", wake]).await;
    assert_eq!(n, 1, "maintenance left a token for the pending task");
    // And a waiter that found the queue empty before wakes on it.
    let mut waiter = client.waiter();
    assert_eq!(
        wait(&mut waiter, &["lost".into()], LONG).await.as_deref(),
        Some("lost")
    );
    // With nothing pending, neither leaves one.
    assert_eq!(client.lease("lost", 10).await.unwrap().len(), 1);
    assert!(!client.rewake("lost").await.unwrap());
    maintainer.tick().await.unwrap();
    let n: u64 = raw.run(&["LLEN", wake]).await;
    assert_eq!(n, 0, "no work, no token");
}

/// One plain connection per node, opened before counting, for
/// `CLIENT LIST` and `INFO`.
async fn nodes(cluster: &RedisCluster) -> Vec<MultiplexedConnection> {
    let mut conns = Vec::new();
    for port in cluster.ports() {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        conns.push(client.get_multiplexed_async_connection().await.unwrap());
    }
    conns
}

/// Client connections open on every node, in all.
async fn connections(nodes: &mut [MultiplexedConnection]) -> usize {
    let mut total = 0;
    for conn in nodes {
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(conn)
            .await
            .unwrap();
        total += list.lines().count();
    }
    total
}

/// `PUBLISH` calls the nodes have run, scripts' included.
async fn publishes(nodes: &mut [MultiplexedConnection]) -> u64 {
    let mut total = 0;
    for conn in nodes {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(conn)
            .await
            .unwrap();
        total += command_stat(&parse_info(&info), "publish").0;
    }
    total
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("many-{i:04}")).collect()
}

async fn wait(waiter: &mut Waiter, queues: &[String], timeout: Duration) -> Option<String> {
    let queues: Vec<&str> = queues.iter().map(String::as_str).collect();
    waiter.wait_for_work(&queues, timeout).await.unwrap()
}

/// A waiter on many queues adds a connection per node (the shared wake
/// subscription), not one per queue, and any one of its queues wakes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiter_on_many_queues_holds_a_connection_per_node_and_wakes_on_any() {
    let cluster = RedisCluster::start();
    let mut nodes = nodes(&cluster).await;
    let idle = connections(&mut nodes).await;
    let mut counts = HashMap::new();
    for n in [1, 100, 1000] {
        let queues = names(n);
        let client = connect(&cluster.url(), opts()).await;
        let before = connections(&mut nodes).await;
        let mut waiter = client.waiter();
        // Nothing pending: the first wait looks at each queue and times out.
        assert_eq!(
            wait(&mut waiter, &queues, Duration::from_millis(300)).await,
            None
        );
        let held = connections(&mut nodes).await - before;
        println!("{n} queues: {held} more connections on the 3 masters");
        counts.insert(n, held);
        assert!(
            held <= 3,
            "{n} queues: {held} connections, want one per node"
        );
        // Any one queue wakes it, with its name.
        for pick in [n - 1, n / 2, 0] {
            let q = &queues[pick];
            client.enqueue(TaskSpec::new(q, "x")).await.unwrap();
            assert_eq!(
                wait(&mut waiter, &queues, LONG).await.as_deref(),
                Some(q.as_str())
            );
            assert_eq!(client.lease(q, 10).await.unwrap().len(), 1);
        }
        // Gone with the client; wait for the servers to see them go.
        drop((waiter, client));
        while connections(&mut nodes).await > idle {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(
        counts[&1], counts[&1000],
        "the count does not grow with queues"
    );
}

/// Two hosts wait on one queue and one token is pushed: exactly one of them
/// gets it; the other gets the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_token_wakes_one_of_two_hosts() {
    let cluster = RedisCluster::start();
    let url = cluster.url();
    let (a, b) = (connect(&url, opts()).await, connect(&url, opts()).await);
    let (mut wa, mut wb) = (a.waiter(), b.waiter());
    let solo = vec!["solo".to_owned()];
    // Both subscribed and looked once.
    assert_eq!(wait(&mut wa, &solo, Duration::from_millis(200)).await, None);
    assert_eq!(wait(&mut wb, &solo, Duration::from_millis(200)).await, None);
    for round in 0..4 {
        let (ga, gb) = tokio::join!(wait(&mut wa, &solo, Duration::from_secs(2)), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            a.enqueue(TaskSpec::new("solo", "x")).await.unwrap();
            wait(&mut wb, &solo, Duration::from_secs(2)).await
        },);
        let woken = [&ga, &gb].iter().filter(|g| g.is_some()).count();
        assert_eq!(woken, 1, "round {round}: {ga:?} {gb:?}");
    }
    // A second push, once the first token was taken, wakes the other host.
    let mut raw = Raw::open(&url).await;
    let (ga, gb, ()) = tokio::join!(
        wait(&mut wa, &solo, LONG),
        wait(&mut wb, &solo, LONG),
        async {
            b.enqueue(TaskSpec::new("solo", "y")).await.unwrap();
            while raw.run::<u64>(&["LLEN", "wasmq:{solo}:wake"]).await > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            b.enqueue(TaskSpec::new("solo", "z")).await.unwrap();
        },
    );
    assert_eq!(ga.as_deref(), Some("solo"));
    assert_eq!(gb.as_deref(), Some("solo"));
}

/// On Cluster only the push into an empty wake list is announced; on a
/// single server nothing is (it costs a standalone enqueue nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_a_push_into_an_empty_list_is_announced_on_cluster() {
    let cluster = RedisCluster::start();
    let mut nodes = nodes(&cluster).await;
    let client = connect(&cluster.url(), opts()).await;
    let start = publishes(&mut nodes).await;
    client.enqueue(TaskSpec::new("pub", "a")).await.unwrap();
    assert_eq!(publishes(&mut nodes).await - start, 1);
    for i in 0..5 {
        client
            .enqueue(TaskSpec::new("pub", i.to_string()))
            .await
            .unwrap();
    }
    assert_eq!(
        publishes(&mut nodes).await - start,
        1,
        "the list held a token"
    );

    let server = wasmq_tests::redis::RedisServer::start();
    let single = connect(&server.url(), opts()).await;
    for i in 0..5 {
        single
            .enqueue(TaskSpec::new("pub", i.to_string()))
            .await
            .unwrap();
    }
    let stats = server.cli(&["INFO", "commandstats"]);
    assert!(!stats.contains("cmdstat_publish"), "{stats}");
}

/// A notice lost while the subscription was cut is made up for when it
/// comes back: the waiter looks at its lists and finds the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_notice_missed_while_resubscribing_still_wakes() {
    let cluster = RedisCluster::start();
    let mut nodes = nodes(&cluster).await;
    let client = connect(&cluster.url(), opts()).await;
    let mut waiter = client.waiter();
    let queues = names(20);
    assert_eq!(
        wait(&mut waiter, &queues, Duration::from_millis(300)).await,
        None
    );
    let mut raw = Raw::open(&cluster.url()).await;
    for round in 0..3 {
        // A token nobody heard of (as if its notice was lost), then the
        // subscription is cut: coming back, it makes the waiter look.
        let q = &queues[round * 7];
        let _: u64 = raw
            .run(&["RPUSH", &format!("wasmq:{{{q}}}:wake"), "1"])
            .await;
        for conn in nodes.iter_mut() {
            let _: redis::Value = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("TYPE")
                .arg("pubsub")
                .query_async(conn)
                .await
                .unwrap();
        }
        assert_eq!(
            wait(&mut waiter, &queues, LONG).await.as_deref(),
            Some(q.as_str()),
            "round {round}"
        );
        // And notices flow again.
        let next = &queues[round * 7 + 1];
        client.enqueue(TaskSpec::new(next, "x")).await.unwrap();
        assert_eq!(
            wait(&mut waiter, &queues, LONG).await.as_deref(),
            Some(next.as_str())
        );
        assert_eq!(client.lease(next, 10).await.unwrap().len(), 1);
    }
}
