#!/usr/bin/env bash
# akashi ingest of native JSON Lines: errors name file, line and reason;
# by default a bad input appends nothing; --skip-invalid appends the rest
# and keeps the rejects with reasons; ingest is idempotent.
. "$(dirname "$0")/lib/tap.sh"
S=$T/s
new_store "$S"
count() { "$AKASHI" --store "$S" log | wc -l; }

good='{"kind":"admin","time":"2026-07-01T00:00:00Z","source":"sso","body":{"actor":"alice","action":"logout"}}'
printf '%s\n' "$good" >"$T/bad.jsonl"
printf '%s\n' '{"kind":"admin","time":"2026-07-01T00:00:01Z","source":"sso","body":{"actor":"bob","action":"logout"}' >>"$T/bad.jsonl"
printf '%s\n' '{"kind":"admin","source":"sso","body":{"actor":"bob","action":"logout"}}' >>"$T/bad.jsonl"
printf '%s\n' '{"kind":"admin","time":"2026-07-01T00:00:02Z","source":"sso","body":{"actor":"bob","action":"logout","n":1.5}}' >>"$T/bad.jsonl"
printf '%s\n' '{"kind":"bogus","time":"2026-07-01T00:00:03Z","source":"sso","body":{}}' >>"$T/bad.jsonl"
printf '%s\n' '{"kind":"send","time":"2026-07-01T00:00:04Z","source":"mta","body":{"rcpt":"not-an-address","status":"sent"}}' >>"$T/bad.jsonl"
printf '%s\n' '{"kind":"send","time":"2026-07-01T00:00:05Z","source":"mta","seq":9,"body":{"rcpt":"a@example.com","status":"sent"}}' >>"$T/bad.jsonl"
printf '%s\n' '{"kind":"consent","time":"2026-13-01T00:00:00Z","source":"web","body":{"subject":"a@example.com","list":"l","action":"opt_out"}}' >>"$T/bad.jsonl"
printf '%s\n' '{"kind":"send","time":"2026-07-01T00:00:06Z","source":"mta","body":{"rcpt":"a@example.com","status":"sent","campain":"x"}}' >>"$T/bad.jsonl"
printf '\xff\xfe{"kind":"admin"}\n' >>"$T/bad.jsonl"
printf '%s\n' '{"kind":"checkpoint","time":"2026-07-01T00:00:07Z","source":"me","body":{}}' >>"$T/bad.jsonl"
printf '%s\n' '{"kind":"send","time":"2026-07-01T00:00:08Z","source":"mta","body":{"rcpt":"a@example.com","status":"sent","size":9007199254740992}}' >>"$T/bad.jsonl"

out=$("$AKASHI" --store "$S" ingest "$T/bad.jsonl" 2>&1); st=$?
is "$st" "1" "an input with invalid lines fails"
is "$(count)" "0" "and appends nothing"
like "$out" "11 records rejected: nothing was appended" "says nothing was appended"
like "$out" "0 appended, 0 duplicates, 11 rejected" "prints the counts"
like "$out" "bad.jsonl:2: not valid JSON: column [0-9]+: " "line 2: not JSON, with a column"
like "$out" "bad.jsonl:3: field 'time': missing" "line 3: a missing field"
like "$out" "bad.jsonl:4: .*floating-point number not allowed" "line 4: a float"
like "$out" "bad.jsonl:5: field 'kind': unknown kind 'bogus'" "line 5: an unknown kind"
like "$out" "bad.jsonl:6: field 'rcpt': 'not-an-address' is not an e-mail address" "line 6: a bad address"
like "$out" "bad.jsonl:7: field 'seq': assigned by the store" "line 7: seq is the store's"
like "$out" "bad.jsonl:8: field 'time': no such date" "line 8: an impossible date"
like "$out" "bad.jsonl:9: field 'campain': not a field of send entries" "line 9: a misspelt field"
like "$out" "bad.jsonl:10: not valid JSON: column 1: unexpected byte 0xFF" "line 10: invalid UTF-8"
like "$out" "bad.jsonl:11: kind 'checkpoint': checkpoint entries are written by the store" "line 11: checkpoint entries are the store's"
like "$out" "bad.jsonl:12: .*integer out of range" "line 12: an integer beyond 2^53"

out=$("$AKASHI" --store "$S" ingest --skip-invalid --rejects "$T/rej.jsonl" "$T/bad.jsonl" 2>&1); st=$?
is "$st" "0" "--skip-invalid succeeds"
like "$out" "1 appended, 0 duplicates, 11 rejected" "and appends the valid line"
is "$(wc -l <"$T/rej.jsonl")" "11" "the rejects file has every rejected line"
rej=$(python3 -c '
import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l); print(r["where"], "|", r.get("input", r.get("input_base64"))[:30], "|", r["reason"][:40])
' "$T/rej.jsonl")
like "$rej" 'bad.jsonl:4 \| \{"kind":"admin","time":"2026-0 \| not valid JSON: column 106: floating' "each reject has where, the raw line and the reason"
like "$rej" 'bad.jsonl:10 \| //57' "a line that is not UTF-8 is kept in base64"

out=$("$AKASHI" --store "$S" ingest --skip-invalid "$T/bad.jsonl" 2>&1)
like "$out" "0 appended, 1 duplicates, 11 rejected" "without --rejects the rejects go to the store's rejects/ directory"
like "$out" "rejected records with reasons: $S/rejects/ingest-" "and their path is printed"

# Idempotence: the same input twice appends nothing the second time.
python3 - >"$T/many.jsonl" <<'P'
import json
for i in range(2500):
    print(json.dumps({"kind": "send", "time": "2026-07-02T00:00:%02dZ" % (i % 60), "source": "mta",
                      "body": {"rcpt": "u%d@example.com" % (i % 700), "status": "sent"}}))
P
is "$("$AKASHI" --store "$S" ingest "$T/many.jsonl")" "2500 appended, 0 duplicates, 0 rejected" "a new input is appended, identical records out of order included"
is "$("$AKASHI" --store "$S" ingest "$T/many.jsonl")" "0 appended, 2500 duplicates, 0 rejected" "the same input again adds nothing"
head -n 100 "$T/many.jsonl" | "$AKASHI" --store "$S" ingest - >"$T/out"
is "$(cat "$T/out")" "0 appended, 100 duplicates, 0 rejected" "nor does part of it from standard input"

# Identical records in one input are separate events (ten failed logins in
# one second), and stay idempotent.
for i in 1 2 3; do echo '{"kind":"admin","time":"2026-07-03T00:00:00Z","source":"sso","body":{"actor":"mallory","action":"login_failure","ip":"198.51.100.1"}}'; done >"$T/same.jsonl"
is "$("$AKASHI" --store "$S" ingest "$T/same.jsonl")" "3 appended, 0 duplicates, 0 rejected" "three identical lines are three events"
is "$("$AKASHI" --store "$S" ingest "$T/same.jsonl")" "0 appended, 3 duplicates, 0 rejected" "and are recognised again"
echo '{"kind":"admin","time":"2026-07-03T00:00:00Z","source":"sso","body":{"actor":"x","action":"logout","event_id":"evt-1"}}' >"$T/id1.jsonl"
echo '{"kind":"admin","time":"2026-07-03T00:00:00Z","source":"sso2","body":{"actor":"x","action":"logout","event_id":"evt-1"}}' >"$T/id2.jsonl"
"$AKASHI" --store "$S" ingest "$T/id1.jsonl" >/dev/null
is "$("$AKASHI" --store "$S" ingest "$T/id2.jsonl")" "0 appended, 1 duplicates, 0 rejected" "an event_id identifies a record whatever else differs"

# --kind: lines may omit their kind; a line of another kind is rejected.
printf '%s\n' '{"time":"2026-07-04T00:00:00Z","source":"web","body":{"subject":"X@Example.com","list":"l","action":"opt_in","method":"form"}}' >"$T/k.jsonl"
is "$("$AKASHI" --store "$S" ingest --kind consent "$T/k.jsonl")" "1 appended, 0 duplicates, 0 rejected" "--kind supplies a missing kind"
like "$("$AKASHI" --store "$S" log --kind consent | tail -1)" '"proof":"none","subject":"x@example.com"' "an opt-in without proof is flagged proof none"
out=$(printf '%s\n' "$good" | "$AKASHI" --store "$S" ingest --kind consent - 2>&1)
like "$out" "kind 'admin' where --kind consent was given" "--kind refuses other kinds"
fails "an unknown --kind is a usage error" "$AKASHI" --store "$S" ingest --kind nope "$T/k.jsonl"
fails "a missing file is an error" "$AKASHI" --store "$S" ingest "$T/nothere.jsonl"
out=$("$AKASHI" --store "$S" ingest "$T/nothere.jsonl" 2>&1)
like "$out" "nothere.jsonl: No such file" "naming the file"

# An over-long line is refused and reading goes on.
python3 -c 'print("{\"kind\":\"system\",\"time\":\"2026-07-05T00:00:00Z\",\"source\":\"x\",\"body\":{\"event\":\"" + "a" * 3000000 + "\"}}")' >"$T/long.jsonl"
echo '{"kind":"system","time":"2026-07-05T00:00:01Z","source":"x","body":{"event":"short"}}' >>"$T/long.jsonl"
out=$("$AKASHI" --store "$S" ingest --skip-invalid --rejects "$T/r2" "$T/long.jsonl" 2>&1)
like "$out" "long.jsonl:1: line 1 is longer than 1048576 bytes" "an over-long line is rejected with its number"
like "$out" "1 appended, 0 duplicates, 1 rejected" "and the next line is read"
check "the store verifies after all this" "$AKASHI" --store "$S" verify
# Identical records are told apart however far apart they are in the input
# (up to 262,144 distinct records between them, and here a few more): the
# counter keeps two generations instead of starting over.
F=$T/far
new_store "$F"
python3 - "$T/far.jsonl" <<'PY'
import sys
a = '{"kind":"admin","time":"2026-07-01T00:00:00Z","source":"sso","body":{"actor":"same","action":"login_failure"}}\n'
with open(sys.argv[1], "w") as f:
    f.write(a)
    for i in range(270000):
        f.write('{"kind":"admin","time":"2026-07-01T00:00:01Z","source":"sso","body":{"actor":"u%d","action":"logout"}}\n' % i)
    f.write(a)
PY
like "$("$AKASHI" --store "$F" ingest --no-index "$T/far.jsonl")" "^270002 appended, 0 duplicates" "two identical records 270,000 records apart stay two"
like "$("$AKASHI" --store "$F" ingest --no-index "$T/far.jsonl")" "^0 appended, 270002 duplicates" "and the same input again adds nothing"
# Files are checked on two threads, a few thousand lines at a time, and put
# back in order: rejects across those chunks keep their line numbers and
# order, identical records across them keep their count, a too-long line
# in the middle is its own reject.
C=$T/chunks
new_store "$C"
python3 - "$T/chunks.jsonl" <<'PY'
import sys
ok = '{"kind":"admin","time":"2026-07-01T00:00:%02dZ","source":"sso","body":{"actor":"u%d","action":"logout"}}\n'
same = '{"kind":"admin","time":"2026-07-01T00:00:00Z","source":"sso","body":{"actor":"same","action":"login_failure"}}\n'
with open(sys.argv[1], "w") as f:
    for n in range(1, 6001):
        if n in (2048, 2049, 4097):
            f.write('{"kind":"admin","time":"2026-07-01T00:00:00Z"\n')
        elif n == 3000:
            f.write('{"kind":"admin","pad":"' + "x" * 1100000 + '"}\n')
        elif n in (1, 2047, 2050, 5999):
            f.write(same)
        elif n == 4500:
            f.write("   \n")
        else:
            f.write(ok % (n % 60, n))
PY
out=$("$AKASHI" --store "$C" ingest --skip-invalid --rejects "$T/chunks.rej" "$T/chunks.jsonl" 2>&1)
is "$(printf '%s\n' "$out" | grep -o 'chunks.jsonl:[0-9]*' | tr '\n' ' ')" \
	"chunks.jsonl:2048 chunks.jsonl:2049 chunks.jsonl:3000 chunks.jsonl:4097 " \
	"rejects across chunks: their line numbers, in order"
like "$out" "5995 appended, 0 duplicates, 4 rejected" "every other line is appended, the blank one skipped"
is "$(sqlite3 "$C/akashi.db" "SELECT count(*) FROM entries WHERE json_extract(bytes, '\$.body.actor') = 'same'")" "4" \
	"four identical records in different chunks stay four"
is "$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["where"].split(":")[-1] for l in open(sys.argv[1])))' "$T/chunks.rej")" \
	"2048 2049 3000 4097" "the rejects file, in input order"
like "$("$AKASHI" --store "$C" ingest --skip-invalid "$T/chunks.jsonl" 2>&1)" "0 appended, 5995 duplicates, 4 rejected" \
	"the same input again adds nothing"
# One mailbox, one spelling: a quoted local part is lower-cased like the
# rest, whether or not the domain has capitals (it was only when it had).
S2=$T/quoted
new_store "$S2"
printf '%s\n' '{"kind":"consent","time":"2026-07-01T00:00:00Z","source":"crm","body":{"subject":"\"John\"@example.com","list":"n","action":"opt_out"}}' \
	'{"kind":"consent","time":"2026-07-01T00:00:01Z","source":"crm","body":{"subject":"\"John\"@Example.com","list":"n","action":"opt_out"}}' |
	"$AKASHI" --store "$S2" ingest - >/dev/null
is "$("$AKASHI" --store "$S2" log | python3 -c 'import json, sys; print(" ".join(sorted({json.loads(l)["body"]["subject"] for l in sys.stdin})))')" \
	'"john"@example.com' "a quoted local part is lower-cased too, as the maillog adapter does"
done_testing
