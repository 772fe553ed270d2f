//! Issue 16 in a real headless Chromium: the task browser and the task
//! detail, against a real host running the real `panic` plugin (whose
//! panic message is its log). The page opens a queue's dead tasks from
//! the queues table, opens a task, shows every attempt's cost and log,
//! retries it, and deletes pending tasks in bulk; the throughput chart is
//! fed by the live stream. Both views have addresses (`#/queues/<queue>/
//! <state>`, `#/tasks/<id>`) that open them on load and with the back
//! button, and a bad address says what is wrong in the page.
//!
//! The screenshot is kept as `target/test-artifacts/dashboard-task.png`;
//! with `WASMQ_UPDATE_DOCS=1` it is also written to `docs/dashboard.png`,
//! the picture in the README.

use std::time::Duration;
use wasmq::task::{TaskId, TaskSpec, TaskState};
use wasmq_tests::api::Api;
use wasmq_tests::browser::{Browser, artifact, chromium_path, click, exists, text};
use wasmq_tests::host::{HostProcess, eventually};
use wasmq_tests::plugins::workspace_root;
use wasmq_tests::plugins_dir::PluginsDir;

/// How long the page or the host may take to show a change.
const SHOWS_UP: Duration = Duration::from_secs(60);

/// Enqueues `n` tasks of the `panic` plugin with `retries` and waits until
/// each is dead.
async fn dead_tasks(api: &Api, n: usize, retries: u32) -> Vec<TaskId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let spec = TaskSpec::new("panic", format!("{{\"n\":{i}}}")).max_retries(retries);
        ids.push(api.client.enqueue(spec).await.unwrap());
    }
    for id in &ids {
        eventually("the task to die", SHOWS_UP, || async {
            let s = api.client.status(id).await.unwrap()?;
            (s.state == TaskState::Dead).then_some(())
        })
        .await;
    }
    ids
}

/// Whether the element with id `id` is shown, as a JS expression.
fn shown(id: &str) -> String {
    format!("!document.getElementById({id:?}).hidden")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_a_task_see_its_cost_and_log_and_retry_it() {
    chromium_path().expect("install chromium");
    let api = Api::start(None, None).await;
    let plugins = PluginsDir::with(&[("panic", "panic")]);
    let _host = HostProcess::start(&api.redis.url(), plugins.path(), &[]);
    let crashing = dead_tasks(&api, 1, 1).await.remove(0);
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

    // Open it (its address changes): both attempts with their cost, and
    // their logs.
    click(&mut browser, &format!("[data-testid='open-{crashing}']")).await;
    browser
        .wait_for(&exists("[data-testid='attempt-2']"), SHOWS_UP)
        .await
        .unwrap();
    assert_eq!(
        browser.evaluate("location.hash").await.unwrap(),
        format!("#/tasks/{crashing}")
    );
    let wall = text(&mut browser, "[data-testid='attempt-1-wall']").await;
    assert!(wall.parse::<u64>().is_ok(), "wall time {wall:?}");
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

    // The cost panel: the plugin version that ran it, with p50 / p95 / p99.
    let runs = api.client.task_runs(&crashing).await.unwrap();
    let version = runs.attempts[0].plugin_version.clone().expect("a version");
    let cost_row = format!("[data-testid='cost-panic-{version}']");
    browser
        .wait_for(&exists(&cost_row), SHOWS_UP)
        .await
        .unwrap();
    let cost = text(&mut browser, &cost_row).await;
    assert!(
        cost.starts_with(&format!("panic{version}2")) && cost.matches(" ms / ").count() == 2,
        "two runs, wall time p50 / p95 / p99: {cost:?}"
    );

    browser
        .evaluate("document.getElementById('detail-card').scrollIntoView()")
        .await
        .unwrap();
    let shot = artifact("dashboard-task.png");
    browser.screenshot(&shot).await.unwrap();
    if std::env::var_os("WASMQ_UPDATE_DOCS").is_some_and(|v| v == "1") {
        let docs = workspace_root().join("docs").join("dashboard.png");
        std::fs::copy(&shot, &docs).unwrap();
        println!("README picture refreshed: {}", docs.display());
    }

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
    browser.assert_no_page_errors();
    println!("screenshot in {}", artifact("dashboard-task.png").display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_have_addresses_and_retry_all_asks_twice() {
    chromium_path().expect("install chromium");
    let api = Api::start(None, None).await;
    let plugins = PluginsDir::with(&[("panic", "panic")]);
    let _host = HostProcess::start(&api.redis.url(), plugins.path(), &[]);
    let dead = dead_tasks(&api, 2, 0).await;
    let (first, second) = (&dead[0], &dead[1]);
    let mut browser = Browser::launch().await.expect("launch chromium");
    browser.set_viewport(1280, 1000, false).await.unwrap();

    // A task's address, loaded directly, opens its detail alone.
    browser
        .navigate(&api.url(&format!("/#/tasks/{first}")))
        .await
        .unwrap();
    browser
        .wait_for(&exists("[data-testid='attempt-1']"), SHOWS_UP)
        .await
        .unwrap();
    assert_eq!(text(&mut browser, "#detail-title").await, first.to_string());
    assert_eq!(
        text(&mut browser, "[data-testid='detail-state']").await,
        "dead"
    );
    assert_eq!(browser.evaluate(&shown("tasks-card")).await.unwrap(), false);

    // Going to the queue's dead tasks shows both rows; back shows the task.
    browser
        .evaluate("location.hash = '#/queues/panic/dead'")
        .await
        .unwrap();
    let rows = "document.querySelectorAll('#tasks-table .pick').length === 2";
    browser.wait_for(rows, SHOWS_UP).await.unwrap();
    assert_eq!(
        browser.evaluate(&shown("detail-card")).await.unwrap(),
        false
    );
    assert_eq!(text(&mut browser, "#tasks-title").await, "panic · dead");
    browser.evaluate("history.back()").await.unwrap();
    browser
        .wait_for(
            &format!(
                "{} && !{} && document.getElementById('detail-title').textContent === '{first}'",
                shown("detail-card"),
                shown("tasks-card")
            ),
            SHOWS_UP,
        )
        .await
        .unwrap();

    // Bad addresses say in the page what is wrong, and how to fix it.
    for (hash, element, says) in [
        (
            "#/queues/panic/bogus",
            "#route-error",
            "use one of pending, scheduled",
        ),
        (
            "#/tasks/nonsense",
            "#route-error",
            "a task id is <queue>:<id>",
        ),
        (
            "#/somewhere/else",
            "#route-error",
            "There is no page at #/somewhere/else",
        ),
        (
            "#/queues/nosuch/dead",
            "#tasks-error",
            "There is no queue \"nosuch\"",
        ),
        (
            "#/queues/Bad%20Name/dead",
            "#tasks-error",
            "path parameter `queue`",
        ),
        (
            "#/tasks/panic:nosuch",
            "[data-testid='detail-problem']",
            "no task panic:nosuch",
        ),
    ] {
        browser
            .evaluate(&format!("location.hash = {hash:?}"))
            .await
            .unwrap();
        let check = format!(
            "document.querySelector({element:?})?.offsetParent !== null && \
             (document.querySelector({element:?}).textContent || '').includes({says:?})"
        );
        browser
            .wait_for(&check, SHOWS_UP)
            .await
            .unwrap_or_else(|e| panic!("{hash}: {e}"));
    }

    // A reload of a queue's address shows its rows; "retry all" asks for a
    // second click, then re-drives every dead task.
    browser.navigate("about:blank").await.unwrap();
    browser
        .navigate(&api.url("/#/queues/panic/dead"))
        .await
        .unwrap();
    browser.wait_for(rows, SHOWS_UP).await.unwrap();
    assert_eq!(
        browser.evaluate(&shown("route-error")).await.unwrap(),
        false
    );
    assert!(
        browser
            .evaluate(&exists(&format!("[data-testid='task-row-{second}']")))
            .await
            .unwrap()
            .as_bool()
            .unwrap()
    );
    click(&mut browser, "[data-testid='all-retry']").await;
    assert_eq!(
        text(&mut browser, "[data-testid='all-retry']").await,
        "click again: retry ALL dead"
    );
    assert_eq!(
        api.client
            .queue_stats("panic")
            .await
            .unwrap()
            .counters
            .redriven,
        0
    );
    click(&mut browser, "[data-testid='all-retry']").await;
    browser
        .wait_for(
            "(document.getElementById('message').textContent || '').includes('retry all dead tasks of panic: 2 done')",
            SHOWS_UP,
        )
        .await
        .unwrap();
    eventually("both tasks re-driven", SHOWS_UP, || async {
        let stats = api.client.queue_stats("panic").await.unwrap();
        (stats.counters.redriven == 2).then_some(())
    })
    .await;
    assert_eq!(
        text(&mut browser, "[data-testid='all-retry']").await,
        "retry all dead",
        "the button is disarmed after the action"
    );
    browser.assert_no_page_errors();
}

/// A running task's detail shows the progress its plugin reported, while
/// it runs (the `sleeper` plugin reports before it sleeps).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_task_shows_its_progress() {
    chromium_path().expect("install chromium");
    let api = Api::start(None, None).await;
    let plugins = PluginsDir::with(&[("sleeper", "sleeper")]);
    let _host = HostProcess::start(&api.redis.url(), plugins.path(), &[]);
    let spec = TaskSpec::new("sleeper", r#"{"ms":600000}"#).max_retries(0);
    let id = api.client.enqueue(spec).await.unwrap();
    api.until_state(&id, TaskState::Active).await;

    let mut browser = Browser::launch().await.expect("launch chromium");
    browser
        .navigate(&api.url(&format!("/#/tasks/{id}")))
        .await
        .unwrap();
    let progress = "[data-testid='detail-progress']";
    browser.wait_for(&exists(progress), SHOWS_UP).await.unwrap();
    assert_eq!(text(&mut browser, progress).await, "0% sleeping 600000 ms");
    assert_eq!(
        text(&mut browser, "[data-testid='detail-state']").await,
        "active"
    );
    // Cancelled from its page, the page follows it to its end.
    click(&mut browser, "[data-testid='detail-cancel']").await;
    browser
        .wait_for(
            "document.querySelector(\"[data-testid='detail-state']\")?.textContent === 'cancelled'",
            SHOWS_UP,
        )
        .await
        .unwrap();
    browser.assert_no_page_errors();
    api.stop().await;
}
