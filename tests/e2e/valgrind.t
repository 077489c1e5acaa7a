#!/usr/bin/env bash
# The daemon's start-serve-stop path under valgrind (the release build: a
# sanitized binary cannot run under valgrind): start, a few requests of
# each kind, SIGTERM; valgrind must report no error and no leak.
. "$(dirname "$0")/lib/tap.sh"
REL=${AKASHI_RELEASE:-$ROOT/build/akashi}
if ! command -v valgrind >/dev/null || [ ! -x "$REL" ]; then
	echo "1..0 # SKIP needs valgrind and the release build ($REL)"
	exit 0
fi
AKASHI=$REL
. "$(dirname "$0")/lib/daemon.sh"
S=$T/s
new_store "$S"
tokens "$S"
DAEMON_CMD="valgrind --leak-check=full --show-leak-kinds=definite,indirect \
 --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$T/vg.log"
# The delivery engine and the SMTP gateway too (no TLS: AUTH from
# loopback); the relay refuses connections, so accepted mail is deferred.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/dkim.pem" 2>/dev/null
SPORT=$(free_port)
daemon_start "$S" --set smtp.listen=127.0.0.1:$SPORT --set dkim.domain=example.com \
	--set dkim.selector=s1 --set dkim.key="$T/dkim.pem" --set relay=127.0.0.1:$(free_port)
_result $? "the daemon starts under valgrind"
printf '{"kind":"send","time":"2026-01-01T00:00:00Z","source":"vg","body":{"rcpt":"a@example.com","status":"sent"}}\n' >"$T/one.jsonl"
api POST /v1/ingest/send "$TI" --data-binary @"$T/one.jsonl"
is "$CODE" "200" "ingest"
api POST /v1/ingest/send "$TI" --data-binary 'bad'
is "$CODE" "400" "a bad body"
api GET /v1/entries "$TE"
is "$CODE" "200" "an export stream"
api POST /v1/checkpoint "$TA"
is "$CODE" "200" "a checkpoint"
api GET /v1/proof/2 "$TR"
is "$CODE" "200" "a proof"
api GET "/v1/search?q=example" "$TR"
is "$CODE" "200" "a search"
api GET /metrics "$TR"
is "$CODE" "200" "metrics"
# Clients gone before their answers: the requests are freed unanswered.
for i in 1 2; do
	python3 - "$PORT" "$TR" <<'P'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(("GET /v1/search?q=example HTTP/1.1\r\nHost: t\r\n"
           "Authorization: Bearer %s\r\n\r\n" % sys.argv[2]).encode())
s.close()
P
done
api GET /healthz
is "$CODE" "200" "clients that left before their answers"
tok=$("$AKASHI" --store "$S" unsubscribe-token --subject b@example.com --list n)
api POST "/v1/unsubscribe?t=$tok" "" -d 'List-Unsubscribe=One-Click'
is "$CODE" "200" "a one-click unsubscribe"
printf 'From: <shop@example.com>\nSubject: receipt\n\nThanks.\n' >"$T/m.eml"
out=$(python3 "$ROOT/tests/e2e/lib/smtp-submit.py" $SPORT - transactional/orders "$TI" send \
	"$T/m.eml" shop@example.com buyer@example.com 2>&1)
like "$out" "^sent 250" "a message through the SMTP gateway"
out=$(python3 "$ROOT/tests/e2e/lib/smtp-submit.py" $SPORT - news "$TI" send \
	"$T/m.eml" shop@example.com nobody@example.com 2>&1)
like "$out" "refused nobody@example.com 550 " "a recipient the gate refuses"
exec 3<>/dev/tcp/127.0.0.1/$SPORT
printf 'EHLO idle.test\r\n' >&3
kill -HUP $DPID
sleep 1
daemon_stop TERM
is "$?" "0" "SIGTERM: exit 0 (valgrind's error exit code would be 99)"
like "$(timeout 5 cat <&3 | tr -d '\r' | tail -1)" "^421 4.3.2 " \
	"a gateway session left open is told 421 on SIGTERM"
exec 3<&-
like "$(cat "$T/vg.log")" 'ERROR SUMMARY: 0 errors' "valgrind: no errors"
like "$(cat "$T/vg.log")" 'definitely lost: 0 bytes|no leaks are possible' "valgrind: nothing definitely lost"
unlike "$(cat "$T/vg.log")" 'indirectly lost: [1-9]' "valgrind: nothing indirectly lost"
done_testing
