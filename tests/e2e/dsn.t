#!/usr/bin/env bash
# tests/e2e/dsn.t - asynchronous bounces: a real Postfix on loopback
# (tests/e2e/lib/postfix-instance.sh) bounces mail from a local sender and
# delivers its own DSNs to that sender's mbox file; `akashi ingest --kind
# send --format dsn` reads the mbox (and the same messages as a Maildir
# and on standard input), the bounced recipients land on the suppression
# list and `akashi gate` denies them. The hand-written ARF samples do the
# same for complaints. Ingesting again appends nothing.
#
# Needs root and the postfix package (skipped otherwise); $AKASHI is the
# binary under test (build/asan/akashi by default).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/tap.sh"

. "$HERE/lib/postfix-instance.sh"

# --- Postfix bounces mail and writes its DSNs to a local mbox ------------
pfi_setup
# The sender filebox@localhost is delivered by local(8) to the file
# $PFI_DIR/mail/filebox (an alias), so Postfix's bounces land there.
python3 - "$PFI_PORT" >"$T/send.log" 2>&1 <<'PY'
import smtplib, sys
from email.message import EmailMessage
port = int(sys.argv[1])
msgs = [
    ("<dsn-e2e-1@sender.test>", ["Gone1@Bounce.test", "nobody1@error.test", "user1@ok.test"], "spring-1"),
    ("<dsn-e2e-2@sender.test>", ["gone2@bounce.test"], "spring-2"),
    ("<dsn-e2e-3@sender.test>", ["user3@ok.test"], None),
]
with smtplib.SMTP("127.0.0.1", port, local_hostname="client.akashi.test") as s:
    for mid, rcpts, campaign in msgs:
        m = EmailMessage()
        m["Message-ID"] = mid
        m["From"] = "filebox@localhost"
        m["To"] = ", ".join(rcpts)
        m["Subject"] = "akashi dsn test"
        if campaign:
            m["X-Akashi-Campaign"] = campaign
        m.set_content("hello\n")
        s.send_message(m, from_addr="filebox@localhost", to_addrs=rcpts)
PY
result $? "3 messages sent over SMTP from filebox@localhost" "$(cat "$T/send.log")"
MBOX=$PFI_DIR/mail/filebox
for i in $(seq 300); do
	[ -f "$MBOX" ] && [ "$(grep -c '^From MAILER-DAEMON' "$MBOX")" -ge 2 ] && break
	sleep 0.1
done
sleep 0.5
is "$(grep -c '^From MAILER-DAEMON' "$MBOX" 2>/dev/null)" 2 "Postfix delivered 2 bounces (one with 2 recipients) to the mbox"
cp "$MBOX" "$T/bounces.mbox"
like "$(cat "$T/bounces.mbox")" "report-type=delivery-status" "they are RFC 3464 multipart/report messages"

# --- akashi ingests the mbox -------------------------------------------------
S=$T/store
out=$("$AKASHI" --store "$S" init --origin "test.example/dsn" 2>&1)
result $? "akashi init" "$out"
out=$("$AKASHI" --store "$S" ingest --kind send --format dsn "$T/bounces.mbox" 2>&1)
result $? "akashi ingest --kind send --format dsn MBOX exits 0" "$out"
is "$(printf '%s\n' "$out" | tail -1)" "3 appended, 0 duplicates, 0 rejected" "3 bounced recipients appended"
"$AKASHI" --store "$S" log --kind send >"$T/log.jsonl" 2>&1
got=$(python3 - "$T/log.jsonl" <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1]):
    e = json.loads(line)
    b = e["body"]
    rows.append("%s %s %s %s %s %s" % (b["rcpt"], b["status"], b["dsn"], b.get("message_id"),
                                       b.get("campaign"), e["source"]))
print("\n".join(sorted(rows)))
PY
)
is "$got" "gone1@bounce.test bounced 5.3.0 dsn-e2e-1@sender.test spring-1 dsn:mx1.akashi.test
gone2@bounce.test bounced 5.3.0 dsn-e2e-2@sender.test spring-2 dsn:mx1.akashi.test
nobody1@error.test bounced 5.1.1 dsn-e2e-1@sender.test spring-1 dsn:mx1.akashi.test" \
	"entries: rcpt lower-cased, status bounced, the DSN status, the original Message-ID and campaign"
like "$(grep nobody1 "$T/log.jsonl")" '"reply":"mailbox unavailable \(akashi test\)"' "the Diagnostic-Code is the reply"

out=$("$AKASHI" --store "$S" ingest --kind send --format dsn "$T/bounces.mbox" 2>&1)
is "$(printf '%s\n' "$out" | tail -1)" "0 appended, 3 duplicates, 0 rejected" "ingesting the mbox again: all duplicates"
out=$("$AKASHI" --store "$S" ingest --kind send --format dsn - <"$T/bounces.mbox" 2>&1)
is "$(printf '%s\n' "$out" | tail -1)" "0 appended, 3 duplicates, 0 rejected" "the same on standard input"

# The same messages as a Maildir folder.
python3 - "$T/bounces.mbox" "$T/Maildir" <<'PY'
import mailbox, sys
md = mailbox.Maildir(sys.argv[2], create=True)
for m in mailbox.mbox(sys.argv[1]):
    md.add(m)
PY
out=$("$AKASHI" --store "$S" ingest --kind send --format dsn "$T/Maildir" 2>&1)
is "$(printf '%s\n' "$out" | tail -1)" "0 appended, 3 duplicates, 0 rejected" "the same messages from a Maildir: all duplicates"

# --- the gate denies the bounced addresses -------------------------------
out=$("$AKASHI" --store "$S" gate --rcpt gone1@bounce.test --list newsletter --stream marketing 2>&1)
like "$out" '"decision":"deny"' "akashi gate denies gone1@bounce.test"
like "$out" '"control":"send.suppression","detail":"suppressed since [^"]*\(hard bounce\)"' \
	"citing send.suppression (hard bounce)"
out=$("$AKASHI" --store "$S" gate --rcpt user1@ok.test --list newsletter --stream marketing 2>&1)
if printf '%s' "$out" | grep -q 'send.suppression'; then
	result 1 "a delivered recipient of the same message is not suppressed" "$out"
else
	result 0 "a delivered recipient of the same message is not suppressed"
fi

# --- complaints (ARF) --------------------------------------------------------
out=$("$AKASHI" --store "$S" ingest --kind send --format arf "$ROOT"/tests/data/arf/*.eml 2>&1)
result $? "akashi ingest --kind send --format arf exits 0" "$out"
is "$(printf '%s\n' "$out" | tail -2 | tr '\n' '|')" \
	"1 skipped (input that is not a record, e.g. other programs' log lines)|2 appended, 0 duplicates, 0 rejected|" \
	"2 complaints appended, the not-spam report skipped"
out=$("$AKASHI" --store "$S" gate --rcpt hanako@mailbox-provider.test --list newsletter --stream marketing 2>&1)
like "$out" '"control":"send.suppression","detail":"suppressed since [^"]*\(complaint\)"' \
	"akashi gate denies a complainer, citing send.suppression (complaint)"

# --- what is not a DSN --------------------------------------------------------
out=$("$AKASHI" --store "$S" ingest --kind send --format dsn "$ROOT/tests/data/dmarc/mailru.eml" 2>&1)
st=$?
[ $st -ne 0 ]
result $? "a message that is not a DSN fails the ingest (exit $st)" "$out"
like "$out" "mailru.eml: not a delivery status notification" "the reject names the file and why"
out=$("$AKASHI" --store "$S" ingest --kind send --format dsn --skip-invalid --rejects "$T/rej.jsonl" \
	"$T/bounces.mbox" "$ROOT/tests/data/dmarc/mailru.eml" 2>&1)
is "$(printf '%s\n' "$out" | tail -1)" "0 appended, 3 duplicates, 1 rejected" "--skip-invalid: the DSNs count, the other message is rejected"
# A bounce mailbox holds other mail too: an auto-reply in it is skipped, not
# a reason to refuse the mailbox.
{
	cat "$T/bounces.mbox"
	printf 'From someone@example.org Fri Mar  6 10:00:01 2026\nFrom: someone@example.org\n'
	printf 'Subject: Out of office\nDate: Fri, 6 Mar 2026 10:00:01 +0000\n\nBack on Monday.\n\n'
} >"$T/mixed.mbox"
out=$("$AKASHI" --store "$S" ingest --kind send --format dsn "$T/mixed.mbox" 2>&1)
is "$(printf '%s\n' "$out" | tail -2 | tr '\n' '|')" \
	"1 skipped (input that is not a record, e.g. other programs' log lines)|0 appended, 3 duplicates, 0 rejected|" \
	"an auto-reply in a bounce mailbox is skipped; the DSNs count"
out=$("$AKASHI" ingest --kind send --format nope x 2>&1)
like "$out" "formats for send: jsonl postfix dsn arf" "an unknown format lists dsn and arf"

done_testing
