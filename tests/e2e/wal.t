#!/usr/bin/env bash
# A long ingest keeps the write-ahead log bounded: the WAL copier copies
# committed pages into the database and, past 64 MiB, resets the log while
# the writer pauses between batches. Without the reset the log grows to
# the size of everything ingested. The same for `akashi ingest` and for
# the daemon's writer under a stream of HTTP requests.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/daemon.sh"
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
# watch STORE PID: the largest size of STORE's log while PID runs, in $max
watch() {
	max=0
	while kill -0 "$2" 2>/dev/null; do
		sz=$(stat -c %s "$1/akashi.db-wal" 2>/dev/null || echo 0)
		[ "$sz" -gt "$max" ] && max=$sz
		sleep 0.1
	done
}
"$AKASHI" --store "$S" ingest --no-index "$T/big.jsonl" >"$T/out" 2>&1 &
pid=$!
watch "$S" "$pid"
wait "$pid"
is "$?" "0" "the ingest succeeds"
like "$(cat "$T/out")" "50000 appended" "and appends everything"
db=$(stat -c %s "$S/akashi.db")
_result "$([ "$db" -gt $((150 * 1024 * 1024)) ] && echo 0 || echo 1)" "the database holds the entries ($db bytes)"
_result "$([ "$max" -lt $((160 * 1024 * 1024)) ] && echo 0 || echo 1)" "the log never passed 160 MiB (largest seen: $max bytes)"
check "the store verifies" "$AKASHI" --store "$S" verify

# The daemon: the same entries in 50 requests of 1,000, two at a time.
D=$T/d
new_store "$D"
tokens "$D"
daemon_start "$D" --set api.rate=0 || bail "no daemon"
split -l 1000 "$T/big.jsonl" "$T/part."
(
	for f in "$T"/part.*; do
		curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $TI" \
			--data-binary @"$f" "$URL/v1/ingest/admin" &
		[ $(jobs -r | wc -l) -ge 2 ] && wait -n
	done
	wait
) >"$T/codes" &
pid=$!
watch "$D" "$pid"
wait "$pid"
is "$(sort -u "$T/codes")" "200" "every request is answered 200"
is "$(sqlite3 "$D/akashi.db" "SELECT count(*) FROM entries WHERE kind = 'admin'")" "50000" \
	"and everything is appended"
_result "$([ "$max" -lt $((160 * 1024 * 1024)) ] && echo 0 || echo 1)" \
	"the daemon's log never passed 160 MiB (largest seen: $max bytes)"
daemon_stop
is "$?" "0" "the daemon stops cleanly"
# Its reader and alerts threads hold read-only stores: nothing to copy,
# and nothing for a postmaster to be warned about.
unlike "$(cat "$DLOG")" "warning: WAL" "the daemon logged no warning about its log copier"
check "the store verifies" "$AKASHI" --store "$D" verify
done_testing
