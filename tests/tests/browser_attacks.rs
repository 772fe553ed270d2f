//! The cross-site defences in a real headless Chromium: what another web
//! page can make the operator's browser send to the API, and that the server
//! refuses it. (`tests/tests/http/guard.rs` checks the same rules request
//! by request; this proves a real browser sends what those tests assume.)
//!
//! Chromium's `--host-resolver-rules` makes `evil.example` resolve to
//! 127.0.0.1, which is what a DNS-rebinding attack achieves with a DNS
//! server of its own: the attacker's page and the API then share an origin
//! as far as the browser knows.

use serde_json::json;
use std::time::Duration;
use wasmq_tests::api::Api;
use wasmq_tests::browser::{Browser, chromium_path};

const REBIND: &str = "--host-resolver-rules=MAP evil.example 127.0.0.1";

/// How long a form's navigation may take to land.
const LANDS: Duration = Duration::from_secs(15);

/// JS that adds a plain HTML form posting `x=1` to `action` and submits it,
/// as an attacker's page would.
fn submit_form(action: &str) -> String {
    format!(
        "(() => {{ const f = document.createElement('form'); f.method = 'POST'; \
         f.action = {action:?}; const i = document.createElement('input'); i.name = 'x'; \
         i.value = '1'; f.append(i); document.body.append(f); f.submit(); return true; }})()"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebound_page_cannot_read_or_change_the_queue() {
    chromium_path().expect("install chromium");
    let api = Api::start(None, None).await;
    let task = api.enqueue("victim", 3).await;
    let mut browser = Browser::launch_with(&[REBIND])
        .await
        .expect("launch headless Chromium");
    // The attacker's page, now served from 127.0.0.1 under the attacker's name.
    let evil = format!("http://evil.example:{}", api.port());
    browser.navigate(&format!("{evil}/")).await.unwrap();
    let shown = browser.evaluate("document.body.innerText").await.unwrap();
    assert!(
        shown
            .as_str()
            .unwrap_or_default()
            .contains("does not answer to the host"),
        "the dashboard must not load under a foreign name: {shown}"
    );
    // Its scripts are same-origin to the API as far as the browser knows,
    // so they may read and send JSON: only the Host check stands between.
    let read = browser
        .evaluate(&format!(
            "fetch('/api/v1/tasks/{task}').then(r => r.status)"
        ))
        .await
        .unwrap();
    assert_eq!(read, json!(403), "reading a task");
    let change = browser
        .evaluate(
            "fetch('/api/v1/queues/victim/pause', { method: 'POST', \
             headers: { 'Content-Type': 'application/json', 'X-Wasmq-Request': '1' }, \
             body: '{}' }).then(r => r.status)",
        )
        .await
        .unwrap();
    assert_eq!(change, json!(403), "pausing the queue");
    assert!(!api.client.is_paused("victim").await.unwrap());
    drop(browser);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_on_other_pages_cannot_pause_a_queue() {
    chromium_path().expect("install chromium");
    let api = Api::start(None, None).await;
    let action = format!("{}/api/v1/queues/victim/pause", api.base);
    let mut browser = Browser::launch_with(&[REBIND])
        .await
        .expect("launch headless Chromium");
    let landed = |expected: &str| {
        format!(
            "location.href.startsWith({:?}) && document.readyState === 'complete' && \
             document.body.innerText.includes({expected:?})",
            api.base
        )
    };

    // A page of another site (`Origin: http://evil.example:PORT`).
    browser
        .navigate(&format!("http://evil.example:{}/", api.port()))
        .await
        .unwrap();
    browser.evaluate(&submit_form(&action)).await.unwrap();
    browser
        .wait_for(&landed("not this server"), LANDS)
        .await
        .unwrap();
    assert!(!api.client.is_paused("victim").await.unwrap());

    // A page with an opaque origin (`Origin: null`).
    browser
        .navigate("data:text/html,<title>opaque</title><body></body>")
        .await
        .unwrap();
    browser.evaluate(&submit_form(&action)).await.unwrap();
    browser
        .wait_for(&landed("Origin: null"), LANDS)
        .await
        .unwrap();
    assert!(!api.client.is_paused("victim").await.unwrap());
    drop(browser);
    api.stop().await;
}
