#!/usr/bin/env bash
# What an idle host costs Redis, by the number of queues it serves (issue
# 14: it must be flat). For each count, starts a private redis-server and
# one `wasmq run` serving that many copies of the `noop` plugin (task types
# idle-0 … idle-<N-1>), lets start-up settle (every queue is leased once and
# visited by maintenance once), then counts what the server ran over a
# window:
#
#   bench/idle.sh                          # QUEUES="1 100 1000 10000", SETTLE=30, WINDOW=30
#   QUEUES="1 100" WINDOW=10 bench/idle.sh
#
# Environment: WASMQ (the binary; default target/release/wasmq if built,
# else target/debug/wasmq), QUEUES, SETTLE and WINDOW (seconds). Prints one
# markdown table row per count: script calls (EVALSHA) per second, blocking
# waits (BLPOP) per second, and every command per second, those that
# scripts run included (INFO's total_commands_processed, less the INFO
# calls that measure).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
wasmq="${WASMQ:-}"
if [[ -z "$wasmq" ]]; then
    wasmq=target/debug/wasmq
    [[ -x target/release/wasmq ]] && wasmq=target/release/wasmq
fi
counts="${QUEUES:-1 100 1000 10000}"
settle="${SETTLE:-30}"
window="${WINDOW:-30}"
for tool in "$wasmq" redis-server redis-cli; do
    command -v "$tool" >/dev/null || { echo "idle.sh: $tool not found" >&2; exit 2; }
done
for n in $counts; do
    [[ "$n" =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 20000)) ||
        { echo "idle.sh: QUEUES holds \`$n\`: give counts from 1 to 20000" >&2; exit 2; }
done
for v in "$settle" "$window"; do
    [[ "$v" =~ ^[0-9]+$ ]] && ((v >= 1 && v <= 3600)) ||
        { echo "idle.sh: SETTLE and WINDOW are seconds from 1 to 3600, not \`$v\`" >&2; exit 2; }
done
noop=plugins/dist/noop.wasm
[[ -f "$noop" ]] || { echo "idle.sh: $noop is missing: run bash plugins/build.sh" >&2; exit 2; }

work="$(mktemp -d -t wasmq-idle-XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# One stat of INFO: a field of `stats`, or the calls of a command.
stat() {
    local port=$1 what=$2
    case "$what" in
        cmd:*) redis-cli -p "$port" info commandstats | tr -d '\r' |
            sed -n "s/^cmdstat_${what#cmd:}:calls=\([0-9]*\),.*/\1/p" | head -1 ;;
        *) redis-cli -p "$port" info stats | tr -d '\r' | sed -n "s/^$what:\([0-9]*\)/\1/p" ;;
    esac
}

echo "| queues | script calls/s | BLPOP/s | commands/s |"
echo "|---:|---:|---:|---:|"
for n in $counts; do
    dir="$work/plugins-$n"
    mkdir -p "$dir"
    for ((i = 0; i < n; i++)); do ln "$noop" "$dir/idle-$i.wasm" 2>/dev/null || cp "$noop" "$dir/idle-$i.wasm"; done
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$work" --logfile "$work/redis-$n.log" --daemonize no &
    pids+=($!)
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    "$wasmq" run --redis "redis://127.0.0.1:$port" --plugins "$dir" \
        --cache-dir "$work/cache" --log-level warn >"$work/host-$n.log" 2>&1 &
    host=$!
    pids+=("$host")
    # Serving: the host's heartbeat lists it (docs/keys.md, `{hosts}`).
    for _ in $(seq 1200); do
        [[ "$(redis-cli -p "$port" zcard 'wasmq:{hosts}:index')" -ge 1 ]] && break
        kill -0 "$host" 2>/dev/null || { cat "$work/host-$n.log" >&2; exit 1; }
        sleep 0.5
    done
    sleep "$settle"
    c0=$(stat "$port" total_commands_processed)
    e0=$(stat "$port" cmd:evalsha)
    b0=$(stat "$port" cmd:blpop)
    sleep "$window"
    c1=$(stat "$port" total_commands_processed)
    e1=$(stat "$port" cmd:evalsha)
    b1=$(stat "$port" cmd:blpop)
    # Three of the commands are the INFO calls measuring.
    awk -v n="$n" -v w="$window" -v c=$((c1 - c0 - 3)) -v e=$((${e1:-0} - ${e0:-0})) \
        -v b=$((${b1:-0} - ${b0:-0})) \
        'BEGIN { printf "| %d | %.1f | %.1f | %.1f |\n", n, e / w, b / w, c / w }'
    kill -TERM "$host" 2>/dev/null || true
    wait "$host" 2>/dev/null || true
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
done
