//! Cron schedules on the local 3-master Redis Cluster, through the broker
//! API: every schedule key shares the `{schedules}` hash tag (one slot), the
//! fire's task goes to its queue in another slot under the fire's unique
//! key, and the claim is a compare-and-set that only one caller wins.
//! A host does exactly these steps (`worker/schedules.rs`); the host-level
//! tests on a standalone server are in `host_schedules.rs`.

use std::time::Duration;
use wasmq::Client;
use wasmq::broker::{BrokerOptions, FIRE_UNIQUE_TTL, ScheduleToggle};
use wasmq::schedule::{Schedule, ScheduleDef};
use wasmq::task::TaskSpec;
use wasmq_tests::redis::RedisCluster;

fn schedule(name: &str, task_type: &str) -> Schedule {
    let def = ScheduleDef {
        name: name.into(),
        cron: "0 0 1 1 *".into(),
        tz: Some("Europe/Berlin".into()),
        task_type: task_type.into(),
        payload: br#"{"from":"schedule"}"#.to_vec(),
        catch_up: true,
    };
    Schedule::new(def, 1024).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fire_is_enqueued_once_and_claimed_once_on_a_cluster() {
    let cluster = RedisCluster::start();
    let client = Client::connect(&cluster.url(), BrokerOptions::default())
        .await
        .unwrap();
    for (name, task_type) in [("nightly", "report"), ("hourly", "email")] {
        let added = client
            .schedule_add(&schedule(name, task_type))
            .await
            .unwrap();
        assert!(added.is_some(), "{name} added");
    }
    assert!(
        client
            .schedule_add(&schedule("nightly", "report"))
            .await
            .unwrap()
            .is_none()
    );
    let names: Vec<String> = client
        .schedules()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.def.name)
        .collect();
    assert_eq!(names, ["hourly", "nightly"]);

    // A fire due now, as a host finds it.
    let keys = client.schedule_keys().unwrap();
    let fire = client.schedule_clock_ms() - 1_000;
    cluster.cli(&["ZADD", &keys.next, &fire.to_string(), "nightly"]);
    let due = client
        .schedules_due(client.schedule_clock_ms(), 10)
        .await
        .unwrap();
    assert_eq!(due, [("nightly".to_owned(), fire)]);

    // Two hosts enqueue the same fire: its unique key makes it one task,
    // in the `report` queue's slot, whatever slot the schedules are in.
    let spec = || {
        TaskSpec::new("report", b"{}".to_vec())
            .unique(format!("sched:nightly:{fire}"), FIRE_UNIQUE_TTL)
    };
    let first = client.enqueue(spec()).await.unwrap();
    let second = client.enqueue(spec()).await.unwrap();
    assert_eq!(
        first, second,
        "the second enqueue of a fire is the same task"
    );
    assert_eq!(client.queue_stats("report").await.unwrap().pending, 1);

    // Then both claim it: one wins, and the next fire moves on.
    let next = fire + Duration::from_secs(3600).as_millis() as u64;
    let task = first.to_string();
    let won = client
        .schedule_claim("nightly", fire, Some(next), Some(&task))
        .await
        .unwrap();
    let lost = client
        .schedule_claim("nightly", fire, Some(next), Some(&task))
        .await
        .unwrap();
    assert_eq!((won, lost), (true, false));
    let nightly = client
        .schedules()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.def.name == "nightly")
        .unwrap();
    assert_eq!(
        (
            nightly.fires,
            nightly.next_fire_ms,
            nightly.last_task.as_deref()
        ),
        (1, Some(next), Some(task.as_str()))
    );

    // A paused schedule is not due and its fire cannot be claimed.
    cluster.cli(&["ZADD", &keys.next, &fire.to_string(), "hourly"]);
    assert_eq!(
        client.schedule_pause("hourly", true).await.unwrap(),
        ScheduleToggle::Changed
    );
    let claimed = client
        .schedule_claim("hourly", fire, Some(next), None)
        .await
        .unwrap();
    assert!(!claimed, "a paused schedule's fire is not claimed");
    assert!(client.schedule_remove("hourly").await.unwrap());
    assert!(!client.schedule_remove("hourly").await.unwrap());
    assert_eq!(client.schedules().await.unwrap().len(), 1);
}

/// With encryption at rest, a schedule's payload is stored sealed (it is
/// a task body to be) and read back in clear by a client with the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_payload_is_sealed_at_rest() {
    use wasmq::crypto::{Encryption, KeyRing};
    let redis = wasmq_tests::redis::RedisServer::start();
    let ring = KeyRing::parse("k1:MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=").unwrap();
    let opts = BrokerOptions {
        encryption: Some(Encryption::new(ring, None)),
        ..BrokerOptions::default()
    };
    let client = Client::connect(&redis.url(), opts).await.unwrap();
    let mut s = schedule("nightly", "report");
    let marker = "a-schedule-payload-marker-0123456789";
    let def = ScheduleDef {
        payload: marker.as_bytes().to_vec(),
        ..s.def().clone()
    };
    s = Schedule::new(def, 1024).unwrap();
    client.schedule_add(&s).await.unwrap();
    let stored = redis.cli(&["HGETALL", "wasmq:{schedules}:defs"]);
    assert!(!stored.is_empty() && !stored.contains(marker), "{stored}");
    let read = client.schedule_def("nightly").await.unwrap().unwrap();
    assert_eq!(read.payload, marker.as_bytes());
    let listed = client.schedules().await.unwrap();
    assert_eq!(listed[0].def.payload, marker.as_bytes());
    let plain = Client::connect(&redis.url(), BrokerOptions::default())
        .await
        .unwrap();
    let sealed = plain.schedule_def("nightly").await.unwrap().unwrap();
    assert_ne!(sealed.payload, marker.as_bytes(), "no key, no payload");
}
