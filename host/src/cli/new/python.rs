//! The Python project of `wasmq new`: a module componentized with
//! componentize-py against the `task-handler` world, with its own copy of
//! the thin SDK (`wasmq_plugin/`).

/// plugins/build.sh's pin of componentize-py, which the project gets too
/// (one source, so the versions cannot drift apart).
const REQUIREMENTS: &str = include_str!("../../../../plugins/toolchains/py/requirements.txt");

/// The componentize-py version of [`REQUIREMENTS`].
pub fn componentize_py() -> &'static str {
    REQUIREMENTS
        .lines()
        .find_map(|line| line.trim().strip_prefix("componentize-py=="))
        .expect("plugins/toolchains/py/requirements.txt pins componentize-py==VERSION")
}

const SDK: &[(&str, &str)] = &[
    (
        "__init__.py",
        include_str!("../../../../plugin-sdk-py/wasmq_plugin/__init__.py"),
    ),
    (
        "_bindings.py",
        include_str!("../../../../plugin-sdk-py/wasmq_plugin/_bindings.py"),
    ),
    (
        "errors.py",
        include_str!("../../../../plugin-sdk-py/wasmq_plugin/errors.py"),
    ),
    (
        "log.py",
        include_str!("../../../../plugin-sdk-py/wasmq_plugin/log.py"),
    ),
    (
        "config.py",
        include_str!("../../../../plugin-sdk-py/wasmq_plugin/config.py"),
    ),
    (
        "http.py",
        include_str!("../../../../plugin-sdk-py/wasmq_plugin/http.py"),
    ),
    (
        "kv.py",
        include_str!("../../../../plugin-sdk-py/wasmq_plugin/kv.py"),
    ),
];

pub fn files(name: &str) -> Vec<(String, String)> {
    let version = componentize_py();
    let mut files: Vec<(String, String)> = SDK
        .iter()
        .map(|(path, text)| (format!("wasmq_plugin/{path}"), (*text).to_owned()))
        .collect();
    files.extend([
        (
            "app.py".into(),
            r#""""The handler: the host calls it once per task, in a fresh sandbox."""

import wasmq_plugin
from wasmq_plugin import Output, log

from greet import greet


def handle(task) -> Output:
    payload = task.json()  # bad JSON: a permanent error
    name = payload.get("name") if isinstance(payload, dict) else None
    reply = greet(name if isinstance(name, str) else "")
    log.info(f"greeted on attempt {task.attempt}")
    return Output.text(reply)


Handler = wasmq_plugin.handler(handle)
"#
            .into(),
        ),
        (
            "greet.py".into(),
            r#""""The handler's logic, free of WIT bindings so `python3 -m unittest` checks it."""

from wasmq_plugin import TaskError


def greet(name: str) -> str:
    name = name.strip()
    if not name:
        # Permanent: retrying the same payload cannot help.
        raise TaskError.permanent('the payload has no name: send {"name": "..."}')
    return f"hello, {name}"
"#
            .into(),
        ),
        (
            "test_greet.py".into(),
            r#"import unittest

from greet import greet
from wasmq_plugin import TaskError


class GreetTest(unittest.TestCase):
    def test_greets_the_name_and_refuses_an_empty_one(self):
        self.assertEqual(greet(" world "), "hello, world")
        with self.assertRaises(TaskError) as raised:
            greet("  ")
        self.assertEqual(raised.exception.kind, "permanent")


if __name__ == "__main__":
    unittest.main()
"#
            .into(),
        ),
        (
            "build.sh".into(),
            format!(
                r#"#!/usr/bin/env bash
# Builds {name}.wasm with componentize-py ($COMPONENTIZE_PY, else the one
# on PATH: pip install --no-deps -r requirements.txt). The world is
# `task-handler`; use `http-handler` to call APIs with wasmq_plugin.http,
# granted in {name}.toml.
set -euo pipefail
cd "$(dirname "$0")"
componentize="${{COMPONENTIZE_PY:-componentize-py}}"
command -v "$componentize" >/dev/null || {{
    echo "build.sh: componentize-py is missing: pip install --no-deps -r requirements.txt (componentize-py=={version})" >&2
    exit 1
}}
PYTHONDONTWRITEBYTECODE=1 "$componentize" -d wit -w task-handler componentize app -o {name}.wasm >/dev/null
echo "built {name}.wasm"
"#
            ),
        ),
        (
            "README.md".into(),
            format!(
                r#"# {name}

A wasmq plugin in Python, built with componentize-py {version} (pinned in
`requirements.txt`: `pip install --no-deps -r requirements.txt`).
Test its logic, build it and run one task:

    python3 -m unittest
    bash build.sh              # componentize-py -w task-handler componentize app -> {name}.wasm
    wasmq call {name}.wasm --payload '{{"name": "world"}}'

Deploy it by copying `{name}.wasm` and its manifest `{name}.toml` into a
host's plugins directory: tasks of type `{name}` then run it.
"#
            ),
        ),
        (".gitignore".into(), format!("__pycache__/\n/{name}.wasm\n")),
        ("requirements.txt".into(), REQUIREMENTS.to_owned()),
    ]);
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_pins_the_componentize_py_of_plugins_build_sh() {
        let polyglot = include_str!("../../../../plugins/polyglot.sh");
        assert!(
            polyglot.contains("-r \"$pins/py/requirements.txt\""),
            "plugins/polyglot.sh installs plugins/toolchains/py/requirements.txt"
        );
        let version = componentize_py();
        assert!(
            !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.'),
            "an exact version: {version}"
        );
        let files = files("greet");
        let text = |path: &str| &files.iter().find(|(p, _)| p == path).unwrap().1;
        assert_eq!(text("requirements.txt"), REQUIREMENTS);
        assert!(text("README.md").contains(&format!("componentize-py {version}")));
    }
}
