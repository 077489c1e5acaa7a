#!/usr/bin/env bash
# Evidence bundles end to end: export by subject, campaign, account, query,
# time range and seq range from a store of realistic records; akashi
# verify-bundle passes; the expert's steps from VERIFY.md, run literally on
# the unpacked archive (sha256sum -c, openssl pkeyutl, python3 verify.py),
# pass; every kind of tampering makes both verify-bundle and verify.py fail
# and name the problem; the export is itself recorded in the log.
. "$(dirname "$0")/lib/tap.sh"

S=$T/s
new_store "$S"
cat >"$T/day1.jsonl" <<'J'
{"kind":"consent","time":"2026-07-01T09:00:00+09:00","source":"api:crm","body":{"subject":"Taro@Example.JP","list":"ニュースレター","action":"opt_in","method":"double_opt_in","proof":{"ip":"192.0.2.1","user_agent":"Mozilla/5.0","form_url":"https://www.example.jp/signup","form_hash":"sha256:7f1c"}}}
{"kind":"consent","time":"2026-07-01T01:00:00Z","source":"api:crm","body":{"subject":"hanako@example.jp","list":"ニュースレター","action":"opt_in","method":"single_opt_in","proof":{"ip":"192.0.2.2"}}}
{"kind":"admin","time":"2026-07-01T02:00:00Z","source":"sso:okta","body":{"actor":"alice","action":"login_success","ip":"203.0.113.5","result":"success"}}
{"kind":"admin","time":"2026-07-01T02:05:00Z","source":"console","body":{"actor":"alice","action":"approval","target":"summer-sale","result":"success","details":{"campaign":"summer-sale","recipients":25000}}}
{"kind":"send","time":"2026-07-02T00:00:00Z","source":"mta:out1","body":{"message_id":"<1@mail.example.jp>","campaign":"summer-sale","stream":"marketing","from":"news@example.jp","rcpt":"taro@example.jp","status":"sent","dsn":"2.0.0"}}
{"kind":"send","time":"2026-07-02T00:00:01Z","source":"mta:out1","body":{"message_id":"<2@mail.example.jp>","campaign":"summer-sale","stream":"marketing","from":"news@example.jp","rcpt":"hanako@example.jp","status":"bounced","dsn":"5.1.1"}}
J
cat >"$T/day2.jsonl" <<'J'
{"kind":"admin","time":"2026-07-03T00:00:00Z","source":"sso:okta","body":{"actor":"bob","action":"role_grant","target":"alice","role":"admin","result":"success"}}
{"kind":"send","time":"2026-07-03T01:00:00Z","source":"mta:out2","body":{"message_id":"<3@mail.example.jp>","campaign":"autumn","stream":"marketing","from":"news@example.jp","rcpt":"list@example.jp","orig_to":"TARO@example.jp","status":"sent","dsn":"2.0.0"}}
{"kind":"alert","time":"2026-07-03T02:00:00Z","source":"akashi","body":{"rule":"mass_send","severity":"low","summary":"taro@example.jp got 2 mails in a day","refs":[5,8]}}
{"kind":"consent","time":"2026-07-04T00:00:00Z","source":"web","body":{"subject":"taro@example.jp","list":"ニュースレター","action":"opt_out","method":"one_click"}}
{"kind":"admin","time":"2026-07-04T03:00:00Z","source":"sso:okta","body":{"actor":"mallory","action":"login_failure","ip":"198.51.100.66","result":"failure"}}
J
"$AKASHI" --store "$S" ingest "$T/day1.jsonl" >/dev/null
"$AKASHI" --store "$S" checkpoint >/dev/null                 # size 6
"$AKASHI" --store "$S" ingest "$T/day2.jsonl" >/dev/null     # seqs 8-12
"$AKASHI" --store "$S" checkpoint >/dev/null                 # size 12

seqs() { # seqs BUNDLE: the seqs in its entries.jsonl, space-separated
	python3 - "$1" <<'P'
import sys, tarfile, zipfile, json
p = sys.argv[1]
if p.endswith(".zip"):
    z = zipfile.ZipFile(p); data = z.read([n for n in z.namelist() if n.endswith("/entries.jsonl")][0])
else:
    t = tarfile.open(p); data = t.extractfile([m for m in t.getmembers() if m.name.endswith("/entries.jsonl")][0]).read()
print(" ".join(str(json.loads(l)["seq"]) for l in data.splitlines()))
P
}

export_ok() { # export_ok DESC FILE WANT_SEQS ARGS...: export, verify, check the seqs
	local desc=$1 file=$2 want=$3 out
	shift 3
	out=$("$AKASHI" --store "$S" export "$@" --reason "$desc" -o "$T/$file" 2>&1)
	_result $? "export $desc" "$out"
	out=$("$AKASHI" verify-bundle "$T/$file" 2>&1)
	like "$out" '^ok: ' "verify-bundle passes: $desc"
	is "$(seqs "$T/$file")" "$want" "$desc: exactly the entries expected"
}

export_ok "by subject, any case" subject.zip "1 5 9 11" --subject TARO@example.jp
export_ok "by campaign" campaign.tar.gz "4 5 6" --campaign summer-sale
export_ok "by account (actor or target)" account.zip "3 4 8" --account alice
export_ok "by full-text query and kind" query.tar.gz "12" --query 198.51.100.66 --kind admin
export_ok "by time range" time.zip "8 9 10" --from 2026-07-03 --to 2026-07-04T00:00:00Z
export_ok "by subject within a period" subject-period.zip "11" --subject taro@example.jp --from 2026-07-04
export_ok "by seq range" range.tar.gz "$(seq -s ' ' 2 11)" --seq 2-11
like "$("$AKASHI" verify-bundle "$T/range.tar.gz")" 'entries seq 2-11, all 10 of them' \
	"verify-bundle says the range is complete"
like "$("$AKASHI" verify-bundle "$T/subject.zip")" '1 earlier checkpoint consistent' \
	"the earlier checkpoint is proven consistent"
like "$("$AKASHI" verify-bundle "$T/range.tar.gz")" '[2-9] earlier checkpoints consistent' \
	"so are all earlier ones, the exports' own included"

# search grows the legal filters and --export.
is "$("$AKASHI" --store "$S" search --subject taro@example.jp --until 2026-07-03 | grep -o '"seq":[0-9]*' | tr '\n' ' ')" \
	'"seq":1 "seq":5 ' "search --subject --until"
is "$("$AKASHI" --store "$S" search --since 2026-07-04 --kind admin | grep -c seq)" "1" "search --since --kind"
is "$("$AKASHI" --store "$S" search --subject taro@example.jp --limit 2 | grep -c seq)" "2" "search --subject --limit"
check "search --subject --export makes a bundle" "$AKASHI" --store "$S" search --subject hanako@example.jp \
	--export "$T/search.zip" --reason "DSAR hanako"
is "$(seqs "$T/search.zip")" "2 6" "it holds what the search finds"
check "and it verifies" "$AKASHI" verify-bundle "$T/search.zip"
fails "search --export needs --reason" "$AKASHI" --store "$S" search --subject x@example.jp --export "$T/n.zip"

# Refusals.
fails "export needs --reason" "$AKASHI" --store "$S" export --subject taro@example.jp -o "$T/x.zip"
fails "export needs a selection" "$AKASHI" --store "$S" export --reason r -o "$T/x.zip"
fails "export wants .zip or .tar.gz" "$AKASHI" --store "$S" export --seq 1-2 --reason r -o "$T/x.tar"
out=$("$AKASHI" --store "$S" export --seq 1-2 --reason r -o "$T/subject.zip" 2>&1)
like "$out" "refusing to overwrite" "export never replaces a file"
fails "a seq range beyond the log fails" "$AKASHI" --store "$S" export --seq 5-999 --reason r -o "$T/x.zip"
fails "a malformed seq range fails" "$AKASHI" --store "$S" export --seq 5- --reason r -o "$T/x.zip"
is "$(ls -a "$T" | grep -c '^\.x\|tmp-\|spool-')" "0" "nothing half-written is left behind"
is "$(stat -c %a "$T/subject.zip")" "600" "bundles are mode 0600"

# Every export is on record: a system entry with the archive's SHA-256.
sha=$(sha256sum "$T/subject.zip" | cut -d' ' -f1)
rec=$("$AKASHI" --store "$S" log --kind system | grep "\"sha256\":\"$sha\"")
like "$rec" '"event":"export".*"reason":"by subject, any case"' "the export is a system entry with the bundle's hash"
like "$rec" '"counts":\{"by_kind":\{"consent":2,"send":2\},"entries":4\}' "with its counts"
is "$("$AKASHI" --store "$S" log --kind system | grep -c '"event":"export"')" "8" "one entry per export"
check "the store still verifies" "$AKASHI" --store "$S" verify

# The expert's steps, literally as VERIFY.md gives them.
steps() { # steps DIR: run VERIFY.md's shell blocks in DIR; print their output
	(cd "$1" && for b in manifest signatures proofs; do
		awk -v want="name=$b" '/^```/ && inb { inb = 0; next }
			/^```/ { for (i = 2; i <= NF; i++) if ($i == want) inb = 1; next }
			inb { print }' VERIFY.md >"$T/step.sh"
		sh "$T/step.sh" 2>&1 || echo "STEP $b FAILED"
	done)
}
mkdir -p "$T/x1" "$T/x2"
(cd "$T/x1" && unzip -q "$T/subject.zip")
tar xzf "$T/range.tar.gz" -C "$T/x2"
for d in "$T/x1/subject" "$T/x2/range"; do
	out=$(steps "$d")
	unlike "$out" "FAILED|Failure" "expert's steps pass on $(basename "$d")"
	like "$out" "entries.jsonl: OK" "sha256sum -c checks the entries ($(basename "$d"))"
	like "$out" "checkpoint: Signature Verified Successfully" "openssl verifies the checkpoint ($(basename "$d"))"
	like "$out" "checkpoints/6: Signature Verified Successfully" "and the earlier ones ($(basename "$d"))"
	like "$out" "verify.py: ok: " "verify.py passes ($(basename "$d"))"
done
check "verify.py is under 250 lines" test "$(wc -l <"$T/x1/subject/verify.py")" -lt 250

# ---- tampering ----
# fresh NAME SRC: an unpacked copy of a bundle at $T/w/NAME/<top>.
fresh() {
	rm -rf "$T/w" && mkdir -p "$T/w"
	case $1 in
	*.zip) (cd "$T/w" && unzip -q "$T/$1") ;;
	*) tar xzf "$T/$1" -C "$T/w" ;;
	esac
	D=$(echo "$T"/w/*)
}
# pack OUT [ARCNAME CONTENT]...: archive $D (as its top directory) into $T/OUT.
pack() {
	python3 - "$D" "$T/$1" "${@:2}" <<'P'
import os, sys, tarfile, zipfile, io
d, out, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
top = os.path.basename(d)
files = sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)
if out.endswith(".zip"):
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            z.write(os.path.join(d, f), top + "/" + f)
        for i in range(0, len(extra), 2):
            z.writestr(extra[i], extra[i + 1])
else:
    with tarfile.open(out, "w:gz") as t:
        for f in files:
            t.add(os.path.join(d, f), top + "/" + f)
        for i in range(0, len(extra), 2):
            name, what = extra[i], extra[i + 1]
            ti = tarfile.TarInfo(name)
            if what == "symlink": ti.type, ti.linkname = tarfile.SYMTYPE, "/etc/passwd"
            elif what == "hardlink": ti.type, ti.linkname = tarfile.LNKTYPE, top + "/checkpoint"
            elif what == "device": ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
            else:
                ti.size = len(what); t.addfile(ti, io.BytesIO(what.encode())); continue
            t.addfile(ti)
P
}
# both DESC REGEX: verify-bundle on $T/t.* and verify.py in $D both fail naming REGEX.
both() {
	local out
	out=$("$AKASHI" verify-bundle "$T/$TB" 2>&1)
	if [ $? -ne 0 ] && printf '%s' "$out" | grep -Eq -- "$2" && ! printf '%s' "$out" | grep -q Sanitizer; then
		_result 0 "verify-bundle: $1"
	else
		_result 1 "verify-bundle: $1" "$out"
	fi
	out=$(cd "$D" && python3 verify.py 2>&1)
	if [ $? -ne 0 ] && printf '%s' "$out" | grep -Eq -- "$2"; then
		_result 0 "verify.py: $1"
	else
		_result 1 "verify.py: $1" "$out"
	fi
}
flip() { # flip FILE LINE: change the first proof hash on that line (1-based)
	python3 - "$1" "$2" <<'P'
import sys
p, n = sys.argv[1], int(sys.argv[2]) - 1
lines = open(p).read().split("\n")
i = lines[n].index('["') + 2
lines[n] = lines[n][:i] + ("B" if lines[n][i] == "A" else "A") + lines[n][i + 1:]
open(p, "w").write("\n".join(lines))
P
}
remanifest() { (cd "$D" && find . -type f ! -name MANIFEST.sha256 | sed 's|^\./||' | sort | xargs sha256sum >MANIFEST.sha256); }

TB=t.zip
fresh subject.zip; sed -i '2s/"status":"sent"/"status":"sEnt"/' "$D/entries.jsonl"; pack $TB
both "one byte of an entry changed" "entry seq 5: .*(inclusion proof|checkpoint's root)"
remanifest; pack $TB
both "a changed entry with the manifest recomputed" "entry seq 5: .*checkpoint's root"
fresh subject.zip; sed -i '3d' "$D/entries.jsonl"; pack $TB
both "an entry removed" "entry seq 9: .*missing from entries.jsonl"
fresh subject.zip; sed -n 1p "$T/x2/range/entries.jsonl" >"$T/seq2"; sed -i "1r $T/seq2" "$D/entries.jsonl"; pack $TB
both "an entry added (a genuine one from elsewhere)" "entry seq 2.*no inclusion proof"
fresh subject.zip; flip "$D/proofs.json" 4; pack $TB
both "a proof hash changed" "entry seq 5: its inclusion proof .*(proof was changed|proof changed)"
fresh subject.zip; python3 - "$D/checkpoint" <<'P'
import sys, base64
p = sys.argv[1]; lines = open(p).read().split("\n")
head, b64 = lines[5].rsplit(" ", 1); sig = bytearray(base64.b64decode(b64)); sig[20] ^= 1
lines[5] = head + " " + base64.b64encode(bytes(sig)).decode()
open(p, "w").write("\n".join(lines))
P
remanifest; pack $TB
out=$("$AKASHI" verify-bundle "$T/$TB" 2>&1)
like "$out" "checkpoint: signature does not verify" "verify-bundle: a changed checkpoint signature"
out=$(steps "$D")
like "$out" "checkpoint: Signature Verification Failure" "the expert's openssl step catches it"
like "$out" "STEP signatures FAILED" "and the step fails"
fresh subject.zip; python3 - "$D/MANIFEST.sha256" <<'P'
import sys
p = sys.argv[1]; s = open(p).read()
open(p, "w").write(s[:10] + ("0" if s[10] != "0" else "1") + s[11:])
P
pack $TB
both "a manifest line edited" "VERIFY.md: changed"
fresh subject.zip; sed -i '2s/^.//' "$D/MANIFEST.sha256"; pack $TB
like "$("$AKASHI" verify-bundle "$T/$TB" 2>&1)" "MANIFEST.sha256 line 2: not" "verify-bundle: a malformed manifest line"
fresh subject.zip; echo "note" >"$D/notes.txt"; pack $TB
both "an unexpected file" "notes.txt: (unexpected|not listed)"
fresh subject.zip; rm "$D/custody.json"; pack $TB
out=$("$AKASHI" verify-bundle "$T/$TB" 2>&1)
like "$out" "custody.json: missing" "verify-bundle: a missing file"
fresh subject.zip; pack $TB ../x evil
out=$("$AKASHI" verify-bundle "$T/$TB" 2>&1)
like "$out" "\.\./x: unsafe name" "verify-bundle: a zip member named ../x is refused"
fresh subject.zip; pack $TB /etc/cron.d/x evil
like "$("$AKASHI" verify-bundle "$T/$TB" 2>&1)" "/etc/cron.d/x: unsafe name" "verify-bundle: an absolute name is refused"
TB=t.tar.gz
fresh range.tar.gz; pack $TB range/link symlink
like "$("$AKASHI" verify-bundle "$T/$TB" 2>&1)" "range/link: a link" "verify-bundle: a symlink is refused"
fresh range.tar.gz; pack $TB range/hard hardlink
like "$("$AKASHI" verify-bundle "$T/$TB" 2>&1)" "range/hard: a link" "verify-bundle: a hard link is refused"
fresh range.tar.gz; pack $TB range/null device
like "$("$AKASHI" verify-bundle "$T/$TB" 2>&1)" "range/null: not a regular file" "verify-bundle: a device is refused"
fresh range.tar.gz; pack $TB other/entries.jsonl x
like "$("$AKASHI" verify-bundle "$T/$TB" 2>&1)" "outside the bundle's directory" "verify-bundle: a second top directory is refused"
fresh range.tar.gz; sed -i '5d' "$D/entries.jsonl"; pack $TB
both "range: an entry removed" "entries seq 6-6: missing"
fresh range.tar.gz; sed -n 1p "$T/x1/subject/entries.jsonl" >>"$D/entries.jsonl"; pack $TB
both "range: an entry added" "entry seq 1.*not part of the range"
fresh range.tar.gz; sed -i '1s/"subject":"/"subject":"x/' "$D/entries.jsonl"; remanifest; pack $TB
both "range: an entry changed (manifest recomputed)" "seq 2-11.*checkpoint's root"
fresh range.tar.gz; flip "$D/proofs.json" 2; pack $TB
both "range: a range proof hash changed" "2-11.*checkpoint's root"
# custody.json's selection is a claim about what proofs.json proves: a
# range widened there (the manifest recomputed) would tell the reader that
# an entry outside the proven range is proven absent.
fresh range.tar.gz; python3 - "$D/custody.json" <<'P'
import json, sys
p = sys.argv[1]; c = json.load(open(p)); c["selection"]["range"]["last"] += 1
json.dump(c, open(p, "w"), indent=2)
P
remanifest; pack $TB
both "range: custody claims a wider range than proven" "custody.json: selection.proof and selection.range do not describe proofs.json"
printf 'not an archive' >"$T/junk.zip"
fails "verify-bundle refuses a file that is no archive" "$AKASHI" verify-bundle "$T/junk.zip"
fails "verify-bundle of a missing file fails" "$AKASHI" verify-bundle "$T/none.zip"
done_testing
