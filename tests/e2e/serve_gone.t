#!/usr/bin/env bash
# Shutdown waits a moment for answers still leaving (DRAIN_FLUSH_US), but
# never for an answer whose client went away: one dropped in the middle of
# a large answer (the write fails and evhttp frees the request) and one
# gone before its answer was ready (evhttp frees the request unsent). Each
# left SIGTERM waiting the full 2 s before auditd/http.c settled its
# count from the connection's close as well as from the request's end.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/daemon.sh"
S=$T/s
new_store "$S"
tokens "$S"
# 10,000 entries of about 1 KB: a search answer of 10 MB, more than the
# socket buffers of both ends hold.
python3 - >"$T/big.jsonl" <<'P'
import json
for i in range(10000):
    print(json.dumps({"kind": "send", "time": "2026-09-01T10:00:00Z", "source": "mta:m",
                      "body": {"rcpt": "r%d@example.com" % i, "status": "sent",
                               "dsn": "5.0.0 " + "x" * 900}}))
P
daemon_start "$S"
_result $? "the daemon starts"
api POST /v1/ingest/send "$TI" --data-binary @"$T/big.jsonl"
is "$CODE/$(json appended)" "200/10000" "10,000 entries of 1 KB"
# The full-text index catches up in the background.
for i in $(seq 1 300); do
	n=$(curl -s -H "Authorization: Bearer $TR" "$URL/v1/search?q=sent&limit=10000" | wc -l)
	[ "$n" -ge 10000 ] && break
	sleep 0.2
done
is "$n" "10000" "a search finds all of them (the answer is about 10 MB)"

# stop_time: SIGTERM, wait, seconds taken (to a tenth).
stop_time() {
	local t0 t1
	t0=$(date +%s%N)
	daemon_stop TERM
	STOP_RC=$?
	t1=$(date +%s%N)
	STOP_MS=$(((t1 - t0) / 1000000))
}

# A client that reads the first bytes of the answer, then resets the
# connection while most of it is still to be written.
python3 - "$PORT" "$TR" <<'P'
import socket, struct, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(("GET /v1/search?q=sent&limit=10000 HTTP/1.1\r\nHost: t\r\n"
           "Authorization: Bearer %s\r\n\r\n" % sys.argv[2]).encode())
got = s.recv(1024)
assert got.startswith(b"HTTP/1.1 200"), got[:100]
time.sleep(0.3)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
P
_result $? "a client takes the first KB of the answer, then resets the connection"
sleep 0.3
stop_time
is "$STOP_RC" "0" "SIGTERM: the daemon stops"
[ "$STOP_MS" -lt 1500 ]
_result $? "within 1.5 s, not held up by the dropped answer (${STOP_MS} ms)"

# A client that closes before its answer is ready (a search of 1,000
# takes some milliseconds): evhttp notices the close of a GET at once.
daemon_start "$S"
for i in 1 2 3; do
	python3 - "$PORT" "$TR" <<'P'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(("GET /v1/search?q=sent&limit=1000 HTTP/1.1\r\nHost: t\r\n"
           "Authorization: Bearer %s\r\n\r\n" % sys.argv[2]).encode())
s.close()
P
done
sleep 1
api GET /healthz
is "$CODE" "200" "three clients gone before their answers; the daemon serves on"
stop_time
is "$STOP_RC" "0" "SIGTERM: the daemon stops"
[ "$STOP_MS" -lt 1500 ]
_result $? "within 1.5 s, not waiting for answers nobody will read (${STOP_MS} ms)"

# An answer still leaving to a client that reads slowly is waited for, as
# before: shutdown lets it finish.
daemon_start "$S"
python3 - "$PORT" "$TR" "$T/slow.out" <<'P' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(("GET /v1/search?q=sent&limit=10000 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
           "Authorization: Bearer %s\r\n\r\n" % sys.argv[2]).encode())
n = 0
while True:
    b = s.recv(65536)
    if not b:
        break
    n += len(b)
    time.sleep(0.002)
open(sys.argv[3], "w").write(str(n))
P
reader=$!
PIDS="$PIDS $reader"
sleep 0.5
stop_time
wait $reader
is "$STOP_RC" "0" "SIGTERM while a slow client reads a large answer: the daemon stops"
[ "$(cat "$T/slow.out")" -gt 10000000 ]
_result $? "after the answer left whole ($(cat "$T/slow.out") bytes)"
unlike "$(cat "$DLOG")" "Sanitizer|runtime error|leak" "no sanitizer reports"
check "the store verifies" "$AKASHI" --store "$S" verify
done_testing
