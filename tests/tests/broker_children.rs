//! Issue 12, child tasks, at the broker: the ack commits a run's children
//! to its queue's outbox and the forwarder moves them to their queues,
//! idempotently, on a real redis-server and on the 3-master Cluster, with
//! the cost per child measured in Redis CPU and round trips.
//!
//! The crash tests drive the broker API rather than killing a host, so the
//! crash lands exactly where it must (see each test); the host-level path
//! (`wasmq run`, the fanout plugin) is in `children.rs`.

use redis::AsyncCommands;
use std::time::Duration;
use wasmq::Client;
use wasmq::broker::{BrokerOptions, Completion, LeasedTask, QueueRemoval, Settlement};
use wasmq::task::{ChildOptions, ChildSpec, TaskSpec, TaskState};
use wasmq_tests::redis::{RedisCluster, RedisServer, command_stat};

/// Enqueues one parent to `queue` and leases it.
async fn leased_parent(client: &Client, queue: &str) -> LeasedTask {
    client.enqueue(TaskSpec::new(queue, "{}")).await.unwrap();
    client.lease(queue, 1).await.unwrap().remove(0)
}

/// `n` children of type `child_type` for `parent`.
fn children(parent: &LeasedTask, child_type: &str, n: u32) -> Vec<ChildSpec> {
    (0..n)
        .map(|i| {
            ChildSpec::new(
                &parent.id.to_string(),
                i,
                child_type,
                i.to_string().into_bytes(),
                ChildOptions::default(),
                1 << 20,
            )
            .unwrap()
        })
        .collect()
}

fn with_children(children: Vec<ChildSpec>) -> Completion {
    Completion {
        children,
        ..Completion::default()
    }
}

async fn enqueued(client: &Client, queue: &str) -> u64 {
    client.queue_stats(queue).await.unwrap().counters.enqueued
}

/// A host killed -9 between the ack and the forwarding, 20 times. The kill
/// is reproduced at the two points where a dead forwarder can leave work:
///
/// 1. after the ack, before any forward: the children wait in the outbox,
///    and another host's maintenance tick (`maintain_once`) forwards them;
/// 2. after the forward enqueued the children, before it cleared the
///    outbox: the entry is put back byte for byte, as the dead forwarder
///    left it, the children meanwhile run to completion (so their queue no
///    longer holds them), and the forward is repeated.
///
/// Neither repeat creates a child: the queue counts exactly 3 per parent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_duplicate_child_when_the_forwarder_dies_and_repeats() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), BrokerOptions::default())
        .await
        .unwrap();
    let mut raw = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let outbox = "wasmq:{fanout}:outbox";
    for round in 0..20u64 {
        let parent = leased_parent(&client, "fanout").await;
        let kids = children(&parent, "echo", 3);
        let settled = client.ack(&parent, with_children(kids.clone())).await;
        assert_eq!(settled.unwrap(), Settlement::Completed);
        let entry: Vec<u8> = raw.hget(outbox, parent.id.local()).await.unwrap();
        assert!(!entry.is_empty(), "the ack wrote the outbox entry");
        assert_eq!(enqueued(&client, "echo").await, round * 3, "nothing yet");

        // 1. Died after the ack: maintenance forwards.
        let report = client.maintain_once(100).await.unwrap();
        assert_eq!(report.forwarded, 3, "round {round}: {report:?}");
        assert_eq!(raw.hlen::<_, u64>(outbox).await.unwrap(), 0);

        // 2. Died after enqueueing, before clearing: the entry is back, and
        // one child has run meanwhile.
        let _: () = raw.hset(outbox, parent.id.local(), &entry).await.unwrap();
        let ran = client.lease("echo", 1000).await.unwrap();
        assert!(kids.iter().all(|k| ran.iter().any(|t| t.id == k.id)));
        let done: Vec<_> = ran
            .into_iter()
            .map(|t| (t, Completion::default()))
            .collect();
        client.ack_many(&done).await.unwrap();
        let again = client.forward_children("fanout", 100).await.unwrap();
        assert_eq!((again.forwarded, again.already), (0, 3), "{again:?}");
        assert_eq!(again.parents, 1);
        assert_eq!(enqueued(&client, "echo").await, (round + 1) * 3);
        for kid in &kids {
            let status = client.status(&kid.id).await.unwrap().unwrap();
            assert_eq!(status.state, TaskState::Completed, "{status:?}");
        }
    }
    let echo = client.queue_stats("echo").await.unwrap();
    assert_eq!((echo.pending, echo.counters.completed), (0, 60), "{echo:?}");
}

/// A stale ack (the lease expired and the task went to another run) writes
/// no children: only the run that completes the task commits its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_ack_commits_no_children() {
    let redis = RedisServer::start();
    let opts = BrokerOptions {
        lease_duration: Duration::from_millis(50),
        ..BrokerOptions::default()
    };
    let client = Client::connect(&redis.url(), opts).await.unwrap();
    let parent = leased_parent(&client, "fanout").await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    client.reap_expired("fanout", 10).await.unwrap();
    let kids = children(&parent, "echo", 2);
    let settled = client.ack(&parent, with_children(kids)).await.unwrap();
    assert_eq!(settled, Settlement::StaleLease);
    assert_eq!(
        redis.cli(&["HLEN", "wasmq:{fanout}:outbox"]).trim(),
        "0",
        "no outbox entry"
    );
}

/// A queue whose completed tasks still have children in its outbox is not
/// empty: `remove_queue` refuses it and says why, and removes it once the
/// children are forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_with_unforwarded_children_is_not_removed() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), BrokerOptions::default())
        .await
        .unwrap();
    let parent = leased_parent(&client, "fanout").await;
    let kids = children(&parent, "echo", 2);
    client.ack(&parent, with_children(kids)).await.unwrap();
    let refused = client.remove_queue("fanout").await.unwrap();
    let QueueRemoval::NotEmpty(contents) = refused else {
        panic!("removed with children in its outbox: {refused:?}");
    };
    assert_eq!(contents.unforwarded, 1);
    assert_eq!(contents.describe(), "1 with children not forwarded yet");
    client.forward_children("fanout", 100).await.unwrap();
    assert_eq!(enqueued(&client, "echo").await, 2);
    assert_eq!(
        client.remove_queue("fanout").await.unwrap(),
        QueueRemoval::Removed
    );
}

/// The forwarder on the 3-master Cluster: the parent's queue and the
/// children's queues are served by different masters, the ack writes the
/// outbox in the parent's slot, and both the settler's forward and the
/// maintenance tick's deliver to the other slots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forwarder_crosses_slots_on_a_cluster() {
    let cluster = RedisCluster::start();
    let client = Client::connect(&cluster.url(), BrokerOptions::default())
        .await
        .unwrap();
    let parent_q = "fanout";
    let home = cluster.node_of("{fanout}");
    // Two child queues served by masters other than the parent's.
    let others: Vec<String> = (0..100)
        .map(|i| format!("child-{i}"))
        .filter(|q| cluster.node_of(&format!("{{{q}}}")) != home)
        .take(2)
        .collect();
    let (child_a, child_b) = (others[0].as_str(), others[1].as_str());

    let parent = leased_parent(&client, parent_q).await;
    let mut kids = children(&parent, child_a, 3);
    kids.extend((3..5).map(|i| {
        ChildSpec::new(
            &parent.id.to_string(),
            i,
            child_b,
            b"x".to_vec(),
            ChildOptions::default(),
            1 << 20,
        )
        .unwrap()
    }));
    client
        .ack(&parent, with_children(kids.clone()))
        .await
        .unwrap();
    let report = client.forward_children(parent_q, 100).await.unwrap();
    assert_eq!((report.forwarded, report.parents), (5, 1), "{report:?}");
    for kid in &kids {
        let status = client.status(&kid.id).await.unwrap().unwrap();
        assert_eq!(status.state, TaskState::Pending, "{status:?}");
    }

    // Left in the outbox by a dead host: maintenance forwards it.
    let second = leased_parent(&client, parent_q).await;
    client
        .ack(&second, with_children(children(&second, child_a, 4)))
        .await
        .unwrap();
    let tick = client.maintain_once(100).await.unwrap();
    assert_eq!(tick.forwarded, 4, "{tick:?}");
    assert!(tick.failed.is_empty(), "{tick:?}");
    assert_eq!(enqueued(&client, child_a).await, 7);
    assert_eq!(enqueued(&client, child_b).await, 2);
    // A repeat finds every child there.
    let again = client.forward_children(parent_q, 100).await.unwrap();
    assert_eq!(again.forwarded + again.parents, 0, "{again:?}");
}

/// `(calls, usec)` of one command in `INFO commandstats`.
/// Round trips and Redis CPU (µs) since the last `CONFIG RESETSTAT`.
/// Commandstats also count the commands scripts run, so round trips are
/// the client's own commands: `EVALSHA`, `HSCAN` and `SADD` (never run by
/// a script) and one `HDEL` per `HSCAN` (the forwarder clears what it
/// read); CPU is what those took, scripts whole.
fn round_trips_and_usec(redis: &RedisServer) -> (u64, u64) {
    let stats = redis.info("commandstats");
    let (mut trips, mut usec) = (0, 0);
    for name in ["evalsha", "hscan", "sadd"] {
        let (calls, micros) = command_stat(&stats, name);
        trips += calls;
        usec += micros;
    }
    (trips + command_stat(&stats, "hscan").0, usec)
}

/// Acks `rounds` batches of `parents` parents of queue `q`, each with
/// `per_parent` children of `echo` (forwarded after each batch) or none;
/// returns the round trips and Redis CPU of the acks and forwards alone.
async fn ack_rounds(
    client: &Client,
    redis: &RedisServer,
    q: &str,
    (rounds, parents, per_parent): (usize, usize, u32),
) -> (u64, u64) {
    let specs = (0..rounds * parents)
        .map(|_| TaskSpec::new(q, "{}"))
        .collect();
    client.enqueue_many(specs).await.unwrap();
    let leased = client.lease(q, rounds * parents).await.unwrap();
    redis.cli(&["CONFIG", "RESETSTAT"]);
    for batch in leased.chunks(parents) {
        let done: Vec<_> = batch
            .iter()
            .map(|t| (t.clone(), with_children(children(t, "echo", per_parent))))
            .collect();
        client.ack_many(&done).await.unwrap();
        if per_parent > 0 {
            let report = client.forward_children(q, 1000).await.unwrap();
            assert_eq!(report.forwarded, parents as u64 * u64::from(per_parent));
        }
    }
    round_trips_and_usec(redis)
}

/// The cost of a child task in Redis, in two shapes: 100 parents acked in
/// one call with 10 children each (a busy host's batch), and 200 parents
/// acked one by one with one child each (an idle host, the worst case per
/// child). Each is compared with the same acks without children, and the
/// difference per child printed: round trips (commands the client sent)
/// and Redis CPU (the `usec` of those commands, scripts whole). Not
/// asserted: timings vary by machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_per_child_task() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), BrokerOptions::default())
        .await
        .unwrap();
    client.load_scripts().await.unwrap();
    // Registers `echo` once, so no shape pays for it.
    client.enqueue(TaskSpec::new("echo", "{}")).await.unwrap();
    for (name, rounds, parents, per_parent) in [
        ("batch of 100 parents x 10 children", 1, 100, 10),
        ("200 parents x 1 child, one by one", 200, 1, 1),
    ] {
        let (plain_trips, plain_usec) =
            ack_rounds(&client, &redis, "plain", (rounds, parents, 0)).await;
        let (trips, usec) =
            ack_rounds(&client, &redis, "fanout", (rounds, parents, per_parent)).await;
        let n = (rounds * parents) as f64 * f64::from(per_parent);
        println!(
            "{name}: without children {plain_trips} round trips, {plain_usec} us; with \
             {n} children {trips} round trips, {usec} us; per child: {:.2} us of Redis CPU, \
             {:.3} round trips",
            usec.saturating_sub(plain_usec) as f64 / n,
            trips.saturating_sub(plain_trips) as f64 / n,
        );
    }
}
