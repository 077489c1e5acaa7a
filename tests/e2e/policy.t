#!/usr/bin/env bash
# Policies as code, end to end: akashi init makes a git repository of the
# shipped set; people change it through a clone and push; policy show,
# history and lint read commits (never a work tree) with the git CLI as the
# independent witness of what was committed.
. "$(dirname "$0")/lib/tap.sh"

export GIT_CONFIG_NOSYSTEM=1 HOME=$T/home
mkdir -p "$HOME"
git config --global user.name "Alice Admin"
git config --global user.email alice@example.com
git config --global init.defaultBranch main
git config --global advice.detachedHead false

# contains GOT TEXT DESC: GOT holds TEXT verbatim (lines and all; like()
# greps line by line).
contains() {
	case "$1" in
	*"$2"*) _result 0 "$3" ;;
	*) _result 1 "$3" "got:  $1
want to contain: $2" ;;
	esac
}

S=$T/s
P=$S/policies
out=$("$AKASHI" --store "$S" init --origin test.example/log)
like "$out" "policies $P at [0-9a-f]{40} \(9 policies\)" "init makes the policy repository and says so"
is "$(git -C "$P" rev-parse --is-bare-repository)" "true" "it is a bare repository (edited through clones)"
is "$(git -C "$P" rev-list --count HEAD)" "1" "with one commit"
is "$(git -C "$P" symbolic-ref HEAD)" "refs/heads/main" "on main"
is "$(git -C "$P" ls-tree --name-only HEAD | wc -l)" "9" "holding one file per control"
first=$(git -C "$P" rev-parse HEAD)

# show: the policies in force and their commit
out=$("$AKASHI" --store "$S" policy show)
like "$out" "^policies at $first \(HEAD of $P\), 9 in force" "show names the commit"
for id in consent-optin-proof consent-unsubscribe-deadline consent-proof-retention \
	access-review password-rotation send-mass-approval message-unsubscribe-headers \
	dmarc-alignment send-suppression; do
	contains "$out" "
$id
  title     " "show lists $id"
done
like "$out" "threshold = 10000" "defaults are filled in"
contains "$out" "
send-mass-approval
  title     A campaign to 10,000 recipients or more was approved by a second person before its first send
  control   send.mass_approval
  gate      yes
  severity  high
  cites     Four-eyes rule against mis-sends (internal control)
  scope     everything
  params    threshold = 10000
  file      send-mass-approval.json
" "each with title, control, gate, severity, cites, scope, parameters and file"
"$AKASHI" --store "$S" policy show --json >"$T/show.json"
is "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
p = {x["id"]: x for x in d["policies"]}
print(d["commit"], len(p), p["send-mass-approval"]["params"]["threshold"],
      p["consent-optin-proof"]["gate"], p["access-review"]["gate"],
      sorted(p["password-rotation"]["params"]))' "$T/show.json")" \
	"$first 9 10000 True False ['compromise_deadline', 'exempt_mfa', 'max_age', 'profile']" \
	"show --json gives the commit and every policy with its parameters"

# A change through a clone, by another person.
git clone -q "$P" "$T/clone"
(
	cd "$T/clone" &&
		sed -i 's/"gate": true,/"gate": true,\n  "params": {"threshold": 20000},/' send-mass-approval.json &&
		git -c user.name="Bob Ops" -c user.email=bob@example.com commit -qam "Approve from 20,000 recipients" &&
		git push -q origin main
) >"$T/push.log" 2>&1
is "$?" "0" "a clone can change a policy and push it back"
second=$(git -C "$P" rev-parse HEAD)
out=$("$AKASHI" --store "$S" policy show)
like "$out" "^policies at $second " "show follows the new commit"
like "$out" "threshold = 20000" "and its parameters"
like "$("$AKASHI" --store "$S" policy show --ref "$first")" "threshold = 10000" "show --ref reads an older commit"
like "$("$AKASHI" --store "$S" policy show --ref HEAD~1)" "^policies at $first \(HEAD~1 of" "show --ref names the ref"
out=$("$AKASHI" --store "$S" policy history)
is "$(printf '%s\n' "$out" | head -2)" "commit $second
Author: Bob Ops <bob@example.com>" "history starts with the newest commit and who made it"
like "$(printf '%s\n' "$out" | sed -n 3p)" '^Date:   [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "when"
is "$(printf '%s\n' "$out" | sed -n 4,8p)" "
    Approve from 20,000 recipients

    M  send-mass-approval.json  send-mass-approval" "what for, and which policy it changed"
contains "$out" "commit $first
Author: akashi <akashi@localhost>" "and the first commit, by akashi init"
like "$out" "    A  access-review.json  access-review" "which added the policies"
is "$("$AKASHI" --store "$S" policy history --ref HEAD~1 | grep -c '^commit ')" "1" "history --ref starts from that ref"
is "$(cd "$T/clone" && "$AKASHI" policy lint .)" "ok: 9 policies at $second" "lint . checks HEAD of a clone"
check "lint passes on the shipped set" "$AKASHI" --store "$S" policy lint
is "$("$AKASHI" --store "$S" policy lint)" "ok: 9 policies at $second" "and says how many at which commit"

# A broken commit: lint names every error by file, line and column.
(
	cd "$T/clone" &&
		cat >send-mass-approval.json <<'J' &&
{
  "id": "send-mass-approval",
  "title": "Big campaigns need a second person",
  "control": "send.mass_approval",
  "params": {"threshold": "many", "limit": 5},
  "gate": true,
  "severity": "severe"
}
J
		printf '{"id": "dmarc-alignment", "title": "x",\n "control": "dmarc.alignment",\n "params": {"warn_below": 0.9}}\n' >zz-dmarc.json &&
		git add -A && git commit -qm "Break two files" && git push -q origin main
) >"$T/push.log" 2>&1
out=$("$AKASHI" --store "$S" policy lint)
st=$?
is "$st" "1" "lint exits 1 on errors"
is "$out" "send-mass-approval.json:5:27: params.threshold: expected an integer >= 0, not a string
send-mass-approval.json:5:35: params.limit: not a parameter of send.mass_approval (its parameters: threshold)
send-mass-approval.json:7:15: severity: 'severe' is not one of info, low, medium, high, critical
zz-dmarc.json:3:27: floating-point number not allowed (write it as a string)
4 errors" "lint prints each error as FILE:LINE:COL: message, then the count"
fails "show refuses a broken commit" "$AKASHI" --store "$S" policy show
like "$("$AKASHI" --store "$S" policy show 2>&1)" "akashi: policy: send-mass-approval.json:5:27: params.threshold" \
	"and names the first error"
check "lint REPO@REF checks an older commit" "$AKASHI" policy lint "$P@$second"
is "$("$AKASHI" policy lint "$P@HEAD~1")" "ok: 9 policies at $second" "with the ref after the last @"
is "$("$AKASHI" --store "$S" policy lint @HEAD~2)" "ok: 9 policies at $first" "and @REF alone uses the configured repository"
check "show --set policies.ref pins the policies in force" "$AKASHI" --store "$S" --set policies.ref="$second" policy show
fails "lint of a ref that does not exist fails" "$AKASHI" --store "$S" policy lint "$P@nope"
like "$("$AKASHI" policy lint "$P@nope" 2>&1)" "no commit 'nope'" "and says so"
fails "lint of a directory that is no repository fails" "$AKASHI" policy lint "$T/home"

# init --policies REPO: an existing repository with a work tree.
R=$T/repo
git init -q "$R"
cp "$T/clone/access-review.json" "$T/clone/password-rotation.json" "$R/"
git -C "$R" add -A
git -C "$R" commit -qm "Our two policies"
rcommit=$(git -C "$R" rev-parse HEAD)
out=$("$AKASHI" --store "$T/s2" init --policies "$R")
like "$out" "policies $R at $rcommit \(2 policies, recorded in akashi.conf\)" "init --policies uses an existing repository"
contains "$(cat "$T/s2/akashi.conf")" "
policies.repo = $R" "and records it in <store>/akashi.conf"
is "$(test -e "$T/s2/policies" && echo made || echo none)" "none" "without making one of its own"
like "$("$AKASHI" --store "$T/s2" config)" "policies.repo += $R +\(set\)" "config shows the recorded repository"
is "$("$AKASHI" --store "$T/s2" policy show | head -1)" "policies at $rcommit (HEAD of $R), 2 in force" "show reads it"

# The work tree is never read: uncommitted and staged edits change nothing.
sed -i 's/"severity": "medium"/"severity": "critical"/' "$R/access-review.json"
printf '{"id": 1.5}\n' >"$R/broken.json"
git -C "$R" add broken.json
out=$("$AKASHI" --store "$T/s2" policy show)
like "$out" "^policies at $rcommit " "an uncommitted edit does not move the commit"
unlike "$out" "critical" "nor change a policy"
is "$("$AKASHI" --store "$T/s2" policy lint)" "ok: 2 policies at $rcommit" "and a staged broken file is not linted"
git -C "$R" commit -qam "Make reviews critical"
like "$("$AKASHI" --store "$T/s2" policy lint)" "^broken.json:1:8: floating-point number not allowed" "once committed, it is"

# A repository that does not load makes no store.
fails "init --policies refuses a broken repository" "$AKASHI" --store "$T/s3" init --policies "$R"
like "$("$AKASHI" --store "$T/s3" init --policies "$R" 2>&1)" "akashi: init: --policies $R: broken.json:1:8: floating-point" "naming the error"
is "$(test -e "$T/s3" && echo made || echo none)" "none" "and no store is made"
fails "init --policies refuses a directory that is no repository" "$AKASHI" --store "$T/s4" init --policies "$T/home"
fails "init --policies refuses a missing path" "$AKASHI" --store "$T/s4" init --policies "$T/nothere"

# The store's akashi.conf ranks under --set and --config.
printf 'policies.ref = %s\n' "$first" >"$T/over.conf"
like "$("$AKASHI" --store "$S" --config "$T/over.conf" policy show)" "^policies at $first " "--config overrides akashi.conf and the defaults"
printf 'store = /elsewhere\n' >>"$T/s2/akashi.conf"
fails "a store's akashi.conf cannot move the store" "$AKASHI" --store "$T/s2" policy show

# alerts.json is the daemon's, and lint checks it too.
(
	cd "$T/clone" && git reset -q --hard "$second" &&
		printf '{"login.bruteforce_src":{"treshold":5}}\n' >alerts.json &&
		git add alerts.json &&
		git -c user.name=Sec -c user.email=sec@example.com commit -qm "Tune alerts" &&
		git push -q -f origin main
) >"$T/push.log" 2>&1
out=$("$AKASHI" --store "$S" policy lint 2>&1); st=$?
is "$st" "1" "lint refuses a bad alerts.json"
like "$out" "login.bruteforce_src: unknown key 'treshold'" "naming the rule and the key"

# A time zone the system does not know would fail every audit of the
# commit: lint refuses it, at its place.
(
	cd "$T/clone" && git reset -q --hard "$second" &&
		sed -i 's|"profiles": \["jp", "gmail", "can-spam", "casl"\]|"profiles": ["can-spam"], "timezone": "Asia/Tokio"|' \
			consent-unsubscribe-deadline.json &&
		git -c user.name=Sec -c user.email=sec@example.com commit -qam "Zone" &&
		git push -q -f origin main
) >"$T/push.log" 2>&1
out=$("$AKASHI" --store "$S" policy lint 2>&1); st=$?
is "$st" "1" "lint refuses an unknown time zone"
like "$out" "consent-unsubscribe-deadline.json:6:[0-9]+: params.timezone: 'Asia/Tokio' is not a time zone this system knows" \
	"naming the file, line and parameter"

fails "policy without a subcommand is a usage error" "$AKASHI" --store "$S" policy
fails "an unknown policy subcommand is a usage error" "$AKASHI" --store "$S" policy frob
done_testing
