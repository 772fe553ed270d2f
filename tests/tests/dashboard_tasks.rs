//! Issue 16 in a real headless Chromium: the task browser and the task
//! detail, against a real host running the real `panic` plugin (whose
//! panic message is its log). The page opens a queue's dead tasks from
//! the queues table, opens a task, shows every attempt's cost and log,
//! retries it, and deletes pending tasks in bulk; the throughput chart is
//! fed by the live stream. The screenshot is kept under
//! `target/test-artifacts/dashboard-task.png` (the README's is a copy).

use std::time::Duration;
use wasmq::task::{TaskSpec, TaskState};
use wasmq_tests::api::Api;
use wasmq_tests::browser::{Browser, artifact, chromium_path, click, exists, text};
use wasmq_tests::host::{HostProcess, eventually};
use wasmq_tests::plugins_dir::PluginsDir;

/// How long the page or the host may take to show a change.
const SHOWS_UP: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_a_task_see_its_cost_and_log_and_retry_it() {
    chromium_path().expect("install chromium");
    let api = Api::start(None, None).await;
    let plugins = PluginsDir::with(&[("panic", "panic")]);
    let _host = HostProcess::start(&api.redis.url(), plugins.path(), &[]);
    let crashing = api
        .client
        .enqueue(TaskSpec::new("panic", "{}").max_retries(1))
        .await
        .unwrap();
    eventually("the task to die", SHOWS_UP, || async {
        let s = api.client.status(&crashing).await.unwrap()?;
        (s.state == TaskState::Dead).then_some(())
    })
    .await;
    for n in 0..3 {
        api.client
            .enqueue(TaskSpec::new("idle", format!("{{\"n\":{n}}}")))
            .await
            .unwrap();
    }

    let mut browser = Browser::launch().await.expect("launch chromium");
    browser.set_viewport(1280, 1000, false).await.unwrap();
    browser.navigate(&api.url("/")).await.unwrap();
    // The chart is live (Server-Sent Events), not polled.
    browser
        .wait_for("document.body.dataset.throughput === 'live'", SHOWS_UP)
        .await
        .unwrap();

    // The queue's dead count opens its dead tasks.
    let dead_count = "[data-testid='browse-panic-dead']";
    browser
        .wait_for(&exists(dead_count), SHOWS_UP)
        .await
        .unwrap();
    click(&mut browser, dead_count).await;
    let row = format!("[data-testid='task-row-{crashing}']");
    browser.wait_for(&exists(&row), SHOWS_UP).await.unwrap();
    let row_text = text(&mut browser, &row).await;
    assert!(
        row_text.contains("2/2") && row_text.contains("panicked on purpose"),
        "{row_text}"
    );

    // Open it: both attempts with their cost, and their logs.
    click(&mut browser, &format!("[data-testid='open-{crashing}']")).await;
    browser
        .wait_for(&exists("[data-testid='attempt-2']"), SHOWS_UP)
        .await
        .unwrap();
    assert_eq!(
        text(&mut browser, "[data-testid='detail-state']").await,
        "dead"
    );
    let fuel = text(&mut browser, "[data-testid='attempt-1-fuel']").await;
    assert!(
        fuel.chars().any(|c| c.is_ascii_digit()) && fuel != "0",
        "fuel {fuel:?}"
    );
    let memory = text(&mut browser, "[data-testid='attempt-1-memory']").await;
    assert!(
        memory.ends_with("KiB") || memory.ends_with("MiB"),
        "memory {memory:?}"
    );
    let log = text(&mut browser, "[data-testid='log-2']").await;
    assert!(log.contains("panicked on purpose"), "log {log:?}");
    browser
        .evaluate("document.getElementById('detail-card').scrollIntoView()")
        .await
        .unwrap();
    browser
        .screenshot(&artifact("dashboard-task.png"))
        .await
        .unwrap();

    // Retry it from the detail: it is re-driven, runs again and dies again.
    click(&mut browser, "[data-testid='detail-retry']").await;
    eventually("the re-driven task to run", SHOWS_UP, || async {
        let stats = api.client.queue_stats("panic").await.unwrap();
        (stats.counters.redriven == 1 && stats.dead == 1 && stats.counters.failed >= 4)
            .then_some(())
    })
    .await;
    click(&mut browser, "[data-testid='detail-reload']").await;
    browser
        .wait_for(&exists("[data-testid='log-1']"), SHOWS_UP)
        .await
        .unwrap();
    assert!(
        text(&mut browser, "#message").await.contains("retry"),
        "the action is reported"
    );

    // Bulk: every pending task of a queue, selected and deleted.
    click(&mut browser, "[data-testid='browse-idle-pending']").await;
    browser
        .wait_for(
            "document.querySelectorAll('#tasks-table .pick').length === 3",
            SHOWS_UP,
        )
        .await
        .unwrap();
    click(&mut browser, "#tasks-all").await;
    click(&mut browser, "[data-testid='bulk-delete']").await;
    browser
        .wait_for(
            "document.querySelectorAll('#tasks-table .pick').length === 0",
            SHOWS_UP,
        )
        .await
        .unwrap();
    assert_eq!(api.client.queue_stats("idle").await.unwrap().pending, 0);
    assert!(
        browser.page_errors().is_empty(),
        "{:?}",
        browser.page_errors()
    );
    println!("screenshot in {}", artifact("dashboard-task.png").display());
}
