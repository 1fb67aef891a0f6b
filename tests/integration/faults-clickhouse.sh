#!/bin/sh
# ClickHouse faults (issue 10, docs/reliability.md) during a beacon backfill
# of 200 generated slots, in serve mode:
#   1. the real clickhouse-server is stopped mid-run and restarted on the
#      same ports: labd stays up, /readyz turns 503 naming ClickHouse and
#      back to 200, the persisted backfill cursor never passes a slot
#      without a document, and the final documents equal an undisturbed
#      --once run's (same keys, same contents but for processed_at and
#      processing_time_ms, same slots recorded as missed);
#   2. through tests/faultproxy (a fake, for what the real server cannot
#      do on demand): slow answers, HTTP 500, HTTP 503, garbage bodies,
#      truncated answers, empty 200s, a one-line HTML 200 and cut
#      connections, one after the other with progress in between; the same
#      checks after each fault and at the end.
# Takes about 30 s.
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse -- "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/faults-lib.sh"
T0=$(date +%s)

stage_plugins
load_beacon_data
reference_run
pass "reference: undisturbed --once stored $(ls "$T/ref/$SLOTDIR" | wc -l) documents, $(wc -l <"$T/ref.missed") missed"

# ---- 1. the real server stopped and restarted ----------------------------------
CH_DIR="$LABD_SERVICES_DIR/clickhouse"
CH_HTTP=${CLICKHOUSE_URL##*:}
# one slot a batch, so the stop lands mid-backfill
BF_CONCURRENCY=1 beacon_conf "$T/d1" "$CLICKHOUSE_URL" >"$T/labd.conf"
start_labd --now "$NOW2"
wait_long 20 '[ "$(ndocs "$T/d1")" -ge 10 ]' || fail "backfill did not start"
# stopped hard (SIGKILL: at once, mid-query), restarted below
kill -9 "$(cat "$CH_DIR/pid")"
grep -q 'msg="backfill finished"' "$T/labd.log" && fail "the backfill finished before ClickHouse was stopped (test too slow to inject)"
at_stop=$(ndocs "$T/d1")
wait_long 15 'readyz_has "clickhouse: "' || fail "/readyz did not report ClickHouse down: $CODE $BODY"
reason=$BODY
alive "ClickHouse stopped"
sleep 2 # retries with backoff while it is down
alive "ClickHouse down for 2 s"
check_cursor "$T/d1" "$LABD_PID" "ClickHouse down"
grep -q 'msg="clickhouse query retry"' "$T/labd.log" || fail "no query retried while ClickHouse was down"
# restart on the same ports with the same data
server=$(command -v clickhouse-server || echo /usr/bin/clickhouse-server)
"$server" --config-file="$CH_DIR/config.xml" </dev/null >>"$CH_DIR/log/stdout.log" 2>&1 &
echo $! >"$CH_DIR/pid"
wait_long 60 '[ "$(curl -s --max-time 1 "$CLICKHOUSE_URL/ping")" = "Ok." ]' || fail "clickhouse did not restart"
wait_long 30 'readyz_ok' || fail "/readyz did not return to 200 after ClickHouse came back: $CODE $BODY"
wait_long 60 'grep -q "msg=\"backfill finished\"" "$T/labd.log" && all_stored "$T/d1"' || fail "backfill did not finish after the restart"
check_cursor "$T/d1" "$LABD_PID" "after recovery"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exited $STOP_RC"
same_docs "$T/d1" "ClickHouse restart"
pass "ClickHouse stopped after $at_stop documents: labd stayed up, /readyz said $reason, then 200; cursor never ahead of stored work; final documents equal the undisturbed run's"

# ---- 2. faults through the proxy ------------------------------------------------------
start_proxy "$CH_HTTP"
beacon_conf "$T/d2" "http://127.0.0.1:$PROXY_PORT" >"$T/labd.conf"
fault "delay 80" # the "progress" mode: slow enough that the backfill outlasts the faults
start_labd --now "$NOW2"
wait_long 20 '[ "$(ndocs "$T/d2")" -ge 8 ]' || fail "no progress through the proxy"
progress() { # more documents after a fault
	fault "delay 80"
	_b=$(ndocs "$T/d2")
	wait_long 20 '[ "$(ndocs "$T/d2")" -ge $((_b + 4)) ] || grep -q "msg=\"backfill finished\"" "$T/labd.log"' ||
		fail "no progress after $1"
	grep -q 'msg="backfill finished"' "$T/labd.log" && fail "the backfill finished before the fault '$1' was over (test too slow to inject)"
	alive "after $1"
}
# slow: answers take > 1 s each; work goes on, nothing fails
fault "delay 1200"
b=$(ndocs "$T/d2")
wait_long 20 '[ "$(ndocs "$T/d2")" -gt "$b" ]' || fail "nothing stored while ClickHouse was slow"
readyz_ok || fail "/readyz not 200 while ClickHouse was merely slow: $BODY"
grep -q 'slot query failed' "$T/labd.log" && fail "a query failed while ClickHouse was merely slow"
pass "slow ClickHouse (1.2 s per chunk): work goes on, /readyz 200, no failure"
progress "slow"

# each fault: the reason /readyz must show ("" = none expected: the host
# cannot tell it from an answer), then a check of the cursor and progress
for f in "status 500|HTTP 500" "status 503|HTTP 503" "garbage|clickhouse: ClickHouse result" "truncate 400|clickhouse: " \
	"empty|empty result" "oneline|" "cut|clickhouse: "; do
	mode=${f%%|*}
	want=${f#*|}
	nfail=$(grep -c 'slot query failed' "$T/labd.log")
	fault "$mode"
	if [ -n "$want" ]; then
		wait_long 15 "readyz_has \"$want\"" || fail "fault '$mode': /readyz did not say '$want': $CODE $BODY"
		why="503 $(printf '%s' "$BODY" | sed 's/.*"reasons":\[//; s/\]}$//' | cut -c1-90)"
	else
		why="stays 200 (the host cannot tell it from an empty result; the plugin refuses it)"
	fi
	wait_long 15 '[ "$(grep -c "slot query failed" "$T/labd.log")" -gt "$nfail" ]' || fail "fault '$mode': no batch failed"
	alive "fault $mode"
	check_cursor "$T/d2" "$LABD_PID" "fault $mode"
	progress "$mode"
	wait_long 15 'readyz_ok' || fail "fault '$mode': /readyz did not return to 200: $BODY"
	pass "fault '$mode': labd up, /readyz $why, cursor at $CURSOR holds, recovered"
done
fault pass
wait_long 60 'grep -q "msg=\"backfill finished\"" "$T/labd.log" && all_stored "$T/d2"' || fail "backfill did not finish after the faults"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exited $STOP_RC"
stop_proxy
same_docs "$T/d2" "proxy faults"
retries=$(grep -c 'msg="clickhouse query retry"' "$T/labd.log")
pass "after 8 kinds of faults ($retries query retries): documents equal the undisturbed run's, no slot wrongly missed"
san_check
echo "# faults-clickhouse.sh took $(($(date +%s) - T0)) s"
