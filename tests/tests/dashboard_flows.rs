//! The dashboard's flow tree in a real headless Chromium, against the real
//! server and a real `redis-server`: a flow parent typed into the lookup box
//! opens as a tree of its dependencies with their states, a nested flow
//! opens on click, and the tree follows the dependencies as they finish.
//!
//! The tasks are leased and acked through the broker API, so each step lands
//! where the test needs it. Without Chromium this test fails with "install
//! chromium". The screenshot is kept as `target/test-artifacts/dashboard-flow.png`.

use std::time::Duration;
use wasmq::broker::{ChildFailure, FlowSpec};
use wasmq::task::{TaskId, TaskSpec};
use wasmq_tests::api::Api;
use wasmq_tests::browser::{Browser, chromium_path, exists, text};

/// How long the page may take to show a change (it polls every 1.5 s).
const SHOWS_UP: Duration = Duration::from_secs(15);

/// The `li` of dependency `id` shown with `state`, anywhere in the tree.
fn dep(id: &TaskId, state: &str) -> String {
    format!("#flow-tree [data-testid='flow-dep-{id}'][data-state='{state}']")
}

async fn look_up(browser: &mut Browser, id: &str) {
    browser
        .evaluate(&format!(
            "document.getElementById('lookup-input').value = {id:?}; \
             document.getElementById('lookup-form').requestSubmit(); true"
        ))
        .await
        .unwrap();
}

async fn enqueue_flow(api: &Api, queue: &str, after: Vec<TaskId>) -> TaskId {
    api.client
        .enqueue_flow(FlowSpec {
            parent: TaskSpec::new(queue, b"{}".to_vec()),
            after,
            on_child_failure: ChildFailure::Fail,
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_a_flow_as_a_tree() {
    chromium_path().expect("install chromium");
    let api = Api::start(None, None).await;
    // report waits for kid 1, kid 2 and a nested flow (inner, waiting for kid 3).
    let kids = [
        api.enqueue("kid", 0).await,
        api.enqueue("kid", 0).await,
        api.enqueue("kid", 0).await,
    ];
    let inner = enqueue_flow(&api, "inner", vec![kids[2].clone()]).await;
    let outer = enqueue_flow(
        &api,
        "report",
        vec![kids[0].clone(), kids[1].clone(), inner.clone()],
    )
    .await;

    let mut browser = Browser::launch().await.expect("launch headless Chromium");
    browser.set_viewport(1280, 900, false).await.unwrap();
    browser.navigate(&format!("{}/", api.base)).await.unwrap();
    // The queue table counts the waiting parent (column 4: Waiting).
    browser
        .wait_for(
            "document.querySelector(\"tr[data-queue='report']\")?.cells[3]?.textContent === '1'",
            SHOWS_UP,
        )
        .await
        .unwrap();

    look_up(&mut browser, &outer.to_string()).await;
    for kid in &kids[..2] {
        browser
            .wait_for(&exists(&dep(kid, "pending")), SHOWS_UP)
            .await
            .unwrap();
    }
    browser
        .wait_for(&exists(&dep(&inner, "waiting")), SHOWS_UP)
        .await
        .unwrap();
    let head = format!("[data-testid='flow-{outer}']");
    let summary = text(&mut browser, &head).await;
    assert!(summary.contains("waiting"), "{summary}");
    assert!(summary.contains("3 of 3 outstanding"), "{summary}");
    assert!(summary.contains("on child failure: fail"), "{summary}");
    assert!(
        !browser
            .evaluate(&exists(&dep(&kids[2], "pending")))
            .await
            .unwrap()
            .as_bool()
            .unwrap(),
        "a nested flow stays closed until clicked"
    );

    // The nested flow opens on click, under its dependency line.
    let toggle = format!("[data-testid='flow-toggle-{inner}']");
    browser
        .evaluate(&format!("document.querySelector({toggle:?}).click(); true"))
        .await
        .unwrap();
    let nested = format!(
        "[data-testid='flow-dep-{inner}'] [data-testid='flow-dep-{}'][data-state='pending']",
        kids[2]
    );
    browser.wait_for(&exists(&nested), SHOWS_UP).await.unwrap();

    // The dependencies finish: inner is released and runs, then report is
    // released; the open tree follows without another lookup.
    for _ in 0..3 {
        api.complete_next("kid", "{}").await;
    }
    api.client.maintain_once(100).await.unwrap();
    assert_eq!(api.complete_next("inner", "{}").await, inner);
    api.client.maintain_once(100).await.unwrap();
    for (id, state) in [
        (&kids[0], "completed"),
        (&kids[1], "completed"),
        (&kids[2], "completed"),
        (&inner, "completed"),
    ] {
        browser
            .wait_for(&exists(&dep(id, state)), SHOWS_UP)
            .await
            .unwrap();
    }
    browser
        .wait_for(&exists(&format!("{head} [data-state='pending']")), SHOWS_UP)
        .await
        .unwrap();
    let summary = text(&mut browser, &head).await;
    assert!(summary.contains("outcome released"), "{summary}");
    assert!(summary.contains("0 of 3 outstanding"), "{summary}");
    let nested = text(&mut browser, &format!("[data-testid='flow-{inner}']")).await;
    assert!(nested.contains("outcome released"), "{nested}");
    assert!(nested.contains("0 of 1 outstanding"), "{nested}");
    browser
        .screenshot(
            &wasmq_tests::plugins::target_dir()
                .join("test-artifacts")
                .join("dashboard-flow.png"),
        )
        .await
        .unwrap();

    // A flow id that is no flow says so; a plain task id shows no tree.
    look_up(&mut browser, "report:f-missing").await;
    browser
        .wait_for(&exists("[data-testid='flow-error']"), SHOWS_UP)
        .await
        .unwrap();
    let error = text(&mut browser, "[data-testid='flow-error']").await;
    assert!(error.contains("no flow report:f-missing"), "{error}");
    look_up(&mut browser, &kids[0].to_string()).await;
    browser
        .wait_for("document.getElementById('flow-tree').hidden", SHOWS_UP)
        .await
        .unwrap();

    browser.assert_no_page_errors();
    drop(browser);
    api.stop().await;
}
