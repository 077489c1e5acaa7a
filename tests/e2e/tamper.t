#!/usr/bin/env bash
# Changes made behind akashi's back with the sqlite3 shell: each one makes
# `akashi verify` exit non-zero and name the first bad seq and what is
# wrong. Every case starts from a fresh copy of the same good store.
. "$(dirname "$0")/lib/tap.sh"

G=$T/good
new_store "$G"
python3 - >"$T/in.jsonl" <<'P'
import json
for i in range(600):
    print(json.dumps({"kind": "send", "time": "2026-07-01T00:%02d:%02dZ" % (i // 60, i % 60),
                      "source": "mta", "body": {"rcpt": "user%d@example.com" % i, "status": "sent"}}))
P
"$AKASHI" --store "$G" ingest "$T/in.jsonl" >/dev/null
"$AKASHI" --store "$G" checkpoint >/dev/null
"$AKASHI" --store "$G" ingest - >/dev/null <<'J'
{"kind":"system","time":"2026-07-02T00:00:00Z","source":"t","body":{"event":"after"}}
J
"$AKASHI" --store "$G" checkpoint >/dev/null # size 602; its entry is 603
check "the untouched store verifies" "$AKASHI" --store "$G" verify

S=$T/s
fresh() { rm -rf "$S"; cp -a "$G" "$S"; }
sql() { sqlite3 "$S/akashi.db" "$1"; }
# tampered SQL DESC REGEX: verify fails with a message matching REGEX.
tampered() {
	local out st
	out=$("$AKASHI" --store "$S" verify 2>&1)
	st=$?
	if [ $st -ne 1 ]; then
		_result 1 "$2" "verify exit $st: $out"
	else
		like "$out" "$3" "$2"
	fi
}

fresh
sql "UPDATE entries SET bytes = CAST(replace(CAST(bytes AS TEXT), 'user41@', 'user99@') AS BLOB) WHERE seq = 42"
tampered x "an edited byte is found at its seq" "seq 42: the entry's bytes do not match its stored leaf hash"

fresh
python3 - "$S/akashi.db" <<'P'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
b = db.execute("SELECT bytes FROM entries WHERE seq = 300").fetchone()[0]
b = b.replace(b'"sent"', b'"bounced"')
db.execute("UPDATE entries SET bytes = ?, leaf = ? WHERE seq = 300", (b, hashlib.sha256(b'\0' + b).digest()))
db.commit()
P
tampered x "an edit with its leaf hash recomputed is found by the tree" "seq 257-512: the entries no longer hash to the stored tree node"

fresh
python3 - "$S/akashi.db" <<'P'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
b = db.execute("SELECT bytes FROM entries WHERE seq = 580").fetchone()[0].replace(b'"sent"', b'"bounced"')
db.execute("UPDATE entries SET bytes = ?, leaf = ? WHERE seq = 580", (b, hashlib.sha256(b'\0' + b).digest()))
db.commit()
P
tampered x "an edit past the last stored node is found by the checkpoint" "checkpoint of size 600: the entries up to seq 600 no longer hash to its Merkle root"

fresh
sql "DELETE FROM entries WHERE seq = 7"
tampered x "a deleted row is found" "seq 7: missing"

fresh
sql "INSERT INTO entries SELECT 604, kind, time, leaf, bytes FROM entries WHERE seq = 5"
tampered x "an inserted row is found" "seq 604: beyond the 603 entries the head records"

fresh
sql "UPDATE entries SET seq = -seq WHERE seq IN (10, 11); UPDATE entries SET seq = 11 WHERE seq = -10; UPDATE entries SET seq = 10 WHERE seq = -11"
tampered x "reordered rows are found" "seq 10: the stored entry carries seq 11"

fresh
sql "DELETE FROM entries WHERE seq > 590"
tampered x "a truncated tail is found" "seq 591: missing; the log ends at seq 590 but the head records 603"

fresh
sql "DELETE FROM entries WHERE seq > 590; UPDATE head SET size = 590"
tampered x "a truncated tail with the head rewritten is found by the checkpoints" "checkpoint of size 600 covers entries the log no longer has"

fresh
sql "UPDATE checkpoints SET note = replace(note, char(10) || '600' || char(10), char(10) || '599' || char(10)) WHERE size = 600"
tampered x "an edited checkpoint note is found" "checkpoint of size 600"

fresh
sql "UPDATE keys SET pubkey = zeroblob(32)"
tampered x "a swapped public key is found" "key"

# The signed history of checkpoints is evidence too: a checkpoint row
# deleted would leave the entries under it checked against nothing, so an
# edit with every hash recomputed could pass.
fresh
sql "DELETE FROM checkpoints WHERE size = 602"
tampered x "a deleted checkpoint row is found by its entry" "seq 603: a checkpoint entry whose checkpoint row is gone"

fresh
sql "UPDATE checkpoints SET entry_seq = 0 WHERE size = 600"
tampered x "a checkpoint row that disowns its entry is found" "checkpoint of size 600: its row names seq 0 as its entry"

fresh
sql "DELETE FROM checkpoints"
tampered x "every checkpoint row deleted is found" "seq 601: a checkpoint entry whose checkpoint row is gone"

# Checkpoints signed by another key, its public key added to the table.
fresh
openssl genpkey -algorithm ed25519 -outform DER 2>/dev/null | openssl pkey -inform DER -pubout -outform DER 2>/dev/null |
	tail -c 32 >"$T/other.pub"
python3 - "$S/akashi.db" "$T/other.pub" <<'P'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
pub = open(sys.argv[2], "rb").read()
name, created = db.execute("SELECT name, created FROM keys").fetchone()
kh = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
db.execute("INSERT INTO keys VALUES (?, ?, ?, ?)", (kh, name, pub, created))
db.commit()
P
tampered x "a second signing key added is found" "the database records 2 signing keys"

fresh
sql "UPDATE head SET size = 1099511627776, frontier = zeroblob(32)"
tampered x "a head that claims 2^40 entries is reported, not a failed allocation" "the head records 1099511627776 entries, where 603 are stored"

fresh
sql "DELETE FROM tree WHERE level = 8 AND idx = 1"
tampered x "a deleted tree node is found" "seq 257-512: the stored tree node is missing"

fresh
sql "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
psize=$(sql "PRAGMA page_size")
pg=$(sql "SELECT pageno FROM dbstat WHERE name = 'entries' AND pagetype = 'leaf' ORDER BY pageno LIMIT 1 OFFSET 3")
head -c "$psize" /dev/zero | tr '\0' '\377' | dd of="$S/akashi.db" bs="$psize" seek=$((pg - 1)) conv=notrunc 2>/dev/null
out=$("$AKASHI" --store "$S" verify 2>&1); st=$?
is "$st" "1" "a damaged database file fails verification (exit 1, no crash)"
diag "$out"
done_testing
