#!/usr/bin/env bash
# Crash test of the daemon: clients ingest continuously over HTTP and note
# every acknowledged request (its records and last_seq); the daemon is
# killed with SIGKILL at random moments and started again, several times.
# Every acknowledged record must be in the store, at or below its
# acknowledged last_seq, and the store must verify.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/daemon.sh"
S=$T/s
new_store "$S"
tokens "$S"
cat >"$T/client.py" <<'P'
# client.py URL TOKEN NAME ACKS: post batches of 50 until the daemon goes
# away; append "last_seq id..." to ACKS for every 200.
import http.client, json, sys, urllib.parse
url, token, name, acks = sys.argv[1:5]
u = urllib.parse.urlparse(url)
out = open(acks, "a")
n = 0
try:
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    while True:
        ids, lines = [], []
        for _ in range(50):
            n += 1
            mid = "<%s-%d@crash.example>" % (name, n)
            ids.append(mid)
            lines.append(json.dumps({"kind": "send", "time": "2026-10-01T00:00:00Z", "source": "crash:" + name,
                                     "body": {"rcpt": "u%d@example.com" % n, "status": "sent", "message_id": mid}}))
        c.request("POST", "/v1/ingest/send", "\n".join(lines) + "\n", {"Authorization": "Bearer " + token})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            continue
        res = json.loads(body)
        if res["appended"] != 50:
            print("short append", res, file=sys.stderr)
            sys.exit(2)
        out.write("%d %s\n" % (res["last_seq"], " ".join(ids)))
        out.flush()
except (ConnectionError, http.client.HTTPException, OSError):
    sys.exit(0)
P
: >"$T/acks"
rounds=6
for round in $(seq 1 $rounds); do
	daemon_start "$S" --set writer.max_wait_us=2000
	_result $? "round $round: the daemon starts on the store left by the last kill"
	for c in a b c; do
		python3 "$T/client.py" "$URL" "$TI" "r$round$c" "$T/acks" 2>>"$T/client.err" &
	done
	sleep "$(python3 -c "import random; print(round(random.uniform(0.5, 3.0), 2))")"
	kill -9 $DPID
	wait $DPID 2>/dev/null
	wait
	out=$("$AKASHI" --store "$S" verify 2>&1)
	_result $? "round $round: verify passes after kill -9 (size $(size_of "$S"))" "$out"
done
is "$(cat "$T/client.err" 2>/dev/null)" "" "no client saw a 200 that appended less than it sent"
nacks=$(wc -l <"$T/acks")
[ "$nacks" -gt 0 ]
_result $? "the clients got $nacks acknowledgements"
"$AKASHI" --store "$S" log --kind send >"$T/sends.jsonl"
missing=$(python3 - "$T/acks" "$T/sends.jsonl" <<'P'
import json, sys
seq_of = {}
for line in open(sys.argv[2]):
    e = json.loads(line)
    seq_of[e["body"]["message_id"]] = e["seq"]
bad = 0
for line in open(sys.argv[1]):
    parts = line.split()
    last = int(parts[0])
    for mid in parts[1:]:
        if mid not in seq_of or seq_of[mid] > last:
            bad += 1
print(bad)
P
)
is "$missing" "0" "every acknowledged record is in the store, at or below its last_seq"
dups=$(python3 -c '
import json, sys, collections
c = collections.Counter(json.loads(l)["body"]["message_id"] for l in open(sys.argv[1]))
print(sum(1 for v in c.values() if v > 1))' "$T/sends.jsonl")
is "$dups" "0" "and no record is in it twice"
daemon_start "$S"
daemon_stop TERM
is "$?" "0" "a last start and stop on the crashed store is clean"
check "the store verifies at the end" "$AKASHI" --store "$S" verify
done_testing
