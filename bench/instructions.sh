#!/usr/bin/env bash
# Instructions per in-process request (1 KiB JSON in and out, read to the end, the audit
# writer's work included), counted by callgrind for N and 2N requests: the difference over N
# is one request's cost, the same figure whatever else the machine does.
#
#   bash bench/instructions.sh            # N=1000 by default
#   STACKS="bare audit_metadata" bash bench/instructions.sh
#   METRICS=1 bash bench/instructions.sh  # what the `metrics` feature costs: built without it,
#                                         # with it and switched off, with it and a recorder
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
STACKS=${STACKS:-"bare json_line trace_json audit_metadata audit_request_response audit_metadata_chain audit_request_response_chain"}
if ! command -v valgrind >/dev/null 2>&1; then
  echo "installing valgrind (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq valgrind
fi
cargo build --release -q -p audit-tower --example instructions
BIN=${CARGO_TARGET_DIR:-target}/release/examples/instructions
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ "${METRICS:-}" = 1 ]; then
  cp "$BIN" "$WORK/without_metrics"
  cargo build --release -q -p audit-tower --example instructions --features audit-core/metrics
  cp "$BIN" "$WORK/with_metrics"
  cargo build --release -q -p audit-tower --example instructions
  printf '%-44s %12s\n' "audit_metadata, chain off" "instr/req"
  for variant in "without_metrics:" "with_metrics:off" "with_metrics:on" "with_metrics:prometheus"; do
    bin=${variant%%:*} mode=${variant#*:}
    per() {
      AUDIT_METRICS=$mode valgrind --tool=callgrind --callgrind-out-file="$WORK/out.%p" \
        "$WORK/$bin" audit_metadata "$1" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
    }
    one=$(per "$N"); two=$(per $((2 * N)))
    printf '%-44s %12s\n' "$bin ${mode:+(AUDIT_METRICS=$mode)}" $(( (two - one) / N ))
  done
  exit 0
fi
count() {
  valgrind --tool=callgrind --callgrind-out-file="$WORK/out.%p" "$BIN" "$1" "$2" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-30s %12s %12s\n' stack "instr/req" "added"
bare=""
for stack in $STACKS; do
  one=$(count "$stack" "$N")
  two=$(count "$stack" $((2 * N)))
  per=$(( (two - one) / N ))
  [ "$stack" = bare ] && bare=$per
  if [ -n "$bare" ] && [ "$stack" != bare ]; then
    printf '%-30s %12s %12s\n' "$stack" "$per" "+$(( per - bare ))"
  else
    printf '%-30s %12s %12s\n' "$stack" "$per" ""
  fi
done
