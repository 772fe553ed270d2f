//! The contract's versions at the runtime: a plugin built against 0.1
//! still runs on this 0.2 host, and a 0.2 flow parent is handed its
//! children's outcomes (`task.children`). The broker side, capturing those
//! outcomes, is in `broker_flow_results.rs`; a host running a real flow,
//! in `flows.rs`.

use std::sync::OnceLock;
use wasmq::config::Limits;
use wasmq::runtime::{CancelToken, Invocation, OutcomeKind, Plugin, Runtime};
use wasmq::task::{ChildResult, ChildState};
use wasmq_tests::plugins::{output_text, plugin, test_runtime};

fn load(name: &str) -> Plugin {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| test_runtime(2))
        .load(name, &plugin(name), Limits::default())
        .unwrap_or_else(|e| panic!("load {name}: {e}"))
}

/// A plugin built against contract 0.1 (before `task.children`) loads and
/// runs on this 0.2 host, its `log` and `progress` imports included; a 0.2
/// flow parent is handed its children's outcomes in order.
#[test]
fn both_contract_versions_run_and_0_2_sees_the_children() {
    let old = load("contract-v01").run_blocking(
        Invocation::new("old:1", "old", b"payload".to_vec()),
        &CancelToken::new(),
    );
    assert_eq!(output_text(&old), "payload");
    assert!(
        matches!(&old.kind, OutcomeKind::Success { content_type: Some(t), .. } if t == "application/x-wasmq-v0.1")
    );
    assert!(old.log.contains("contract 0.1 handler ran"), "{}", old.log);
    assert_eq!(old.progress.as_ref().map(|(p, _)| *p), Some(100));

    let child = |n: u32, state, output: Option<&str>, error: Option<&str>| ChildResult {
        id: format!("echo:c-1-{n}").parse().unwrap(),
        state,
        output: output.map(|o| o.as_bytes().to_vec()),
        content_type: None,
        error: error.map(str::to_owned),
    };
    let fanin = load("fanin");
    let mut invocation = Invocation::new("report:f-1", "report", b"{}".to_vec());
    invocation.children = vec![
        child(0, ChildState::Completed, Some("40"), None),
        child(1, ChildState::Dead, None, Some("boom")),
        child(2, ChildState::Completed, Some("2"), None),
        child(3, ChildState::Gone, None, None),
    ];
    let outcome = fanin.run_blocking(invocation, &CancelToken::new());
    let report: serde_json::Value = serde_json::from_str(&output_text(&outcome)).unwrap();
    assert_eq!(report["children"], 4, "{report}");
    assert_eq!(report["sum"], 42, "{report}");
    assert_eq!(report["errors"]["echo:c-1-1"], "boom", "{report}");
    assert_eq!(report["states"]["gone"], 1, "{report}");
    assert_eq!(report["ids"][3], "echo:c-1-3", "in order: {report}");
}
