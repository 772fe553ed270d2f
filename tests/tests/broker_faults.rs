//! Redis dies mid-run: with AOF (`appendfsync always`) a producer, a consumer
//! and the maintenance loop keep going through a kill -9 and restart of Redis
//! (every node, on Cluster). The client must reconnect by itself, the run
//! must complete, and no acknowledged enqueue may be lost.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use wasmq::Client;
use wasmq::broker::BrokerOptions;
use wasmq::task::{TaskId, TaskSpec, TaskState};
use wasmq_tests::backends::Backend;
use wasmq_tests::broker::{connect, done};
use wasmq_tests::redis::{RedisCluster, RedisServer};

const TASKS: usize = 3000;
const BATCH: usize = 20;
const QUEUE: &str = "rq";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_standalone() {
    restart_mid_run(Backend::Single(RedisServer::start_with(true))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_cluster() {
    restart_mid_run(Backend::Cluster(RedisCluster::start_with(true))).await;
}

/// A server that lacks a script (a promoted replica, `SCRIPT FLUSH`) gets
/// it with the call, on the node that owns the call's slot only: redis-rs's
/// own retry sends `SCRIPT LOAD` to every node and waits for all of them,
/// so one slow or dead node would hold the call up.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_script_is_loaded_only_where_its_call_goes() {
    let cluster = RedisCluster::start();
    let client = connect(&cluster.url(), opts()).await;
    let id = client
        .enqueue(TaskSpec::new("nos", "{}"))
        .await
        .expect("enqueue");
    let cached = |port: u16| -> u64 {
        let info = cluster.cli_on(port, &["INFO", "memory"]);
        let line = info
            .lines()
            .find(|l| l.starts_with("number_of_cached_scripts:"));
        line.and_then(|l| l.split(':').nth(1)?.trim().parse().ok())
            .expect("number_of_cached_scripts in INFO memory")
    };
    for port in cluster.ports() {
        assert!(cluster.cli_on(port, &["SCRIPT", "FLUSH"]).contains("OK"));
        assert_eq!(cached(port), 0);
    }
    for _ in 0..3 {
        let status = client.status(&id).await.expect("status after SCRIPT FLUSH");
        assert_eq!(status.expect("the task exists").state, TaskState::Pending);
    }
    let owner = cluster.node_of("{nos}");
    for port in cluster.ports() {
        let want = u64::from(port == owner);
        assert_eq!(
            cached(port),
            want,
            "scripts cached on node {port} (owner {owner})"
        );
    }
}

fn opts() -> BrokerOptions {
    BrokerOptions {
        lease_duration: Duration::from_secs(2),
        response_timeout: Duration::from_secs(2),
        ..BrokerOptions::default()
    }
}

async fn restart_mid_run(backend: Backend) {
    let url = backend.url();
    let backend = Arc::new(Mutex::new(backend));
    let client = connect(&url, opts()).await;
    let stop = CancellationToken::new();
    let maintenance = {
        let c = client.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            c.run_maintenance(Duration::from_millis(100), 1000, stop)
                .await
        })
    };
    let acknowledged = Arc::new(Mutex::new(Vec::<TaskId>::new()));
    let producer_done = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));

    let producer = tokio::spawn(produce(
        client.clone(),
        acknowledged.clone(),
        errors.clone(),
        producer_done.clone(),
    ));
    let consumer = tokio::spawn(consume(
        client.clone(),
        errors.clone(),
        producer_done.clone(),
    ));

    // Crash Redis once a third of the tasks are in.
    while acknowledged.lock().unwrap().len() < TASKS / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let crash = Instant::now();
    {
        let backend = backend.clone();
        tokio::task::spawn_blocking(move || {
            let mut b = backend.lock().unwrap();
            b.kill();
            std::thread::sleep(Duration::from_millis(500));
            b.restart();
        })
        .await
        .unwrap();
    }
    println!("Redis killed and back after {:?}", crash.elapsed());

    tokio::time::timeout(Duration::from_secs(120), async {
        producer.await.unwrap();
        consumer.await.unwrap();
    })
    .await
    .expect("the run did not complete within 120 s of the restart");
    println!("run complete {:?} after the crash", crash.elapsed());
    stop.cancel();
    maintenance.await.unwrap();
    println!(
        "calls that failed while Redis was down: {}",
        errors.load(SeqCst)
    );
    assert!(errors.load(SeqCst) > 0, "the crash should have been felt");

    let ids = acknowledged.lock().unwrap().clone();
    let unique: HashSet<&TaskId> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (TASKS, TASKS));
    for id in &ids {
        let status = client.status(id).await.unwrap();
        assert_eq!(
            status.map(|s| s.state),
            Some(TaskState::Completed),
            "{id} was lost"
        );
    }
    let stats = client.queue_stats(QUEUE).await.unwrap();
    println!("{stats:?}");
    assert_eq!(
        stats.counters.enqueued, TASKS as u64,
        "unique keys made retried batches idempotent"
    );
    assert_eq!(stats.counters.completed, TASKS as u64);
}

/// Enqueues TASKS tasks in batches, retrying a failed batch until Redis
/// answers; unique keys make the retry return the ids of a batch that did
/// land before the crash instead of enqueueing it twice.
async fn produce(
    client: Client,
    acknowledged: Arc<Mutex<Vec<TaskId>>>,
    errors: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
) {
    for start in (0..TASKS).step_by(BATCH) {
        let batch: Vec<TaskSpec> = (start..start + BATCH)
            .map(|i| {
                TaskSpec::new(QUEUE, i.to_string())
                    .unique(format!("task-{i}"), Duration::from_secs(600))
            })
            .collect();
        loop {
            match client.enqueue_many(batch.clone()).await {
                Ok(ids) => {
                    acknowledged.lock().unwrap().extend(ids);
                    break;
                }
                Err(e) => {
                    assert!(e.is_connection(), "only connection errors expected: {e}");
                    errors.fetch_add(1, SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    done.store(true, SeqCst);
}

/// Leases and acks until Redis counts every task completed. A failed ack is
/// simply dropped: if it did not land before the crash, the lease expires
/// and the reaper hands the task out again.
async fn consume(client: Client, errors: Arc<AtomicU64>, producer_done: Arc<AtomicBool>) {
    let mut waiter = client.waiter();
    loop {
        if producer_done.load(SeqCst) {
            let stats = client.queue_stats(QUEUE).await;
            if stats.is_ok_and(|s| s.counters.completed as usize >= TASKS) {
                return;
            }
        }
        let tasks = match client.lease(QUEUE, 100).await {
            Ok(tasks) => tasks,
            Err(e) => {
                assert!(e.is_connection(), "only connection errors expected: {e}");
                errors.fetch_add(1, SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if tasks.is_empty() {
            if let Err(e) = waiter
                .wait_for_work(&[QUEUE], Duration::from_millis(200))
                .await
            {
                assert!(e.is_connection(), "only connection errors expected: {e}");
                errors.fetch_add(1, SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            continue;
        }
        let acks: Vec<_> = tasks.into_iter().map(|t| (t, done("{}"))).collect();
        if let Err(e) = client.ack_many(&acks).await {
            assert!(e.is_connection(), "only connection errors expected: {e}");
            errors.fetch_add(1, SeqCst);
        }
    }
}
