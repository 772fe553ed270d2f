//! Issue 12, what a flow parent is handed: each dependency's outcome,
//! captured by the resolver when it counts the dependency in and read back
//! by `Client::flow_results` for the parent's run (`task.children`), on a
//! real redis-server and across the slots of the 3-master Cluster. The
//! host-level path (a `fanin` plugin reporting them) is in `flows.rs`.

use wasmq::Client;
use wasmq::broker::{BrokerOptions, ChildFailure, Completion, Failure, FlowSpec};
use wasmq::crypto::{Encryption, KeyRing};
use wasmq::task::{ChildState, MAX_FLOW_RESULT_BYTES, TaskId, TaskSpec};
use wasmq_tests::redis::{RedisCluster, RedisServer};

async fn connect(url: &str) -> Client {
    let opts = BrokerOptions {
        max_payload_bytes: 64 << 20,
        ..BrokerOptions::default()
    };
    Client::connect(url, opts).await.unwrap()
}

fn flow(queue: &str, after: Vec<TaskId>) -> FlowSpec {
    FlowSpec {
        parent: TaskSpec::new(queue, "{}"),
        after,
        on_child_failure: ChildFailure::Continue,
    }
}

/// Leases the one task of `queue` and acks it with `output`.
async fn complete_with(client: &Client, queue: &str, output: Vec<u8>) {
    let leased = client.lease(queue, 1).await.unwrap();
    let done = Completion {
        output,
        content_type: Some("text/plain".into()),
        ..Completion::default()
    };
    client.ack(&leased[0], done).await.unwrap();
}

/// Completed, dead and cancelled dependencies reach the parent in the
/// order listed, with the output, the content type and the last error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parent_gets_every_outcome_in_order() {
    let redis = RedisServer::start();
    let client = connect(&redis.url()).await;
    let ok = client.enqueue(TaskSpec::new("ok", "1")).await.unwrap();
    let bad = client
        .enqueue(TaskSpec::new("bad", "2").max_retries(0))
        .await
        .unwrap();
    let gone = client.enqueue(TaskSpec::new("off", "3")).await.unwrap();
    let parent = client
        .enqueue_flow(flow("fanin", vec![bad.clone(), ok.clone(), gone.clone()]))
        .await
        .unwrap();
    assert_eq!(
        client.flow_results(&parent).await.unwrap(),
        Some(vec![]),
        "nothing counted in yet"
    );
    complete_with(&client, "ok", b"forty-two".to_vec()).await;
    let leased = client.lease("bad", 1).await.unwrap();
    let failure = Failure {
        reason: "permanent".into(),
        message: "the card was declined".into(),
        plugin_version: String::new(),
        run: None,
    };
    client.dead(&leased[0], &failure).await.unwrap();
    client.cancel(&gone).await.unwrap();
    client.maintain_once(100).await.unwrap();

    let children = client.flow_results(&parent).await.unwrap().unwrap();
    let ids: Vec<_> = children.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, [bad, ok, gone], "in the order listed");
    assert_eq!(children[0].state, ChildState::Dead);
    assert_eq!(children[0].error.as_deref(), Some("the card was declined"));
    assert_eq!(children[0].output, None);
    assert_eq!(children[1].state, ChildState::Completed);
    assert_eq!(children[1].output.as_deref(), Some(&b"forty-two"[..]));
    assert_eq!(children[1].content_type.as_deref(), Some("text/plain"));
    assert_eq!(children[2].state, ChildState::Cancelled);
    assert_eq!(
        client
            .flow_results(&"fanin:1".parse().unwrap())
            .await
            .unwrap(),
        None,
        "a task that is no flow parent"
    );
}

/// The outputs kept per flow stop at the cap: a dependency past it keeps
/// its state, and its error says where to read the output instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_past_the_flow_cap_are_left_out_and_say_so() {
    let redis = RedisServer::start();
    let client = connect(&redis.url()).await;
    let size = MAX_FLOW_RESULT_BYTES / 2 - 1024;
    let mut kids = Vec::new();
    for i in 0..3 {
        let queue = format!("big{i}");
        kids.push(client.enqueue(TaskSpec::new(&queue, "")).await.unwrap());
        complete_with(&client, &queue, vec![b'a' + i as u8; size]).await;
    }
    let parent = client
        .enqueue_flow(flow("fanin", kids.clone()))
        .await
        .unwrap();
    let children = client.flow_results(&parent).await.unwrap().unwrap();
    assert_eq!(children.len(), 3);
    let kept: usize = children
        .iter()
        .filter_map(|c| c.output.as_ref())
        .map(Vec::len)
        .sum();
    assert!(kept <= MAX_FLOW_RESULT_BYTES, "{kept}");
    assert_eq!(children[0].output.as_ref().map(Vec::len), Some(size));
    assert_eq!(children[1].output.as_ref().map(Vec::len), Some(size));
    let last = &children[2];
    assert_eq!(
        (last.state, last.output.as_ref()),
        (ChildState::Completed, None)
    );
    let error = last.error.as_deref().unwrap();
    assert!(
        error.contains("left out") && error.contains(&format!("wasmq result {}", kids[2])),
        "{error}"
    );
}

/// On the Cluster the outputs cross from the dependencies' slots to the
/// parent's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_cross_slots_on_a_cluster() {
    let cluster = RedisCluster::start();
    let client = connect(&cluster.url()).await;
    let home = cluster.node_of("{fanin}");
    let others: Vec<String> = (0..100)
        .map(|i| format!("kid-{i}"))
        .filter(|q| cluster.node_of(&format!("{{{q}}}")) != home)
        .take(2)
        .collect();
    let mut kids = Vec::new();
    for queue in &others {
        kids.push(client.enqueue(TaskSpec::new(queue, "")).await.unwrap());
    }
    let parent = client
        .enqueue_flow(flow("fanin", kids.clone()))
        .await
        .unwrap();
    for queue in &others {
        complete_with(&client, queue, queue.as_bytes().to_vec()).await;
    }
    let tick = client.maintain_once(100).await.unwrap();
    assert!(tick.failed.is_empty(), "{tick:?}");
    let children = client.flow_results(&parent).await.unwrap().unwrap();
    let outputs: Vec<_> = children.iter().map(|c| c.output.clone().unwrap()).collect();
    assert_eq!(outputs, [others[0].as_bytes(), others[1].as_bytes()]);
}

/// The commands a client sends on these paths (scripts, the result
/// bucket index, the flow hash); what scripts call inside is in their
/// `usec`, not counted as a round trip.
const CLIENT_COMMANDS: [&str; 5] = ["evalsha", "evalsha_ro", "zrevrange", "hgetall", "hmget"];

/// Round trips (as [`CLIENT_COMMANDS`]; a pipeline counts per command) and
/// Redis CPU (`usec` of every command, scripts whole) since the last
/// `CONFIG RESETSTAT`, leaving out the test's own CONFIG and INFO.
fn commands_and_usec(redis: &RedisServer) -> (u64, u64) {
    let (mut calls, mut usec) = (0, 0);
    for (key, rest) in redis.info("commandstats") {
        let Some(name) = key.strip_prefix("cmdstat_") else {
            continue;
        };
        if name == "config" || name == "info" {
            continue;
        }
        for field in rest.split(',') {
            match field.split_once('=') {
                Some(("calls", n)) if CLIENT_COMMANDS.contains(&name) => {
                    calls += n.parse::<u64>().unwrap()
                }
                Some(("usec", n)) => usec += n.parse::<u64>().unwrap(),
                _ => {}
            }
        }
    }
    (calls, usec)
}

/// The cost of a flow in Redis, per dependency, for a fan-in over 100
/// children with small outputs: enqueueing the parent, counting the
/// dependencies in once they completed (one resolver pass: a status look
/// and a result read each, then `flow_settle.lua`), and the parent's run
/// reading their outcomes. Printed, not asserted: timings vary by machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_per_flow_dependency() {
    let redis = RedisServer::start();
    let client = connect(&redis.url()).await;
    client.load_scripts().await.unwrap();
    let n = 100;
    let kids = client
        .enqueue_many(
            (0..n)
                .map(|i| TaskSpec::new("kid", i.to_string()))
                .collect(),
        )
        .await
        .unwrap();
    let phase = |name: &str, (calls, usec): (u64, u64)| {
        println!(
            "{name}: {calls} round trips, {usec} us of Redis CPU; per dependency {:.2} round \
             trips, {:.1} us",
            calls as f64 / n as f64,
            usec as f64 / n as f64
        );
    };
    redis.cli(&["CONFIG", "RESETSTAT"]);
    let parent = client
        .enqueue_flow(flow("fanin", kids.clone()))
        .await
        .unwrap();
    phase(
        "enqueue the parent over 100 pending",
        commands_and_usec(&redis),
    );
    let leased = client.lease("kid", n).await.unwrap();
    let done: Vec<_> = leased
        .into_iter()
        .map(|t| {
            let output = t.id.local().as_bytes().to_vec();
            (
                t,
                Completion {
                    output,
                    ..Completion::default()
                },
            )
        })
        .collect();
    client.ack_many(&done).await.unwrap();
    redis.cli(&["CONFIG", "RESETSTAT"]);
    let report = client.resolve_flows("fanin", 10).await.unwrap();
    assert_eq!((report.counted, report.released), (n as u64, 1));
    phase(
        "count 100 completed in and release",
        commands_and_usec(&redis),
    );
    redis.cli(&["CONFIG", "RESETSTAT"]);
    let children = client.flow_results(&parent).await.unwrap().unwrap();
    assert_eq!(children.len(), n);
    phase("read their outcomes for the run", commands_and_usec(&redis));
}

async fn client_with_keys(url: &str, ring: &str) -> Client {
    let opts = BrokerOptions {
        encryption: Some(Encryption::new(KeyRing::parse(ring).unwrap(), None)),
        ..BrokerOptions::default()
    };
    Client::connect(url, opts).await.unwrap()
}

/// `wasmq keys rotate` reaches flows too: a waiting parent's body and the
/// outcomes a released parent was handed, so that both still open once
/// the old key left the ring.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_reaches_flow_bodies_and_outcomes() {
    const K1: &str = "k1:MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";
    const K2: &str = "k2:MjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjI=";
    let redis = RedisServer::start();
    let old = client_with_keys(&redis.url(), K1).await;
    let done = old.enqueue(TaskSpec::new("kid", "a")).await.unwrap();
    let open = old.enqueue(TaskSpec::new("kid", "b")).await.unwrap();
    let released = old
        .enqueue_flow(flow("fanin", vec![done.clone()]))
        .await
        .unwrap();
    let waiting = old
        .enqueue_flow(flow("fanin", vec![open.clone()]))
        .await
        .unwrap();
    complete_with(&old, "kid", b"secret output".to_vec()).await;
    old.maintain_once(100).await.unwrap();
    let tree = old.flow(&released).await.unwrap().unwrap();
    assert_eq!(tree.outcome, "released", "a sealed body reads: {tree:?}");

    let both = client_with_keys(&redis.url(), &format!("{K2},{K1}")).await;
    let mut rewritten = 0;
    for queue in ["kid", "fanin"] {
        for hash in both.rekey_hashes(queue).await.unwrap() {
            let mut cursor = 0;
            loop {
                let page = both.rekey_page(queue, &hash, cursor, 100).await.unwrap();
                assert_eq!(page.unreadable, 0, "{hash}: {page:?}");
                rewritten += page.rewritten;
                cursor = page.cursor;
                if cursor == 0 {
                    break;
                }
            }
        }
    }
    assert!(
        rewritten >= 4,
        "bodies, the output and the flow's copy: {rewritten}"
    );

    let new = client_with_keys(&redis.url(), K2).await;
    let children = new.flow_results(&released).await.unwrap().unwrap();
    assert_eq!(children[0].output.as_deref(), Some(&b"secret output"[..]));
    let status = new.status(&waiting).await.unwrap().unwrap();
    assert_eq!(status.state, wasmq::task::TaskState::Waiting);
    // Released and leased with only the new key, its payload opens.
    new.cancel(&open).await.unwrap();
    new.maintain_once(100).await.unwrap();
    let leased = new.lease("fanin", 10).await.unwrap();
    let ids: Vec<_> = leased.iter().map(|t| t.id.clone()).collect();
    assert!(ids.contains(&waiting), "{ids:?}");
    let dump = redis.cli(&[
        "--no-raw",
        "HGETALL",
        &format!("wasmq:{{fanin}}:fr:{}", released.local()),
    ]);
    assert!(!dump.contains("k1:"), "no value names the old key: {dump}");
}
