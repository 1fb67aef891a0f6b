#!/bin/sh
# Stores: documents/s through the storage front (gzip on the thread pool,
# then the backend) on fs and on a local s3rver (SHA-256, SigV4, one PUT
# each), STORE_BENCH_PUTS documents of 4 KiB (default 2000) at 1 and 16 in
# flight; then what one stored document costs on the wire: the puts go
# through tests/bench/http-count, a counting relay in front of s3rver, and
# the requests by method and the bytes each way are divided by the number of
# documents (target: exactly 1 PUT per document, no HEAD/COPY/DELETE).
# Needs tests/bench/storage-s3 and tests/bench/http-count (`make bench`
# builds them).  s3rver (Node.js, on disk) is the bottleneck of the s3
# figures, not labd: see the CPU split printed with them.
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" s3 -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
BIN="$top_builddir/tests/bench/storage-s3"
COUNT="$top_builddir/tests/bench/http-count"
for b in "$BIN" "$COUNT"; do
	[ -x "$b" ] || { echo "$b not built: make $(basename "$b")" >&2; exit 1; }
done
N=${STORE_BENCH_PUTS:-${S3_BENCH_PUTS:-2000}}
NC=${STORE_BENCH_COUNTED:-200}
tck=$(getconf CLK_TCK)

# ---- fs -------------------------------------------------------------------------
for c in 1 16; do
	rm -rf "$T/fs"
	mkdir -p "$T/fs"
	BENCH_FS_ROOT="$T/fs" /usr/bin/time -f '%U %S' -o "$T/time" "$BIN" "$N" "$c" 4096 >"$T/out" ||
		{ cat "$T/out" >&2; exit 1; }
	cat "$T/out" >&2
	figure "fs_docs_per_s_c$c" "$(sed -n 's/.*puts_per_s=\([0-9]*\).*/\1/p' "$T/out")" documents/s
	figure "fs_put_cpu_labd_c$c" "$(awk -v n="$N" '{ printf "%.3f", ($1 + $2) * 1000 / n }' "$T/time")" ms/document
done
fs16=$(sed -n 's/.*puts_per_s=\([0-9]*\).*/\1/p' "$T/out")
rm -rf "$T/fs"

# ---- s3rver ---------------------------------------------------------------------
for c in 1 16; do
	s3_cpu0=$(awk '{ print $14 + $15 }' "/proc/$S3_PID/stat")
	/usr/bin/time -f '%U %S' -o "$T/time" "$BIN" "$N" "$c" 4096 >"$T/out" ||
		{ cat "$T/out" >&2; exit 1; }
	s3_cpu1=$(awk '{ print $14 + $15 }' "/proc/$S3_PID/stat")
	cat "$T/out" >&2
	rate=$(sed -n 's/.*puts_per_s=\([0-9]*\).*/\1/p' "$T/out")
	secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$T/out")
	figure "s3_puts_per_s_c$c" "$rate" documents/s
	figure "s3_put_cpu_labd_c$c" "$(awk '{ printf "%.0f", ($1 + $2) * 1000 }' "$T/time")" ms
	figure "s3_put_cpu_s3rver_c$c" "$(awk -v a="$s3_cpu0" -v b="$s3_cpu1" -v t="$tck" 'BEGIN { printf "%.0f", (b - a) * 1000 / t }')" ms
	figure "s3_put_wall_c$c" "$secs" s
done
s316=$rate

# ---- requests and bytes per stored document ---------------------------------------
up_port=${S3_ENDPOINT##*:}
"$COUNT" "$T/port" "$up_port" >"$T/count" &
cpid=$!
wait_for '[ -s "$T/port" ]' || { echo "http-count did not start" >&2; exit 1; }
S3_ENDPOINT="http://127.0.0.1:$(cat "$T/port")" "$BIN" "$NC" 4 4096 >"$T/out" || { cat "$T/out" >&2; kill "$cpid"; exit 1; }
kill -TERM "$cpid"
wait "$cpid"
cat "$T/out" "$T/count" >&2
c() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$T/count"; }
reqs=$(sed -n 's/^requests=\([0-9]*\).*/\1/p' "$T/count")
put=$(c PUT) head=$(c HEAD) get=$(c GET) del=$(c DELETE) post=$(c POST) other=$(c OTHER)
copy=$(c COPY) bucket=$(c BUCKET) bhead=$(c BUCKET_HEAD)
# the backend's bucket check (HEAD /bucket, at open) is not per document
reqs=$((reqs - bucket)) head=$((head - bhead))
gz=$(sed -n 's/.*gzip_bytes=\([0-9]*\).*/\1/p' "$T/out")
per() { awk -v a="$1" -v n="$NC" 'BEGIN { printf "%.2f", a / n }'; }
figure s3_counted_documents "$NC" documents
figure s3_requests_per_document "$(per "$reqs")" requests
figure s3_put_per_document "$(per "$put")" requests
figure s3_head_per_document "$(per "$head")" requests
figure s3_copy_per_document "$(per "$copy")" requests
figure s3_delete_per_document "$(per "$del")" requests
figure s3_other_requests "$((get + post + other))" requests
figure s3_bucket_check_requests "$bucket" requests
figure s3_document_gzip_body "$gz" bytes
figure s3_bytes_up_per_document "$(per "$(c bytes_up)")" bytes
figure s3_header_bytes_per_document "$(per "$(c header_bytes)")" bytes
figure s3_bytes_down_per_document "$(per "$(c bytes_down)")" bytes
if [ "$reqs" = "$NC" ] && [ "$put" = "$NC" ] && [ "$head" = 0 ] && [ "$copy" = 0 ] && [ "$del" = 0 ]; then
	verdict storage OK "exactly 1 PUT per stored document on s3rver (no HEAD/COPY/DELETE), $(per "$(c bytes_up)") bytes up per 4 KiB document ($gz gzip body); $fs16 documents/s on fs, $s316 on s3rver at 16 in flight"
else
	verdict storage MISSED "$reqs requests for $NC documents: PUT $put HEAD $head COPY $copy DELETE $del other $((get + post + other)) (target: 1 PUT each)"
fi
done_bench storage-s3
