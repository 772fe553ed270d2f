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
cargo build -p wasmq --bin wasmq

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@"
else
    cargo test --workspace --no-fail-fast "$@"
fi
