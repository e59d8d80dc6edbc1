#!/usr/bin/env bash
# Fuzzing at scale with proptest, bounded in time: the body summariser and redaction (random
# documents with planted secrets, whole and cut at any byte, hostile shapes) and the human
# formats (terminal, table, CSV) on hostile text. Prints each test's result and the time taken.
#
#   bash bench/fuzz.sh                      # CASES=20000 per property, at most MAX_SECONDS=1500
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${CASES:-20000}
MAX_SECONDS=${MAX_SECONDS:-1500}
cargo test --release -q -p audit-core --test redaction_props --test summary_props --test display_props --no-run
start=$(date +%s)
PROPTEST_CASES=$CASES timeout "$MAX_SECONDS" \
  cargo test --release -q -p audit-core --test redaction_props --test summary_props --test display_props \
  2>&1 | grep -E "^test |test result|panicked|minimal failing"
echo "cases per property: $CASES; seconds: $(( $(date +%s) - start ))"
