#!/usr/bin/env bash
# Two ingests (and a checkpointer) at once on one store: no lost entry, no
# duplicate or missing seq.
. "$(dirname "$0")/lib/tap.sh"
S=$T/s
new_store "$S"
for f in a b; do
	python3 - "$f" >"$T/$f.jsonl" <<'P'
import json, sys
for i in range(30000):
    print(json.dumps({"kind": "admin", "time": "2026-09-01T00:00:00Z", "source": "sso:" + sys.argv[1],
                      "body": {"actor": "user%d" % i, "action": "login_success"}}))
P
done
"$AKASHI" --store "$S" ingest "$T/a.jsonl" >"$T/a.out" 2>&1 &
pa=$!
"$AKASHI" --store "$S" ingest "$T/b.jsonl" >"$T/b.out" 2>&1 &
pb=$!
cps=0
while kill -0 $pa 2>/dev/null || kill -0 $pb 2>/dev/null; do
	"$AKASHI" --store "$S" checkpoint >/dev/null 2>&1 && cps=$((cps + 1))
	sleep 0.2
done
wait $pa; sa=$?
wait $pb; sb=$?
is "$sa/$sb" "0/0" "both ingests succeed"
is "$(cat "$T/a.out")" "30000 appended, 0 duplicates, 0 rejected" "the first appended all its records"
is "$(cat "$T/b.out")" "30000 appended, 0 duplicates, 0 rejected" "the second appended all its records"
ncp=$(sqlite3 "$S/akashi.db" "SELECT count(*) FROM checkpoints")
stats=$(sqlite3 "$S/akashi.db" "SELECT count(*), min(seq), max(seq), count(DISTINCT seq) FROM entries")
total=$((60000 + ncp))
is "$stats" "$total|1|$total|$total" "seqs run 1..$total without gaps or duplicates ($ncp checkpoints made meanwhile)"
is "$(sqlite3 "$S/akashi.db" "SELECT count(*) FROM entries WHERE kind = 'admin'")" "60000" "no entry lost"
check "the store verifies" "$AKASHI" --store "$S" verify
done_testing
