#!/usr/bin/env python3
"""Recompute the hash chain of a `qgate audit export` file, without qgate.

    qgate audit export --config qgate.yaml > audit.jsonl
    python3 scripts/verify-audit-export.py audit.jsonl

Prints "chain OK" and the head, or names the first record that does not
verify and exits 1. It needs only Python's standard library, and is the
reference for docs/audit.md: a record's hash covers every field, each
written as its decimal byte length, ':' and its bytes; v2 hashes
("blake2b:" + hex) are BLAKE2b-256 under the tag qgate-audit-v2, v1 hashes
(bare hex, records written before v2) SHA-256 under qgate-audit-v1.
"""
import calendar
import hashlib
import json
import sys


def unix_nanos(t):
    """'2026-11-27T08:52:17.289500461Z' -> nanoseconds since the epoch."""
    secs, _, frac = t.rstrip("Z").partition(".")
    fields = secs.replace("-", " ").replace("T", " ").replace(":", " ").split()
    return calendar.timegm(tuple(map(int, fields))) * 10**9 + int((frac + "0" * 9)[:9])


def field(b):
    return str(len(b)).encode() + b":" + b


def chain_hash(line, r, prev_hash):
    # data is hashed as its exact bytes: the text between "data": and
    # "prev_hash", which qgate always writes in this order.
    data = ""
    if ',"data":' in line:
        data = line[line.index(',"data":') + len(',"data":'):line.rindex(',"prev_hash":')]
    v2 = r["hash"].startswith("blake2b:")
    parts = [b"qgate-audit-v2" if v2 else b"qgate-audit-v1",
             str(r["seq"]).encode(), str(unix_nanos(r["time"])).encode()]
    parts += [r.get(k, "").encode() for k in
              ("type", "action", "request_id", "token_id", "identity", "target", "environment")]
    parts += [str(r.get("review_id", 0)).encode(), data.encode(), prev_hash.encode()]
    text = b"".join(map(field, parts))
    if v2:
        return "blake2b:" + hashlib.blake2b(text, digest_size=32).hexdigest()
    return hashlib.sha256(text).hexdigest()


def main(path):
    prev, n = "", 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            r = json.loads(line)
            if r["prev_hash"] != prev:
                sys.exit(f"record {r['seq']} (line {n}): prev_hash does not match the record before")
            if r["hash"] != chain_hash(line, r, prev):
                sys.exit(f"record {r['seq']} (line {n}): hash mismatch: the record was edited")
            prev = r["hash"]
    print(f"chain OK: {n} records, head {prev or '(empty)'}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: verify-audit-export.py EXPORT.jsonl")
    main(sys.argv[1])
