#!/bin/sh
# The read side's live checks, short enough for CI (issue 16): the fan-out
# and freshness benchmarks (tests/bench/api-fanout.sh, api-freshness.sh)
# with few clients and events:
#  - 50 WebSocket + 50 SSE clients (python3-websockets, fanout.py), 20
#    events/s for 3 s through the in-process broker: every client gets
#    every event (none lost, no stream ended), p99 publish -> receipt
#    within 250 ms (the bench's target is 50 ms on an idle machine; CI
#    shares its cores), and once they have gone no stream is left
#    (http.heartbeat 2 s here: a closed SSE stream is noticed when a write
#    to it fails);
#  - the same, smaller, with the bench's default client, the C
#    tests/bench/fanout-client (20 + 20 clients, 3 s): the same checks,
#    and the bench's own ones (no negative or absurd latency, every
#    client's seq 1, 2, 3...);
#  - 200 rewrites of one document under 4 readers: no stale read after the
#    reader saw the rewrite's event, no bad answer.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
"$PY" -c 'import websockets' 2>/dev/null || { echo "SKIP: python3-websockets is not installed"; exit 77; }
API_FANOUT_CLIENT=py API_FANOUT_WS=50 API_FANOUT_SSE=50 API_FANOUT_PROCS=1 API_FANOUT_RATE=20 API_FANOUT_SECONDS=3 \
	API_FANOUT_MAX_P99=250 API_HTTP_EXTRA='heartbeat = "2s";' API_FANOUT_CLOSE_WAIT=10 sh "$top_srcdir/tests/bench/api-fanout.sh" >"$T/fan.out" 2>"$T/fan.err"
grep -q '^bench api-fanout done' "$T/fan.out" || { cat "$T/fan.out"; tail -n 30 "$T/fan.err"; fail "fan-out run failed"; }
grep -q '^verdict api-fanout-latency OK' "$T/fan.out" || { cat "$T/fan.out"; fail "fan-out: events lost or late"; }
grep -q '^api_fanout_streams_left 0 ' "$T/fan.out" || fail "streams still counted after the clients left: $(grep streams_left "$T/fan.out")"
pass "fan-out: $(sed -n 's/^verdict api-fanout-latency OK //p' "$T/fan.out")"
API_FANOUT_CLIENT=c API_FANOUT_WS=20 API_FANOUT_SSE=20 API_FANOUT_RATE=20 API_FANOUT_SECONDS=3 \
	API_FANOUT_MAX_P99=250 API_HTTP_EXTRA='heartbeat = "2s";' API_FANOUT_CLOSE_WAIT=10 sh "$top_srcdir/tests/bench/api-fanout.sh" >"$T/fanc.out" 2>"$T/fanc.err"
grep -q '^bench api-fanout done' "$T/fanc.out" || { cat "$T/fanc.out"; tail -n 30 "$T/fanc.err"; fail "fan-out run (C client) failed"; }
grep -q '^# clients: tests/bench/fanout-client' "$T/fanc.out" || fail "the C client did not run: $(cat "$T/fanc.out")"
grep -q '^verdict api-fanout-latency OK' "$T/fanc.out" || { cat "$T/fanc.out"; fail "fan-out (C client): events lost or late"; }
grep -q '^api_fanout_streams_left 0 ' "$T/fanc.out" || fail "streams still counted after the C clients left: $(grep streams_left "$T/fanc.out")"
pass "fan-out, C client: $(sed -n 's/^verdict api-fanout-latency OK //p' "$T/fanc.out")"
API_FRESH_WRITES=200 sh "$top_srcdir/tests/bench/api-freshness.sh" >"$T/fresh.out" 2>"$T/fresh.err"
grep -q '^verdict api-freshness OK' "$T/fresh.out" || { cat "$T/fresh.out"; tail -n 30 "$T/fresh.err"; fail "freshness"; }
pass "freshness: $(sed -n 's/^verdict api-freshness OK //p' "$T/fresh.out")"
