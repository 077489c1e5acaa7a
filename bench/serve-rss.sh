#!/bin/sh
# bench/serve-rss.sh - the daemon's memory on a big store: peak RSS
# (VmHWM) of `akashi serve` on the N-entry store of bench/lib.sh after
# start, after streaming the whole log out through GET /v1/entries, after
# searches, proofs and consent lookups, and after HTTP ingest of 100,000
# more entries; next to the RSS of `akashi log` streaming the same log
# (the baseline: the same reads without a daemon). Target: < 100 MB with
# 10M entries (N=10000000; the default N is 1,000,000), or RSS_STORE=DIR
# for a copy of an existing store (e.g. the 11M-entry quarter of
# bench/audit.sh: RSS_STORE=build/bench/quarter-10000000/store).
. "$(dirname "$0")/lib.sh"
tool http_load
# A copy: the daemon appends (its start, a token, an export record) and the
# shared store must stay as the other benchmarks expect it.
rm -rf "$B/rss-store"
cp -r "${RSS_STORE:-$(store_dir)}" "$B/rss-store"
S=$B/rss-store
size=$(sqlite3 "$S/akashi.db" "SELECT size FROM head")
echo "serve-rss: a store of $(fmt "$size") entries ($(du -sm "$S" | cut -f1) MB)"
tok=$("$AKASHI" --store "$S" token create --role admin 2>/dev/null)
p=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$AKASHI" --store "$S" serve --set listen=127.0.0.1:$p --set api.rate=0 --set checkpoint.interval=0 \
	--set audit.interval=0 >"$B/rss-daemon.log" 2>&1 &
pid=$!
for i in $(seq 1 400); do curl -s -o /dev/null "http://127.0.0.1:$p/healthz" && break; sleep 0.05; done
hwm() { awk '/VmHWM/ {print $2}' /proc/$pid/status; }
echo "  after start:                         $(hwm) KB"
t0=$(now)
n=$(curl -s -H "Authorization: Bearer $tok" "http://127.0.0.1:$p/v1/entries" | wc -l)
t1=$(now)
echo "  after streaming $(fmt "$n") entries out:  $(hwm) KB ($(fmt "$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN {print n / (b - a)}')") entries/s)"
for q in user42 autumn-007 example.org; do
	curl -s -o /dev/null -H "Authorization: Bearer $tok" "http://127.0.0.1:$p/v1/search?q=$q&limit=1000"
done
for s in 1 $((size / 2)) $size; do
	curl -s -o /dev/null -H "Authorization: Bearer $tok" "http://127.0.0.1:$p/v1/proof/$s?size=$size"
done
curl -s -o /dev/null -H "Authorization: Bearer $tok" "http://127.0.0.1:$p/v1/consent/user42%40example.org"
echo "  after searches, proofs, consent:     $(hwm) KB"
"$B/gen" 100000 7 | grep -v '"kind":"system"' >"$B/rss-more.jsonl"
"$B/http_load" 127.0.0.1 "$p" /v1/ingest "$tok" "$B/rss-more.jsonl" 8 100 >/dev/null
rss=$(hwm)
echo "  after ingesting 100,000 more:        $rss KB"
kill -TERM $pid
wait $pid
/usr/bin/time -f "%M" -o "$B/rss-log" "$AKASHI" --store "$S" log >/dev/null
echo "  baseline: akashi log of the same store: $(cat "$B/rss-log") KB"
check_target "daemon RSS < 100 MB" "$(awk -v a="$rss" 'BEGIN {print (a < 102400)}')"
rm -rf "$B/rss-store"
