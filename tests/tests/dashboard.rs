//! The dashboard in a real headless Chromium, against the real server, a
//! real `redis-server` and real plugins.
//!
//! The browser is driven over the DevTools protocol (`wasmq_tests::browser`).
//! Without Chromium this test fails with "install chromium": a dashboard test
//! that passes without a browser would prove nothing.
//!
//! Screenshots are kept as `target/test-artifacts/dashboard-overview.png`
//! and `dashboard-narrow.png` (the README's picture is made by
//! `dashboard_tasks.rs`).

use std::time::Duration;
use wasmq::broker::HostInfo;
use wasmq::config::Limits;
use wasmq::plugins::{PluginDir, Registry};
use wasmq::runtime::{Runtime, RuntimeOptions};
use wasmq::task::TaskState;
use wasmq_tests::api::{Api, TOKEN};
use wasmq_tests::browser::{Browser, artifact, chromium_path, click, exists, text};

/// How long the page may take to show a change (it polls every 1.5 s).
const SHOWS_UP: Duration = Duration::from_secs(15);

/// A registry with a working plugin and a broken file, so the plugins table
/// shows both a version and a load error.
async fn registry() -> (Registry, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    wasmq_tests::plugins::copy_plugin("echo", dir.path(), "echo");
    std::fs::write(dir.path().join("broken.wasm"), b"\0asm but not really").unwrap();
    let options = RuntimeOptions {
        disk_cache: false,
        max_instances: 4,
        ..RuntimeOptions::default()
    };
    let plugins = PluginDir::open(
        dir.path(),
        Runtime::new(options).unwrap(),
        Limits::default(),
    )
    .unwrap();
    let registry = Registry::new();
    plugins.scan(&registry).await.unwrap();
    (registry, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_headless_chromium() {
    chromium_path().expect("install chromium");
    let (registry, _plugins_dir) = registry().await;
    let api = Api::start(Some(TOKEN), Some(registry)).await;
    let host = HostInfo {
        host_id: "3f2a9c1e-host".into(),
        hostname: "worker-1".into(),
        pid: 4242,
        version: "0.1.0".into(),
        started_at_ms: 1,
        plugins: vec!["echo@abcdef012345".into()],
        in_flight: 1,
        processed: 12,
        last_seen_ms: 0,
    };
    api.client
        .heartbeat(&host, Duration::from_secs(60))
        .await
        .unwrap();

    let started = std::time::Instant::now();
    let mut browser = Browser::launch().await.expect("launch headless Chromium");
    println!("Chromium started in {:?}", started.elapsed());
    browser.set_viewport(1280, 900, false).await.unwrap();
    browser.navigate(&format!("{}/", api.base)).await.unwrap();
    browser
        .wait_for(
            "Number(document.body.dataset.refreshes || 0) >= 1",
            SHOWS_UP,
        )
        .await
        .unwrap();
    assert_eq!(text(&mut browser, "#status").await, "ready");
    let token_form_shown = browser
        .evaluate("!document.getElementById('token-form').hidden")
        .await
        .unwrap();
    assert_eq!(
        token_form_shown,
        serde_json::json!(true),
        "the server needs a token"
    );
    browser
        .wait_for(&exists("tr[data-host-id='3f2a9c1e-host']"), SHOWS_UP)
        .await
        .unwrap();
    browser
        .wait_for(&exists("tr[data-plugin='echo']"), SHOWS_UP)
        .await
        .unwrap();
    assert!(
        text(&mut browser, "#plugins-table")
            .await
            .contains("broken"),
        "the broken plugin and its error are listed"
    );

    // A task of a new queue: its row appears with the pending count.
    let first = api.enqueue("dash-new", 3).await;
    let row = "tr[data-queue='dash-new']";
    browser.wait_for(&exists(row), SHOWS_UP).await.unwrap();
    assert!(
        text(&mut browser, row).await.starts_with("dash-new1"),
        "{}",
        text(&mut browser, row).await
    );

    // A dead task, whose error is shown as text, never as markup.
    api.enqueue("dash-dead", 0).await;
    let dead = api.kill_next("dash-dead", "boom: <b>not markup</b>").await;
    let dead_row = format!("tr[data-task-id='{dead}']");
    browser
        .wait_for(&exists(&dead_row), SHOWS_UP)
        .await
        .unwrap();
    assert!(
        text(&mut browser, &dead_row)
            .await
            .contains("<b>not markup</b>")
    );
    assert!(
        !browser
            .evaluate(&exists(&format!("{dead_row} b")))
            .await
            .unwrap()
            .as_bool()
            .unwrap()
    );
    browser
        .screenshot(&artifact("dashboard-overview.png"))
        .await
        .unwrap();

    // Without the token, retry is refused and says why.
    let retry = format!("[data-testid='retry-{dead}']");
    click(&mut browser, &retry).await;
    browser
        .wait_for(
            "document.getElementById('message').textContent.includes('token')",
            SHOWS_UP,
        )
        .await
        .unwrap();
    let status = api.client.status(&dead).await.unwrap().unwrap();
    assert_eq!(status.state, TaskState::Dead, "a 401 changed nothing");

    // With the token entered, retry re-drives the task and its row leaves.
    browser
        .evaluate(&format!(
            "document.getElementById('token-input').value = {TOKEN:?}; \
             document.getElementById('token-form').requestSubmit(); true"
        ))
        .await
        .unwrap();
    let stored = browser
        .evaluate("sessionStorage.getItem('wasmq.token')")
        .await
        .unwrap();
    assert_eq!(stored.as_str(), Some(TOKEN));
    click(&mut browser, &retry).await;
    browser
        .wait_for(&format!("!({})", exists(&dead_row)), SHOWS_UP)
        .await
        .unwrap();
    let status = api.client.status(&dead).await.unwrap().unwrap();
    assert_eq!(status.state, TaskState::Pending);

    // Pause from the page.
    click(&mut browser, "[data-testid='pause-dash-new']").await;
    browser
        .wait_for(&exists("[data-testid='paused-dash-new']"), SHOWS_UP)
        .await
        .unwrap();
    assert!(api.client.is_paused("dash-new").await.unwrap());
    click(&mut browser, "[data-testid='resume-dash-new']").await;
    browser
        .wait_for(&exists("[data-testid='pause-dash-new']"), SHOWS_UP)
        .await
        .unwrap();

    // A completed task shows in the throughput totals and in a lookup.
    assert_eq!(api.complete_next("dash-new", r#"{"ok":1}"#).await, first);
    browser
        .wait_for(
            "document.getElementById('total-completed').textContent === '1'",
            SHOWS_UP,
        )
        .await
        .unwrap();
    browser
        .evaluate(&format!(
            "document.getElementById('lookup-input').value = '{first}'; \
             document.getElementById('lookup-form').requestSubmit(); true"
        ))
        .await
        .unwrap();
    browser
        .wait_for(
            "document.getElementById('lookup-result').textContent.includes('\"ok\": 1')",
            SHOWS_UP,
        )
        .await
        .unwrap();
    // The lookup links to the task's page.
    click(&mut browser, "[data-testid='lookup-open']").await;
    browser
        .wait_for(
            &format!("location.hash === '#/tasks/{first}' && document.querySelector(\"[data-testid='detail-state']\")?.textContent === 'completed'"),
            SHOWS_UP,
        )
        .await
        .unwrap();

    // A phone-sized window: no sideways scrolling of the page; the tables
    // still render (and scroll inside their cards if they must).
    browser.set_viewport(375, 812, true).await.unwrap();
    browser
        .wait_for("window.innerWidth === 375", SHOWS_UP)
        .await
        .unwrap();
    let layout = browser
        .evaluate(
            "(() => { const t = document.getElementById('queues-table'); \
             const wrap = t.parentElement.getBoundingClientRect(); \
             return { page: document.documentElement.scrollWidth, wrap: wrap.width, \
                      rows: t.tBodies[0].rows.length, height: t.offsetHeight, \
                      columns: getComputedStyle(document.querySelector('.grid')) \
                        .gridTemplateColumns.split(' ').length }; })()",
        )
        .await
        .unwrap();
    println!("narrow layout: {layout}");
    assert!(layout["page"].as_f64().unwrap() <= 375.0, "{layout}");
    assert!(layout["wrap"].as_f64().unwrap() <= 375.0, "{layout}");
    assert!(layout["rows"].as_u64().unwrap() >= 2, "{layout}");
    assert!(layout["height"].as_f64().unwrap() > 0.0, "{layout}");
    assert_eq!(layout["columns"], 1, "{layout}");
    browser
        .screenshot(&artifact("dashboard-narrow.png"))
        .await
        .unwrap();

    browser.assert_no_page_errors();
    println!("screenshots in {}", artifact("").display());
    drop(browser);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_asks_for_the_token_when_reads_are_protected() {
    chromium_path().expect("install chromium");
    let api = Api::start_with(Some(TOKEN), None, |state| {
        state.protect_reads(true).expect("a token is set")
    })
    .await;
    api.enqueue("guarded", 3).await;
    let mut browser = Browser::launch().await.expect("launch headless Chromium");
    browser.navigate(&format!("{}/", api.base)).await.unwrap();
    browser
        .wait_for(
            "Number(document.body.dataset.refreshes || 0) >= 1",
            SHOWS_UP,
        )
        .await
        .unwrap();
    let row = "tr[data-queue='guarded']";
    let before = browser
        .evaluate(&format!(
            "[!document.getElementById('token-form').hidden, {}]",
            exists(row)
        ))
        .await
        .unwrap();
    assert_eq!(
        before,
        serde_json::json!([true, false]),
        "the token form shows and no queue data does"
    );
    // Without the token the live chart's stream is refused: it is polled.
    browser
        .wait_for("document.body.dataset.throughput === 'polled'", SHOWS_UP)
        .await
        .unwrap();

    browser
        .evaluate(&format!(
            "document.getElementById('token-input').value = {TOKEN:?}; \
             document.getElementById('token-form').requestSubmit(); true"
        ))
        .await
        .unwrap();
    browser.wait_for(&exists(row), SHOWS_UP).await.unwrap();
    // With it, the stream opens (it sends the token, which EventSource
    // could not) and the chart is live.
    browser
        .wait_for("document.body.dataset.throughput === 'live'", SHOWS_UP)
        .await
        .unwrap();
    click(&mut browser, "[data-testid='pause-guarded']").await;
    browser
        .wait_for(&exists("[data-testid='paused-guarded']"), SHOWS_UP)
        .await
        .unwrap();
    assert!(api.client.is_paused("guarded").await.unwrap());
    drop(browser);
    api.stop().await;
}

/// The schedules panel lists each schedule with its next fire, and its
/// pause button pauses it through the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_lists_schedules_with_their_next_fire() {
    use wasmq::schedule::{Schedule, ScheduleDef};
    chromium_path().expect("install chromium");
    let api = Api::start(None, None).await;
    let def = ScheduleDef {
        name: "nightly".into(),
        cron: "0 3 * * *".into(),
        tz: Some("Europe/Berlin".into()),
        task_type: "report".into(),
        payload: Vec::new(),
        catch_up: false,
    };
    let next = api
        .client
        .schedule_add(&Schedule::new(def, 1024).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut browser = Browser::launch().await.expect("launch headless Chromium");
    browser.navigate(&format!("{}/", api.base)).await.unwrap();
    browser
        .wait_for(&exists("tr[data-testid='schedule-nightly']"), SHOWS_UP)
        .await
        .unwrap();
    let shown = browser
        .evaluate("document.querySelector(\"[data-testid='next-fire-nightly']\").dataset.ms")
        .await
        .unwrap();
    assert_eq!(shown, serde_json::json!(next.to_string()));
    click(&mut browser, "[data-testid='pause-schedule-nightly']").await;
    browser
        .wait_for(&exists("[data-testid='resume-schedule-nightly']"), SHOWS_UP)
        .await
        .unwrap();
    let listed = api.client.schedules().await.unwrap();
    assert!(listed[0].paused, "{listed:?}");
    browser.assert_no_page_errors();
    drop(browser);
    api.stop().await;
}
