#!/usr/bin/env bash
# tests/e2e/smtp_gateway.t - the SMTP submission gateway of akashi serve
# (smtp.listen) on loopback, driven by Python's smtplib as a marketing
# tool would drive it: STARTTLS with a certificate from a CA this test
# makes, AUTH PLAIN with API tokens, recipients gated one by one (refusals
# answered 550 with the policy's reason and recorded `blocked`), the
# accepted ones delivered through the engine to a real SMTP server
# (tests/e2e/lib/smtp-server.py), DKIM-signed and checked by an independent
# verifier, with the X-Akashi-* headers gone and the Message-ID kept.
. "$(dirname "$0")/lib/tap.sh"
PY=/usr/bin/python3
LIB=$ROOT/tests/e2e/lib
skip_unless_python aiosmtpd dkim nacl
cd "$T"

# --- keys, certificates, the receiving server -------------------------------
. "$LIB/pki.sh"
make_pki DNS:localhost,IP:127.0.0.1
$PY "$LIB/smtp-server.py" --port-file "$T/sink.port" --spool "$T/sink" --cert "$T/srv.pem" \
	--key "$T/srv.key" >"$T/sink.out" 2>&1 &
PIDS="$PIDS $!"
for i in $(seq 100); do [ -s sink.port ] && break; sleep 0.1; done

# --- the store: consent for the list "news", tokens -------------------------
S=$T/store
new_store "$S"
cat >consent.jsonl <<'EOF_J'
{"kind":"consent","time":"2026-01-10T00:00:00Z","source":"crm","body":{"subject":"ann@ok.test","list":"news","action":"opt_in","method":"single_opt_in","proof":{"ip":"192.0.2.1","form_url":"https://example.com/join"}}}
{"kind":"consent","time":"2026-01-10T00:00:00Z","source":"crm","body":{"subject":"zoe@ok.test","list":"news","action":"opt_in","method":"single_opt_in","proof":{"ip":"192.0.2.4","form_url":"https://example.com/join"}}}
{"kind":"consent","time":"2026-01-10T00:00:00Z","source":"crm","body":{"subject":"otto@ok.test","list":"news","action":"opt_in","method":"single_opt_in","proof":{"ip":"192.0.2.2","form_url":"https://example.com/join"}}}
{"kind":"consent","time":"2026-02-01T00:00:00Z","source":"crm","body":{"subject":"otto@ok.test","list":"news","action":"opt_out","method":"link"}}
EOF_J
check "consent ingested" "$AKASHI" --store "$S" ingest consent.jsonl
TI=$("$AKASHI" --store "$S" token create --role ingest --name mailtool 2>/dev/null)
TR=$("$AKASHI" --store "$S" token create --role read --name reader 2>/dev/null)

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HPORT=$(free_port)
SPORT=$(free_port)
cat >akashi.conf <<CONF
listen = 127.0.0.1:$HPORT
smtp.listen = 127.0.0.1:$SPORT
smtp.max_message_size = 100000
tls.cert = $T/srv.pem
tls.key = $T/srv.key
tls.ca_file = $T/ca.pem
relay = localhost:$(cat sink.port)
unsubscribe.base_url = https://localhost:$HPORT
dkim.domain = example.com
dkim.selector = rsa1
dkim.key = $T/dkim-rsa.pem
dkim.ed25519_selector = ed1
dkim.ed25519_key = $T/dkim-ed.pem
checkpoint.interval = 0
audit.interval = 0
CONF
serve_up() { # serve_up [ARGS...]: the daemon with akashi.conf, answering
	"$AKASHI" --store "$S" --config "$T/akashi.conf" serve "$@" >>"$T/daemon.log" 2>&1 &
	DPID=$!
	PIDS="$PIDS $DPID"
	for i in $(seq 200); do
		curl -s --cacert ca.pem -o /dev/null "https://localhost:$HPORT/healthz" && break
		sleep 0.05
	done
}
serve_up
like "$(cat daemon.log)" "smtp: the gateway listens on 127.0.0.1:$SPORT \(STARTTLS" \
	"the daemon says the gateway listens, with STARTTLS"
sub() { $PY "$LIB/smtp-submit.py" "$SPORT" "$T/ca.pem" "$@" 2>&1; }
# entries CAMPAIGN: "rcpt status" of its send entries
entries() {
	"$AKASHI" --store "$S" log --kind send | $PY -c '
import json, sys
for l in sys.stdin:
    b = json.loads(l)["body"]
    if b.get("campaign") == sys.argv[1]:
        print(b["rcpt"], b["status"])' "$1" | sort
}
entry() { # entry CAMPAIGN RCPT STATUS: that entry's body
	"$AKASHI" --store "$S" log --kind send | $PY -c '
import json, sys
for l in sys.stdin:
    b = json.loads(l)["body"]
    if (b.get("campaign"), b["rcpt"], b["status"]) == tuple(sys.argv[1:4]):
        print(json.dumps(b, sort_keys=True))' "$1" "$2" "$3"
}
wait_entries() { # wait_entries CAMPAIGN N: until N entries with a final status
	local i
	for i in $(seq 200); do
		[ "$(entries "$1" | grep -cE ' (sent|bounced|deferred)$')" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# --- the session: EHLO, STARTTLS, AUTH --------------------------------------
out=$(sub news "$TI" ehlo)
like "$out" "^before .*starttls" "before TLS: STARTTLS offered"
unlike "$(printf '%s\n' "$out" | grep ^before)" "auth" "before TLS: no AUTH offered"
like "$out" "after .*auth.*pipelining.*size" "under TLS: AUTH, PIPELINING, SIZE offered"
unlike "$(printf '%s\n' "$out" | grep ^after)" "starttls" "under TLS: STARTTLS no longer"
like "$(sub news "$TI" clear-auth)" "^auth 538 5.7.11 " "AUTH in clear is refused (538)"
like "$(sub news "$TI" mail-before-auth)" "^mail 530 5.7.0 " "MAIL before AUTH: 530"
like "$(sub news "$TR" login)" "^login 535 5.7.8 .*ingest token" "a read token: 535"
like "$(sub news akt_not-a-token login)" "^login 535 5.7.8 " "not a token: 535"
like "$(sub news "$TI" login)" "^login 235$" "an ingest token: 235"
like "$(sub weird/news "$TI" login)" "^login 535 " "a user that names no stream: 535"

# Refused logins are admin login_failure entries, so password guessing on
# the gateway raises the same alerts as anywhere else: with the three
# above, nine from 127.0.0.1 within two minutes (login.bruteforce_src: 8).
for i in 1 2 3 4 5 6; do sub news "akt_guess-$i" login >/dev/null; done
fails_logged() {
	"$AKASHI" --store "$S" log --kind admin | $PY -c '
import json, sys
n = 0
for l in sys.stdin:
    e = json.loads(l)
    b = e["body"]
    if (b["action"], b.get("ip"), b.get("result"), b.get("details"), e["source"]) == \
            ("login_failure", "127.0.0.1", "failure", {"via": "smtp"}, "akashi:smtp"):
        n += 1
print(n)'
}
for i in $(seq 100); do
	[ "$(fails_logged)" -ge 9 ] && "$AKASHI" --store "$S" log --kind alert | grep -q bruteforce_src &&
		break
	sleep 0.1
done
is "$(fails_logged)" 9 "each refused AUTH is an admin login_failure entry from 127.0.0.1"
like "$("$AKASHI" --store "$S" log --kind admin | grep -c '"actor":"smtp:news"')" '^8$' \
	"... naming the user it tried (smtp:news)"
like "$("$AKASHI" --store "$S" log --kind alert | grep bruteforce_src | head -1)" \
	'"rule":"login.bruteforce_src".*"127.0.0.1"|"127.0.0.1".*"rule":"login.bruteforce_src"' \
	"nine refused AUTHs from one address raise login.bruteforce_src"

# --- four recipients: two refused at RCPT, two delivered --------------------
cat >m1.eml <<'EOF_M'
From: Example News <news@example.com>
To: Subscribers <news@example.com>
Subject: Spring news
Message-ID: <spring-1.tool@mailtool.example>
X-Akashi-Campaign: spring-1
X-Akashi-List: news
X-Akashi-Anything: dropped too
List-Unsubscribe: <https://tool.example/u/1>

Hello,
.a line starting with a dot
the news.
EOF_M
out=$(sub news "$TI" send m1.eml news@example.com ann@ok.test noconsent@ok.test otto@ok.test zoe@ok.test)
like "$out" "refused noconsent@ok.test 550 5.7.1 consent-optin-proof: no opt-in of noconsent@ok.test for list 'news'" \
	"no consent: 550 with the gate's reason"
like "$out" "refused otto@ok.test 550 5.7.1 consent-optin-proof: opted out of 'news' at 2026-02-01T00:00:00Z" \
	"opted out: 550 with the gate's reason"
like "$out" "^sent 250" "the message is accepted for the other two"
is "$(printf '%s\n' "$out" | grep -c ^refused)" 2 "exactly two refused"
wait_entries spring-1 2
is "$(entries spring-1)" "ann@ok.test queued
ann@ok.test sent
noconsent@ok.test blocked
otto@ok.test blocked
zoe@ok.test queued
zoe@ok.test sent" "the log: two blocked, two queued then sent"
like "$("$AKASHI" --store "$S" campaign status spring-1 2>&1)" \
	"^campaign spring-1: 2 recipients: sent 2, deferred 0, bounced 0, blocked 0, expired 0$" \
	"akashi campaign status knows a gateway campaign by its name (the two refused at RCPT were never queued)"
fails "an unknown campaign is still an error" "$AKASHI" --store "$S" campaign status no-such-campaign
b=$(entry spring-1 otto@ok.test blocked)
like "$b" '"decision": "deny".*"detail": "opted out of .news. at 2026-02-01T00:00:00Z", "policy": "consent-optin-proof", "ref": [0-9]+' \
	"the blocked entry has the gate's decision and the reason's seq"
like "$b" '"message_id": "<spring-1.tool@mailtool.example>"' "... and the message's Message-ID"
like "$b" '"owner": "mailtool"' "... and the token that sent it"
like "$b" '"submission": \{"peer": "127.0.0.1", "via": "smtp"\}' "... and where it came from"
like "$(entry spring-1 ann@ok.test sent)" '"submission": \{"id": "smtp:[0-9a-f]{16}", "peer": "127.0.0.1", "via": "smtp"\}' \
	"the sent entry names the submission"
like "$(entry spring-1 ann@ok.test queued)" '"gate": \{"decision": "allow"' \
	"the engine gated it again, with the campaign, before sending"
is "$(ls sink/*.eml 2>/dev/null | wc -l | tr -d ' ')" 2 "two messages arrived at the receiving server"
is "$(cat sink/*.env | awk 'NR % 3 == 2' | sort | tr '\n' ' ')" "ann@ok.test zoe@ok.test " \
	"for ann and zoe"
out=$($PY "$LIB/dkim-verify.py" dns-keys sink/*.eml 2>&1)
is "$(printf '%s\n' "$out" | grep -c ' ok a=rsa-sha256 a=ed25519-sha256$')" 2 \
	"both DKIM-signed (RSA and Ed25519), verified by python3-dkim: $out"
m=$(ls sink/*.eml | head -1)
unlike "$(cat "$m")" 'X-Akashi' "no X-Akashi-* header reached the recipient"
is "$(grep -c '^Message-ID: <spring-1.tool@mailtool.example>' "$m")" 1 "the sender's Message-ID is kept"
like "$(grep '^List-Unsubscribe:' "$m")" "^List-Unsubscribe: <https://localhost:$HPORT/v1/unsubscribe\?t=" \
	"List-Unsubscribe is akashi's one-click link (the tool's is replaced)"
is "$(grep -c '^List-Unsubscribe:' "$m")" 1 "... and only that one"
like "$(grep -c '^\.a line starting with a dot' "$m")" '^1$' "dot-stuffing undone on the way in"
like "$(grep '^Date:' "$m")" '^Date: [A-Z][a-z][a-z], ' "a Date was added"

# --- X-Akashi-List naming another list: 554, nothing queued -----------------
sed -e 's/^X-Akashi-List: news/X-Akashi-List: other/' -e 's/spring-1/wrong-list-1/g' m1.eml >m2.eml
out=$(sub news "$TI" send m2.eml news@example.com ann@ok.test)
like "$out" "^error 554 5.7.1 X-Akashi-List 'other' is not the list this login sends to \('news'\); nothing queued" \
	"X-Akashi-List of another list: 554 at the end of DATA"
sleep 0.5
is "$(entries wrong-list-1)" "" "nothing recorded or queued for it"

# --- too big: 552, with SIZE= at MAIL and without it at the end of DATA -----
{ cat m1.eml; $PY -c 'print(("x" * 70 + "\n") * 2000, end="")'; } | sed 's/spring-1/big-1/g' >big.eml
like "$(sub news "$TI" send big.eml news@example.com ann@ok.test)" "^error 552 5.3.4 " \
	"over smtp.max_message_size with SIZE=: 552 at MAIL"
out=$(sub news "$TI" data big.eml news@example.com ann@ok.test)
like "$out" "^data 552 5.3.4 the message is bigger than smtp.max_message_size" \
	"over it without SIZE=: 552 after the data"

# --- pipelining: every command in one write ---------------------------------
sed -e 's/spring-1/pipe-1/g' m1.eml >m3.eml
out=$(sub news "$TI" pipeline m3.eml news@example.com ann@ok.test otto@ok.test zoe@ok.test)
is "$(printf '%s\n' "$out" | awk '{print $2}' | tr '\n' ' ')" "250 250 550 250 354 250 250 " \
	"pipelined MAIL, RCPT x3, DATA, message, NOOP: answered in order"
wait_entries pipe-1 2
is "$(entries pipe-1 | grep -c ' sent$')" 2 "and delivered"

# --- SMTP smuggling: data ends only at CRLF.CRLF -------------------------------
# A bare LF before and after a dot, then the commands of a second
# transaction: a receiver that ends data there reads a second message, one
# never gated. Here the data goes on to CRLF.CRLF: one message, the rest
# of it text (dot-stuffed again on the way out). A CR outside a CRLF, or a
# NUL, refuses the message.
printf 'From: <news@example.com>\r\nSubject: first\r\nX-Akashi-Campaign: smuggle-1\r\nX-Akashi-List: news\r\n\r\nhello\r\n\n.\nMAIL FROM:<news@example.com>\r\nRCPT TO:<zoe@ok.test>\r\nDATA\r\nFrom: <ceo@example.com>\r\nSubject: smuggled\r\nX-Akashi-Campaign: smuggle-2\r\n\r\nwire the money\r\n.\r\n' >smuggle-lf.eml
out=$(sub news "$TI" raw smuggle-lf.eml news@example.com ann@ok.test)
is "$(printf '%s\n' "$out" | awk '{print $2}' | tr '\n' ' ')" "354 250 221 " \
	"<LF>.<LF> ends nothing: one message, queued at CRLF.CRLF (354, 250, 221)"
wait_entries smuggle-1 1
is "$(entries smuggle-1 | grep -v queued)" "ann@ok.test sent" "it went to its one recipient"
is "$(entries smuggle-2)" "" "and no second message went anywhere"
m=$(grep -l '^Subject: first' sink/*.eml)
like "$(cat "$m")" "wire the money" "the would-be second message arrived as text of the first"
printf 'From: <news@example.com>\r\nSubject: first\r\nX-Akashi-Campaign: smuggle-3\r\n\r\nhello\r.\rMAIL FROM:<news@example.com>\r\n.\r\n' >smuggle-cr.eml
printf 'From: <news@example.com>\r\nMessage-ID: <a@example.com>\000junk\r\nX-Akashi-Campaign: smuggle-4\r\n\r\nx\r\n.\r\n' >nul.eml
for f in smuggle-cr nul; do
	out=$(sub news "$TI" raw $f.eml news@example.com ann@ok.test)
	is "$(printf '%s\n' "$out" | awk '{print $2}' | tr '\n' ' ')" "354 554 221 " \
		"$f: refused at the end of the data (354, 554, 221)"
	like "$out" "reply 554 5.6.0 the message has a CR outside a CRLF line ending, or a NUL" \
		"$f: 554 5.6.0 says why"
done
sleep 0.5
is "$(entries smuggle-3)$(entries smuggle-4)" "" "nothing of them recorded or queued"

# --- transactional, no X-Akashi-Campaign: the campaign of the day ------------
printf 'From: <shop@example.com>\nTo: <buyer@ok.test>\nSubject: Your receipt\n\nThanks.\n' >t1.eml
out=$(sub transactional/orders "$TI" send t1.eml shop@example.com buyer@ok.test)
like "$out" "^sent 250" "transactional mail needs no consent"
day=$(date -u +%Y-%m-%d)
wait_entries "smtp-mailtool-$day" 1
like "$(entry "smtp-mailtool-$day" buyer@ok.test sent)" '"message_id": "<[0-9a-f]{24}@example.com>".*"stream": "transactional"' \
	"no campaign header: campaign smtp-<token>-<date>, a Message-ID made by akashi"
m=$(grep -l '^Subject: Your receipt' sink/*.eml)
unlike "$(cat "$m")" 'List-Unsubscribe' "no List-Unsubscribe on transactional mail"

# --- many signed fields: the signature's h= list is folded -----------------
# 300 Cc fields make an h= list of 1200 bytes and more; on one line the
# DKIM-Signature was longer than 998 bytes, the receiving server refused it
# ("500 Line too long") and the engine recorded a bounce.
{
	printf 'From: <shop@example.com>\nTo: <buyer2@ok.test>\nSubject: Many Cc\n'
	for i in $(seq 300); do printf 'Cc: <cc%d@example.org>\n' "$i"; done
	printf '\nThanks.\n'
} >t2.eml
out=$(sub transactional/orders "$TI" send t2.eml shop@example.com buyer2@ok.test)
like "$out" "^sent 250" "a message with 300 Cc fields is taken"
wait_entries "smtp-mailtool-$day" 2
like "$(entries "smtp-mailtool-$day" | grep buyer2)" "buyer2@ok.test sent" "... and sent, not bounced"
m=$(grep -l '^Subject: Many Cc' sink/*.eml)
is "$(awk 'length($0) > 999' "$m" | wc -l | tr -d ' ')" 0 "no line of it is over 998 bytes"
like "$($PY "$LIB/dkim-verify.py" dns-keys "$m")" ' ok a=rsa-sha256 a=ed25519-sha256$' \
	"its folded signatures verify"

# --- a revoked token ends an open session's sending ---------------------------
# A tool that keeps its connection open went on sending with a token
# revoked after its AUTH.
T3=$("$AKASHI" --store "$S" token create --role ingest --name tool3 2>/dev/null)
out=$($PY - "$SPORT" "$T/ca.pem" "$T3" "$AKASHI" "$S" <<'EOF_P' 2>&1
import smtplib, ssl, subprocess, sys
port, ca, tok, akashi, store = sys.argv[1:6]
s = smtplib.SMTP("localhost", int(port), timeout=30)
s.ehlo("client.test")
s.starttls(context=ssl.create_default_context(cafile=ca))
s.ehlo("client.test")
s.login("transactional/orders", tok)
msg = b"From: <shop@example.com>\r\nTo: <buyer3@ok.test>\r\nSubject: r\r\n\r\nx\r\n"
s.sendmail("shop@example.com", ["buyer3@ok.test"], msg)
print("first sent")
subprocess.run([akashi, "--store", store, "token", "revoke", "tool3"], check=True,
               capture_output=True)
print("mail %d %s" % s.mail("shop@example.com"))
EOF_P
)
like "$out" "first sent" "a message sent with a valid token"
like "$out" "mail 535 b'5.7.8 .*revoked" "after the revocation, the same session's next MAIL: 535"

# --- the queue forgets finished gateway messages ----------------------------
sleep 1.5
is "$(sqlite3 "$S/queue.db" 'SELECT count(*) FROM submissions')" 0 \
	"finished gateway messages are removed from the queue"

# --- SIGTERM -----------------------------------------------------------------
kill -TERM $DPID
wait $DPID
is "$?" 0 "the daemon stops cleanly with its gateway"
like "$(cat daemon.log)" "smtp: .*token mailtool: <spring-1.tool@mailtool.example> queued as smtp:" \
	"the daemon logged the submission"
check "akashi verify passes" "$AKASHI" --store "$S" verify

# --- a tool that names a new campaign for each message ----------------------
# The gateway's client chooses X-Akashi-Campaign. Were the mass-send rule
# counted per campaign id only, a tool could send any number of messages
# without a second person's approval by giving each a new id. So the
# recipients its token hands in on a UTC day count too, whatever the ids.
# Policies with a threshold of 2, a token of its own.
git clone -q "$S/policies" "$T/pol2"
$PY - "$T/pol2/send-mass-approval.json" <<'EOF_P'
import json, sys
p = json.load(open(sys.argv[1]))
p["params"] = {"threshold": 2}
json.dump(p, open(sys.argv[1], "w"), indent=2)
EOF_P
git -C "$T/pol2" -c user.name=t -c user.email=t@example.com commit -qam "threshold 2"
TT=$("$AKASHI" --store "$S" token create --role ingest --name rotator 2>/dev/null)
serve_up --set policies.repo="$T/pol2"
final_of() { # final_of CAMPAIGN RCPT: its sent or blocked status, once there
	local i st
	for i in $(seq 200); do
		st=$(entries "$1" | awk -v r="$2" '$1 == r && ($2 == "sent" || $2 == "blocked") {print $2}')
		[ -n "$st" ] && { echo "$st"; return; }
		sleep 0.1
	done
	echo none
}
rot() { # rot CAMPAIGN RCPT: one message under its own campaign id
	printf 'From: <shop@example.com>\nTo: <%s>\nSubject: r\nX-Akashi-Campaign: %s\n\nx\n' "$2" "$1" >rot.eml
	sub transactional/orders "$TT" send rot.eml shop@example.com "$2" >/dev/null
	final_of "$1" "$2"
}
is "$(rot rot-1 r1@ok.test) $(rot rot-2 r2@ok.test)" "sent sent" \
	"two messages under two new campaign ids: 2 recipients today, at the threshold"
is "$(rot rot-3 r3@ok.test)" blocked "the third, under a third new id, is blocked"
like "$(entry rot-3 r3@ok.test blocked)" "rotator handed in 3 recipients today \\(more than 2\\), and campaign 'rot-3' has no approval by someone other than rotator" \
	"because the token's day counts, not the campaign's size of 1"
printf '{"kind":"admin","time":"%s","source":"console","body":{"actor":"boss","action":"approval","target":"rot-4","result":"success"}}\n' \
	"$(date -u +%Y-%m-%dT%H:%M:%SZ)" >approval.jsonl
"$AKASHI" --store "$S" ingest approval.jsonl >/dev/null
is "$(rot rot-4 r4@ok.test)" sent "a campaign a second person approved goes"
kill -TERM $DPID
wait $DPID
is "$?" 0 "the daemon stops cleanly"
done_testing
