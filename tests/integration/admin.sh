#!/bin/sh
# The service mode through the admin API: health, plugins, metrics, token,
# disable/enable/run, a refused plugin beside running ones, SIGTERM.
. "$(dirname "$0")/lib.sh"
stage_plugins
ADMIN_TOKEN=s3cr3t-token
write_conf 'example = { interval = "1s"; message = "tock"; };
lifecycle = { tick_ms = 50; };
badmajor = { };'
start_labd

http GET /healthz
[ "$CODE" = 200 ] && [ "$BODY" = '{"status":"ok"}' ] || fail "/healthz: $CODE $BODY"
pass "/healthz"

wait_for '[ -n "$(metric "lab_timer_fires_total{plugin=\"example\"}")" ]' || fail "example timer never fired"
http GET /plugins
[ "$CODE" = 200 ] || fail "/plugins: $CODE"
echo "$BODY" | grep -q '"name":"example","version":"1.0.0"' || fail "/plugins example: $BODY"
echo "$BODY" | grep -q '"name":"example"[^}]*"state":"running"' || fail "example not running: $BODY"
echo "$BODY" | grep -q '"name":"badmajor"[^}]*"state":"failed"[^}]*"last_error":"plugin badmajor: ABI 2\.[0-9]* is incompatible' ||
	fail "badmajor should be failed with the reason: $BODY"
pass "/plugins lists running and refused plugins"

grep -q 'level=error plugin=badmajor msg="plugin failed" error="plugin badmajor: ABI 2\.[0-9]* is incompatible with this host.s ABI 1\.[0-9]*' "$T/labd.log" ||
	fail "ABI refusal not logged"
kill -0 "$LABD_PID" || fail "daemon died because of a bad plugin"
pass "a plugin with the wrong ABI major is refused; the daemon keeps running"

http GET /readyz
[ "$CODE" = 503 ] || fail "/readyz must be 503 while a plugin failed: $CODE"
echo "$BODY" | grep -q 'plugin badmajor is failed' || fail "/readyz reasons: $BODY"
pass "/readyz names the failed plugin"

[ "$(metric lab_up)" = 1 ] || fail "lab_up"
http GET /metrics
echo "$BODY" | grep -q '^lab_build_info{version="[0-9.]*"} 1' || fail "lab_build_info"
echo "$BODY" | grep -q '^lab_plugin_state{plugin="example",state="running"} 1' || fail "lab_plugin_state"
echo "$BODY" | grep -q '^process_resident_memory_bytes [0-9]' || fail "process_resident_memory_bytes"
f1=$(metric 'lab_timer_fires_total{plugin="example"}')
wait_for '[ "$(metric "lab_timer_fires_total{plugin=\"example\"}")" -gt "$f1" ]' || fail "timer fires do not increase"
pass "/metrics: lab_up, build info, plugin state, timer fires increasing"

http POST /plugins/example/disable
[ "$CODE" = 401 ] || fail "disable without token must be 401: $CODE"
http POST /plugins/example/disable -H "Authorization: Bearer wrong"
[ "$CODE" = 401 ] || fail "disable with a wrong token must be 401: $CODE"
http POST /plugins/example/disable -H "Authorization: Bearer $ADMIN_TOKEN"
[ "$CODE" = 200 ] || fail "disable: $CODE $BODY"
wait_for 'http GET /plugins; echo "$BODY" | grep -q "\"name\":\"example\"[^}]*\"state\":\"disabled\""' ||
	fail "example not disabled: $BODY"
f1=$(metric 'lab_timer_fires_total{plugin="example"}')
sleep 2.2
f2=$(metric 'lab_timer_fires_total{plugin="example"}')
[ "$f1" = "$f2" ] || fail "disabled plugin's timer still fires ($f1 -> $f2)"
pass "disable stops the plugin's timer (token required)"

http POST /plugins/example/enable -H "Authorization: Bearer $ADMIN_TOKEN"
[ "$CODE" = 200 ] || fail "enable: $CODE $BODY"
wait_for '[ "$(metric "lab_timer_fires_total{plugin=\"example\"}")" -gt "$f2" ]' || fail "re-enabled timer does not fire"
http GET /plugins
echo "$BODY" | grep -q '"name":"example"[^}]*"state":"running","enabled":true,"generation":2' || fail "generation after enable: $BODY"
pass "enable starts it again (generation 2)"

http POST /plugins/lifecycle/run -H "Authorization: Bearer $ADMIN_TOKEN"
[ "$CODE" = 200 ] || fail "run: $CODE $BODY"
wait_for 'grep -q "lifecycle: run" "$T/labd.log"' || fail "run callback not called"
http POST /plugins/nosuch/run -H "Authorization: Bearer $ADMIN_TOKEN"
[ "$CODE" = 404 ] || fail "unknown plugin must be 404: $CODE"
http POST /plugins/example/reload -H "Authorization: Bearer $ADMIN_TOKEN"
[ "$CODE" = 200 ] || fail "reload must answer 200 (hot reload, docs/reload.md): $CODE $BODY"
echo "$BODY" | grep -q '"state":"running"' || fail "reload answer: $BODY"
pass "run, unknown plugin, reload (200; covered in depth by reload.sh)"

grep -q "$ADMIN_TOKEN" "$T/labd.log" && fail "the admin token leaked into the log"
http GET /plugins
echo "$BODY" | grep -q "$ADMIN_TOKEN" && fail "the admin token leaked into /plugins"
pass "the token appears in neither the log nor /plugins"

stop_labd
[ "$STOP_RC" = 0 ] || fail "SIGTERM exit status $STOP_RC"
order=$(sed -n 's/.*msg="lifecycle: \([a-z-]*\)".*/\1/p' "$T/labd.log" | grep -v -e tick -e run | tr '\n' ' ')
[ "$order" = "init start stop destroy " ] || fail "lifecycle order: $order"
gzip -dc "$T/data/state/modules/example.json" | grep -q '"counter"' || fail "state not flushed on stop"
pass "SIGTERM stops plugins in order, flushes state, exits 0"
