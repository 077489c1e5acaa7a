#!/bin/sh
# bench/verify.sh - `akashi verify` of the N-entry (1,000,000) store:
# recompute every leaf, the chain, every stored tree node and checkpoint.
# Baseline in the same run: sha256sum over the same entry bytes (the
# hashing floor) and SQLite reading them (sqlite3 "SELECT sum(length(bytes))").
. "$(dirname "$0")/lib.sh"
S=$(store_dir)
"$AKASHI" --store "$S" log >"$B/verify-entries.jsonl"
times=""; shas=""; reads=""
for r in $(seq 1 "$RUNS"); do
	t0=$(now); "$AKASHI" --store "$S" verify --quiet >/dev/null; t1=$(now)
	times="$times $(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')"
	t0=$(now); sha256sum "$B/verify-entries.jsonl" >/dev/null; t1=$(now)
	shas="$shas $(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')"
	t0=$(now); sqlite3 "$S/akashi.db" "SELECT sum(length(bytes)) FROM entries" >/dev/null; t1=$(now)
	reads="$reads $(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')"
done
n=$(sqlite3 "$S/akashi.db" "SELECT size FROM head")
t=$(echo $times | tr ' ' '\n' | median)
sh=$(echo $shas | tr ' ' '\n' | median)
rd=$(echo $reads | tr ' ' '\n' | median)
echo "verify: $n entries, median of $RUNS runs"
printf "  akashi verify:                           %s entries/s (%.2f s)\n" "$(fmt "$(awk -v n="$n" -v t="$t" 'BEGIN {print n / t}')")" "$t"
printf "  baseline: sha256sum of the same bytes:    %s entries/s (%.2f s)\n" "$(fmt "$(awk -v n="$n" -v t="$sh" 'BEGIN {print n / t}')")" "$sh"
printf "  baseline: sqlite3 reading every entry:    %s entries/s (%.2f s)\n" "$(fmt "$(awk -v n="$n" -v t="$rd" 'BEGIN {print n / t}')")" "$rd"
check_target ">= 1,000,000 entries/s" "$(awk -v n="$n" -v t="$t" 'BEGIN {print (n / t >= 1000000)}')"
rm -f "$B/verify-entries.jsonl"
