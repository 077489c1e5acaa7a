#!/usr/bin/env bash
# tests/e2e/policy_facts.t - facts that read alike but mean different
# things to the controls, each checked in the gate and in the audit, which
# must agree: a confirm after an opt-out re-subscribes nobody; a
# confirmation written into the opt-in counts from its confirmed_at, not
# from before it; an admin action whose result is "failure" (a rejected
# approval, a refused password change) changed nothing; an account
# disabled once and enabled again is audited like any other; every gap
# between reviews is reported, not only the first.
. "$(dirname "$0")/lib/tap.sh"
S=$T/s
new_store "$S"
audit() { "$AKASHI" --store "$S" audit --quarter 2026Q3 --json --no-record 2>&1; }
# exceptions POLICY_ID: that policy's exception details, one a line
exceptions() {
	printf '%s' "$A" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["policies"]:
    if p["id"] == sys.argv[1]:
        for e in p["exceptions"]:
            print(e.get("subject") or e.get("account") or e.get("campaign") or "", e["detail"])' "$1"
}
gate() { "$AKASHI" --store "$S" gate "$@" 2>&1; } # decides now: after every fact below

cat >"$T/facts.jsonl" <<'EOF_J'
{"kind":"consent","time":"2026-07-01T00:00:00Z","source":"crm","body":{"subject":"b@example.com","list":"news","action":"opt_in","method":"double_opt_in","proof":{"ip":"192.0.2.1"}}}
{"kind":"consent","time":"2026-07-01T01:00:00Z","source":"crm","body":{"subject":"b@example.com","list":"news","action":"opt_out","method":"one_click"}}
{"kind":"consent","time":"2026-07-01T02:00:00Z","source":"crm","body":{"subject":"b@example.com","list":"news","action":"confirm","proof":{"confirmation_id":"x1"}}}
{"kind":"send","time":"2026-07-05T00:00:00Z","source":"mta","body":{"rcpt":"b@example.com","list":"news","stream":"marketing","status":"sent","campaign":"c1"}}
{"kind":"consent","time":"2026-07-01T00:00:00Z","source":"crm","body":{"subject":"d@example.com","list":"news","action":"opt_in","method":"double_opt_in","proof":{"ip":"192.0.2.1","confirmation_id":"cf-1","confirmed_at":"2026-07-20T00:00:00Z"}}}
{"kind":"send","time":"2026-07-02T00:00:00Z","source":"mta","body":{"rcpt":"d@example.com","list":"news","stream":"marketing","status":"sent","campaign":"c1"}}
{"kind":"send","time":"2026-07-21T00:00:00Z","source":"mta","body":{"rcpt":"d@example.com","list":"news","stream":"marketing","status":"sent","campaign":"c2"}}
{"kind":"consent","time":"2026-07-01T00:00:00Z","source":"crm","body":{"subject":"e@example.com","list":"news","action":"opt_in","method":"double_opt_in","proof":{"ip":"192.0.2.1","confirmation_id":"cf-2"},"confirmed_at":"2026-07-20T00:00:00Z"}}
{"kind":"send","time":"2026-07-02T00:00:00Z","source":"mta","body":{"rcpt":"e@example.com","list":"news","stream":"marketing","status":"sent","campaign":"c1"}}
{"kind":"consent","time":"2026-07-01T00:00:00Z","source":"crm","body":{"subject":"g@example.com","list":"news","action":"opt_in","method":"double_opt_in","proof":{"ip":"192.0.2.1","confirmation_id":"cf-4","confirmed_at":"2099-01-01T00:00:00Z"}}}
{"kind":"admin","time":"2026-01-05T00:00:00Z","source":"idp","body":{"actor":"root@corp","action":"account_create","target":"dave"}}
{"kind":"admin","time":"2026-01-05T00:00:01Z","source":"idp","body":{"actor":"root@corp","action":"role_grant","target":"dave","role":"admin"}}
{"kind":"admin","time":"2026-06-20T00:00:00Z","source":"idp","body":{"actor":"dave","action":"password_change","target":"dave","result":"failure","reason":"password too short"}}
{"kind":"admin","time":"2026-08-01T00:00:00Z","source":"idp","body":{"actor":"dave","action":"login_success","ip":"192.0.2.9"}}
{"kind":"admin","time":"2026-07-01T00:00:00Z","source":"ops","body":{"actor":"bob","action":"approval","campaign":"big","result":"failure","reason":"rejected: wrong list"}}
{"kind":"admin","time":"2026-01-05T00:00:00Z","source":"idp","body":{"actor":"root@corp","action":"account_create","target":"bobby"}}
{"kind":"admin","time":"2026-01-10T00:00:00Z","source":"idp","body":{"actor":"root@corp","action":"account_disable","target":"bobby"}}
{"kind":"admin","time":"2026-02-01T00:00:00Z","source":"idp","body":{"actor":"root@corp","action":"account_enable","target":"bobby"}}
{"kind":"admin","time":"2026-02-01T00:00:01Z","source":"idp","body":{"actor":"root@corp","action":"role_grant","target":"bobby","role":"admin"}}
{"kind":"admin","time":"2026-08-01T00:00:00Z","source":"idp","body":{"actor":"bobby","action":"login_success","ip":"192.0.2.9"}}
{"kind":"admin","time":"2026-01-01T00:00:00Z","source":"idp","body":{"actor":"root@corp","action":"role_grant","target":"gus","role":"admin"}}
{"kind":"admin","time":"2026-03-01T00:00:00Z","source":"idp","body":{"actor":"sec@corp","action":"access_review","target":"gus"}}
{"kind":"admin","time":"2026-07-02T00:00:00Z","source":"idp","body":{"actor":"sec@corp","action":"access_review","target":"gus"}}
EOF_J
check "the facts are ingested" "$AKASHI" --store "$S" ingest "$T/facts.jsonl"
A=$(audit)

# -- a confirm after an opt-out --
out=$(gate --rcpt b@example.com --list news --stream marketing)
like "$out" '"decision":"deny".*opted out of .news.' "gate: a confirm after the opt-out does not subscribe b again"
like "$(exceptions consent-optin-proof)" "^b@example.com send at 2026-07-05T00:00:00Z after the opt-out at 2026-07-01T01:00:00Z" \
	"audit (opt-in proof): the send to b is after its opt-out, as the deadline control says"
like "$(exceptions consent-unsubscribe-deadline)" "^b@example.com " "audit (unsubscribe deadline): the same send"

# -- a confirmation written into the opt-in, dated after the send --
like "$(exceptions consent-optin-proof)" "d@example.com send at 2026-07-02T00:00:00Z rests on a double_opt_in opt-in .* not confirmed before the send" \
	"audit: a send before the opt-in's own confirmed_at is unconfirmed (in proof)"
like "$(exceptions consent-optin-proof)" "e@example.com send at 2026-07-02T00:00:00Z rests on a double_opt_in opt-in" \
	"... and with confirmed_at beside the proof"
unlike "$(exceptions consent-optin-proof)" "send at 2026-07-21" "the send after the confirmation passes"
like "$(gate --rcpt g@example.com --list news --stream marketing)" '"decision":"deny".*not confirmed yet' \
	"gate: before its confirmed_at (here still to come), not confirmed yet"
like "$(gate --rcpt d@example.com --list news --stream marketing)" '"decision":"allow"' \
	"gate: after it, allowed"

# -- failed admin actions --
like "$(gate --rcpt x@example.com --list news --stream transactional --campaign big --campaign-size 50000 --owner alice)" \
	'"decision":"deny".*approv' "gate: a rejected approval does not approve a mass send"
like "$(exceptions password-rotation)" "^dave .*2026-01-05" \
	"audit: a refused password change does not renew the password (counted from the account's creation)"
unlike "$(exceptions password-rotation)" "2026-06-20" "... and the failed change is not cited"

# -- disabled once, enabled again, then made an admin --
like "$(exceptions access-review)" "^bobby privileged account not reviewed" \
	"audit: an account enabled again after a disable is in the review population"
like "$(exceptions password-rotation)" "^bobby " "... and in the password one"

# -- two gaps between reviews in one period --
is "$(exceptions access-review | grep -c '^gus privileged account not reviewed')" "2" \
	"audit: each review gap is an exception (03-01 to 07-02, and 07-02 to the period's end)"
done_testing
