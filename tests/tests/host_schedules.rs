//! Cron schedules end to end: real `wasmq run` processes against a real
//! Redis. Each fire must happen once however many hosts run, and a fire
//! missed while no host ran fires once or is skipped, per schedule. No test
//! asserts a wall-clock timing: they wait for fires to be recorded and then
//! count tasks.

use std::time::Duration;
use wasmq::Client;
use wasmq::broker::ScheduleInfo;
use wasmq::schedule::{Schedule, ScheduleDef};
use wasmq_tests::broker::client;
use wasmq_tests::host::{HostProcess, eventually, settled, totals};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisServer;

const LONG: Duration = Duration::from_secs(600);

fn schedule(name: &str, cron: &str, task_type: &str, catch_up: bool) -> Schedule {
    let def = ScheduleDef {
        name: name.into(),
        cron: cron.into(),
        tz: None,
        task_type: task_type.into(),
        payload: br#"{"from":"schedule"}"#.to_vec(),
        catch_up,
    };
    Schedule::new(def, 1024).unwrap()
}

async fn info(client: &Client, name: &str) -> ScheduleInfo {
    client
        .schedules()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.def.name == name)
        .unwrap_or_else(|| panic!("schedule {name} is listed"))
}

/// The issue's acceptance test: `* * * * *` with three hosts running for
/// three minutes fires exactly three times, one task per fire. The test
/// waits for the third recorded fire, pauses the schedule (no fire is due
/// for most of a minute then), and counts the tasks of its type.
#[tokio::test(flavor = "multi_thread")]
async fn every_minute_with_three_hosts_fires_once_per_minute() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("noop", "noop")]);
    let hosts: Vec<HostProcess> = (0..3)
        .map(|_| HostProcess::start(&redis.url(), plugins.path(), &["--concurrency", "2"]))
        .collect();
    let client = client(&redis.url()).await;
    client
        .schedule_add(&schedule("tick", "* * * * *", "noop", false))
        .await
        .unwrap()
        .expect("the name is free");

    let seen = std::sync::Mutex::new(Vec::new());
    eventually("three fires of `tick`", LONG, || async {
        let s = info(&client, "tick").await;
        let mut seen = seen.lock().unwrap();
        if let Some(at) = s.last_fire_ms
            && seen.last() != Some(&at)
        {
            seen.push(at);
        }
        (s.fires >= 3).then_some(())
    })
    .await;
    let fire_times = seen.into_inner().unwrap();
    client.schedule_pause("tick", true).await.unwrap();
    let s = info(&client, "tick").await;
    assert_eq!(s.fires, 3, "{s:?}");
    assert!(s.paused && s.next_fire_ms.is_none(), "{s:?}");

    let t = settled(&client, &["noop"], 3, LONG).await;
    assert_eq!((t.completed, t.dead), (3, 0), "one task per fire: {t:?}");
    for pair in fire_times.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            60_000,
            "consecutive minutes: {fire_times:?}"
        );
    }
    drop(hosts);
}

/// A fire missed while no host ran: the `catch_up` schedule fires it once
/// when a host starts, the other skips it. The stored next fire is moved ten
/// minutes into the past, as if every host had been down since; both
/// expressions fire next on 1 January, so no regular fire follows.
#[tokio::test(flavor = "multi_thread")]
async fn a_missed_fire_runs_once_on_start_with_catch_up_and_is_skipped_without() {
    let redis = RedisServer::start();
    let client = client(&redis.url()).await;
    for (name, task_type, catch_up) in [("late", "noop", true), ("lost", "echo", false)] {
        client
            .schedule_add(&schedule(name, "0 0 1 1 *", task_type, catch_up))
            .await
            .unwrap()
            .expect("the name is free");
    }
    let keys = client.schedule_keys().unwrap();
    let missed = client.schedule_clock_ms() - 10 * 60_000;
    for name in ["late", "lost"] {
        redis.cli(&["ZADD", &keys.next, &missed.to_string(), name]);
    }

    let plugins = PluginsDir::with(&[("noop", "noop"), ("echo", "echo")]);
    let host = HostProcess::start(&redis.url(), plugins.path(), &[]);
    eventually("both missed fires claimed", LONG, || async {
        let late = info(&client, "late").await;
        let lost = info(&client, "lost").await;
        (late.next_fire_ms > Some(missed) && lost.next_fire_ms > Some(missed)).then_some(())
    })
    .await;

    let late = info(&client, "late").await;
    assert_eq!(
        (late.fires, late.last_fire_ms),
        (1, Some(missed)),
        "{late:?}"
    );
    let t = settled(&client, &["noop"], 1, LONG).await;
    assert_eq!(t.completed, 1, "the missed fire ran once: {t:?}");

    let lost = info(&client, "lost").await;
    assert_eq!(
        (lost.fires, lost.last_task.as_deref()),
        (0, None),
        "{lost:?}"
    );
    let t = totals(&client, &["echo"]).await;
    assert_eq!(
        (t.settled(), t.waiting()),
        (0, 0),
        "the skipped fire enqueued nothing"
    );
    drop(host);
}

/// A host that dies between enqueueing a fire and claiming it leaves the
/// claim to the next host, whose enqueue is deduplicated: the fire's task is
/// enqueued twice (the second time by its unique key) and exists once.
#[tokio::test(flavor = "multi_thread")]
async fn an_unclaimed_fire_is_claimed_by_the_next_host_without_a_second_task() {
    let redis = RedisServer::start();
    let client = client(&redis.url()).await;
    client
        .schedule_add(&schedule("half", "0 0 1 1 *", "noop", true))
        .await
        .unwrap()
        .expect("the name is free");
    let keys = client.schedule_keys().unwrap();
    let fire = client.schedule_clock_ms() - 5_000;
    redis.cli(&["ZADD", &keys.next, &fire.to_string(), "half"]);
    // What a host that died before its claim left behind: the fire's task.
    let spec = wasmq::task::TaskSpec::new("noop", b"{}".to_vec())
        .unique(format!("sched:half:{fire}"), wasmq::broker::FIRE_UNIQUE_TTL);
    let first = client.enqueue(spec).await.unwrap();

    let plugins = PluginsDir::with(&[("noop", "noop")]);
    let host = HostProcess::start(&redis.url(), plugins.path(), &[]);
    eventually("the fire claimed", LONG, || async {
        (info(&client, "half").await.fires == 1).then_some(())
    })
    .await;
    let half = info(&client, "half").await;
    assert_eq!(half.last_task, Some(first.to_string()), "{half:?}");
    let t = settled(&client, &["noop"], 1, LONG).await;
    assert_eq!(t.completed, 1, "{t:?}");
    drop(host);
}
