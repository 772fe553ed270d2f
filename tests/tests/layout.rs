//! The module layout of the root workspace: a module is `name.rs` beside
//! `name/`, never `name/mod.rs`, and never placed with `#[path]`.
//!
//! Clippy's `mod_module_files` (on for the workspace) enforces the first
//! rule, but by design it skips every file under a directory named `tests`
//! (integration tests there traditionally share code through `mod.rs`), and
//! this crate lives in `tests/`; and no lint flags `#[path]`. This test
//! checks both rules over the whole workspace, this crate included. The
//! separate `plugins/` workspace keeps its own conventions.

use std::path::{Path, PathBuf};
use wasmq_tests::plugins::workspace_root;

/// Every `.rs` file under `dir`, skipping build output, hidden directories
/// and the `plugins/` workspace.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("read a directory entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let other_workspace = path == workspace_root().join("plugins");
            if !(name.starts_with('.') || name == "target" || other_workspace) {
                rust_files(&path, found);
            }
        } else if name.ends_with(".rs") {
            found.push(path);
        }
    }
}

/// Whether `source` places a module with a `path = "..."` attribute (a
/// mention of the attribute's name in prose is fine).
fn has_path_attribute(source: &str) -> bool {
    source
        .match_indices("#[path")
        .any(|(at, found)| source[at + found.len()..].trim_start().starts_with('='))
}

#[test]
fn path_attributes_are_told_from_mentions() {
    // Spelled in pieces so that this file does not match itself.
    assert!(has_path_attribute(concat!(
        "#[",
        "path = \"a/b.rs\"]\nmod b;"
    )));
    assert!(has_path_attribute(concat!("#[", "path=\"b.rs\"] mod b;")));
    assert!(!has_path_attribute("//! never placed with `#[path]`"));
}

#[test]
fn modules_are_self_named_files_without_path_attributes() {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("tests/src/lib.rs")),
        "the walk must reach this crate: {files:?}"
    );
    let offenders: Vec<String> = files
        .iter()
        .filter(|file| {
            file.ends_with("mod.rs")
                || has_path_attribute(
                    &std::fs::read_to_string(file)
                        .unwrap_or_else(|e| panic!("read {}: {e}", file.display())),
                )
        })
        .map(|file| file.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "use `name.rs` beside `name/` and plain `mod name;` instead: {offenders:?}"
    );
}
