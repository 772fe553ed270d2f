//! Issue 13, encryption at rest: a real host runs the `echo` plugin on
//! payloads sealed by the producer (the Rust client, `wasmq enqueue` and
//! the HTTP API), seals the output, and `wasmq result`
//! opens it. A distinctive marker in the payload must appear nowhere in
//! what Redis holds (every key's `DUMP`, and an RDB written by `SAVE`),
//! while the same run without keys must show it there (so the search can
//! fail). A host with the wrong key, or none, buries the task as
//! `undecryptable`; `wasmq keys rotate` moves stored values to a new key so
//! the old one can be dropped.

use std::path::Path;
use std::time::Duration;
use wasmq::Client;
use wasmq::broker::BrokerOptions;
use wasmq::crypto::{Encryption, KeyRing};
use wasmq::task::{TaskSpec, TaskState};
use wasmq_tests::cli::wasmq;
use wasmq_tests::host::{HostProcess, eventually, settled, totals};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisServer;

const LONG: Duration = Duration::from_secs(600);
const MARKER: &str = "MARKER-9c1e5a7f-plaintext-that-must-never-reach-redis";
const K1: &str = "k1:MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";
const K2: &str = "k2:MjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjI=";
const K1_WRONG: &str = "k1:OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk=";

/// A key file holding `ring`, in `dir`.
fn key_file(dir: &Path, name: &str, ring: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("# test keys\n{}\n", ring.replace(',', "\n"))).unwrap();
    path.display().to_string()
}

async fn client_with(url: &str, ring: Option<&str>) -> Client {
    let opts = BrokerOptions {
        encryption: ring.map(|r| Encryption::new(KeyRing::parse(r).unwrap(), None)),
        ..BrokerOptions::default()
    };
    Client::connect(url, opts).await.unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Runs a marked task through a host (and leaves a second one scheduled
/// an hour ahead, at rest), with or without keys; returns what Redis holds.
async fn marked_run(encrypt: bool) -> (Vec<u8>, Vec<u8>) {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let keys = key_file(dir.path(), "keys", K1);
    let plugins = PluginsDir::with(&[("echo", "echo")]);
    let addr = format!("127.0.0.1:{}", wasmq_tests::redis::free_port());
    let mut extra = vec!["--http", addr.as_str()];
    if encrypt {
        extra.extend(["--keys-file", &keys]);
    }
    let mut host = HostProcess::start(&redis.url(), plugins.path(), &extra);
    host.wait_for_log("HTTP API and dashboard listening", LONG);
    let client = client_with(&redis.url(), encrypt.then_some(K1)).await;
    let payload = serde_json::json!({ "secret": MARKER }).to_string();
    let id = client
        .enqueue(TaskSpec::new("echo", payload.clone()))
        .await
        .unwrap();
    client
        .enqueue(TaskSpec::new("echo", payload.clone()).delay(Duration::from_secs(3600)))
        .await
        .unwrap();
    let mut args = vec!["enqueue", "echo", "--payload", &payload];
    if encrypt {
        args.extend(["--keys-file", &keys]);
    }
    wasmq(&redis.url(), &args).await.expect(0);
    // And one through the HTTP API, which the host's own client seals.
    let posted = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/tasks"))
        .header("X-Wasmq-Request", "1")
        .json(&serde_json::json!({ "type": "echo", "payload": { "secret": MARKER } }))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 201);
    // Three run; the delayed one stays scheduled.
    eventually("three tasks to complete", LONG, || async {
        let t = totals(&client, &["echo"]).await;
        (t.completed >= 3 && t.pending + t.active == 0).then_some(())
    })
    .await;
    host.terminate();
    host.wait(LONG);

    // The output reads back in clear with the key, and as `encrypted`
    // without one.
    let id = id.to_string();
    let with_key = if encrypt {
        wasmq(&redis.url(), &["result", &id, "--keys-file", &keys]).await
    } else {
        wasmq(&redis.url(), &["result", &id]).await
    };
    assert!(with_key.expect(0).stdout.contains(MARKER));
    let without = wasmq(&redis.url(), &["result", &id, "--json"])
        .await
        .expect(0);
    assert_eq!(without.json()["encrypted"], encrypt, "{}", without.stdout);
    assert_eq!(without.stdout.contains(MARKER), !encrypt);
    (redis.dump_all_keys(), redis.save_rdb())
}

#[tokio::test(flavor = "multi_thread")]
async fn sealed_payloads_and_outputs_leave_no_plaintext_in_redis() {
    let (dump, rdb) = marked_run(true).await;
    assert!(contains(&dump, "echo"), "the dump holds the queue's keys");
    assert!(!contains(&dump, MARKER), "the marker is in a DUMP");
    assert!(!contains(&rdb, MARKER), "the marker is in the RDB");
    assert!(
        contains(&rdb, "\x01wqe1:k1:"),
        "the RDB holds sealed values"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_keys_the_same_search_finds_the_marker() {
    let (dump, rdb) = marked_run(false).await;
    assert!(
        contains(&dump, MARKER),
        "the search cannot see plaintext in a DUMP"
    );
    assert!(
        contains(&rdb, MARKER),
        "the search cannot see plaintext in the RDB"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_or_missing_key_buries_the_task_as_undecryptable() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let wrong = key_file(dir.path(), "wrong", K1_WRONG);
    let plugins = PluginsDir::with(&[("echo", "echo")]);
    let producer = client_with(&redis.url(), Some(K1)).await;
    let spec = || TaskSpec::new("echo", format!("\"{MARKER}\"")).max_retries(5);

    let mut host = HostProcess::start(&redis.url(), plugins.path(), &["--keys-file", &wrong]);
    let a = producer.enqueue(spec()).await.unwrap();
    settled(&producer, &["echo"], 1, LONG).await;
    host.terminate();
    host.wait(LONG);
    let mut host = HostProcess::start(&redis.url(), plugins.path(), &[]);
    let b = producer.enqueue(spec()).await.unwrap();
    settled(&producer, &["echo"], 2, LONG).await;
    host.terminate();
    host.wait(LONG);

    for (id, why) in [(&a, "key `k1`"), (&b, "no keys are configured")] {
        let status = producer.status(id).await.unwrap().unwrap();
        assert_eq!(status.state, TaskState::Dead, "{id}");
        assert_eq!(status.dead_reason.as_deref(), Some("undecryptable"));
        assert_eq!(status.attempts, 1, "dead at once, not retried");
        let error = status.last_error.unwrap();
        assert!(error.contains(why), "{error}");
        assert!(!error.contains(&K1_WRONG[3..]) && !error.contains(&K1[3..]));
    }
    // The dead-letter listing names the reason and never shows the payload.
    let listing = wasmq(&redis.url(), &["dead", "list", "--queue", "echo", "--json"]).await;
    let listing = listing.expect(0).stdout;
    assert!(
        listing.contains("undecryptable") && !listing.contains(MARKER),
        "{listing}"
    );
}

async fn completed(client: &Client, n: u64) {
    eventually(&format!("{n} tasks to complete"), LONG, || async {
        let t = totals(client, &["echo"]).await;
        (t.completed >= n).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_moves_values_to_the_new_key_so_the_old_one_can_go() {
    let redis = RedisServer::start();
    let url = redis.url();
    let dir = tempfile::tempdir().unwrap();
    let old = key_file(dir.path(), "old", K1);
    let both = key_file(dir.path(), "both", &format!("{K2},{K1}"));
    let new = key_file(dir.path(), "new", K2);
    let plugins = PluginsDir::with(&[("echo", "echo")]);
    let producer = client_with(&url, Some(K1)).await;

    // One task completes under k1 (its output sealed with k1); another
    // waits, its body sealed with k1.
    let mut host = HostProcess::start(&url, plugins.path(), &["--keys-file", &old]);
    let a = producer
        .enqueue(TaskSpec::new("echo", "\"first\""))
        .await
        .unwrap();
    completed(&producer, 1).await;
    host.terminate();
    host.wait(LONG);
    let b = producer
        .enqueue(TaskSpec::new("echo", "\"second\""))
        .await
        .unwrap();

    let rotate = [
        "keys",
        "rotate",
        "--keys-file",
        &both,
        "--json",
        "--batch",
        "1",
    ];
    let first = wasmq(&url, &rotate).await.expect(0).json();
    assert_eq!(first["rewritten"], 2, "{first}");
    assert_eq!(first["unreadable"], 0, "{first}");
    let again = wasmq(&url, &rotate).await.expect(0).json();
    assert_eq!(
        again["rewritten"], 0,
        "a second pass finds nothing to do: {again}"
    );
    // A resume token is taken back (and the pass from there is a no-op).
    let token = "echo/wasmq:{echo}:t/0";
    let resume = [
        "keys",
        "rotate",
        "--keys-file",
        &both,
        "--json",
        "--resume",
        token,
    ];
    let resumed = wasmq(&url, &resume).await.expect(0).json();
    assert_eq!(resumed["rewritten"], 0, "{resumed}");

    // k1 leaves the ring: the waiting task still runs, both results read.
    let mut host = HostProcess::start(&url, plugins.path(), &["--keys-file", &new]);
    completed(&producer, 2).await;
    host.terminate();
    host.wait(LONG);
    for (id, want) in [(&a, "first"), (&b, "second")] {
        let out = wasmq(&url, &["result", &id.to_string(), "--keys-file", &new]).await;
        assert!(out.expect(0).stdout.contains(want));
    }
    let dump = redis.dump_all_keys();
    assert!(!contains(&dump, "\x01wqe1:k1:"), "a value still names k1");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_key_rings_are_refused_at_start_without_showing_a_key() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let short = key_file(dir.path(), "short", "k1:c2VjcmV0LWJ1dC1zaG9ydA==");
    let twice = key_file(dir.path(), "twice", &format!("{K1},{K1}"));
    for (file, why) in [(&short, "32 bytes"), (&twice, "twice")] {
        let args = ["enqueue", "echo", "--payload", "{}", "--keys-file", file];
        let run = wasmq(&redis.url(), &args).await.expect(2);
        assert!(run.stderr.contains(why), "{}", run.stderr);
        assert!(!run.stderr.contains("c2VjcmV0") && !run.stderr.contains(&K1[3..]));
    }
    // A clear payload that would read as sealed is refused too.
    let client = client_with(&redis.url(), None).await;
    let err = client
        .enqueue(TaskSpec::new(
            "echo",
            b"\x01wqe1:k1:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".to_vec(),
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("encrypted value"), "{err}");
}
