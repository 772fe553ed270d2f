//! Issue 12, flows end to end: parents enqueued with `wasmq enqueue
//! --after`, held until their dependencies settled and then run by real
//! `wasmq run` processes on a real redis-server. Ordering is checked from
//! the task records (started, finished), never from wall-clock waits.
//! (The waiting set and the resolver alone, racing and on the Cluster, are
//! in `broker_flows.rs`.)

use std::time::Duration;
use wasmq::task::{TaskId, TaskState};
use wasmq_tests::broker::client;
use wasmq_tests::cli::{enqueued_id, wasmq};
use wasmq_tests::host::{HostProcess, enqueue, json_tasks, results, settled, statuses, totals};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisServer;

const LONG: Duration = Duration::from_secs(600);

fn host(redis: &RedisServer, plugins: &PluginsDir) -> HostProcess {
    HostProcess::start(
        &redis.url(),
        plugins.path(),
        &["--concurrency", "4", "--maintenance-tick", "50ms"],
    )
}

/// `wasmq enqueue TYPE --after ID...`, returning the parent's id.
async fn after(url: &str, task_type: &str, deps: &[TaskId], policy: &str) -> TaskId {
    let mut args = vec!["enqueue", "--json", task_type, "--on-child-failure", policy];
    let deps: Vec<String> = deps.iter().map(ToString::to_string).collect();
    for dep in &deps {
        args.extend(["--after", dep]);
    }
    enqueued_id(&wasmq(url, &args).await.expect(0))
        .parse()
        .unwrap()
}

/// A fan-in parent over 100 children runs exactly once, after every child
/// finished, and is handed all 100 outcomes (`task.children`) in the order
/// listed; and B enqueued `--after A` starts no earlier than A finished.
#[tokio::test(flavor = "multi_thread")]
async fn fan_in_of_100_and_after_ordering() {
    let redis = RedisServer::start();
    let url = redis.url();
    let client = client(&url).await;
    let kids = enqueue(
        &client,
        json_tasks("echo", (0..100).map(|i| serde_json::json!(i))),
    )
    .await;
    let parent = after(&url, "report", &kids, "fail").await;
    let a: TaskId = enqueued_id(&wasmq(&url, &["enqueue", "--json", "echo"]).await.expect(0))
        .parse()
        .unwrap();
    let b = after(&url, "report", std::slice::from_ref(&a), "fail").await;
    let waiting = wasmq(&url, &["status", &b.to_string()]).await.expect(0);
    assert!(
        waiting.stdout.contains("state:        waiting"),
        "{}",
        waiting.stdout
    );
    assert!(
        waiting
            .stdout
            .contains(&format!("└─ {a}  pending (outstanding)")),
        "{}",
        waiting.stdout
    );

    let plugins = PluginsDir::with(&[("echo", "echo"), ("fanin", "report")]);
    let _host = host(&redis, &plugins);
    settled(&client, &["echo"], 101, LONG).await;
    let parents = settled(&client, &["report"], 2, LONG).await;
    assert_eq!(parents.completed, 2, "{parents:?}");

    let kids_done = results(&client, &kids).await;
    let last_kid = kids_done.iter().map(|r| r.finished_at_ms).max().unwrap();
    let done = results(&client, &[parent.clone(), b.clone(), a.clone()]).await;
    assert_eq!(done[0].attempts, 1, "the fan-in parent ran once");
    let report: serde_json::Value = serde_json::from_slice(&done[0].output).unwrap();
    let ids: Vec<String> = kids.iter().map(ToString::to_string).collect();
    assert_eq!(report["children"], 100, "{report}");
    assert_eq!(report["states"]["completed"], 100, "{report}");
    assert_eq!(report["ids"], serde_json::json!(ids), "in the order listed");
    assert_eq!(
        report["sum"],
        (0..100).sum::<i64>(),
        "every output: {report}"
    );
    assert!(
        done[0].started_at_ms.unwrap() >= last_kid,
        "{done:?} vs {last_kid}"
    );
    assert!(
        done[1].started_at_ms.unwrap() >= done[2].finished_at_ms,
        "{done:?}"
    );
    // Nothing runs it again later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(totals(&client, &["report"]).await.completed, 2);

    let tree = wasmq(&url, &["status", &parent.to_string()])
        .await
        .expect(0);
    assert!(
        tree.stdout
            .contains("flow:         0 of 100 dependencies outstanding"),
        "{}",
        tree.stdout
    );
    assert!(
        tree.stdout.contains(&format!("├─ {}  completed", kids[0])),
        "{}",
        tree.stdout
    );
    // --verbose adds the parent's own runs after its tree.
    let verbose = wasmq(&url, &["status", &parent.to_string(), "--verbose"])
        .await
        .expect(0);
    assert!(
        verbose.stdout.contains("dependencies outstanding")
            && (verbose.stdout.contains("WALL MS")
                || verbose.stdout.contains("no attempt recorded")),
        "{}",
        verbose.stdout
    );
}

/// A dead child buries a `fail` parent, naming the child, and lets a
/// `continue` parent run.
#[tokio::test(flavor = "multi_thread")]
async fn on_child_failure_fail_or_continue() {
    let redis = RedisServer::start();
    let url = redis.url();
    let client = client(&url).await;
    let ok = enqueue(&client, json_tasks("echo", [serde_json::json!({})])).await;
    let boom: TaskId = enqueued_id(
        &wasmq(&url, &["enqueue", "--json", "boom", "--max-retries", "0"])
            .await
            .expect(0),
    )
    .parse()
    .unwrap();
    let deps = [ok[0].clone(), boom.clone()];
    let fails = after(&url, "report", &deps, "fail").await;
    let goes_on = after(&url, "report", &deps, "continue").await;

    let plugins = PluginsDir::with(&[("echo", "echo"), ("panic", "boom"), ("fanin", "report")]);
    let _host = host(&redis, &plugins);
    settled(&client, &["echo", "boom"], 2, LONG).await;
    let parents = settled(&client, &["report"], 2, LONG).await;
    assert_eq!((parents.completed, parents.dead), (1, 1), "{parents:?}");
    let [dead, ran] =
        <[_; 2]>::try_from(statuses(&client, &[fails.clone(), goes_on]).await).unwrap();
    assert_eq!(dead.state, TaskState::Dead);
    assert_eq!(dead.dead_reason.as_deref(), Some("child-failed"));
    assert!(dead.last_error.unwrap().contains(&boom.to_string()));
    assert_eq!(ran.state, TaskState::Completed);
    let report = &results(&client, std::slice::from_ref(&ran.id)).await[0];
    let report: serde_json::Value = serde_json::from_slice(&report.output).unwrap();
    assert_eq!(report["states"]["dead"], 1, "{report}");
    assert_eq!(report["states"]["completed"], 1, "{report}");
    let error = report["errors"][boom.to_string()]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains("panic"),
        "the dead child's last error: {report}"
    );

    let tree = wasmq(&url, &["status", &fails.to_string()]).await.expect(0);
    assert!(
        tree.stdout.contains(&format!("{boom}  dead")),
        "{}",
        tree.stdout
    );
}

/// Bad `--after` input fails with exit code 2 and a message naming it, and
/// enqueues nothing.
#[tokio::test(flavor = "multi_thread")]
async fn bad_after_input_is_refused() {
    let redis = RedisServer::start();
    let url = redis.url();
    let unknown = wasmq(&url, &["enqueue", "report", "--after", "echo:nope"])
        .await
        .expect(2);
    assert!(
        unknown.stderr.contains("dependency echo:nope is unknown"),
        "{}",
        unknown.stderr
    );
    let many: Vec<String> = (0..10_001).map(|i| format!("echo:x{i}")).collect();
    let mut args = vec!["enqueue", "report"];
    for id in &many {
        args.extend(["--after", id]);
    }
    let too_many = wasmq(&url, &args).await.expect(2);
    assert!(
        too_many
            .stderr
            .contains("10001 dependencies; a flow waits for 1 to 10000"),
        "{}",
        too_many.stderr
    );
    let bad = wasmq(&url, &["enqueue", "report", "--after", "nocolon"])
        .await
        .expect(2);
    assert!(bad.stderr.contains("nocolon"), "{}", bad.stderr);
    let delayed = wasmq(
        &url,
        &["enqueue", "report", "--after", "echo:1", "--delay", "5s"],
    )
    .await
    .expect(2);
    assert!(delayed.stderr.contains("--delay"), "{}", delayed.stderr);
    assert_eq!(redis.cli(&["EXISTS", "wasmq:{report}:waiting"]).trim(), "0");
}

/// `wasmq status` shows a waiting parent as a task in state `waiting`, and
/// `wasmq cancel` cancels it for good: its dependency completing later
/// neither runs it nor changes its record.
#[tokio::test(flavor = "multi_thread")]
async fn cancel_a_waiting_parent() {
    let redis = RedisServer::start();
    let url = redis.url();
    let client = client(&url).await;
    let dep = enqueue(&client, json_tasks("echo", [serde_json::json!({})])).await;
    let parent = after(&url, "report", &dep, "fail").await;
    let waiting = wasmq(&url, &["status", &parent.to_string()])
        .await
        .expect(0);
    for line in [
        "state:        waiting",
        "priority:     normal",
        "outcome: waiting",
    ] {
        assert!(waiting.stdout.contains(line), "{line}: {}", waiting.stdout);
    }

    let cancel = wasmq(&url, &["cancel", &parent.to_string()])
        .await
        .expect(0);
    assert!(
        cancel.stdout.contains(&format!("cancelled: {parent}")),
        "{}",
        cancel.stdout
    );
    let leased = client.lease("echo", 1).await.unwrap();
    let done = [(leased[0].clone(), wasmq::broker::Completion::default())];
    client.ack_many(&done).await.unwrap();
    client.maintain_once(100).await.unwrap();
    assert!(client.lease("report", 10).await.unwrap().is_empty());
    let tree = wasmq(&url, &["status", &parent.to_string()])
        .await
        .expect(0);
    for line in [
        "state:        cancelled",
        "outcome: cancelled",
        &format!("└─ {}  completed (outstanding)", dep[0]),
    ] {
        assert!(tree.stdout.contains(line), "{line}: {}", tree.stdout);
    }
    let again = wasmq(&url, &["cancel", &parent.to_string()])
        .await
        .expect(1);
    assert!(
        again.stderr.contains("already cancelled"),
        "{}",
        again.stderr
    );
}
