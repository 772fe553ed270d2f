# Shared by the bench scripts (sourced after `set -euo pipefail`, with `here`
# the repo root and `me` the script's name for messages): picks the wasmq
# binary, makes a temp dir `work` and a list `pids` whose processes are
# killed, and the dir removed, on exit whatever happens; and starts private
# Redis servers and Clusters on loopback.

# WASMQ, else target/release/wasmq if built, else target/debug/wasmq.
wasmq="${WASMQ:-}"
if [[ -z "$wasmq" ]]; then
    wasmq=target/debug/wasmq
    [[ -x "$here/target/release/wasmq" ]] && wasmq=target/release/wasmq
fi

work="$(mktemp -d -t "wasmq-${me%.sh}-XXXXXX")"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts one server (with the flags given) on a free port and prints the
# port.
# Ports are below the kernel's ephemeral range (32768 and up), bus port
# (+10000) included, so no outgoing connection holds them; a port taken
# meanwhile makes the server exit, and another is tried.
start_server() {
    local port try i
    for try in $(seq 10); do
        port=$((10000 + RANDOM % 12000))
        (: </dev/tcp/127.0.0.1/"$port") 2>/dev/null && continue
        (: </dev/tcp/127.0.0.1/$((port + 10000))) 2>/dev/null && continue
        mkdir -p "$work/node-$port"
        redis-server --port "$port" --bind 127.0.0.1 --dir "$work/node-$port" \
            "$@" --save "" --appendonly no --daemonize no \
            --logfile "$work/node-$port/redis.log" </dev/null >/dev/null 2>&1 &
        pids+=($!)
        for i in $(seq 100); do
            if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
                echo "$port"
                return
            fi
            kill -0 "${pids[-1]}" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "${pids[-1]}" 2>/dev/null || true
    done
    echo "$me: could not start redis-server (logs in $work/node-*)" >&2
    exit 1
}

# A cluster-enabled server, and a plain one.
start_node() { start_server --cluster-enabled yes --cluster-config-file nodes.conf; }
start_node_plain() { start_server; }

# Starts three cluster-enabled servers, joins them, prints the seeds URL.
start_cluster() {
    local ports=() port i seeds=""
    for i in 1 2 3; do
        # Not in $(...): the server's pid must reach this shell's list.
        start_node >"$work/port"
        ports+=("$(cat "$work/port")")
    done
    redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") \
        --cluster-yes >"$work/create.log" 2>&1 ||
        { cat "$work/create.log" >&2; exit 1; }
    for port in "${ports[@]}"; do
        for i in $(seq 300); do
            redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok' && break
            ((i == 300)) && { echo "$me: the cluster did not form" >&2; exit 1; }
            sleep 0.1
        done
    done
    for port in "${ports[@]}"; do seeds+="${seeds:+,}127.0.0.1:$port"; done
    echo "redis+cluster://$seeds"
}
