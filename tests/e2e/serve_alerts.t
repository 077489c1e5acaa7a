#!/usr/bin/env bash
# Alerts through the daemon: a burst of failed logins from one address
# ingested over HTTP raises login.bruteforce_src; the alert becomes an
# `alert` entry citing the failures, and a webhook receiver (a small Python
# server on loopback) gets it with a valid X-Akashi-Signature HMAC. The
# receiver fails the first delivery, so the retry is tested too.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/daemon.sh"
S=$T/s
new_store "$S"
tokens "$S"
SECRET='webhook-secret-for-the-test'
HPORT=$(free_port)
cat >"$T/hook.py" <<'P'
# hook.py PORT SECRET OUT: take POSTs; the first answers 503, the others
# 200; append "valid|invalid BODY" per request to OUT.
import hashlib, hmac, http.server, sys
port, secret, out = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
seen = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(want, self.headers.get("X-Akashi-Signature", ""))
        seen[0] += 1
        with open(out, "a") as f:
            f.write("%s %s %s\n" % (seen[0], "valid" if ok else "invalid", body.decode()))
        self.send_response(503 if seen[0] == 1 else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
P
: >"$T/hook.out"
python3 "$T/hook.py" "$HPORT" "$SECRET" "$T/hook.out" &
HPID=$!
trap 'kill $HPID 2>/dev/null; rm -rf "$T"' EXIT
daemon_start "$S" --set "alerts.webhook=http://127.0.0.1:$HPORT/hook" \
	--set "alerts.webhook_secret=$SECRET"
_result $? "the daemon starts with a webhook sink"
python3 - >"$T/fails.jsonl" <<'P'
import json
for i in range(10):
    print(json.dumps({"kind": "admin", "time": "2026-09-01T03:00:%02dZ" % (i * 5), "source": "sso",
                      "body": {"actor": "user%d" % (i % 3), "action": "login_failure", "ip": "203.0.113.9",
                               "result": "failure"}}))
P
api POST /v1/ingest/admin "$TI" --data-binary @"$T/fails.jsonl"
is "$CODE/$(json appended)" "200/10" "ten failed logins from one address, over HTTP"
first=$(($(json last_seq) - 9))
for i in $(seq 1 100); do
	"$AKASHI" --store "$S" log --kind alert | grep -q bruteforce_src && break
	sleep 0.1
done
alert=$("$AKASHI" --store "$S" log --kind alert | grep bruteforce_src | head -1)
like "$alert" '"rule":"login.bruteforce_src"' "login.bruteforce_src is an alert entry"
like "$alert" "\"refs\":\\[$first,$((first + 1)),$((first + 2))" "citing the failures by seq"
is "$("$AKASHI" --store "$S" log --kind alert | grep -c bruteforce_src)" "1" \
	"one incident, one alert (the suppression window holds the rest)"
for i in $(seq 1 150); do
	grep -q '^2 ' "$T/hook.out" && break
	sleep 0.1
done
like "$(sed -n 1p "$T/hook.out")" '^1 valid .*login.bruteforce_src' "the webhook got it, signed (answered 503)"
like "$(sed -n 2p "$T/hook.out")" '^2 valid .*login.bruteforce_src' "and again after back-off, with a valid HMAC"
seq=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seq"])' "$alert")
like "$(sed -n 2p "$T/hook.out")" "\"seq\":$seq" "the payload is the alert entry itself"
# Records another process appends (akashi ingest) reach the detectors too.
sed 's/203\.0\.113\.9/198.51.100.77/; s/T03:/T04:/' "$T/fails.jsonl" >"$T/fails2.jsonl"
"$AKASHI" --store "$S" ingest "$T/fails2.jsonl" >/dev/null
for i in $(seq 1 100); do
	"$AKASHI" --store "$S" log --kind alert | grep -q 198.51.100.77 && break
	sleep 0.1
done
like "$("$AKASHI" --store "$S" log --kind alert | grep 198.51.100.77)" '"rule":"login.bruteforce_src"' \
	"failures ingested by akashi ingest while the daemon runs raise the alert too"
api GET /metrics "$TR"
like "$BODY" 'akashi_alerts_total\{rule="login.bruteforce_src",severity="[a-z]+"\} 2' "metrics: alerts by rule"
like "$BODY" 'akashi_alert_sink_total\{sink="webhook",result="sent"\} [12]' "metrics: webhook deliveries"
daemon_stop TERM
is "$?" "0" "the daemon stops cleanly"
check "the store verifies" "$AKASHI" --store "$S" verify
unlike "$(cat "$DLOG")" "Sanitizer|runtime error" "no sanitizer reports"

# A commit whose alerts.json lint refuses is not loaded at start either:
# the daemon says so and records it, and the detectors run on the rules
# they had (here the defaults), never on none.
git clone -q "$S/policies" "$T/pol" &&
	printf '{"login.bruteforce_src":{"treshold":3}}\n' >"$T/pol/alerts.json" &&
	git -C "$T/pol" add alerts.json &&
	git -C "$T/pol" -c user.name=Sec -c user.email=sec@example.com commit -qm "Tune alerts" &&
	git -C "$T/pol" push -q origin HEAD:main 2>/dev/null || git -C "$T/pol" push -q origin HEAD
daemon_start "$S"
_result $? "the daemon starts with a policy commit whose alerts.json is bad"
like "$(cat "$DLOG")" "alerts.json: login.bruteforce_src: unknown key 'treshold'" "and says what is wrong with it"
like "$("$AKASHI" --store "$S" log --kind system | grep policy_load | tail -1)" '"result":"failed"' \
	"the policy load is recorded as failed"
# failures IP DAY: eight failed logins from IP, 5 s apart, on 2026-09-DAY
failures() {
	python3 - "$1" "$2" <<'P'
import json, sys
for i in range(8):
    print(json.dumps({"kind": "admin", "time": "2026-09-%sT04:00:%02dZ" % (sys.argv[2], i * 5),
                      "source": "sso", "body": {"actor": "user%d" % i, "action": "login_failure",
                                                "ip": sys.argv[1], "result": "failure"}}))
P
}
wait_alert() { # wait_alert IP: until an alert about IP is in the log
	for i in $(seq 1 100); do
		"$AKASHI" --store "$S" log --kind alert | grep -q "$1" && break
		sleep 0.1
	done
}
failures 192.0.2.200 03 >"$T/fails3.jsonl"
api POST /v1/ingest/admin "$TI" --data-binary @"$T/fails3.jsonl"
wait_alert 192.0.2.200
like "$("$AKASHI" --store "$S" log --kind alert | grep 192.0.2.200)" '"rule":"login.bruteforce_src"' \
	"the default detectors still run: eight failures from one address raise the alert"
# A SIGHUP that changes nothing of theirs keeps the detectors as they are:
# seven failures before it and the eighth after it are one incident.
failures 192.0.2.201 04 >"$T/fails4.jsonl"
head -7 "$T/fails4.jsonl" >"$T/fails4a.jsonl"
tail -1 "$T/fails4.jsonl" >"$T/fails4b.jsonl"
api POST /v1/ingest/admin "$TI" --data-binary @"$T/fails4a.jsonl"
kill -HUP $DPID
for i in $(seq 1 100); do
	"$AKASHI" --store "$S" log --kind system | grep -q '"event":"reload"' && break
	sleep 0.1
done
api POST /v1/ingest/admin "$TI" --data-binary @"$T/fails4b.jsonl"
wait_alert 192.0.2.201
is "$("$AKASHI" --store "$S" log --kind alert | grep -c 192.0.2.201)" "1" \
	"seven failures, a SIGHUP, the eighth: the detectors kept count, one alert"
# SIGTERM right after a burst the detectors have not seen yet: their alert
# goes in before "stop" and the final checkpoint, which cover everything
# the daemon appends (it used to come after both).
python3 - >"$T/burst.jsonl" <<'P'
import json
for i in range(30000):
    print(json.dumps({"kind": "admin", "time": "2026-09-05T03:%02d:%02dZ" % (i // 600 % 60, i % 60), "source": "sso",
                      "body": {"actor": "quiet%d" % i, "action": "logout"}}))
P
failures 192.0.2.202 05 >>"$T/burst.jsonl"
api POST /v1/ingest/admin "$TI" --data-binary @"$T/burst.jsonl"
is "$CODE" "200" "a burst of 30,008 entries in one request"
daemon_stop TERM
is "$?" "0" "and the daemon stops cleanly"
order=$("$AKASHI" --store "$S" log --from 1 | python3 -c '
import json, sys
alert = stop = None
for l in sys.stdin:
    e = json.loads(l)
    if e["kind"] == "alert" and e["body"].get("key") == "192.0.2.202": alert = e["seq"]
    if e["kind"] == "system" and e["body"].get("event") == "stop": stop = e["seq"]
print("alert before stop" if alert and stop and alert < stop else "alert %s, stop %s" % (alert, stop))')
is "$order" "alert before stop" "a SIGTERM after a burst: its alert is in the log before stop"
done_testing
