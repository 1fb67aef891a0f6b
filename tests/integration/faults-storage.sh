#!/bin/sh
# Storage faults (issue 10, docs/reliability.md) during a beacon backfill
# of 200 generated slots (real ClickHouse), in serve mode:
#   1. S3 (s3rver) behind tests/faultproxy (a fake, for the answers s3rver
#      cannot give on demand): 503 SlowDown, 500, slow answers, then the
#      real s3rver stopped mid-run and restarted on its port;
#   2. fs backend on a size-limited tmpfs that fills up (ENOSPC), then is
#      grown; then remounted read-only (EROFS), then read-write again.
#      Needs root and mount(8); skipped with a message otherwise.
# Each time: labd stays up, /readyz turns 503 naming storage and back to
# 200, the persisted backfill cursor never passes a slot without its
# document, no temporary or truncated document is ever visible, and in the
# end the documents equal an undisturbed --once run's (same keys, same
# contents but for processed_at and processing_time_ms, same missed slots).
# Takes about 45 s.
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse,s3 -- "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/faults-lib.sh"
T0=$(date +%s)

stage_plugins
load_beacon_data
reference_run
pass "reference: undisturbed --once stored $NREF documents"

# no_partial ROOT WHAT: no temporary file, every visible document complete
no_partial() {
	tmps=$(find "$1" -name '*.tmp*' 2>/dev/null | head -3)
	[ -z "$tmps" ] || fail "$2: temporary files visible: $tmps"
	docs_flat "$1" >/dev/null || fail "$2: a visible document is truncated or not JSON"
}

# ---- 1. S3 ---------------------------------------------------------------------------
S3_DIR="$LABD_SERVICES_DIR/s3"
S3_PORT=${S3_ENDPOINT##*:}
OBJ="$S3_DIR/s3/$S3_BUCKET"
# s3rver's command line, to restart it on the same port
S3_CMD=$(tr '\0' '\n' <"/proc/$S3_PID/cmdline" | sed "s/^0\$/$S3_PORT/" | tr '\n' ' ')
case $S3_CMD in *" -p $S3_PORT "*) ;; *) fail "cannot read s3rver's command line: $S3_CMD" ;; esac
start_proxy "$S3_PORT"
beacon_conf "" "$CLICKHOUSE_URL" "storage = { backend = \"s3\";
	s3 = { endpoint = \"http://127.0.0.1:$PROXY_PORT\"; bucket = \"$S3_BUCKET\"; region = \"$S3_REGION\";
	       access_key_id = \"$S3_ACCESS_KEY_ID\"; secret_access_key = \"$S3_SECRET_ACCESS_KEY\";
	       timeout = \"5s\"; max_retries = 2; }; };" >"$T/labd.conf"
SFX=._S3rver_object
fault "delay 60"
start_labd --now "$NOW2"
wait_long 20 '[ "$(ndocs "$OBJ")" -ge 8 ]' || fail "nothing stored in S3"
s3_progress() {
	fault "delay 60"
	_b=$(ndocs "$OBJ")
	wait_long 30 '[ "$(ndocs "$OBJ")" -ge $((_b + 4)) ] || all_stored "$OBJ"' || fail "no progress after $1"
	alive "after $1"
}
for f in "status 503|storage: s3" "status 500|storage: s3"; do
	mode=${f%%|*}
	fault "$mode"
	wait_long 15 "readyz_has \"${f#*|}\"" || fail "S3 fault '$mode': /readyz did not name storage: $CODE $BODY"
	why=$(printf '%s' "$BODY" | sed 's/.*"reasons":\[//; s/\]}$//' | cut -c1-100)
	sleep 1
	alive "S3 $mode"
	check_cursor "$OBJ" "$LABD_PID" "S3 $mode"
	no_partial "$OBJ" "S3 $mode"
	s3_progress "$mode"
	wait_long 15 'readyz_ok' || fail "S3 fault '$mode': /readyz did not return to 200: $BODY"
	pass "S3 fault '$mode': labd up, /readyz 503 $why, cursor at $CURSOR holds, no partial object, recovered"
done
# the real s3rver stopped mid-run, restarted on its port with its data.
# s3rver writes an object in place as its body arrives: stopped during an
# upload it keeps a partial object, which real S3 never shows (and labd,
# finding the key there, would not store it again). So the proxy answers
# 503 first (an upload already on its way still reaches s3rver whole, see
# tests/faultproxy.c), then s3rver stops, then the proxy forwards again —
# to nothing.
fault "status 503"
sleep 2.5
"$top_srcdir/tests/services/s3rver.sh" stop "$S3_DIR" >/dev/null 2>&1 || fail "cannot stop s3rver"
fault pass
at_stop=$(ndocs "$OBJ")
[ "$at_stop" -lt "$NREF" ] || fail "every document was stored before s3rver was stopped (test too slow to inject)"
wait_long 15 'readyz_has "storage: s3"' || fail "/readyz did not report S3 down: $CODE $BODY"
why=$(printf '%s' "$BODY" | sed 's/.*"reasons":\[//; s/\]}$//' | cut -c1-100)
sleep 2
alive "s3rver stopped"
check_cursor "$OBJ" "$LABD_PID" "s3rver stopped"
# shellcheck disable=SC2086 # the saved command line is split on purpose
$S3_CMD </dev/null >>"$S3_DIR/stdout.log" 2>&1 &
echo $! >"$S3_DIR/pid"
wait_long 30 'readyz_ok' || fail "/readyz did not return to 200 after s3rver came back: $CODE $BODY"
wait_long 40 'all_stored "$OBJ"' || fail "not every document stored in S3 after recovery ($(ndocs "$OBJ") of $NREF)"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exited $STOP_RC"
stop_proxy
same_docs "$OBJ" "S3 faults"
SFX=""
pass "s3rver stopped mid-run at $at_stop of $NREF objects: /readyz 503 $why, then 200; after 503s, 500s and the restart the objects equal the undisturbed run's"

# ---- 2. fs: full, then read-only ---------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
	echo "skip: fs full / read-only cases need root to mount a size-limited tmpfs"
	echo "# faults-storage.sh took $(($(date +%s) - T0)) s"
	exit 0
fi
MNT="$T/mnt"
mkdir -p "$MNT"
# room for about a third of the documents (each file takes at least a page)
kb=$(du -sk "$T/ref" | cut -f1)
kb=$((kb / 3 + 64))
if ! mount -t tmpfs -o size=${kb}k,mode=0755 tmpfs "$MNT" 2>"$T/mount.err"; then
	echo "skip: fs full / read-only cases: cannot mount a tmpfs ($(cat "$T/mount.err"))"
	echo "# faults-storage.sh took $(($(date +%s) - T0)) s"
	exit 0
fi
FAULTS_CLEANUP='umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null'
D="$MNT/data"
# one slot a batch: state flushes (every 1 s) happen before the disk fills
BF_CONCURRENCY=1 beacon_conf "$D" "$CLICKHOUSE_URL" >"$T/labd.conf"
start_labd --now "$NOW2"
wait_long 20 'readyz_has "No space left on device"' || fail "/readyz did not report the full disk: $CODE $BODY ($(df -k "$MNT" | tail -1))"
why=$(printf '%s' "$BODY" | sed 's/.*"reasons":\[//; s/\]}$//' | cut -c1-120)
full_docs=$(ndocs "$D")
sleep 1
alive "disk full"
check_cursor "$D" "$LABD_PID" "disk full"
no_partial "$D" "disk full"
mount -o remount,size=64m "$MNT" || fail "cannot grow the tmpfs"
wait_long 15 'readyz_ok' || fail "/readyz did not return to 200 after the disk was grown: $BODY"
wait_long 20 '[ "$(ndocs "$D")" -gt "$full_docs" ]' || fail "nothing stored after the disk was grown"
pass "fs full after $full_docs documents: labd up, /readyz 503 $why, cursor at $CURSOR holds, no partial file; recovered"
mount -o remount,ro "$MNT" || fail "cannot remount read-only"
wait_long 15 'readyz_has "Read-only file system"' || fail "/readyz did not report the read-only root: $CODE $BODY"
why=$(printf '%s' "$BODY" | sed 's/.*"reasons":\[//; s/\]}$//' | cut -c1-120)
ro_docs=$(ndocs "$D")
sleep 2
alive "read-only"
check_cursor "$D" "$LABD_PID" "read-only"
no_partial "$D" "read-only"
[ "$(ndocs "$D")" = "$ro_docs" ] || fail "documents changed on a read-only file system?"
mount -o remount,rw "$MNT" || fail "cannot remount read-write"
wait_long 15 'readyz_ok' || fail "/readyz did not return to 200 after remounting read-write: $BODY"
# (the ASan build under load stores ~5 slots/s here: allow for ~130 slots plus retry back-off)
wait_long 90 'all_stored "$D"' || fail "not every document stored after recovery ($(ndocs "$D") of $NREF)"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exited $STOP_RC"
same_docs "$D" "fs faults"
pass "fs read-only at $ro_docs documents: /readyz 503 $why, then 200; after full and read-only the documents equal the undisturbed run's"
san_check
echo "# faults-storage.sh took $(($(date +%s) - T0)) s"
