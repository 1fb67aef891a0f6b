#!/bin/sh
# S3 put throughput: puts/s through the storage front and the s3 backend
# (gzip on the thread pool, SHA-256, SigV4, one PUT each) against a local
# s3rver, 2000 documents of 4 KiB, 1 and 16 in flight.  Needs
# tests/bench/storage-s3 (built by `make check`, or
# `make tests/bench/storage-s3`).  s3rver (Node.js, on disk) is the
# bottleneck here, not labd: see the CPU split printed with the figures.
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" s3 -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
BIN="$top_builddir/tests/bench/storage-s3"
[ -x "$BIN" ] || { echo "$BIN not built: make tests/bench/storage-s3" >&2; exit 1; }
N=${S3_BENCH_PUTS:-2000}
for c in 1 16; do
	s3_cpu0=$(awk '{ print $14 + $15 }' "/proc/$S3_PID/stat")
	/usr/bin/time -f '%U %S' -o "$T/time" "$BIN" "$N" "$c" 4096 >"$T/out" ||
		{ cat "$T/out" >&2; exit 1; }
	s3_cpu1=$(awk '{ print $14 + $15 }' "/proc/$S3_PID/stat")
	cat "$T/out" >&2
	rate=$(sed -n 's/.*puts_per_s=\([0-9]*\).*/\1/p' "$T/out")
	secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$T/out")
	figure "s3_puts_per_s_c$c" "$rate" puts/s
	tck=$(getconf CLK_TCK)
	figure "s3_put_cpu_labd_c$c" "$(awk '{ printf "%.0f", ($1 + $2) * 1000 }' "$T/time")" ms
	figure "s3_put_cpu_s3rver_c$c" "$(awk -v a="$s3_cpu0" -v b="$s3_cpu1" -v t="$tck" 'BEGIN { printf "%.0f", (b - a) * 1000 / t }')" ms
	figure "s3_put_wall_c$c" "$secs" s
done
verdict storage-s3 OK "$N puts of 4 KiB each at 1 and 16 in flight (no target; figures for docs/storage.md)"
done_bench storage-s3
