#!/bin/sh
# labctl compare on many small documents (docs/migration.md): N documents
# (COMPARE_BENCH_DOCS, default 100000; 200-byte JSON, gzip) stored by
# tests/bench/storage-s3 once into a local fs tree and once into a local
# s3rver, then `labctl-compare s3://BUCKET TREE` (ListObjectsV2 pages of
# 1000, GETs --jobs at a time) and, in the same run, TREE against a copy of
# itself.  Prints the wall times and their ratio.  s3rver (Node.js, one file
# per object) is the limit of the S3 figure; see the CPU split.
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" s3 -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
PUT="$top_builddir/tests/bench/storage-s3"
CMP="$top_builddir/tools/labctl-compare"
for b in "$PUT" "$CMP"; do
	[ -x "$b" ] || { echo "$b not built (make bench)" >&2; exit 1; }
done
N=${COMPARE_BENCH_DOCS:-100000}
JOBS=${COMPARE_BENCH_JOBS:-32}

mkdir -p "$T/a"
BENCH_FS_ROOT="$T/a" "$PUT" "$N" 16 200 >&2 || exit 1
"$PUT" "$N" 16 200 >&2 || exit 1
cp -r "$T/a" "$T/b"

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
t0=$(date +%s%N)
"$CMP" --no-progress -j "$JOBS" "$T/a" "$T/b" >"$T/ff.out" 2>&1 || { cat "$T/ff.out" >&2; exit 1; }
t1=$(date +%s%N)
/usr/bin/time -f '%U %S' -o "$T/time" "$CMP" --no-progress -j "$JOBS" "s3://$S3_BUCKET" "$T/a" >"$T/sf.out" 2>&1 ||
	{ cat "$T/sf.out" >&2; exit 1; }
t2=$(date +%s%N)
grep -q "^total *$N  *0  *0  *0  *0  *0$" "$T/sf.out" || { cat "$T/sf.out" >&2; exit 1; }
ff=$(secs "$t0" "$t1")
sf=$(secs "$t1" "$t2")
figure compare_fs_vs_fs_seconds "$ff" "s ($N documents)"
figure compare_s3rver_vs_fs_seconds "$sf" "s ($N documents, --jobs $JOBS)"
figure compare_s3rver_vs_fs_docs_per_s "$(awk -v n="$N" -v s="$sf" 'BEGIN { printf "%.0f", n / s }')" "documents/s"
figure compare_s3rver_vs_fs_over_fs_vs_fs "$(awk -v a="$sf" -v b="$ff" 'BEGIN { printf "%.1f", a / b }')" "x"
figure compare_cpu_user_system "$(cat "$T/time")" "s (labctl-compare, s3rver vs fs)"
done_bench compare
