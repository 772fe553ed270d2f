//! The due indexes (`broker/due.rs`): an idle host's maintenance costs the
//! same whatever the number of queues, and the claim-visit-settle protocol
//! never leaves time-driven work unindexed when a writer races a visit.

use std::time::Duration;
use wasmq::broker::{DUE_BUCKETS, DueAt, bucket_of};
use wasmq::task::TaskSpec;
use wasmq_tests::backends::Raw;
use wasmq_tests::broker::client;
use wasmq_tests::redis::RedisServer;

const TICK: Duration = Duration::from_millis(500);

/// Redis calls (round trips, `EVALSHA`) and commands (with those run
/// inside scripts) per maintenance tick of an idle indexed maintainer over
/// `queues` queues, once the start-up sweep has visited them all.
async fn idle_calls_per_tick(queues: usize) -> (f64, f64) {
    let server = RedisServer::start();
    let url = server.url();
    let producer = client(&url).await;
    let mut raw = Raw::open(&url).await;
    // Queues as a long-running deployment has them: listed, and idle.
    for chunk in (0..queues).collect::<Vec<_>>().chunks(1000) {
        let mut args = vec!["SADD".to_owned(), "wasmq:queues".to_owned()];
        args.extend(chunk.iter().map(|i| format!("idle-{i}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let _: u64 = raw.run(&args).await;
    }
    let mut maintainer = producer.maintainer(TICK, 1000).indexed(TICK);
    // The start-up sweep marks every queue due; visits empty the index.
    for _ in 0..queues / 1000 + 3 {
        maintainer.tick().await.expect("tick");
    }
    assert!(
        producer.due_entries().await.unwrap().is_empty(),
        "idle queues leave the index"
    );
    let commands = || {
        server.info("stats")["total_commands_processed"]
            .parse::<u64>()
            .unwrap()
    };
    let evalsha = || server.command_stat("evalsha").0;
    let info = || server.command_stat("info").0;
    let (commands_before, calls_before, info_before) = (commands(), evalsha(), info());
    const TICKS: u64 = 40;
    for _ in 0..TICKS {
        let report = maintainer.tick().await.expect("tick");
        assert_eq!(report.maintained, 0, "an idle queue is not visited");
    }
    let calls = (evalsha() - calls_before) as f64 / TICKS as f64;
    // The INFO calls that measure are commands too.
    let measuring = info() - info_before;
    let all = (commands() - commands_before - measuring) as f64 / TICKS as f64;
    println!("{queues} idle queues: {calls:.1} calls and {all:.1} commands per maintenance tick");
    (calls, all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_maintenance_costs_the_same_for_1_or_10000_queues() {
    let one = idle_calls_per_tick(1).await;
    let hundred = idle_calls_per_tick(100).await;
    let many = idle_calls_per_tick(10_000).await;
    assert_eq!(
        one.0, DUE_BUCKETS as f64,
        "one claim per bucket and tick: {one:?}"
    );
    assert_eq!(hundred, one, "flat in the queue count");
    assert_eq!(many, one, "flat in the queue count");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_during_a_visit_keeps_its_queue_indexed() {
    let server = RedisServer::start();
    let producer = client(&server.url()).await;
    let bucket = bucket_of("racy");
    producer.mark_due(&[("racy", DueAt::Now)]).await.unwrap();
    let claimed = producer.claim_due(bucket, 10, "visit-1").await.unwrap();
    assert_eq!(claimed, ["racy"]);
    // A delayed task arrives after the visit read the queue...
    producer
        .enqueue(TaskSpec::new("racy", "x").delay(Duration::from_secs(60)))
        .await
        .unwrap();
    // ...so settling what the visit saw (nothing due) must not unindex it.
    producer.settle_due("racy", "visit-1", None).await.unwrap();
    let entries = producer.due_entries().await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].0, "racy");

    // Without a writer in between, the visit's outlook is the entry.
    let claimed_again = producer.claim_due(bucket, 10, "visit-2").await.unwrap();
    assert!(claimed_again.is_empty(), "the delayed task is not due yet");
    producer.mark_due(&[("quiet", DueAt::Now)]).await.unwrap();
    let quiet = producer
        .claim_due(bucket_of("quiet"), 10, "visit-3")
        .await
        .unwrap();
    assert!(quiet.contains(&"quiet".to_owned()));
    producer.settle_due("quiet", "visit-3", None).await.unwrap();
    let entries = producer.due_entries().await.unwrap();
    assert!(entries.iter().all(|(q, _)| q != "quiet"), "{entries:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_keeps_other_maintainers_off_and_marks_only_move_earlier() {
    let server = RedisServer::start();
    let producer = client(&server.url()).await;
    let bucket = bucket_of("held");
    producer.mark_due(&[("held", DueAt::Now)]).await.unwrap();
    assert_eq!(producer.claim_due(bucket, 10, "a").await.unwrap(), ["held"]);
    assert!(
        producer
            .claim_due(bucket, 10, "b")
            .await
            .unwrap()
            .is_empty(),
        "a claimed queue is not handed to a second maintainer"
    );
    producer
        .settle_due("held", "a", Some(4_000_000_000_000))
        .await
        .unwrap();
    producer
        .mark_due(&[("held", DueAt::At(5_000_000_000_000))])
        .await
        .unwrap();
    let entries = producer.due_entries().await.unwrap();
    assert_eq!(
        entries,
        [("held".to_owned(), 4_000_000_000_000)],
        "a later mark changes nothing"
    );
}
