#!/bin/sh
# bench/audit.sh - `akashi audit --quarter 2026Q3` over a quarter of
# SENDS (10,000,000) sends, CONSENT (1,000,000) consent records and ADMIN
# (100,000) admin events; time and peak RSS, next to the time SQLite takes
# to read the same entries (the floor of any pass over them), in the same
# run. Then bench/gate: decisions per second against that store.
# The store is built once and kept in build/bench/quarter-SENDS/.
. "$(dirname "$0")/lib.sh"
SENDS=${SENDS:-10000000}
CONSENT=${CONSENT:-1000000}
ADMIN=${ADMIN:-100000}
Q=$B/quarter-$SENDS
tool gen_quarter
tool gate
if [ ! -s "$Q/store/akashi.db" ]; then
	rm -rf "$Q" && mkdir -p "$Q"
	echo "audit: building the quarter ($SENDS sends, $CONSENT consent, $ADMIN admin)..."
	"$AKASHI" --store "$Q/store" init --origin bench.example/quarter >/dev/null
	t0=$(now)
	# Ingested as a user would: the catalog and search index are brought
	# up to date, as the audit's scans by kind and time expect.
	"$B/gen_quarter" "$SENDS" "$CONSENT" "$ADMIN" | "$AKASHI" --store "$Q/store" ingest - >"$Q/ingest.out"
	t1=$(now)
	echo "  ingested: $(cat "$Q/ingest.out") in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}') s"
fi
S=$Q/store
n=$(sqlite3 "$S/akashi.db" "SELECT size FROM head")
t0=$(now)
sqlite3 "$S/akashi.db" "SELECT count(*), sum(length(bytes)) FROM entries WHERE kind IN ('send','consent','admin')" >/dev/null
t1=$(now)
read_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
/usr/bin/time -f "%e %M" -o "$Q/audit.time" "$AKASHI" --store "$S" audit --quarter 2026Q3 --no-record >"$Q/audit.out"
set -- $(cat "$Q/audit.time")
echo "audit: $n entries in the store, quarter 2026Q3"
printf "  akashi audit --quarter 2026Q3: %.1f s, peak RSS %.0f MB\n" "$1" "$(awk -v k="$2" 'BEGIN {print k / 1024}')"
printf "  baseline: sqlite3 reading the same entries: %.1f s\n" "$read_s"
check_target "<= 30 s" "$(awk -v t="$1" 'BEGIN {print (t <= 30)}')"
sed -n '3,20p' "$Q/audit.out" | sed 's/^/    /'
set -- $("$B/gate" "$S" "$((CONSENT / 2))" 1000000)
echo "gate: 1,000,000 decisions for random recipients of the pool"
printf "  akashi gate:                               %s decisions/s (%s allowed)\n" "$(fmt "$1")" "$(fmt "$3")"
printf "  baseline: sqlite3 point lookups, same keys: %s lookups/s\n" "$(fmt "$2")"
check_target ">= 200,000 decisions/s" "$(awk -v a="$1" 'BEGIN {print (a >= 200000)}')"
