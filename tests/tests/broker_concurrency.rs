//! Many consumers at once: 8 consumers, each on its own connection, race over
//! 20,000 tasks and settle them at random (ack, retry, dead). Every task must
//! end in exactly one final state, no task may be leased to two consumers at
//! the same time, and the broker's counters must match what the consumers saw.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use wasmq::broker::Settlement;
use wasmq::task::{TaskId, TaskSpec};
use wasmq_tests::broker::{connect, done, failure, numbered, opts};

const TASKS: usize = 20_000;
const CONSUMERS: u64 = 8;
const QUEUE: &str = "conc";

wasmq_tests::both_backends!(many_consumers_no_loss_no_overlap);

#[derive(Default)]
struct Seen {
    in_flight: Mutex<HashSet<TaskId>>,
    completed: Mutex<HashMap<TaskId, u32>>,
    dead: Mutex<HashMap<TaskId, u32>>,
    overlaps: AtomicU64,
    stale: AtomicU64,
    finals: AtomicU64,
    retry_calls: AtomicU64,
    dead_calls: AtomicU64,
    retried: AtomicU64,
}

impl Seen {
    fn take(&self, id: &TaskId) {
        if !self.in_flight.lock().unwrap().remove(id) {
            panic!("{id} settled but was not in flight");
        }
    }

    fn finish(&self, map: &Mutex<HashMap<TaskId, u32>>, id: TaskId) {
        *map.lock().unwrap().entry(id).or_default() += 1;
        self.finals.fetch_add(1, SeqCst);
    }
}

async fn many_consumers_no_loss_no_overlap(url: String) {
    let producer = connect(&url, opts()).await;
    let specs: Vec<TaskSpec> = numbered(QUEUE, TASKS)
        .into_iter()
        .map(|s| s.max_retries(2))
        .collect();
    let started = Instant::now();
    let ids = producer.enqueue_many(specs).await.unwrap();
    println!("enqueued {TASKS} in {:?}", started.elapsed());

    let stop = CancellationToken::new();
    let maintenance = {
        let c = producer.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            c.run_maintenance(Duration::from_millis(20), 1000, stop)
                .await
        })
    };
    let seen = Arc::new(Seen::default());
    let started = Instant::now();
    let mut consumers = Vec::new();
    for n in 0..CONSUMERS {
        let client = connect(&url, opts()).await;
        let seen = seen.clone();
        consumers.push(tokio::spawn(consume(client, seen, n)));
    }
    let all = futures::future::join_all(consumers);
    tokio::time::timeout(Duration::from_secs(300), all)
        .await
        .expect("consumers did not finish within 300 s")
        .into_iter()
        .for_each(|r| r.unwrap());
    let elapsed = started.elapsed();
    stop.cancel();
    maintenance.await.unwrap();
    println!(
        "{TASKS} tasks settled by {CONSUMERS} consumers in {elapsed:?} ({:.0} tasks/s), {} retries",
        TASKS as f64 / elapsed.as_secs_f64(),
        seen.retried.load(SeqCst),
    );

    assert_eq!(
        seen.overlaps.load(SeqCst),
        0,
        "a task was leased to two consumers at once"
    );
    assert_eq!(seen.stale.load(SeqCst), 0, "no lease should have expired");
    let completed = seen.completed.lock().unwrap().clone();
    let dead = seen.dead.lock().unwrap().clone();
    assert!(
        completed.values().chain(dead.values()).all(|n| *n == 1),
        "settled twice"
    );
    assert!(
        completed.keys().all(|id| !dead.contains_key(id)),
        "both completed and dead"
    );
    let finished: HashSet<&TaskId> = completed.keys().chain(dead.keys()).collect();
    let expected: HashSet<&TaskId> = ids.iter().collect();
    assert_eq!(
        finished, expected,
        "every task ends in exactly one final state"
    );

    let stats = producer.queue_stats(QUEUE).await.unwrap();
    println!("{stats:?}");
    let c = stats.counters;
    assert_eq!(c.enqueued, TASKS as u64);
    assert_eq!(c.completed, completed.len() as u64);
    assert_eq!(c.dead, dead.len() as u64);
    assert_eq!(c.retried, seen.retried.load(SeqCst));
    assert_eq!(
        c.failed,
        seen.retry_calls.load(SeqCst) + seen.dead_calls.load(SeqCst)
    );
    assert_eq!(
        (
            stats.pending,
            stats.active,
            stats.retry_wait,
            stats.scheduled,
            stats.dead
        ),
        (0, 0, 0, 0, dead.len() as u64)
    );
    let page = producer.list_dead(QUEUE, 0, 10).await.unwrap();
    assert_eq!(page.total, dead.len() as u64);
}

async fn consume(client: wasmq::Client, seen: Arc<Seen>, n: u64) {
    let mut rng = StdRng::seed_from_u64(n);
    let mut waiter = client.waiter();
    while seen.finals.load(SeqCst) < TASKS as u64 {
        let tasks = client.lease(QUEUE, 50).await.unwrap();
        if tasks.is_empty() {
            waiter
                .wait_for_work(&[QUEUE], Duration::from_millis(200))
                .await
                .unwrap();
            continue;
        }
        for t in &tasks {
            if !seen.in_flight.lock().unwrap().insert(t.id.clone()) {
                seen.overlaps.fetch_add(1, SeqCst);
            }
        }
        let mut acks = Vec::new();
        for task in tasks {
            let roll: f64 = rng.random();
            // Out of the in-flight map before settling: once settled, another
            // consumer may lease it again at once.
            seen.take(&task.id);
            if roll < 0.7 {
                acks.push((task, done("{\"ok\":true}")));
            } else if roll < 0.9 {
                let delay = Duration::from_millis(rng.random_range(0..30));
                let out = client.retry(&task, delay, &failure("flaky")).await.unwrap();
                seen.retry_calls.fetch_add(1, SeqCst);
                match out {
                    Settlement::RetryScheduled { .. } | Settlement::Requeued => {
                        seen.retried.fetch_add(1, SeqCst);
                    }
                    Settlement::Dead => seen.finish(&seen.dead, task.id.clone()),
                    Settlement::StaleLease => {
                        seen.stale.fetch_add(1, SeqCst);
                    }
                    other => panic!("unexpected retry outcome {other:?}"),
                }
            } else {
                let out = client.dead(&task, &failure("bad input")).await.unwrap();
                seen.dead_calls.fetch_add(1, SeqCst);
                match out {
                    Settlement::Dead => seen.finish(&seen.dead, task.id.clone()),
                    _ => {
                        seen.stale.fetch_add(1, SeqCst);
                    }
                }
            }
        }
        let outcomes = client.ack_many(&acks).await.unwrap();
        for ((task, _), out) in acks.into_iter().zip(outcomes) {
            match out {
                Settlement::Completed => seen.finish(&seen.completed, task.id),
                _ => {
                    seen.stale.fetch_add(1, SeqCst);
                }
            }
        }
    }
}
