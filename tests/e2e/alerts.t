#!/usr/bin/env bash
# akashi alerts replay: a store filled with native JSON Lines (a brute force
# from one address, a spray, a privileged login from a new address at 03:00
# in Tokyo, a mass send without approval and one with it) gives exactly the
# alerts those should, citing exactly their entries; --rules tunes them;
# nothing is appended.
. "$(dirname "$0")/lib/tap.sh"
S=$T/s
new_store "$S"

python3 - >"$T/in.jsonl" <<'P'
import json, datetime
def e(t, kind, body):
    print(json.dumps({"kind": kind, "time": t, "source": "test", "body": body}))
def at(base, seconds):
    b = datetime.datetime.fromisoformat(base.replace("Z", "+00:00"))
    return (b + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
# 1-3: a login from a known address before root was privileged, the grant, an approval
e("2026-06-01T01:00:00Z", "admin", {"actor": "root", "action": "login_success", "ip": "192.0.2.10"})
e("2026-06-15T00:00:00Z", "admin", {"actor": "sec", "action": "role_grant", "target": "root", "role": "admin"})
e("2026-06-30T00:00:00Z", "admin", {"actor": "suzuki", "action": "approval", "campaign": "autumn"})
# 4-11: 8 failures for tanaka from one address in 77 s
for i in range(8):
    e(at("2026-07-01T00:00:00Z", 11 * i), "admin", {"actor": "tanaka", "action": "login_failure", "ip": "203.0.113.66"})
# 12-21: 10 accounts failing from one address, 3 min apart
for i in range(10):
    e(at("2026-07-01T02:00:00Z", 180 * i), "admin", {"actor": "user%02d" % i, "action": "login_failure", "ip": "198.51.100.23"})
# 22: root from its known address at 10:00 JST; 23: from a new one at 03:00 JST
e("2026-07-01T01:00:00Z", "admin", {"actor": "root", "action": "login_success", "ip": "192.0.2.10"})
e("2026-07-01T18:00:00Z", "admin", {"actor": "root", "action": "login_success", "ip": "192.0.2.77"})
# 24-10023: campaign summer, 10,000 recipients, no approval
for i in range(10000):
    e(at("2026-07-02T00:00:00Z", i / 100), "send", {"rcpt": "s%05d@example.jp" % i, "status": "sent", "campaign": "summer", "owner": "sato", "from": "news@example.jp"})
# 10024-20023: campaign autumn, 10,000 recipients, approved by suzuki
for i in range(10000):
    e(at("2026-07-03T00:00:00Z", i / 100), "send", {"rcpt": "a%05d@example.jp" % i, "status": "sent", "campaign": "autumn", "owner": "sato", "from": "news@example.jp"})
P
check "ingest the history" "$AKASHI" --store "$S" ingest "$T/in.jsonl"
before=$("$AKASHI" --store "$S" log | wc -l)

replay() { "$AKASHI" --store "$S" alerts replay "$@"; }
# "rule key refs" per alert line, summaries apart.
digest() {
	python3 -c '
import json, sys
for l in sys.stdin:
    a = json.loads(l)
    if "summary" in a and isinstance(a["summary"], dict):
        continue
    r = a["refs"]
    refs = ",".join(map(str, r)) if len(r) <= 10 else "%d..%d(%d)" % (r[0], r[-1], len(r))
    print(a["rule"], a["key"], refs)
'
}

out=$(replay --from 2026-06-01T00:00:00Z --to 2026-08-01T00:00:00Z); st=$?
is "$st" "0" "replay succeeds"
is "$(printf '%s\n' "$out" | digest)" "login.bruteforce_src 203.0.113.66 4,5,6,7,8,9,10,11
login.spray_src 198.51.100.23 12,13,14,15,16,17,18,19,20,21
login.new_address_privileged root 23
login.off_hours_privileged root 23
send.mass_unapproved summer 24,10023" "exactly the expected rules fire, in time order, citing their entries"
like "$out" '"summary":"8 failed logins for tanaka from 203.0.113.66 in 1 min 17 s"' "the brute force says what happened"
like "$out" '"window":\{"from":"2026-07-01T00:00:00Z","to":"2026-07-01T00:01:17Z"\}' "with its window in event time"
like "$out" '"summary":"privileged account root \(admin\) logged in from 192.0.2.77 at Thu 03:00 Asia/Tokyo, outside business hours"' "the off-hours login is read in Tokyo time"
like "$out" '"severity":"medium","summary":"privileged account root \(admin\) logged in from 192' "off hours is a medium"
like "$out" '"rule":"send.mass_unapproved","severity":"high","summary":"campaign summer reached 10000 recipients with no approval by anyone but its owner sato"' "the unapproved mass send names campaign and owner"
like "$out" '\{"summary":\{"alerts":1,"enabled":true,"rule":"login.bruteforce_src","suppressed":0\}\}' "a summary line per rule"
is "$(printf '%s\n' "$out" | grep -c '^{"summary":{')" "10" "ten rules summed up"
is "$(printf '%s\n' "$out" | python3 -c '
import json, sys
bad = 0
for l in sys.stdin:
    l = l.rstrip("\n")
    a = json.loads(l)
    if "rule" in a:
        canon = json.dumps(a, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        bad += canon != l
print(bad)')" "0" "each alert line is a canonical alert entry body"
is "$("$AKASHI" --store "$S" log | wc -l)" "$before" "replay appends nothing"

out=$(replay --from 2026-07-01T00:01:00Z --to 2026-07-01T23:00:00Z | digest)
is "$out" "login.spray_src 198.51.100.23 12,13,14,15,16,17,18,19,20,21
login.new_address_privileged root 23
login.off_hours_privileged root 23" "only the entries of the period are seen"

cat >"$T/rules.json" <<'J'
{"send.mass_unapproved": {"threshold": 20000},
 "login.spray_src": {"threshold": 11},
 "login.off_hours_privileged": {"business_hours": "00:00-24:00 Mon-Sun"},
 "login.bruteforce_src": {"threshold": 3, "window": "25s", "severity": "critical"}}
J
out=$(replay --from 2026-06-01T00:00:00Z --to 2026-08-01T00:00:00Z --rules "$T/rules.json")
is "$(printf '%s\n' "$out" | digest)" "login.bruteforce_src 203.0.113.66 4,5,6
login.new_address_privileged root 23" "--rules tunes thresholds, windows and hours"
like "$out" '"refs":\[4,5,6\],"rule":"login.bruteforce_src","severity":"critical"' "and severities"
like "$out" '"rule":"login.bruteforce_src","suppressed":5' "the rest of the burst, inside the suppression, is counted, not alerted"

printf '{"login.bruteforce_src": {"treshold": 5}}\n' >"$T/bad.json"
out=$(replay --from 2026-06-01T00:00:00Z --to 2026-08-01T00:00:00Z --rules "$T/bad.json" 2>&1); st=$?
is "$st" "1" "a bad rules file fails"
like "$out" "bad.json: alerts.json: login.bruteforce_src: unknown key 'treshold'" "naming the file, rule and key"
printf '{"login.bruteforce_src": {"threshold": 5},}\n' >"$T/bad2.json"
out=$(replay --from 2026-06-01T00:00:00Z --to 2026-08-01T00:00:00Z --rules "$T/bad2.json" 2>&1)
like "$out" "bad2.json:1:" "JSON syntax errors name the line"
out=$("$AKASHI" --store "$S" alerts replay --from yesterday --to 2026-08-01T00:00:00Z 2>&1); st=$?
is "$st" "2" "a bad time is a usage error"
like "$out" "--from 'yesterday'" "naming the option"
out=$("$AKASHI" --store "$S" alerts --from 2026-06-01T00:00:00Z --to 2026-08-01T00:00:00Z 2>&1); st=$?
is "$st" "2" "alerts without replay is a usage error"
fails "--to before --from" "$AKASHI" --store "$S" alerts replay --from 2026-08-01T00:00:00Z --to 2026-06-01T00:00:00Z

# Replay judges history by the daemon's settings, not by built-in
# defaults: with timezone = UTC, root's login at 01:00Z (10:00 in Tokyo) is
# outside business hours too.
out=$("$AKASHI" --store "$S" --set timezone=UTC alerts replay --from 2026-07-01T00:00:00Z --to 2026-07-02T00:00:00Z)
like "$out" 'logged in from 192.0.2.10 at Wed 01:00 UTC, outside business hours' \
	"replay takes the configured time zone, as the daemon does"
unlike "$(replay --from 2026-07-01T00:00:00Z --to 2026-07-02T00:00:00Z)" 'from 192.0.2.10 at' \
	"... and the default (Asia/Tokyo) without it"
# Policies that do not load leave the daemon on its defaults; replay too,
# saying so, and --rules still tunes it.
out=$("$AKASHI" --store "$S" --set policies.repo="$T/no-such-repo" alerts replay \
	--from 2026-06-01T00:00:00Z --to 2026-08-01T00:00:00Z --rules "$T/rules.json" 2>&1); st=$?
is "$st" 0 "replay with --rules when the policies do not load"
like "$out" "warning: alerts replay: no policies" "... saying it runs without them"

done_testing
