#!/bin/sh
# Idle memory of labd with the example plugin (targets: RSS <= 12 MiB,
# Private_Dirty <= 2 MiB).  Skipped under sanitizers, which change memory use.
. "$(dirname "$0")/lib.sh"
if "$LABD" --version >/dev/null 2>&1 && nm -D "$LABD" 2>/dev/null | grep -q __asan_init; then
	echo "SKIP: sanitizer build"; exit 77
fi
if [ -n "${LABD_UNDER_VALGRIND:-}" ]; then exit 77; fi
stage_plugins
write_conf 'example = { interval = "1s"; };'
start_labd
http GET /healthz
sleep 2
http GET /metrics
rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$LABD_PID/status")
pd_kb=$(awk '/^Private_Dirty:/ { print $2 }' "/proc/$LABD_PID/smaps_rollup")
echo "labd idle with example: rss ${rss_kb} KiB, private_dirty ${pd_kb} KiB"
[ "$rss_kb" -le $((12 * 1024)) ] || fail "RSS ${rss_kb} KiB > 12 MiB"
[ "$pd_kb" -le $((2 * 1024)) ] || fail "Private_Dirty ${pd_kb} KiB > 2 MiB"
pass "idle memory within target"
stop_labd
