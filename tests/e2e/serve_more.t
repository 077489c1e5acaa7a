#!/usr/bin/env bash
# The daemon's scheduler (checkpoints when the log grew, audits with their
# policy loads), HTTPS, dropping root to another user, and clients that
# leave in the middle of an export stream.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/daemon.sh"
S=$T/s
new_store "$S"
tokens "$S"
python3 - >"$T/many.jsonl" <<'P'
import json
for i in range(30000):
    print(json.dumps({"kind": "send", "time": "2026-09-%02dT10:00:%02dZ" % (1 + i % 28, i % 60), "source": "mta:m",
                      "body": {"rcpt": "r%d@example.com" % i, "status": "sent", "message_id": "<%d@m>" % i}}))
P

# ---- scheduler ----
daemon_start "$S" --set checkpoint.interval=1s --set audit.interval=2s
_result $? "the daemon starts with a 1 s checkpoint and a 2 s audit interval"
api POST /v1/ingest/send "$TI" --data-binary @"$T/many.jsonl"
is "$CODE/$(json appended)" "200/30000" "30,000 records in one request"
for i in $(seq 1 100); do
	[ "$(sqlite3 "$S/akashi.db" "SELECT count(*) FROM checkpoints")" -ge 1 ] &&
		"$AKASHI" --store "$S" log --kind system | grep -q '"event":"audit' && break
	sleep 0.1
done
cp1=$(sqlite3 "$S/akashi.db" "SELECT max(size) FROM checkpoints")
[ "${cp1:-0}" -ge 30000 ]
_result $? "a checkpoint follows within the interval (size $cp1)"
like "$("$AKASHI" --store "$S" log --kind system)" '"event":"policy_load".*"for":"audit".*"result":"loaded"' \
	"each scheduled audit loads the policies, recorded as a system entry"
like "$("$AKASHI" --store "$S" log --kind system)" '"event":"audit' "and records that the audit ran"

# ---- clients that leave mid-stream ----
for i in 1 2 3; do
	curl -s -H "Authorization: Bearer $TE" "$URL/v1/entries" | head -c 20000 >/dev/null
done
curl -s --max-time 0.05 -H "Authorization: Bearer $TE" "$URL/v1/entries" >/dev/null
api GET /healthz
is "$CODE" "200" "clients leaving in the middle of exports do not hurt the daemon"
api GET "/v1/entries?kind=send" "$TE"
is "$(printf '%s\n' "$BODY" | wc -l)" "30000" "and a whole export still streams all 30,000"
daemon_stop TERM
is "$?" "0" "stop"
unlike "$(cat "$DLOG")" "Sanitizer|runtime error|leak" "no sanitizer reports (nothing leaked by cut streams)"

# ---- HTTPS ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
	-keyout "$T/tls.key" -out "$T/tls.crt" >/dev/null 2>&1
chmod 600 "$T/tls.key"
PORT=$(free_port)
"$AKASHI" --store "$S" serve --set "listen=127.0.0.1:$PORT" --set "tls.cert=$T/tls.crt" \
	--set "tls.key=$T/tls.key" --set checkpoint.interval=0 --set audit.interval=0 >>"$DLOG" 2>&1 &
DPID=$!
for i in $(seq 1 200); do curl -s -o /dev/null --cacert "$T/tls.crt" "https://localhost:$PORT/healthz" && break; sleep 0.05; done
out=$(curl -s --cacert "$T/tls.crt" -H "Authorization: Bearer $TR" "https://localhost:$PORT/v1/checkpoint")
like "$out" "^test.example/log" "HTTPS with tls.cert and tls.key, verified against the certificate"
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" "000" "plain HTTP is not spoken there"
daemon_stop TERM
is "$?" "0" "stop"

# ---- dropping root ----
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
	for i in 1 2 3 4 5; do echo "ok $((_n + i)) # skip needs root and the user nobody"; done
	_n=$((_n + 5))
else
	chmod 755 "$T"
	daemon_start "$S" --set user=nobody --set audit.interval=1s
	is "$(awk '/^Uid:/ {print $2 "/" $3}' /proc/$DPID/status)" "$(id -u nobody)/$(id -u nobody)" \
		"with user = nobody the daemon runs as nobody after binding"
	api POST /v1/ingest/send "$TI" --data-binary @"$T/many.jsonl"
	is "$CODE/$(json duplicates)" "200/30000" "and still writes the store (handed to it)"
	sleep 1.5
	daemon_stop TERM
	is "$?" "0" "and stops cleanly, final checkpoint included"
	is "$(stat -c %a "$S/key.pem")/$(stat -c %U "$S/key.pem")" "600/root" "the signing key stays root's, mode 0600"
	unlike "$(grep -i 'audit' "$DLOG" | grep -i 'error\|fail')" "." "the audit thread opened its own connection as nobody"
fi
check "the store verifies" "$AKASHI" --store "$S" verify

# ---- a typo does not start a daemon without its alerts ----
# Each of these used to start the daemon with the alert detectors or the
# alert sinks off, or a policy zone that failed every audit, and only a
# line in the log said so.
bad() { # bad KEY=VALUE EXPECTED: serve refuses it, exit 1, saying EXPECTED
	local out st
	out=$(timeout 20 "$AKASHI" --store "$S" serve --set listen=127.0.0.1:$(free_port) \
		--set checkpoint.interval=0 --set audit.interval=0 --set "$1" 2>&1)
	st=$?
	is "$st" 1 "serve --set $1: refused"
	like "$out" "$2" "... saying why"
}
bad timezone=Mars/Base "timezone: 'Mars/Base' is not a time zone this system knows"
bad ingest.zone=Nowhere/X "ingest.zone: 'Nowhere/X' is not a time zone"
bad "business_hours=whenever" "business_hours: 'whenever' is not business hours"
bad alerts.min_severity=bogus "alerts.min_severity: 'bogus' is not one of info, low, medium, high, critical"
bad smtp.tls=requierd "smtp.tls: 'requierd' is not one of required, opportunistic, off"
bad alerts.syslog=bogus "alerts.syslog: 'bogus' is not udp:HOST:PORT"
fails "akashi ingest refuses a zone the system does not know" \
	"$AKASHI" --store "$S" --set ingest.zone=Nowhere/X ingest "$T/many.jsonl"
done_testing
