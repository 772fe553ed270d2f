#!/usr/bin/env bash
# The scale bench (issue 14): drain throughput and cost per task with
# 1, 2 and 4 hosts (`wasmq run` child processes), on one Redis server and
# on a Redis Cluster of 3 masters, in one command:
#
#   bench/scale.sh                       # N=100000, QUEUES=12, HOSTS="1 2 4", SHARDS="1 3"
#   N=20000 bench/scale.sh --plugin cpu50 --concurrency 4   # flags go to every run
#
# Environment: WASMQ (the binary; default target/release/wasmq if built,
# else target/debug/wasmq), N, QUEUES (the backlog is spread over this many
# queues: on Cluster a queue lives on one master; the 12 queues of noop
# land 5/4/3 on the three masters `redis-cli --cluster create` makes), HOSTS, SHARDS ("1" = the bench's private server, "3" = a
# private cluster this script starts), OUT (file for the JSON lines;
# default a temp file). Prints each run's JSON line, then a markdown table
# for docs/benchmarks.md.
#
# The cluster is private: three `redis-server --cluster-enabled yes` on free
# ports of 127.0.0.1 in a temp dir, without persistence, joined with
# `redis-cli --cluster create`, and killed on exit whatever happens.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
me=scale.sh
# shellcheck source=bench/lib.sh
source "$here/bench/lib.sh"
n="${N:-100000}"
queues="${QUEUES:-12}"
hosts="${HOSTS:-1 2 4}"
shards="${SHARDS:-1 3}"
for tool in "$wasmq" redis-server redis-cli jq; do
    command -v "$tool" >/dev/null || { echo "scale.sh: $tool not found" >&2; exit 2; }
done
for k in $hosts; do
    [[ "$k" =~ ^[0-9]+$ ]] && ((k >= 1 && k <= 64)) ||
        { echo "scale.sh: HOSTS holds \`$k\`: give counts from 1 to 64" >&2; exit 2; }
done
[[ "$queues" =~ ^[0-9]+$ ]] && ((queues >= 1 && queues <= 64)) ||
    { echo "scale.sh: QUEUES is \`$queues\`: give a count from 1 to 64" >&2; exit 2; }
for s in $shards; do
    [[ "$s" == 1 || "$s" == 3 ]] ||
        { echo "scale.sh: SHARDS holds \`$s\`: give 1 (one server) and/or 3 (a cluster)" >&2; exit 2; }
done

out="${OUT:-$work/results.jsonl}"

: >"$out"
for s in $shards; do
    redis=()
    if [[ "$s" == 3 ]]; then
        # Not in $(...): the servers' pids must reach this shell's list.
        start_cluster >"$work/seeds"
        redis=(--redis "$(cat "$work/seeds")")
    fi
    for k in $hosts; do
        echo "scale.sh: shards=$s hosts=$k n=$n ($wasmq)" >&2
        "$wasmq" bench --json --n "$n" --queues "$queues" --hosts "$k" "${redis[@]}" "$@" |
            tee -a "$out"
    done
done

echo
echo "| Redis | hosts | drain (tasks/s) | vs 1 host | Redis CPU/task (µs, all masters) | host CPU/task (µs, all hosts) | Redis CPU (% of a core) | hosts' CPU (% of a core) | live p50 / p99 (ms) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
jq -rs '
  group_by(.shards)[] | (.[0].process_per_s) as $one | .[] |
  "| \(if .shards == 1 then "one server" else "Cluster, \(.shards) masters" end) | \(.hosts) | \(.process_per_s | round) | ×\(.process_per_s / $one * 100 | round / 100) | \(.redis_cpu_us_per_task * 10 | round / 10) | \(.host_cpu_us_per_task * 10 | round / 10) | \(.process_redis_cpu_pct | round) | \(.process_client_cpu_pct | round) | \(.live.p50 * 100 | round / 100) / \(.live.p99 * 100 | round / 100) |"
' "$out"
echo
echo "($(jq -rs '.[0] | "\(.build) build, \(.n) tasks of \(.payload_bytes) B over \(.queues) queues, plugin \(.variant), concurrency \(.concurrency) per host"' "$out"))"
