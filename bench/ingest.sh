#!/bin/sh
# bench/ingest.sh - durable ingest of N (1,000,000) native entries of about
# 300 bytes in batches of 1,000, against raw SQLite storing the same entry
# bytes into a plain table (WAL, synchronous=FULL, batches of 1,000) in the
# same run. Also: peak memory at N and N/10 (it must stay flat), and the
# rate at which the catalog and the full-text index catch up afterwards.
. "$(dirname "$0")/lib.sh"
tool sqlite_raw
IN=$(input_file)
echo "ingest: $N native entries, $(du -m "$IN" | cut -f1) MB of JSON Lines, median of $RUNS runs"

rates=""; raws=""
for r in $(seq 1 "$RUNS"); do
	rm -rf "$B/ingest-store" "$B/raw.db" "$B/raw.db-wal" "$B/raw.db-shm"
	"$AKASHI" --store "$B/ingest-store" init --origin bench.example/ingest >/dev/null
	t0=$(now)
	"$AKASHI" --store "$B/ingest-store" ingest --no-index "$IN" >/dev/null
	t1=$(now)
	rates="$rates $(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN {print n / (b - a)}')"
	[ -s "$B/entries-$N.jsonl" ] || "$AKASHI" --store "$B/ingest-store" log >"$B/entries-$N.jsonl"
	raws="$raws $("$B/sqlite_raw" "$B/entries-$N.jsonl" "$B/raw.db" 1000)"
done
ak=$(echo $rates | tr ' ' '\n' | median)
raw=$(echo $raws | tr ' ' '\n' | median)
printf "  akashi ingest (validate, canonicalise, hash, dedupe, append; durable): %s entries/s\n" "$(fmt "$ak")"
printf "  baseline: raw SQLite, same entry bytes, plain table:                 %s rows/s\n" "$(fmt "$raw")"
printf "  ratio: %s\n" "$(ratio "$ak" "$raw")"
check_target ">= 250,000 entries/s" "$(awk -v a="$ak" 'BEGIN {print (a >= 250000)}')"
check_target ">= 0.5 x raw SQLite" "$(awk -v a="$ak" -v b="$raw" 'BEGIN {print (a >= 0.5 * b)}')"

# fsync latency of this disk, the floor under every durable batch
cat >"$B/fsync.c" <<'C'
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
int main(int c, char **v) { static char b[300 * 1000]; struct timespec x, y; int fd = open(v[1], O_WRONLY | O_CREAT | O_TRUNC, 0600), i;
clock_gettime(CLOCK_MONOTONIC, &x); for (i = 0; i < 50; i++) { if (pwrite(fd, b, sizeof b, (off_t)i * sizeof b) < 0 || fdatasync(fd)) return 1; }
clock_gettime(CLOCK_MONOTONIC, &y); printf("%.2f\n", ((y.tv_sec - x.tv_sec) * 1e3 + (y.tv_nsec - x.tv_nsec) / 1e6) / 50); close(fd); unlink(v[1]); return 0; }
C
cc -O2 -o "$B/fsync" "$B/fsync.c"
ms=$("$B/fsync" "$B/fsync.tmp")
echo "  disk: a 300 KB write + fdatasync takes $ms ms here, so even with no other work durable batches of 1,000 top out near $(fmt "$(awk -v m="$ms" 'BEGIN {print 1000 / m * 1000}')") entries/s"

# Peak memory, N/10 and N entries: flat, not proportional to the input.
head -n $((N / 10)) "$IN" >"$B/input-tenth.jsonl"
for f in "$B/input-tenth.jsonl" "$IN"; do
	rm -rf "$B/mem-store"
	"$AKASHI" --store "$B/mem-store" init >/dev/null
	/usr/bin/time -f "%M" -o "$B/rss" "$AKASHI" --store "$B/mem-store" ingest --no-index "$f" >/dev/null
	echo "  peak RSS ingesting $(wc -l <"$f") entries: $(cat "$B/rss") KB"
done

# The derived indexes catch up behind ingest --no-index (not part of the
# figure above): the first search brings the kind/time catalog and the
# full-text index up to date.
t0=$(now)
"$AKASHI" --store "$B/mem-store" search --limit 1 "user42@example.org" >/dev/null
t1=$(now)
echo "  catalog + full-text index catch-up (FTS5 trigram, behind ingest): $(fmt "$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN {print n / (b - a)}')") entries/s"
rm -rf "$B/mem-store" "$B/ingest-store" "$B/raw.db"*
