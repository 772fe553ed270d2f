//! The Rust project of `wasmq new`: a wasm32-wasip2 component built with
//! cargo and the plugin SDK of this checkout.

use std::path::Path;

pub fn files(name: &str, sdk: &Path) -> Vec<(String, String)> {
    let file = name.replace('-', "_");
    let sdk = sdk.display().to_string().replace('\\', "/");
    vec![
        (
            "Cargo.toml".into(),
            format!(
                r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
wasmq-plugin-sdk = {{ path = "{sdk}" }}
serde_json = "1"

# A project of its own, even inside another cargo workspace.
[workspace]
"#
            ),
        ),
        (
            "src/lib.rs".into(),
            format!(
                r##"//! `{name}`: a wasmq plugin. The host calls `handle` once per task, in a
//! fresh sandbox; it greets the `name` of its JSON payload.

use wasmq_plugin_sdk::{{Output, Task, TaskError, info}};

#[wasmq_plugin_sdk::handler]
fn handle(task: Task) -> Result<Output, TaskError> {{
    let payload: serde_json::Value = task.json()?; // bad JSON: a permanent error
    let reply = greet(payload["name"].as_str().unwrap_or_default())?;
    info!("greeted on attempt {{}}", task.attempt);
    Ok(Output::text(reply))
}}

/// The handler's logic, kept apart so that `cargo test` checks it natively.
fn greet(name: &str) -> Result<String, TaskError> {{
    let name = name.trim();
    if name.is_empty() {{
        // Permanent: retrying the same payload cannot help.
        return Err(TaskError::permanent(r#"the payload has no name: send {{"name": "..."}}"#));
    }}
    Ok(format!("hello, {{name}}"))
}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn greets_the_name_and_refuses_an_empty_one() {{
        assert_eq!(greet(" world ").unwrap(), "hello, world");
        assert!(greet("  ").is_err());
    }}
}}
"##
            ),
        ),
        (
            "build.sh".into(),
            format!(
                r#"#!/usr/bin/env bash
# Builds {name}.wasm (a wasm32-wasip2 component) next to this script.
set -euo pipefail
cd "$(dirname "$0")"
rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
cargo build --release --quiet --target wasm32-wasip2
target="${{CARGO_TARGET_DIR:-target}}"
cp "$target/wasm32-wasip2/release/{file}.wasm" {name}.wasm
echo "built {name}.wasm"
"#
            ),
        ),
        (
            "README.md".into(),
            format!(
                r#"# {name}

A wasmq plugin in Rust. Test its logic, build it and run one task:

    cargo test
    bash build.sh              # cargo build --release --target wasm32-wasip2, then copies {name}.wasm here
    wasmq call {name}.wasm --payload '{{"name": "world"}}'

Deploy it by copying `{name}.wasm` and its manifest `{name}.toml` into a
host's plugins directory: tasks of type `{name}` then run it.
"#
            ),
        ),
        (".gitignore".into(), format!("/target\n/{name}.wasm\n")),
    ]
}
