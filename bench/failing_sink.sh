#!/usr/bin/env bash
# Memory of an audited server whose sink always fails (a full disk), under sustained load:
# wrk for DURATION seconds per overflow policy, the server's RSS sampled every 5 s. Flat RSS is
# the promise: Block pushes back on responses, DropNewest drops and counts.
#
#   bash bench/failing_sink.sh            # DURATION=60 CONNECTIONS=64
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-60}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-3300}
if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk
fi
cargo build --release -q -p audit-tower --example failing_sink
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; kill "${SERVER:-0}" 2>/dev/null || true' EXIT
for policy in block drop_newest; do
  target/release/examples/failing_sink "$policy" "$PORT" > "$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 50); do grep -q listening "$WORK/server.log" && break; sleep 0.1; done
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/post_1k.lua "http://127.0.0.1:$PORT/api/v1/sow/create" > "$WORK/wrk.log" &
  WRK=$!
  samples=""
  for _ in $(seq 0 5 "$DURATION"); do
    samples="$samples $(( $(ps -o rss= -p "$SERVER") / 1024 ))"
    sleep 5
  done
  wait "$WRK"
  echo "$policy: RSS MiB every 5 s:$samples; $(grep 'Requests/sec' "$WORK/wrk.log" | tr -s ' ')"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
done
