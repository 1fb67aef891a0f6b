#!/bin/sh
# Stream writes of the public HTTP listener (docs/http.md, "Streams"): the
# host writes each message to the socket itself and keeps only what the
# socket did not take; these cases make the socket full (clients that stop
# reading, a 16 MiB http.stream_buffer so the host really queues) and check
# what a client sees afterwards (tests/plugins/httpcheck.c floods 16 KiB
# messages; tests/http-client.py):
#   1. WebSocket pings sent while data is queued: the pongs come back
#      between whole frames (python3-websockets fails on a corrupt stream),
#      every message intact, clean close;
#   2. a WebSocket client that stops reading is dropped with close 1013
#      right after the frame in flight, counted, labd's memory bounded;
#   3. an SSE client that stops reading for a while gets whole events;
#   4. SSE over HTTP/1.0 and HTTP/1.1 (curl): not chunked, close-delimited,
#      events in order, heartbeats.
. "$(dirname "$0")/lib.sh"
stage_plugins
[ -f "$T/plugins/httpcheck.so" ] || fail "tests/plugins/httpcheck.so was not built"
CLIENT="$top_srcdir/tests/http-client.py"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
write_conf 'httpcheck = { };'
cat >>"$T/labd.conf" <<'CONF'
http = { listen = "127.0.0.1:0"; stream_buffer = 16777216; heartbeat = "1s"; };
CONF
start_labd
wait_for 'grep -q "httpcheck: routes" "$T/labd.log"' || fail "the plugin did not start"
HP=$(sed -n 's/.*msg="HTTP listening".* port=\([0-9]*\).*/\1/p' "$T/labd.log" | head -n 1)
[ -n "$HP" ] || fail "no HTTP listening line"
U="http://127.0.0.1:$HP"
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$LABD_PID/status"; }

# ---- 1
$PY "$CLIENT" "$HP" ws-ping-queued || fail "pings while data is queued"
pass "WebSocket: pongs between whole frames while data is queued"

# ---- 2
rss0=$(rss)
GO="$T/go" $PY "$CLIENT" "$HP" ws-stall >"$T/stall.txt" 2>&1 &
STALL=$!
wait_for 'grep -q "websocket client too slow" "$T/labd.log"' 400 || fail "stalled WebSocket not dropped"
rss1=$(rss)
touch "$T/go"
wait "$STALL" || fail "stalled websocket: $(cat "$T/stall.txt")"
cat "$T/stall.txt"
wait_for 'grep -q "httpcheck: closed\" kind=websocket reason=-7" "$T/labd.log"' || fail "no on_close(LAB_EBUSY)"
[ "$(metric 'lab_http_slow_client_drops_total{plugin="httpcheck",kind="websocket"}')" = 1 ] ||
	fail "slow drop not counted"
# the queue is bounded by stream_buffer (16 MiB; a buffer may hold twice
# its content while it grows)
[ $((rss1 - rss0)) -lt 40000 ] || fail "RSS grew by $((rss1 - rss0)) kB for one stalled client"
pass "WebSocket that stops reading: close 1013 after the frame in flight, counted, RSS +$((rss1 - rss0)) kB"

# ---- 3
$PY "$CLIENT" "$HP" sse-stall || fail "stalled SSE reader"
pass "SSE reader that stalls: whole events"

# ---- 4
$PY "$CLIENT" "$HP" sse-http10 || fail "SSE over HTTP/1.0"
timeout 3 curl -s -N -D "$T/sse.hdrs" "$U/sse" >"$T/sse.txt"
tr -d '\r' <"$T/sse.hdrs" | grep -qi '^transfer-encoding' && fail "SSE is chunked: $(cat "$T/sse.hdrs")"
tr -d '\r' <"$T/sse.hdrs" | grep -qi '^connection: close$' || fail "no Connection: close: $(cat "$T/sse.hdrs")"
grep -q '^data: {"tick":5}$' "$T/sse.txt" && grep -q '^: hb$' "$T/sse.txt" || fail "curl SSE: $(head -c 300 "$T/sse.txt")"
pass "SSE over HTTP/1.0 and HTTP/1.1: close-delimited, events in order, heartbeats"

stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exit $STOP_RC"
pass "clean exit"
