//! The JavaScript project of `wasmq new`: an ES module componentized with
//! componentize-js against the `task-handler` world, with its own copy of
//! the thin SDK (`wasmq-plugin-sdk/`).

/// componentize-js, pinned as in plugins/polyglot.sh.
const COMPONENTIZE_JS: &str = "0.23.0";

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
    ("kv.js", include_str!("../../../../plugin-sdk-js/kv.js")),
];

pub fn files(name: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = SDK
        .iter()
        .map(|(path, text)| (format!("wasmq-plugin-sdk/{path}"), (*text).to_owned()))
        .collect();
    files.extend([
        (
            "package.json".into(),
            format!(
                r#"{{
  "name": "{name}",
  "private": true,
  "type": "module",
  "scripts": {{
    "build": "bash build.sh",
    "test": "node --test"
  }},
  "devDependencies": {{
    "@bytecodealliance/componentize-js": "{COMPONENTIZE_JS}"
  }}
}}
"#
            ),
        ),
        (
            format!("{name}.js"),
            r#"// The handler: the host calls `handle` once per task, in a fresh sandbox.
import { handler, log, Output } from './wasmq-plugin-sdk/index.js';
import { greet } from './greet.js';

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
            "greet.js".into(),
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
            "greet.test.js".into(),
            r#"import { test } from 'node:test';
import assert from 'node:assert/strict';
import { greet } from './greet.js';

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
# Builds {name}.wasm with componentize-js (installed by `npm install`, or
# the one named by $COMPONENTIZE_JS). HTTP is left out: the world is
# `task-handler`; use `http-handler` (and drop `http` from --disable) to
# call APIs with the SDK's http.js, granted in {name}.toml.
set -euo pipefail
cd "$(dirname "$0")"
componentize="${{COMPONENTIZE_JS:-node_modules/.bin/componentize-js}}"
if [[ ! -x "$componentize" ]]; then
    command -v npm >/dev/null || {{ echo "build.sh: npm is missing: install Node.js 18+ and npm" >&2; exit 1; }}
    npm install --no-audit --no-fund --loglevel=error
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

A wasmq plugin in JavaScript, built with componentize-js {COMPONENTIZE_JS}.
Test its logic, build it and run one task:

    node --test
    bash build.sh              # npm install, then componentize-js {name}.js -> {name}.wasm
    wasmq call {name}.wasm --payload '{{"name": "world"}}'

Deploy it by copying `{name}.wasm` and its manifest `{name}.toml` into a
host's plugins directory: tasks of type `{name}` then run it.
"#
            ),
        ),
        (".gitignore".into(), format!("/node_modules\n/{name}.wasm\n")),
    ]);
    files
}
