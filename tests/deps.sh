#!/usr/bin/env bash
# Installs what wasmq's demo, tests and benchmark need on a fresh machine:
# the wasm targets, redis-server and redis-cli, Node.js 20.19+ and Python
# (for the JavaScript and Python plugins; plugins/build.sh installs their
# pinned toolchains), Go 1.21+ where Debian has it (the Go example), and (unless
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
# The pinned componentize-js (plugins/toolchains/js) needs Node.js 20.19+,
# and Debian 12 has 18 (with no newer one in backports). Node 20 comes from
# the npm registry then: its official binary, published as node-linux-<arch>,
# installed with `npm -g` into /usr/local/bin (ahead of /usr/bin on PATH).
node_new_enough() {
    node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
}
if ! node_new_enough; then
    case "$(uname -m)" in
        x86_64) node_arch=x64 ;;
        aarch64) node_arch=arm64 ;;
        *) node_arch= ;;
    esac
    if [ -n "$node_arch" ]; then
        echo "node is $(node --version): installing Node.js 20.19.5 (node-linux-$node_arch from the npm registry) into /usr/local" >&2
        as_root npm install -g --no-audit --no-fund --loglevel=error "node-linux-$node_arch@20.19.5" >/dev/null
        hash -r
    fi
    node_new_enough || {
        echo "deps.sh: node is $(node --version) at $(command -v node), and the JavaScript plugins need Node.js 20.19+: install it (https://nodejs.org, or NodeSource's Debian packages) and put it first on PATH" >&2
        exit 1
    }
fi
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
        echo "deps.sh: Go 1.23 did not install: plugins/build.sh will skip the Go example plugin (upper-go), and its test will fail" >&2
fi
if [ -n "$browser" ] && ! command -v chromium >/dev/null; then
    apt_install chromium
fi
