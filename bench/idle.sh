#!/usr/bin/env bash
# What an idle host costs Redis, by the number of queues it serves (issue
# 14: it must be flat). For each count, starts a private redis-server and
# one `wasmq run` serving that many copies of the `noop` plugin (task types
# idle-0 … idle-<N-1>), lets start-up settle (every queue is leased once and
# visited by maintenance once), then counts what the server ran over a
# window:
#
#   bench/idle.sh                          # QUEUES="1 100 1000 10000", SHARDS=1, SETTLE=60, WINDOW=30
#   QUEUES="1 100" SHARDS="1 3" WINDOW=10 bench/idle.sh
#
# Environment: WASMQ (the binary; default target/release/wasmq if built,
# else target/debug/wasmq), QUEUES, SHARDS ("1" = a private server, "3" = a
# private cluster of three masters, counted on all of them), SETTLE and
# WINDOW (seconds). Prints one markdown table row per count: script calls
# (EVALSHA) per second, blocking waits (BLPOP) per second, token takes
# (every LPOP, those of lease scripts included) per second,
# and every command per second, those that scripts run included (INFO's
# total_commands_processed, less the INFO calls that measure).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
me=idle.sh
# shellcheck source=bench/lib.sh
source "$here/bench/lib.sh"
counts="${QUEUES:-1 100 1000 10000}"
shards="${SHARDS:-1}"
settle="${SETTLE:-60}"
window="${WINDOW:-30}"
for tool in "$wasmq" redis-server redis-cli; do
    command -v "$tool" >/dev/null || { echo "idle.sh: $tool not found" >&2; exit 2; }
done
for n in $counts; do
    [[ "$n" =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 20000)) ||
        { echo "idle.sh: QUEUES holds \`$n\`: give counts from 1 to 20000" >&2; exit 2; }
done
for s in $shards; do
    [[ "$s" == 1 || "$s" == 3 ]] ||
        { echo "idle.sh: SHARDS holds \`$s\`: give 1 (one server) and/or 3 (a cluster)" >&2; exit 2; }
done
for v in "$settle" "$window"; do
    [[ "$v" =~ ^[0-9]+$ ]] && ((v >= 1 && v <= 3600)) ||
        { echo "idle.sh: SETTLE and WINDOW are seconds from 1 to 3600, not \`$v\`" >&2; exit 2; }
done
noop=plugins/dist/noop.wasm
[[ -f "$noop" ]] || { echo "idle.sh: $noop is missing: run bash plugins/build.sh" >&2; exit 2; }

# The ports of the servers a run counts on.
ports=()

# One stat of INFO summed over `ports`: a field of `stats`, or the calls of
# a command (cmd:NAME).
stat() {
    local what=$1 port sum=0 v
    for port in "${ports[@]}"; do
        case "$what" in
            cmd:*) v=$(redis-cli -p "$port" info commandstats | tr -d '\r' |
                sed -n "s/^cmdstat_${what#cmd:}:calls=\([0-9]*\),.*/\1/p" | head -1) ;;
            *) v=$(redis-cli -p "$port" info stats | tr -d '\r' | sed -n "s/^$what:\([0-9]*\)/\1/p") ;;
        esac
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

echo "| Redis | queues | script calls/s | BLPOP/s | LPOP/s | commands/s |"
echo "|---|---:|---:|---:|---:|---:|"
for s in $shards; do
for n in $counts; do
    dir="$work/plugins-$n"
    if [[ ! -d "$dir" ]]; then
        mkdir -p "$dir"
        for ((i = 0; i < n; i++)); do ln "$noop" "$dir/idle-$i.wasm" 2>/dev/null || cp "$noop" "$dir/idle-$i.wasm"; done
    fi
    if [[ "$s" == 3 ]]; then
        # Not in $(...): the servers' pids must reach this shell's list.
        start_cluster >"$work/seeds"
        url="$(cat "$work/seeds")"
        label="Cluster, 3 masters"
    else
        start_node_plain >"$work/port"
        url="redis://127.0.0.1:$(cat "$work/port")"
        label="one server"
    fi
    ports=($(echo "$url" | grep -o '127.0.0.1:[0-9]*' | cut -d: -f2))
    "$wasmq" run --redis "$url" --plugins "$dir" \
        --cache-dir "$work/cache" --log-level warn >"$work/host-$s-$n.log" 2>&1 &
    host=$!
    pids+=("$host")
    # Serving: the host's heartbeat lists it (docs/keys.md, `{hosts}`).
    for _ in $(seq 1200); do
        [[ "$(redis-cli -c -p "${ports[0]}" zcard 'wasmq:{hosts}:index')" -ge 1 ]] && break
        kill -0 "$host" 2>/dev/null || { cat "$work/host-$s-$n.log" >&2; exit 1; }
        sleep 0.5
    done
    sleep "$settle"
    c0=$(stat total_commands_processed)
    e0=$(stat cmd:evalsha)
    b0=$(stat cmd:blpop)
    l0=$(stat cmd:lpop)
    sleep "$window"
    c1=$(stat total_commands_processed)
    e1=$(stat cmd:evalsha)
    b1=$(stat cmd:blpop)
    l1=$(stat cmd:lpop)
    # Four INFO calls per server measure between the two readings of c.
    awk -v label="$label" -v n="$n" -v w="$window" -v c=$((c1 - c0 - 4 * ${#ports[@]})) \
        -v e=$((e1 - e0)) -v b=$((b1 - b0)) -v l=$((l1 - l0)) \
        'BEGIN { printf "| %s | %d | %.1f | %.1f | %.1f | %.1f |\n", label, n, e / w, b / w, l / w, c / w }'
    kill -TERM "$host" 2>/dev/null || true
    wait "$host" 2>/dev/null || true
    for port in "${ports[@]}"; do redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; done
done
done
