#!/usr/bin/env bash
# Load test of the audit layer over real HTTP on loopback: the same axum route bare, audited at
# Metadata and RequestResponse, behind tower-http's TraceLayer (JSON subscriber, non-blocking
# file), and audited in Strict mode with JSONL synced every batch. Prints requests/s and each
# setup's share of bare throughput. Every run is bounded (DURATION seconds per setup).
#
#   bash bench/layer_load.sh            # DURATION=10 CONNECTIONS=64 THREADS=1 ROUNDS=3 by default
#   PIN=1 bash bench/layer_load.sh      # server on core 0, wrk on core 1 (taskset): the audit
#                                       # writer competes with request handling, as on a busy host
#   AUDIT_CHAIN=off bash bench/layer_load.sh   # the audited setups without the chain
#
# The machine is shared and noisy: every round runs every setup once, in turn, and the summary
# compares medians over the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
PORT=${PORT:-3199}
MODES=${MODES:-"bare metadata request_response trace strict"}
ROUNDS=${ROUNDS:-3}
PIN=${PIN:-}
SERVER_CPU=()
CLIENT_CPU=()
if [ -n "$PIN" ]; then
  SERVER_CPU=(taskset -c 0)
  CLIENT_CPU=(taskset -c 1)
fi

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk
fi
# SERVER_EXAMPLE=bench_server_mimalloc runs the same server with mimalloc as its allocator.
SERVER_EXAMPLE=${SERVER_EXAMPLE:-bench_server}
cargo build --release -q -p audit-tower --example "$SERVER_EXAMPLE"
SERVER=target/release/examples/$SERVER_EXAMPLE
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT


declare -A RPS
for round in $(seq 1 "$ROUNDS"); do
for mode in $MODES; do
  rm -rf "$WORK/logs"; mkdir -p "$WORK/logs"
  "${SERVER_CPU[@]}" "$SERVER" "$mode" "$PORT" "$WORK/logs" 2>"$WORK/server.err" &
  pid=$!
  for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
  done
  out=$("${CLIENT_CPU[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s bench/post_1k.lua "http://127.0.0.1:$PORT/api/v1/sow/create")
  kill -INT "$pid"; wait "$pid" || true
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}')
  lines=$( (cat "$WORK"/logs/*.jsonl 2>/dev/null || true) | wc -l)
  echo "round $round $mode: $rps req/s, $lines log lines ${errors:+($errors)}"
  RPS[$mode]="${RPS[$mode]:-} $rps"
done
done
echo
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
bare=$(echo "${RPS[bare]}" | median)
echo "bare: median $bare req/s over $ROUNDS rounds (${RPS[bare]} )"
for mode in $MODES; do
  [ "$mode" = bare ] && continue
  m=$(echo "${RPS[$mode]}" | median)
  awk -v m="$mode" -v r="$m" -v b="$bare" -v all="${RPS[$mode]}" 'BEGIN { printf "%-17s median %8.0f req/s = %5.1f%% of bare  (%s )\n", m, r, 100 * r / b, all }'
done
