//! Limits across hosts, as processes: three `wasmq run` hosts against one
//! real Redis. A rate limit holds the cluster of hosts to its rate; a global
//! concurrency cap is never exceeded (sampled from the active set); a
//! plugin's retry-after with `throttle_on_retry_after` pauses the queue on
//! every host; `wasmq queues limit` validates what it is given.

use std::time::Duration;
use wasmq::ratelimit::QueueLimits;
use wasmq::task::TaskSpec;
use wasmq_tests::broker::client;
use wasmq_tests::host::{HostProcess, enqueue, eventually, results, settled};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisServer;

const LONG: Duration = Duration::from_secs(300);

fn three_hosts(redis: &RedisServer, plugins: &PluginsDir, flags: &[&str]) -> Vec<HostProcess> {
    (0..3)
        .map(|_| HostProcess::start(&redis.url(), plugins.path(), flags))
        .collect()
}

fn stop(hosts: Vec<HostProcess>) {
    for mut host in hosts {
        host.terminate();
        let status = host.wait(LONG);
        assert!(status.success(), "{status}:\n{}", host.log());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_hosts_of_concurrency_8_are_held_to_50_per_second() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("noop", "noop")]);
    let client = client(&redis.url()).await;
    // Set through the CLI, as an operator would (burst: 100 ms worth, 5).
    wasmq_tests::cli::wasmq(&redis.url(), &["queues", "limit", "noop", "--rate", "50/s"])
        .await
        .expect(0);
    let hosts = three_hosts(&redis, &plugins, &["--concurrency", "8"]);
    // More than 20 s of work at 50/s, so the queue never runs dry.
    let n = 1300;
    let ids = enqueue(
        &client,
        (0..n)
            .map(|i| TaskSpec::new("noop", i.to_string()))
            .collect(),
    )
    .await;
    let t = settled(&client, &["noop"], n as u64, LONG).await;
    assert_eq!((t.completed, t.dead), (n as u64, 0), "{t:?}");
    let mut starts: Vec<u64> = results(&client, &ids)
        .await
        .iter()
        .map(|r| r.started_at_ms.expect("start time"))
        .collect();
    starts.sort_unstable();
    // The rate over 20 s, from the lease times (Redis's clock), after the
    // first second (hosts starting up).
    let from = starts[0] + 1000;
    let window = 20_000;
    let in_window = starts
        .iter()
        .filter(|&&s| s >= from && s < from + window)
        .count();
    let rate = in_window as f64 / (window as f64 / 1000.0);
    // Lease delay: how long after a token was due the next lease came,
    // i.e. the gaps between consecutive starts (20 ms each at 50/s).
    let mut gaps: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    let p99 = gaps[gaps.len() * 99 / 100];
    println!("measured {rate:.1}/s over 20 s (limit 50/s); p99 gap between leases {p99} ms");
    assert!(
        (45.0..=55.0).contains(&rate),
        "{rate}/s is not within 10% of 50/s"
    );
    assert!(p99 <= 100, "p99 lease gap {p99} ms: hosts oversleep");
    let per_host: Vec<usize> = hosts.iter().map(|h| h.log().len()).collect();
    assert!(per_host.iter().all(|&l| l > 0));
    stop(hosts);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_global_cap_of_5_holds_across_3_hosts() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("sleep200", "sleep200")]);
    let client = client(&redis.url()).await;
    let cap = QueueLimits::from_parts(None, None, Some(5)).unwrap();
    client.set_limits("sleep200", &cap).await.unwrap();
    let hosts = three_hosts(&redis, &plugins, &["--concurrency", "8"]);
    let n = 60;
    enqueue(
        &client,
        (0..n)
            .map(|i| TaskSpec::new("sleep200", i.to_string()))
            .collect(),
    )
    .await;
    let raw = redis::Client::open(redis.url()).unwrap();
    let mut conn = raw.get_multiplexed_async_connection().await.unwrap();
    let (mut max, mut samples) = (0u64, 0u64);
    loop {
        let active: u64 = redis::cmd("ZCARD")
            .arg("wasmq:{sleep200}:active")
            .query_async(&mut conn)
            .await
            .unwrap();
        max = max.max(active);
        samples += 1;
        let s = client.queue_stats("sleep200").await.unwrap();
        if s.counters.completed >= n {
            break;
        }
        assert!(samples < 100_000, "did not finish");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("{samples} samples of the active set: at most {max} running (cap 5)");
    assert!(max <= 5, "the cap of 5 was exceeded: {max} running at once");
    assert_eq!(
        max, 5,
        "the cap should be reached with 24 slots over 3 hosts"
    );
    stop(hosts);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_with_throttle_on_retry_after_pauses_the_queue_on_every_host() {
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("email", "email")]);
    plugins.manifest(
        "email",
        "throttle_on_retry_after = true\nmax_retries = 0\n\
         [capabilities]\nhttp = [\"http://127.0.0.1:9\"]\n\
         [config]\nmail_api = \"http://127.0.0.1:9/v1/messages\"\n",
    );
    let client = client(&redis.url()).await;
    let hosts: Vec<HostProcess> = (0..2)
        .map(|_| HostProcess::start(&redis.url(), plugins.path(), &["--concurrency", "4"]))
        .collect();
    // One task fails with retry-after 3 s: the queue stops on both hosts.
    let payload = r#"{"to":"a@b.c","subject":"s","simulate":"transient","retry_after_ms":3000}"#;
    enqueue(&client, vec![TaskSpec::new("email", payload)]).await;
    let throttled = eventually("the queue to be throttled", LONG, || async {
        client.throttled_for("email").await.unwrap()
    })
    .await;
    assert!(throttled <= Duration::from_secs(3), "{throttled:?}");
    // Tasks enqueued now (malformed: they would die at once) wait it out.
    let bad = (0..10).map(|_| TaskSpec::new("email", "{}")).collect();
    enqueue(&client, bad).await;
    let mut held_back = 0;
    while client.throttled_for("email").await.unwrap() > Some(Duration::from_millis(200)) {
        let s = client.queue_stats("email").await.unwrap();
        assert_eq!(s.active, 0, "a host leased while the queue was throttled");
        assert_eq!(s.pending, 10, "{s:?}");
        held_back += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(held_back > 10, "the throttle was not watched long enough");
    let t = settled(&client, &["email"], 11, LONG).await;
    assert_eq!(t.dead, 11, "{t:?}");
    let log: String = hosts.iter().map(|h| h.log()).collect();
    assert!(log.contains("throttling the queue on every host"), "{log}");
    stop(hosts);
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_limits_are_validated_shown_and_cleared() {
    let redis = RedisServer::start();
    let url = redis.url();
    for (args, says) in [
        (vec!["--rate", "0/s"], "at least 1"),
        (vec!["--rate", "10"], "no unit"),
        (vec!["--rate", "10/d"], "unknown unit"),
        (vec!["--rate", "5000000/s"], "too large"),
        (vec!["--rate", "10/s", "--burst", "0"], "burst 0"),
        (vec!["--burst", "5"], "a burst needs a rate"),
        (vec!["--concurrency", "0"], "concurrency 0"),
    ] {
        let mut full = vec!["queues", "limit", "email"];
        full.extend(&args);
        let run = wasmq_tests::cli::wasmq(&url, &full).await.expect(2);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    let set = [
        "queues", "limit", "email", "--rate", "100/s", "--burst", "20",
    ];
    let run = wasmq_tests::cli::wasmq(&url, &set).await.expect(0);
    assert!(
        run.stdout.contains("rate 100/s, burst 20"),
        "{}",
        run.stdout
    );
    let run = wasmq_tests::cli::wasmq(&url, &["queues", "limit", "email", "--json"])
        .await
        .expect(0);
    let json = run.json();
    assert_eq!(
        (&json["rate"], &json["burst"]),
        (&"100/s".into(), &20.into())
    );
    let run = wasmq_tests::cli::wasmq(&url, &["queues", "limit", "email", "--clear"])
        .await
        .expect(0);
    assert!(
        run.stdout.contains("no limits set in Redis"),
        "{}",
        run.stdout
    );
}
