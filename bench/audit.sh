#!/bin/sh
# bench/audit.sh - `akashi audit --quarter 2026Q3` over a quarter of
# SENDS (10,000,000) sends, about SENDS/10 consent records and SENDS/100
# admin events (bench/gen_quarter.c); time and peak RSS, next to the time
# SQLite takes to read the same entries (the floor of any pass over them),
# in the same run. Then bench/gate: decisions per second against that store.
# The store is built once and kept in build/bench/quarter-SENDS/.
. "$(dirname "$0")/lib.sh"
SENDS=${SENDS:-10000000}
tool gate
S=$(quarter_store "$SENDS")
Q=$B/quarter-$SENDS
n=$(sqlite3 "$S/akashi.db" "SELECT size FROM head")
t0=$(now)
sqlite3 "$S/akashi.db" "SELECT count(*), max(bytes) FROM entries WHERE kind IN ('send','consent','admin','dmarc')" >/dev/null
t1=$(now)
read_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
/usr/bin/time -f "%e %M" -o "$Q/audit.time" "$AKASHI" --store "$S" audit --quarter 2026Q3 --no-record >"$Q/audit.out"
set -- $(cat "$Q/audit.time")
echo "audit: $n entries in the store, quarter 2026Q3"
printf "  akashi audit --quarter 2026Q3: %.1f s, peak RSS %.0f MB\n" "$1" "$(awk -v k="$2" 'BEGIN {print k / 1024}')"
printf "  baseline: sqlite3 reading the same entries: %.1f s\n" "$read_s"
check_target "<= 30 s" "$(awk -v t="$1" 'BEGIN {print (t <= 30)}')"
sed -n '3,20p' "$Q/audit.out" | sed 's/^/    /'
set -- $("$B/gate" "$S" "$((SENDS / 21 + 1))" 1000000)
echo "gate: 1,000,000 decisions for random recipients of the pool"
printf "  akashi gate, batches of 500 on one snapshot: %s decisions/s (%s allowed)\n" "$(fmt "$1")" "$(fmt "$3")"
printf "  akashi gate, each check on its own:          %s decisions/s\n" "$(fmt "$4")"
printf "  baseline: sqlite3 point lookups, same keys:  %s lookups/s\n" "$(fmt "$2")"
check_target ">= 200,000 decisions/s" "$(awk -v a="$1" 'BEGIN {print (a >= 200000)}')"
