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
daemon_start "$S"
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
tok=$("$AKASHI" --store "$S" unsubscribe-token --subject b@example.com --list n)
api POST "/v1/unsubscribe?t=$tok" "" -d 'List-Unsubscribe=One-Click'
is "$CODE" "200" "a one-click unsubscribe"
kill -HUP $DPID
sleep 1
daemon_stop TERM
is "$?" "0" "SIGTERM: exit 0 (valgrind's error exit code would be 99)"
like "$(cat "$T/vg.log")" 'ERROR SUMMARY: 0 errors' "valgrind: no errors"
like "$(cat "$T/vg.log")" 'definitely lost: 0 bytes|no leaks are possible' "valgrind: nothing definitely lost"
unlike "$(cat "$T/vg.log")" 'indirectly lost: [1-9]' "valgrind: nothing indirectly lost"
done_testing
