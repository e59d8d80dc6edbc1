#!/usr/bin/env bash
# `audit query` and `audit stats` against the equivalent jq commands, on the same generated log.
#   SIZE_MB=1024 bash bench/cli_vs_jq.sh       # default 256 MB; the issue's figure is for 1 GiB
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-256}
for tool in jq bc; do command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$tool"; }; done
cargo build --release -q -p audit-cli
AUDIT=target/release/audit
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 - "$WORK/audit_2026-02-07.jsonl" "$SIZE_MB" <<'PY'
# Lines as the pipeline writes them: canonical (sorted keys, no spaces) and chained with real
# SHA-256 links, so `audit verify` has real work. Durations stay >= 0.001 so Python's float repr
# equals the canonical form's (docs/schema.md); json.dumps(sort_keys) is then the canonical form.
import hashlib, json, random, sys, uuid
path, size = sys.argv[1], int(sys.argv[2]) * 1024 * 1024
endpoints = ["sow_create", "sow_get", "login", "report", "upload"]
random.seed(7)
chain_id = str(uuid.UUID(int=random.getrandbits(128)))
prev = "0" * 64
written = 0
with open(path, "w") as out:
    i = 0
    while written < size:
        e = endpoints[i % 5]
        status = random.choice([200, 200, 200, 404, 503])
        body = json.dumps({
            "v": 1, "id": str(uuid.UUID(int=random.getrandbits(128))),
            "timestamp": "2026-02-07T%02d:%02d:%02d.%06dZ" % (i // 3600000 % 24, i // 60000 % 60, i // 1000 % 60, i % 1000000),
            "endpoint": e, "method": "POST", "route": "/api/v1/" + e, "path": "/api/v1/" + e, "query": None,
            "user": "user-%d" % (i % 97), "request": {"client_id": "CLIENT-%03d" % (i % 499), "quality_mode": "production"},
            "response_summary": {"sow_text": "<5234 characters>", "cost_usd": 0.23}, "status_code": status,
            "duration_seconds": round(0.001 + random.random(), 6), "outcome": "success" if status < 400 else ("client_error" if status < 500 else "server_error"),
            "error": None, "correlation_id": "req-%d" % i, "trace_id": None, "span_id": None, "client_addr": "127.0.0.1",
            "peer_addr": "127.0.0.1:5000", "user_agent": "curl/8", "request_bytes": 84, "response_bytes": 5342,
            "headers": {"content-type": "application/json"}, "fields": {},
            "chain": {"id": chain_id, "prev": prev, "seq": i + 1}}, sort_keys=True, separators=(",", ":"))
        prev = hashlib.sha256(body.encode()).hexdigest()
        line = body[:10] + '"hash":"' + prev + '",' + body[10:]
        out.write(line + "\n")
        written += len(line) + 1
        i += 1
print(f"{written / 1e6:.0f} MB, {i} entries", file=sys.stderr)
PY
F="$WORK/audit_2026-02-07.jsonl"
t() { local start end; start=$(date +%s.%N); "$@" > "$WORK/out" 2>/dev/null; end=$(date +%s.%N); echo "$end - $start" | bc; }
MB=$(du -m "$F" | cut -f1)
echo "file: $MB MB"
q_audit=$(t "$AUDIT" query "$WORK" --endpoint sow_create --where request.client_id=CLIENT-001)
n_audit=$(wc -l < "$WORK/out")
q_jq=$(t jq -c 'select(.endpoint == "sow_create" and .request.client_id == "CLIENT-001")' "$F")
n_jq=$(wc -l < "$WORK/out")
s_audit=$(t "$AUDIT" stats "$WORK" --by endpoint --json)
s_jq=$(t jq -s 'group_by(.endpoint) | map({endpoint: .[0].endpoint, count: length, avg: (map(.duration_seconds) | add / length)})' "$F")
printf "query: audit %.2f s (%d lines, %.0f MB/s), jq %.2f s (%d lines): %.1fx\n" "$q_audit" "$n_audit" "$(echo "$MB / $q_audit" | bc -l)" "$q_jq" "$n_jq" "$(echo "$q_jq / $q_audit" | bc -l)"
printf "stats: audit %.2f s (%.0f MB/s), jq %.2f s: %.1fx\n" "$s_audit" "$(echo "$MB / $s_audit" | bc -l)" "$s_jq" "$(echo "$s_jq / $s_audit" | bc -l)"
# verify has no jq equivalent: every line's SHA-256 and every link (the log has no final
# checkpoint, hence --allow-open).
v_audit=$(t "$AUDIT" verify "$WORK" --allow-open)
grep -q ": intact" "$WORK/out" || { echo "verify did not find the generated log intact:"; cat "$WORK/out"; exit 1; }
printf "verify: audit %.2f s (%.0f MB/s)\n" "$v_audit" "$(echo "$MB / $v_audit" | bc -l)"
