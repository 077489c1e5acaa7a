#!/usr/bin/env bash
# A long ingest keeps the write-ahead log bounded: the checkpointer copies
# committed pages into the database and, past 64 MiB, resets the log while
# the writer pauses between batches. Without the reset the log grows to
# the size of everything ingested.
. "$(dirname "$0")/lib/tap.sh"
S=$T/s
new_store "$S"

# 50,000 admin events of 4 KB each: about 200 MB of entries.
python3 - "$T/big.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    pad = "x" * 4000
    for i in range(50000):
        f.write(json.dumps({"kind": "admin", "source": "sso",
                            "time": "2026-07-01T%02d:%02d:%02dZ" % (i // 3600 % 24, i // 60 % 60, i % 60),
                            "body": {"actor": "u%d" % i, "action": "other",
                                     "details": {"pad": pad}}}) + "\n")
PY
"$AKASHI" --store "$S" ingest --no-index "$T/big.jsonl" >"$T/out" 2>&1 &
pid=$!
max=0
while kill -0 "$pid" 2>/dev/null; do
	sz=$(stat -c %s "$S/akashi.db-wal" 2>/dev/null || echo 0)
	[ "$sz" -gt "$max" ] && max=$sz
	sleep 0.1
done
wait "$pid"
is "$?" "0" "the ingest succeeds"
like "$(cat "$T/out")" "50000 appended" "and appends everything"
db=$(stat -c %s "$S/akashi.db")
_result "$([ "$db" -gt $((150 * 1024 * 1024)) ] && echo 0 || echo 1)" "the database holds the entries ($db bytes)"
_result "$([ "$max" -lt $((160 * 1024 * 1024)) ] && echo 0 || echo 1)" "the log never passed 160 MiB (largest seen: $max bytes)"
check "the store verifies" "$AKASHI" --store "$S" verify
done_testing
