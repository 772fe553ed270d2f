//! Enqueue is all or nothing, task options are bounded, and an empty queue
//! can be removed, against real Redis (standalone and a 3-master cluster).
//!
//! The keys are read behind the broker's back ([`Raw`]) to prove what was
//! *not* written: a refused enqueue must leave no unique key, no body and no
//! used id behind, or a later enqueue with the same unique key answers with
//! the id of a task that does not exist.

use std::time::{Duration, SystemTime};
use wasmq::broker::{BrokerError, QueueContents, QueueRemoval};
use wasmq::task::{MAX_SCHEDULE_AHEAD, TaskSpec, TaskState};
use wasmq_tests::backends::Raw;
use wasmq_tests::broker::{connect, done, drain, opts};

wasmq_tests::both_backends!(
    a_rejected_batch_leaves_no_unique_key,
    enqueue_script_checks_every_argument_before_writing,
    delay_beyond_a_year_is_refused,
    run_at_beyond_a_year_is_refused,
    only_an_empty_queue_is_removed,
    a_queue_removed_under_a_producer_is_listed_again,
);

const DAY: Duration = Duration::from_secs(24 * 3600);

/// How many of `keys` exist (all of one queue, so one slot on Cluster).
async fn existing(raw: &mut Raw, keys: &[&str]) -> i64 {
    let mut args = vec!["EXISTS"];
    args.extend_from_slice(keys);
    raw.run(&args).await
}

async fn a_rejected_batch_leaves_no_unique_key(url: String) {
    let client = connect(&url, opts()).await;
    let mut raw = Raw::open(&url).await;
    let batch = vec![
        TaskSpec::new("uq", "first").unique("order-1", Duration::from_secs(3600)),
        // 2^64 - 1 ms: Redis refuses such a PX, which used to abort the
        // script after order-1 was set.
        TaskSpec::new("uq", "last").unique("order-2", Duration::from_millis(u64::MAX)),
    ];
    let err = client.enqueue_many(batch).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("task [1] of the batch") && text.contains("`unique_ttl`"),
        "{text}"
    );
    assert!(matches!(err, BrokerError::Invalid(_)), "{err:?}");
    let keys = [
        "wasmq:{uq}:u:order-1",
        "wasmq:{uq}:u:order-2",
        "wasmq:{uq}:t",
        "wasmq:{uq}:p1",
        "wasmq:{uq}:seq",
        "wasmq:{uq}:stats",
    ];
    assert_eq!(existing(&mut raw, &keys).await, 0, "nothing was written");

    let id = client
        .enqueue(TaskSpec::new("uq", "again").unique("order-1", Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(id.local(), "1", "no id was used by the refused batch");
    let status = client.status(&id).await.unwrap();
    assert_eq!(status.map(|s| s.state), Some(TaskState::Pending));
}

/// The script itself refuses a bad argument of its last task before its
/// first write, for callers that skip the client's checks.
async fn enqueue_script_checks_every_argument_before_writing(url: String) {
    let source = wasmq_tests::broker::lua_script("enqueue.lua");
    let mut raw = Raw::open(&url).await;
    let q = |suffix: &str| format!("wasmq:{{raw}}:{suffix}");
    let keys = [
        q("t"),
        q("p0"),
        q("p1"),
        q("p2"),
        q("scheduled"),
        q("seq"),
        q("stats"),
        q("wake"),
        q("u:a"),
        q("u:b"),
    ];
    let call = |last_ttl: &'static str, last_body: &'static str| {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(&source).arg(keys.len()).arg(&keys[..]);
        // No wake channel, then two tasks.
        cmd.arg("")
            .arg(2)
            .arg(&["1", "", "9", "3600000", "1|1|3|0||1\nA"][..])
            .arg(&["1", "+5000", "10", last_ttl, last_body][..]);
        cmd
    };
    for (ttl, body, why) in [
        ("18446744073709551615", "1|1|3|0||1\nB", "unique TTL"),
        (
            "1000",
            "1|2|3|0||1\nB",
            "not a task record of that priority",
        ),
        ("1000", "garbage", "not a task record"),
    ] {
        let reply: redis::RedisResult<redis::Value> = match &mut raw {
            Raw::Single(c) => call(ttl, body).query_async(c).await,
            Raw::Cluster(c) => call(ttl, body).query_async(c).await,
        };
        let err = reply.expect_err("the script refuses the last task");
        assert!(err.to_string().contains(why), "{why}: {err}");
        let names: Vec<&str> = keys.iter().map(String::as_str).collect();
        assert_eq!(
            existing(&mut raw, &names).await,
            0,
            "{why}: nothing written"
        );
    }
    // A key of the wrong type is found before the first write too.
    let _: () = raw.run(&["SET", &q("wake"), "not a list"]).await;
    let reply: redis::RedisResult<redis::Value> = match &mut raw {
        Raw::Single(c) => call("1000", "1|1|3|0||1\nB").query_async(c).await,
        Raw::Cluster(c) => call("1000", "1|1|3|0||1\nB").query_async(c).await,
    };
    assert!(reply.unwrap_err().to_string().contains("not a list"));
    let names: Vec<&str> = keys[..7].iter().map(String::as_str).collect();
    assert_eq!(existing(&mut raw, &names).await, 0);
}

async fn delay_beyond_a_year_is_refused(url: String) {
    let client = connect(&url, opts()).await;
    for delay in [
        // About 2^63 ms overflowed the script's '%d' and ran the task at once.
        Duration::from_millis(1 << 63),
        MAX_SCHEDULE_AHEAD + Duration::from_millis(1),
    ] {
        let err = client
            .enqueue(TaskSpec::new("later", "x").delay(delay))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("`delay`") && err.contains("365 days"), "{err}");
    }
    let stats = client.queue_stats("later").await.unwrap();
    assert_eq!((stats.pending, stats.scheduled), (0, 0));
    let id = client
        .enqueue(TaskSpec::new("later", "x").delay(MAX_SCHEDULE_AHEAD))
        .await
        .unwrap();
    let status = client.status(&id).await.unwrap().unwrap();
    assert_eq!(status.state, TaskState::Scheduled);
}

async fn run_at_beyond_a_year_is_refused(url: String) {
    let client = connect(&url, opts()).await;
    let now = SystemTime::now();
    let err = client
        .enqueue(TaskSpec::new("dated", "x").run_at(now + MAX_SCHEDULE_AHEAD + DAY))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`run_at`") && err.contains("365 days"),
        "{err}"
    );
    assert_eq!(client.queue_stats("dated").await.unwrap().scheduled, 0);
    let id = client
        .enqueue(TaskSpec::new("dated", "x").run_at(now + MAX_SCHEDULE_AHEAD - DAY))
        .await
        .unwrap();
    let status = client.status(&id).await.unwrap().unwrap();
    assert_eq!(status.state, TaskState::Scheduled);
}

async fn only_an_empty_queue_is_removed(url: String) {
    let client = connect(&url, opts()).await;
    let mut raw = Raw::open(&url).await;
    let first = client.enqueue(TaskSpec::new("typo", "x")).await.unwrap();
    let outcome = client.remove_queue("typo").await.unwrap();
    let pending_one = QueueContents {
        pending: 1,
        bodies: 1,
        ..QueueContents::default()
    };
    assert_eq!(outcome, QueueRemoval::NotEmpty(pending_one));
    assert!(client.queues().await.unwrap().contains(&"typo".to_owned()));
    assert_eq!(client.queue_stats("typo").await.unwrap().pending, 1);

    let task = drain(&client, "typo", 10).await.remove(0);
    client.ack(&task, done("{}")).await.unwrap();
    assert_eq!(
        client.remove_queue("typo").await.unwrap(),
        QueueRemoval::Removed
    );
    assert!(!client.queues().await.unwrap().contains(&"typo".to_owned()));
    let gone = [
        "wasmq:{typo}:t",
        "wasmq:{typo}:stats",
        "wasmq:{typo}:tp",
        "wasmq:{typo}:resix",
        "wasmq:{typo}:wake",
    ];
    assert_eq!(existing(&mut raw, &gone).await, 0);
    assert_eq!(client.status(&first).await.unwrap(), None);
    assert_eq!(
        client.remove_queue("typo").await.unwrap(),
        QueueRemoval::NotFound
    );

    // The id counter survived: a new task never takes a removed one's id.
    let again = client.enqueue(TaskSpec::new("typo", "y")).await.unwrap();
    assert_ne!(again, first);
    assert!(client.queues().await.unwrap().contains(&"typo".to_owned()));
}

async fn a_queue_removed_under_a_producer_is_listed_again(url: String) {
    let producer = connect(&url, opts()).await;
    let admin = connect(&url, opts()).await;
    producer.enqueue(TaskSpec::new("busy", "1")).await.unwrap();
    let task = drain(&producer, "busy", 10).await.remove(0);
    producer.ack(&task, done("{}")).await.unwrap();
    assert_eq!(
        admin.remove_queue("busy").await.unwrap(),
        QueueRemoval::Removed
    );
    // The producer registered "busy" before and does not know it was
    // removed; the enqueue script tells it the queue started afresh.
    producer.enqueue(TaskSpec::new("busy", "2")).await.unwrap();
    assert!(admin.queues().await.unwrap().contains(&"busy".to_owned()));
}
