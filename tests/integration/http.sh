#!/bin/sh
# The public HTTP listener and SDK 1.4 HTTP services (docs/http.md), through
# tests/plugins/httpcheck.c on the real labd with real clients: curl, an
# SSE reader (curl -N), python3-websockets and raw sockets
# (tests/http-client.py):
#   1. path checks before any plugin: traversal, encoded slashes, NUL,
#      backslash, //, bad escapes, over-long -> JSON 400; 404; 405 + Allow;
#   2. answers: HEAD, ETag / If-None-Match and If-Modified-Since -> 304,
#      gzip as stored for gzip clients and decoded for the others, Vary,
#      extra headers, asynchronous answers, 504 for a plugin that does not
#      answer in time, prefix routes with query and header accessors;
#   3. limits: a slowloris client is cut after http.request_timeout; a
#      request head of http.max_header_bytes is served, one byte more 431;
#      streams per address -> 429;
#   4. SSE (events with id, heartbeats) and WebSocket (echo, ping, 1009,
#      1002, plugin close 1000); slow readers of both are dropped and
#      counted; metrics;
#   5. disabling the plugin closes its streams (on_close LAB_ECANCELED,
#      WebSocket 1001) and removes its routes;
#   6. upgraded WebSockets (held by the host, not libmicrohttpd) still
#      count against http.max_connections.
. "$(dirname "$0")/lib.sh"
stage_plugins
[ -f "$T/plugins/httpcheck.so" ] || fail "tests/plugins/httpcheck.so was not built"
CLIENT="$top_srcdir/tests/http-client.py"
# Debian's python3 has python3-websockets (a python3 earlier in PATH may not)
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
write_conf 'httpcheck = { };'
cat >>"$T/labd.conf" <<'CONF'
http = { listen = "127.0.0.1:0"; request_timeout = "2s"; idle_timeout = "3s";
	 stream_buffer = 65536; heartbeat = "1s"; max_streams_per_ip = 4;
	 max_ws_message = 1024; };
CONF
start_labd
wait_for 'grep -q "httpcheck: routes" "$T/labd.log"' || fail "the plugin did not start"
HP=$(sed -n 's/.*msg="HTTP listening".* port=\([0-9]*\).*/\1/p' "$T/labd.log" | head -n 1)
[ -n "$HP" ] || fail "no HTTP listening line"
grep -q 'httpcheck: routes" dup=-17 dotdot=-1 lower=-1' "$T/labd.log" ||
	fail "route refusals: $(grep 'httpcheck: routes' "$T/labd.log")"
pass "route registration: duplicate LAB_EEXIST, bad pattern/method LAB_EINVAL"

U="http://127.0.0.1:$HP"
req() { # req CURL-ARGS... -> CODE, BODY, HDRS
	rm -f "$T/body" "$T/hdrs"
	CODE=$(curl -s --path-as-is -D "$T/hdrs" -o "$T/body" -w '%{http_code}' "$@") || CODE=000
	BODY=$(cat "$T/body" 2>/dev/null)
	HDRS=$(tr -d '\r' <"$T/hdrs" 2>/dev/null)
}
hdr() { printf '%s\n' "$HDRS" | sed -n "s/^$1: //Ip" | head -n 1; }

# ---- 1: path checks
long=$(printf '/files/%01100d' 0)
for p in '/t/../t/hello' '/t/./hello' '/t/%2e%2e/t/hello' '/files/a%2fb' '/files/a%2Fb' \
	'/files/a%5cb' '/files/a\b' '/files//a' '//t/hello' '/files/a%00b' '/files/%zz' \
	'/files/%4' '/files/a%' "$long"; do
	req "$U$p"
	[ "$CODE" = 400 ] || fail "$p: expected 400, got $CODE $BODY"
	printf '%s' "$BODY" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["error"]["code"]==400 and d["error"]["message"]' ||
		fail "$p: not the JSON error shape: $BODY"
done
pass "traversal, encoded slashes, backslash, //, NUL, bad escapes, over-long: JSON 400"
req "$U/nope"
[ "$CODE" = 404 ] && [ "$BODY" = '{"error":{"code":404,"message":"not found"}}' ] || fail "404: $CODE $BODY"
req -X PUT "$U/t/hello"
[ "$CODE" = 405 ] || fail "405: $CODE"
case $(hdr Allow) in *GET*HEAD*POST* | *POST*GET*HEAD*) ;; *) fail "Allow: $(hdr Allow)" ;; esac
pass "unknown route 404, wrong method 405 with Allow: $(hdr Allow)"

# ---- 2: answers
req "$U/t/hello"
[ "$CODE" = 200 ] && [ "$BODY" = '{"hello":"world"}' ] || fail "GET: $CODE $BODY"
[ "$(hdr ETag)" = '"v1"' ] && [ "$(hdr Last-Modified)" = 'Tue, 14 Nov 2023 22:13:20 GMT' ] &&
	[ "$(hdr Cache-Control)" = 'public, max-age=60' ] && [ "$(hdr Access-Control-Allow-Origin)" = '*' ] &&
	[ "$(hdr Content-Type)" = 'application/json' ] || fail "headers: $HDRS"
req -I "$U/t/hello"
# (curl -I writes the head to -o too: the body must not follow it)
case $BODY in *hello*) fail "HEAD sent a body" ;; esac
[ "$CODE" = 200 ] && [ "$(hdr Content-Length)" = 17 ] || fail "HEAD: $CODE $HDRS"
req -X POST -d 'ignored' "$U/t/hello"
[ "$CODE" = 201 ] || fail "POST: $CODE"
pass "GET with ETag/Last-Modified/Cache-Control/extra header; HEAD without body; POST"
req -H 'If-None-Match: "v0", "v1"' "$U/t/hello"
[ "$CODE" = 304 ] && [ -z "$BODY" ] && [ "$(hdr ETag)" = '"v1"' ] || fail "If-None-Match: $CODE $HDRS"
req -H 'If-None-Match: "v0"' "$U/t/hello"
[ "$CODE" = 200 ] || fail "If-None-Match other: $CODE"
req -H 'If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT' "$U/t/hello"
[ "$CODE" = 304 ] || fail "If-Modified-Since equal: $CODE"
req -H 'If-Modified-Since: Tue, 14 Nov 2023 22:13:19 GMT' "$U/t/hello"
[ "$CODE" = 200 ] || fail "If-Modified-Since older: $CODE"
pass "If-None-Match and If-Modified-Since -> 304"
req -H 'Accept-Encoding: gzip' "$U/t/gz"
[ "$CODE" = 200 ] && [ "$(hdr Content-Encoding)" = gzip ] && [ "$(hdr Vary)" = Accept-Encoding ] ||
	fail "gzip client: $CODE $HDRS"
[ "$(gzip -dc <"$T/body")" = 'hello gzip world' ] || fail "gzip body"
req "$U/t/gz"
[ "$CODE" = 200 ] && [ -z "$(hdr Content-Encoding)" ] && [ "$BODY" = 'hello gzip world' ] &&
	[ "$(hdr Vary)" = Accept-Encoding ] || fail "non-gzip client: $CODE $BODY $HDRS"
req -H 'Accept-Encoding: gzip;q=0, br' "$U/t/gz"
[ -z "$(hdr Content-Encoding)" ] && [ "$BODY" = 'hello gzip world' ] || fail "gzip;q=0: $HDRS"
req "$U/t/badgz"
[ "$CODE" = 502 ] || fail "bad gzip: $CODE"
wait_for 'grep -q "httpcheck: badgz\" rc=-11" "$T/labd.log"' || fail "bad gzip rc"
pass "gzip body: as stored to gzip clients, decoded for the others (Vary), 502 when not gzip"
req "$U/t/later"
[ "$CODE" = 200 ] && [ "$BODY" = '{"later":true}' ] || fail "async answer: $CODE $BODY"
t0=$(date +%s)
req "$U/t/never"
t1=$(date +%s)
[ "$CODE" = 504 ] && [ $((t1 - t0)) -le 4 ] || fail "no answer: $CODE after $((t1 - t0)) s"
wait_for 'grep -q "httpcheck: late answer\" rc=0" "$T/labd.log"' 100 || fail "late answer not accepted"
pass "an answer from a timer; 504 after request_timeout, the late answer dropped"
req -H 'X-Test: hi there' "$U/files/a/b%20c?q=x%20y+z&other=1"
[ "$BODY" = '{"path":"/files/a/b c","exact":false,"q":"x y z","x_test":"hi there"}' ] ||
	fail "prefix route: $BODY"
req "$U/files/exact"
[ "$BODY" = '{"path":"/files/exact","exact":true,"q":null,"x_test":null}' ] || fail "exact route: $BODY"
req "$U/files"
[ "$CODE" = 404 ] || fail "prefix without tail: $CODE"
pass "prefix and exact routes, decoded path, query and header accessors"

# ---- 3: limits
$PY "$CLIENT" "$HP" slowloris || fail "slowloris"
pass "slowloris client cut"
$PY "$CLIENT" "$HP" head-limit 8192 || fail "head size limit"
[ "$(metric 'lab_http_rejected_total{reason="header"}')" = 3 ] || fail "rejected header count"
pass "http.max_header_bytes (8192): a head of that size is served, one byte more gets 431"

# ---- 4: streams
timeout 4 curl -s -N "$U/sse" >"$T/sse.txt"
grep -q '^event: tick$' "$T/sse.txt" && grep -q '^id: 3$' "$T/sse.txt" &&
	grep -q '^data: {"tick":3}$' "$T/sse.txt" && grep -q '^: hb$' "$T/sse.txt" ||
	fail "SSE: $(head -c 300 "$T/sse.txt")"
wait_for 'grep -q "httpcheck: closed\" kind=sse reason=0" "$T/labd.log"' || fail "SSE close not reported"
pass "SSE: events with id, heartbeats, on_close when the client leaves"
$PY "$CLIENT" "$HP" ws || fail "websocket"
$PY "$CLIENT" "$HP" ws-malformed || fail "malformed frame"
wait_for 'grep -q "httpcheck: closed\" kind=websocket reason=-11" "$T/labd.log"' || fail "no LAB_EPARSE close"
pass "WebSocket: echo, ping, 1009, 1002 (on_close LAB_EPARSE), plugin close 1000"
$PY "$CLIENT" "$HP" ws-slow || fail "slow websocket"
$PY "$CLIENT" "$HP" sse-slow || fail "slow sse"
wait_for 'grep -q "httpcheck: closed\" kind=websocket reason=-7" "$T/labd.log"' || fail "slow WebSocket not dropped"
wait_for 'grep -q "httpcheck: closed\" kind=sse reason=-7" "$T/labd.log"' || fail "slow SSE not dropped"
[ "$(metric 'lab_http_slow_client_drops_total{plugin="httpcheck",kind="websocket"}')" = 1 ] &&
	[ "$(metric 'lab_http_slow_client_drops_total{plugin="httpcheck",kind="sse"}')" = 1 ] ||
	fail "slow drop metrics: $(printf '%s\n' "$BODY" | grep slow_client)"
pass "slow readers dropped (LAB_EBUSY) and counted"

# one WebSocket (kept for part 5) and three SSE streams: the limit of 4
$PY "$CLIENT" "$HP" ws-hold >"$T/hold.txt" 2>&1 &
HOLD=$!
wait_for 'grep -q open "$T/hold.txt"' || fail "held websocket did not open"
SSE_PIDS=""
for i in 1 2 3; do
	curl -s -N --max-time 20 "$U/sse" >/dev/null &
	SSE_PIDS="$SSE_PIDS $!"
done
wait_for '[ "$(metric '"'"'lab_http_streams{plugin="httpcheck",kind="sse"}'"'"')" = 3 ]' || fail "3 streams not open"
req "$U/sse"
[ "$CODE" = 429 ] || fail "5th stream from one address: $CODE"
pass "max_streams_per_ip: the 5th stream gets 429"
[ "$(metric 'lab_http_requests_total{plugin="httpcheck",route="/t/hello",code="304"}')" = 2 ] ||
	fail "requests_total: $(printf '%s\n' "$BODY" | grep lab_http_requests_total | head)"
metric 'lab_http_connections' >/dev/null
printf '%s\n' "$BODY" | grep -q '^lab_http_request_duration_seconds_count{plugin="httpcheck",route="/t/hello"}' ||
	fail "no duration histogram"
[ "$(metric 'lab_http_rejected_total{reason="path"}')" -ge 13 ] || fail "rejected path count"
pass "metrics: requests_total, duration histogram, rejected_total, streams"

# ---- 5: plugin stop
http POST /plugins/httpcheck/disable
[ "$CODE" = 200 ] || fail "disable: $CODE $BODY"
wait "$HOLD" || fail "held websocket: $(cat "$T/hold.txt")"
wait_for '[ "$(grep -c "httpcheck: closed\" kind=sse reason=-6" "$T/labd.log")" = 3 ]' ||
	fail "SSE streams not cancelled: $(grep -c 'reason=-6' "$T/labd.log")"
grep -q 'httpcheck: closed" kind=websocket reason=-6' "$T/labd.log" || fail "WebSocket not cancelled"
for p in $SSE_PIDS; do wait "$p" || fail "an SSE client did not see a clean end ($?)"; done
req "$U/t/hello"
[ "$CODE" = 404 ] || fail "route still there after disable: $CODE"
pass "disable: streams closed (LAB_ECANCELED, WebSocket 1001), routes removed"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exit $STOP_RC"
pass "clean exit"

# ---- 6: an upgraded WebSocket leaves libmicrohttpd (the host keeps a
# duplicate of its socket) but still counts against http.max_connections
write_conf 'httpcheck = { };'
cat >>"$T/labd.conf" <<'CONF'
http = { listen = "127.0.0.1:0"; max_connections = 2; };
CONF
start_labd
wait_for 'grep -q "httpcheck: routes" "$T/labd.log"' || fail "the plugin did not start again"
HP=$(sed -n 's/.*msg="HTTP listening".* port=\([0-9]*\).*/\1/p' "$T/labd.log" | head -n 1)
U="http://127.0.0.1:$HP"
$PY "$CLIENT" "$HP" ws-hold >"$T/hold1.txt" 2>&1 &
H1=$!
$PY "$CLIENT" "$HP" ws-hold >"$T/hold2.txt" 2>&1 &
H2=$!
wait_for 'grep -q open "$T/hold1.txt" && grep -q open "$T/hold2.txt"' || fail "two WebSockets did not open"
wait_for '[ "$(metric lab_http_connections)" = 2 ]' 40 || # set by the 250 ms sweep
	fail "connections with 2 WebSockets: $(metric 'lab_http_connections')"
req "$U/t/hello"
[ "$CODE" = 000 ] || fail "a third connection over max_connections 2: $CODE"
[ "$(metric 'lab_http_rejected_total{reason="connections"}')" = 1 ] || fail "connections rejection not counted"
kill "$H1"
wait "$H1" 2>/dev/null
wait_for '[ "$(metric '"'"'lab_http_streams{plugin="httpcheck",kind="websocket"}'"'"')" = 1 ]' ||
	fail "the closed WebSocket is still counted"
req "$U/t/hello"
[ "$CODE" = 200 ] || fail "a connection once a WebSocket left: $CODE"
kill "$H2"
wait "$H2" 2>/dev/null
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exit $STOP_RC (2)"
pass "WebSockets count against http.max_connections after the upgrade"
