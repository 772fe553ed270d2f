//! Delivery semantics of the broker against real Redis (standalone and a
//! 3-master cluster): priorities, unique keys, leases that expire, stale
//! acks, racing promoters, scheduling, pause, release and wake-ups.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Barrier;
use tokio_util::sync::CancellationToken;
use wasmq::broker::{BrokerOptions, Settlement};
use wasmq::task::{Priority, TaskSpec, TaskState};
use wasmq_tests::broker::{connect, done, drain, failure, numbered, opts, payload_text};

wasmq_tests::both_backends!(
    priorities_then_fifo,
    unique_key_dedupes_until_ttl,
    stale_ack_is_refused,
    dead_consumer_tasks_come_back,
    racing_promoters_promote_once,
    scheduled_tasks_wait,
    pause_blocks_leasing,
    release_returns_to_front,
    extend_keeps_the_lease,
    idle_consumer_wakes_on_enqueue,
);

async fn priorities_then_fifo(url: String) {
    let client = connect(&url, opts()).await;
    let levels = [Priority::Low, Priority::Normal, Priority::High];
    let specs: Vec<TaskSpec> = (0..30)
        .map(|i| TaskSpec::new("prio", format!("{}-{i:02}", i % 3)).priority(levels[i % 3]))
        .collect();
    client.enqueue_many(specs).await.unwrap();
    let order: Vec<String> = drain(&client, "prio", 7)
        .await
        .iter()
        .map(payload_text)
        .collect();
    let mut expected = Vec::new();
    for level in [2, 1, 0] {
        expected.extend(
            (0..30)
                .filter(|i| i % 3 == level)
                .map(|i| format!("{level}-{i:02}")),
        );
    }
    assert_eq!(
        order, expected,
        "high first, then normal, then low, FIFO within each"
    );
}

async fn unique_key_dedupes_until_ttl(url: String) {
    let client = connect(&url, opts()).await;
    let ttl = Duration::from_millis(400);
    let spec = || TaskSpec::new("uniq", "x").unique("welcome:42", ttl);
    let first = client.enqueue(spec()).await.unwrap();
    let again = client.enqueue(spec()).await.unwrap();
    assert_eq!(again, first, "a duplicate returns the existing id");
    let batch = client.enqueue_many(vec![spec(), spec()]).await.unwrap();
    assert_eq!(batch, vec![first.clone(), first.clone()]);
    assert_eq!(client.queue_stats("uniq").await.unwrap().pending, 1);
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    let later = client.enqueue(spec()).await.unwrap();
    assert_ne!(later, first, "after the TTL the key enqueues again");
    assert_eq!(client.queue_stats("uniq").await.unwrap().pending, 2);
}

async fn stale_ack_is_refused(url: String) {
    let opts = BrokerOptions {
        lease_duration: Duration::from_millis(300),
        ..opts()
    };
    let slow = connect(&url, opts.clone()).await;
    let fast = connect(&url, opts).await;
    let id = slow.enqueue(TaskSpec::new("stale", "x")).await.unwrap();
    let first = slow.lease("stale", 1).await.unwrap().remove(0);
    assert_eq!(first.attempt, 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let reaped = fast.reap_expired("stale", 100).await.unwrap();
    assert_eq!(reaped.requeued, 1);
    let second = fast.lease("stale", 1).await.unwrap().remove(0);
    assert_eq!((second.id.clone(), second.attempt), (id.clone(), 2));
    assert_ne!(first.token(), second.token());

    assert_eq!(
        slow.ack(&first, done("{}")).await.unwrap(),
        Settlement::StaleLease
    );
    let retried = slow
        .retry(&first, Duration::ZERO, &failure("late"))
        .await
        .unwrap();
    assert_eq!(retried, Settlement::StaleLease);
    assert_eq!(
        slow.dead(&first, &failure("late")).await.unwrap(),
        Settlement::StaleLease
    );
    assert_eq!(
        slow.extend(
            "stale",
            std::slice::from_ref(&first),
            Duration::from_secs(5)
        )
        .await
        .unwrap(),
        vec![None]
    );
    assert_eq!(
        slow.release(&[first]).await.unwrap(),
        vec![Settlement::StaleLease]
    );
    let status = fast.status(&id).await.unwrap().unwrap();
    assert_eq!(
        status.state,
        TaskState::Active,
        "the new owner's lease is untouched"
    );

    assert_eq!(
        fast.ack(&second, done("{}")).await.unwrap(),
        Settlement::Completed
    );
    let status = fast.status(&id).await.unwrap().unwrap();
    assert_eq!((status.state, status.attempts), (TaskState::Completed, 2));
}

async fn dead_consumer_tasks_come_back(url: String) {
    let opts = BrokerOptions {
        lease_duration: Duration::from_millis(300),
        ..opts()
    };
    let client = connect(&url, opts).await;
    let stop = CancellationToken::new();
    let reaper = {
        let c = client.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            c.run_maintenance(Duration::from_millis(50), 1000, stop)
                .await
        })
    };
    let specs: Vec<TaskSpec> = (0..5)
        .map(|i| TaskSpec::new("crash", i.to_string()).max_retries(2))
        .collect();
    let ids = client.enqueue_many(specs).await.unwrap();
    for attempt in 1..=3u32 {
        // A consumer leases and "dies": its tasks are never settled.
        let leased = lease_within(&client, "crash", 5, Duration::from_secs(5)).await;
        assert_eq!(leased.len(), 5, "attempt {attempt}: every task came back");
        assert!(
            leased
                .iter()
                .all(|t| t.attempt == attempt && t.max_attempts == 3)
        );
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = client.queue_stats("crash").await.unwrap();
        if stats.dead == 5 {
            assert_eq!((stats.pending, stats.active), (0, 0));
            assert_eq!(stats.counters.expired, 15);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "tasks never reached the dead set: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for id in &ids {
        let s = client.status(id).await.unwrap().unwrap();
        assert_eq!(s.state, TaskState::Dead);
        assert_eq!(s.attempts, 3);
        assert_eq!(s.dead_reason.as_deref(), Some("lease-expired"));
    }
    stop.cancel();
    reaper.await.unwrap();
}

/// Leases until `want` tasks arrived or `within` passed.
async fn lease_within(
    client: &wasmq::Client,
    queue: &str,
    want: usize,
    within: Duration,
) -> Vec<wasmq::broker::LeasedTask> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        got.extend(client.lease(queue, want - got.len()).await.unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got
}

async fn racing_promoters_promote_once(url: String) {
    let producer = connect(&url, opts()).await;
    let delay = Duration::from_secs(1);
    let specs: Vec<TaskSpec> = numbered("race", 10_000)
        .into_iter()
        .map(|s| s.delay(delay))
        .collect();
    producer.enqueue_many(specs).await.unwrap();
    assert_eq!(
        producer.queue_stats("race").await.unwrap().scheduled,
        10_000
    );
    // Each chunk's due time is Redis's clock at that chunk plus the delay.
    tokio::time::sleep(delay + Duration::from_millis(100)).await;
    // Separate connections, connected first and released together.
    let a = connect(&url, opts()).await;
    let b = connect(&url, opts()).await;
    let start = Arc::new(Barrier::new(2));
    let mut racers = Vec::new();
    for c in [a, b] {
        let start = start.clone();
        racers.push(tokio::spawn(async move {
            start.wait().await;
            let mut total = 0;
            loop {
                let n = c.promote_due("race", 200).await.unwrap();
                total += n;
                if n == 0 {
                    return total;
                }
            }
        }));
    }
    let mut promoted = Vec::new();
    for r in racers {
        promoted.push(r.await.unwrap());
    }
    println!("promoted per racer: {promoted:?}");
    assert_eq!(promoted.iter().sum::<u64>(), 10_000);
    let stats = producer.queue_stats("race").await.unwrap();
    assert_eq!((stats.pending, stats.scheduled), (10_000, 0));
    let leased = drain(&producer, "race", 1000).await;
    let unique: HashSet<_> = leased.iter().map(|t| t.id.clone()).collect();
    assert_eq!(
        (leased.len(), unique.len()),
        (10_000, 10_000),
        "no duplicate ids"
    );
}

async fn scheduled_tasks_wait(url: String) {
    let client = connect(&url, opts()).await;
    let later = client
        .enqueue(TaskSpec::new("sched", "later").delay(Duration::from_millis(500)))
        .await
        .unwrap();
    let past = SystemTime::now() - Duration::from_secs(60);
    client
        .enqueue(TaskSpec::new("sched", "now").run_at(past))
        .await
        .unwrap();
    let status = client.status(&later).await.unwrap().unwrap();
    assert_eq!(status.state, TaskState::Scheduled);
    assert!(status.due_at_ms.is_some());
    let now: Vec<String> = drain(&client, "sched", 10)
        .await
        .iter()
        .map(payload_text)
        .collect();
    assert_eq!(
        now,
        ["now"],
        "a past run-at is pending at once; the delayed one waits"
    );
    assert_eq!(
        client.promote_due("sched", 100).await.unwrap(),
        0,
        "not due yet"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(client.promote_due("sched", 100).await.unwrap(), 1);
    let leased = client.lease("sched", 10).await.unwrap();
    assert_eq!(leased[0].id, later);
}

async fn pause_blocks_leasing(url: String) {
    let client = connect(&url, opts()).await;
    client.pause("paused").await.unwrap();
    client.enqueue_many(numbered("paused", 3)).await.unwrap();
    assert!(client.lease("paused", 10).await.unwrap().is_empty());
    let stats = client.queue_stats("paused").await.unwrap();
    assert!(stats.paused && stats.pending == 3);
    client.resume("paused").await.unwrap();
    assert_eq!(client.lease("paused", 10).await.unwrap().len(), 3);
}

async fn release_returns_to_front(url: String) {
    let client = connect(&url, opts()).await;
    client.enqueue_many(numbered("rel", 5)).await.unwrap();
    let first = client.lease("rel", 3).await.unwrap();
    let out = client.release(&first).await.unwrap();
    assert_eq!(out, vec![Settlement::Released; 3]);
    let again = drain(&client, "rel", 10).await;
    let order: Vec<String> = again.iter().map(payload_text).collect();
    assert_eq!(
        order,
        ["0", "1", "2", "3", "4"],
        "released tasks go back in front, in order"
    );
    assert!(
        again.iter().all(|t| t.attempt == 1),
        "a release does not count an attempt"
    );
}

async fn extend_keeps_the_lease(url: String) {
    let opts = BrokerOptions {
        lease_duration: Duration::from_millis(300),
        ..opts()
    };
    let client = connect(&url, opts).await;
    client.enqueue(TaskSpec::new("ext", "x")).await.unwrap();
    let task = client.lease("ext", 1).await.unwrap().remove(0);
    let extended = client
        .extend("ext", std::slice::from_ref(&task), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(extended[0].is_some_and(|d| d > task.lease_deadline_ms));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(client.reap_expired("ext", 100).await.unwrap().requeued, 0);
    assert_eq!(
        client.ack(&task, done("{}")).await.unwrap(),
        Settlement::Completed
    );
}

async fn idle_consumer_wakes_on_enqueue(url: String) {
    let client = connect(&url, opts()).await;
    let mut waiter = client.waiter();
    // Nothing pending: the wait times out.
    let t = Instant::now();
    assert_eq!(
        waiter
            .wait_for_work(&["wa", "wb"], Duration::from_millis(300))
            .await
            .unwrap(),
        None
    );
    println!("empty wait returned after {:?}", t.elapsed());
    let producer = client.clone();
    let enqueue = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let at = Instant::now();
        producer.enqueue(TaskSpec::new("wb", "x")).await.unwrap();
        at
    });
    let woke = waiter
        .wait_for_work(&["wa", "wb"], Duration::from_secs(10))
        .await
        .unwrap();
    let woke_at = Instant::now();
    let enqueued_at = enqueue.await.unwrap();
    assert_eq!(woke.as_deref(), Some("wb"));
    println!(
        "woke {:?} after the enqueue started",
        woke_at.duration_since(enqueued_at)
    );
    assert_eq!(client.lease("wb", 10).await.unwrap().len(), 1);
}
