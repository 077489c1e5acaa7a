#!/bin/sh
# bench/postfix-ingest.sh - throughput of the Postfix maillog adapter alone
# (parse, join, build every body; the sink only counts), next to `wc -l`
# and `grep -c status=` on the same file in the same run, and its peak RSS.
# Medians of three runs. Needs build/libakashi.a (make all) and python3.
#
#   BENCH_POSTFIX_MB   size of the synthetic maillog (default 1024), made by
#                      bench/gen-maillog.py from tests/data/postfix/real-*.log
set -eu
mb=${BENCH_POSTFIX_MB:-1024}
dir=$(mktemp -d /tmp/akashi-bench-postfix.XXXXXX)
trap 'rm -rf "$dir"' EXIT INT TERM

cc -std=c11 -D_GNU_SOURCE -I. -O2 -o "$dir/postfix_bench" bench/postfix_bench.c \
	build/libakashi.a $(pkg-config --libs jansson) -lpthread -lm
python3 bench/gen-maillog.py --mb "$mb" tests/data/postfix/real-*.log >"$dir/maillog"
cat "$dir/maillog" >/dev/null # the same warm page cache for every contender

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", b - a }'; }
median() { sort -g | sed -n 2p; }

lines=$(wc -l <"$dir/maillog")
for i in 1 2 3; do
	t0=$(now); wc -l <"$dir/maillog" >/dev/null; t1=$(now)
	elapsed "$t0" "$t1"
done | median >"$dir/wc"
for i in 1 2 3; do
	t0=$(now); grep -c status= "$dir/maillog" >/dev/null || true; t1=$(now)
	elapsed "$t0" "$t1"
done | median >"$dir/grep"
for i in 1 2 3; do
	/usr/bin/time -v -o "$dir/time.$i" "$dir/postfix_bench" "$dir/maillog" >"$dir/out.$i"
	awk '{print $8}' "$dir/out.$i"
done | median >"$dir/ours"
rss=$(grep -h 'Maximum resident' "$dir"/time.* | awk '{print $6}' | sort -n | tail -1)

awk -v lines="$lines" -v mb="$mb" -v wc="$(cat "$dir/wc")" -v gr="$(cat "$dir/grep")" \
	-v ours="$(cat "$dir/ours")" -v rss="$rss" -v out="$(cat "$dir/out.1")" 'BEGIN {
	printf "maillog: %d MiB, %d lines (%s)\n", mb, lines, out
	printf "wc -l:             %6.2f s  %10.0f lines/s\n", wc, lines / wc
	printf "grep -c status=:   %6.2f s  %10.0f lines/s\n", gr, lines / gr
	printf "postfix adapter:   %6.2f s  %10.0f lines/s  (%.2fx grep, %.2fx wc -l)\n",
		ours, lines / ours, gr / ours, wc / ours
	printf "adapter peak RSS:  %.1f MiB\n", rss / 1024
}'
