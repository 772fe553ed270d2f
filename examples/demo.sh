#!/usr/bin/env bash
# The README's first command: everything needed to see wasmq work, on a fresh
# machine. Installs what is missing (wasm targets, redis-server), builds the
# example plugins, then runs `wasmq dev --demo`: a private Redis on a free
# port, a host with the dashboard, and the example workload (emails, some with
# bad addresses that end up dead-lettered, and image jobs). Ctrl-C stops it
# all and removes the private Redis. Extra arguments go to `wasmq dev`, e.g.
#   bash examples/demo.sh --exit-when-done
#   bash examples/demo.sh --http 127.0.0.1:8080 --redis-port 6390
# The first run compiles wasmq (and wasmtime, its WebAssembly engine): that
# takes several minutes on a laptop, and cargo shows its progress as it goes.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x "${CARGO_TARGET_DIR:-target}/debug/wasmq" ] || [ ! -d plugins/target ]; then
  echo "==> First run: building wasmq and the example plugins. This takes several"
  echo "    minutes (wasmtime is a large crate); later runs start in seconds."
fi

bash tests/deps.sh --no-browser
echo "==> Building the example plugins (cargo shows its progress)"
bash plugins/build.sh --rust-only
# Serve the example plugins only: plugins/dist also holds the adversarial
# plugins the tests use (an infinite loop, a memory bomb, broken contracts).
demo=target/demo-plugins
mkdir -p "$demo"
for p in email image echo noop cpu50 upper; do cp -p "plugins/dist/$p.wasm" "$demo/"; done
echo "==> Building wasmq (cargo shows its progress)"
cargo build -p wasmq --bin wasmq
echo "==> Starting wasmq dev --demo"
exec "${CARGO_TARGET_DIR:-target}/debug/wasmq" dev --plugins "$demo" --demo "$@"
