#!/bin/sh
# bench/ingest-postfix.sh - Postfix maillog lines per second through
# `akashi ingest --kind send --format postfix` (parsed, joined, validated,
# canonicalised, deduplicated and durably appended), and through the
# adapter alone (the sink only counts), next to `wc -l` and
# `grep -c status=` on the same file in the same run; peak RSS of both.
# Medians of three runs, in CPU time (user + system) as well as wall time:
# on a shared machine wall time mostly measures the neighbours. Needs
# build/libakashi.a (make all), python3 and /usr/bin/time.
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
lines=$(wc -l <"$dir/maillog")

# run NAME CMD...: three runs; NAME.cpu and NAME.wall get the medians,
# NAME.rss the largest peak RSS (KiB).
run() {
	name=$1
	shift
	for i in 1 2 3; do
		/usr/bin/time -f "%U %S %e %M" -o "$dir/$name.t$i" "$@" >"$dir/$name.out" || true
	done
	cat "$dir/$name".t? | awk '{print $1 + $2}' | sort -g | sed -n 2p >"$dir/$name.cpu"
	cat "$dir/$name".t? | awk '{print $3}' | sort -g | sed -n 2p >"$dir/$name.wall"
	cat "$dir/$name".t? | awk '{print $4}' | sort -n | tail -1 >"$dir/$name.rss"
}
run wc wc -l "$dir/maillog"
run grep grep -c status= "$dir/maillog"
run ours "$dir/postfix_bench" "$dir/maillog"
# The whole ingest, once (it appends): wall time, since it waits on fsync.
akashi=${AKASHI:-build/akashi}
"$akashi" --store "$dir/store" init >/dev/null
/usr/bin/time -f "%U %S %e %M" -o "$dir/full.t" "$akashi" --store "$dir/store" ingest --no-index \
	--kind send --format postfix --year 2026 --zone UTC "$dir/maillog" >"$dir/full.out"

awk -v lines="$lines" -v mb="$mb" -v out="$(cat "$dir/ours.out")" \
	-v wc="$(cat "$dir/wc.cpu")" -v wcw="$(cat "$dir/wc.wall")" \
	-v gr="$(cat "$dir/grep.cpu")" -v grw="$(cat "$dir/grep.wall")" \
	-v ours="$(cat "$dir/ours.cpu")" -v oursw="$(cat "$dir/ours.wall")" \
	-v rss="$(cat "$dir/ours.rss")" 'BEGIN {
	printf "maillog: %d MiB, %d lines (adapter: %s)\n", mb, lines, out
	printf "%-18s %8s %14s %8s\n", "", "cpu s", "lines/s (cpu)", "wall s"
	printf "%-18s %8.2f %14.0f %8.2f\n", "wc -l", wc, lines / wc, wcw
	printf "%-18s %8.2f %14.0f %8.2f\n", "grep -c status=", gr, lines / gr, grw
	printf "%-18s %8.2f %14.0f %8.2f\n", "postfix adapter", ours, lines / ours, oursw
	printf "adapter / wc -l: %.2f   adapter / grep: %.2f (time ratios, cpu)\n", ours / wc, ours / gr
	printf "adapter peak RSS: %.1f MiB\n", rss / 1024
}'
awk -v lines="$lines" -v out="$(tail -1 "$dir/full.out")" '{
	printf "akashi ingest --format postfix: %.0f lines/s (wall %.1f s, cpu %.1f s, peak RSS %.1f MiB; %s)\n",
		lines / $3, $3, $1 + $2, $4 / 1024, out
	printf "  target: >= 200,000 lines/s: %s\n", ((lines / $3 >= 200000) ? "met" : "NOT met")
}' "$dir/full.t"
