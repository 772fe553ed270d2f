use super::*;
use crate::config::PluginManifest;
use std::time::Duration;

fn path() -> PathBuf {
    PathBuf::from("/plugins/mail.wasm")
}

#[test]
fn errors_are_listed_but_not_served() {
    let registry = Registry::new();
    assert_eq!(registry.generation(), 0);
    registry.set_error(
        "mail",
        path(),
        Origin::Directory,
        Some("mail.wasm is broken".into()),
    );
    assert_eq!(registry.generation(), 1);
    assert!(registry.types().is_empty());
    assert!(registry.get("mail").is_none());
    let entries = registry.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].task_type, "mail");
    assert_eq!(entries[0].error.as_deref(), Some("mail.wasm is broken"));
    assert!(!entries[0].is_serving());
    assert_eq!(registry.known_types(), ["mail"]);
}

#[test]
fn only_real_changes_bump_the_generation() {
    let registry = Registry::new();
    let mut changes = registry.subscribe();
    registry.set_error("mail", path(), Origin::Directory, None);
    assert_eq!(registry.generation(), 0, "clearing nothing is no change");
    registry.set_error("mail", path(), Origin::Directory, Some("bad".into()));
    registry.set_error("mail", path(), Origin::Directory, Some("bad".into()));
    assert_eq!(
        registry.generation(),
        1,
        "the same error twice is one change"
    );
    assert!(changes.has_changed().unwrap());
    changes.mark_unchanged();
    registry.set_error("mail", path(), Origin::Directory, None);
    assert!(registry.entries().is_empty(), "an empty slot is dropped");
    assert!(changes.has_changed().unwrap());
    assert!(!registry.remove("mail"));
    registry.set_error("mail", path(), Origin::Directory, Some("bad".into()));
    assert!(registry.remove("mail"));
    assert!(registry.entries().is_empty());
    assert_eq!(registry.generation(), 4);
}

#[test]
fn policy_takes_the_worker_settings_of_the_manifest() {
    assert_eq!(PluginPolicy::from_manifest(None), PluginPolicy::default());
    let manifest = PluginManifest {
        max_retries: Some(3),
        backoff_cap: Some(Duration::from_secs(60)),
        fuel: Some(10),
        ..PluginManifest::default()
    };
    let policy = PluginPolicy::from_manifest(Some(&manifest));
    assert_eq!(policy.max_retries, Some(3));
    assert_eq!(policy.max_concurrency, None);
    let json = serde_json::to_value(&policy).unwrap();
    assert_eq!(json["backoff_cap"], "1m");
    assert_eq!(json["backoff_base"], serde_json::Value::Null);
}
