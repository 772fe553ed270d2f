//! The plugins written in JavaScript, Python and Go (plugins/js,
//! plugins/python, plugins/go), built by plugins/build.sh with its pinned
//! toolchains: their own unit tests, `wasmq call` on each, and a real host
//! running the JS and Python `email` against the demo's mail API, a
//! capability call (HTTP with a secret from the manifest) included.
//!
//! A JS or Python component takes seconds to compile, so every host and
//! call here shares the compile cache under `target/` with the other
//! suites: the first run of the suite compiles each once, reruns load them.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use wasmq::cli::demo::DemoServices;
use wasmq::task::TaskState;
use wasmq_tests::broker::client;
use wasmq_tests::cli::{call, show};
use wasmq_tests::host::{HostProcess, enqueue, json_tasks, results, settled, statuses};
use wasmq_tests::plugins::{plugin, target_dir, wasmq_bin, workspace_root};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisServer;

const LONG: Duration = Duration::from_secs(600);
const TYPES: [&str; 2] = ["email-js", "email-py"];

/// The compile cache every suite shares.
fn shared_cache() -> PathBuf {
    target_dir().join("wasmq-test-cache")
}

fn run_tool(program: &str, args: &[&str], dir: &str) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(workspace_root().join(dir))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (plugins/build.sh needs it too): {e}"));
    let text = show(&output);
    assert!(
        output.status.success(),
        "{program} {args:?} in {dir}: {text}"
    );
    text
}

#[test]
fn the_js_and_python_email_logic_passes_its_own_unit_tests() {
    // The same cases as the Rust plugin's unit tests (plugins/email/src).
    let node = run_tool("node", &["--test", "."], "plugins/js/email");
    assert!(node.contains("# pass 6"), "{node}");
    let python = run_tool(
        "python3",
        &["-m", "unittest", "discover", "-s", "."],
        "plugins/python/email",
    );
    assert!(python.contains("Ran 6 tests"), "{python}");
}

/// `wasmq call` on each: refused at once without grants (nothing is
/// compiled), then run with them against the demo's mail API. Fills the
/// shared cache for the host that follows.
fn wasmq_call_runs_each_and_refuses_ungranted_ones_before_compiling(services: &DemoServices) {
    for task_type in TYPES {
        let path = plugin(task_type);
        let path = path.to_str().unwrap();
        // A subject per type: the mail API folds repeats of one message.
        let payload = format!(r#"{{"to":"ada@example.com","subject":"from {task_type}"}}"#);
        let payload = payload.as_str();

        // No grants: refused at once, naming the key, and nothing compiled.
        let empty = tempfile::tempdir().unwrap();
        let refused = call(&[path, "--payload", payload], empty.path());
        let text = show(&refused);
        assert_eq!(refused.status.code(), Some(2), "{text}");
        assert!(text.contains("[capabilities] http"), "{text}");
        assert_eq!(
            std::fs::read_dir(empty.path()).unwrap().count(),
            0,
            "a refused plugin is not compiled: {text}"
        );

        let sent_before = services.mail.sent().len();
        let ok = call(
            &[
                path,
                "--payload",
                payload,
                "--allow-http",
                &services.mail.origin(),
                "--config",
                &format!("mail_api={}", services.mail.messages_url()),
                "--secret",
                &format!("mail_token={}", services.mail_token_source()),
            ],
            &shared_cache(),
        );
        let text = show(&ok);
        println!("{task_type}: {text}");
        assert_eq!(ok.status.code(), Some(0), "{text}");
        assert!(text.contains(r#""sent":true"#), "{text}");
        assert!(
            text.contains(&format!(
                r#"INFO sent "from {task_type}" to ada@example.com"#
            )),
            "the plugin's log line is shown: {text}"
        );
        assert_eq!(services.mail.sent().len(), sent_before + 1, "{text}");

        let bad = call(
            &[path, "--payload", r#"{"to":"nobody","subject":"x"}"#],
            &shared_cache(),
        );
        let text = show(&bad);
        // Refused for want of grants before the payload is looked at.
        assert_eq!(bad.status.code(), Some(2), "{text}");
    }
}

#[test]
fn the_go_command_plugin_runs_where_go_is_installed() {
    let path = workspace_root().join("plugins/dist/upper-go.wasm");
    wasmq_tests::plugins::build_plugins();
    if !path.is_file() {
        // plugins/build.sh skips it, saying so, on a machine without Go 1.21+.
        eprintln!("skipped: no Go >= 1.21, so plugins/build.sh built no upper-go");
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let path = path.to_str().unwrap();
    // A JSON string: `wasmq call --payload` takes JSON, the command gets its bytes.
    let ok = call(&[path, "--payload", r#""hello, wasip1""#], cache.path());
    let text = show(&ok);
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(text.contains("HELLO, WASIP1"), "{text}");
    let retry = call(&[path, "--payload", r#""please retry""#], cache.path());
    assert!(show(&retry).contains("retryable"), "{}", show(&retry));
}

/// One test, so the two big components are compiled once (by the first
/// `wasmq call`), not by two tests racing on the same cache.
#[tokio::test(flavor = "multi_thread")]
async fn wasmq_call_and_a_host_run_the_js_and_python_email_with_their_grants() {
    let services = DemoServices::start().unwrap();
    wasmq_call_runs_each_and_refuses_ungranted_ones_before_compiling(&services);
    let redis = RedisServer::start();
    let plugins = PluginsDir::with(&[("email-js", "email-js"), ("email-py", "email-py")]);
    for task_type in TYPES {
        plugins.granted(task_type, &services, "");
    }
    let cache = shared_cache();
    let host = HostProcess::start(
        &redis.url(),
        plugins.path(),
        &["--concurrency", "4", "--cache-dir", cache.to_str().unwrap()],
    );
    let client = client(&redis.url()).await;
    let mut ids = Vec::new();
    for task_type in TYPES {
        let payloads = [
            serde_json::json!({"to": format!("{task_type}@example.com"), "subject": "hello", "body": "hi"}),
            serde_json::json!({"to": "nobody", "subject": "bad"}),
            serde_json::json!({"to": format!("later-{task_type}@example.com"), "subject": "once more", "fail_attempts": 1, "retry_after_ms": 10}),
        ];
        ids.push(enqueue(&client, json_tasks(task_type, payloads)).await);
    }
    let totals = settled(&client, &TYPES, 6, LONG).await;
    assert_eq!(
        (totals.completed, totals.dead),
        (4, 2),
        "{totals:?}\n{}",
        host.log()
    );

    for (task_type, ids) in TYPES.iter().zip(&ids) {
        let states = statuses(&client, ids).await;
        assert_eq!(
            states[0].state,
            TaskState::Completed,
            "{task_type}: {states:?}"
        );
        assert_eq!(states[1].state, TaskState::Dead, "{task_type}: {states:?}");
        let error = states[1].last_error.as_deref().unwrap_or_default();
        assert!(
            error.contains("email payload: field `to` `nobody` has no `@`"),
            "{task_type}: {error}"
        );
        assert_eq!(
            (states[2].state, states[2].attempts),
            (TaskState::Completed, 2),
            "{task_type}: {states:?}"
        );

        let done = results(&client, &[ids[0].clone()]).await;
        let output: serde_json::Value = serde_json::from_slice(&done[0].output).unwrap();
        assert_eq!(output["sent"], true, "{task_type}: {output}");
        assert_eq!(output["to"], format!("{task_type}@example.com"));
        assert!(
            output["message_id"]
                .as_str()
                .unwrap()
                .ends_with("@wasmq.invalid>")
        );
        assert!(
            output["provider_id"].is_string(),
            "the API's id comes back: {output}"
        );
    }
    // The mail API checked the bearer token from [secrets] on each of them.
    let sent = services.mail.sent();
    for task_type in TYPES {
        let to = format!("{task_type}@example.com");
        assert!(
            sent.iter().any(|m| m.to == to && m.body == "hi"),
            "{sent:?}"
        );
        let later = format!("later-{task_type}@example.com");
        assert!(
            sent.iter().any(|m| m.to == later),
            "sent on the retry: {sent:?}"
        );
    }
}

/// `wasmq new` in each language: the project's own unit test passes, its
/// `build.sh` builds it, and `wasmq call` runs it: success for a name, a
/// permanent error for an empty payload.
#[test]
fn wasmq_new_projects_test_build_and_run_in_each_language() {
    wasmq_tests::plugins::build_plugins(); // installs the pinned JS and Python toolchains
    let root = workspace_root();
    let toolchains = root.join("plugins/.toolchains");
    let parent = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    for lang in ["rust", "js", "python"] {
        let name = format!("hello-{lang}");
        let made = Command::new(wasmq_bin())
            .args(["new", &name, "--lang", lang, "--dir"])
            .arg(parent.path())
            .output()
            .unwrap();
        assert!(made.status.success(), "{}", show(&made));
        let project = parent.path().join(&name);
        let in_project = |program: &str, args: &[&str]| {
            let output = Command::new(program)
                .args(args)
                .current_dir(&project)
                .env(
                    "COMPONENTIZE_JS",
                    toolchains.join("js/node_modules/.bin/componentize-js"),
                )
                .env("COMPONENTIZE_PY", toolchains.join("py/bin/componentize-py"))
                // Dependencies compiled once for every run of this test.
                .env("CARGO_TARGET_DIR", target_dir().join("wasmq-new-rust"))
                .output()
                .unwrap_or_else(|e| panic!("run {program}: {e}"));
            let text = show(&output);
            assert!(
                output.status.success(),
                "{lang}: {program} {args:?}: {text}"
            );
            text
        };
        match lang {
            "rust" => in_project("cargo", &["test", "--quiet"]),
            "js" => in_project("node", &["--test"]),
            _ => in_project("python3", &["-m", "unittest"]),
        };
        in_project("bash", &["build.sh"]);
        let wasm = project.join(format!("{name}.wasm"));
        let wasm = wasm.to_str().unwrap();
        let ok = call(&[wasm, "--payload", r#"{"name":"world"}"#], cache.path());
        let text = show(&ok);
        assert_eq!(ok.status.code(), Some(0), "{lang}: {text}");
        assert!(text.contains("hello, world"), "{lang}: {text}");
        assert!(text.contains("INFO greeted on attempt 1"), "{lang}: {text}");
        let empty = call(&[wasm, "--payload", "{}"], cache.path());
        let text = show(&empty);
        assert_eq!(empty.status.code(), Some(1), "{lang}: {text}");
        assert!(text.contains("the payload has no name"), "{lang}: {text}");
    }
}
