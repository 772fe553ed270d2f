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

mod held;

const LONG: Duration = Duration::from_secs(600);
const TYPES: [&str; 2] = ["email-js", "email-py"];
/// The same plugins, with a manifest that grants another origin than the
/// mail API's.
const DENIED: [&str; 2] = ["denied-js", "denied-py"];

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
    // The same cases as the Rust plugin's unit tests (plugins/email/src),
    // and the SDKs' own (what a wasi:http error code means, a retry delay
    // the host cannot take).
    let node = run_tool("node", &["--test", "."], "plugins/js/email");
    assert!(
        node.contains("# pass 14") && node.contains("# fail 0"),
        "{node}"
    );
    let sdk = run_tool("node", &["--test", "."], "plugin-sdk-js");
    assert!(
        sdk.contains("# pass 3") && sdk.contains("# fail 0"),
        "{sdk}"
    );
    let python = run_tool(
        "python3",
        &["-m", "unittest", "discover", "-s", "."],
        "plugins/python/email",
    );
    assert!(
        python.contains("Ran 14 tests") && python.ends_with("OK\n"),
        "{python}"
    );
    let sdk = run_tool(
        "python3",
        &["-m", "unittest", "discover", "-s", "."],
        "plugin-sdk-py",
    );
    assert!(
        sdk.contains("Ran 3 tests") && sdk.ends_with("OK\n"),
        "{sdk}"
    );
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
fn the_go_command_plugin_runs() {
    wasmq_tests::plugins::build_plugins();
    let path = workspace_root().join("plugins/dist/upper-go.wasm");
    // plugins/build.sh skips it, saying so, on a machine without Go 1.21+.
    assert!(
        path.is_file(),
        "{} is missing: plugins/build.sh builds it only with Go 1.21 or newer (GOOS=wasip1) and \
         skipped it; run `bash tests/deps.sh` (it installs Go 1.23), then the tests again",
        path.display()
    );
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
    let plugins = PluginsDir::with(&[
        ("email-js", "email-js"),
        ("email-py", "email-py"),
        ("email-js", "denied-js"),
        ("email-py", "denied-py"),
    ]);
    for (task_type, denied) in TYPES.iter().zip(DENIED) {
        plugins.granted(task_type, &services, "");
        // Everything the mail API needs, but the grant names another port.
        let grants = services.manifest_text(task_type).unwrap();
        let elsewhere = format!("http = [\"{}\"]", OTHER_ORIGIN);
        let wrong = grants.replace(
            &format!("http = [\"{}\"]", services.mail.origin()),
            &elsewhere,
        );
        assert_ne!(grants, wrong);
        plugins.manifest(denied, &wrong);
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
            // Wrongly typed: refused before anything is sent or retried.
            serde_json::json!({"to": "a@example.com", "subject": "s", "simulate": "transient", "retry_after_ms": 1.5}),
            serde_json::json!({"to": format!("typed-{task_type}@example.com"), "subject": "s", "body": 5}),
        ];
        ids.push(enqueue(&client, json_tasks(task_type, payloads)).await);
    }
    let mut denied_ids = Vec::new();
    for task_type in DENIED {
        let payload =
            serde_json::json!({"to": format!("{task_type}@example.com"), "subject": "denied"});
        denied_ids.push(enqueue(&client, json_tasks(task_type, [payload])).await[0].clone());
    }
    let queues = [TYPES, DENIED].concat();
    let totals = settled(&client, &queues, 12, LONG).await;
    assert_eq!(
        (totals.completed, totals.dead),
        (4, 8),
        "{totals:?}\n{}",
        host.log()
    );
    denied_and_wrongly_typed_tasks_die_at_once(&client, &ids, &denied_ids, &services).await;

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
            !sent
                .iter()
                .any(|m| m.to.starts_with("typed-") || m.to.starts_with("denied-")),
            "{sent:?}"
        );
        assert!(
            sent.iter().any(|m| m.to == later),
            "sent on the retry: {sent:?}"
        );
    }
    // 8 email-py runs at once on a host of `--concurrency 8`, default limits.
    drop(host);
    held::eight_email_py_tasks_run_at_once(&redis, &cache).await;
}

/// A grant that is not the mail API's: a port nothing listens on.
const OTHER_ORIGIN: &str = "http://127.0.0.1:9";

/// A request the host denies, and a payload of the wrong types, end the
/// task at once (one attempt, dead), saying what to change.
async fn denied_and_wrongly_typed_tasks_die_at_once(
    client: &wasmq::Client,
    ids: &[Vec<wasmq::task::TaskId>],
    denied_ids: &[wasmq::task::TaskId],
    services: &DemoServices,
) {
    for (task_type, ids) in TYPES.iter().zip(ids) {
        let states = statuses(client, &ids[3..]).await;
        for (state, needle) in states.iter().zip([
            "field `retry_after_ms` must be a whole number of milliseconds from 0 to 18446744073709551615, not 1.5",
            "field `body` must be a string, not 5",
        ]) {
            let error = state.last_error.as_deref().unwrap_or_default();
            assert_eq!((state.state, state.attempts), (TaskState::Dead, 1), "{task_type}: {error}");
            assert!(error.contains(needle), "{task_type}: {error}");
        }
    }
    let states = statuses(client, denied_ids).await;
    for ((task_type, plugin), state) in DENIED.iter().zip(TYPES).zip(&states) {
        let error = state.last_error.as_deref().unwrap_or_default();
        // Not retried until dead as if the mail API were down: dead at once.
        assert_eq!(
            (state.state, state.attempts),
            (TaskState::Dead, 1),
            "{task_type}: {error}"
        );
        let grant = format!(
            "grant it in {plugin}.toml with [capabilities] http = [\"{}\"]",
            services.mail.origin()
        );
        assert!(
            error.contains("email: the host denied POST"),
            "{task_type}: {error}"
        );
        assert!(error.contains(&grant), "{task_type}: {error}");
        assert!(
            !error.contains("check that the mail API is up"),
            "{task_type}: {error}"
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
