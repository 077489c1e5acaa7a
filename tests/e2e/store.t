#!/usr/bin/env bash
# The store's commands end to end: init, ingest, log, checkpoint(s), key,
# prove (checked by an independent RFC 9162 verifier in Python), search.
. "$(dirname "$0")/lib/tap.sh"

S=$T/s
check "init makes a store" "$AKASHI" --store "$S" init --origin test.example/log
is "$(stat -c %a "$S/key.pem")" "600" "the signing key is mode 0600"
fails "init refuses to overwrite an existing store" "$AKASHI" --store "$S" init
out=$("$AKASHI" --store "$S" init 2>&1)
like "$out" "refusing to overwrite" "and says why"
fails "an origin with a space is refused" "$AKASHI" --store "$T/o" init --origin "a b"
AKASHI_STORE=$S check "AKASHI_STORE names the store" "$AKASHI" log

cat >"$T/in.jsonl" <<'J'
{"kind":"consent","time":"2026-07-01T09:00:00+09:00","source":"api:crm","body":{"subject":"Taro@Example.JP","list":"ニュースレター","action":"opt_in","method":"double_opt_in","proof":{"ip":"192.0.2.1"}}}
{"kind":"send","time":"2026-07-02T00:00:00Z","source":"mta","body":{"rcpt":"taro@example.jp","status":"sent","stream":"marketing","campaign":"c1"}}
{"kind":"admin","time":"2026-07-03T00:00:00Z","source":"sso","body":{"actor":"alice","action":"login_failure","ip":"203.0.113.9","result":"failure"}}

{"kind":"admin","time":"2026-07-04T00:00:00.5Z","source":"sso","body":{"actor":"alice","action":"login_success","ip":"203.0.113.9"}}
J
out=$("$AKASHI" --store "$S" ingest "$T/in.jsonl")
is "$out" "4 appended, 0 duplicates, 0 rejected" "ingest prints the counts (a blank line is no record)"
"$AKASHI" --store "$S" log >"$T/log"
is "$(wc -l <"$T/log")" "4" "log prints every entry"
first=$(head -1 "$T/log")
like "$first" '^\{"body":\{"action":"opt_in","list":"ニュースレター","method":"double_opt_in","proof":\{"ip":"192.0.2.1"\},"subject":"taro@example.jp"\},"kind":"consent","received":"[0-9T:.-]+Z","seq":1,"source":"api:crm","time":"2026-07-01T00:00:00Z"\}$' \
	"entries are canonical: keys sorted, address lower-cased, time in UTC"
like "$(sed -n 4p "$T/log")" '"time":"2026-07-04T00:00:00.500000Z"' "fractions keep microseconds"
is "$("$AKASHI" --store "$S" log --kind admin | wc -l)" "2" "log --kind"
is "$("$AKASHI" --store "$S" log --from 2 --to 3 | grep -o '"seq":[0-9]*' | tr '\n' ' ')" '"seq":2 "seq":3 ' "log --from --to"
is "$("$AKASHI" --store "$S" log --since 2026-07-02T00:00:00Z --until 2026-07-04T00:00:00Z | grep -o '"seq":[0-9]*' | tr '\n' ' ')" '"seq":2 "seq":3 ' "log --since (inclusive) --until (exclusive)"
is "$("$AKASHI" --store "$S" log --kind admin --since 2026-07-03T12:00:00+09:00 | grep -c seq)" "1" "log --kind with --since, any offset"
fails "log --since with a bad time is a usage error" "$AKASHI" --store "$S" log --since yesterday


cp1=$("$AKASHI" --store "$S" checkpoint)
like "$cp1" "^test.example/log
4
[A-Za-z0-9+/]{43}=
chain [A-Za-z0-9+/]{43}=

— test.example/log [A-Za-z0-9+/]{90}==$" "checkpoint prints a signed note"
cp2=$("$AKASHI" --store "$S" checkpoint)
is "$cp2" "$cp1" "an unchanged log gets the same checkpoint back"
like "$("$AKASHI" --store "$S" log --kind checkpoint)" '"kind":"checkpoint".*"seq":5' "the checkpoint is itself an entry"
"$AKASHI" --store "$S" ingest - >/dev/null <<'J'
{"kind":"system","time":"2026-07-05T00:00:00Z","source":"t","body":{"event":"x"}}
J
cp3=$("$AKASHI" --store "$S" checkpoint)
like "$cp3" "^test.example/log
6
" "after an append the next checkpoint covers the first's entry"
is "$("$AKASHI" --store "$S" checkpoints --json | wc -l)" "2" "checkpoints lists both"
"$AKASHI" --store "$S" key >"$T/pub.pem"
check "key prints a PEM Ed25519 public key" openssl pkey -pubin -in "$T/pub.pem" -noout

# Inclusion and consistency proofs, checked by a separate implementation.
cat >"$T/rfc9162.py" <<'P'
import base64, hashlib, json, sys
def node(l, r): return hashlib.sha256(b'\1' + l + r).digest()
def root_from_inclusion(i, n, leaf, path):
    fn, sn, r = i, n - 1, leaf
    for p in path:
        if sn == 0: raise SystemExit("path too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            while fn and not fn & 1: fn >>= 1; sn >>= 1
        else: r = node(r, p)
        fn >>= 1; sn >>= 1
    if sn: raise SystemExit("path too short")
    return r
def mth(leaves):
    if len(leaves) == 1: return leaves[0]
    k = 1
    while k * 2 < len(leaves): k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))
b = lambda s: base64.b64decode(s)
P
"$AKASHI" --store "$S" log >"$T/log6"
for seq in 1 3 6; do
	proof=$("$AKASHI" --store "$S" prove $seq)
	res=$(python3 - "$T/log6" "$proof" "$T/rfc9162.py" <<'P'
import hashlib, json, sys
exec(open(sys.argv[3]).read())
lines = [l.rstrip(b'\n') for l in open(sys.argv[1], 'rb')]
leaves = [hashlib.sha256(b'\0' + l).digest() for l in lines]
p = json.loads(sys.argv[2])
n, s = p['tree_size'], p['seq']
assert b(p['leaf_hash']) == leaves[s - 1], "leaf hash"
r = root_from_inclusion(s - 1, n, leaves[s - 1], [b(x) for x in p['path']])
print("ok" if r == mth(leaves[:n]) else "bad root")
P
)
	is "$res" "ok" "prove $seq: the path leads to the root (independent verifier)"
done
like "$("$AKASHI" --store "$S" prove 2)" '"tree_size":6' "prove uses the latest checkpoint covering the seq"
like "$("$AKASHI" --store "$S" prove 2 --size 3)" '"tree_size":3' "prove --size"
fails "prove beyond the log fails" "$AKASHI" --store "$S" prove 99
like "$("$AKASHI" --store "$S" prove --consistency 4 7)" '^\{"new_size":7,"old_size":4,"path":\["[^"]+"' "prove --consistency"
fails "prove --consistency with OLD > NEW fails" "$AKASHI" --store "$S" prove --consistency 5 4

like "$("$AKASHI" --store "$S" search ニュース)" '"seq":1' "search finds Japanese text"
like "$("$AKASHI" --store "$S" search taro@example.jp)" '"seq":1,.*
.*"seq":2,' "search finds an address as it is"
is "$("$AKASHI" --store "$S" search --kind send taro@example.jp | grep -c seq)" "1" "search --kind"
out=$("$AKASHI" --store "$S" search '"unbalanced' 2>&1)
like "$out" "cannot understand the search" "bad FTS syntax gets a clear error"
unlike "$out" "fts5|sqlite" "not an SQLite message"
check "verify passes" "$AKASHI" --store "$S" verify
check "reindex rebuilds" "$AKASHI" --store "$S" reindex
like "$("$AKASHI" --store "$S" search 203.0.113.9)" '"seq":3' "search works after reindex"
# ingest --no-index leaves both derived indexes behind (bulk loads); scans
# by kind still see every entry, reading the uncatalogued tail from the
# log, and a search (or an audit, a report, the daemon) catches them up.
C=$T/cat
new_store "$C"
for i in 1 2 3; do
	echo "{\"kind\":\"admin\",\"time\":\"2026-07-0${i}T00:00:00Z\",\"source\":\"sso\",\"body\":{\"actor\":\"cat$i\",\"action\":\"logout\"}}"
done >"$T/cat.jsonl"
check "ingest --no-index" "$AKASHI" --store "$C" ingest --no-index "$T/cat.jsonl"
upto() { sqlite3 "$C/akashi.db" "SELECT upto FROM derived WHERE name = '$1'"; }
is "$(upto catalog)/$(upto fts)" "0/0" "the catalog and the search index are left behind"
is "$("$AKASHI" --store "$C" log --kind admin --since 2026-07-02T00:00:00Z | grep -c '"kind":"admin"')" "2" \
	"a scan by kind and time still sees every entry"
like "$("$AKASHI" --store "$C" search cat2)" '"seq":2' "a search catches the indexes up"
is "$(upto catalog)/$(upto fts)" "3/3" "which then cover the log"
is "$(sqlite3 "$C/akashi.db" "SELECT group_concat(seq) FROM catalog WHERE kind = 'admin' ORDER BY time")" "1,2,3" "with every entry"
# A store made before the catalog had its own row followed the index.
sqlite3 "$C/akashi.db" "DELETE FROM derived WHERE name = 'catalog'; DELETE FROM catalog WHERE seq = 3"
echo '{"kind":"admin","time":"2026-07-04T00:00:00Z","source":"sso","body":{"actor":"cat4","action":"logout"}}' >"$T/cat4.jsonl"
check "ingest into such a store" "$AKASHI" --store "$C" ingest "$T/cat4.jsonl"
is "$(upto catalog)" "4" "the catalog starts from where the index was"
is "$(sqlite3 "$C/akashi.db" "SELECT group_concat(seq) FROM catalog ORDER BY seq")" "1,2,4" "and carries on from there"
done_testing
