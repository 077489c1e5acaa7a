# bench/lib.sh - shared by the bench/*.sh scripts (sourced).
#
# Every figure is printed next to a baseline measured in the same run on the
# same data; runs are repeated (RUNS, default 3) and the median is shown,
# because the machines are noisy (research/baselines.md: +-15 %).
set -eu
ROOT=${ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
AKASHI=${AKASHI:-$ROOT/build/akashi}
B=$ROOT/build/bench
RUNS=${RUNS:-3}
N=${N:-1000000}
mkdir -p "$B"
export LC_ALL=C

PKG_CFLAGS=$(pkg-config --cflags sqlite3 openssl jansson)
PKG_LIBS="$(pkg-config --libs sqlite3 openssl jansson libarchive libgit2 expat gmime-3.0 libevent libevent_openssl libevent_pthreads opendkim) -lresolv"

tool() { # tool NAME: build bench/NAME.c into $B/NAME (linked with libakashi)
	if [ ! -x "$B/$1" ] || [ "$ROOT/bench/$1.c" -nt "$B/$1" ] || [ "$ROOT/build/libakashi.a" -nt "$B/$1" ]; then
		cc -O2 -std=c11 -D_GNU_SOURCE -I"$ROOT" $PKG_CFLAGS -o "$B/$1" "$ROOT/bench/$1.c" \
			"$ROOT/build/libakashi.a" $PKG_LIBS -lpthread -lm
	fi
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

now() { date +%s.%N; }

# fmt NUMBER: 1234567 -> 1,234,567
fmt() { printf "%.0f" "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# The 1M-entry store the ingest, verify and prove benchmarks share.
input_file() {
	tool gen
	if [ ! -s "$B/input-$N.jsonl" ]; then
		"$B/gen" "$N" >"$B/input-$N.jsonl.tmp" && mv "$B/input-$N.jsonl.tmp" "$B/input-$N.jsonl"
	fi
	echo "$B/input-$N.jsonl"
}

store_dir() {
	if [ ! -s "$B/store-$N/akashi.db" ]; then
		rm -rf "$B/store-$N"
		"$AKASHI" --store "$B/store-$N" init --origin bench.example/log >/dev/null
		"$AKASHI" --store "$B/store-$N" ingest --no-index "$(input_file)" >/dev/null
		"$AKASHI" --store "$B/store-$N" checkpoint >/dev/null
	fi
	echo "$B/store-$N"
}

# The quarter of SENDS sends (bench/gen_quarter.c) the audit, gate and
# report benchmarks share, ingested as a user would: the catalog and the
# search index are brought up to date, as the audit's scans expect.
quarter_store() { # quarter_store SENDS: prints the store directory
	_q=$B/quarter-$1
	if [ ! -e "$_q/.complete" ]; then
		tool gen_quarter
		rm -rf "$_q" && mkdir -p "$_q"
		echo "making a quarter of $(fmt "$1") sends in $_q (once)..." >&2
		"$AKASHI" --store "$_q/store" init --origin bench.example/quarter >/dev/null
		/usr/bin/time -f "%e s, peak RSS %M KB" -o "$_q/ingest.time" \
			sh -c "'$B/gen_quarter' '$1' | '$AKASHI' --store '$_q/store' ingest - >'$_q/ingest.out'"
		echo "  $(cat "$_q/ingest.out") in $(cat "$_q/ingest.time")" >&2
		touch "$_q/.complete"
	fi
	echo "$_q/store"
}

check_target() { # check_target DESCRIPTION OK(0/1)
	if [ "$2" -eq 1 ]; then echo "  target: $1: met"; else echo "  target: $1: NOT met"; fi
}
