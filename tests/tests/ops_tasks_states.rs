//! Issue 16, the task browser's other states and commands: scheduled and
//! active tasks are listed, `wasmq tasks promote` and `wasmq tasks retry`
//! make scheduled tasks run now, and a cancel of a selection skips a task
//! that is no longer in the selected state (as every other action does).
//! A running task's progress is kept while it runs.
//! A real host runs the real `sleeper` and `echo` plugins.

use std::time::Duration;
use wasmq::task::{TaskId, TaskSpec, TaskState};
use wasmq_tests::api::{Api, page_ids};
use wasmq_tests::cli::wasmq;
use wasmq_tests::host::{HostProcess, eventually};
use wasmq_tests::plugins_dir::PluginsDir;

const SETTLES: Duration = Duration::from_secs(60);

/// Enqueues an `echo` task due in an hour.
async fn scheduled(api: &Api, n: u32) -> TaskId {
    let spec = TaskSpec::new("echo", format!("{{\"n\":{n}}}")).delay(Duration::from_secs(3600));
    api.client.enqueue(spec).await.expect("enqueue")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_and_active_tasks_are_listed_promoted_and_cancelled() {
    let api = Api::start(None, None).await;
    let plugins = PluginsDir::with(&[("echo", "echo"), ("sleeper", "sleeper")]);
    let _host = HostProcess::start(&api.redis.url(), plugins.path(), &[]);
    let url = api.redis.url();

    // Scheduled: listed with when each is due, soonest first.
    let first = scheduled(&api, 1).await;
    let second = scheduled(&api, 2).await;
    let third = scheduled(&api, 3).await;
    let (status, page) = api.get("/api/v1/queues/echo/tasks?state=scheduled").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page_ids(&page),
        [first.to_string(), second.to_string(), third.to_string()]
    );
    assert!(page["tasks"][0]["at_ms"].is_u64(), "{page}");
    let run = wasmq(&url, &["tasks", "list", "echo", "--state", "scheduled"])
        .await
        .expect(0);
    assert!(run.stdout.contains(&second.to_string()), "{}", run.stdout);

    // `tasks promote` one by id, then `tasks retry` the rest of the state.
    let run = wasmq(
        &url,
        &[
            "tasks",
            "promote",
            "echo",
            "--state",
            "scheduled",
            "--id",
            &first.to_string(),
        ],
    )
    .await
    .expect(0);
    assert!(run.stdout.contains("1 task(s) done"), "{}", run.stdout);
    api.until_state(&first, TaskState::Completed).await;
    assert_eq!(api.state_of(&second).await, TaskState::Scheduled);
    let run = wasmq(
        &url,
        &["tasks", "retry", "echo", "--state", "scheduled", "--all"],
    )
    .await
    .expect(0);
    assert!(run.stdout.contains("2 task(s) done"), "{}", run.stdout);
    api.until_state(&second, TaskState::Completed).await;
    api.until_state(&third, TaskState::Completed).await;

    // Active: a sleeping run is listed while it runs.
    let sleeping = api
        .client
        .enqueue(TaskSpec::new("sleeper", r#"{"ms":600000}"#).max_retries(0))
        .await
        .expect("enqueue");
    api.until_state(&sleeping, TaskState::Active).await;
    let (_, page) = api.get("/api/v1/queues/sleeper/tasks?state=active").await;
    assert_eq!(page_ids(&page), [sleeping.to_string()], "{page}");

    // Its progress is kept while it runs, not only once the attempt ends.
    let runs = format!("/api/v1/tasks/{sleeping}/runs");
    let progress = eventually("the running task's progress", SETTLES, || async {
        let (_, body) = api.get(&runs).await;
        let p = body["progress"].clone();
        (!p.is_null()).then_some(p)
    })
    .await;
    assert_eq!(
        (progress["percent"].as_u64(), progress["note"].as_str()),
        (Some(0), Some("sleeping 600000 ms")),
        "{progress}"
    );
    let run = wasmq(&url, &["status", &sleeping.to_string(), "--verbose"])
        .await
        .expect(0);
    assert!(
        run.stdout.contains("0% sleeping 600000 ms"),
        "{}",
        run.stdout
    );

    // A cancel of "pending" tasks skips it: it is active, not pending.
    let (status, body) = api
        .act(
            "sleeper",
            serde_json::json!({"action": "cancel", "state": "pending", "ids": [sleeping.to_string()]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["done"].as_u64(), body["skipped"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(api.state_of(&sleeping).await, TaskState::Active);

    // Cancelled as an active task, its host stops the run.
    let run = wasmq(
        &url,
        &[
            "tasks",
            "cancel",
            "sleeper",
            "--state",
            "active",
            "--id",
            &sleeping.to_string(),
        ],
    )
    .await
    .expect(0);
    assert!(run.stdout.contains("1 task(s) done"), "{}", run.stdout);
    api.until_state(&sleeping, TaskState::Cancelled).await;
    api.stop().await;
}
