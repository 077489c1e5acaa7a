#!/usr/bin/env bash
# tests/e2e/delivery.t - akashi send against real SMTP servers on loopback
# (tests/e2e/lib/smtp-server.py: Debian python3-aiosmtpd, STARTTLS with a
# certificate from a CA this test makes), DKIM checked by an independent
# verifier (Debian python3-dkim, python3-nacl for Ed25519), gates from the
# policies in git, temporary and permanent failures, TLS refusals, and a
# campaign killed with SIGKILL twice that still ends with every recipient
# sent exactly once on record.
. "$(dirname "$0")/lib/tap.sh"
PY=/usr/bin/python3
LIB=$ROOT/tests/e2e/lib
skip_unless_python aiosmtpd dkim nacl

# --- keys and certificates -----------------------------------------------
cd "$T"
. "$LIB/pki.sh"
make_pki DNS:localhost,DNS:mx.ok.test,DNS:nomx.test,IP:127.0.0.1

# start_server NAME [options]: an SMTP server whose port goes to $NAME.port
start_server() {
	local name=$1 i
	shift
	$PY "$LIB/smtp-server.py" --port-file "$T/$name.port" --spool "$T/$name" \
		--cert "$T/srv.pem" --key "$T/srv.key" "$@" >"$T/$name.out" 2>&1 &
	PIDS="$PIDS $!"
	for i in $(seq 100); do [ -s "$T/$name.port" ] && return 0; sleep 0.1; done
	echo "Bail out! SMTP server $name did not start: $(cat "$T/$name.out")"
	exit 1
}
start_server tls
start_server plain --no-starttls
TLS_PORT=$(cat tls.port)
PLAIN_PORT=$(cat plain.port)

S=$T/store
new_store "$S"
cat >"$T/akashi.conf" <<CONF
relay = localhost:$TLS_PORT
tls.ca_file = $T/ca.pem
dkim.domain = example.com
dkim.selector = rsa1
dkim.key = $T/dkim-rsa.pem
dkim.ed25519_selector = ed1
dkim.ed25519_key = $T/dkim-ed.pem
queue.retry_min = 1s
queue.retry_max = 2s
delivery.connections = 2
CONF
send() { "$AKASHI" --store "$S" --config "$T/akashi.conf" "$@"; }
# entries NAME: the send entries of campaign NAME as "rcpt status attempt" lines
entries() {
	"$AKASHI" --store "$S" log --kind send | $PY -c '
import json, sys
for l in sys.stdin:
    b = json.loads(l)["body"]
    if b.get("campaign") == sys.argv[1]:
        print(b["rcpt"], b["status"], b.get("attempt", 0))' "$1"
}
entry() { # entry CAMPAIGN RCPT STATUS: the body of that entry, as JSON
	"$AKASHI" --store "$S" log --kind send | $PY -c '
import json, sys
for l in sys.stdin:
    b = json.loads(l)["body"]
    if (b.get("campaign"), b["rcpt"], b["status"]) == tuple(sys.argv[1:4]):
        print(json.dumps(b, ensure_ascii=False, sort_keys=True))' "$1" "$2" "$3"
}
delivered_to() { # delivered_to SPOOL RCPT: how many messages arrived for RCPT
	cat "$1"/*.env 2>/dev/null | awk -v r="$2" 'NR % 3 == 2 && $0 == r' | wc -l
}

# --- a transactional campaign: STARTTLS, DKIM RSA + Ed25519 -------------
cat >t1.eml <<'EOF_T'
From: Example News <news@example.com>
To: {{name}} <{{email}}>
Subject: Your order {{order}}
Message-ID: <will-be-replaced@example.com>
X-Akashi-Campaign: stripped

Hello {{name}},
your order {{order}} has shipped.
.
A line with a leading dot, above and here:
.still here
EOF_T
printf 'email,name,order\nalice@ok.test,Alice,A-1\nBob@OK.test,Bob,B-2\ncarol@ok.test,Carol,C-3\n' >r1.csv
out=$(send send --campaign order-1 --stream transactional --list orders --from news@example.com \
	--template t1.eml --recipients r1.csv 2>&1)
like "$out" "3 recipients: sent 3, deferred 0" "three transactional messages sent"
is "$(ls tls/*.eml | wc -l | tr -d ' ')" 3 "three messages arrived"
is "$(cat tls/*.env | awk 'NR % 3 == 0' | sort -u)" tls "every one over TLS"
is "$(delivered_to tls bob@ok.test)" 1 "the address was lower-cased"
out=$($PY "$LIB/dkim-verify.py" dns-keys tls/*.eml 2>&1)
is "$(printf '%s\n' "$out" | grep -c ' ok a=rsa-sha256 a=ed25519-sha256$')" 3 \
	"RSA and Ed25519 signatures verify with python3-dkim: $out"
m=$(grep -l 'A-1' tls/*.eml)
unlike "$(cat "$m")" 'will-be-replaced|X-Akashi' "the template's Message-ID and X-Akashi headers are gone"
like "$(cat "$m")" '^\.\.still here|
\.\.' "dot-stuffing reached the wire and came back undone" 
like "$(grep -c '^\.still here' "$m")" '^1$' "the leading dot arrives as written"
b=$(entry order-1 alice@ok.test sent)
like "$b" '"attempt": 1' "the sent entry has the attempt"
like "$b" '"queue_id": "Q[0-9]+"' "... the remote queue id"
like "$b" '"reply": "250 2.0.0 Ok: queued as Q[0-9]+"' "... the remote reply"
like "$b" '"tls": \{"cipher": "[^"]+", "verified": true, "version": "TLSv1.[23]"\}' "... and verified TLS"
like "$(entry order-1 alice@ok.test queued)" '"gate": \{"decision": "allow", "policy_commit": "[0-9a-f]{40}"' \
	"a queued entry with the gate's decision came first"
is "$(entries order-1 | awk '{print $2}' | sort | uniq -c | tr -s ' ' | sed 's/^ //')" \
	"3 queued
3 sent" "queued then sent, for each"
conns=$(grep -c '^EHLO .* tls' tls/server.log)
like "$conns" '^[12]$' "three messages over at most two reused connections ($conns)"

# --- Japanese: RFC 2047 headers and a base64 body, still verifying -------
cat >t2.eml <<'EOF_T'
From: 例のニュース <news@example.com>
To: {{name}} <{{email}}>
Subject: {{name}}様 ご注文の商品を発送しました

{{name}}様
ご注文ありがとうございます。
EOF_T
printf 'email,name\nyamada@ok.test,山田 太郎\n' >r2.csv
out=$(send send --campaign jp-1 --stream transactional --list orders --from news@example.com \
	--template t2.eml --recipients r2.csv 2>&1)
like "$out" "sent 1," "a Japanese message sent"
m=$(grep -l 'yamada@ok.test' tls/*.eml | head -1)
got=$($PY -c '
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
print(m["Subject"]); print(m["To"]); print(m.get_content().strip().splitlines()[0])' "$m")
is "$got" "山田 太郎様 ご注文の商品を発送しました
山田 太郎 <yamada@ok.test>
山田 太郎様" "headers decode (RFC 2047) and the body decodes"
like "$($PY "$LIB/dkim-verify.py" dns-keys "$m")" ' ok a=rsa-sha256 a=ed25519-sha256$' "and both signatures verify"

# --- gates: consent, opt-out, an earlier bounce --------------------------
# Policies of our own: the shipped set less the unsubscribe-header check
# (tested below, and with the daemon's tokens), committed to a git repo.
git clone -q "$S/policies" "$T/pol"
git -C "$T/pol" rm -q message-unsubscribe-headers.json
git -C "$T/pol" -c user.name=t -c user.email=t@example.com commit -qm "no header check"
POL="--set policies.repo=$T/pol"
cat >consent.jsonl <<'EOF_J'
{"kind":"consent","time":"2026-01-10T00:00:00Z","source":"crm","body":{"subject":"ann@ok.test","list":"news","action":"opt_in","method":"single_opt_in","proof":{"ip":"192.0.2.1","form_url":"https://example.com/join"}}}
{"kind":"consent","time":"2026-01-10T00:00:00Z","source":"crm","body":{"subject":"otto@ok.test","list":"news","action":"opt_in","method":"single_opt_in","proof":{"ip":"192.0.2.2","form_url":"https://example.com/join"}}}
{"kind":"consent","time":"2026-02-01T00:00:00Z","source":"crm","body":{"subject":"otto@ok.test","list":"news","action":"opt_out","method":"link"}}
{"kind":"consent","time":"2026-01-10T00:00:00Z","source":"crm","body":{"subject":"bea@ok.test","list":"news","action":"opt_in","method":"single_opt_in","proof":{"ip":"192.0.2.3","form_url":"https://example.com/join"}}}
{"kind":"send","time":"2026-03-01T00:00:00Z","source":"mta","body":{"rcpt":"bea@ok.test","status":"bounced","dsn":"5.1.1"}}
{"kind":"consent","time":"2026-01-10T00:00:00Z","source":"crm","body":{"subject":"zoe@ok.test","list":"news","action":"opt_in","method":"single_opt_in","proof":{"ip":"192.0.2.4","form_url":"https://example.com/join"}}}
EOF_J
check "consent, an opt-out and a bounce ingested" "$AKASHI" --store "$S" ingest consent.jsonl
printf 'Subject: News for {{email}}\n\nNews.\n' >t3.eml
printf 'email\nann@ok.test\nnoconsent@ok.test\notto@ok.test\nbea@ok.test\nzoe@ok.test\n' >r3.csv
out=$(send $POL send --campaign news-1 --stream marketing --list news --from news@example.com \
	--template t3.eml --recipients r3.csv 2>&1)
like "$out" "5 recipients: sent 2, deferred 0, bounced 0, blocked 3" "two allowed, three blocked"
is "$(delivered_to tls ann@ok.test)$(delivered_to tls zoe@ok.test)" 11 "the allowed ones arrived"
is "$(delivered_to tls noconsent@ok.test)$(delivered_to tls otto@ok.test)$(delivered_to tls bea@ok.test)" \
	000 "the others did not"
like "$(entry news-1 noconsent@ok.test blocked)" '"detail": "no opt-in of noconsent@ok.test for list .news."' \
	"no consent: blocked with the reason"
like "$(entry news-1 otto@ok.test blocked)" '"detail": "opted out of .news. at 2026-02-01T00:00:00Z", "policy": "consent-optin-proof", "ref": [0-9]+' \
	"opted out: blocked, citing the opt-out's seq"
like "$(entry news-1 bea@ok.test blocked)" '"control": "send.suppression", "detail": "suppressed since 2026-03-01T00:00:00Z \(hard bounce\)"' \
	"bounced before: blocked by the suppression list"
like "$(entry news-1 bea@ok.test blocked)" "\"policy_commit\": \"$(git -C "$T/pol" rev-parse HEAD)\"" \
	"the gate names the policy commit"

# With the shipped policies, marketing mail needs one-click unsubscribe
# headers: without a link (no unsubscribe.base_url) it is blocked.
printf 'email\nzoe@ok.test\n' >r4.csv
out=$(send send --campaign news-2 --stream marketing --list news --from news@example.com \
	--template t3.eml --recipients r4.csv 2>&1)
like "$out" "blocked 1" "marketing without List-Unsubscribe is blocked"
like "$(entry news-2 zoe@ok.test blocked)" 'List-Unsubscribe-Post: List-Unsubscribe=One-Click' \
	"... by message.unsubscribe_headers"

# --- the RFC 8058 loop: link in the message -> POST to the daemon -> blocked
DPORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The daemon runs the queue (with the same delivery settings) and serves
# the unsubscribe links over https; campaigns go to it with --via.
TI=$("$AKASHI" --store "$S" token create --role ingest --name sender 2>/dev/null)
TR=$("$AKASHI" --store "$S" token create --role read --name reader 2>/dev/null)
"$AKASHI" --store "$S" --config "$T/akashi.conf" serve --set listen=127.0.0.1:$DPORT \
	--set tls.cert="$T/srv.pem" --set tls.key="$T/srv.key" --set checkpoint.interval=0 \
	--set audit.interval=0 --set unsubscribe.base_url=https://localhost:$DPORT \
	>"$T/daemon.log" 2>&1 &
DPID=$!
PIDS="$PIDS $DPID"
for i in $(seq 200); do
	curl -s --cacert "$T/ca.pem" -o /dev/null "https://localhost:$DPORT/healthz" && break
	sleep 0.05
done
cat >promo.jsonl <<'EOF_J'
{"kind":"consent","time":"2026-01-10T00:00:00Z","source":"crm","body":{"subject":"una@ok.test","list":"promo","action":"opt_in","method":"single_opt_in","proof":{"ip":"192.0.2.5","form_url":"https://example.com/join"}}}
{"kind":"consent","time":"2026-01-10T00:00:00Z","source":"crm","body":{"subject":"uwe@ok.test","list":"promo","action":"opt_in","method":"single_opt_in","proof":{"ip":"192.0.2.6","form_url":"https://example.com/join"}}}
EOF_J
"$AKASHI" --store "$S" ingest promo.jsonl >/dev/null
printf 'email\nuna@ok.test\nuwe@ok.test\n' >r10.csv
VIA="--via https://localhost:$DPORT"
fails "a read token may not hand over a campaign" send send $VIA --token "$TR" --campaign promo-0 \
	--stream marketing --list promo --from news@example.com --template t3.eml --recipients r10.csv
# /v1/campaigns checks tokens as every other route does: counted in the
# metrics, answered with WWW-Authenticate, rate limited per token.
code=$(curl -s --cacert "$T/ca.pem" -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer akt_not-a-token" "https://localhost:$DPORT/v1/campaigns?id=promo-1")
is "$code" 401 "GET /v1/campaigns with a bad token: 401"
m=$(curl -s --cacert "$T/ca.pem" -H "Authorization: Bearer $TR" "https://localhost:$DPORT/metrics")
like "$m" 'akashi_http_requests_total\{route="campaigns",code="403"\} 1' \
	"the read token's refused POST is counted under its route"
like "$m" 'akashi_auth_failures_total\{reason="invalid"\} [1-9]' "and the bad token as an auth failure"
fails "akashi send in-process is refused while the daemon runs the queue" send send \
	--campaign promo-0 --stream marketing --list promo --from news@example.com \
	--template t3.eml --recipients r10.csv
out=$(send send $VIA --token "$TI" --campaign promo-1 --stream marketing --list promo \
	--from news@example.com --template t3.eml --recipients r10.csv 2>&1)
like "$out" "promo-1: handed to https://localhost:$DPORT: 2 recipients" "send --via hands the campaign to the daemon (POST /v1/campaigns)"
out=$(send campaign status promo-1 $VIA --token "$TR" --wait 2>&1)
like "$out" "2 recipients: sent 2," "campaign status --via follows it: marketing with one-click links sent"
m=$(grep -l '^To: <una@ok.test>' tls/*.eml | head -1)
lu=$($PY -c '
import email, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read())
print(m["List-Unsubscribe"]); print(m["List-Unsubscribe-Post"])
sig = " ".join(m.get_all("DKIM-Signature")).replace("\r\n", "").replace("\t", "").replace(" ", "").lower()
hs = [f.split(";")[0] for f in sig.split(";h=")[1:]]
print("signed" if len(hs) == 2 and all("list-unsubscribe:list-unsubscribe-post" in h for h in hs) else "not signed")' "$m")
like "$lu" "^<https://localhost:$DPORT/v1/unsubscribe\?t=[A-Za-z0-9_-]+>" "List-Unsubscribe points at the daemon"
like "$lu" "List-Unsubscribe=One-Click" "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
like "$lu" "^signed$" "both are in the DKIM signatures' h="
like "$($PY "$LIB/dkim-verify.py" dns-keys "$m")" ' ok a=rsa-sha256 a=ed25519-sha256$' "and the signatures verify"
# A copy that gained a Reply-To (or a Cc) on the way no longer verifies:
# those names are oversigned.
for f in "Reply-To: <evil@example.net>" "Cc: <evil@example.net>"; do
	{ printf '%s\r\n' "$f"; cat "$m"; } >"$T/tampered.eml"
	like "$($PY "$LIB/dkim-verify.py" dns-keys "$T/tampered.eml")" 'FAIL' \
		"a copy with '${f%%:*}' added fails DKIM"
done
like "$(entry promo-1 una@ok.test sent)" '"unsubscribe": \{"one_click": true, "url": "https://localhost' \
	"the sent entry records the link"
like "$(entry promo-1 una@ok.test sent)" '"gate": \{"decision": "allow", "policy_commit": "[0-9a-f]{40}"' \
	"... and the gate decision that let it go"
q=$(date -u +%Y)Q$(( ($(date -u +%-m) + 2) / 3 ))
# The audit judges the engine's own sends by what their entries record:
# promo-1 carried the headers; news-1 went out under policies without the
# header check (above), and the shipped ones find that.
hdr=$("$AKASHI" --store "$S" audit --quarter "$q" --json --no-record | $PY -c '
import json, sys
for p in json.load(sys.stdin)["policies"]:
    if p["id"] == "message-unsubscribe-headers":
        print(p["population"], *sorted(e["subject"] for e in p["exceptions"]))')
is "$hdr" "4 ann@ok.test zoe@ok.test" "the audit judges the engine's sends by their recorded headers: promo-1 passes, news-1 does not"
url=$(printf '%s\n' "$lu" | head -1 | tr -d '<>')
code=$(curl -s --cacert "$T/ca.pem" -o "$T/unsub.out" -w '%{http_code}' -X POST \
	-d 'List-Unsubscribe=One-Click' "$url")
is "$code" 200 "POST List-Unsubscribe=One-Click to the link: 200"
send send $VIA --token "$TI" --campaign promo-2 --stream marketing --list promo \
	--from news@example.com --template t3.eml --recipients r10.csv >/dev/null 2>&1
out=$(send campaign status promo-2 $VIA --token "$TR" --wait 2>&1)
like "$out" "2 recipients: sent 1, deferred 0, bounced 0, blocked 1" "the next campaign reaches only the other one"
like "$(entry promo-2 una@ok.test blocked)" '"detail": "opted out of .promo. at ' "blocked: opted out (one click)"
is "$(delivered_to tls una@ok.test)$(delivered_to tls uwe@ok.test)" 12 "una got one message, uwe two"
kill -TERM $DPID 2>/dev/null
wait $DPID
is "$?" 0 "the daemon stops cleanly with its engine"

# --- 4xx, then success on the retry ---------------------------------------
printf 'email\ntempfail1@ok.test\n' >r5.csv
out=$(send send --campaign temp-1 --stream transactional --list orders --from news@example.com \
	--template t3.eml --recipients r5.csv 2>&1)
like "$out" "sent 0, deferred 1" "a 451 defers"
like "$(entry temp-1 tempfail1@ok.test deferred)" '"dsn": "4.3.0".*"next_attempt": "[0-9T:Z-]+".*"reply": "451 4.3.0 try again later"' \
	"the deferred entry has the reply and the next attempt"
sleep 2.5
out=$(send send --campaign temp-1 --stream transactional --list orders --from news@example.com \
	--template t3.eml --recipients r5.csv 2>&1)
like "$out" "resumed" "the same campaign again resumes it"
like "$out" "sent 1, deferred 0" "the retry is sent"
like "$(entry temp-1 tempfail1@ok.test sent)" '"attempt": 2' "as attempt 2"
is "$(delivered_to tls tempfail1@ok.test)" 1 "and arrives once"

# --- 5xx: bounced, then suppressed ---------------------------------------
printf 'email\nreject1@ok.test\nfine1@ok.test\n' >r6.csv
out=$(send send --campaign hard-1 --stream transactional --list orders --from news@example.com \
	--template t3.eml --recipients r6.csv 2>&1)
like "$out" "sent 1, deferred 0, bounced 1" "a 550 bounces (and the other goes)"
like "$(entry hard-1 reject1@ok.test bounced)" '"dsn": "5.1.1".*"reply": "550 5.1.1 no such user"' \
	"the bounce has the reply"
out=$(send send --campaign hard-2 --stream transactional --list orders --from news@example.com \
	--template t3.eml --recipients r6.csv 2>&1)
like "$out" "sent 1, deferred 0, bounced 0, blocked 1" "the next campaign is blocked for that address"
like "$(entry hard-2 reject1@ok.test blocked)" 'hard bounce' "... because of the bounce"

# --- a refused RCPT, then a server that misbehaves: one outcome, once -----
# With PIPELINING the refusal finishes the message while the reply to DATA
# is still due; whatever comes then (354 anyway, 421, a dropped connection)
# must not finish it a second time (it did: a use-after-free in the engine).
for mode in 354 421 close; do
	$PY "$LIB/smtp-scripted.py" --port-file "$T/scripted-$mode.port" --data $mode \
		>"$T/scripted-$mode.out" 2>&1 &
	PIDS="$PIDS $!"
	for i in $(seq 100); do [ -s "$T/scripted-$mode.port" ] && break; sleep 0.1; done
	printf 'email\nrefused-%s@ok.test\n' $mode >"r-$mode.csv"
	out=$(send --set relay=127.0.0.1:$(cat "$T/scripted-$mode.port") --set smtp.tls=off \
		send --campaign scripted-$mode --stream transactional --list orders \
		--from news@example.com --template t3.eml --recipients "r-$mode.csv" 2>&1)
	st=$?
	is "$st" 0 "RCPT refused, then DATA answered by '$mode': the run ends cleanly"
	like "$out" "1 recipients: sent 0, deferred 0, bounced 1" "... with the recipient bounced once"
	is "$(entries scripted-$mode | grep -c bounced)" 1 "... and one bounced entry"
done

# --- SIGTERM while a message is on the wire --------------------------------
# The daemon stops sending first: the message on the wire gets its answer,
# and its sent entry is in the log before "stop", under the final
# checkpoint (it used to be appended after both).
$PY "$LIB/smtp-scripted.py" --port-file "$T/slow.port" --data slow --delay 2 >"$T/slow.out" 2>&1 &
PIDS="$PIDS $!"
for i in $(seq 100); do [ -s "$T/slow.port" ] && break; sleep 0.1; done
DPORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$AKASHI" --store "$S" --config "$T/akashi.conf" serve --set listen=127.0.0.1:$DPORT \
	--set checkpoint.interval=0 --set audit.interval=0 --set smtp.tls=off \
	--set relay=127.0.0.1:$(cat "$T/slow.port") >"$T/daemon-slow.log" 2>&1 &
DPID=$!
PIDS="$PIDS $DPID"
for i in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$DPORT/healthz" && break; sleep 0.05; done
printf 'email\nslow1@ok.test\n' >r-slow.csv
send send --via "http://127.0.0.1:$DPORT" --token "$TI" --campaign slow-1 --stream transactional \
	--list orders --from news@example.com --template t3.eml --recipients r-slow.csv >/dev/null 2>&1
for i in $(seq 200); do [ -e "$T/slow.port.data" ] && break; sleep 0.05; done
kill -TERM $DPID
wait $DPID
is "$?" 0 "SIGTERM with a message on the wire: the daemon stops cleanly"
order=$("$AKASHI" --store "$S" log | $PY -c '
import json, sys
sent = stop = 0
for l in sys.stdin:
    e = json.loads(l)
    b = e["body"]
    if e["kind"] == "send" and b.get("campaign") == "slow-1" and b["status"] == "sent":
        sent = e["seq"]
    if e["kind"] == "system" and b.get("event") == "stop":
        stop = e["seq"]
print(sent, stop)')
set -- $order
ok=$([ "$1" -gt 0 ] && [ "$1" -lt "$2" ] && echo yes || echo "no: sent $1, stop $2")
is "$ok" yes "the message was answered and its sent entry comes before stop"
last=$(sqlite3 "$S/akashi.db" "SELECT max(size) FROM checkpoints")
ok=$([ "$last" -ge "$1" ] && echo yes || echo "no: checkpoint $last, sent $1")
is "$ok" yes "and under the final checkpoint"

# --- STARTTLS required but not offered: deferred, never in clear ---------
printf 'email\nclear1@ok.test\n' >r7.csv
out=$(send --set relay=localhost:$PLAIN_PORT send --campaign clear-1 --stream transactional \
	--list orders --from news@example.com --template t3.eml --recipients r7.csv 2>&1)
like "$out" "sent 0, deferred 1" "no STARTTLS: deferred"
like "$(entry clear-1 clear1@ok.test deferred)" 'TLS required \(smtp.tls = required\) but localhost\[127.0.0.1\]:[0-9]+ did not offer STARTTLS; not sent in clear' \
	"with a clear reason"
is "$(grep -c RCPT plain/server.log)" 0 "the server never saw a recipient"
# Opportunistic TLS sends in clear when it must.
out=$(send --set relay=localhost:$PLAIN_PORT --set smtp.tls=opportunistic send --campaign clear-2 \
	--stream transactional --list orders --from news@example.com --template t3.eml \
	--recipients r7.csv 2>&1)
like "$out" "sent 1" "smtp.tls = opportunistic sends without TLS"
# A certificate that does not verify (no tls.ca_file: the system store).
out=$(send --set tls.ca_file= send --campaign untrusted-1 --stream transactional --list orders \
	--from news@example.com --template t3.eml --recipients r7.csv 2>&1)
like "$(entry untrusted-1 clear1@ok.test deferred)" 'TLS certificate of localhost\[127.0.0.1\]:[0-9]+ did not verify' \
	"an untrusted certificate: deferred, saying so"

# --- refused rows ---------------------------------------------------------
printf 'email,name\nok1@ok.test,Ok\nnot-an-address,X\nok2@ok.test,"Eve\nBcc: boss@example.com"\n' >r8.csv
printf 'Subject: Hi {{name}}\n\nx\n' >t8.eml
fails "rows that are not addresses or would break a header refuse the campaign" \
	send send --campaign bad-1 --stream transactional --list orders --from news@example.com \
	--template t8.eml --recipients r8.csv
out=$(send send --campaign bad-1 --stream transactional --list orders --from news@example.com \
	--template t8.eml --recipients r8.csv 2>&1)
like "$out" "r8.csv:3: column 'email': 'not-an-address' is not an e-mail address" "naming the line and why"
like "$out" "r8.csv:4: column 'name': a line break" "... the header injection too"
out=$(send send --campaign bad-1 --stream transactional --list orders --from news@example.com \
	--template t8.eml --recipients r8.csv --skip-invalid 2>&1)
like "$out" "1 recipients queued .*2 invalid rows skipped" "--skip-invalid sends the rest"
like "$("$AKASHI" --store "$S" campaign status bad-1)" "1 recipients: sent 1" "akashi campaign status counts"
# A row whose header would not fit a line (a subject of 1,200 characters)
# is refused when the campaign is loaded; it used to be queued, then
# deferred at every attempt until it expired.
long=$(printf 'x%.0s' $(seq 1200))
printf 'email,name\nlong1@ok.test,%s\n' "$long" >r8b.csv
out=$(send send --campaign bad-2 --stream transactional --list orders --from news@example.com \
	--template t8.eml --recipients r8b.csv 2>&1)
like "$out" "r8b.csv:2: header 'Subject' has a line longer than 998 bytes" \
	"a header that would pass 998 bytes refuses its row at load"

# --- relay AUTH PLAIN (under TLS only), and the rate limit ------------------
start_server auth --auth relayuser:s3cret
AUTH_PORT=$(cat auth.port)
printf 's3cret\n' >pw
printf 'wrong\n' >badpw
printf 'email\nauth1@ok.test\n' >r12.csv
out=$(send --set relay=localhost:$AUTH_PORT --set relay.user=relayuser --set relay.password_file=pw \
	send --campaign auth-1 --stream transactional --list orders --from news@example.com \
	--template t3.eml --recipients r12.csv 2>&1)
like "$out" "sent 1," "AUTH PLAIN with the right password: sent"
like "$(cat auth/server.log)" "AUTH PLAIN ok" "the server saw AUTH PLAIN"
out=$(send --set relay=localhost:$AUTH_PORT --set relay.user=relayuser --set relay.password_file=badpw \
	send --campaign auth-2 --stream transactional --list orders --from news@example.com \
	--template t3.eml --recipients r12.csv 2>&1)
like "$(entry auth-2 auth1@ok.test deferred)" '"reply": "535 .*\(AUTH at localhost' "a refused AUTH defers, saying so"
out=$(send --set relay=localhost:$AUTH_PORT send --campaign auth-3 --stream transactional \
	--list orders --from news@example.com --template t3.eml --recipients r12.csv 2>&1)
like "$(entry auth-3 auth1@ok.test deferred)" '"reply": "530 ' "no AUTH where the relay requires it: deferred"
out=$(send --set relay=localhost:$AUTH_PORT --set relay.user=relayuser --set relay.password_file=pw \
	--set smtp.tls=off send --campaign auth-4 --stream transactional --list orders \
	--from news@example.com --template t3.eml --recipients r12.csv 2>&1)
like "$(entry auth-4 auth1@ok.test deferred)" 'credentials are never sent in clear' \
	"no TLS, no password on the wire"
is "$(grep -c 'AUTH' auth/server.log)" 2 "the server saw exactly the two AUTH attempts made under TLS"
$PY -c 'print("email"); [print("rate%d@ok.test" % i) for i in range(12)]' >r13.csv
t0=$(date +%s.%N)
out=$(send --set delivery.rate=5 send --campaign rate-1 --stream transactional --list orders \
	--from news@example.com --template t3.eml --recipients r13.csv 2>&1)
t1=$(date +%s.%N)
like "$out" "sent 12," "delivery.rate = 5: all sent"
is "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a >= 1.8) ? "slow enough" : "too fast: " b - a}')" \
	"slow enough" "... no faster than 5 a second (12 messages: 2.2 s at least)"

# --- MX delivery: MX, A fallback, NXDOMAIN, null MX (a DNS server of our own)
cat >zone <<'EOF_Z'
ok.test MX 10 mx.ok.test
mx.ok.test A 127.0.0.1
nomx.test A 127.0.0.1
nullmx.test MX 0 .
EOF_Z
$PY "$LIB/dns-server.py" --port-file "$T/dns.port" "$T/zone" >"$T/dns.out" 2>&1 &
PIDS="$PIDS $!"
for i in $(seq 100); do [ -s "$T/dns.port" ] && break; sleep 0.1; done
printf 'email\nmx1@ok.test\nmx2@nomx.test\nmx3@nullmx.test\nmx4@nxdomain.test\n' >r11.csv
out=$(send --set relay= --set smtp.dns_server=127.0.0.1:$(cat dns.port) --set smtp.port=$TLS_PORT \
	send --campaign mx-1 --stream transactional --list orders --from news@example.com \
	--template t3.eml --recipients r11.csv 2>&1)
like "$out" "4 recipients: sent 2, deferred 0, bounced 2" "MX delivery: two sent, two bounced"
like "$(entry mx-1 mx1@ok.test sent)" "\"relay\": \"mx.ok.test\\[127.0.0.1\\]:$TLS_PORT\".*\"verified\": true" \
	"to the MX host, its certificate checked against the MX name"
like "$(entry mx-1 mx2@nomx.test sent)" "\"relay\": \"nomx.test\\[127.0.0.1\\]:$TLS_PORT\"" \
	"no MX: the domain's own address"
like "$(entry mx-1 mx3@nullmx.test bounced)" '"reply": "5.1.10 nullmx.test accepts no mail \(null MX\)"' \
	"a null MX bounces (RFC 7505)"
like "$(entry mx-1 mx4@nxdomain.test bounced)" '"reply": "5.1.2 the domain nxdomain.test does not exist"' \
	"a domain that does not exist bounces"

# --- crash: SIGKILL twice in the middle of a campaign ---------------------
start_server crash
CRASH_PORT=$(cat crash.port)
$PY -c 'print("email"); [print("c%05d@ok.test" % i) for i in range(3000)]' >r9.csv
runbg() { # akashi itself in the background (exec: $! is its pid, for kill -9)
	(exec "$AKASHI" --store "$S" --config "$T/akashi.conf" --set relay=localhost:$CRASH_PORT \
		--set delivery.connections=4 send --campaign crash-1 --stream transactional \
		--list orders --from news@example.com --template t3.eml --recipients r9.csv \
		>"$T/crash.out" 2>&1) &
	CPID=$!
}
wait_delivered() { # until the spool holds at least $1 messages
	local i
	for i in $(seq 600); do
		[ "$(ls crash 2>/dev/null | grep -c '\.eml$')" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
runbg
wait_delivered 300
kill -9 $CPID 2>/dev/null; wait $CPID 2>/dev/null
n1=$(ls crash | grep -c '\.eml$')
runbg
wait_delivered $((n1 + 500))
kill -9 $CPID 2>/dev/null; wait $CPID 2>/dev/null
n2=$(ls crash | grep -c '\.eml$')
diag "killed with SIGKILL after $n1 and $n2 deliveries"
out=$(send --set relay=localhost:$CRASH_PORT send --campaign crash-1 --stream transactional \
	--list orders --from news@example.com --template t3.eml --recipients r9.csv 2>&1)
like "$out" "3000 recipients: sent 3000, deferred 0" "the third run finishes the campaign"
check "akashi verify passes after the crashes" "$AKASHI" --store "$S" verify
res=$("$AKASHI" --store "$S" log --kind send | $PY -c '
import collections, glob, json, os, sys
sent = collections.Counter(); attempt = {}; queued = collections.Counter()
for l in sys.stdin:
    b = json.loads(l)["body"]
    if b.get("campaign") != "crash-1": continue
    if b["status"] == "sent":
        sent[b["rcpt"]] += 1; attempt[b["rcpt"]] = b["attempt"]
    if b["status"] == "queued": queued[b["rcpt"]] += 1
got = collections.Counter()
for e in glob.glob(os.path.join(sys.argv[1], "*.env")):
    got[open(e).read().split("\n")[1]] += 1
print("recipients_with_one_sent_entry", sum(1 for r in sent if sent[r] == 1))
print("recipients_with_two_sent_entries", sum(1 for r in sent if sent[r] > 1))
print("queued_more_than_once", sum(1 for r in queued if queued[r] > 1))
print("never_delivered", sum(1 for r in sent if got[r] == 0))
print("twice_delivered_without_a_retry_record", sum(1 for r in got if got[r] > 1 and attempt.get(r, 1) < 2))
print("retried_after_crash", sum(1 for r in attempt if attempt[r] > 1))
' "$T/crash")
like "$res" "recipients_with_one_sent_entry 3000" "every recipient has exactly one sent entry"
like "$res" "recipients_with_two_sent_entries 0" "nobody with a sent entry was sent again"
like "$res" "queued_more_than_once 0" "nobody was queued twice"
like "$res" "never_delivered 0" "every sent entry matches a delivery"
like "$res" "twice_delivered_without_a_retry_record 0" "a message delivered twice says so (attempt 2)"
like "$res" "retried_after_crash [1-9]" "messages in flight at the kill were retried with attempt 2 or more"
diag "$(printf '%s' "$res" | tr '\n' ' ')"
done_testing
