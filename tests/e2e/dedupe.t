#!/usr/bin/env bash
# The dedupe identity is part of the store's format. A store written by
# one version of akashi is fed again, by cron or by a client's retry, by
# the next: if the keys it computes for the same records changed, every
# record would be appended a second time, and an append-only log cannot
# take them out. So the keys of one input of each adapter are pinned here,
# byte for byte. A change that makes this fail needs a migration of the
# dedupe table, not a new expected value.
. "$(dirname "$0")/lib/tap.sh"
S=$T/s
new_store "$S"
D=$ROOT/tests/data

a='{"kind":"send","time":"2026-07-01T09:00:00Z","source":"mta:out1","body":{"rcpt":"a@example.com","status":"sent","campaign":"autumn"}}'
b='{"kind":"consent","time":"2026-07-01T09:00:01.250Z","source":"web","body":{"subject":"b@example.com","list":"news","action":"opt_in","method":"form"}}'
# An identical record twice in one input is two events (the second has
# another position), not a duplicate.
printf '%s\n%s\n%s\n' "$a" "$a" "$b" >"$T/native.jsonl"

ingest() { "$AKASHI" --store "$S" ingest "$@" 2>&1; }
feed_all() {
	ingest "$T/native.jsonl" &&
		ingest --kind send --format postfix --year 2026 --zone UTC "$D/postfix/real-postlogd.log" &&
		ingest --kind send --format dsn "$D/dsn/postfix-bounce.eml" &&
		ingest --kind consent --format csv "$D/consent/basic.csv" &&
		ingest --kind admin --format ocsf "$D/ocsf/account_change.jsonl" &&
		ingest --kind dmarc "$D/dmarc/001.xml"
}
out=$(feed_all); st=$?
is "$st" 0 "one input of each adapter is appended"
keys=$(sqlite3 "$S/akashi.db" "SELECT hex(key) FROM dedupe ORDER BY key")
echo "$keys" >"$T/keys"

out=$(feed_all); st=$?
is "$st" 0 "the same inputs again"
like "$out" "^0 appended" "append nothing the second time"
is "$(sqlite3 "$S/akashi.db" "SELECT hex(key) FROM dedupe ORDER BY key")" "$keys" \
	"and add no key"

# Sorted as the b-tree keeps them: the event time (8 bytes, sign bit
# flipped), then 8 bytes of SHA-256 over the kind and the identity.
want=$(cat <<'KEYS'
8000929F30BABDC0844194ED1EB74B2F
80065588EA97E400A49486390BB0B221
80065588EA97E400E283DD49EDB8EFE4
80065588EAAAF6D0D9FC73B264445F4D
80065CBF731C3000019083289D47D125
800660BD34221C00642BAC36BA91D30C
800660BD46BEAA905B88F6E13C57F363
800660BE0AB5C000BC2210E76100044F
800660BE0E4947001649E52E5A5A5E51
800660BE11DCCE00FCD3D9B7E7713F01
800660BE15705500614FA1698CE8CC7B
800660BE1903DC00F465AC7993CC90AD
800660BE1C976300FDE290A3660234EB
800660BE202AEA00BA519E744072A84A
800660BE23BE71002EF324011F199E77
800660BE2751F800988CBFFBD9239C6E
800660BE2AE57F002A1065400A9BDCE4
800660BE2E79060046D1243FE262F703
800660BE320C8D00BC458A3993A8C9E0
800660BE35A0140065D05C112740C4B3
800660BEE149640069E73309F9602954
800660BFB7DD080094E474EBA4141630
800660D91F34FD0007BD04A3E1D858E0
800660D91F34FD00114031726D624ED7
800660D91F34FD001308ACBD0CE79FBB
800660D91F34FD001D7923EAAB59A6D3
800660D91F34FD00252D6F8036BEED3D
800660D91F34FD00293034BEF65D9D3A
800660D91F34FD002A189D10AA44ED9B
800660D91F34FD0032F28C2A92DB1058
800660D91F34FD003B12FC66368C7AC7
800660D91F34FD003F03562F5C6DBBAE
800660D91F34FD004D43F8FC954C56C6
800660D91F34FD004D8CFFC55A692B64
800660D91F34FD00531FE41FA5DF7E37
800660D91F34FD0087AEF9C73617AE2B
800660D91F34FD008E6B4EF4055E0B1A
800660D91F34FD0094218E45CEF5A9FA
800660D91F34FD009766C3AA88482C1C
800660D91F34FD009A1EAF5A4100A3B4
800660D91F34FD009D86AE79D1B6CF12
800660D91F34FD00A4DCFCD1157989A7
800660D91F34FD00AE81E3D4DE576C55
800660D91F34FD00B903A361AF2F5ECF
800660D91F34FD00C6435196DD78C587
800660D91F34FD00C6CC087FF45C0B17
800660D91F34FD00C8130031E029D863
800660D91F34FD00C9C84CC57030D0E3
800660D91F34FD00CD05B2761735DF87
800660D91F34FD00CEFF9514FC2E6D9D
800660D91F34FD00EFC743579C8CA792
800660D91F34FD00F0FADAFE43669516
800660D91F34FD00FA8C3E4DED972642
800660D91F34FD00FD4B30D6768151F6
800660D91F53818070661A244DFD96C8
800660D91F538180FF05895AD893DF1D
800660DC6E3FA3C06C7A5AC9F7E6E036
800660DC6E3FA3C0D816EE6A10EFB750
800660DE4FE9EA0000A14247F597542E
KEYS
)
is "$keys" "$want" "the dedupe keys are those of earlier versions, byte for byte"

# A record without an event id is known by its kind, time, source and a
# 64-bit hash of its body, a hash that is fast, not cryptographic. Someone
# with ingest rights who can guess a later record (an opt-out from the web
# form, at a known second) could append first a record of their own whose
# body collides with it; were the key the whole truth, the genuine opt-out
# would then be counted as a duplicate and never reach the log.
C=$T/c
new_store "$C"
genuine='{"action":"opt_out","list":"news","method":"form","subject":"b@example.com"}'
forged=$(python3 "$ROOT/tests/e2e/lib/collide64.py" "$genuine")
like "$forged" '"list":"offers"' "a forged opt-out from another list whose body hash is the genuine one's"
rec() { printf '{"kind":"consent","time":"%s","source":"web","body":%s}\n' "$1" "$2"; }
rec 2026-07-01T08:00:00Z '{"action":"opt_in","list":"news","method":"double_opt_in","proof":{"confirmation_id":"c-1","confirmed_at":"2026-07-01T08:05:00Z","ip":"192.0.2.1"},"subject":"b@example.com"}' >"$T/optin.jsonl"
rec 2026-07-01T09:00:00Z "$forged" >"$T/forged.jsonl"
rec 2026-07-01T09:00:00Z "$genuine" >"$T/genuine.jsonl"
out=$("$AKASHI" --store "$C" ingest "$T/optin.jsonl" "$T/forged.jsonl" 2>&1)
like "$out" "^2 appended" "an opt-in to news, then the forged record"
is "$(sqlite3 "$C/akashi.db" "SELECT count(*) FROM dedupe")" 2 "under the key the opt-out will have"
out=$("$AKASHI" --store "$C" ingest "$T/genuine.jsonl" 2>&1)
like "$out" "^1 appended, 0 duplicates" "the genuine opt-out is appended all the same"
like "$("$AKASHI" --store "$C" log --from 3 --to 3)" '"list":"news","method":"form"' "and is in the log"
out=$("$AKASHI" --store "$C" ingest "$T/genuine.jsonl" "$T/forged.jsonl" 2>&1)
like "$out" "^0 appended, 2 duplicates" "each of the two is known again"
is "$(sqlite3 "$C/akashi.db" "SELECT count(*) FROM dedupe_more")" 1 \
	"the second record under the key is kept beside it"
"$AKASHI" --store "$C" gate --rcpt b@example.com --list news --stream marketing >/dev/null 2>&1
is "$?" 1 "and the gate denies the address that opted out of news"

# A store written before seqs were kept has dedupe(key) alone. Its first
# writable open adds the column; its keys stay duplicates (they cannot be
# confirmed), so feeding the same inputs again appends nothing.
O=$T/old
new_store "$O"
"$AKASHI" --store "$O" ingest "$T/native.jsonl" >/dev/null 2>&1
sqlite3 "$O/akashi.db" "CREATE TABLE d(key BLOB PRIMARY KEY) WITHOUT ROWID;
	INSERT INTO d SELECT key FROM dedupe; DROP TABLE dedupe; DROP TABLE dedupe_more;
	ALTER TABLE d RENAME TO dedupe;"
out=$("$AKASHI" --store "$O" ingest "$T/native.jsonl" 2>&1)
like "$out" "^0 appended, 3 duplicates" "an older store: the same input again appends nothing"
is "$(sqlite3 "$O/akashi.db" "SELECT count(*) FROM dedupe WHERE seq IS NULL")" 3 \
	"its keys are kept as they were"
out=$("$AKASHI" --store "$O" ingest "$T/genuine.jsonl" 2>&1)
like "$out" "^1 appended" "and a new record"
is "$(sqlite3 "$O/akashi.db" "SELECT seq FROM dedupe WHERE seq IS NOT NULL")" 4 \
	"gets its key with its seq"
"$AKASHI" --store "$O" verify >/dev/null 2>&1
is "$?" 0 "the store verifies"
done_testing
