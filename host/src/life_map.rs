//! Keeps the "Life of a task" map in `lib.rs` true.
//!
//! The map is how a newcomer follows a task from `Client::enqueue` to
//! `ack.lua` without opening twelve files, so a stale hop costs every
//! reader. It names functions as `` `name()` `` or `` `Type::name()` ``, each
//! followed in the same hop by the `` `file.rs` `` that defines it; scripts
//! are named `` `x.lua` ``. This test reads the map and fails when a named
//! function is no longer defined in its file, a file is gone, or a script
//! is gone, so renaming or moving a hop means updating the map.

use std::collections::BTreeSet;
use std::path::Path;

/// One thing the map claims, which `check` disproved.
type Problem = String;

/// The `//!` lines from the "Life of a task" heading to the next heading
/// (or the end of the module docs).
fn map_of(lib: &str) -> String {
    let docs: Vec<&str> = lib
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| l.trim_start_matches("//!").trim())
        .collect();
    let start = docs
        .iter()
        .position(|l| *l == "## Life of a task")
        .expect("lib.rs has a `## Life of a task` section");
    docs[start + 1..]
        .iter()
        .take_while(|l| !l.starts_with("## "))
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits the map into hops: numbered steps and bullets.
fn hops(map: &str) -> Vec<String> {
    let mut hops = vec![String::new()];
    for word in map.split_whitespace() {
        let starts_hop = word == "*"
            || (word.ends_with('.') && word[..word.len() - 1].chars().all(|c| c.is_ascii_digit()));
        if starts_hop {
            hops.push(String::new());
        }
        let hop = hops.last_mut().expect("never empty");
        hop.push_str(word);
        hop.push(' ');
    }
    hops
}

/// The code spans of a hop, in order.
fn spans(hop: &str) -> Vec<&str> {
    hop.split('`').skip(1).step_by(2).collect()
}

/// Checks every hop of `lib` against the sources under `src`.
fn check(lib: &str, src: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    for hop in hops(&map_of(lib)) {
        let mut pending: Vec<&str> = Vec::new();
        for span in spans(&hop) {
            if let Some(name) = span.strip_suffix("()") {
                pending.push(name);
            } else if span.ends_with(".rs") {
                let path = src.join(span);
                let Ok(code) = std::fs::read_to_string(&path) else {
                    problems.push(format!("`{span}` does not exist under host/src"));
                    pending.clear();
                    continue;
                };
                for name in pending.drain(..) {
                    if let Some(problem) = defines(&code, name) {
                        problems.push(format!("`{name}()` in `{span}`: {problem}"));
                    }
                }
            } else if span.ends_with(".lua") && !src.join("broker/lua").join(span).is_file() {
                problems.push(format!("`{span}` is not in host/src/broker/lua"));
            }
        }
        for name in pending {
            problems.push(format!(
                "`{name}()` is not followed by the file that defines it"
            ));
        }
    }
    problems
}

/// Whether `code` defines the function `name` (`Type::f` or `f`); `None`
/// when it does.
fn defines(code: &str, name: &str) -> Option<String> {
    let (owner, function) = match name.rsplit_once("::") {
        Some((owner, function)) => (Some(owner), function),
        None => (None, name),
    };
    let defined = [format!("fn {function}("), format!("fn {function}<")]
        .iter()
        .any(|d| code.contains(d.as_str()));
    if !defined {
        return Some(format!("no `fn {function}` there"));
    }
    let owner = owner?;
    let owners: BTreeSet<String> = [
        format!("impl {owner} "),
        format!("impl {owner}<"),
        format!("impl<T> {owner}<"),
        format!("trait {owner} "),
    ]
    .into_iter()
    .filter(|o| code.contains(o.as_str()))
    .collect();
    owners
        .is_empty()
        .then(|| format!("no `impl {owner}` there"))
}

#[test]
fn every_hop_of_the_map_exists() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("read lib.rs");
    let problems = check(&lib, &src);
    assert!(
        problems.is_empty(),
        "the Life of a task map in host/src/lib.rs is out of date:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn a_stale_hop_is_caught() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = "//! ## Life of a task\n\
        //! 1. `Client::enqueue()` (`broker/enqueue.rs`) then `Client::enqueue_gone()`\n\
        //!    (`broker/enqueue.rs`), `Nobody::lease()` (`broker/lease.rs`),\n\
        //!    `missing.lua` and `f()` (`nowhere.rs`), and `orphan()`.\n\
        //! ## Next\n";
    let problems = check(lib, &src);
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert!(problems[0].contains("enqueue_gone"), "{problems:#?}");
    assert!(problems[1].contains("no `impl Nobody`"), "{problems:#?}");
    assert!(problems[2].contains("missing.lua"), "{problems:#?}");
    assert!(problems[3].contains("nowhere.rs"), "{problems:#?}");
    assert!(problems[4].contains("orphan"), "{problems:#?}");
}
