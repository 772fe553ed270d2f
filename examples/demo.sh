#!/usr/bin/env bash
# The README's first command: everything needed to see wasmq work, on a fresh
# machine. Installs what is missing (wasm targets, redis-server), builds the
# example plugins, then runs `wasmq dev --demo`: a private Redis on a free
# port, a host with the dashboard, and the example workload (emails, some with
# bad addresses that end up dead-lettered, and image jobs). Ctrl-C stops it
# all and removes the private Redis. Extra arguments go to `wasmq dev`, e.g.
#   bash examples/demo.sh --exit-when-done
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/deps.sh --no-browser
bash plugins/build.sh
# Serve the example plugins only: plugins/dist also holds the adversarial
# plugins the tests use (an infinite loop, a memory bomb, broken contracts).
demo=target/demo-plugins
mkdir -p "$demo"
for p in email image echo noop cpu50 upper; do cp -p "plugins/dist/$p.wasm" "$demo/"; done
exec cargo run --quiet -p wasmq -- dev --plugins "$demo" --demo "$@"
