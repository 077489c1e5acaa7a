#!/bin/sh
# bench/report.sh - the quarterly report (akashi report) over a large
# quarter, next to `akashi audit` of the same quarter on the same store in
# the same run as the baseline.
#
#   REPORT_STORE=DIR  use that store; its policies are the store's own
#                     (DIR/policies or policies.repo).
#   REPORT_SENDS=N    otherwise the quarter of N sends (default 10,000,000)
#                     that bench/audit.sh uses too: about N/10 consent
#                     records and N/100 admin events (bench/gen_quarter.c),
#                     kept in build/bench/quarter-N.
# The audits and reports made here are recorded in the store, as they would
# be.
#   REPORT_QUARTER    the quarter (default 2026Q3).
#
# Figures, medians of RUNS runs, interleaved:
#   audit      akashi audit --quarter Q (reads the log once per kind, records)
#   report     akashi report --format html once that audit is on record: one
#              pass over the log, the previous quarter's audit run alongside
#              when it is not on record
# and, once each: the report in JSON and CSV; the report once the previous
# quarter's audit is on record too; and (own store only) the report when
# entries came after the audit, so that it runs the audit itself.
. "$(dirname "$0")/lib.sh"

Q=${REPORT_QUARTER:-2026Q3}
y=${Q%Q*}
q=${Q#*Q}
if [ "$q" = 1 ]; then PREV="$((y - 1))Q4"; else PREV="${y}Q$((q - 1))"; fi

own=0
if [ -n "${REPORT_STORE:-}" ]; then
	S=$REPORT_STORE
	[ -s "$S/akashi.db" ] || { echo "report: $S holds no store" >&2; exit 1; }
else
	own=1
	SENDS=${REPORT_SENDS:-10000000}
	S=$(quarter_store "$SENDS")
fi
echo "report: quarter $Q of $S, median of $RUNS runs"

timed() { # timed OUTVAR CMD...: run CMD, set OUTVAR to seconds, print nothing
	_v=$1
	shift
	/usr/bin/time -f "%e %M" -o "$B/report.time" "$@" >/dev/null || exit 1
	eval "$_v=\$(cut -d' ' -f1 \"\$B/report.time\")"
	rss=$(cut -d' ' -f2 "$B/report.time")
}

audits=""
reports=""
for r in $(seq 1 "$RUNS"); do
	timed a "$AKASHI" --store "$S" audit --quarter "$Q"
	audits="$audits $a"
	timed t "$AKASHI" --store "$S" report --quarter "$Q" --format html -o "$B/report.html"
	reports="$reports $t"
done
ra=$(echo $audits | tr ' ' '\n' | median)
rr=$(echo $reports | tr ' ' '\n' | median)
report_rss=$rss
timed tj "$AKASHI" --store "$S" report --quarter "$Q" --format json -o "$B/report.json"
timed tc "$AKASHI" --store "$S" report --quarter "$Q" --format csv -o "$B/report.csv"
sends=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sends"]["total"])' "$B/report.json")
prev=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["previous_source"])' "$B/report.json")

printf "  baseline: akashi audit --quarter %s (reads each kind, records):      %6.1f s\n" "$Q" "$ra"
printf "  akashi report --format html (audit on record, previous quarter %s): %6.1f s  (peak RSS %s MB)\n" \
	"$prev" "$rr" "$((report_rss / 1024))"
printf "  ratio report / audit: %s\n" "$(ratio "$rr" "$ra")"
printf "  the same report as JSON: %.1f s, as CSV: %.1f s; %s send records in the quarter\n" \
	"$tj" "$tc" "$(fmt "$sends")"

# The previous quarter on record too (as it is once its own report was made).
"$AKASHI" --store "$S" audit --quarter "$PREV" >/dev/null
timed tw "$AKASHI" --store "$S" report --quarter "$Q" --format html -o "$B/report.html"
printf "  report with the previous quarter's audit on record too:           %6.1f s\n" "$tw"

# New entries for the quarter after its audit: the report runs it again.
if [ "$own" = 1 ]; then
	echo "{\"kind\":\"send\",\"time\":\"2026-09-30T12:00:00Z\",\"source\":\"bench\",\"body\":{\"message_id\":\"<late-$(date +%s%N)@bench.example>\",\"rcpt\":\"late@example.com\",\"list\":\"newsletter\",\"stream\":\"marketing\",\"status\":\"sent\"}}" |
		"$AKASHI" --store "$S" ingest - >/dev/null
	timed tr2 "$AKASHI" --store "$S" report --quarter "$Q" --format html -o "$B/report.html"
	printf "  report that must run the audit itself (an entry came after it):   %6.1f s\n" "$tr2"
fi
check_target "quarterly report of $(fmt "$sends") sends <= 60 s" "$(awk -v a="$rr" 'BEGIN {print (a <= 60)}')"
