#!/usr/bin/env bash
# kill -9 an ingest of a large file at random moments, many times: the
# store verifies after every kill and holds whole batches only; running
# the same ingest to the end then appends exactly what was missing.
. "$(dirname "$0")/lib/tap.sh"
S=$T/s
new_store "$S"
N=200000
python3 - "$N" >"$T/big.jsonl" <<'P'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"kind": "send", "time": "2026-08-%02dT%02d:%02d:%02dZ" % (1 + i // 86400 % 28, i // 3600 % 24, i // 60 % 60, i % 60),
                      "source": "mta:crash", "body": {"rcpt": "user%d@example.com" % i, "status": "sent",
                      "campaign": "crash-test", "message_id": "<%d@example.com>" % i}}))
P
size() { sqlite3 "$S/akashi.db" "SELECT size FROM head"; }
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
	prev=$n
done
out=$("$AKASHI" --store "$S" ingest "$T/big.jsonl" 2>&1)
is "$out" "$((N - prev)) appended, $prev duplicates, 0 rejected" "finishing the ingest appends exactly what was missing"
is "$(size)" "$N" "every line is in the store once"
check "and it verifies" "$AKASHI" --store "$S" verify
done_testing
