#!/bin/sh
# bench/prove.sh - inclusion proofs on the N-entry (1,000,000) store:
# in-process time per proof over 1,000 random seqs (mean, median, p99),
# next to an SQLite point lookup of an entry measured in the same run; and
# the wall time of one `akashi prove` command (process start included).
. "$(dirname "$0")/lib.sh"
S=$(store_dir)
tool prove
set -- $("$B/prove" "$S" 1000)
echo "prove: $(sqlite3 "$S/akashi.db" 'SELECT size FROM head') entries, 1,000 random seqs"
printf "  in-process proof: mean %s ms, median %s ms, p99 %s ms\n" "$1" "$2" "$3"
printf "  baseline: SQLite point lookup of one entry: %s ms\n" "$4"
t0=$(now)
for i in 1 2 3 4 5 6 7 8 9 10; do "$AKASHI" --store "$S" prove $((i * 99991)) >/dev/null; done
t1=$(now)
printf "  akashi prove SEQ, the whole command: %.1f ms each\n" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) * 100}')"
check_target "< 5 ms per proof" "$(awk -v m="$3" 'BEGIN {print (m < 5)}')"
