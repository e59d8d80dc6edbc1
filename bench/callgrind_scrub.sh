#!/usr/bin/env bash
# Instructions that redacting and summarising three JSON bodies take (the layer bench's 1 KiB
# request and response, and a small login), counted by callgrind: the same figure on any load.
#
#   bash bench/callgrind_scrub.sh          # N=1000 iterations by default
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
if ! command -v valgrind >/dev/null 2>&1; then
  echo "installing valgrind (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq valgrind
fi
cargo build --release -q -p audit-core --example scrub_count
BIN=${CARGO_TARGET_DIR:-target}/release/examples/scrub_count
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
count() {
  valgrind --tool=callgrind --callgrind-out-file="$WORK/out" "$BIN" "$1" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
base=$(count 0)
total=$(count "$N")
echo "instructions per iteration (3 bodies): $(( (total - base) / N ))"
