#!/usr/bin/env bash
# The per-language cost table of docs/benchmarks.md: `wasmq bench --plugin`
# on the same handler in Rust, JavaScript and Python (`email`, `email-js`,
# `email-py`, each with its manifest), on `noop`, and on the command
# plugins `upper` (Rust) and `upper-go` (Go, when built).
#
# The email runs take the `simulate: transient` path: the handler parses and
# checks the payload and returns a retryable error without any HTTP, so
# "per task" is instantiate + a call that does almost nothing.
#
#   bash plugins/bench-languages.sh [path/to/wasmq]     (RUNS=100 by default)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
wasmq="${1:-$here/../target/debug/wasmq}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
export MAIL_TOKEN=bench-token
for type in email email-js email-py; do
    cp "$here/dist/$type.wasm" "$dir/"
    printf '[capabilities]\nhttp = ["http://127.0.0.1:8025"]\n[config]\nmail_api = "http://127.0.0.1:8025/v1/messages"\n[secrets]\nmail_token = "env:MAIL_TOKEN"\n' >"$dir/$type.toml"
done
transient='{"to":"a@b.c","subject":"s","simulate":"transient"}'
bench() { # <file> <payload>
    "$wasmq" bench --plugin "$1" --payload "$2" --runs "${RUNS:-100}" --concurrency 8
}
bench "$here/dist/noop.wasm" '{}'
for type in email email-js email-py; do bench "$dir/$type.wasm" "$transient"; done
bench "$here/dist/upper.wasm" hello
if [[ -f "$here/dist/upper-go.wasm" ]]; then bench "$here/dist/upper-go.wasm" hello; fi
