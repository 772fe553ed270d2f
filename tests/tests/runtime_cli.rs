//! `wasmq call` as a user runs it: the real binary, real plugins, no Redis.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use wasmq_tests::plugins::{plugin, wasmq_bin};

fn call(args: &[&str], cache: &std::path::Path) -> Output {
    Command::new(wasmq_bin())
        .arg("call")
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .output()
        .expect("run wasmq call")
}

fn show(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn call_reports_success_failure_and_json() {
    let cache = tempfile::tempdir().unwrap();
    let email = plugin("email");
    let email = email.to_str().unwrap();

    let ok = call(
        &[email, "--payload", r#"{"to":"a@b.c","subject":"hi"}"#],
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

    let bad = call(
        &[email, "--payload", r#"{"to":"nobody","subject":"hi"}"#],
        cache.path(),
    );
    let text = show(&bad);
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(
        text.contains("permanent error: email payload: field `to` `nobody`"),
        "{text}"
    );

    let json = call(
        &[
            email,
            "--json",
            "--payload",
            r#"{"to":"a@b.c","subject":"hi"}"#,
        ],
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
