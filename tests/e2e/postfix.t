#!/usr/bin/env bash
# tests/e2e/postfix.t - a real Postfix on loopback (tests/e2e/lib/
# postfix-instance.sh) delivers, defers, bounces and expires mail and writes
# its maillog; `akashi ingest --kind send --format postfix` turns it into
# send entries. The counts per status must match what Postfix logged (read
# here by a separate, simple Python reading of the same log), some bodies
# are checked field by field, and ingesting the same log again appends
# nothing.
#
# Needs root and the postfix package (skipped otherwise); $AKASHI is the
# binary under test (build/asan/akashi by default).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/tap.sh"

. "$HERE/lib/postfix-instance.sh"

# --- Postfix writes a maillog ------------------------------------------
pfi_setup
pfi_send 12 >"$T/send.log" 2>&1
result $? "12 messages (and one that expires) sent over SMTP" "$(cat "$T/send.log")"
pfi_wait 60 >"$T/wait.log" 2>&1
result $? "the log shows every message's final or deferred status" "$(cat "$T/wait.log")"
cp "$PFI_LOG" "$T/maillog"

# What Postfix logged, read independently: one entry per delivery line
# (to=<...>, ..., status=sent|deferred|bounced), plus one "expired" per
# recipient still deferred when qmgr logs "status=expired".
expected=$(python3 - "$T/maillog" <<'PY'
import re, sys
count = {"sent": 0, "deferred": 0, "bounced": 0, "expired": 0}
last = {}
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.search(r"postfix/\w+\[\d+\]: ([0-9A-F]+): to=<([^>]*)>, (?:orig_to=<([^>]*)>, )?.*?"
                  r"status=(sent|deferred|bounced)", line)
    if m:
        qid, rcpt, orig, st = m.groups()
        count[st] += 1
        last.setdefault(qid, {})[(rcpt, orig)] = st
        continue
    m = re.search(r"postfix/qmgr\[\d+\]: ([0-9A-F]+): from=<.*>, status=expired", line)
    if m:
        count["expired"] += sum(1 for s in last.get(m.group(1), {}).values() if s == "deferred")
print(" ".join("%s=%d" % (k, count[k]) for k in ("sent", "deferred", "bounced", "expired")),
      sum(count.values()))
PY
)
total=${expected##* }
like "$expected" "sent=[1-9][0-9]* deferred=[1-9][0-9]* bounced=[1-9][0-9]* expired=2 " \
	"the log has sent, deferred, bounced and expired recipients ($expected)"

# --- akashi ingests it ---------------------------------------------------
S=$T/store
out=$("$AKASHI" --store "$S" init --origin "test.example/postfix" 2>&1)
result $? "akashi init" "$out"

out=$("$AKASHI" --store "$S" ingest --kind send --format postfix "$T/maillog" 2>&1)
st=$?
result $st "akashi ingest --kind send --format postfix exits 0" "$out"
has_line "$out" "$total appended, 0 duplicates, 0 rejected" "appends one entry per recipient and status ($total)"

"$AKASHI" --store "$S" log --kind send >"$T/log.jsonl" 2>"$T/log.err"
result $? "akashi log --kind send" "$(cat "$T/log.err")"

# Every entry: kind send, source postfix:mx1, a UTC time, no float anywhere.
checks=$(python3 - "$T/log.jsonl" "$T/maillog" "$PFI_PORT" <<'PY'
import json, re, sys, time, os
def no_float(s):
    raise ValueError("float in entry: " + s)
entries = [json.loads(l, parse_float=no_float) for l in open(sys.argv[1], encoding="utf-8")]
port = sys.argv[3]
out = []
count = {}
for e in entries:
    count[e["body"]["status"]] = count.get(e["body"]["status"], 0) + 1
out.append("counts " + " ".join("%s=%d" % (k, count.get(k, 0))
                                for k in ("sent", "deferred", "bounced", "expired")))
out.append("kinds " + ",".join(sorted(set(e["kind"] for e in entries))))
out.append("sources " + ",".join(sorted(set(e["source"] for e in entries))))
out.append("utc " + str(all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", e["time"])
                            for e in entries)))
out.append("seqs " + str([e["seq"] for e in entries] == list(range(1, len(entries) + 1))))

def one(status, rcpt):
    m = [e for e in entries if e["body"]["status"] == status and e["body"]["rcpt"] == rcpt]
    return m[0] if m else None

# user0@ok.test: joined from smtpd, cleanup (message-id, headers), qmgr.
e = one("sent", "user0@ok.test")
b = e["body"] if e else {}
want = {"message_id": "akashi-test-0.%s@sender.test" % port, "from": "news@sender.test",
        "campaign": "spring-0", "list": "newsletter", "stream": "marketing",
        "client": "localhost[127.0.0.1]", "dsn": "2.0.0", "reply": "250 2.0.0 Ok",
        "host": "mx1"}
out.append("user0 " + str(e is not None and all(b.get(k) == v for k, v in want.items())
                          and isinstance(b.get("size"), int) and isinstance(b.get("delay_ms"), int)
                          and b.get("relay", "").startswith("127.0.0.1[127.0.0.1]:")))
# Its time is the log line's local time, as UTC.
line = [l for l in open(sys.argv[2]) if "to=<user0@ok.test>" in l][0]
year = time.localtime(os.stat(sys.argv[2]).st_mtime).tm_year
t = time.mktime(time.strptime("%d %s" % (year, line[:15]), "%Y %b %d %H:%M:%S"))
out.append("user0time " + str(e is not None and
                              e["time"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))))
# Other1@OK.test is lower-cased; the sender too.
e = one("sent", "other1@ok.test")
out.append("lower " + str(e is not None and e["body"].get("from") == "news+1@sender.test"))
# The virtual alias team@ok.test expanded to alice and bob: orig_to kept.
e = one("sent", "alice@ok.test")
out.append("orig_to " + str(e is not None and e["body"].get("orig_to") == "team@ok.test"))
# 5xx from the sink: bounced with the DSN and the reply.
e = one("bounced", "gone2@bounce.test")
out.append("bounced " + str(e is not None and e["body"].get("dsn") == "5.3.0"
                            and "500 5.3.0" in e["body"].get("reply", "")))
# The null-sender message expired for both deferred recipients.
ex = [e for e in entries if e["body"]["status"] == "expired"]
out.append("expired " + str(sorted(e["body"]["rcpt"] for e in ex) ==
                            ["late1@defer.test", "late2@defer.test"]
                            and all(e["body"].get("from") == "" for e in ex)))
print("\n".join(out))
PY
)
st=$?
result $st "the entries are JSON without floats" "$checks"
want_counts=${expected% *}
has_line "$checks" "counts $want_counts" "counts per status match the log ($want_counts)"
has_line "$checks" "kinds send" "every entry is of kind send"
has_line "$checks" "sources postfix:mx1" "source is postfix:HOST"
like "$checks" "utc True" "times are UTC RFC 3339"
like "$checks" "seqs True" "seqs run from 1 without gaps"
like "$checks" "user0 True" "a delivered recipient carries message_id, from, size, client, campaign, list, stream, dsn, relay, reply, delay_ms"
like "$checks" "user0time True" "its time is the log line's local time in UTC"
like "$checks" "lower True" "recipient and sender are lower-cased"
like "$checks" "orig_to True" "orig_to of a virtual alias is kept"
like "$checks" "bounced True" "a 5xx bounce carries its DSN and reply"
like "$checks" "expired True" "an expired null-sender message gives one expired entry per deferred recipient"

# --- idempotent -----------------------------------------------------------
out=$("$AKASHI" --store "$S" ingest --kind send --format postfix "$T/maillog" 2>&1)
result $? "ingesting the same log again exits 0" "$out"
has_line "$out" "0 appended, $total duplicates, 0 rejected" "and appends nothing"
is "$("$AKASHI" --store "$S" log --kind send | wc -l | tr -d ' ')" "$total" "the store still holds $total send entries"

done_testing
