#!/usr/bin/env bash
# Load test of the audit layer over real HTTP on loopback: the same axum route bare, audited at
# Metadata and RequestResponse, behind tower-http's TraceLayer (JSON subscriber, non-blocking
# file), and audited in Strict mode with JSONL synced every batch. Prints requests/s and each
# setup's share of bare throughput. Every run is bounded (DURATION seconds per setup).
#
#   bash bench/layer_load.sh            # DURATION=10 CONNECTIONS=64 THREADS=1 by default
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
PORT=${PORT:-3199}
MODES=${MODES:-"bare metadata request_response trace strict bare"}

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk
fi
cargo build --release -q -p audit-tower --example bench_server
SERVER=target/release/examples/bench_server
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"client_id":"CLIENT-001","product":"Real-Time Payments","notes":"' .. string.rep("n", 940) .. '"}'
LUA

declare -A RPS
for mode in $MODES; do
  rm -rf "$WORK/logs"; mkdir -p "$WORK/logs"
  "$SERVER" "$mode" "$PORT" "$WORK/logs" 2>"$WORK/server.err" &
  pid=$!
  for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
  done
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$WORK/post.lua" "http://127.0.0.1:$PORT/api/v1/sow/create")
  kill -INT "$pid"; wait "$pid" || true
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}')
  lines=$( (cat "$WORK"/logs/*.jsonl 2>/dev/null || true) | wc -l)
  echo "$mode: $rps req/s, $lines log lines ${errors:+($errors)}"
  RPS[$mode]=$rps
done
echo
bare=${RPS[bare]}
for mode in $MODES; do
  [ "$mode" = bare ] && continue
  awk -v m="$mode" -v r="${RPS[$mode]}" -v b="$bare" 'BEGIN { printf "%-17s %5.1f%% of bare (last bare run)\n", m, 100 * r / b }'
done
