#!/usr/bin/env bash
# akashi report end to end: a quarter of every kind of entry (a Japanese
# list name among them) in native JSON Lines, the report in all three
# formats with known numbers, the audit recorded once per commit, the
# report's own system entry with the file's SHA-256, and the HTML as a
# person sees it: printed to PDF by headless Chromium, pages rasterised by
# pdftoppm, each page checked for ink.
. "$(dirname "$0")/lib/tap.sh"

S=$T/s
new_store "$S"
cat >"$T/q.jsonl" <<'J'
{"kind":"consent","time":"2026-06-01T00:00:00Z","source":"api:crm","body":{"subject":"a@example.com","list":"ニュースレター","action":"opt_in","method":"double_opt_in","proof":{"ip":"192.0.2.1"}}}
{"kind":"consent","time":"2026-06-01T00:05:00Z","source":"api:crm","body":{"subject":"a@example.com","list":"ニュースレター","action":"confirm","method":"double_opt_in","proof":{"confirmation_id":"c1"}}}
{"kind":"consent","time":"2026-07-02T00:00:00Z","source":"csv:import","body":{"subject":"b@example.com","list":"news","action":"opt_in","method":"single_opt_in"}}
{"kind":"consent","time":"2026-07-03T00:00:00Z","source":"api:crm","body":{"subject":"c@example.com","list":"news","action":"opt_in","method":"form","proof":{"ip":"192.0.2.3","form_url":"https://www.example.com/signup"}}}
{"kind":"consent","time":"2026-07-10T00:00:00Z","source":"web:unsubscribe","body":{"subject":"c@example.com","list":"news","action":"opt_out","method":"one_click"}}
{"kind":"consent","time":"2026-07-04T00:00:00Z","source":"api:crm","body":{"subject":"d@example.jp","list":"ニュースレター","action":"opt_in","method":"double_opt_in","proof":{"ip":"192.0.2.4"}}}
{"kind":"consent","time":"2026-07-04T00:05:00Z","source":"api:crm","body":{"subject":"d@example.jp","list":"ニュースレター","action":"confirm","method":"double_opt_in","proof":{"confirmation_id":"c4"}}}
{"kind":"send","time":"2026-07-06T00:00:00Z","source":"mta","body":{"rcpt":"a@example.com","list":"ニュースレター","stream":"marketing","status":"sent","campaign":"秋のセール"}}
{"kind":"send","time":"2026-07-06T01:00:00Z","source":"mta","body":{"rcpt":"b@example.com","list":"news","stream":"marketing","status":"sent","campaign":"c1"}}
{"kind":"send","time":"2026-07-10T00:30:00Z","source":"mta","body":{"rcpt":"c@example.com","list":"news","stream":"marketing","status":"sent","campaign":"c1"}}
{"kind":"send","time":"2026-07-11T00:00:00Z","source":"akashi:gate","body":{"rcpt":"c@example.com","list":"news","stream":"marketing","status":"blocked","campaign":"c1","gate":{"decision":"deny","policy_commit":"x","reasons":[{"policy":"consent-unsubscribe-deadline","control":"consent.unsubscribe_deadline","detail":"opted out","ref":5}]}}}
{"kind":"send","time":"2026-07-13T00:00:00Z","source":"mta","body":{"rcpt":"a@example.com","list":"ニュースレター","stream":"marketing","status":"deferred","campaign":"秋のセール"}}
{"kind":"admin","time":"2026-08-01T00:00:00Z","source":"console","body":{"actor":"pat","action":"approval","campaign":"big","target":"big"}}
{"kind":"send","time":"2026-08-03T00:00:00Z","source":"mta","body":{"rcpt":"t0@example.com","stream":"transactional","status":"sent","campaign":"big","owner":"olga"}}
{"kind":"send","time":"2026-08-03T00:00:01Z","source":"mta","body":{"rcpt":"t1@example.com","stream":"transactional","status":"sent","campaign":"big","owner":"olga"}}
{"kind":"send","time":"2026-08-03T00:00:02Z","source":"mta","body":{"rcpt":"t2@example.com","stream":"transactional","status":"sent","campaign":"big","owner":"olga"}}
{"kind":"send","time":"2026-08-03T00:00:03Z","source":"mta","body":{"rcpt":"t3@example.com","stream":"transactional","status":"sent","campaign":"big","owner":"olga"}}
{"kind":"send","time":"2026-08-04T00:00:00Z","source":"mta","body":{"rcpt":"t0@example.com","stream":"transactional","status":"sent","campaign":"big2","owner":"olga"}}
{"kind":"send","time":"2026-08-04T00:00:01Z","source":"mta","body":{"rcpt":"t1@example.com","stream":"transactional","status":"sent","campaign":"big2","owner":"olga"}}
{"kind":"send","time":"2026-08-04T00:00:02Z","source":"mta","body":{"rcpt":"t2@example.com","stream":"transactional","status":"sent","campaign":"big2","owner":"olga"}}
{"kind":"send","time":"2026-08-04T00:00:03Z","source":"mta","body":{"rcpt":"t3@example.com","stream":"transactional","status":"sent","campaign":"big2","owner":"olga"}}
{"kind":"admin","time":"2026-01-01T00:00:00Z","source":"iam","body":{"actor":"root","action":"role_grant","target":"alice","role":"admin"}}
{"kind":"admin","time":"2026-02-01T00:00:00Z","source":"iam","body":{"actor":"root","action":"role_grant","target":"carol","role":"admin"}}
{"kind":"admin","time":"2026-05-01T00:00:00Z","source":"iam","body":{"actor":"bob","action":"access_review","target":"alice"}}
{"kind":"admin","time":"2026-07-01T00:00:00Z","source":"sso","body":{"actor":"alice","action":"password_change","target":"alice"}}
{"kind":"admin","time":"2026-07-15T00:00:00Z","source":"sso","body":{"actor":"carol","action":"login_success","ip":"192.0.2.7","result":"success"}}
{"kind":"admin","time":"2026-07-20T00:00:00Z","source":"iam","body":{"actor":"bob","action":"access_review","target":"alice"}}
{"kind":"dmarc","time":"2026-07-07T00:00:00Z","source":"dmarc","body":{"org_name":"google.com","report_id":"1","begin":"2026-07-07T00:00:00Z","end":"2026-07-07T23:59:59Z","policy":{"domain":"example.com","p":"reject"},"rows":[{"source_ip":"192.0.2.1","count":95,"dkim":"pass","spf":"fail"},{"source_ip":"203.0.113.9","count":5,"dkim":"fail","spf":"fail"}]}}
{"kind":"dmarc","time":"2026-07-14T00:00:00Z","source":"dmarc","body":{"org_name":"google.com","report_id":"2","begin":"2026-07-14T00:00:00Z","end":"2026-07-14T23:59:59Z","policy":{"domain":"example.com","p":"reject"},"rows":[{"source_ip":"192.0.2.1","count":100,"dkim":"pass","spf":"pass"}]}}
{"kind":"alert","time":"2026-07-08T00:00:00Z","source":"akashi:alerts","body":{"rule":"login.bruteforce_src","severity":"high","summary":"ログイン失敗 12 回 <script>alert(1)</script>","refs":[1]}}
{"kind":"alert","time":"2026-07-09T00:00:00Z","source":"akashi:alerts","body":{"rule":"login.bruteforce_src","severity":"medium","summary":"8 failed logins","refs":[1]}}
{"kind":"alert","time":"2026-08-05T00:00:00Z","source":"akashi:alerts","body":{"rule":"send.mass","severity":"medium","summary":"=cmd|' /C calc'!A0","refs":[]}}
{"kind":"system","time":"2026-07-01T00:00:00Z","source":"akashi","body":{"event":"start"}}
{"kind":"send","time":"2026-10-01T00:00:00Z","source":"mta","body":{"rcpt":"a@example.com","list":"ニュースレター","stream":"marketing","status":"sent"}}
J
check "a quarter of every kind ingests" "$AKASHI" --store "$S" ingest "$T/q.jsonl"

# The mass-send threshold at 3 for this test: a new commit of the policy
# repository, which the report then names.
git clone -q "$S/policies" "$T/pol" 2>/dev/null
sed -i 's/"severity": "high"/"params": {"threshold": 3},\n  "severity": "high"/' "$T/pol/send-mass-approval.json"
git -C "$T/pol" -c user.name=t -c user.email=t@example.com commit -qam "threshold 3 for the test"
git -C "$T/pol" push -q origin HEAD 2>/dev/null
commit=$(git -C "$T/pol" rev-parse HEAD)

findings() { "$AKASHI" --store "$S" log --kind finding | wc -l; }

check "report --format json" "$AKASHI" --store "$S" report --quarter 2026Q3 --format json -o "$T/r.json"
n1=$(findings)
like "$n1" '^[1-9][0-9]*$' "the report ran the audit and recorded its findings ($n1)"
# The report's figures are the audit's: this quarter's pass rates, and the
# previous quarter's exceptions (its change column reads from them).
"$AKASHI" --store "$S" audit --quarter 2026Q3 --json --no-record >"$T/a3.json"
"$AKASHI" --store "$S" audit --quarter 2026Q2 --json --no-record >"$T/a2.json"
agree=$(python3 - "$T/r.json" "$T/a3.json" "$T/a2.json" <<'P'
import json, sys
r, a3, a2 = (json.load(open(f, encoding="utf-8")) for f in sys.argv[1:4])
by = lambda a: {p["id"]: p for p in a["policies"]}
now, before = by(a3), by(a2)
bad = []
for p in r["summary"]["policies"]:
    q, o = now[p["id"]], before[p["id"]]
    if p.get("pass_rate") != (None if q["pass_rate"] == "n/a" else q["pass_rate"]) and not (
            q["pass_rate"] == "n/a" and p.get("pass_rate") in ("", "n/a", None)):
        bad.append("%s pass_rate %s vs %s" % (p["id"], p.get("pass_rate"), q["pass_rate"]))
    if p["previous"]["exceptions"] != len(o["exceptions"]):
        bad.append("%s previous exceptions %s vs %s" % (p["id"], p["previous"]["exceptions"], len(o["exceptions"])))
print("; ".join(bad) or "agree")
P
)
is "$agree" "agree" "the report's pass rates and previous-quarter exceptions are the audit's"

cat >"$T/check.py" <<'P'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
def pol(i): return next(p for p in d["summary"]["policies"] if p["id"] == i)
def dom(n): return next(x for x in d["dmarc"]["domains"] if x["domain"] == n)
mass = {c["campaign"]: c for c in d["sends"]["mass_campaigns"]["campaigns"]}
print(" ".join(str(x) for x in [
    d["format"], d["period"]["quarter"], d["attestation"]["policy_commit"],
    d["consent"]["opt_ins"], d["consent"]["opt_ins_without_proof"]["count"],
    d["consent"]["opt_outs"], d["consent"]["confirmations"],
    d["sends"]["total"], d["sends"]["by_status"]["sent"], d["sends"]["blocked"]["total"],
    d["sends"]["blocked"]["by_reason"][0]["reason"], d["sends"]["weeks"][1]["sent"],
    mass["big"]["approval"]["actor"], mass["big2"]["approval"],
    len(d["access"]["privileged_accounts"]), d["access"]["reviews"]["count"],
    dom("example.com")["pass_share"], dom("example.com")["status"],
    d["alerts"]["total"], d["alerts"]["by_rule"][0]["rule"],
    pol("consent-optin-proof")["population"], pol("consent-optin-proof")["exceptions"],
    pol("send-mass-approval")["population"], pol("send-mass-approval")["exceptions"],
    all(r["refs"] and r["finding_seq"] for r in d["exceptions"]["rows"]),
    d["exceptions"]["total"] == len(d["exceptions"]["rows"]),
]))
P
got=$(python3 "$T/check.py" "$T/r.json" 2>&1)
is "$got" "akashi-report/1 2026Q3 $commit 3 1 1 1 13 11 1 consent-unsubscribe-deadline 3 pat None 2 1 0.9750 amber 3 login.bruteforce_src 3 2 2 1 True True" \
	"the JSON report holds the known numbers of every section"
like "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["command"])' "$T/r.json")" \
	"^akashi --store /.* report --quarter 2026Q3 --ref $commit --format json -o /.*/r.json\$" \
	"it names the command that makes it again, the policy commit pinned"

check "report --format csv" "$AKASHI" --store "$S" report --quarter 2026Q3 --format csv -o "$T/r.csv"
check "report --format html" "$AKASHI" --store "$S" report --quarter 2026Q3 --format html -o "$T/r.html"
is "$(findings)" "$n1" "a second and third report at the same commit append no findings"

cat >"$T/read_csv.py" <<'P'
import csv, io, sys
raw = open(sys.argv[1], "rb").read()
print("bom" if raw.startswith(b"\xef\xbb\xbf") else "no-bom", end=" ")
rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
print(rows[0][0], rows[0][4], rows[0][7], len(rows) - 1,
      all(r[7].replace(" ", "").isdigit() for r in rows[1:]),
      sum(1 for r in rows[1:] if r[4] == "big2"))
P
is "$(python3 "$T/read_csv.py" "$T/r.csv")" "bom policy_id subject evidence_seqs $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["exceptions"]["total"])' "$T/r.json") True 1" \
	"the CSV has a BOM, opens with Python's csv module, one row per exception citing seqs"

html=$(cat "$T/r.html")
unlike "$html" '<script' "the HTML has no script element (a hostile alert summary is escaped)"
like "$html" '&lt;script&gt;alert\(1\)&lt;/script&gt;' "the hostile text is shown as text"
unlike "$html" '(src|href|action)[[:space:]]*=[[:space:]]*["'"'"']?[[:space:]]*(https?:)?//' "no resource is fetched from anywhere"
unlike "$html" 'url\(|@import' "no stylesheet reaches out either"
like "$html" 'ニュースレター|秋のセール' "Japanese text is in the file as UTF-8"
like "$html" 'Content-Security-Policy' "the file forbids scripts and fetches to the browser"

# The report's own entries: who, the period, the format, the SHA-256 of the file.
"$AKASHI" --store "$S" log --kind system | grep '"event":"report"' >"$T/reports.jsonl"
is "$(wc -l <"$T/reports.jsonl" | tr -d ' ')" "3" "every report made is a system entry"
for f in json csv html; do
	sum=$(sha256sum "$T/r.$f" | cut -d' ' -f1)
	like "$(grep "\"format\":\"$f\"" "$T/reports.jsonl")" "\"sha256\":\"$sum\"" "the $f report's entry records its SHA-256"
done
like "$(head -1 "$T/reports.jsonl")" '"by":"[^"]+".*"period":\{"from":"2026-07-01T00:00:00Z","quarter":"2026Q3"' "and who made it, for which period"

# New data for the quarter after the audit: the next report runs it again.
"$AKASHI" --store "$S" ingest - >/dev/null <<'J'
{"kind":"send","time":"2026-09-01T00:00:00Z","source":"mta","body":{"rcpt":"z@example.com","list":"news","stream":"marketing","status":"sent"}}
J
out=$("$AKASHI" --store "$S" report --quarter 2026Q3 --format json -o "$T/r2.json")
like "$out" "audit run for this report: 1 new findings" "a send of the quarter after the audit makes it run again, once"
like "$("$AKASHI" --store "$S" report --quarter 2026Q3 --format json -o "$T/r3.json")" "not run again" \
	"and then it is current again"

fails "a report needs a format" "$AKASHI" --store "$S" report --quarter 2026Q3 -o "$T/x"
fails "and a period" "$AKASHI" --store "$S" report --format html -o "$T/x"
fails "a bad quarter is refused" "$AKASHI" --store "$S" report --quarter 2026Q5 --format html -o "$T/x"
fails "an unwritable output is an error" "$AKASHI" --store "$S" report --quarter 2026Q3 --format html -o "$T/no/such/dir/r.html"
check "a custom period with --from and --to" "$AKASHI" --store "$S" report --from 2026-07-01T00:00:00+09:00 --to 2026-08-01T00:00:00+09:00 --format json -o "$T/range.json"
is "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["period"]["from"], d["previous_period"]["to"])' "$T/range.json")" \
	"2026-06-30T15:00:00Z 2026-06-30T15:00:00Z" "and its previous period of the same length before it"

# The HTML as a person sees it: Chromium prints it on A4, pdftoppm draws the
# pages, and every page has ink on it.
skip() { _n=$((_n + 1)); echo "ok $_n # skip $1"; }
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ] || ! command -v pdftoppm >/dev/null; then
	skip "chromium and pdftoppm are needed to render the HTML (make deps installs them)"
	skip "rendered pages"
	skip "no blank page"
else
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --no-pdf-header-footer --user-data-dir="$T/chromium" \
		--print-to-pdf="$T/r.pdf" "file://$T/r.html" >"$T/chromium.log" 2>&1
	check "Chromium prints the HTML to PDF" test -s "$T/r.pdf"
	pdftoppm -r 50 -png "$T/r.pdf" "$T/page"
	pages=$(ls "$T"/page-*.png 2>/dev/null | wc -l)
	like "$pages" '^([7-9]|1[0-9]|20)$' "it prints on 7 to 20 A4 pages ($pages)"
	cat >"$T/ink.py" <<'P'
# Share of non-white pixels of each PNG page (8-bit RGB or grey, as pdftoppm
# writes them), with nothing but the standard library.
import struct, sys, zlib

def pixels(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    assert depth == 8 and ctype in (0, 2) and interlace == 0
    bpp = 3 if ctype == 2 else 1
    raw, stride, prev, out = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.append(line)
        prev = line
    return w, h, bpp, out

blank = []
for path in sys.argv[1:]:
    w, h, bpp, rows = pixels(path)
    ink = sum(1 for r in rows for i in range(0, len(r), bpp) if min(r[i:i + bpp]) < 200)
    if ink < w * h // 2000:
        blank.append(path.rsplit("/", 1)[-1])
print("blank: " + (" ".join(blank) if blank else "none"))
P
	is "$(python3 "$T/ink.py" "$T"/page-*.png)" "blank: none" "no page is blank"
	# every page carries text too (pdftotext)
	empty=0
	for p in $(seq 1 "$pages"); do
		[ -n "$(pdftotext -f "$p" -l "$p" "$T/r.pdf" - | tr -d '[:space:]')" ] || empty=$((empty + 1))
	done
	is "$empty" "0" "every page has text on it"
	like "$(pdftotext "$T/r.pdf" - | tr -d '\n')" 'Attestation.*Signed checkpoint' "the last section prints"
fi

done_testing
