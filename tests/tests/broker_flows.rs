//! Issue 12, flows at the broker: a parent held in its queue's waiting set
//! until every dependency settled, each dependency counted once, on a real
//! redis-server and across the slots of the 3-master Cluster.
//!
//! A waiting parent is a task in state `waiting`: its status, its
//! cancellation, and a resolver racing that cancellation are tested here
//! too, on one server and on the Cluster.
//!
//! These tests lease and settle the dependencies through the broker API, so
//! each step lands exactly where the test needs it; the host-level path
//! (`wasmq enqueue --after`, `wasmq run`) is in `flows.rs`.

use wasmq::Client;
use wasmq::broker::{
    BrokerError, BrokerOptions, CancelOutcome, ChildFailure, Completion, Failure, FlowSpec,
    MAX_DEPENDENCIES,
};
use wasmq::task::{Priority, TaskId, TaskSpec, TaskState};
use wasmq_tests::redis::{RedisCluster, RedisServer};

async fn enqueue_n(client: &Client, queue: &str, n: usize) -> Vec<TaskId> {
    let specs = (0..n)
        .map(|i| TaskSpec::new(queue, i.to_string()))
        .collect();
    client.enqueue_many(specs).await.unwrap()
}

fn flow(queue: &str, after: Vec<TaskId>, policy: ChildFailure) -> FlowSpec {
    FlowSpec {
        parent: TaskSpec::new(queue, "{}"),
        after,
        on_child_failure: policy,
    }
}

/// Leases and acks up to `n` tasks of `queue`.
async fn complete(client: &Client, queue: &str, n: usize) {
    let leased = client.lease(queue, n).await.unwrap();
    let done: Vec<_> = leased
        .into_iter()
        .map(|t| (t, Completion::default()))
        .collect();
    client.ack_many(&done).await.unwrap();
}

async fn state(client: &Client, id: &TaskId) -> TaskState {
    client.status(id).await.unwrap().unwrap().state
}

/// A fan-in parent over 100 dependencies is released exactly once, only
/// after the last one completed, however many maintenance passes run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_in_parent_is_released_once_after_all_100() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), BrokerOptions::default())
        .await
        .unwrap();
    let kids = enqueue_n(&client, "kid", 100).await;
    let parent = client
        .enqueue_flow(flow("fanin", kids.clone(), ChildFailure::Fail))
        .await
        .unwrap();
    assert!(client.lease("fanin", 10).await.unwrap().is_empty());
    complete(&client, "kid", 99).await;
    for _ in 0..3 {
        client.maintain_once(1000).await.unwrap();
    }
    assert!(client.lease("fanin", 10).await.unwrap().is_empty());
    let waiting = client.flow(&parent).await.unwrap().unwrap();
    assert_eq!(
        (waiting.outcome.as_str(), waiting.outstanding),
        ("waiting", 1)
    );

    complete(&client, "kid", 1).await;
    // Two resolvers racing (two hosts' ticks) count the last one once.
    let (a, b) = tokio::join!(
        client.resolve_flows("fanin", 10),
        client.resolve_flows("fanin", 10)
    );
    assert_eq!(a.unwrap().released + b.unwrap().released, 1);
    client.maintain_once(1000).await.unwrap();
    let leased = client.lease("fanin", 10).await.unwrap();
    assert_eq!(leased.len(), 1, "released exactly once");
    assert_eq!(leased[0].id, parent);
    let tree = client.flow(&parent).await.unwrap().unwrap();
    assert_eq!((tree.outcome.as_str(), tree.outstanding), ("released", 0));
    assert_eq!(tree.dependencies.len(), 100);
    assert!(
        tree.dependencies
            .iter()
            .all(|(_, s)| s.as_deref() == Some("completed"))
    );
}

/// Dependencies settled before the flow exists count at once: the parent
/// is pending when `enqueue_flow` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_dependencies_count_at_once() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), BrokerOptions::default())
        .await
        .unwrap();
    let kids = enqueue_n(&client, "kid", 3).await;
    complete(&client, "kid", 3).await;
    let parent = client
        .enqueue_flow(flow("fanin", kids, ChildFailure::Fail))
        .await
        .unwrap();
    assert_eq!(state(&client, &parent).await, TaskState::Pending);
}

/// A dead dependency buries a `fail` parent (its error names the
/// dependency) and lets a `continue` parent run once the rest settled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_child_failure_fail_and_continue() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), BrokerOptions::default())
        .await
        .unwrap();
    let kids = enqueue_n(&client, "kid", 2).await;
    let fails = client
        .enqueue_flow(flow("fanin", kids.clone(), ChildFailure::Fail))
        .await
        .unwrap();
    let goes_on = client
        .enqueue_flow(flow("fanin", kids.clone(), ChildFailure::Continue))
        .await
        .unwrap();
    let first = client.lease("kid", 1).await.unwrap().remove(0);
    let failure = Failure {
        reason: "permanent".into(),
        message: "boom".into(),
        plugin_version: String::new(),
        run: None,
    };
    client.dead(&first, &failure).await.unwrap();
    client.maintain_once(100).await.unwrap();
    let dead = client.status(&fails).await.unwrap().unwrap();
    assert_eq!(dead.state, TaskState::Dead);
    assert_eq!(dead.dead_reason.as_deref(), Some("child-failed"));
    let error = dead.last_error.unwrap();
    assert!(error.contains(&first.id.to_string()), "{error}");
    assert!(client.lease("fanin", 10).await.unwrap().is_empty());

    complete(&client, "kid", 1).await;
    client.maintain_once(100).await.unwrap();
    let leased = client.lease("fanin", 10).await.unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].id, goes_on);
}

/// Bad input is refused with an error that names it, and nothing is
/// written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flows_are_refused() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), BrokerOptions::default())
        .await
        .unwrap();
    let kids = enqueue_n(&client, "kid", 1).await;
    let unknown: TaskId = "kid:nope".parse().unwrap();
    let refusal = |r: Result<TaskId, BrokerError>| match r {
        Err(BrokerError::Invalid(e)) => e.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let e = refusal(
        client
            .enqueue_flow(flow(
                "fanin",
                vec![kids[0].clone(), unknown],
                ChildFailure::Fail,
            ))
            .await,
    );
    assert!(e.contains("kid:nope") && e.contains("unknown"), "{e}");
    let many = (0..=MAX_DEPENDENCIES)
        .map(|i| format!("kid:x{i}").parse().unwrap())
        .collect();
    let e = refusal(
        client
            .enqueue_flow(flow("fanin", many, ChildFailure::Fail))
            .await,
    );
    assert!(e.contains("10001 dependencies"), "{e}");
    let e = refusal(
        client
            .enqueue_flow(flow("fanin", vec![], ChildFailure::Fail))
            .await,
    );
    assert!(e.contains("0 dependencies"), "{e}");
    let twice = vec![kids[0].clone(), kids[0].clone()];
    let e = refusal(
        client
            .enqueue_flow(flow("fanin", twice, ChildFailure::Fail))
            .await,
    );
    assert!(e.contains("listed twice"), "{e}");
    assert_eq!(redis.cli(&["ZCARD", "wasmq:{fanin}:waiting"]).trim(), "0");
}

/// On the 3-master Cluster, with the parent's queue and its dependencies'
/// queues on other masters, maintenance carries each outcome across slots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_cross_slots_on_a_cluster() {
    let cluster = RedisCluster::start();
    let client = Client::connect(&cluster.url(), BrokerOptions::default())
        .await
        .unwrap();
    let home = cluster.node_of("{fanin}");
    let others: Vec<String> = (0..100)
        .map(|i| format!("kid-{i}"))
        .filter(|q| cluster.node_of(&format!("{{{q}}}")) != home)
        .take(2)
        .collect();
    let mut kids = enqueue_n(&client, &others[0], 3).await;
    kids.extend(enqueue_n(&client, &others[1], 2).await);
    complete(&client, &others[0], 1).await;
    let parent = client
        .enqueue_flow(flow("fanin", kids, ChildFailure::Fail))
        .await
        .unwrap();
    assert_eq!(client.flow(&parent).await.unwrap().unwrap().outstanding, 4);
    complete(&client, &others[0], 2).await;
    complete(&client, &others[1], 2).await;
    let tick = client.maintain_once(100).await.unwrap();
    assert!(tick.failed.is_empty(), "{tick:?}");
    assert_eq!(state(&client, &parent).await, TaskState::Pending);
}

/// A waiting parent is a task in state `waiting`, with the priority, max
/// attempts and enqueue time of its body (kept in the flow hash), counted
/// in its queue's sizes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_parent_has_a_status() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), BrokerOptions::default())
        .await
        .unwrap();
    let kids = enqueue_n(&client, "kid", 2).await;
    let mut spec = flow("fanin", kids, ChildFailure::Fail);
    spec.parent = spec.parent.priority(Priority::High).max_retries(4);
    let parent = client.enqueue_flow(spec).await.unwrap();
    let status = client.status(&parent).await.unwrap().unwrap();
    assert_eq!(status.state, TaskState::Waiting, "{status:?}");
    assert_eq!(status.priority, Some(Priority::High), "{status:?}");
    assert_eq!(status.max_attempts, Some(5), "{status:?}");
    assert_eq!(status.attempts, 0, "{status:?}");
    assert!(status.enqueued_at_ms.is_some_and(|ms| ms > 0), "{status:?}");
    assert_eq!(client.queue_stats("fanin").await.unwrap().waiting, 1);
    assert_eq!(client.queue_stats("kid").await.unwrap().waiting, 0);
}

/// Cancelling a waiting parent finishes it as cancelled at once; the
/// dependencies settling later neither run it nor bring it back, and the
/// flow record says `cancelled`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_parent_is_cancelled_for_good() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), BrokerOptions::default())
        .await
        .unwrap();
    let kids = enqueue_n(&client, "kid", 2).await;
    let parent = client
        .enqueue_flow(flow("fanin", kids.clone(), ChildFailure::Continue))
        .await
        .unwrap();
    let enqueued = client.status(&parent).await.unwrap().unwrap();
    assert_eq!(
        client.cancel(&parent).await.unwrap(),
        CancelOutcome::Cancelled
    );
    let cancelled = client.status(&parent).await.unwrap().unwrap();
    assert_eq!(cancelled.state, TaskState::Cancelled, "{cancelled:?}");
    assert_eq!(cancelled.enqueued_at_ms, enqueued.enqueued_at_ms);
    assert_eq!(
        client.cancel(&parent).await.unwrap(),
        CancelOutcome::AlreadyFinished
    );
    let tree = client.flow(&parent).await.unwrap().unwrap();
    assert_eq!((tree.outcome.as_str(), tree.outstanding), ("cancelled", 2));
    let flow_key = format!("wasmq:{{fanin}}:fl:{}", parent.local());
    let ttl: i64 = redis.cli(&["PTTL", &flow_key]).trim().parse().unwrap();
    assert!(
        ttl > 0,
        "the flow record expires like a released one: {ttl}"
    );
    let stats = client.queue_stats("fanin").await.unwrap();
    assert_eq!((stats.waiting, stats.counters.cancelled), (0, 1));

    // A resolver that read the waiting set before the cancel reports both
    // dependencies settled: the settle script finds no waiting parent.
    complete(&client, "kid", 2).await;
    let reply = settle_script(&redis, &parent, &kids).await;
    assert_eq!(reply, ("settled".to_owned(), 0));
    for _ in 0..2 {
        client.maintain_once(100).await.unwrap();
    }
    assert!(client.lease("fanin", 10).await.unwrap().is_empty());
    let after = client.status(&parent).await.unwrap().unwrap();
    assert_eq!(after, cancelled, "nothing changed");
    let tree = client.flow(&parent).await.unwrap().unwrap();
    assert_eq!(tree.outcome, "cancelled");
    assert!(
        tree.dependencies.iter().all(|(_, s)| s.is_none()),
        "{tree:?}"
    );
    assert_eq!(redis.cli(&["HLEN", "wasmq:{fanin}:t"]).trim(), "0");
}

/// Runs `flow_settle.lua` as a resolver would for `parent`, every
/// dependency `completed`; returns its outcome and count.
async fn settle_script(redis: &RedisServer, parent: &TaskId, deps: &[TaskId]) -> (String, u64) {
    let source = wasmq_tests::broker::lua_script("flow_settle.lua");
    let q = |suffix: &str| format!("wasmq:{{{}}}:{suffix}", parent.queue());
    let keys = [
        q("waiting"),
        q(&format!("fl:{}", parent.local())),
        q(&format!("fr:{}", parent.local())),
        q("t"),
        q("p0"),
        q("p1"),
        q("p2"),
        q("wake"),
        q("dead"),
        q("meta"),
        q("stats"),
    ];
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(&source).arg(keys.len()).arg(&keys[..]);
    // No wake channel: nothing announced.
    cmd.arg("")
        .arg(parent.local())
        .arg(86_400_000)
        .arg(wasmq::task::MAX_FLOW_RESULT_BYTES)
        .arg(deps.len());
    for dep in deps {
        // id, state, output, content type, error
        cmd.arg(dep.to_string())
            .arg("completed")
            .arg("out")
            .arg("")
            .arg("");
    }
    let raw = redis::Client::open(redis.url()).unwrap();
    let mut conn = raw.get_multiplexed_async_connection().await.unwrap();
    cmd.query_async(&mut conn).await.unwrap()
}

/// On the Cluster, status and cancel of a waiting parent stay in its slot
/// (the flow hash is a key of the script), and its dependencies, settling
/// on other masters later, do not bring it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_parent_is_cancelled_on_a_cluster() {
    let cluster = RedisCluster::start();
    let client = Client::connect(&cluster.url(), BrokerOptions::default())
        .await
        .unwrap();
    let home = cluster.node_of("{fanin}");
    let other = (0..100)
        .map(|i| format!("kid-{i}"))
        .find(|q| cluster.node_of(&format!("{{{q}}}")) != home)
        .unwrap();
    let kids = enqueue_n(&client, &other, 2).await;
    let parent = client
        .enqueue_flow(flow("fanin", kids, ChildFailure::Fail))
        .await
        .unwrap();
    assert_eq!(state(&client, &parent).await, TaskState::Waiting);
    assert_eq!(client.queue_stats("fanin").await.unwrap().waiting, 1);
    assert_eq!(
        client.cancel(&parent).await.unwrap(),
        CancelOutcome::Cancelled
    );
    complete(&client, &other, 2).await;
    let tick = client.maintain_once(100).await.unwrap();
    assert!(tick.failed.is_empty(), "{tick:?}");
    assert_eq!(state(&client, &parent).await, TaskState::Cancelled);
    assert!(client.lease("fanin", 10).await.unwrap().is_empty());
    let tree = client.flow(&parent).await.unwrap().unwrap();
    assert_eq!(tree.outcome, "cancelled");
}
