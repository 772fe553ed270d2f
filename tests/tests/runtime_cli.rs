//! `wasmq call` as a user runs it: the real binary, real plugins, no Redis.

use std::io::Write;
use std::process::{Command, Stdio};
use wasmq::cli::demo::DemoServices;
use wasmq_tests::cli::{call, show};
use wasmq_tests::plugins::{plugin, wasmq_bin};

/// `email`'s grants as `wasmq call` flags, naming the demo's mail API.
fn email_grants(services: &DemoServices) -> Vec<String> {
    vec![
        "--allow-http".into(),
        services.mail.origin(),
        "--config".into(),
        format!("mail_api={}", services.mail.messages_url()),
        "--secret".into(),
        format!("mail_token={}", services.mail_token_source()),
    ]
}

#[test]
fn call_reports_success_failure_and_json() {
    let cache = tempfile::tempdir().unwrap();
    let services = DemoServices::start().unwrap();
    let email = plugin("email");
    let email = email.to_str().unwrap();
    let grants = email_grants(&services);
    let with_grants = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(grants.iter().cloned());
        all
    };
    let call = |args: Vec<String>, cache: &std::path::Path| {
        call(&args.iter().map(String::as_str).collect::<Vec<_>>(), cache)
    };

    let refused = call(
        vec![
            email.into(),
            "--payload".into(),
            r#"{"to":"a@b.c","subject":"hi"}"#.into(),
        ],
        cache.path(),
    );
    let text = show(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(
        text.contains("[capabilities] http"),
        "an ungranted import is refused naming the manifest key: {text}"
    );

    let ok = call(
        with_grants(&[email, "--payload", r#"{"to":"a@b.c","subject":"hi"}"#]),
        cache.path(),
    );
    let text = show(&ok);
    println!("{text}");
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(text.contains("outcome: success"), "{text}");
    assert!(text.contains(r#""sent":true"#), "{text}");
    assert!(text.contains("cost:    fuel "), "{text}");
    assert!(
        text.contains("INFO sent \"hi\" to a@b.c"),
        "the log is shown: {text}"
    );

    assert_eq!(
        services.mail.sent().len(),
        1,
        "the message reached the mail API"
    );

    let bad = call(
        with_grants(&[email, "--payload", r#"{"to":"nobody","subject":"hi"}"#]),
        cache.path(),
    );
    let text = show(&bad);
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(
        text.contains("permanent error: email payload: field `to` `nobody`"),
        "{text}"
    );

    let json = call(
        with_grants(&[
            email,
            "--json",
            "--payload",
            r#"{"to":"a@b.c","subject":"hi"}"#,
        ]),
        cache.path(),
    );
    assert_eq!(json.status.code(), Some(0), "{}", show(&json));
    let report: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("--json prints one JSON object");
    assert_eq!(report["outcome"], "success");
    assert_eq!(report["plugin"]["name"], "email");
    assert_eq!(
        report["plugin"]["from_cache"], true,
        "the first call filled the cache"
    );
    assert!(report["fuel_used"].as_u64().unwrap() > 0);
    let output: serde_json::Value =
        serde_json::from_str(report["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["to"], "a@b.c");
}

#[test]
fn call_flags_limits_and_usage_errors() {
    let cache = tempfile::tempdir().unwrap();
    let hog = plugin("fuel-hog");
    let out = call(
        &[hog.to_str().unwrap(), "--fuel", "1000000", "--json"],
        cache.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "out_of_fuel");
    assert_eq!(report["fuel_used"], 1_000_000);

    let looping = plugin("loop");
    let out = call(
        &[
            looping.to_str().unwrap(),
            "--timeout",
            "100ms",
            "--fuel",
            "1000000000000000",
        ],
        cache.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        show(&out).contains("outcome: timed out after"),
        "{}",
        show(&out)
    );

    let email = plugin("email");
    let out = call(
        &[email.to_str().unwrap(), "--payload", "{not json"],
        cache.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        show(&out).contains("--payload is not valid JSON"),
        "{}",
        show(&out)
    );

    let out = call(&[email.to_str().unwrap(), "--memory", "1KiB"], cache.path());
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        show(&out).contains("invalid --memory: must be between 64KiB and 4GiB"),
        "{}",
        show(&out)
    );

    let out = call(&["/nonexistent/x.wasm"], cache.path());
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        show(&out).contains("cannot read plugin /nonexistent/x.wasm"),
        "{}",
        show(&out)
    );
}

#[test]
fn call_reads_a_raw_payload_from_stdin() {
    let cache = tempfile::tempdir().unwrap();
    let upper = plugin("upper");
    let mut child = Command::new(wasmq_bin())
        .args(["call", upper.to_str().unwrap(), "-", "--cache-dir"])
        .arg(cache.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"shout this")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(show(&out).contains("SHOUT THIS"), "{}", show(&out));
}

/// `wasmq call`'s capability flags grant what the manifest does not: a
/// secret from a file, a bucket (in memory), and an HTTP host; without them
/// the plugin is refused at load with the key to set.
#[test]
fn call_grants_capabilities_from_flags() {
    let cache = tempfile::tempdir().unwrap();
    let secret = cache.path().join("token");
    std::fs::write(&secret, "tok-123\n").unwrap();
    let settings = plugin("settings");
    let settings = settings.to_str().unwrap();
    let flag = format!("token=file:{}", secret.display());
    let out = call(
        &[settings, "--payload", "\"token\"", "--secret", &flag],
        cache.path(),
    );
    let text = show(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("tok-123"), "{text}");

    let tally = plugin("tally");
    let tally = tally.to_str().unwrap();
    let incr = r#"{"bucket":"counts","incr":"k","by":5}"#;
    let refused = call(&[tally, "--payload", incr], cache.path());
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(
        show(&refused).contains("[capabilities] kv"),
        "{}",
        show(&refused)
    );
    let out = call(&[tally, "--payload", incr, "--kv", "counts"], cache.path());
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(show(&out).contains("\n5"), "{}", show(&out));

    let bad = call(
        &[tally, "--payload", incr, "--allow-http", "ftp://x"],
        cache.path(),
    );
    assert_eq!(bad.status.code(), Some(2), "{}", show(&bad));
    assert!(show(&bad).contains("ftp"), "{}", show(&bad));
}

/// `--enqueue TYPE` grants child tasks; `wasmq call` lists the children a
/// host would commit instead of enqueueing them; a failed run has none.
#[test]
fn call_lists_the_children_a_run_would_enqueue() {
    let cache = tempfile::tempdir().unwrap();
    let fanout = plugin("fanout");
    let fanout = fanout.to_str().unwrap();
    let three = r#"{"type":"echo","n":3}"#;
    let refused = call(&[fanout, "--payload", three], cache.path());
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(
        show(&refused).contains("[capabilities] enqueue"),
        "{}",
        show(&refused)
    );
    let out = call(
        &[fanout, "--payload", three, "--enqueue", "echo"],
        cache.path(),
    );
    let text = show(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("children (3, a host would enqueue them with the ack)"),
        "{text}"
    );
    assert_eq!(text.matches("  echo:c-").count(), 3, "{text}");
    let failing = r#"{"type":"echo","n":2,"permanent":true}"#;
    let out = call(
        &[fanout, "--payload", failing, "--enqueue", "echo"],
        cache.path(),
    );
    let text = show(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        !text.contains("children ("),
        "a failed run commits none: {text}"
    );
}
