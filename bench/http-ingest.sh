#!/bin/sh
# bench/http-ingest.sh - entries/s ingested over HTTP by CLIENTS (8)
# concurrent clients posting batches of 100 native entries to `akashi
# serve` (each waits for its durable answer), with p50/p99 request
# latency, next to `akashi ingest` of the same file in the same run (the
# baseline: the same validation, canonicalisation and append, no HTTP, no
# group commit across requests). Also the daemon's peak RSS after the
# ingest and after streaming the whole log out through GET /v1/entries.
#
#   N        entries (default 1,000,000; the bench/gen.c mix without its
#            system lines, which an ingest token may not send)
#   CLIENTS  concurrent clients (8), BATCH records per request (100)
#   RUNS     runs of each, the median is shown (3)
. "$(dirname "$0")/lib.sh"
CLIENTS=${CLIENTS:-8}
BATCH=${BATCH:-100}
tool http_load
IN=$(input_file)
grep -v '"kind":"system"' "$IN" >"$B/http-input.jsonl"
n=$(wc -l <"$B/http-input.jsonl")
echo "http-ingest: $(fmt "$n") entries, $CLIENTS clients x batches of $BATCH, median of $RUNS runs"

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cli_rates=""; http_rates=""; p50s=""; p99s=""; rss_ingest=0; rss_export=0
for r in $(seq 1 "$RUNS"); do
	rm -rf "$B/http-cli" "$B/http-store"
	"$AKASHI" --store "$B/http-cli" init --origin bench.example/cli >/dev/null
	t0=$(now)
	"$AKASHI" --store "$B/http-cli" ingest --no-index "$B/http-input.jsonl" >/dev/null
	t1=$(now)
	cli_rates="$cli_rates $(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN {print n / (b - a)}')"

	"$AKASHI" --store "$B/http-store" init --origin bench.example/http >/dev/null
	tok=$("$AKASHI" --store "$B/http-store" token create --role ingest 2>/dev/null)
	exp=$("$AKASHI" --store "$B/http-store" token create --role export 2>/dev/null)
	p=$(port)
	"$AKASHI" --store "$B/http-store" serve --set listen=127.0.0.1:$p --set api.rate=0 \
		--set checkpoint.interval=0 --set audit.interval=0 ${SERVE_SET:-} >"$B/http-daemon.log" 2>&1 &
	pid=$!
	for i in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$p/healthz" && break; sleep 0.05; done
	out=$("$B/http_load" 127.0.0.1 "$p" /v1/ingest "$tok" "$B/http-input.jsonl" "$CLIENTS" "$BATCH")
	set -- $out
	[ "$5" = 0 ] || { echo "  $5 requests were not answered 200" >&2; exit 1; }
	http_rates="$http_rates $1"; p50s="$p50s $3"; p99s="$p99s $4"
	rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
	[ "$rss" -gt "$rss_ingest" ] && rss_ingest=$rss
	curl -s -H "Authorization: Bearer $exp" "http://127.0.0.1:$p/v1/entries" | wc -l >"$B/http-export.count"
	rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
	[ "$rss" -gt "$rss_export" ] && rss_export=$rss
	kill -TERM $pid
	wait $pid || { echo "  the daemon did not stop cleanly" >&2; exit 1; }
	# Each request is its own input for the dedupe identity: an identical
	# record (same time, source, body, no event id) in a later request is
	# a duplicate, where the CLI, reading one file, counts it again.
	got=$(sqlite3 "$B/http-store/akashi.db" "SELECT count(*) FROM entries WHERE kind NOT IN ('system', 'checkpoint', 'alert')")
	[ "$got" = "$6" ] && [ "$(($6 + $7))" = "$n" ] ||
		{ echo "  the store holds $got entries; answers said $6 appended + $7 duplicates of $n" >&2; exit 1; }
	dups=$7
done
cli=$(echo $cli_rates | tr ' ' '\n' | median)
http=$(echo $http_rates | tr ' ' '\n' | median)
p50=$(echo $p50s | tr ' ' '\n' | median)
p99=$(echo $p99s | tr ' ' '\n' | median)
printf "  akashi serve, POST /v1/ingest (durable before each 200):  %s entries/s\n" "$(fmt "$http")"
printf "  request latency: p50 %s ms, p99 %s ms\n" "$p50" "$p99"
printf "  baseline: akashi ingest of the same file, same run:       %s entries/s\n" "$(fmt "$cli")"
printf "  ratio: %s\n" "$(ratio "$http" "$cli")"
echo "  ($dups of the $(fmt "$n") records were identical to one in an earlier request: duplicates over HTTP)"
echo "  daemon peak RSS: $rss_ingest KB after the ingest, $rss_export KB after streaming $(cat "$B/http-export.count") entries out"
check_target ">= 100,000 entries/s over HTTP" "$(awk -v a="$http" 'BEGIN {print (a >= 100000)}')"
check_target "p99 < 50 ms" "$(awk -v a="$p99" 'BEGIN {print (a < 50)}')"
check_target "daemon RSS < 100 MB" "$(awk -v a="$rss_export" 'BEGIN {print (a < 102400)}')"
rm -rf "$B/http-cli" "$B/http-store"
