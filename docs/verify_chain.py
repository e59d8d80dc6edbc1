#!/usr/bin/env python3
"""Reference verifier of audited's tamper-evident chain, independent of the Rust code.

It follows docs/schema.md ("The chain") and nothing else, so it shows that the canonical form
can be reproduced outside Rust. It checks every entry's hash, the links, gaps and order within
each chain, and checkpoint signatures when AUDIT_CHECKPOINT_KEY (hex) is set. `audit verify`
does more (published heads, precise messages, and it accepts gaps the pipeline itself reported in
an `audit.dropped` entry, which this script counts as failures); this is the minimum an auditor
needs, in the standard library only.

    python3 docs/verify_chain.py audit_logs/          # a directory of audit_*.jsonl[.gz]
    python3 docs/verify_chain.py audit_logs/audit_2026-11-25.jsonl

Exit status 0 when intact, 1 when not, 2 for unreadable input.
"""

import gzip
import hashlib
import hmac
import json
import math
import os
import re
import sys

GENESIS = "0" * 64


def es_number(x):
    """A float as ECMAScript's Number.prototype.toString writes it (RFC 8785, 3.2.2.3)."""
    if math.isnan(x) or math.isinf(x):
        raise ValueError("JSON has no NaN or infinity")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exponent = repr(abs(x)).partition("e")  # repr: the shortest round-trip digits
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    n = len(int_part) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    rest = "." + digits[1:] if k > 1 else ""
    return sign + digits[0] + rest + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def canonical(value):
    """RFC 8785 with integers written exactly (docs/schema.md)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return es_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(value[k]) for k in keys) + "}"


def entry_hash(entry):
    entry = dict(entry)
    entry["chain"] = {k: v for k, v in entry["chain"].items() if k != "hash"}
    return hashlib.sha256(canonical(entry).encode("utf-8")).hexdigest()


def files_of(source):
    if os.path.isfile(source):
        return [source]
    found = []
    for name in os.listdir(source):
        m = re.fullmatch(r"audit_(\d{4}-\d{2}-\d{2})(?:\.(\d+))?\.jsonl(\.gz)?", name)
        if m:
            found.append((m.group(1), int(m.group(2) or 0), os.path.join(source, name)))
    return [path for _, _, path in sorted(found)]


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    key = os.environ.get("AUDIT_CHECKPOINT_KEY")
    key = bytes.fromhex(key.strip()) if key else None
    problems, chains, entries = [], {}, 0
    try:
        paths = files_of(sys.argv[1])
    except OSError as e:
        print(f"cannot read {sys.argv[1]}: {e}", file=sys.stderr)
        return 2
    for path in paths:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                where = f"{path}:{number}"
                try:
                    entry = json.loads(line)
                except ValueError:
                    problems.append(f"{where}: not a JSON entry (torn or malformed)")
                    continue
                link = entry.get("chain")
                if link is None:
                    problems.append(f"{where}: entry without a chain")
                    continue
                entries += 1
                if entry_hash(entry) != link["hash"]:
                    problems.append(f"{where}: seq {link['seq']} edited (hash mismatch)")
                state = chains.setdefault(link["id"], {"seq": 0, "hash": GENESIS})
                if link["seq"] != state["seq"] + 1 and state["seq"] > 0:
                    problems.append(f"{where}: seq {link['seq']} follows seq {state['seq']} (deleted or reordered)")
                elif link["prev"] != state["hash"] and state["seq"] > 0:
                    problems.append(f"{where}: seq {link['seq']} does not link to seq {state['seq']}")
                fields = entry.get("fields", {})
                if entry.get("endpoint") == "audit.checkpoint" and fields.get("alg") == "hmac-sha256" and key:
                    state_word = "final" if fields.get("final") else "open"
                    message = f"audited-checkpoint/1 {link['id']} {fields['head_seq']} {fields['head_hash']} {state_word}"
                    expected = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
                    if not hmac.compare_digest(expected, fields.get("signature", "")):
                        problems.append(f"{where}: checkpoint seq {link['seq']} has a bad signature")
                state.update(seq=link["seq"], hash=link["hash"], final=entry.get("endpoint") == "audit.checkpoint" and fields.get("final"))
    for chain_id, state in chains.items():
        if not state.get("final"):
            problems.append(f"chain {chain_id} ends at seq {state['seq']} without its final checkpoint")
    for problem in problems:
        print("FAIL", problem)
    print(f"{len(chains)} chains, {entries} entries: {'intact' if not problems else 'NOT intact'}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
