#!/bin/sh
# Issue 15 finding 5: a ClickHouse answer that never ends (docs/clickhouse.md
# "Answer size").  tests/faultproxy, a fake (a real server cannot be made to
# send an endless body), answers every query of the beacon plugin with rows,
# then with one field, that never end.  Before the fix labd's memory grew
# to 1.2 GB in 20 s; now each answer fails at clickhouse.max_result_mb
# (4 MiB here), RSS stays bounded, /healthz answers within 1 s throughout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults-lib.sh"
. "$(dirname "$0")/hardening-lib.sh"
stage_plugins
# Nothing listens upstream: the endless modes never connect to it.
start_proxy 1
SANITIZED=0
if [ "${LABD_UNDER_VALGRIND:-0}" = 1 ] || ldd "$LABD" 2>/dev/null | grep -q libasan; then
	SANITIZED=1
fi
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$LABD_PID/status"; }

for mode in endless endless-field; do
	fault "$mode"
	beacon_conf "$T/d-$mode" "http://127.0.0.1:$PROXY_PORT" >"$T/labd.conf"
	start_labd --now "$NOW2" -D clickhouse.max_result_mb=4 -D clickhouse.max_concurrency=1
	watch_health
	max=0
	i=0
	while [ $i -lt 20 ]; do # 10 s
		r=$(rss_kb) || fail "$mode: labd exited"
		[ "$r" -gt "$max" ] && max=$r
		sleep 0.5
		i=$((i + 1))
	done
	check_health "$mode answers"
	grep -q 'clickhouse.max_result_mb = 4 MiB' "$T/labd.log" ||
		fail "$mode: no query failed at the cap"
	# one query of 4 MiB, plus the daemon itself: far below the old growth
	# (not under AddressSanitizer, whose quarantine keeps freed memory, nor
	# valgrind)
	[ "$max" -lt 65536 ] || [ "$SANITIZED" = 1 ] || fail "$mode: RSS reached $max kB"
	n=$(ls "$T/d-$mode/beacon/slots/mainnet" 2>/dev/null | wc -l)
	[ "$n" = 0 ] || fail "$mode: $n documents stored from endless answers"
	stop_health
	stop_labd
	[ "$STOP_RC" = 0 ] || fail "$mode: labd exit $STOP_RC"
	pass "$mode ClickHouse answers: failed at 4 MiB, RSS at most $((max / 1024)) MiB, /healthz within 1 s, nothing stored"
done
