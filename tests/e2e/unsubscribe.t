#!/usr/bin/env bash
# One-click unsubscribe (RFC 8058) against a real daemon: GET shows a page
# and changes nothing; POST of List-Unsubscribe=One-Click (form-encoded or
# multipart, as mail providers send it) appends an opt_out consent entry
# with its proof, suppression follows at once, and the gate then denies.
# Repeats append nothing while the opt-out is in force, however many and
# however fast; after a re-subscription the same link records anew.
# Tampered, expired and foreign tokens change nothing.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/daemon.sh"
S=$T/s
new_store "$S"
is "$(stat -c %a "$S/unsubscribe.key")/$(stat -c %s "$S/unsubscribe.key")" "600/32" \
	"akashi init makes a 32-byte unsubscribe secret, mode 0600"
tokens "$S"
cat >"$T/optin.jsonl" <<'EOF'
{"kind":"consent","time":"2026-08-01T00:00:00Z","source":"form","body":{"subject":"bob@example.com","list":"news","action":"opt_in","method":"double_opt_in","proof":{"ip":"192.0.2.1","form_url":"https://example.com/f"}}}
{"kind":"consent","time":"2026-08-01T00:05:00Z","source":"form","body":{"subject":"bob@example.com","list":"news","action":"confirm","method":"double_opt_in","proof":{"confirmation_id":"c-1"}}}
EOF
"$AKASHI" --store "$S" ingest "$T/optin.jsonl" >/dev/null
daemon_start "$S"
_result $? "the daemon starts"

tok=$("$AKASHI" --store "$S" unsubscribe-token --subject Bob@Example.com --list news --campaign fall-sale)
like "$tok" '^[A-Za-z0-9_-]+$' "unsubscribe-token prints a base64url token"
url=$("$AKASHI" --store "$S" unsubscribe-token --subject bob@example.com --list news --url https://mail.example.com/)
like "$url" '^https://mail\.example\.com/v1/unsubscribe\?t=[A-Za-z0-9_-]+$' "--url gives the List-Unsubscribe URL"

before=$(size_of "$S")
api GET "/v1/unsubscribe?t=$tok"
is "$CODE" "200" "GET shows a page"
like "$BODY" '<form method="post" action="\?t=' "with a form that POSTs to the same URL"
like "$BODY" 'name="List-Unsubscribe" value="One-Click"' "carrying List-Unsubscribe=One-Click"
unlike "$BODY" '<script|https?://' "self-contained: no scripts, nothing fetched from elsewhere"
is "$(size_of "$S")" "$before" "GET changed nothing (mail scanners follow links)"
api GET "/v1/unsubscribe?t=$tok" "" -D "$T/h"
like "$(cat "$T/h")" "Content-Security-Policy: default-src 'none'" "the page is served with a strict CSP"

api POST "/v1/unsubscribe?t=$tok" "" --data-binary 'hello'
is "$CODE" "400" "POST without List-Unsubscribe=One-Click: 400"
bad=$(printf '%s' "$tok" | sed 's/.$/A/;t'; true)
[ "$bad" = "$tok" ] && bad="${tok%?}B"
api POST "/v1/unsubscribe?t=$bad" "" -d 'List-Unsubscribe=One-Click'
is "$CODE" "400" "a tampered token: 400"
api GET "/v1/unsubscribe?t=$bad"
like "$CODE $(printf '%s' "$BODY" | tr '\n' ' ')" '^400 .*not valid' "and its page says the link does not work"
old=$("$AKASHI" --store "$S" unsubscribe-token --subject bob@example.com --list news --issued 2026-01-01T00:00:00Z)
api POST "/v1/unsubscribe?t=$old" "" -d 'List-Unsubscribe=One-Click'
like "$CODE:$BODY" '^400:.*expired' "a token older than unsubscribe.max_age: 400 expired"
head -c 32 /dev/urandom >"$T/other.key" && chmod 600 "$T/other.key"
foreign=$("$AKASHI" --store "$S" --set unsubscribe.secret="$T/other.key" unsubscribe-token --subject bob@example.com --list news)
api POST "/v1/unsubscribe?t=$foreign" "" -d 'List-Unsubscribe=One-Click'
is "$CODE" "400" "a token made with another secret: 400"
api POST "/v1/unsubscribe" "" -d 'List-Unsubscribe=One-Click'
is "$CODE" "400" "no token: 400"
is "$(size_of "$S")" "$before" "none of those changed anything"

api POST "/v1/gate" "$TR" -d '{"rcpt":"bob@example.com","list":"news","stream":"marketing"}'
is "$CODE/$(json decision)" "200/allow" "before: POST /v1/gate allows a marketing send to bob (confirmed opt-in)"
api POST "/v1/unsubscribe?t=$tok" "" -d 'List-Unsubscribe=One-Click' -A 'Mozilla/5.0 (test)'
is "$CODE" "200" "POST List-Unsubscribe=One-Click: 200"
seq=$(json seq)
e=$("$AKASHI" --store "$S" log --from "$seq" --to "$seq")
like "$e" '"kind":"consent"' "an opt-out consent entry is appended"
like "$e" '"action":"opt_out"' "action opt_out"
like "$e" '"method":"one_click"' "method one_click"
like "$e" '"subject":"bob@example.com"' "for the token's subject, lower-cased"
like "$e" '"campaign":"fall-sale"' "with the token's campaign"
like "$e" '"proof":\{"client_ip":"127\.0\.0\.1","time":"[^"]+","token_id":"[0-9a-f]{32}".*"user_agent":"Mozilla/5.0 \(test\)"' \
	"and its proof: client address, time, token id, user agent"
api GET /v1/consent/bob%40example.com "$TR"
is "$(json lists.0.state)/$(json suppressed.0.reason)/$(json suppressed.0.scope)" "opt_out/opt_out/news" \
	"consent state and suppression follow at once"

api POST "/v1/gate" "$TR" -d '{"rcpt":"bob@example.com","list":"news","stream":"marketing"}'
is "$CODE/$(json decision)" "200/deny" "after: POST /v1/gate denies it"
like "$(json reasons)" "\"ref\":$seq" "citing the opt-out entry"

out=$("$AKASHI" --store "$S" gate --rcpt bob@example.com --list news --stream marketing 2>&1)
is "$?" "1" "akashi gate denies it too (exit 1)"
like "$out" '"decision":"deny"' "and says so"
"$AKASHI" --store "$S" gate --rcpt bob@example.com --list other --stream transactional >/dev/null 2>&1
is "$?" "0" "while a transactional send on another list is allowed"

# Providers post multipart/form-data too, and retry; scanners replay; an
# attacker with one message loops. None of it floods the log: a subject
# opted out already gets the same 200, and nothing is appended.
ones() { "$AKASHI" --store "$S" log --kind consent | grep -c '"method":"one_click"'; }
api POST "/v1/unsubscribe?t=$tok" "" -F 'List-Unsubscribe=One-Click'
is "$CODE/$(json seq)" "200/$seq" "a repeat (multipart/form-data): 200, citing the opt-out in force"
api POST "/v1/unsubscribe?t=$tok" "" -H 'Accept: text/html' -d 'List-Unsubscribe=One-Click'
like "$CODE $(printf '%s' "$BODY" | tr '\n' ' ')" '^200 .*You are unsubscribed' "a browser posting the page's form gets the confirmation page"
before=$(size_of "$S")
seq 1 50 | xargs -P 10 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST \
	-d 'List-Unsubscribe=One-Click' "$URL/v1/unsubscribe?t=$tok" >"$T/codes"
is "$(sort "$T/codes" | uniq -c | awk '{print $1 "x" $2}')" "50x200" "50 more POSTs of the link, 10 at a time: all 200"
is "$(ones)" "1" "and still exactly one opt_out entry for it"
is "$(size_of "$S")" "$before" "nothing at all was appended"

# Subscribed again (a later opt-in and its confirmation), then the old link
# (it works for 60 days and more): a new opt-out is recorded, and the gate
# denies again.
now=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
printf '%s\n' \
	"{\"time\":\"$now\",\"source\":\"form\",\"body\":{\"subject\":\"bob@example.com\",\"list\":\"news\",\"action\":\"opt_in\",\"method\":\"double_opt_in\",\"proof\":{\"ip\":\"192.0.2.1\",\"form_url\":\"https://example.com/f\"}}}" \
	"{\"time\":\"$now\",\"source\":\"form\",\"body\":{\"subject\":\"bob@example.com\",\"list\":\"news\",\"action\":\"confirm\",\"method\":\"double_opt_in\",\"proof\":{\"confirmation_id\":\"c-2\"}}}" \
	>"$T/again.jsonl"
api POST /v1/ingest/consent "$TI" --data-binary @"$T/again.jsonl"
is "$CODE/$(json appended)" "200/2" "bob opts in to news again, and confirms"
"$AKASHI" --store "$S" gate --rcpt bob@example.com --list news --stream marketing >/dev/null 2>&1
is "$?" "0" "akashi gate allows him again"
api POST "/v1/unsubscribe?t=$tok" "" -d 'List-Unsubscribe=One-Click'
seq2=$(json seq)
is "$CODE" "200" "the old link POSTed again: 200"
[ "$seq2" -gt "$seq" ] 2>/dev/null
_result $? "with a new opt-out entry ($seq2 after $seq)"
is "$(ones)" "2" "two opt_out entries now"
out=$("$AKASHI" --store "$S" gate --rcpt bob@example.com --list news --stream marketing 2>&1)
is "$?" "1" "akashi gate denies again"
like "$out" "\"ref\":$seq2" "citing the new opt-out"
api POST "/v1/unsubscribe?t=$tok" "" -d 'List-Unsubscribe=One-Click'
is "$CODE/$(json seq)/$(ones)" "200/$seq2/2" "and a repeat of that is again nothing new"

# Each subject's link is its own: another subject's first click is recorded
# while bob's link is being repeated.
cat >"$T/carol.jsonl" <<'EOF'
{"kind":"consent","time":"2026-08-01T00:00:00Z","source":"form","body":{"subject":"carol@example.com","list":"news","action":"opt_in","method":"single_opt_in","proof":{"ip":"192.0.2.3"}}}
EOF
api POST /v1/ingest "$TI" --data-binary @"$T/carol.jsonl"
tok_c=$("$AKASHI" --store "$S" unsubscribe-token --subject carol@example.com --list news --campaign fall-sale)
api POST "/v1/unsubscribe?t=$tok" "" -d 'List-Unsubscribe=One-Click'
api POST "/v1/unsubscribe?t=$tok_c" "" -d 'List-Unsubscribe=One-Click'
seq_c=$(json seq)
is "$CODE" "200" "carol's link: 200"
like "$("$AKASHI" --store "$S" log --from "$seq_c" --to "$seq_c")" '"subject":"carol@example.com".*' "her own opt-out entry"
is "$("$AKASHI" --store "$S" log --kind consent | grep '"method":"one_click"' | grep -c carol)/$(ones)" "1/3" \
	"one for carol, bob's two untouched"
"$AKASHI" --store "$S" gate --rcpt bob@example.com --list offers --stream marketing 2>&1 | grep -q 'opted out'
is "$?" "1" "bob's opt-out of news says nothing about other lists"

# A User-Agent that is not UTF-8, and a long one: the opt-out is recorded
# all the same (it was a 503 "try again" for ever), with the agent's text
# made valid and kept to 256 bytes, not to whatever a client sends.
tok_d=$("$AKASHI" --store "$S" unsubscribe-token --subject dan@example.com --list news)
ua="Mozilla/5.0 $(printf 'x%.0s' $(seq 1 2000)) caf$(printf '\351')"
api POST "/v1/unsubscribe?t=$tok_d" "" -d 'List-Unsubscribe=One-Click' -A "$ua"
is "$CODE" "200" "a User-Agent of 2,000 bytes and Latin-1: 200"
e=$("$AKASHI" --store "$S" log --from "$(json seq)" --to "$(json seq)")
agent=$(printf '%s' "$e" | python3 -c 'import json, sys; print(json.load(sys.stdin)["body"]["proof"]["user_agent"])')
is "${#agent}" "256" "the proof keeps its first 256 bytes"
like "$agent" '^Mozilla/5.0 xxx' "... as sent"

api GET /metrics "$TR"
like "$BODY" 'akashi_unsubscribe_requests_total\{result="ok"\} 4' "recorded opt-outs are counted"
n_rep=$(printf '%s\n' "$BODY" | sed -n 's/^akashi_unsubscribe_requests_total{result="repeat"} //p')
n_alr=$(printf '%s\n' "$BODY" | sed -n 's/^akashi_unsubscribe_requests_total{result="already"} //p')
is "$((${n_rep:-0} + ${n_alr:-0}))" "54" "and the 54 repeats, answered without an entry"
daemon_stop TERM
is "$?" "0" "the daemon stops cleanly"
check "the store verifies" "$AKASHI" --store "$S" verify
unlike "$(cat "$DLOG")" "Sanitizer|runtime error" "no sanitizer reports"

# The first 50 POSTs of a new link all at once: the check inside the
# append transaction lets exactly one through. A repeat is a POST within
# unsubscribe.repeat_window of the opt-out in force (3 s here): after it,
# the link records a new opt-out, so a re-subscription that reaches akashi
# late (dated before that POST) cannot leave the pair subscribed with the
# POST nowhere; a loop on a link records one entry per window.
daemon_start "$S" --set unsubscribe.repeat_window=3s
tok_e=$("$AKASHI" --store "$S" unsubscribe-token --subject erin@example.com --list news)
seq 1 50 | xargs -P 25 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST \
	-d 'List-Unsubscribe=One-Click' "$URL/v1/unsubscribe?t=$tok_e" >"$T/codes"
is "$(sort "$T/codes" | uniq -c | awk '{print $1 "x" $2}')" "50x200" "50 first POSTs of a link at once: all 200"
erin() { "$AKASHI" --store "$S" log --kind consent | grep '"method":"one_click"' | grep -c erin; }
is "$(erin)" "1" "exactly one opt_out entry"
api GET /metrics "$TR"
already=$(printf '%s\n' "$BODY" | sed -n 's/^akashi_unsubscribe_requests_total{result="already"} //p')
repeat=$(printf '%s\n' "$BODY" | sed -n 's/^akashi_unsubscribe_requests_total{result="repeat"} //p')
is "$(( ${already:-0} + ${repeat:-0} ))" "49" "the other 49 were repeats, found in force or answered from memory"
sleep 3.2
api POST "/v1/unsubscribe?t=$tok_e" "" -d 'List-Unsubscribe=One-Click'
is "$CODE/$(erin)" "200/2" "after the window the same link records a new opt-out"
api POST "/v1/unsubscribe?t=$tok_e" "" -d 'List-Unsubscribe=One-Click'
is "$CODE/$(erin)" "200/2" "and its repeats within the window again nothing"
daemon_stop TERM
is "$?" "0" "the daemon stops cleanly"
check "the store verifies" "$AKASHI" --store "$S" verify

# A store without a secret: the daemon makes one (default path) and works.
S2=$T/s2
new_store "$S2"
rm "$S2/unsubscribe.key"
daemon_start "$S2"
is "$(stat -c %a "$S2/unsubscribe.key" 2>/dev/null)" "600" "serve makes a missing default secret"
daemon_stop TERM
# A configured secret that cannot be read: unsubscribe says 503, the rest runs.
daemon_start "$S2" --set unsubscribe.secret="$T/missing.key"
api GET "/v1/unsubscribe?t=$tok"
is "$CODE" "503" "without its secret the endpoint answers 503"
api GET /healthz
is "$CODE" "200" "and the daemon serves the rest"
daemon_stop TERM
fails "unsubscribe.max_age under 60 days is refused" "$AKASHI" --store "$S2" serve --set unsubscribe.max_age=30d
done_testing
