#!/bin/sh
# The ClickHouse query path end to end: labd --once runs the querier test
# plugin (tests/plugins/querier.c) against a real ClickHouse
# (tests/services/clickhouse.sh): exact round trip of a bound string with
# ', \, newline, tab, %, ? and UTF-8 plus typed values; ClickHouse's error
# message on a bad query; 10^6 rows streamed and as one row set (rows/s
# printed); cancellation from a batch callback; 50 concurrent queries;
# metrics.  Fault injection (labelled): a closed port and a killed server
# must end in LAB_EIO after the retries, the fault proxy (tests/faultproxy.c) answering 501 to
# every POST in LAB_EUNAVAIL.  /readyz probes ClickHouse itself: with a
# plugin that never queries, 503 while the real server is down at start,
# 200 once it is up, 503 again after it is stopped.
. "$(dirname "$0")/lib.sh"

if [ "${1:-}" != --inner ]; then
	command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/bin/clickhouse ] ||
		{ echo "SKIP: clickhouse-server is not installed"; exit 77; }
	[ -f "$top_builddir/tests/plugins/.libs/querier.so" ] || fail "querier plugin not built"
	"$top_srcdir/tests/services/with-services.sh" clickhouse -- "$0" --inner
	exit $?
fi

stage_plugins
write_conf 'querier = { mode = "roundtrip"; };'
CH="-D clickhouse.url=$CLICKHOUSE_URL"

run() { # run MODE [extra -D...]: labd --once with the querier in MODE
	m=$1; shift
	"$LABD" --once --plugin querier -c "$T/labd.conf" $CH -D plugins.querier.mode="$m" "$@" \
		2>"$T/labd.log"
}

run roundtrip || fail "roundtrip"
grep -q 'querier: roundtrip ok' "$T/labd.log" || fail "roundtrip not confirmed"
pass "bound string with ' \\ newline tab % ? UTF-8 and typed values round-trip exactly"

run error || fail "error mode"
grep -q 'querier: error status=-12 msg=Code: 47.*DB::Exception.*nosuchcolumn' "$T/labd.log" ||
	fail "ClickHouse's message not surfaced"
pass "a rejected query gives LAB_EQUERY with ClickHouse's message"

run stream || fail "stream of 1e6 rows"
line=$(grep 'querier: stream rows=' "$T/labd.log")
echo "# streamed: ${line#*msg=}"
pass "1e6 rows streamed in order, in batches"

run rows || fail "1e6 rows as one row set"
line=$(grep 'querier: rows rows=' "$T/labd.log")
echo "# one row set: ${line#*msg=}"
pass "1e6 rows as one row set"

run cancel || fail "cancel"
pass "a query cancelled from its batch callback never completes"

run many -D clickhouse.max_concurrency=3 || fail "50 concurrent queries"
pass "50 concurrent queries through max_concurrency=3"

run error -D log.level=debug || fail "error run with debug log"
grep -q 'msg="clickhouse query failed"' "$T/labd.log" || fail "failure not logged at debug"
pass "failed queries are logged with the reason"

# /readyz names ClickHouse while queries cannot reach it, and recovers.
write_conf 'querier = { mode = "tick"; };'
start_labd -D clickhouse.url=http://127.0.0.1:1
wait_for 'grep -q "querier: tick status=-4" "$T/labd.log"' || fail "tick query did not fail"
http GET /readyz
[ "$CODE" = 503 ] || fail "/readyz with ClickHouse down: $CODE $BODY"
echo "$BODY" | grep -q '"clickhouse: ' || fail "/readyz reason: $BODY"
stop_labd
start_labd $CH
wait_for 'grep -q "querier: tick status=0" "$T/labd.log"' || fail "tick query did not succeed"
http GET /readyz
[ "$CODE" = 200 ] || fail "/readyz with ClickHouse up: $CODE $BODY"
stop_labd
pass "/readyz reports an unreachable ClickHouse"
write_conf 'querier = { mode = "roundtrip"; };'

# ---- fault injection (labelled): no server, a 501-answering fake, a killed server
start=$(date +%s)
run down -D clickhouse.url=http://127.0.0.1:1 || fail "closed port"
grep -q 'querier: down status=-4' "$T/labd.log" || fail "closed port should end in LAB_EIO"
n=$(grep -c 'clickhouse query retry' "$T/labd.log")
[ "$n" -eq 3 ] || fail "expected 3 retries, saw $n"
pass "closed port: 3 retries with backoff, then LAB_EIO ($(($(date +%s) - start)) s)"

# FAULT INJECTION: tests/faultproxy in "status 501" mode answers every
# request with a bare 501 (no ClickHouse exception text); a real server
# cannot be made to do that.
PROXY="$top_builddir/tests/faultproxy"
[ -x "$PROXY" ] || fail "tests/faultproxy not built"
echo "status 501" >"$T/proxy.mode"
"$PROXY" 1 "$T/proxy.mode" "$T/proxy.port" 2>"$T/proxy.log" &
FAKE=$!
i=0
while [ ! -s "$T/proxy.port" ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
FPORT=$(cat "$T/proxy.port" 2>/dev/null)
[ -n "$FPORT" ] || { kill "$FAKE"; fail "fault proxy did not start"; }
run down -D clickhouse.url="http://127.0.0.1:$FPORT"
rc=$?
kill "$FAKE" 2>/dev/null
wait "$FAKE" 2>/dev/null
[ $rc -eq 0 ] || fail "501 fake"
grep -q 'querier: down status=-13.*HTTP 501' "$T/labd.log" || fail "501 should end in LAB_EUNAVAIL"
pass "5xx without a ClickHouse exception: retried, then LAB_EUNAVAIL"

kill -9 "$CLICKHOUSE_PID"
sleep 0.2
run down || fail "killed server"
grep -q 'querier: down status=-4' "$T/labd.log" || fail "killed server should end in LAB_EIO"
pass "killed ClickHouse: retries, then LAB_EIO, no crash"

# ---- /readyz probes ClickHouse itself (clickhouse.probe_interval): the
# example plugin never queries, so only the probe can tell.
CH_DIR="$LABD_SERVICES_DIR/clickhouse"
ready_is() { # ready_is CODE [REASON]: /readyz answers CODE (naming REASON)
	http GET /readyz
	[ "$CODE" = "$1" ] && { [ -z "${2:-}" ] || echo "$BODY" | grep -q "$2"; }
}
write_conf 'example = { interval = "1h"; };'
start_labd $CH -D clickhouse.probe_interval=1s
ready_is 503 '"clickhouse: ' || fail "/readyz right after start, ClickHouse down: $CODE $BODY"
sleep 1.5
ready_is 503 '"clickhouse: .*connect' || fail "/readyz after a failed probe: $CODE $BODY"
reason_down=$BODY
server=$(command -v clickhouse-server || echo /usr/bin/clickhouse-server)
"$server" --config-file="$CH_DIR/config.xml" </dev/null >>"$CH_DIR/log/stdout.log" 2>&1 &
echo $! >"$CH_DIR/pid" # with-services stops it at the end
i=0
until [ "$(curl -s --max-time 1 "$CLICKHOUSE_URL/ping")" = "Ok." ]; do
	[ $i -lt 300 ] || fail "clickhouse did not restart"
	sleep 0.2
	i=$((i + 1))
done
wait_for 'ready_is 200' || fail "/readyz did not turn 200 once ClickHouse was up: $CODE $BODY"
SVC_QUIET=1 "$top_srcdir/tests/services/clickhouse.sh" stop "$CH_DIR" >/dev/null || fail "cannot stop clickhouse"
wait_for 'ready_is 503 "\"clickhouse: "' || fail "/readyz did not turn 503 after ClickHouse stopped: $CODE $BODY"
reason_stopped=$BODY
grep -q 'msg="clickhouse readiness probe ok"' "$T/labd.log" || fail "recovery not logged"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exited $STOP_RC"
pass "/readyz probes ClickHouse: 503 at start with it down ($reason_down), 200 once up, 503 after it stopped ($reason_stopped)"
