#!/usr/bin/env bash
# kill -9 an ingest of a large file at random moments, many times: the
# store verifies after every kill and holds whole batches only; running
# the same ingest to the end then appends exactly what was missing, and
# the derived state (state.db, committed after the log) is what a rebuild
# from the log gives.
. "$(dirname "$0")/lib/tap.sh"
S=$T/s
new_store "$S"
N=200000
python3 - "$N" >"$T/big.jsonl" <<'P'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"kind": "send", "time": "2026-08-%02dT%02d:%02d:%02dZ" % (1 + i // 86400 % 28, i // 3600 % 24, i // 60 % 60, i % 60),
                      "source": "mta:crash", "body": {"rcpt": "user%d@example.com" % i, "status": "bounced" if i % 7 == 0 else "sent",
                      "campaign": "crash-test", "message_id": "<%d@example.com>" % i}}))
P
size() { sqlite3 "$S/akashi.db" "SELECT size FROM head"; }
upto() { sqlite3 "$S/state.db" "SELECT upto FROM indexed"; }
dump() { sqlite3 "$S/state.db" ".dump suppression" | md5sum; }
prev=0
for round in 1 2 3 4 5 6 7 8; do
	"$AKASHI" --store "$S" ingest "$T/big.jsonl" >/dev/null 2>&1 &
	pid=$!
	# Somewhere between validation and the end of the append phase.
	sleep "$(python3 -c "import random; print(round(random.uniform(0.3, 6.0), 2))")"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	n=$(size)
	out=$("$AKASHI" --store "$S" verify 2>&1)
	_result $? "round $round: verify passes after kill -9 (size $n)" "$out"
	is "$((n % 1000))" "0" "round $round: the store holds whole batches of 1000 only"
	[ "$n" -ge "$prev" ] || _result 1 "round $round: nothing lost ($n < $prev)"
	u=$(upto)
	[ "$u" -le "$n" ] && [ "$u" -ge $((n - 1000)) ] ||
		_result 1 "round $round: derived state covers the log or all but its last batch ($u of $n)"
	prev=$n
done
out=$("$AKASHI" --store "$S" ingest "$T/big.jsonl" 2>&1)
is "$out" "$((N - prev)) appended, $prev duplicates, 0 rejected" "finishing the ingest appends exactly what was missing"
is "$(size)" "$N" "every line is in the store once"
check "and it verifies" "$AKASHI" --store "$S" verify
is "$(upto)" "$N" "the derived state covers the whole log"
is "$(sqlite3 "$S/state.db" "SELECT count(*) FROM suppression")" "$(((N + 6) / 7))" \
	"every bounce suppresses its address once"
before=$(dump)
check "reindex" "$AKASHI" --store "$S" reindex
is "$(dump)" "$before" "the state kept through the kills is the state a rebuild gives"
done_testing
