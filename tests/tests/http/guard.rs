//! Other web pages against the API: cross-site form posts, DNS rebinding,
//! foreign and opaque origins, and reads when they are protected. Each
//! request is written byte for byte, as a browser (or an attacker's page in
//! one) would send it; the browser itself plays them in
//! `tests/tests/browser_attacks.rs`.

use serde_json::json;
use wasmq_tests::api::{Api, TOKEN};

fn error(body: &serde_json::Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_post_from_foreign_origin_is_refused() {
    let api = Api::start(None, None).await;
    let port = api.port();
    let form = |origin: &str| {
        format!(
            "POST /api/v1/queues/email/pause HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             {origin}Content-Type: application/x-www-form-urlencoded"
        )
    };
    let (status, body) = api
        .raw(&form("Origin: http://evil.example\r\n"), "x=1")
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(error(&body).contains("http://evil.example"), "{body}");
    // The same form without an Origin (an old browser, or one that drops
    // it) is still refused: a form cannot send a JSON content type.
    let (status, body) = api.raw(&form(""), "x=1").await;
    assert_eq!(status, 415, "{body}");
    assert!(error(&body).contains("X-Wasmq-Request: 1"), "{body}");
    assert!(
        !api.client.is_paused("email").await.unwrap(),
        "a form post paused the queue"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodyless_changes_need_json_or_the_request_header() {
    let api = Api::start(None, None).await;
    let port = api.port();
    let task = api.enqueue("email", 3).await;
    let head = |method_path: &str, extra: &str| {
        format!("{method_path} HTTP/1.1\r\nHost: 127.0.0.1:{port}{extra}")
    };
    for (method_path, kind) in [
        (format!("DELETE /api/v1/tasks/{task}"), "DELETE"),
        (format!("POST /api/v1/tasks/{task}/cancel"), "cancel"),
        ("POST /api/v1/queues/email/pause".to_owned(), "pause"),
        ("POST /api/v1/queues/email/resume".to_owned(), "resume"),
        ("POST /api/v1/dead/retry".to_owned(), "retry"),
        ("POST /api/v1/dead/purge".to_owned(), "purge"),
        ("POST /api/v1/queues/email/pause".to_owned(), "text/plain"),
    ] {
        let extra = if kind == "text/plain" {
            "\r\nContent-Type: text/plain"
        } else {
            ""
        };
        let (status, body) = api.raw(&head(&method_path, extra), "").await;
        assert_eq!(status, 415, "{kind}: {body}");
    }
    assert!(!api.client.is_paused("email").await.unwrap());
    let (status, body) = api
        .raw(
            &head(
                "POST /api/v1/queues/email/pause",
                "\r\nContent-Type: application/json",
            ),
            "",
        )
        .await;
    assert_eq!(status, 200, "JSON without a body: {body}");
    assert!(api.client.is_paused("email").await.unwrap());
    let (status, body) = api
        .raw(
            &head("POST /api/v1/queues/email/resume", "\r\nX-Wasmq-Request: 1"),
            "",
        )
        .await;
    assert_eq!(status, 200, "the request header: {body}");
    assert!(!api.client.is_paused("email").await.unwrap());
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_rebinding_host_is_refused() {
    let api = Api::start(None, None).await;
    let port = api.port();
    let task = api.enqueue("email", 3).await;
    for path in [
        format!("/api/v1/tasks/{task}"),
        "/api/v1/queues".to_owned(),
        "/".to_owned(),
        "/metrics".to_owned(),
    ] {
        let (status, body) = api
            .raw(
                &format!("GET {path} HTTP/1.1\r\nHost: evil.example:{port}"),
                "",
            )
            .await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(
            error(&body).contains("--http-allowed-host evil.example ")
                && error(&body).contains(&format!("127.0.0.1:{port}")),
            "{body}"
        );
    }
    // A rebound page is same-origin to itself, so it could send JSON: the
    // Host check is what stops it.
    let (status, body) = api
        .raw(
            &format!(
                "POST /api/v1/queues/email/pause HTTP/1.1\r\nHost: evil.example:{port}\r\n\
                 Origin: http://evil.example:{port}\r\nContent-Type: application/json"
            ),
            "{}",
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(!api.client.is_paused("email").await.unwrap());
    // The server's own names still work, and HTTP/1.1 needs a Host.
    for host in ["localhost", "127.0.0.1", "[::1]"] {
        let (status, body) = api
            .raw(
                &format!("GET /api/v1/queues HTTP/1.1\r\nHost: {host}:{port}"),
                "",
            )
            .await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    let (status, body) = api.raw("GET /api/v1/queues HTTP/1.1", "").await;
    assert_eq!(status, 400, "{body}");
    assert!(error(&body).contains("Host"), "{body}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_host_names_are_answered() {
    let allowed = vec!["queue.example.com".parse().unwrap()];
    let api = Api::start_with(None, None, |state| state.allow_hosts(allowed)).await;
    let (status, body) = api
        .raw(
            "POST /api/v1/queues/email/pause HTTP/1.1\r\nHost: queue.example.com\r\n\
             Origin: https://queue.example.com\r\nContent-Type: application/json",
            "",
        )
        .await;
    assert_eq!(status, 200, "behind a reverse proxy: {body}");
    assert!(api.client.is_paused("email").await.unwrap());
    let (status, body) = api
        .raw("GET /api/v1/queues HTTP/1.1\r\nHost: other.example.com", "")
        .await;
    assert_eq!(status, 403, "{body}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_origin_is_accepted_and_null_is_refused() {
    let api = Api::start(None, None).await;
    let port = api.port();
    let pause = |origin: String| {
        format!(
            "POST /api/v1/queues/email/pause HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Origin: {origin}\r\nX-Wasmq-Request: 1"
        )
    };
    for origin in ["null".to_owned(), format!("http://localhost:{}", port + 1)] {
        let (status, body) = api.raw(&pause(origin.clone()), "").await;
        assert_eq!(status, 403, "{origin}: {body}");
    }
    assert!(!api.client.is_paused("email").await.unwrap());
    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let (status, body) = api.raw(&pause(origin.clone()), "").await;
        assert_eq!(status, 200, "{origin}: {body}");
    }
    assert!(api.client.is_paused("email").await.unwrap());
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_need_the_token_when_protected() {
    let api = Api::start_with(Some(TOKEN), None, |state| {
        state.protect_reads(true).expect("a token is set")
    })
    .await;
    let task = api.enqueue("email", 3).await;
    let done = api.complete_next("email", r#"{"secret":"data"}"#).await;
    assert_eq!(task, done);
    for path in [
        format!("/api/v1/tasks/{task}"),
        format!("/api/v1/tasks/{task}/result"),
        "/api/v1/queues".to_owned(),
        "/api/v1/dead".to_owned(),
        "/api/v1/stats".to_owned(),
        "/metrics".to_owned(),
    ] {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert!(error(&body).contains("protects reads"), "{body}");
        assert!(!body.to_string().contains("secret"), "{body}");
        let response = api
            .http
            .get(api.url(&path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path} with the token");
    }
    // What the dashboard needs to load and ask for the token stays open.
    for path in ["/", "/assets/app.js", "/healthz", "/api/v1/openapi.json"] {
        let response = api.http.get(api.url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
    let (status, info) = api.get("/api/v1/info").await;
    assert_eq!((status, &info["reads_protected"]), (200, &json!(true)));

    let refused = wasmq::http::HttpState::new(api.client.clone(), None, None)
        .unwrap()
        .protect_reads(true)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("WASMQ_HTTP_TOKEN"), "{refused}");
    api.stop().await;
}

/// `wasmq run` takes the settings from flags and the environment and hands
/// them to the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasmq_run_applies_allowed_hosts_and_protected_reads() {
    use std::process::{Command, Stdio};
    let bin = wasmq_tests::plugins::wasmq_bin();
    let refused = Command::new(&bin)
        .args(["run", "--http", "127.0.0.1:0", "--http-protect-reads"])
        .env_remove("WASMQ_HTTP_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`http_protect_reads`") && stderr.contains("WASMQ_HTTP_TOKEN"),
        "{stderr}"
    );

    let redis = wasmq_tests::redis::RedisServer::start();
    let plugins = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(&bin)
        .args([
            "run",
            "--redis",
            &redis.url(),
            "--http",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--http-allowed-host",
            "queue.example.com",
            "--http-protect-reads",
        ])
        .arg("--plugins")
        .arg(plugins.path())
        .env("WASMQ_HTTP_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "wasmq run never listened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let get = |host: &str, token: Option<&str>| {
        let mut request = http
            .get(format!("{base}/api/v1/queues"))
            .header("host", host);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let own = format!("127.0.0.1:{port}");
    let statuses = [
        get(&own, None).await.unwrap().status().as_u16(),
        get(&own, Some(TOKEN)).await.unwrap().status().as_u16(),
        get("queue.example.com", Some(TOKEN))
            .await
            .unwrap()
            .status()
            .as_u16(),
        get("evil.example", Some(TOKEN))
            .await
            .unwrap()
            .status()
            .as_u16(),
    ];
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(statuses, [401, 200, 200, 403]);
}
