//! Result buckets go by Redis's clock, not the host's: a host whose clock is
//! hours off, or was stepped since it last read Redis's clock, writes results
//! where every host finds them, and they are kept for the result TTL and
//! trimmed once it has passed, whichever host trims (standalone and a
//! 3-master cluster).

use std::time::Duration;
use wasmq::Client;
use wasmq::broker::BrokerOptions;
use wasmq::broker::keys::QueueKeys;
use wasmq::task::{TaskId, TaskSpec};
use wasmq_tests::backends::Raw;
use wasmq_tests::broker::{connect, done, opts};

wasmq_tests::both_backends!(skewed_hosts_keep_results_on_redis_time);

const HOUR_MS: i64 = 3_600_000;
/// A result TTL whose buckets are 1 s wide (the narrowest).
const TTL: Duration = Duration::from_secs(2);
const WIDTH_MS: u64 = 1000;

/// Completes one task of `queue` through `client`; returns its id.
async fn complete_one(client: &Client, queue: &str) -> TaskId {
    let id = client.enqueue(TaskSpec::new(queue, "x")).await.unwrap();
    let task = client.lease(queue, 1).await.unwrap().remove(0);
    client.ack(&task, done("{}")).await.unwrap();
    id
}

/// The result bucket numbers of `queue`, and Redis's current bucket number.
async fn buckets(raw: &mut Raw, queue: &str) -> (Vec<u64>, u64) {
    let index = QueueKeys::new("wasmq", queue).unwrap().result_index;
    let numbers: Vec<u64> = raw.run(&["ZRANGE", &index, "0", "-1"]).await;
    let (secs, micros): (u64, u64) = raw.run(&["TIME"]).await;
    (numbers, (secs * 1000 + micros / 1000) / WIDTH_MS)
}

async fn skewed_hosts_keep_results_on_redis_time(url: String) {
    let opts = BrokerOptions {
        result_ttl: TTL,
        ..opts()
    };
    let honest = connect(&url, opts.clone()).await;
    let mut raw = Raw::open(&url).await;
    let mut written = Vec::new();
    for (queue, skew) in [("behind", -3 * HOUR_MS), ("ahead", 3 * HOUR_MS)] {
        let skewed = Client::connect_with_skewed_clock(&url, opts.clone(), skew)
            .await
            .unwrap();
        let id = complete_one(&skewed, queue).await;
        let (numbers, now) = buckets(&mut raw, queue).await;
        assert_eq!(numbers.len(), 1, "{queue}: {numbers:?}");
        assert!(
            numbers[0] + 1 >= now && numbers[0] <= now,
            "{queue}: bucket {} is not Redis's current one ({now})",
            numbers[0]
        );
        written.push((queue, id, skewed));
    }
    // A host whose clock was stepped after it read Redis's clock names a
    // stale bucket; the script keeps the record for the TTL all the same.
    let stepped = connect(&url, opts.clone()).await;
    stepped.step_host_clock(-3 * HOUR_MS);
    let id = complete_one(&stepped, "stepped").await;
    written.push(("stepped", id, stepped));

    for (queue, id, client) in &written {
        honest.trim(queue, 100).await.unwrap();
        client.trim(queue, 100).await.unwrap();
        assert!(
            honest.result(id).await.unwrap().is_some(),
            "{queue}: kept for the TTL"
        );
    }
    // Records live between the TTL and the TTL plus one bucket width.
    tokio::time::sleep(TTL + Duration::from_millis(WIDTH_MS + 300)).await;
    for (queue, id, client) in &written {
        client.trim(queue, 100).await.unwrap();
        assert!(
            honest.result(id).await.unwrap().is_none(),
            "{queue}: gone after the TTL"
        );
        assert_eq!(buckets(&mut raw, queue).await.0, Vec::<u64>::new());
    }
}
