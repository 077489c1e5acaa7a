#!/bin/sh
# bench/ingest-dmarc.sh - DMARC ingest rate next to `xmllint --stream` on the same
# ~100 MB synthetic report, in the same run, and our peak RSS.
#
# Run by `make bench` after the release build (build/libakashi.a). The
# report is made by bench/gen-dmarc.py in a temporary directory and removed.
# CPU time (user + system) is compared, not wall time, so a busy machine
# slows both sides alike. The target is a ratio >= 0.7.
set -eu
MB=${DMARC_BENCH_MB:-100}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

python3 bench/gen-dmarc.py tests/data/dmarc/nice-input.xml "$MB" > "$tmp/big.xml"
mkdir -p build/bench
${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -I. -o build/bench/dmarc_bench bench/dmarc_bench.c build/libakashi.a \
	$(pkg-config --cflags --libs expat libarchive gmime-3.0 jansson) -lpthread -lm
bytes=$(wc -c < "$tmp/big.xml")

# Best of five, interleaved: the least disturbed run of each (shared
# machines make single runs vary by 50 %).
best() { sort -n | head -1; }
cpu() { /usr/bin/time -f '%U %S %M' "$@" 2>&1 >/dev/null | tail -1; }
for i in 1 2 3 4 5; do
	cpu xmllint --stream --noout "$tmp/big.xml" | awk '{print $1 + $2}' >> "$tmp/xmllint"
	cpu build/bench/dmarc_bench "$tmp/big.xml" | awk '{print $1 + $2, $3}' >> "$tmp/ours"
done
x=$(best < "$tmp/xmllint")
o=$(awk '{print $1}' "$tmp/ours" | best)
rss=$(awk '{print $2}' "$tmp/ours" | sort -n | tail -1)
awk -v b="$bytes" -v x="$x" -v o="$o" -v rss="$rss" 'BEGIN {
	printf "dmarc ingest: %.0f MB/s (%.2f s CPU), xmllint --stream: %.0f MB/s (%.2f s CPU), ratio %.2f (target >= 0.70)\n",
		b / o / 1e6, o, b / x / 1e6, x, x / o
	printf "dmarc ingest: peak RSS %.1f MB for a %.0f MB report\n", rss / 1024, b / 1e6
}'
# The whole ingest through the CLI (parse, validate, canonicalise, append
# the one ~100 MB entry durably), once: wall and CPU time, peak RSS.
akashi=${AKASHI:-build/akashi}
"$akashi" --store "$tmp/store" init >/dev/null
/usr/bin/time -f "%U %S %e %M" -o "$tmp/full.t" "$akashi" --store "$tmp/store" ingest --no-index \
	--kind dmarc "$tmp/big.xml" >"$tmp/full.out"
awk -v b="$bytes" -v x="$x" -v out="$(tail -1 "$tmp/full.out")" '{
	printf "akashi ingest --kind dmarc: %.0f MB/s (wall %.2f s, cpu %.2f s; %s), %.2f x xmllint --stream (cpu), peak RSS %.1f MB\n",
		b / $3 / 1e6, $3, $1 + $2, out, x / ($1 + $2), $4 / 1024
}' "$tmp/full.t"
