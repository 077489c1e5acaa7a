#!/usr/bin/env bash
# akashi demo end to end: the demo runs twice (in two directories, and
# once more over its own store), every problem its data plants is found by
# the audit under the right policy, the alert replay fires on the brute
# force, the bundle verifies, the report is there, and the generated
# records are the same on every run.
. "$(dirname "$0")/lib/tap.sh"

out=$("$AKASHI" demo --dir "$T/a" 2>&1)
st=$?
is "$st" 0 "demo exits 0"
unlike "$out" 'Sanitizer|runtime error' "no sanitizer report"
like "$out" 'akashi demo: done\.' "the demo ends with its summary"
like "$out" "report +$T/a/report-2026Q3\.html" "the summary names the HTML report"
like "$out" "$T/a/report-2026Q3\.json" "the summary names the JSON report"
like "$out" "bundle +$T/a/bundle-hanako\.yamada_example\.ne\.jp\.zip" "the summary names the bundle"
like "$out" "ingest --kind send --format postfix --year 2026 --zone Asia/Tokyo $T/a/samples/maillog" \
	"the maillog goes through the Postfix adapter"
like "$out" "ingest --kind consent --format csv" "the consent goes through the CSV adapter"
like "$out" "ingest --kind admin --format ocsf" "the admin events go through the OCSF adapter"
like "$out" "ingest --kind dmarc $T/a/samples/dmarc/\*" "the DMARC reports go through their adapter"
unlike "$out" '[1-9][0-9]* rejected' "no input is rejected"
like "$out" '"decision":"allow"' "one gate decision allows"
like "$out" '"decision":"deny".*opted out' "the other is refused for the opt-out"
check "the samples hold a gzip report" \
	sh -c "ls '$T/a/samples/dmarc/' | grep -q '\.xml\.gz$'"
check "the samples hold the built-in real reports" test -s "$T/a/samples/dmarc/mailru.eml"

S=$T/a/store
audit=$("$AKASHI" --store "$S" audit --quarter 2026Q3 --json --no-record)
check "audit --json succeeds" test -n "$audit"
# policy what who: each planted problem, an exception of that policy.
while read -r policy what who; do
	got=$(printf '%s' "$audit" | python3 -c '
import json, sys
r = json.load(sys.stdin)
policy, what, who = sys.argv[1:]
print(sum(1 for p in r["policies"] if p["id"] == policy
          for e in p["exceptions"] if e.get(what) == who))' "$policy" "$what" "$who")
	is "$got" 1 "$policy finds $who"
done <<'E'
consent-unsubscribe-deadline subject hanako.yamada@example.ne.jp
consent-optin-proof subject hanako.yamada@example.ne.jp
consent-optin-proof subject taro.kimura@example.com
consent-optin-proof subject keiko.inoue@example.or.jp
access-review account suzuki@example.jp
password-rotation account sato@example.jp
send-mass-approval campaign tos-update-2026-08
dmarc-alignment domain example.co.jp
E
total=$(printf '%s' "$audit" | python3 -c '
import json, sys
print(sum(len(p["exceptions"]) for p in json.load(sys.stdin)["policies"]))')
is "$total" 8 "nothing but the planted problems is found"
recorded=$("$AKASHI" --store "$S" log --kind finding | wc -l)
is "$recorded" 8 "the demo recorded each finding once"

alerts=$("$AKASHI" --store "$S" alerts replay --from 2026-07-01T00:00:00Z --to 2026-10-01T00:00:00Z)
like "$alerts" '"rule":"login.bruteforce_src".*"summary":"8 failed logins for tanaka@example.jp from 203.0.113.66' \
	"the replay fires login.bruteforce_src"
like "$alerts" '"key":"tanaka@example.jp".*"rule":"login.fail_then_success"' \
	"the replay fires login.fail_then_success"
like "$alerts" '"key":"tos-update-2026-08".*"rule":"send.mass_unapproved"' \
	"the replay fires send.mass_unapproved"

B=$T/a/bundle-hanako.yamada_example.ne.jp.zip
check "verify-bundle passes" "$AKASHI" verify-bundle "$B"
mkdir "$T/x"
(cd "$T/x" && unzip -q "$B")
check "sha256sum -c passes in the bundle" \
	sh -c "cd '$T/x/bundle-hanako.yamada_example.ne.jp' && sha256sum -c --quiet MANIFEST.sha256"
check "verify.py passes in the bundle" \
	sh -c "cd '$T/x/bundle-hanako.yamada_example.ne.jp' && python3 verify.py"

H=$T/a/report-2026Q3.html
check "the HTML report is over 20 kB" test "$(wc -c <"$H")" -gt 20000
check "the HTML report names a planted finding" grep -q 'tos-update-2026-08' "$H"
check "the JSON report is JSON" python3 -c 'import json, sys; json.load(open(sys.argv[1]))' \
	"$T/a/report-2026Q3.json"

# The same records on every run: kind, time and body of what was ingested,
# and the findings (without the policy commit, which `akashi init` makes
# anew each time, and which the delivery engine's records name too).
check "a second demo in another directory" "$AKASHI" demo --dir "$T/b"
facts() {
	"$AKASHI" --store "$1" log | python3 -c '
import json, sys
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k != "policy_commit"}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
for line in sys.stdin:
    e = json.loads(line)
    if e["kind"] in ("checkpoint", "system"):
        continue
    print(e["kind"], e["time"], json.dumps(strip(e["body"]), sort_keys=True, ensure_ascii=False))'
}
facts "$T/a/store" >"$T/a.facts"
facts "$T/b/store" >"$T/b.facts"
check "the runs hold over 40,000 records" test "$(wc -l <"$T/a.facts")" -gt 40000
check "both runs record the same entries" cmp "$T/a.facts" "$T/b.facts"
check "the sample files are the same but for the policy commit" \
	sh -c "cd '$T' && diff -r -q -x akashi-delivery.jsonl a/samples b/samples"

# Again over its own store; but never over a store it did not make.
check "the demo runs again over its own store" "$AKASHI" demo --dir "$T/a"
is "$("$AKASHI" --store "$S" log --kind finding | wc -l)" 8 "the rerun starts from a fresh store"
mkdir -p "$T/c"
new_store "$T/c/store"
fails "the demo refuses a store it did not make" "$AKASHI" demo --dir "$T/c"
check "and leaves it alone" test -s "$T/c/store/akashi.db"

done_testing
