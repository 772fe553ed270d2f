//! The plugin runtime against the real example plugins: every plugin, well
//! behaved or adversarial, ends in its expected outcome, and the host (this
//! test process) survives them all and keeps running tasks.

use std::sync::OnceLock;
use std::time::{Duration, Instant};
use wasmq::cli::demo::DemoServices;
use wasmq::config::Limits;
use wasmq::runtime::{
    CancelToken, Invocation, Outcome, OutcomeKind, Plugin, Runtime, RuntimeOptions,
};
use wasmq_tests::plugins::{granted, output_text, plugin, test_runtime};

/// One runtime for the whole suite, as in a host; its cache persists under
/// `target/` so reruns skip the compiles.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| test_runtime(16))
}

fn load(name: &str) -> Plugin {
    runtime()
        .load(name, &plugin(name), Limits::default())
        .unwrap_or_else(|e| panic!("load {name}: {e}"))
}

fn run_with(plugin: &Plugin, payload: &str, limits: Option<Limits>) -> Outcome {
    let mut invocation = Invocation::new(
        format!("{}:test", plugin.task_type()),
        plugin.task_type(),
        payload.into(),
    );
    invocation.limits = limits;
    plugin.run_blocking(invocation, &CancelToken::new())
}

fn run(name: &str, payload: &str) -> Outcome {
    run_with(&load(name), payload, None)
}

/// `email` or `image` with the grants to reach the demo's servers.
fn load_granted(name: &str, services: &DemoServices) -> Plugin {
    runtime()
        .load_file(name, &granted(name, services), Limits::default())
        .unwrap_or_else(|e| panic!("load {name}: {e}"))
}

#[test]
fn well_behaved_plugins_succeed() {
    assert_eq!(output_text(&run("noop", "")), "");
    let echoed = run("echo", r#"{"a":[1,2]}"#);
    assert_eq!(output_text(&echoed), r#"{"a":[1,2]}"#);
    assert!(
        matches!(&echoed.kind, OutcomeKind::Success { content_type: Some(t), .. } if t == "application/json")
    );

    let services = DemoServices::start().unwrap();
    let email = load_granted("email", &services);
    let sent = run_with(&email, r#"{"to":"a@b.c","subject":"hi"}"#, None);
    let report: serde_json::Value = serde_json::from_str(&output_text(&sent)).unwrap();
    assert_eq!(report["sent"], true);
    assert!(
        sent.log.contains("INFO sent \"hi\" to a@b.c"),
        "log import captured: {}",
        sent.log
    );

    let image = run_with(
        &load_granted("image", &services),
        r#"{"width":64,"height":48}"#,
        None,
    );
    let report: serde_json::Value = serde_json::from_str(&output_text(&image)).unwrap();
    assert_eq!(
        (report["width"].as_u64(), report["height"].as_u64()),
        (Some(32), Some(24))
    );
    assert_eq!(
        image.progress.as_ref().map(|(p, _)| *p),
        Some(100),
        "progress import captured"
    );

    assert_eq!(output_text(&run("cpu50", "seed")).len(), 16);
    assert_eq!(output_text(&run("upper", "hello wasm")), "HELLO WASM");
}

#[test]
fn handler_errors_keep_their_kind() {
    let services = DemoServices::start().unwrap();
    let email = load_granted("email", &services);
    let bad = run_with(&email, r#"{"to":"nope","subject":"hi"}"#, None);
    assert!(
        matches!(&bad.kind, OutcomeKind::Permanent { message } if message.contains("`nope`")),
        "{:?}",
        bad.kind
    );
    let busy = run_with(
        &email,
        r#"{"to":"a@b.c","subject":"hi","simulate":"transient","retry_after_ms":250}"#,
        None,
    );
    assert_eq!(
        busy.kind,
        OutcomeKind::Retryable {
            message: "simulated transient failure: mail server busy".into(),
            retry_after: Some(Duration::from_millis(250)),
        }
    );
    let retry = run("upper", "please retry");
    assert!(
        matches!(&retry.kind, OutcomeKind::Retryable { message, .. } if message.contains("asks for a retry (exit code 75)")),
        "{:?}",
        retry.kind
    );
    let fail = run("upper", "fail now");
    assert!(
        matches!(&fail.kind, OutcomeKind::Permanent { message } if message.contains("(exit code 1)")),
        "{:?}",
        fail.kind
    );
}

#[test]
fn adversarial_plugins_are_contained_and_the_host_survives() {
    let hog = run("fuel-hog", "");
    assert_eq!(hog.kind, OutcomeKind::OutOfFuel, "log: {}", hog.log);
    assert_eq!(hog.fuel_used, Limits::DEFAULT_FUEL);

    let refused = run("membomb", "");
    assert!(
        matches!(&refused.kind, OutcomeKind::Permanent { message } if message.starts_with("allocation refused after")),
        "{:?}",
        refused.kind
    );
    assert!(
        refused.peak_memory <= Limits::DEFAULT_MEMORY,
        "peak {} over the cap",
        refused.peak_memory
    );
    assert!(
        refused.peak_memory > Limits::DEFAULT_MEMORY / 2,
        "peak {} : it really allocated",
        refused.peak_memory
    );

    let small = Limits {
        memory: 16 << 20,
        ..Limits::default()
    };
    let bomb = run_with(&load("membomb"), r#"{"on_refusal":"abort"}"#, Some(small));
    assert_eq!(
        bomb.kind,
        OutcomeKind::OutOfMemory { limit: 16 << 20 },
        "log: {}",
        bomb.log
    );
    assert!(bomb.peak_memory <= 16 << 20);

    assert_eq!(run("recurse", "").kind, OutcomeKind::StackOverflow);

    let panicked = run("panic", "on purpose");
    match &panicked.kind {
        OutcomeKind::Panic { message } => {
            assert!(
                message.contains("plugin panicked on purpose: on purpose"),
                "{message}"
            );
            assert!(message.contains("panic/src/lib.rs"), "{message}");
        }
        other => panic!("expected a panic, got {other:?}"),
    }

    let big = run("bigout", r#"{"bytes":2097152}"#);
    assert_eq!(
        big.kind,
        OutcomeKind::OutputTooLarge {
            size: 2 << 20,
            limit: Limits::DEFAULT_MAX_OUTPUT
        }
    );
    assert_eq!(output_text(&run("bigout", r#"{"bytes":10}"#)).len(), 10);

    let tiny_output = Limits {
        max_output: 4,
        ..Limits::default()
    };
    let shout = run_with(&load("upper"), "too long for four bytes", Some(tiny_output));
    assert!(
        matches!(shout.kind, OutcomeKind::OutputTooLarge { limit: 4, size } if size > 4),
        "{:?}",
        shout.kind
    );

    // Still alive, and a normal task still works on the same runtime.
    assert_eq!(
        output_text(&run("echo", "after the storm")),
        "after the storm"
    );
}

#[test]
fn escape_finds_every_door_shut() {
    let outcome = run("escape", "");
    let report: serde_json::Value = serde_json::from_str(&output_text(&outcome)).unwrap();
    println!("escape report: {report}");
    for key in ["file", "hostname", "dir", "socket"] {
        let entry = report[key].as_str().unwrap_or_default();
        assert!(entry.starts_with("error"), "{key} was not denied: {entry}");
    }
    assert_eq!(report["env"], serde_json::json!([]), "environment leaked");
    assert!(
        report["home"].is_null() && report["path"].is_null(),
        "HOME/PATH leaked: {report}"
    );
}

#[test]
fn epoch_deadline_stops_an_endless_loop() {
    let timeout = Duration::from_millis(200);
    let limits = Limits {
        timeout,
        fuel: Limits::MAX_FUEL,
        ..Limits::default()
    };
    let outcome = run_with(&load("loop"), "", Some(limits));
    match outcome.kind {
        OutcomeKind::TimedOut { after } => {
            println!(
                "loop stopped {:?} after a {timeout:?} deadline ({:?} past it); fuel counted up to its last call: {}",
                after,
                after.saturating_sub(timeout),
                outcome.fuel_used
            );
            assert!(after >= timeout, "stopped before the deadline: {after:?}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn cancel_token_stops_a_run_from_another_thread() {
    let looping = load("loop");
    let limits = Limits {
        fuel: Limits::MAX_FUEL,
        ..Limits::default()
    };
    let cancel = CancelToken::new();
    let canceller = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            cancel.cancel();
            Instant::now()
        })
    };
    let mut invocation = Invocation::new("loop:cancel", "loop", Vec::new());
    invocation.limits = Some(limits);
    let outcome = looping.run_blocking(invocation, &cancel);
    let stopped = Instant::now();
    let cancelled_at = canceller.join().unwrap();
    println!(
        "loop stopped {:?} after cancel()",
        stopped.saturating_duration_since(cancelled_at)
    );
    assert_eq!(outcome.kind, OutcomeKind::Cancelled);

    // A token cancelled before the run stops it before it starts.
    let outcome = looping.run_blocking(Invocation::new("loop:pre", "loop", Vec::new()), &cancel);
    assert_eq!(
        (outcome.kind, outcome.fuel_used),
        (OutcomeKind::Cancelled, 0)
    );
}

#[test]
fn fuel_use_is_deterministic() {
    for (name, payload) in [
        ("cpu50", "fixed seed"),
        ("echo", r#"{"same":"payload"}"#),
        ("upper", "abc"),
    ] {
        let plugin = load(name);
        let fuel: Vec<u64> = (0..3)
            .map(|_| run_with(&plugin, payload, None).fuel_used)
            .collect();
        println!("{name}: fuel per run {fuel:?}");
        assert!(fuel[0] > 0);
        assert!(
            fuel.iter().all(|f| *f == fuel[0]),
            "{name} fuel varies: {fuel:?}"
        );
    }
}

#[test]
fn nothing_leaks_between_tasks() {
    let counter = load("counter");
    for attempt in 0..5 {
        assert_eq!(
            output_text(&run_with(&counter, "", None)),
            "1",
            "run {attempt} saw state of a previous run"
        );
    }
}

#[test]
fn concurrent_runs_do_not_mix() {
    let echo = load("echo");
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let echo = echo.clone();
            std::thread::spawn(move || {
                for j in 0..20 {
                    let payload = format!("thread {i} task {j}");
                    assert_eq!(output_text(&run_with(&echo, &payload, None)), payload);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no run panicked");
    }
}

#[test]
fn a_full_instance_pool_is_a_retryable_host_condition() {
    let host_busy = |outcome: &Outcome| matches!(&outcome.kind, OutcomeKind::Retryable { message, .. } if message.starts_with("host busy:"));
    let cache = tempfile::tempdir().unwrap();
    let single = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().to_owned()),
        max_instances: 1,
        ..RuntimeOptions::default()
    })
    .unwrap();
    let looping = single
        .load("loop", &plugin("loop"), Limits::default())
        .unwrap();
    let echo = single
        .load("echo", &plugin("echo"), Limits::default())
        .unwrap();
    let cancel = CancelToken::new();
    let busy = {
        let (looping, cancel) = (looping.clone(), cancel.clone());
        let limits = Limits {
            fuel: Limits::MAX_FUEL,
            ..Limits::default()
        };
        std::thread::spawn(move || {
            loop {
                let mut invocation = Invocation::new("loop:1", "loop", Vec::new());
                invocation.limits = Some(limits);
                let outcome = looping.run_blocking(invocation, &cancel);
                // The echo below may hold the only slot for a moment.
                if !host_busy(&outcome) {
                    return outcome;
                }
            }
        })
    };
    // Once the loop holds the only slot, echo cannot get an instance.
    let refused = (0..2000)
        .map(|_| run_with(&echo, "hi", None))
        .find(host_busy);
    cancel.cancel();
    assert_eq!(busy.join().unwrap().kind, OutcomeKind::Cancelled);
    let refused = refused.expect("echo was refused while the loop held the only instance slot");
    println!("{:?}", refused.kind);
    assert_eq!(
        output_text(&run_with(&echo, "free again", None)),
        "free again"
    );
}
