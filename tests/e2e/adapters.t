#!/usr/bin/env bash
# Every adapter through `akashi ingest`, end to end: counts, idempotence,
# rejects naming where and why, and the derived state (consent, suppression,
# accounts) kept in the same transaction and rebuilt identically by reindex.
. "$(dirname "$0")/lib/tap.sh"
S=$T/s
new_store "$S"
D=$ROOT/tests/data
q() { sqlite3 "$S/state.db" "$1"; } # derived state: its own file (evidence.h)

# Consent CSV
is "$("$AKASHI" --store "$S" ingest --kind consent --format csv "$D/consent/basic.csv")" \
	"4 appended, 0 duplicates, 0 rejected" "consent CSV: every row appended"
is "$("$AKASHI" --store "$S" ingest --kind consent --format csv "$D/consent/basic.csv")" \
	"0 appended, 4 duplicates, 0 rejected" "consent CSV: again, all duplicates"
is "$("$AKASHI" --store "$S" ingest --kind consent --format csv "$D/consent/bom_crlf.csv")" \
	"3 appended, 0 duplicates, 0 rejected" "consent CSV with BOM and CRLF"
out=$("$AKASHI" --store "$S" ingest --kind consent --format csv "$D/consent/bad_rows.csv" 2>&1)
like "$out" "bad_rows.csv:[0-9]+: row [0-9]+: " "a bad CSV row is named by file, line and row"
like "$out" "0 appended" "and a file with bad rows appends nothing by default"
like "$(q "SELECT action, method, confirm_seq IS NOT NULL FROM consent_state WHERE subject = 'alice@example.jp'")" "opt_in\|double_opt_in\|1" \
	"consent state: the latest opt-in, and its confirmation"

# OCSF
is "$("$AKASHI" --store "$S" ingest --kind admin --format ocsf "$D/ocsf/authentication.jsonl")" \
	"7 appended, 0 duplicates, 0 rejected" "OCSF authentication events"
is "$("$AKASHI" --store "$S" ingest --kind admin --format ocsf "$D/ocsf/account_change.jsonl")" \
	"15 appended, 0 duplicates, 0 rejected" "OCSF account changes"
is "$("$AKASHI" --store "$S" ingest --kind admin --format ocsf "$D/ocsf/other_classes.jsonl")" \
	"4 appended, 0 duplicates, 0 rejected" "OCSF classes without a mapping are kept"
like "$("$AKASHI" --store "$S" log --kind admin | grep -c '"action":"other"')" "^[1-9]" "as action other"
out=$("$AKASHI" --store "$S" ingest --kind admin --format ocsf --skip-invalid --rejects "$T/r" "$D/ocsf/bad_lines.jsonl" 2>&1)
like "$out" "bad_lines.jsonl:[0-9]+: " "bad OCSF lines are named by line"
is "$(wc -l <"$T/r")" "$(echo "$out" | sed -n 's/.* \([0-9]*\) rejected$/\1/p')" "and every one is in the rejects file"
is "$(q "SELECT count(*) > 0 FROM account_state")" "1" "account state is kept"

# DMARC: every container, detected from the bytes
for f in google.xml "google.com!example.com!1701129600!1701215999.xml.gz" \
	"google.com!example.com!1701129600!1701215999.xml.zip" 100.eml "Report domain- borschow.com Submitter- google.com Report-ID- 949348866075514174.eml"; do
	out=$("$AKASHI" --store "$S" ingest --kind dmarc "$D/dmarc/$f" 2>&1)
	like "$out" "^[01] appended, [01] duplicates, 0 rejected$" "DMARC: $f"
done
like "$("$AKASHI" --store "$S" ingest --kind dmarc "$D/dmarc/google.com!example.com!1701129600!1701215999.xml.zip")" \
	"0 appended, 1 duplicates" "the same report in another container is the same report (org_name + report_id)"
is "$("$AKASHI" --store "$S" ingest --kind dmarc "$D/dmarc-hostile/three-reports.mbox")" \
	"3 appended, 0 duplicates, 0 rejected" "an mbox with three reports"
like "$("$AKASHI" --store "$S" ingest --kind dmarc "$D/dmarc-hostile/maildir" 2>&1)" \
	"1 skipped .*
0 appended, 2 duplicates, 0 rejected" "a Maildir folder (its two reports are the mbox's; a message without one is skipped)"
like "$(cat "$D/dmarc/102.eml" | "$AKASHI" --store "$S" ingest --kind dmarc - 2>&1)" \
	"^(1 appended, 0|0 appended, 1) duplicates, 0 rejected" "a report message on standard input"
for f in billion-laughs.xml xxe.xml bomb.zip bomb.xml.gz traversal.zip; do
	out=$("$AKASHI" --store "$S" --set ingest.max_report_bytes=1048576 ingest --kind dmarc "$D/dmarc-hostile/$f" 2>&1)
	like "$out" "0 appended, 0 duplicates, 1 rejected" "hostile input refused cleanly: $f"
done
like "$("$AKASHI" --store "$S" ingest --kind dmarc "$D/dmarc-hostile/xxe.xml" 2>&1)" "xxe.xml.*entit" "the refusal says why"
like "$("$AKASHI" --store "$S" log --kind dmarc | head -1)" '"kind":"dmarc"' "reports are entries of kind dmarc"

# Native sends update the suppression list
"$AKASHI" --store "$S" ingest - >/dev/null <<'J'
{"kind":"send","time":"2026-07-02T00:00:00Z","source":"mta","body":{"rcpt":"Gone@Example.COM","status":"bounced","dsn":"5.1.1"}}
J
is "$(q "SELECT reason FROM suppression WHERE address = 'gone@example.com'")" "hard_bounce" \
	"a hard bounce suppresses the (lower-cased) address"

# Derived state is derived: dropping and rebuilding it gives the same rows.
dump() { sqlite3 "$1/state.db" ".dump consent_state suppression account_state account_roles login_addresses approvals" | md5sum; }
upto() { sqlite3 "$1/state.db" "SELECT upto FROM indexed WHERE name = 'policy state v2'"; }
size() { sqlite3 "$1/akashi.db" "SELECT size FROM head"; }
before=$(dump "$S")
check "reindex" "$AKASHI" --store "$S" reindex
is "$(dump "$S")" "$before" "reindex rebuilds the same derived state"
is "$(upto "$S")" "$(size "$S")" "and records that it covers the whole log"

rm -f "$S/state.db" "$S/state.db-wal" "$S/state.db-shm"
"$AKASHI" --store "$S" log --kind consent >/dev/null 2>"$T/log.err"
is "$?" "0" "a read-only command runs without state.db"
like "$(cat "$T/log.err")" "state.db: no such file.*akashi reindex" "and warns that derived state cannot be read"
fails "audit --no-record (read-only) cannot read derived state without state.db" \
	"$AKASHI" --store "$S" audit --quarter 2026Q3 --no-record
"$AKASHI" --store "$S" checkpoint >/dev/null
is "$(dump "$S")" "$before" "a store without state.db rebuilds it when next opened for writing"

# A damaged state.db: the log stays readable; the next writer moves the
# file aside (kept for a look) and rebuilds it.
head -c 16384 /dev/urandom >"$S/state.db"
rm -f "$S/state.db-wal" "$S/state.db-shm"
"$AKASHI" --store "$S" log --kind consent >/dev/null 2>"$T/log.err"
is "$?" "0" "a read-only command runs with a damaged state.db"
like "$(cat "$T/log.err")" "state.db: file is not a database" "and says what is wrong with it"
"$AKASHI" --store "$S" checkpoint >/dev/null 2>"$T/cp.err"
like "$(cat "$T/cp.err")" "moved aside to .*state.db.damaged" "a writing command moves a damaged state.db aside"
is "$(dump "$S")" "$before" "and rebuilds the same derived state from the log"
check "the damaged file is kept" test -f "$S/state.db.damaged"

# A state.db made by an akashi whose derivation rules were older (its
# indexer row has another name): readers say so, the next writer rebuilds.
sqlite3 "$S/state.db" "UPDATE indexed SET name = 'policy state' WHERE name = 'policy state v2'"
"$AKASHI" --store "$S" log --kind consent >/dev/null 2>"$T/log.err"
like "$(cat "$T/log.err")" "no tables made by the rules of 'policy state v2'.*akashi reindex" \
	"a reader warns about derived state made by older rules"
"$AKASHI" --store "$S" checkpoint >/dev/null
is "$(dump "$S")/$(upto "$S")" "$before/$(size "$S")" "the next writer rebuilds it under the current rules"

# A commit cut off between the log and state.db (or a power loss: state.db
# is not synced) leaves state behind the log: the next writer replays the rest.
sqlite3 "$S/state.db" ".backup '$T/state-behind.db'"
"$AKASHI" --store "$S" ingest - >/dev/null <<'J'
{"kind":"consent","time":"2026-07-03T00:00:00Z","source":"crm","body":{"subject":"late@example.com","list":"news","action":"opt_in","method":"form","proof":{"ip":"192.0.2.7"}}}
{"kind":"consent","time":"2026-07-03T01:00:00Z","source":"crm","body":{"subject":"late@example.com","list":"news","action":"opt_out","method":"one_click"}}
{"kind":"send","time":"2026-07-03T02:00:00Z","source":"mta","body":{"rcpt":"late2@example.com","status":"bounced","dsn":"5.1.1"}}
J
after=$(dump "$S")
rm -f "$S/state.db" "$S/state.db-wal" "$S/state.db-shm"
cp "$T/state-behind.db" "$S/state.db"
is "$(q "SELECT count(*) FROM suppression WHERE address LIKE 'late%'")" "0" \
	"(the old state.db knows nothing of the last three entries)"
"$AKASHI" --store "$S" checkpoint >/dev/null
is "$(dump "$S")" "$after" "state behind the log is caught up when the store is next opened for writing"
is "$(upto "$S")" "$(size "$S")" "and covers the whole log again"

# A state.db from elsewhere, ahead of this log, is rebuilt from this log.
S2=$T/s2
new_store "$S2"
"$AKASHI" --store "$S2" ingest --kind consent --format csv "$D/consent/basic.csv" >/dev/null
own=$(dump "$S2")
rm -f "$S2/state.db" "$S2/state.db-wal" "$S2/state.db-shm"
sqlite3 "$S/state.db" ".backup '$S2/state.db'"
"$AKASHI" --store "$S2" checkpoint >/dev/null
is "$(dump "$S2")" "$own" "a state.db ahead of the log is rebuilt from the log"

# A store made before state.db kept derived tables in akashi.db: the first
# writer drops them there (unqualified queries would find them first) and
# rebuilds them in state.db.
sqlite3 "$S2/akashi.db" "CREATE TABLE consent_state(subject TEXT, list TEXT, action TEXT);
	INSERT INTO consent_state VALUES('stale@example.com', 'news', 'opt_in');"
rm -f "$S2/state.db" "$S2/state.db-wal" "$S2/state.db-shm"
"$AKASHI" --store "$S2" checkpoint >/dev/null
is "$(sqlite3 "$S2/akashi.db" "SELECT count(*) FROM sqlite_master WHERE name = 'consent_state'")" "0" \
	"an old store's derived tables leave akashi.db"
is "$(dump "$S2")" "$own" "and are rebuilt from the log in state.db"
check "the store verifies" "$AKASHI" --store "$S" verify
done_testing
