#!/usr/bin/env bash
# tests/e2e/serve_alerts_drain.t - SIGTERM while the webhook sink still has
# an alert to deliver: the daemon keeps its loop running (up to
# alerts.drain_timeout) for one last try, at once rather than after the
# back-off, and exits 0. With a receiver that answers 503 and then 200 the
# alert arrives before the daemon exits; with one that always answers 503,
# or never answers at all, the daemon still exits 0 within the bound and
# logs how many alerts were left undelivered. The alert entries are in the
# log whatever the webhook did.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/daemon.sh"
S=$T/s
new_store "$S"
tokens "$S"
SECRET='drain-secret'
cat >"$T/hook.py" <<'P'
# hook.py PORT OUT MODE: take POSTs, append "N STATUS BODY" per request to
# OUT. MODE: flaky (503, then 200), down (always 503), hang (never answers).
import http.server, sys, time
port, out, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
seen = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        seen[0] += 1
        code = 200 if mode == "flaky" and seen[0] > 1 else 503
        with open(out, "a") as f:
            f.write("%d %s %s\n" % (seen[0], "hang" if mode == "hang" else code, body.decode()))
        if mode == "hang":
            time.sleep(3600)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
P
# hook MODE: a receiver in $HPORT, its requests in $T/hook-MODE.out
hook() {
	HPORT=$(free_port)
	: >"$T/hook-$1.out"
	python3 "$T/hook.py" "$HPORT" "$T/hook-$1.out" "$1" &
	PIDS="$PIDS $!"
	for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$HPORT/" && break; sleep 0.1; done
}
# raise IP: eight failed logins from IP over HTTP (login.bruteforce_src)
raise() {
	python3 - "$1" >"$T/fails.jsonl" <<'P'
import json, sys
for i in range(8):
    print(json.dumps({"kind": "admin", "time": "2026-09-01T03:00:%02dZ" % (i * 5), "source": "sso",
                      "body": {"actor": "user%d" % i, "action": "login_failure", "ip": sys.argv[1],
                               "result": "failure"}}))
P
	api POST /v1/ingest/admin "$TI" --data-binary @"$T/fails.jsonl"
}
wait_line() { # wait_line FILE N: until FILE has N lines (20 s at most)
	for i in $(seq 200); do [ "$(wc -l <"$1")" -ge "$2" ] && return 0; sleep 0.1; done
	return 1
}

# --- 503 first, then 200: delivered during the drain -------------------------
hook flaky
daemon_start "$S" --set "alerts.webhook=http://127.0.0.1:$HPORT/hook" \
	--set "alerts.webhook_secret=$SECRET"
_result $? "the daemon starts with a webhook sink"
raise 203.0.113.10
is "$CODE" "200" "failed logins from 203.0.113.10"
wait_line "$T/hook-flaky.out" 1
like "$(sed -n 1p "$T/hook-flaky.out")" '^1 503 .*203\.0\.113\.10' "the first delivery is answered 503"
daemon_stop TERM
is "$?" "0" "SIGTERM while the retry waits for its back-off: the daemon exits 0"
like "$(sed -n 2p "$T/hook-flaky.out")" '^2 200 .*"rule":"login.bruteforce_src"' \
	"the receiver got the alert before the daemon exited (one last try during the drain)"
like "$(cat "$DLOG")" "stopping: the sinks delivered every alert" "and the daemon says so"

# --- always 503: given up, counted, exit 0 -----------------------------------
hook down
daemon_start "$S" --set "alerts.webhook=http://127.0.0.1:$HPORT/hook" \
	--set "alerts.webhook_secret=$SECRET" --set alerts.drain_timeout=5s
raise 203.0.113.11
wait_line "$T/hook-down.out" 1
t0=$(date +%s)
daemon_stop TERM
is "$?" "0" "a receiver that never answers 2xx: the daemon still exits 0"
t1=$(date +%s)
n=$(wc -l <"$T/hook-down.out")
ok=0
[ "$n" -ge 2 ] && [ "$n" -le 3 ] && ok=1
_result $((1 - ok)) "one last try at once ($n requests in all), not the 8 of the back-off"
ok=0
[ $((t1 - t0)) -le 5 ] && ok=1
_result $((1 - ok)) "within alerts.drain_timeout ($((t1 - t0)) s)"
like "$(cat "$DLOG")" "stopping: 1 alert\(s\) not delivered by the sinks: 0 still waiting .*, 1 given up" \
	"the log counts the alert given up"

# --- a receiver that never answers: the deadline holds -----------------------
hook hang
daemon_start "$S" --set "alerts.webhook=http://127.0.0.1:$HPORT/hook" \
	--set "alerts.webhook_secret=$SECRET" --set alerts.drain_timeout=2s
raise 203.0.113.12
raise 203.0.113.13
wait_line "$T/hook-hang.out" 1
t0=$(date +%s)
daemon_stop TERM
is "$?" "0" "a receiver that hangs: the daemon exits 0"
t1=$(date +%s)
ok=0
[ $((t1 - t0)) -ge 2 ] && [ $((t1 - t0)) -le 6 ] && ok=1
_result $((1 - ok)) "after alerts.drain_timeout (2 s), not the webhook's 10 s timeout ($((t1 - t0)) s)"
like "$(cat "$DLOG")" "stopping: 2 alert\(s\) not delivered by the sinks: 2 still waiting at alerts.drain_timeout \(2s\), 0 given up" \
	"the log says how many alerts were left undelivered"
for ip in 203.0.113.10 203.0.113.11 203.0.113.12 203.0.113.13; do
	like "$("$AKASHI" --store "$S" log --kind alert | grep -c "\"key\":\"$ip\"")" "^1$" \
		"the alert about $ip is an entry in the log"
done
check "the store verifies" "$AKASHI" --store "$S" verify
unlike "$(cat "$DLOG")" "Sanitizer|runtime error" "no sanitizer reports"
done_testing
