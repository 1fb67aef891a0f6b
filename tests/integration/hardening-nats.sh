#!/bin/sh
# Issue 15 findings 2 and 3: the nats broker backend (docs/broker.md).
#  2. a NATS server that accepts the connection but never answers (a fake,
#     tests/nats-silent.py: a real nats-server cannot be made to do this)
#     must not freeze the loop: /healthz answers within 1 s, the example
#     plugin's 1 s timer keeps firing, the admin API works, a first SIGTERM
#     ends labd in bounded time and a second one at once;
#  3. a subscriber connected to a real nats-server before labd starts sees
#     lab.host.plugin "loaded" and "started" (three starts in a row).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hardening-lib.sh"
SUB="$top_builddir/tests/nats-sub"

if [ "${1:-}" != --inner ]; then
	grep -q 'define HAVE_NATS 1' "$top_builddir/host/build_config.h" ||
		{ echo "SKIP: labd built without libnats"; exit 77; }
	[ -x "$SUB" ] || fail "$SUB not built"
	command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
	command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] ||
		{ echo "SKIP: nats-server is not installed"; exit 77; }
	"$top_srcdir/tests/services/with-services.sh" nats -- "$0" --inner
	exit $?
fi
stage_plugins
write_conf 'example = { interval = "1s"; };'

# ---- 2. a server that never answers
# labd connects to the real server; the server goes away and a fake that
# accepts connections but never answers takes its port: nats.c's reconnect
# thread then waits in recv() holding the connection's lock.
PORT_NATS=${NATS_URL##*:}
NATS_DIR="$LABD_SERVICES_DIR/nats"
NATS_SVC="$top_srcdir/tests/services/nats.sh"
SILENT_PID=""
trap '[ -z "$SILENT_PID" ] || kill $SILENT_PID 2>/dev/null; cleanup' EXIT
ticks() { grep -c 'plugin=example msg=tick' "$T/labd.log"; }

start_labd -D broker.backend=nats -D "broker.nats.url=$NATS_URL"
wait_for 'grep -q "msg=\"nats: connected\"" "$T/labd.log"' || fail "not connected"
SVC_QUIET=1 "$NATS_SVC" stop "$NATS_DIR" >/dev/null || fail "cannot stop nats-server"
python3 "$top_srcdir/tests/nats-silent.py" "$PORT_NATS" >"$T/silent.port" &
SILENT_PID=$!
wait_for '[ -s "$T/silent.port" ]' || fail "fake server did not start"
watch_health
n0=$(ticks)
sleep 8
check_health "silent NATS server"
n=$(($(ticks) - n0))
[ "$n" -ge 5 ] || fail "the example timer stalled: $n ticks in 8 s"
http POST /plugins/example/run
[ "$CODE" = 200 ] || fail "admin API with a silent NATS server: $CODE $BODY"
http GET /readyz
[ "$CODE" = 503 ] || fail "readyz with a silent server: $CODE $BODY"
stop_health
pass "a NATS server that never answers: /healthz within 1 s, $n timer ticks in 8 s, admin works"

# One SIGTERM: bounded shutdown (the last events are given up after 3 s).
t0=$(date +%s)
kill -TERM "$LABD_PID"
wait "$LABD_PID"
rc=$?
LABD_PID=""
t1=$(date +%s)
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
[ $((t1 - t0)) -le 8 ] || fail "SIGTERM took $((t1 - t0)) s"
pass "SIGTERM with a silent NATS server: exit 0 after $((t1 - t0)) s"

# Two signals: the second exits at once.
start_labd -D broker.backend=nats -D "broker.nats.url=$NATS_URL"
sleep 2
kill -TERM "$LABD_PID"
sleep 0.2
kill -TERM "$LABD_PID" 2>/dev/null
i=0
while kill -0 "$LABD_PID" 2>/dev/null && [ $i -lt 10 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$LABD_PID" 2>/dev/null && fail "labd still running 1 s after the second SIGTERM"
wait "$LABD_PID"
LABD_PID=""
pass "a second SIGTERM exits at once"
kill "$SILENT_PID"
wait "$SILENT_PID" 2>/dev/null
SILENT_PID=""
NATS_PORT=$PORT_NATS SVC_QUIET=1 "$NATS_SVC" start "$NATS_DIR" >/dev/null || fail "cannot restart nats-server"

# ---- 3. the first events reach a subscriber that was there first
for run in 1 2 3; do
	"$SUB" sub "$NATS_URL" lab.host.plugin 2 20 >"$T/sub.out" 2>"$T/sub.err" &
	SUB_PID=$!
	wait_for 'grep -q ready "$T/sub.out"' || fail "subscriber not ready: $(cat "$T/sub.err")"
	start_labd -D broker.backend=nats -D "broker.nats.url=$NATS_URL" -D plugins.example.interval=1h
	wait "$SUB_PID" || fail "run $run: loaded/started not received: $(cat "$T/sub.out")"
	grep -q '"event":"loaded"' "$T/sub.out" || fail "run $run: no loaded event: $(cat "$T/sub.out")"
	grep -q '"event":"started"' "$T/sub.out" || fail "run $run: no started event: $(cat "$T/sub.out")"
	stop_labd
	[ "$STOP_RC" = 0 ] || fail "labd exit $STOP_RC"
done
pass "a subscriber connected first sees lab.host.plugin loaded and started (3 of 3 starts)"
