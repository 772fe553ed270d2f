#!/usr/bin/env bash
# Installs what wasmq's demo, tests and benchmark need on a fresh machine:
# the wasm targets, redis-server and redis-cli, and (unless
# WASMQ_SKIP_BROWSER is set, or with --no-browser) Chromium for the dashboard
# test. Safe to run again: it only installs what is missing.
set -euo pipefail

browser=1
if [ "${1:-}" = "--no-browser" ] || [ -n "${WASMQ_SKIP_BROWSER:-}" ]; then browser=; fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
    echo "installing $* with apt-get" >&2
    if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

installed=$(rustup target list --installed)
for t in wasm32-wasip1 wasm32-wasip2; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
done
command -v redis-server >/dev/null || apt_install redis-server
command -v redis-cli >/dev/null || apt_install redis-tools
command -v openssl >/dev/null || apt_install openssl
if [ -n "$browser" ] && ! command -v chromium >/dev/null; then
    apt_install chromium
fi
