#!/usr/bin/env bash
# Counts the user-space instructions a `payledger serve` process executes
# per request of one load-generator workload, under valgrind's callgrind.
# Wall-clock figures on a shared two-core machine move by +-10 % from run to
# run; instruction counts move by a few percent, so they show a change of
# the work per request that throughput cannot. The kernel's share (syscalls,
# fsync, loopback TCP) is not counted.
#
# usage: scripts/instructions-per-request.sh BIN WORKLOAD [SECONDS]
#   BIN       a payledger binary (e.g. ./target/release/payledger)
#   WORKLOAD  create | update | get (payledger-bench load workloads)
#   SECONDS   measured seconds, after 3 s of warm-up (default 5)
#
# One connection, 4 payments of 1 transaction at the start (so payments
# grow during the run, as in the 64-connection runs of BENCHMARKS.md; the
# faster the server, the larger they grow). TRANSACTIONS=100 PAYMENTS=40
# start them at 100 transactions each and spread the updates over 40, so
# the size barely moves: the figure to compare binaries of different
# speeds with. Requires valgrind, curl and a built
# ./target/release/payledger-bench. The admission latency target is off:
# its CPU-time sampler cannot run under valgrind.
set -euo pipefail

bin=${1:?usage: $0 BIN WORKLOAD [SECONDS]}
workload=${2:?usage: $0 BIN WORKLOAD [SECONDS]}
seconds=${3:-5}
bench=./target/release/payledger-bench
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }

data=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$data"' EXIT
"$bin" clients create --data "$data" --id loader --secret loader-secret-1 \
    --scope manage_project:bench >/dev/null
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$data/callgrind.out" \
    "$bin" serve --listen 127.0.0.1:0 --data "$data" --latency-target-ms=0 \
    >"$data/server.log" 2>&1 &
server=$!
url=
for _ in $(seq 600); do
    url=$(grep -o "http://127.0.0.1:[0-9]*" "$data/server.log" | head -1 || true)
    [ -n "$url" ] && break
    sleep 0.2
done
[ -n "$url" ] || { echo "the server did not start:" >&2; cat "$data/server.log" >&2; exit 1; }

# One token for both runs: issuing one verifies the client secret with
# PBKDF2, which costs more than a thousand updates.
token=$(curl -sf -u loader:loader-secret-1 \
    -d "grant_type=client_credentials&scope=manage_project:bench" "$url/oauth/token" |
    sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "no token from $url/oauth/token" >&2; exit 1; }
load() {
    "$bench" load --url "$url" --label callgrind --token "$token" --connections 1 \
        --workloads "$workload" --transactions "${TRANSACTIONS:-1}" \
        --payments-per-connection "${PAYMENTS:-4}" --seconds "$1" "${@:2}"
}
load 3 >/dev/null 2>&1
# Counted from the end of the measured run's set-up (its payments are made
# before it) to the end of the run.
hold="$data/hold"
load "$seconds" --hold-before-measuring "$hold" >"$data/load.out" 2>&1 &
loader=$!
while [ ! -e "$hold.ready" ]; do
    kill -0 "$loader" 2>/dev/null || { cat "$data/load.out" >&2; exit 1; }
    sleep 0.05
done
callgrind_control --instr=on "$server" >/dev/null 2>&1
touch "$hold.go"
wait "$loader"
row=$(grep "^| callgrind" "$data/load.out" | tail -1)
callgrind_control --instr=off "$server" >/dev/null 2>&1
callgrind_control --dump "$server" >/dev/null 2>&1
per_s=$(echo "$row" | awk -F'|' '{print $6}')
instructions=$(cat "$data"/callgrind.out* | awk '/^totals:/ {s += $2} END {print s}')
echo "$row"; [ -n "${KEEP:-}" ] && echo "kept $data"
awk -v i="$instructions" -v r="$per_s" -v s="$seconds" \
    'BEGIN {printf "instructions per request: %d (%d requests)\n", i / (r * s), r * s}'
