//! Limits in the lease script, against a standalone server and a cluster:
//! the rate limit (GCRA on Redis's clock) grants a burst and then one task
//! per interval and says how long to wait; the global concurrency cap
//! counts the active set; a throttle stops leasing for its duration; limits
//! set in Redis win over the manifest defaults a host passes, and clearing
//! them restores those.

use std::time::Duration;
use wasmq::broker::CAP_POLL;
use wasmq::ratelimit::QueueLimits;
use wasmq_tests::broker::{connect, done, numbered, opts};

wasmq_tests::both_backends!(
    rate_limit_grants_a_burst_then_says_when,
    concurrency_cap_counts_the_active_set,
    throttle_stops_leasing_for_its_duration,
    redis_limits_win_over_manifest_defaults,
);

fn limits(rate: Option<&str>, burst: Option<u64>, conc: Option<u64>) -> QueueLimits {
    QueueLimits::from_parts(rate, burst, conc).unwrap()
}

async fn rate_limit_grants_a_burst_then_says_when(url: String) {
    let client = connect(&url, opts()).await;
    let q = "rl";
    client.enqueue_many(numbered(q, 50)).await.unwrap();
    client
        .set_limits(q, &limits(Some("10/s"), Some(3), None))
        .await
        .unwrap();
    let none = QueueLimits::default();
    let first = client.lease_within(q, 100, &none).await.unwrap();
    assert_eq!(first.tasks.len(), 3, "the burst");
    let wait = first.wait.expect("the burst is used up");
    assert!(wait <= Duration::from_millis(100), "{wait:?}");
    let second = client.lease_within(q, 100, &none).await.unwrap();
    assert!(second.tasks.is_empty());
    let wait = second.wait.expect("still limited");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_millis(100),
        "{wait:?}"
    );
    tokio::time::sleep(wait).await;
    let third = client.lease_within(q, 100, &none).await.unwrap();
    assert_eq!(third.tasks.len(), 1, "one token per 100 ms");
    // `lease` (no defaults) obeys the stored limit too.
    assert!(client.lease(q, 100).await.unwrap().is_empty());
}

async fn concurrency_cap_counts_the_active_set(url: String) {
    let client = connect(&url, opts()).await;
    let q = "cap";
    client.enqueue_many(numbered(q, 10)).await.unwrap();
    client
        .set_limits(q, &limits(None, None, Some(4)))
        .await
        .unwrap();
    let none = QueueLimits::default();
    let held = client.lease_within(q, 10, &none).await.unwrap();
    assert_eq!(held.tasks.len(), 4);
    let capped = client.lease_within(q, 10, &none).await.unwrap();
    assert!(capped.tasks.is_empty());
    assert_eq!(capped.wait, Some(CAP_POLL));
    client.ack(&held.tasks[0], done("{}")).await.unwrap();
    let next = client.lease_within(q, 10, &none).await.unwrap();
    assert_eq!(next.tasks.len(), 1, "one slot freed");
}

async fn throttle_stops_leasing_for_its_duration(url: String) {
    let client = connect(&url, opts()).await;
    let q = "thr";
    client.enqueue_many(numbered(q, 5)).await.unwrap();
    let held = client
        .throttle(q, Duration::from_millis(400))
        .await
        .unwrap();
    assert_eq!(held, Duration::from_millis(400));
    // A shorter throttle does not cut a longer one short.
    let kept = client.throttle(q, Duration::from_millis(10)).await.unwrap();
    assert!(kept > Duration::from_millis(300), "{kept:?}");
    let b = client
        .lease_within(q, 5, &QueueLimits::default())
        .await
        .unwrap();
    assert!(b.tasks.is_empty());
    let wait = b.wait.expect("throttled");
    assert!(wait <= Duration::from_millis(400), "{wait:?}");
    assert!(client.throttled_for(q).await.unwrap().is_some());
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    assert_eq!(client.lease(q, 5).await.unwrap().len(), 5);
    assert_eq!(client.throttled_for(q).await.unwrap(), None);
}

async fn redis_limits_win_over_manifest_defaults(url: String) {
    let client = connect(&url, opts()).await;
    let q = "prec";
    client.enqueue_many(numbered(q, 20)).await.unwrap();
    let manifest = limits(None, None, Some(2));
    let a = client.lease_within(q, 20, &manifest).await.unwrap();
    assert_eq!(a.tasks.len(), 2, "the manifest default applies");
    client.set_limits(q, &QueueLimits::default()).await.unwrap();
    let stored = client.limits(q).await.unwrap().expect("stored");
    assert!(stored.limits.is_unlimited());
    let b = client.lease_within(q, 5, &manifest).await.unwrap();
    assert_eq!(b.tasks.len(), 5, "\"no limit\" in Redis overrides it");
    client
        .set_limits(q, &limits(None, None, Some(8)))
        .await
        .unwrap();
    let c = client.lease_within(q, 20, &manifest).await.unwrap();
    assert_eq!(c.tasks.len(), 1, "Redis's cap of 8 wins: 7 held, 1 more");
    client.clear_limits(q).await.unwrap();
    assert_eq!(client.limits(q).await.unwrap(), None);
    let d = client.lease_within(q, 20, &manifest).await.unwrap();
    assert!(d.tasks.is_empty(), "the manifest's cap of 2 again");
    // Validation at the edge: a zero rate never reaches Redis.
    let bad = QueueLimits {
        concurrency: Some(0),
        ..QueueLimits::default()
    };
    let e = client.set_limits(q, &bad).await.unwrap_err().to_string();
    assert!(e.contains("concurrency 0"), "{e}");
}

/// `(calls, usec)` of EVALSHA in `INFO commandstats`.
fn evalsha(redis: &wasmq_tests::redis::RedisServer) -> (u64, u64) {
    redis.command_stat("evalsha")
}

/// Redis CPU per lease call, plain and under a limit that does not bind
/// (1,000,000/s) or a cap that does not (100,000), leasing `batch` at a
/// time. Prints the figures for docs/benchmarks.md; asserts only that a
/// limited lease still leases everything.
#[tokio::test(flavor = "multi_thread")]
async fn cost_of_a_limited_lease() {
    let redis = wasmq_tests::redis::RedisServer::start();
    let client = connect(&redis.url(), opts()).await;
    client.load_scripts().await.unwrap();
    let n = 5000;
    for batch in [1usize, 64] {
        for (name, limits) in [
            ("plain", QueueLimits::default()),
            ("rate", limits(Some("1000000/s"), Some(100_000), None)),
            (
                "rate+cap",
                limits(Some("1000000/s"), Some(100_000), Some(100_000)),
            ),
        ] {
            let q = format!("cost-{name}-{batch}").replace('+', "-");
            if !limits.is_unlimited() {
                client.set_limits(&q, &limits).await.unwrap();
            }
            client.enqueue_many(numbered(&q, n)).await.unwrap();
            let (calls0, usec0) = evalsha(&redis);
            let mut leased = 0;
            while leased < n {
                let got = client.lease(&q, batch).await.unwrap();
                assert!(!got.is_empty(), "{name}: a limit bound at {leased}");
                leased += got.len();
            }
            let (calls1, usec1) = evalsha(&redis);
            let calls = calls1 - calls0;
            println!(
                "lease batch {batch:>2}, {name:<8}: {:.1} µs Redis CPU per lease call, {:.2} µs per task",
                (usec1 - usec0) as f64 / calls as f64,
                (usec1 - usec0) as f64 / n as f64
            );
        }
    }
}
