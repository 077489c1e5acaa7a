#!/bin/sh
# bench/export.sh - `akashi export --seq 1-N` of N (1,000,000) entries into a
# tar.gz evidence bundle, and `akashi verify-bundle` of it, next to baselines
# over the same bytes measured in the same run: `tar czf` of the unpacked
# bundle (what export must at least do: compress it) and `sha256sum` of its
# files plus `tar xzf` (what verify must at least do: decompress and hash).
# Peak RSS too, for a range of N/10 and of N: it must not grow with N.
# Targets (issue 7): export <= 30 s, verify <= 10 s, bounded memory.
. "$(dirname "$0")/lib.sh"
SRC=$(store_dir)
# Every export appends to the log (a checkpoint, its own record): use a copy.
rm -rf "$B/export-store" "$B/export-x"
cp -r "$SRC" "$B/export-store"
ST=$B/export-store
echo "export: --seq 1-$(fmt "$N") of a $(fmt "$N")-entry store as tar.gz, median of $RUNS runs"

timed() { # timed OUTFILE CMD...: run CMD, append "seconds peak_rss_kb" to OUTFILE
	local out=$1
	shift
	/usr/bin/time -f "%e %M" -o "$B/time.tmp" "$@" >/dev/null
	cat "$B/time.tmp" >>"$out"
}
col() { cut -d' ' -f"$1" "$2" | median; }

rm -f "$B"/t.export "$B"/t.verify "$B"/t.tarczf "$B"/t.sha "$B"/t.tarxzf
for r in $(seq 1 "$RUNS"); do
	rm -f "$B/export.tar.gz"
	timed "$B/t.export" "$AKASHI" --store "$ST" export --seq "1-$N" --reason bench -o "$B/export.tar.gz"
	timed "$B/t.verify" "$AKASHI" verify-bundle "$B/export.tar.gz"
	rm -rf "$B/export-x" && mkdir -p "$B/export-x"
	timed "$B/t.tarxzf" tar xzf "$B/export.tar.gz" -C "$B/export-x"
	timed "$B/t.tarczf" tar czf "$B/baseline.tar.gz" -C "$B/export-x" .
	timed "$B/t.sha" sh -c "find '$B/export-x' -type f -exec sha256sum {} + "
done
"$AKASHI" verify-bundle "$B/export.tar.gz" | sed 's/^/  /' | cut -c1-160
echo "  bundle: $(du -m "$B/export.tar.gz" | cut -f1) MB compressed, $(du -sm "$B/export-x" | cut -f1) MB of files"
es=$(col 1 "$B/t.export"); em=$(col 2 "$B/t.export")
vs=$(col 1 "$B/t.verify"); vm=$(col 2 "$B/t.verify")
cs=$(col 1 "$B/t.tarczf"); cm=$(col 2 "$B/t.tarczf")
xs=$(col 1 "$B/t.tarxzf"); ss=$(col 1 "$B/t.sha")
printf "  akashi export (checkpoint, scan, range proof, spool, gzip, fsync, record): %6.2f s  %7s KB peak\n" "$es" "$em"
printf "  baseline: tar czf of the same files:                                     %6.2f s  %7s KB peak\n" "$cs" "$cm"
printf "  ratio export / tar czf: %s\n" "$(ratio "$es" "$cs")"
printf "  akashi verify-bundle (2 reads, manifest, signatures, leaves, range proof): %6.2f s  %7s KB peak\n" "$vs" "$vm"
printf "  baseline: tar xzf + sha256sum of the same files:                          %6.2f s (%.2f + %.2f)\n" \
	"$(awk -v a="$xs" -v b="$ss" 'BEGIN {print a + b}')" "$xs" "$ss"
printf "  ratio verify / (tar xzf + sha256sum): %s\n" "$(ratio "$vs" "$(awk -v a="$xs" -v b="$ss" 'BEGIN {print a + b}')")"

# Memory at a tenth of the range: flat, not proportional to the entries.
rm -f "$B/export-tenth.tar.gz"
timed "$B/t.tenth" "$AKASHI" --store "$ST" export --seq "1-$((N / 10))" --reason bench -o "$B/export-tenth.tar.gz"
timed "$B/t.tenthv" "$AKASHI" verify-bundle "$B/export-tenth.tar.gz"
echo "  peak RSS, range of $(fmt $((N / 10))): export $(tail -1 "$B/t.tenth" | cut -d' ' -f2) KB, verify $(tail -1 "$B/t.tenthv" | cut -d' ' -f2) KB;" \
	"of $(fmt "$N"): export $em KB, verify $vm KB"
# The same export as zip, once.
rm -f "$B/export.zip"
timed "$B/t.zip" "$AKASHI" --store "$ST" export --seq "1-$N" --reason bench -o "$B/export.zip"
timed "$B/t.zipv" "$AKASHI" verify-bundle "$B/export.zip"
echo "  as zip (one run): export $(cut -d' ' -f1 "$B/t.zip") s, verify $(cut -d' ' -f1 "$B/t.zipv") s"
check_target "export <= 30 s" "$(awk -v a="$es" 'BEGIN {print (a <= 30)}')"
check_target "verify <= 10 s" "$(awk -v a="$vs" 'BEGIN {print (a <= 10)}')"
check_target "bounded memory (peak RSS at N within 1.5 x that at N/10)" \
	"$(awk -v a="$em" -v b="$(tail -1 "$B/t.tenth" | cut -d' ' -f2)" -v c="$vm" -v d="$(tail -1 "$B/t.tenthv" | cut -d' ' -f2)" \
		'BEGIN {print (a <= 1.5 * b && c <= 1.5 * d)}')"
rm -rf "$B/export-x" "$B/export-store" "$B"/export*.tar.gz "$B"/export.zip "$B/baseline.tar.gz" "$B"/t.* "$B/time.tmp"
