//! The JavaScript project of `wasmq new`: an ES module componentized with
//! componentize-js against the `task-handler` world, with its own copy of
//! the thin SDK (`wasmq-plugin-sdk/`).
//!
//! Its toolchain is the one plugins/build.sh installs: the project's
//! `package.json` takes its dependencies, and its `package-lock.json` is
//! the same lock, from plugins/toolchains/js (one source for both, so the
//! versions cannot drift apart).

use serde_json::{Value, json};

/// plugins/build.sh's pinned JS toolchain: its package.json and lock.
const TOOLCHAIN: &str = include_str!("../../../../plugins/toolchains/js/package.json");
const TOOLCHAIN_LOCK: &str = include_str!("../../../../plugins/toolchains/js/package-lock.json");

/// The handler's logic and its unit test; the handler is `NAME.js`.
pub const LOGIC: &str = "greet_logic.js";
pub const TEST: &str = "greet_logic.test.js";

const SDK: &[(&str, &str)] = &[
    (
        "package.json",
        include_str!("../../../../plugin-sdk-js/package.json"),
    ),
    (
        "index.js",
        include_str!("../../../../plugin-sdk-js/index.js"),
    ),
    (
        "types.js",
        include_str!("../../../../plugin-sdk-js/types.js"),
    ),
    (
        "config.js",
        include_str!("../../../../plugin-sdk-js/config.js"),
    ),
    ("http.js", include_str!("../../../../plugin-sdk-js/http.js")),
    (
        "http_parts.js",
        include_str!("../../../../plugin-sdk-js/http_parts.js"),
    ),
    ("kv.js", include_str!("../../../../plugin-sdk-js/kv.js")),
];

pub fn files(name: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = SDK
        .iter()
        .map(|(path, text)| (format!("wasmq-plugin-sdk/{path}"), (*text).to_owned()))
        .collect();
    files.extend([
        ("package.json".into(), package(name)),
        ("package-lock.json".into(), lock(name)),
        (
            format!("{name}.js"),
            r#"// The handler: the host calls `handle` once per task, in a fresh sandbox.
import { handler, log, Output } from './wasmq-plugin-sdk/index.js';
import { greet } from './greet_logic.js';

export const handler_ = handler((task) => {
  const payload = task.json(); // bad JSON: a permanent error
  const reply = greet(typeof payload?.name === 'string' ? payload.name : '');
  log.info(`greeted on attempt ${task.attempt}`);
  return Output.text(reply);
});
export { handler_ as handler };
"#
            .into(),
        ),
        (
            // Not `greet.js`: a plugin called `greet` has its handler there.
            // `_` is never in a plugin name, so no name can clash with it.
            LOGIC.into(),
            r#"// The handler's logic, free of WIT imports so that `node --test` checks it.
import { TaskError } from './wasmq-plugin-sdk/types.js';

export function greet(name) {
  const trimmed = name.trim();
  if (trimmed === '') {
    // Permanent: retrying the same payload cannot help.
    throw TaskError.permanent('the payload has no name: send {"name": "..."}');
  }
  return `hello, ${trimmed}`;
}
"#
            .into(),
        ),
        (
            TEST.into(),
            r#"import { test } from 'node:test';
import assert from 'node:assert/strict';
import { greet } from './greet_logic.js';

test('greets the name and refuses an empty one', () => {
  assert.equal(greet(' world '), 'hello, world');
  assert.throws(() => greet('  '), (e) => e.kind === 'permanent');
});
"#
            .into(),
        ),
        (
            "build.sh".into(),
            format!(
                r#"#!/usr/bin/env bash
# Builds {name}.wasm with componentize-js (installed by `npm ci`, or
# the one named by $COMPONENTIZE_JS). HTTP is left out: the world is
# `task-handler`; use `http-handler` (and drop `http` from --disable) to
# call APIs with the SDK's http.js, granted in {name}.toml.
set -euo pipefail
cd "$(dirname "$0")"
componentize="${{COMPONENTIZE_JS:-node_modules/.bin/componentize-js}}"
command -v node >/dev/null || {{ echo "build.sh: node is missing: install Node.js 20.19+ and npm" >&2; exit 1; }}
version="$(node --version)"
major="$(sed -n 's/^v\([0-9]*\)\..*/\1/p' <<<"$version")"
minor="$(sed -n 's/^v[0-9]*\.\([0-9]*\)\..*/\1/p' <<<"$version")"
if [[ -z "$major" || "$major" -lt 20 || ("$major" -eq 20 && "$minor" -lt 19) ]]; then
    echo "build.sh: node is $version, and componentize-js needs Node.js 20.19+: install it (https://nodejs.org)" >&2
    exit 1
fi
if [[ ! -x "$componentize" ]]; then
    command -v npm >/dev/null || {{ echo "build.sh: npm is missing: install Node.js 20.19+ and npm" >&2; exit 1; }}
    npm ci --no-audit --no-fund --loglevel=error
fi
"$componentize" {name}.js --wit wit --world-name task-handler --disable stdio fetch-event http -o {name}.wasm
echo "built {name}.wasm"
"#
            ),
        ),
        (
            "README.md".into(),
            format!(
                r#"# {name}

A wasmq plugin in JavaScript, built with componentize-js {version}
(Node.js 20.19+; `package-lock.json` pins every dependency).
Test its logic, build it and run one task:

    node --test
    bash build.sh              # npm ci, then componentize-js {name}.js -> {name}.wasm
    wasmq call {name}.wasm --payload '{{"name": "world"}}'

Deploy it by copying `{name}.wasm` and its manifest `{name}.toml` into a
host's plugins directory: tasks of type `{name}` then run it.
"#,
                version = componentize_js()
            ),
        ),
        (".gitignore".into(), format!("/node_modules\n/{name}.wasm\n")),
    ]);
    files
}

fn toolchain() -> Value {
    serde_json::from_str(TOOLCHAIN).expect("plugins/toolchains/js/package.json is JSON")
}

/// The componentize-js version plugins/build.sh pins.
pub fn componentize_js() -> String {
    toolchain()["dependencies"]["@bytecodealliance/componentize-js"]
        .as_str()
        .expect("plugins/toolchains/js/package.json pins componentize-js")
        .to_owned()
}

/// The project's package.json: the toolchain's dependencies and engines.
fn package(name: &str) -> String {
    let toolchain = toolchain();
    let package = json!({
        "name": name,
        "private": true,
        "type": "module",
        "scripts": { "build": "bash build.sh", "test": "node --test" },
        "engines": toolchain["engines"],
        "dependencies": toolchain["dependencies"],
    });
    serde_json::to_string_pretty(&package).expect("JSON") + "\n"
}

/// The toolchain's lock, renamed for the project: `npm ci` installs it.
fn lock(name: &str) -> String {
    TOOLCHAIN_LOCK.replace(
        "\"name\": \"wasmq-js-toolchain\"",
        &format!("\"name\": \"{name}\""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_pins_the_toolchain_of_plugins_build_sh() {
        // plugins/polyglot.sh installs plugins/toolchains/js; the project
        // gets the same dependencies and the same lock, renamed.
        let polyglot = include_str!("../../../../plugins/polyglot.sh");
        assert!(
            polyglot.contains("npm ci") && polyglot.contains("$pins/js/package-lock.json"),
            "plugins/polyglot.sh installs the committed lock"
        );
        let version = componentize_js();
        assert!(
            version.chars().all(|c| c.is_ascii_digit() || c == '.'),
            "an exact version, not a range: {version}"
        );
        let package: Value = serde_json::from_str(&package("greet")).unwrap();
        assert_eq!(package["name"], "greet");
        assert_eq!(package["dependencies"], toolchain()["dependencies"]);
        let lock: Value = serde_json::from_str(&lock("greet")).unwrap();
        assert_eq!(lock["name"], "greet");
        assert_eq!(lock["packages"][""]["name"], "greet");
        assert_eq!(
            lock["packages"][""]["dependencies"],
            package["dependencies"]
        );
        let locked = &lock["packages"]["node_modules/@bytecodealliance/componentize-js"]["version"];
        assert_eq!(locked.as_str(), Some(componentize_js().as_str()));
    }

    #[test]
    fn the_logic_file_never_clashes_with_the_handler() {
        for name in ["greet", "greet-logic", "hello"] {
            let files = files(name);
            let handler = format!("{name}.js");
            let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
            let unique: std::collections::BTreeSet<&str> = paths.iter().copied().collect();
            assert_eq!(
                unique.len(),
                paths.len(),
                "{name}: a file written twice: {paths:?}"
            );
            let text = |path: &str| &files.iter().find(|(p, _)| p == path).unwrap().1;
            assert!(
                text(&handler).contains("export { handler_ as handler }"),
                "{name}"
            );
            assert!(text(LOGIC).contains("export function greet"), "{name}");
            assert!(text(TEST).contains("from './greet_logic.js'"), "{name}");
        }
    }
}
