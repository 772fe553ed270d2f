#!/usr/bin/env bash
# The README's test command. Works on a fresh machine: installs what is
# missing (tests/deps.sh), builds the plugins and the binary, then runs the
# whole suite against real redis-server processes and real plugins.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== dependencies"
bash tests/deps.sh

echo "== plugins"
bash plugins/build.sh

echo "== build"
# One build for the binary and the tests: built apart, their features
# differ and wasmtime compiles twice (tests/src/plugins.rs wasmq_bin).
cargo build --workspace --all-targets

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@"
else
    cargo test --workspace --no-fail-fast "$@"
fi
