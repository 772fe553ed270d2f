#!/usr/bin/env bash
# Installs what wasmq's demo, tests and benchmark need on a fresh machine:
# the wasm targets, redis-server and redis-cli, Node.js and Python (for the
# JavaScript and Python plugins; plugins/build.sh installs their pinned
# toolchains), Go 1.21+ where Debian has it (the Go example), and (unless
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
command -v node >/dev/null || apt_install nodejs
command -v npm >/dev/null || apt_install npm
command -v python3 >/dev/null || apt_install python3
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
# Go: GOOS=wasip1 needs 1.21+; Debian 12 has it in bookworm-backports.
# (No Go at all must not stop the script: `|| true` keeps pipefail quiet.)
go_minor=$( (go env GOVERSION 2>/dev/null || /usr/lib/go-1.23/bin/go env GOVERSION 2>/dev/null || true) | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if [ "${go_minor:-0}" -lt 21 ] && grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release; then
    list=/etc/apt/sources.list.d/bookworm-backports.list
    grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/ ||
        echo "deb http://deb.debian.org/debian bookworm-backports main" | as_root tee "$list" >/dev/null
    apt_updated=
    DEBIAN_FRONTEND=noninteractive apt_install -t bookworm-backports golang-1.23-go ||
        echo "deps.sh: Go 1.23 did not install: the Go example plugin will be skipped" >&2
fi
if [ -n "$browser" ] && ! command -v chromium >/dev/null; then
    apt_install chromium
fi
