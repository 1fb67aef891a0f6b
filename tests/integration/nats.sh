#!/bin/sh
# The nats broker backend against a real nats-server (tests/services/nats.sh,
# JetStream on): lab.host.plugin events reach an outside subscriber; a server
# restart while the example plugin publishes every second loses no event
# (a JetStream stream records what the server received, across the restart);
# /readyz reports the outage; labd starts while NATS is down and connects
# once it is up, counting the events it could not send.
. "$(dirname "$0")/lib.sh"
SUB="$top_builddir/tests/nats-sub"
NATS_SVC="$top_srcdir/tests/services/nats.sh"

if [ "${1:-}" != --inner ]; then
	grep -q 'define HAVE_NATS 1' "$top_builddir/host/build_config.h" ||
		{ echo "SKIP: labd built without libnats"; exit 77; }
	[ -x "$SUB" ] || fail "$SUB not built"
	command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] ||
		{ echo "SKIP: nats-server is not installed"; exit 77; }
	"$top_srcdir/tests/services/with-services.sh" nats -- "$0" --inner
	exit $?
fi

PORT_NATS=${NATS_URL##*:}
NATS_DIR="$LABD_SERVICES_DIR/nats"
stage_plugins
write_conf 'example = { interval = "1s"; };'
# No ClickHouse here: its readiness probe is off, so /readyz speaks of NATS.
NATS_OPTS="-D broker.backend=nats -D broker.nats.url=$NATS_URL -D clickhouse.probe_interval=0s"

# wait_long SECONDS CONDITION
wait_long() {
	n=$(($1 * 10))
	while [ "$n" -gt 0 ]; do
		if eval "$2"; then return 0; fi
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
ready_is() { http GET /readyz; [ "$CODE" = "$1" ]; }
# start_labd reads the admin port from $T/labd.log, which the background labd
# truncates only when it gets to it: without the rm, a second start could read
# the previous run's port.
fresh_labd() { rm -f "$T/labd.log"; start_labd "$@"; }

# ---- 1. lab.host.plugin reaches an outside subscriber
"$SUB" sub "$NATS_URL" lab.host.plugin 3 20 >"$T/sub.out" 2>"$T/sub.err" &
SUB_PID=$!
wait_long 10 'grep -q ready "$T/sub.out"' || fail "subscriber not ready: $(cat "$T/sub.err")"
# shellcheck disable=SC2086
fresh_labd $NATS_OPTS -D plugins.example.interval=1h
wait_long 5 'grep -q "\"event\":\"started\"" "$T/sub.out"' || fail "no started event: $(cat "$T/sub.out")"
ready_is 200 || fail "readyz with NATS up: $CODE $BODY"
# Incoming: a request from outside runs the plugin (lab.example.run -> one tick).
"$SUB" pub "$NATS_URL" lab.example.run '{}' || fail "cannot publish"
wait_long 5 'grep -q "msg=tick count=1" "$T/labd.log"' || fail "lab.example.run from NATS did not run the plugin"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exit $STOP_RC"
wait "$SUB_PID" || fail "subscriber did not get 3 events: $(cat "$T/sub.out") $(cat "$T/sub.err")"
grep -q '^lab.host.plugin {"plugin":"example","event":"loaded","version":"1.0.0","generation":1}$' "$T/sub.out" ||
	fail "loaded event: $(cat "$T/sub.out")"
grep -q '^lab.host.plugin {"plugin":"example","event":"started",' "$T/sub.out" || fail "started event"
grep -q '^lab.host.plugin {"plugin":"example","event":"stopped",' "$T/sub.out" ||
	fail "stopped event (sent at shutdown) missing: $(cat "$T/sub.out")"
pass "lab.host.plugin loaded/started/stopped reach a NATS subscriber; lab.example.run from NATS runs the plugin"

# ---- 2. a server restart loses no event
"$SUB" stream-add "$NATS_URL" TICKS lab.example.tick || fail "cannot create the stream"
ticks() { "$SUB" stream-dump "$NATS_URL" TICKS 2>/dev/null | wc -l; }
# shellcheck disable=SC2086
fresh_labd $NATS_OPTS
wait_long 10 '[ "$(ticks)" -ge 3 ]' || fail "no ticks reached the stream"
ready_is 200 || fail "readyz before the restart: $CODE $BODY"
SVC_QUIET=1 "$NATS_SVC" stop "$NATS_DIR" >/dev/null || fail "cannot stop nats-server"
wait_long 5 'ready_is 503' || fail "readyz did not report the outage"
echo "$BODY" | grep -q 'broker: nats: reconnecting' || fail "readyz reason: $BODY"
sleep 2 # about two ticks go to the reconnect buffer
NATS_PORT=$PORT_NATS SVC_QUIET=1 "$NATS_SVC" start "$NATS_DIR" >/dev/null || fail "cannot restart nats-server"
wait_long 10 'ready_is 200' || fail "labd did not reconnect: $BODY"
n0=$(ticks)
wait_long 5 '[ "$(ticks)" -ge $((n0 + 2)) ]' || fail "no ticks after the reconnect"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exit $STOP_RC"
"$SUB" stream-dump "$NATS_URL" TICKS | sed -n 's/^{"count":\([0-9]*\)}$/\1/p' >"$T/counts"
n=$(wc -l <"$T/counts")
[ "$n" -ge 7 ] || fail "only $n ticks recorded"
first=$(head -n 1 "$T/counts")
last=$(tail -n 1 "$T/counts")
[ $((last - first + 1)) -eq "$n" ] || fail "ticks lost or repeated: $(tr '\n' ' ' <"$T/counts")"
sort -n -c "$T/counts" || fail "ticks out of order: $(tr '\n' ' ' <"$T/counts")"
grep -q 'msg="nats: disconnected; reconnecting' "$T/labd.log" || fail "no disconnect log"
grep -q 'msg="nats: reconnected"' "$T/labd.log" || fail "no reconnect log"
grep -q 'msg="broker message dropped"' "$T/labd.log" && fail "an event was dropped during the outage"
# Ticks published while disconnected (between the two log lines): they went
# through the reconnect buffer, and the stream has them.
buffered=$(awk '/nats: disconnected/ { d = 1 } /nats: reconnected/ { d = 0 } d && /msg=tick/ { n++ } END { print n + 0 }' "$T/labd.log")
[ "$buffered" -ge 1 ] || fail "no tick was published during the outage"
pass "nats-server restart: $n ticks $first..$last ($buffered during the outage), none lost, readyz said reconnecting"

# ---- 3. labd starts while NATS is down, connects when it comes up
SVC_QUIET=1 "$NATS_SVC" stop "$NATS_DIR" >/dev/null || fail "cannot stop nats-server"
# shellcheck disable=SC2086
fresh_labd $NATS_OPTS -D plugins.example.interval=1h
wait_long 5 'grep -q "msg=\"nats: cannot connect; retrying in the background\"" "$T/labd.log"' ||
	fail "no connect warning"
ready_is 503 || fail "readyz with NATS down: $CODE (labd $(kill -0 "$LABD_PID" 2>/dev/null && echo alive || echo gone))"
echo "$BODY" | grep -q 'broker: nats: connecting' || fail "readyz reason: $BODY"
# lab.host.plugin loaded and started wait for the first connection (issue 15):
# none is dropped (checked below).
NATS_PORT=$PORT_NATS SVC_QUIET=1 "$NATS_SVC" start "$NATS_DIR" >/dev/null || fail "cannot restart nats-server"
wait_long 10 'ready_is 200' || fail "labd did not connect after start: $BODY"
grep -q 'msg="nats: connected"' "$T/labd.log" || fail "no connected log"
dropped=$(metric 'lab_broker_dropped_total{plugin="host"}')
[ "${dropped:-0}" = 0 ] || fail "events dropped while connecting: $dropped"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exit $STOP_RC"
pass "labd starts with NATS down (readyz: connecting, nothing dropped) and connects later"
