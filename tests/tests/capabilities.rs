//! Issue 11: capabilities granted per plugin by its manifest, against a
//! real HTTP server on 127.0.0.1 and the real `fetch` plugin (a component
//! that uses the SDK's `http` and `config` modules).
//!
//! Default-deny everywhere: an ungranted import is refused at load, a URL
//! outside the grant is refused per request, a name that resolves to a
//! private address needs that address granted literally, and every request
//! is bounded (count, body size, time to the task's deadline).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use wasmq::config::Limits;
use wasmq::runtime::{CancelToken, Invocation, Outcome, OutcomeKind, Plugin, Runtime};
use wasmq_tests::http_server::HttpServer;
use wasmq_tests::plugins::{plugin, test_runtime};

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| test_runtime(16))
}

/// `fetch.wasm` in a directory of its own with `manifest` as `fetch.toml`
/// (none if empty); the directory lives as long as the returned guard.
fn fetch_with(manifest: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("fetch.wasm");
    std::fs::copy(plugin("fetch"), &wasm).unwrap();
    if !manifest.is_empty() {
        std::fs::write(dir.path().join("fetch.toml"), manifest).unwrap();
    }
    (dir, wasm)
}

fn load(manifest: &str) -> Plugin {
    let (_dir, wasm) = fetch_with(manifest);
    runtime()
        .load("fetch", &wasm, Limits::default())
        .unwrap_or_else(|e| panic!("load fetch with\n{manifest}\n: {e}"))
}

fn run(plugin: &Plugin, payload: serde_json::Value) -> Outcome {
    let invocation = Invocation::new("fetch:1", "fetch", payload.to_string().into_bytes());
    plugin.run_blocking(invocation, &CancelToken::new())
}

fn output(outcome: &Outcome) -> String {
    match &outcome.kind {
        OutcomeKind::Success { output, .. } => String::from_utf8_lossy(output).into_owned(),
        other => panic!("expected success, got {other:?}\nlog:\n{}", outcome.log),
    }
}

fn failure(outcome: &Outcome) -> String {
    match &outcome.kind {
        OutcomeKind::Retryable { message, .. } | OutcomeKind::Permanent { message } => {
            message.clone()
        }
        other => panic!("expected a failure, got {other:?}\nlog:\n{}", outcome.log),
    }
}

#[test]
fn an_ungranted_import_is_refused_at_load_naming_the_manifest_key() {
    let (_dir, wasm) = fetch_with("");
    let error = runtime()
        .load("fetch", &wasm, Limits::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("wasi:http/outgoing-handler"), "{error}");
    assert!(error.contains("[capabilities] http"), "{error}");
}

#[test]
fn a_granted_host_is_reached_and_logged_and_others_are_denied() {
    let server = HttpServer::start();
    let other = HttpServer::start();
    let fetch = load(&format!(
        "[capabilities]\nhttp = [\"http://127.0.0.1:{}\"]\n",
        server.port()
    ));
    let ok = run(&fetch, serde_json::json!({ "url": server.url("/hello") }));
    assert_eq!(output(&ok), "hello");
    assert!(
        ok.log.contains("http GET 127.0.0.1 200, 5 bytes"),
        "{}",
        ok.log
    );
    let host_lines: Vec<&str> = ok
        .log
        .lines()
        .filter(|l| l.contains(" http GET "))
        .collect();
    assert!(
        host_lines.iter().all(|l| !l.contains("/hello")),
        "the host never logs the path:\n{}",
        ok.log
    );

    let posted = run(
        &fetch,
        serde_json::json!({ "url": server.url("/echo"), "post": "ping" }),
    );
    assert_eq!(output(&posted), "ping");

    // Another port of the same address is outside the grant.
    let denied = run(&fetch, serde_json::json!({ "url": other.url("/hello") }));
    let message = failure(&denied);
    assert!(
        matches!(denied.kind, OutcomeKind::Permanent { .. }),
        "{:?}",
        denied.kind
    );
    assert!(message.contains("denied"), "{message}");
    assert!(denied.log.contains("denied"), "{}", denied.log);
    assert!(
        other.requests().is_empty(),
        "nothing reached the ungranted server"
    );
}

#[test]
fn a_name_resolving_to_a_private_address_needs_that_address_granted_literally() {
    let server = HttpServer::start();
    let by_name = load(&format!(
        "[capabilities]\nhttp = [\"http://localhost:{}\"]\n",
        server.port()
    ));
    let blocked = run(
        &by_name,
        serde_json::json!({ "url": format!("http://localhost:{}/hello", server.port()) }),
    );
    let message = failure(&blocked);
    assert!(message.contains("DestinationIpProhibited"), "{message}");
    assert!(blocked.log.contains("private address"), "{}", blocked.log);
    assert!(server.requests().is_empty(), "nothing reached the server");
}

#[test]
fn requests_are_capped_in_count_and_body_size() {
    let server = HttpServer::start();
    let fetch = load(&format!(
        "[capabilities]\nhttp = [\"http://127.0.0.1:{}\"]\nhttp_max_requests = 2\nhttp_max_response = \"64KiB\"\n",
        server.port()
    ));
    let third = run(
        &fetch,
        serde_json::json!({ "url": server.url("/hello"), "times": 3 }),
    );
    assert!(failure(&third).contains("denied"), "{:?}", third.kind);
    assert!(third.log.contains("http_max_requests"), "{}", third.log);
    assert_eq!(
        server.requests().len(),
        2,
        "the third request never left the host"
    );

    let big = run(
        &fetch,
        serde_json::json!({ "url": server.url("/big?n=1000000") }),
    );
    let message = failure(&big);
    assert!(message.contains("reading the body"), "{message}");
    assert!(big.log.contains("http_max_response"), "{}", big.log);
    let fits = run(
        &fetch,
        serde_json::json!({ "url": server.url("/big?n=60000") }),
    );
    assert_eq!(output(&fits).len(), 60_000);
}

#[test]
fn request_timeouts_are_clamped_to_the_tasks_deadline() {
    let server = HttpServer::start();
    let fetch = load(&format!(
        "timeout = \"1s\"\n[capabilities]\nhttp = [\"http://127.0.0.1:{}\"]\n",
        server.port()
    ));
    for path in ["/slow?ms=20000", "/drip?ms=300"] {
        let started = Instant::now();
        let slow = run(&fetch, serde_json::json!({ "url": server.url(path) }));
        let took = started.elapsed();
        println!("{path}: {:?} after {took:?}\n{}", slow.kind, slow.log);
        assert!(
            matches!(
                slow.kind,
                OutcomeKind::TimedOut { .. } | OutcomeKind::Retryable { .. }
            ),
            "{path}: {:?}",
            slow.kind
        );
        assert!(
            took < Duration::from_secs(15),
            "{path}: the request outlived the deadline: {took:?}"
        );
    }
}

#[test]
fn config_and_file_secrets_are_served_and_a_missing_secret_fails_the_load() {
    let secret_dir = tempfile::tempdir().unwrap();
    let secret_file = secret_dir.path().join("token");
    std::fs::write(&secret_file, "s3cr3t-value\n").unwrap();
    let manifest = format!(
        "[config]\ngreeting = \"hi there\"\n[secrets]\ntoken = \"file:{}\"\n",
        secret_file.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("settings.wasm");
    std::fs::copy(plugin("settings"), &wasm).unwrap();
    std::fs::write(dir.path().join("settings.toml"), &manifest).unwrap();
    let settings = runtime()
        .load("settings", &wasm, Limits::default())
        .unwrap();
    let ask = |key: &str| {
        let invocation = Invocation::new("settings:1", "settings", key.as_bytes().to_vec());
        settings.run_blocking(invocation, &CancelToken::new())
    };
    assert_eq!(output(&ask("greeting")), "hi there");
    assert_eq!(
        output(&ask("token")),
        "s3cr3t-value",
        "one trailing newline is stripped"
    );
    assert!(failure(&ask("absent")).contains("[config]"));
    assert!(
        !format!("{settings:?}").contains("s3cr3t"),
        "the plugin's Debug holds no secret"
    );

    // Without [config] or [secrets], the import is refused at load.
    std::fs::remove_file(dir.path().join("settings.toml")).unwrap();
    let error = runtime()
        .load("settings", &wasm, Limits::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("wasi:config/store") && error.contains("[config] or [secrets]"),
        "{error}"
    );

    // A secret whose file is missing fails the load, naming the key.
    let missing = manifest.replace(
        &secret_file.display().to_string(),
        &missing_path(secret_dir.path()),
    );
    std::fs::write(dir.path().join("settings.toml"), missing).unwrap();
    let error = runtime()
        .load("settings", &wasm, Limits::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("token"),
        "the error names the secret: {error}"
    );
    assert!(!error.contains("s3cr3t"), "{error}");
}

fn missing_path(dir: &Path) -> String {
    dir.join("absent").display().to_string()
}
