#!/usr/bin/env bash
# tests/e2e/serve_alerts_email.t - alerts mailed to alerts.email through the
# daemon's delivery engine, to a real SMTP server on loopback
# (tests/e2e/lib/smtp-server.py, STARTTLS with a certificate made here):
# failed logins ingested over HTTP raise login.bruteforce_user; the alert
# entry is in the log, the mail arrives with the Subject, the alert's seq
# and the `akashi log` command naming it, and the engine records its
# `queued` and `sent` entries. An account name carrying CR LF adds no
# header. An alert address that bounced is then suppressed: the next alert
# mail is recorded `blocked` and the log says why. Without the delivery
# engine the daemon refuses to start with alerts.email set.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/daemon.sh"
PY=/usr/bin/python3
LIB=$ROOT/tests/e2e/lib
skip_unless_python aiosmtpd
cd "$T"
. "$LIB/pki.sh"
make_pki DNS:localhost,IP:127.0.0.1
$PY "$LIB/smtp-server.py" --port-file "$T/sink.port" --spool "$T/sink" --cert "$T/srv.pem" \
	--key "$T/srv.key" >"$T/sink.out" 2>&1 &
PIDS="$PIDS $!"
for i in $(seq 100); do [ -s sink.port ] && break; sleep 0.1; done
S=$T/s
new_store "$S"
tokens "$S"
MAIL=(--set "relay=localhost:$(cat sink.port)" --set "tls.ca_file=$T/ca.pem"
	--set dkim.domain=example.com --set dkim.selector=rsa1 --set "dkim.key=$T/dkim-rsa.pem")

# --- without the engine, alerts.email is refused at start -------------------
"$AKASHI" --store "$S" serve --set "listen=127.0.0.1:$(free_port)" --set checkpoint.interval=0 \
	--set audit.interval=0 --set alerts.email=soc@ok.test >"$T/refused.log" 2>&1 &
RPID=$!
for i in $(seq 100); do kill -0 $RPID 2>/dev/null || break; sleep 0.1; done
kill -0 $RPID 2>/dev/null && kill $RPID
wait $RPID
is "$?" "1" "alerts.email without the delivery engine: the daemon refuses to start"
like "$(cat "$T/refused.log")" "alerts.email .*delivery engine.*dkim.domain, dkim.selector and dkim.key" \
	"and names the keys that would turn the engine on"

# failures ACCOUNT MINUTE: ten failed logins for ACCOUNT, each from its own address
failures() {
	$PY - "$1" "$2" <<'P'
import json, sys
for i in range(10):
    print(json.dumps({"kind": "admin", "time": "2026-09-01T03:%s:%02dZ" % (sys.argv[2], i * 5),
                      "source": "sso", "body": {"actor": sys.argv[1], "action": "login_failure",
                                                "ip": "198.51.100.%d" % (i + 1), "result": "failure"}}))
P
}
wait_for() { # wait_for CMD...: until it succeeds (20 s at most)
	for i in $(seq 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
# sends RCPT: "status" of each send entry to RCPT, in seq order
sends() {
	"$AKASHI" --store "$S" log --kind send | $PY -c '
import json, sys
for l in sys.stdin:
    b = json.loads(l)["body"]
    if b["rcpt"] == sys.argv[1]:
        print(b["status"], b["campaign"], b["stream"], b.get("submission", {}).get("via", "-"))' "$1"
}
# mail_to RCPT: the path of the newest message the server accepted for RCPT
mail_to() {
	grep -l "^$1\$" "$T"/sink/*.env 2>/dev/null | tail -1 | sed 's/\.env$/.eml/'
}

daemon_start "$S" --set alerts.email=soc@ok.test "${MAIL[@]}"
_result $? "the daemon starts with alerts.email and a relay"
like "$(cat "$DLOG")" "delivery: running the queue" "the engine runs"

# --- one alert, one mail -------------------------------------------------------
failures alice 00 >f1.jsonl
api POST /v1/ingest/admin "$TI" --data-binary @f1.jsonl
is "$CODE" "200" "ten failed logins for alice, over HTTP"
wait_for sh -c "'$AKASHI' --store '$S' log --kind alert | grep -q bruteforce_user"
alert=$("$AKASHI" --store "$S" log --kind alert | grep bruteforce_user | head -1)
like "$alert" '"key":"alice".*"rule":"login.bruteforce_user"' "login.bruteforce_user is an alert entry"
aseq=$(json seq "$alert")
for i in $(seq 200); do sends soc@ok.test | grep -q '^sent' && break; sleep 0.1; done
is "$(sends soc@ok.test)" "queued alerts-$(date -u +%F) transactional alerts
sent alerts-$(date -u +%F) transactional alerts" \
	"the engine records the alert mail queued, then sent (transactional, the day's alerts campaign)"
eml=$(mail_to soc@ok.test)
ok=1
[ -n "$eml" ] && [ -s "$eml" ] || ok=0
_result $((1 - ok)) "the SMTP server got a mail for soc@ok.test"
$PY - "$eml" "$aseq" "$alert" >"$T/check1.out" 2>&1 <<'P'
import email, email.policy, sys
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw, policy=email.policy.default)
seq, entry = sys.argv[2], sys.argv[3]
print("subject:", m["Subject"])
print("to:", m["To"])
print("from:", m["From"])
print("date:", "yes" if m["Date"] and m["Date"].datetime else "no")
print("message-id:", m["Message-ID"])
print("auto:", m["Auto-Submitted"])
print("dkim:", "yes" if m["DKIM-Signature"] else "no")
body = m.get_body(("plain",)).get_content()
print("names seq:", ("alert seq  %s " % seq) in body)
print("log cmd:", ("akashi log --from %s --to %s" % (seq, seq)) in body)
print("entry:", entry in body.splitlines())
P
out=$(cat "$T/check1.out")
has_line "$out" "subject: [akashi] high login.bruteforce_user alice" "Subject: [akashi] high login.bruteforce_user alice"
has_line "$out" "to: soc@ok.test" "To: the alerts.email address"
has_line "$out" "from: akashi <akashi@example.com>" "From: akashi@ the DKIM domain (alerts.email_from's default)"
has_line "$out" "date: yes" "an RFC 5322 Date"
like "$out" "message-id: <akashi-alert-$aseq\.[0-9a-f]{16}@example.com>" "a Message-ID naming the alert's seq"
has_line "$out" "auto: auto-generated" "Auto-Submitted: auto-generated"
has_line "$out" "dkim: yes" "DKIM-signed by the engine"
has_line "$out" "names seq: True" "the text names the alert's seq"
has_line "$out" "log cmd: True" "and says how to see it: akashi log --from SEQ --to SEQ"
has_line "$out" "entry: True" "and carries the alert entry's canonical JSON, byte for byte"
mid=$(sed -n 's/^message-id: //p' "$T/check1.out")
like "$("$AKASHI" --store "$S" log --kind send | grep '"status":"sent"' | grep soc@ok.test)" \
	"\"message_id\":\"$mid\"" "the sent entry names the mail's Message-ID"

# --- CR LF in an account name adds no header ----------------------------------
failures $'mallory\r\nBcc: evil@ok.test\r\nX-Injected: yes' 10 >f2.jsonl
api POST /v1/ingest/admin "$TI" --data-binary @f2.jsonl
is "$CODE" "200" "ten failed logins for an account whose name holds CR LF and headers"
for i in $(seq 200); do [ "$(sends soc@ok.test | grep -c '^sent')" = 2 ] && break; sleep 0.1; done
is "$(sends soc@ok.test | grep -c '^sent')" "2" "its alert is mailed too"
eml=$(mail_to soc@ok.test)
$PY - "$eml" >"$T/check2.out" 2>&1 <<'P'
import email, email.policy, sys
raw = open(sys.argv[1], "rb").read()
head = raw.split(b"\r\n\r\n", 1)[0]
m = email.message_from_bytes(raw, policy=email.policy.default)
names = sorted(set(k.lower() for k in m.keys()))
print("headers:", " ".join(names))
print("subject:", m["Subject"])
print("bare:", b"\r\nBcc" in head or b"\nX-Injected" in head or b"\r" in head.replace(b"\r\n", b""))
P
out=$(cat "$T/check2.out")
has_line "$out" "headers: auto-submitted content-transfer-encoding content-type date dkim-signature from message-id mime-version subject to" \
	"no Bcc, no X-Injected: the same headers as any alert mail"
has_line "$out" "subject: [akashi] high login.bruteforce_user mallory??Bcc: evil@ok.test??X-Injected: yes" \
	"the CR LF of the key are '?' in the Subject"
has_line "$out" "bare: False" "and no line break of it is left in the header"
is "$(cat "$T"/sink/*.env | grep -c evil)" "0" "nothing went to the injected Bcc"

# --- an alert address that bounced is blocked, and the log says so ----------
daemon_stop TERM
is "$?" "0" "the daemon stops"
daemon_start "$S" --set alerts.email=reject-soc@ok.test "${MAIL[@]}"
_result $? "restarted with an alert address the server refuses"
failures bob 20 >f3.jsonl
api POST /v1/ingest/admin "$TI" --data-binary @f3.jsonl
for i in $(seq 200); do sends reject-soc@ok.test | grep -q '^bounced' && break; sleep 0.1; done
like "$(sends reject-soc@ok.test | tail -1)" "^bounced " "the first alert mail bounces (550), recorded"
failures carol 30 >f4.jsonl
api POST /v1/ingest/admin "$TI" --data-binary @f4.jsonl
for i in $(seq 200); do sends reject-soc@ok.test | grep -q '^blocked' && break; sleep 0.1; done
like "$(sends reject-soc@ok.test | tail -1)" "^blocked " "the next is recorded blocked: the bounce suppressed the address"
like "$(cat "$DLOG")" "alerts.email: the gate refuses reject-soc@ok.test .*recorded as a blocked send" \
	"and the daemon's log says the alert address is refused, and why"
api GET /metrics "$TR"
like "$BODY" 'akashi_alert_sink_total\{sink="email",result="sent"\} 2' "metrics: alert mails handed to the engine"
# The mass-send gate counts a gateway token's recipients of the day; the
# daemon's own alert mail is not a gateway client, and an alert storm must
# not run into that count.
is "$(sqlite3 "$S/queue.db" "SELECT count(*) FROM submitted_day")" 0 \
	"alert mail does not count toward a sender's day of mass sends"
daemon_stop TERM
is "$?" "0" "the daemon stops cleanly"
check "the store verifies" "$AKASHI" --store "$S" verify
unlike "$(cat "$DLOG")" "Sanitizer|runtime error" "no sanitizer reports"
done_testing
