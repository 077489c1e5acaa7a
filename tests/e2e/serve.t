#!/usr/bin/env bash
# akashi serve end to end on loopback: tokens of each role, ingest over
# HTTP (durable answers, duplicates, all-or-nothing 400s, 413), the query
# routes, proofs checked by hand, metrics, rate limits through a SIGHUP
# reload, and a SIGTERM that answers what it received and signs a final
# checkpoint.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/daemon.sh"
S=$T/s
new_store "$S"
tokens "$S"
like "$TI" '^akt_[A-Za-z0-9_-]{43}$' "token create prints one token"
is "$("$AKASHI" --store "$S" token list --json | wc -l)" "4" "token list shows the four tokens"
unlike "$("$AKASHI" --store "$S" token list)" "$TI" "token list never shows a token"
is "$(sqlite3 "$S/akashi.db" "SELECT count(*) FROM api_tokens WHERE lower(hex(hash)) = '$(printf %s "$TI" | sha256sum | cut -c1-64)'")" \
	"1" "the store keeps the token's SHA-256"
is "$("$AKASHI" --store "$S" log --kind system | grep -c '"event":"token_create"')" "4" \
	"each token creation is a system entry"

cat >"$T/serve.conf" <<EOF
# test configuration
api.max_body = 1048576
api.rate = 0
EOF
daemon_start "$S" --config "$T/serve.conf"
_result $? "the daemon starts and answers /healthz"
api GET /healthz
is "$CODE" "200" "GET /healthz needs no token"

# ---- ingest ----
cat >"$T/three.jsonl" <<'EOF'
{"kind":"send","time":"2026-09-01T10:00:00Z","source":"mta:a","body":{"rcpt":"ann@example.com","status":"sent","campaign":"fall"}}
{"kind":"send","time":"2026-09-01T10:00:01Z","source":"mta:a","body":{"rcpt":"Bob@Example.com","status":"sent","campaign":"fall"}}
{"kind":"send","time":"2026-09-01T10:00:02Z","source":"mta:a","body":{"rcpt":"cy@example.com","status":"bounced","dsn":"5.1.1"}}
EOF
before=$(size_of "$S")
api POST /v1/ingest/send "$TI" --data-binary @"$T/three.jsonl"
is "$CODE" "200" "POST /v1/ingest/send with an ingest token: 200"
is "$(json appended)/$(json duplicates)/$(json rejected)" "3/0/0" "three appended"
last=$(json last_seq)
is "$last" "$((before + 3))" "last_seq is the last entry's seq"
is "$(size_of "$S")" "$last" "the entries are in the store when the answer comes"
like "$("$AKASHI" --store "$S" log --from "$last")" '"rcpt":"cy@example.com"' "the last seq holds the last record"
like "$("$AKASHI" --store "$S" log --from "$((last - 1))" --to "$((last - 1))")" '"rcpt":"bob@example.com"' \
	"records are normalised by the same rules as akashi ingest"
api POST /v1/ingest/send "$TI" --data-binary @"$T/three.jsonl"
is "$(json appended)/$(json duplicates)/$CODE" "0/3/200" "the same body again: three duplicates"
"$AKASHI" --store "$S" ingest "$T/three.jsonl" >"$T/cli.out" 2>&1
is "$(cat "$T/cli.out")" "0 appended, 3 duplicates, 0 rejected" "the CLI agrees: same dedupe identity"

api POST /v1/ingest/send "$TR" --data-binary @"$T/three.jsonl"
is "$CODE" "403" "a read token may not ingest (403)"
api POST /v1/ingest/send "" --data-binary @"$T/three.jsonl"
is "$CODE" "401" "no token: 401"
api POST /v1/ingest/send "akt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" --data-binary @"$T/three.jsonl"
is "$CODE" "401" "an unknown token: 401"
api POST /v1/ingest/send "Basic x" --data-binary @"$T/three.jsonl"
is "$CODE" "401" "a malformed credential: 401"
api GET /v1/entries "$TI"
is "$CODE" "403" "an ingest token may not export (403)"

size=$(size_of "$S")
printf '%s\n%s\n' "$(head -1 "$T/three.jsonl" | sed 's/ann@/dee@/')" '{"kind":"send","time":"2026-09-01T10:00:03Z","source":"mta:a","body":{"status":"sent"}}' >"$T/bad.jsonl"
api POST /v1/ingest/send "$TI" --data-binary @"$T/bad.jsonl"
is "$CODE" "400" "a body with an invalid record: 400"
is "$(json rejects.0.where)" "body:2" "the error names the line"
like "$(json rejects.0.reason)" "field 'rcpt'" "and the field"
is "$(size_of "$S")" "$size" "and nothing of it was appended (all or nothing)"
api POST /v1/ingest/send "$TI" --data-binary 'not json at all'
is "$CODE" "400" "a body that is not JSON Lines: 400"
api POST /v1/ingest/send "$TI" --data-binary '{"kind":"send","time":"2026-09-01T10:00:00Z","source":"x","body":{"rcpt":"a@b.example","status":"sent","float":1.5}}'
like "$CODE:$BODY" '^400:.*floating-point' "a floating-point number: 400 naming it"
api POST /v1/ingest/nonsense "$TI" --data-binary @"$T/three.jsonl"
is "$CODE" "404" "an unknown kind: 404"
api POST /v1/ingest/system "$TI" --data-binary '{"time":"2026-09-01T10:00:00Z","source":"x","body":{"event":"forged"}}'
is "$CODE" "403" "an ingest token may not write system entries"
api POST /v1/ingest "$TI" --data-binary '{"kind":"system","time":"2026-09-01T10:00:00Z","source":"x","body":{"event":"forged"}}'
is "$CODE" "403" "not even inside native lines"
api POST "/v1/ingest/send?format=csv" "$TI" --data-binary @"$T/three.jsonl"
is "$CODE" "400" "an unknown format: 400"
head -c 1200000 /dev/zero | tr '\0' 'x' >"$T/big.body"
api POST /v1/ingest/send "$TI" --data-binary @"$T/big.body"
is "$CODE" "413" "a body over api.max_body: 413"
is "$(size_of "$S")" "$size" "the store did not change through all of that"
api POST "/v1/ingest/send?skip_invalid=true" "$TI" --data-binary @"$T/bad.jsonl"
is "$CODE/$(json appended)/$(json rejected)" "200/1/1" "?skip_invalid=true appends the valid record and counts the other"

cat >"$T/consent.csv" <<'EOF'
subject,list,action,method,time,proof.ip
eve@example.com,news,opt_in,double_opt_in,2026-08-01T00:00:00Z,192.0.2.7
EOF
api POST "/v1/ingest/consent?format=csv" "$TI" --data-binary @"$T/consent.csv"
is "$CODE/$(json appended)" "200/1" "the consent CSV adapter over HTTP"
like "$("$AKASHI" --store "$S" log --kind consent | tail -1)" '"source":"api:ci"' \
	"an adapter's records default to the token's name as source"

# ---- reading ----
n=$(size_of "$S")
api GET /v1/entries "$TE"
is "$CODE" "200" "GET /v1/entries with an export token"
is "$(printf '%s\n' "$BODY" | wc -l)" "$n" "streams every entry as JSON Lines"
is "$(printf '%s\n' "$BODY" | head -3)" "$("$AKASHI" --store "$S" log --to 3)" "byte for byte as akashi log"
like "$("$AKASHI" --store "$S" log --kind system | tail -1)" '"action":"export".*"token_name":"exporter"' \
	"the export is recorded as a system entry"
api GET "/v1/entries?kind=send&limit=2" "$TA"
is "$(printf '%s\n' "$BODY" | grep -c '"kind":"send"')" "2" "kind and limit filter the stream"
api GET "/v1/entries?since=2026-09-01T10:00:01Z&until=2026-09-01T10:00:02Z" "$TE"
is "$(printf '%s\n' "$BODY" | wc -l)/$(printf '%s\n' "$BODY" | grep -c bob@)" "1/1" "since and until filter by event time"
# Tailing the log: from the next seq on, where nothing is yet. An empty
# answer, at once (the reply used to be ended without being started, and
# the client waited for ever).
api GET "/v1/entries?from_seq=$(($(size_of "$S") + 5))" "$TE" --max-time 5
is "$CODE:$BODY" "200:" "GET /v1/entries past the end: 200 and nothing, not a hang"
api GET /healthz
is "$CODE" "200" "... and the daemon answers the next request"
# Bytes that are not UTF-8 in what an error quotes: still a 400 that says
# why (jansson refuses such text: it was a 500 "out of memory").
api GET "/v1/checkpoint?size=1%ff" "$TR"
like "$CODE:$BODY" '^400:\{"error":".*is not a whole number' "a parameter with a byte that is not UTF-8: 400 naming it"
api POST "/v1/ingest?format=%ff" "$TI" --data-binary x
like "$CODE:$BODY" '^400:\{"error":"no format' "an unknown format of such bytes: 400"
api GET "/v1/entries?since=yesterday" "$TE"
is "$CODE" "400" "a bad time parameter: 400"
api GET /v1/entries "$TR"
is "$CODE" "403" "a read token may not export"
api GET "/v1/search?q=bob%40example.com" "$TR"
like "$CODE:$BODY" '^200:.*"rcpt":"bob@example.com"' "GET /v1/search finds by substring"
api GET "/v1/search?q=%22unbalanced" "$TR"
is "$CODE" "400" "a query FTS5 cannot parse: 400"

api GET /v1/checkpoint "$TR"
is "$CODE" "404" "no checkpoint yet: 404"
api POST /v1/checkpoint "$TR"
is "$CODE" "403" "only admin signs checkpoints on demand"
api POST /v1/checkpoint "$TA"
is "$CODE" "200" "POST /v1/checkpoint with an admin token"
note=$BODY
api GET /v1/checkpoint "$TR"
is "$BODY" "$note" "GET /v1/checkpoint gives the signed note"
"$AKASHI" --store "$S" key >"$T/pub.pem"
printf '%s\n' "$note" >"$T/note"
python3 - "$T/note" >"$T/note.parts" <<'P'
import base64, sys
t = open(sys.argv[1], "rb").read()
body, sig = t.split(b"\n\n", 1)
open(sys.argv[1] + ".body", "wb").write(body + b"\n")
open(sys.argv[1] + ".sig", "wb").write(base64.b64decode(sig.split(b" ")[-1].strip())[4:])
P
check "the checkpoint's signature verifies with openssl" \
	openssl pkeyutl -verify -pubin -inkey "$T/pub.pem" -rawin -in "$T/note.body" -sigfile "$T/note.sig"
api GET /v1/proof/2 "$TR"
is "$CODE" "200" "GET /v1/proof/2"
printf '%s' "$BODY" >"$T/proof.json"
out=$(python3 - "$T/proof.json" "$T/note" <<'P'
import base64, hashlib, json, sys
p = json.load(open(sys.argv[1]))
note = open(sys.argv[2]).read().split("\n")
H = lambda b: hashlib.sha256(b).digest()
leaf = H(b"\0" + p["entry"].encode())
assert base64.b64encode(leaf).decode() == p["leaf_hash"], "leaf"
# RFC 9162 2.1.3.2
fn, sn, r = p["leaf_index"], p["tree_size"] - 1, leaf
for x in map(base64.b64decode, p["path"]):
    if sn == 0: raise SystemExit("path too long")
    if fn & 1 or fn == sn:
        r = H(b"\1" + x + r)
        while not fn & 1 and fn:
            fn >>= 1; sn >>= 1
    else:
        r = H(b"\1" + r + x)
    fn >>= 1; sn >>= 1
assert sn == 0, "path too short"
assert base64.b64encode(r).decode() == note[2] == p["root"], "root"
assert str(p["tree_size"]) == note[1], "size"
print("ok")
P
)
is "$out" "ok" "the inclusion proof leads to the checkpoint's signed root (checked in Python)"
api GET /v1/proof/999999 "$TR"
is "$CODE" "404" "a seq beyond the checkpoint: 404"
api GET /v1/proof/abc "$TR"
is "$CODE" "400" "a seq that is not a number: 400"
api GET "/v1/consistency?old=2&new=$(json tree_size "$(cat "$T/proof.json")")" "$TR"
is "$CODE" "200" "GET /v1/consistency"

api GET /v1/consent/eve%40example.com "$TR"
is "$CODE/$(json lists.0.list)/$(json lists.0.state)" "200/news/opt_in" "GET /v1/consent/{subject}: the state per list"
like "$(json retention)" '"floor":"2029-08-01T00:00:00Z"' "and the retention floor (3 years after the consent)"
api GET /v1/consent/not-an-address "$TR"
is "$CODE" "400" "a subject that is not an address: 400"

api GET /metrics
is "$CODE" "401" "GET /metrics needs a token (metrics.auth)"
api GET /metrics "$TR"
is "$CODE" "200" "GET /metrics with a read token"
like "$BODY" 'akashi_entries_appended_total\{kind="send"\} 4' "metrics: entries by kind"
like "$BODY" 'akashi_ingest_request_seconds_bucket\{le="\+Inf"\} ' "metrics: the ingest latency histogram"
like "$BODY" 'akashi_commit_batch_entries_count ' "metrics: batch sizes"
like "$BODY" 'akashi_checkpoint_size [0-9]' "metrics: the last checkpoint's size"
like "$BODY" 'akashi_checkpoint_age_seconds ' "and age"
like "$BODY" 'akashi_http_requests_total\{route="ingest",code="403"\}' "requests by route and code"

api GET /nowhere "$TR"
is "$CODE" "404" "an unknown route: 404"
api DELETE /v1/entries "$TR"
is "$CODE" "405" "a method the API does not use: 405"

# ---- SIGHUP ----
cat >>"$T/serve.conf" <<EOF
api.rate = 1
api.burst = 2
EOF
kill -HUP $DPID
for i in $(seq 1 100); do
	"$AKASHI" --store "$S" log --kind system | grep -q '"event":"reload"' && break
	sleep 0.05
done
like "$("$AKASHI" --store "$S" log --kind system | grep '"event":"reload"')" '"changed":\["api.rate","api.burst"\]' \
	"SIGHUP: a system entry names the changed keys"
like "$("$AKASHI" --store "$S" log --kind system | tail -1)" '"event":"policy_load"' \
	"and the policies are loaded again (recorded)"
codes=""
for i in 1 2 3 4; do api GET /v1/checkpoint "$TR"; codes="$codes $CODE"; done
like "$codes" "429" "the reloaded rate limit applies: 429"
api GET /v1/checkpoint "$TA"
is "$CODE" "200" "per token: another token is not limited"
kill -0 $DPID
_result $? "the daemon runs on after SIGHUP"

# ---- SIGTERM ----
daemon_stop TERM
is "$?" "0" "SIGTERM: exit status 0"
last=$(sqlite3 "$S/akashi.db" "SELECT bytes FROM entries ORDER BY seq DESC LIMIT 2" | tr '\n' ' ')
like "$last" '"kind":"checkpoint".*"event":"stop"' "the log ends with stop and a final checkpoint covering it"
check "the store verifies" "$AKASHI" --store "$S" verify
unlike "$(cat "$DLOG")" "Sanitizer|runtime error" "no sanitizer reports"

# ---- drain: requests in the writer's queue when SIGTERM comes are answered ----
daemon_start "$S" --set writer.max_wait_us=700000 --set writer.max_batch=1000000
for i in $(seq 1 8); do
	sed "s/mta:a/mta:drain$i/" "$T/three.jsonl" >"$T/d$i.jsonl"
	curl -s -o "$T/d$i.out" -w '%{http_code}' -H "Authorization: Bearer $TI" \
		--data-binary @"$T/d$i.jsonl" "$URL/v1/ingest/send" >"$T/d$i.code" &
done
sleep 0.3
daemon_stop TERM
st=$?
wait
is "$st" "0" "SIGTERM with requests in flight: exit status 0"
ok=0
for i in $(seq 1 8); do
	[ "$(cat "$T/d$i.code")" = 200 ] && [ "$(json appended "$(cat "$T/d$i.out")")" = 3 ] && ok=$((ok + 1))
done
is "$ok" "8" "every request received before SIGTERM was answered 200 after its commit"
is "$(sqlite3 "$S/akashi.db" "SELECT count(*) FROM entries WHERE CAST(bytes AS TEXT) LIKE '%\"source\":\"mta:drain%'")" "24" \
	"and all their entries are in the store"
cp=$(sqlite3 "$S/akashi.db" "SELECT max(size) FROM checkpoints")
is "$cp" "$(($(size_of "$S") - 1))" "the final checkpoint covers everything but its own entry"
check "the store verifies" "$AKASHI" --store "$S" verify
done_testing
