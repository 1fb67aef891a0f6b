#!/bin/sh
# Self-healing plugins (issue 20, docs/operations.md "Self-healing"), in
# serve mode with plugin_retry = 1 s doubling to 2 s:
#   1. init failing with LAB_EIO (the flaky test plugin) is restarted with
#      backoff: /plugins shows failed, last_error with the plugin's own
#      message, retries and next_retry; /readyz names it; once the cause is
#      gone it runs again without `enable`;
#   2. start failing with LAB_EINVAL (permanent) is not restarted; `enable`
#      still starts it by hand;
#   3. s3rver behind tests/faultproxy answering 503 at start: the state load
#      fails, the plugin runs once S3 answers again (no `enable`);
#   4. the real ClickHouse killed while the plugin queries it: the plugin
#      keeps running, its warnings show in last_error/last_error_at; after
#      ClickHouse is back its queries succeed again.
# Takes about 40 s.
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse,s3 -- "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/faults-lib.sh"
command -v jq >/dev/null || fail "jq is needed"

stage_plugins
[ -f "$T/plugins/flaky.so" ] || fail "tests/plugins/flaky.so not built"
RETRY='plugin_retry = { initial_delay = "1s"; max_delay = "2s"; };'
conf() { # conf PLUGIN-SETTINGS [STORAGE]: labd.conf with the flaky plugin
	st=${2:-}
	[ -n "$st" ] || st="{ backend = \"fs\"; fs = { root = \"$T/data\"; }; };"
	cat >"$T/labd.conf" <<CONF
log = { level = "info"; };
admin = { listen = "127.0.0.1:0"; };
plugin_dir = "$T/plugins";
$RETRY
storage = $st
clickhouse = { url = "$CLICKHOUSE_URL"; timeout = "2s"; probe_interval = "1s"; };
plugins = { flaky = { $1 }; };
CONF
}
pj() { http GET /plugins; printf '%s' "$BODY" | jq -r ".[] | select(.name == \"flaky\") | $1"; }
state_is() { [ "$(pj .state)" = "$1" ]; }

# ---- 1. transient init failure --------------------------------------------------
conf "init_error = -4; until = \"$T/healed\";"
start_labd
wait_for 'state_is failed' || fail "flaky did not fail: $BODY"
err=$(pj .last_error)
case $err in "init failed: I/O error: flaky: init refused on purpose") ;; *) fail "last_error: $err" ;; esac
[ "$(pj .last_error_at)" != null ] || fail "no last_error_at: $BODY"
[ "$(pj .next_retry)" != null ] || fail "no next_retry after a transient failure: $BODY"
readyz_has 'plugin flaky is failed: init failed: I/O error' || fail "/readyz: $CODE $BODY"
case $BODY in *"restarting at"*) ;; *) fail "/readyz does not say when it restarts: $BODY" ;; esac
st=$(sh "$top_srcdir/tools/labctl" -a "127.0.0.1:$PORT" status) || true
printf '%s\n' "$st" | grep -q '^flaky  *failed (restart [0-9]* at 20[0-9-]*T[0-9:]*Z)  .*init failed: I/O error' ||
	fail "labctl status does not show the planned restart: $st"
wait_long 10 '[ "$(pj .retries)" -ge 3 ]' || fail "not restarted 3 times in 10 s: $BODY"
gen=$(pj .generation)
[ "$gen" -ge 4 ] || fail "generation $gen after 3 restarts"
n=$(metric 'lab_plugin_retries_total{plugin="flaky"}')
[ "${n:-0}" -ge 3 ] || fail "lab_plugin_retries_total = ${n:-none}"
# the delays: ~1 s, then ~2 s (the bound), never shorter than 80 %
delays=$(sed -n 's/.*msg="plugin failed".* restart=automatic restart_in_ms=\([0-9]*\).*/\1/p' "$T/labd.log" | head -4 | tr '\n' ' ')
set -- $delays
[ $# -ge 3 ] || fail "restart delays not logged: $delays"
[ "$1" -ge 800 ] && [ "$1" -le 1200 ] || fail "first delay $1 ms (want 800..1200)"
[ "$2" -ge 1600 ] && [ "$2" -le 2000 ] && [ "$3" -ge 1600 ] && [ "$3" -le 2000 ] || fail "later delays $2 $3 ms (want 1600..2000: doubled, bounded at 2 s)"
touch "$T/healed"
wait_long 5 'state_is running' || fail "flaky not running 5 s after the cause went away: $BODY"
[ "$(pj .last_error)" = null ] && [ "$(pj .next_retry)" = null ] && [ "$(pj .retries)" = 0 ] || fail "running, but: $BODY"
wait_long 5 readyz_ok || fail "/readyz after recovery: $CODE $BODY"
grep -q 'msg="restarting the failed plugin"' "$T/labd.log" || fail "restart not logged"
pass "init failing with LAB_EIO: failed with last_error/next_retry, restarted after $delays ms, running again without enable"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exited $STOP_RC"

# ---- 2. permanent start failure ----------------------------------------------------------
rm -f "$T/healed"
conf "start_error = -1; until = \"$T/healed\";"
start_labd
wait_for 'state_is failed' || fail "flaky did not fail: $BODY"
case $(pj .last_error) in "start failed: invalid argument: flaky: start refused on purpose") ;; *) fail "last_error: $BODY" ;; esac
[ "$(pj .next_retry)" = null ] || fail "a permanent failure is planned for a restart: $BODY"
grep -q 'msg="plugin failed" .*restart="manual (not a transient error)"' "$T/labd.log" || fail "the log does not say it is not restarted"
sleep 2.5
[ "$(pj .generation)" = 1 ] && [ "$(pj .retries)" = 0 ] || fail "restarted although permanent: $BODY"
touch "$T/healed"
http POST /plugins/flaky/enable
[ "$CODE" = 200 ] || fail "enable: $CODE $BODY"
wait_for 'state_is running' || fail "enable did not start it: $BODY"
pass "start failing with LAB_EINVAL: not restarted (generation 1 after 2.5 s), enable starts it"
stop_labd

# ---- 3. S3 answering 503 at start ----------------------------------------------------------
S3_PORT=${S3_ENDPOINT##*:}
start_proxy "$S3_PORT"
fault "status 503"
conf "" "{ backend = \"s3\"; s3 = { endpoint = \"http://127.0.0.1:$PROXY_PORT\"; bucket = \"$S3_BUCKET\"; region = \"$S3_REGION\"; access_key_id = \"$S3_ACCESS_KEY_ID\"; secret_access_key = \"$S3_SECRET_ACCESS_KEY\"; timeout = \"2s\"; max_retries = 0; }; };"
start_labd
wait_long 10 'state_is failed' || fail "flaky did not fail with S3 down: $BODY"
case $(pj .last_error) in "cannot load state: "*) ;; *) fail "last_error: $BODY" ;; esac
[ "$(pj .next_retry)" != null ] || fail "no restart planned: $BODY"
sleep 3
state_is failed || fail "S3 still down, but: $BODY"
# disabled by SIGHUP while a restart is planned: no restart, no next_retry
S3CONF="{ backend = \"s3\"; s3 = { endpoint = \"http://127.0.0.1:$PROXY_PORT\"; bucket = \"$S3_BUCKET\"; region = \"$S3_REGION\"; access_key_id = \"$S3_ACCESS_KEY_ID\"; secret_access_key = \"$S3_SECRET_ACCESS_KEY\"; timeout = \"2s\"; max_retries = 0; }; };"
conf "enabled = false;" "$S3CONF"
kill -HUP "$LABD_PID"
wait_for 'state_is disabled' || fail "SIGHUP did not disable the failed plugin: $BODY"
[ "$(pj .next_retry)" = null ] || fail "a disabled plugin still has a restart planned: $BODY"
g=$(pj .generation)
sleep 2.5
state_is disabled && [ "$(pj .generation)" = "$g" ] || fail "a disabled plugin was restarted: $BODY"
conf "" "$S3CONF"
kill -HUP "$LABD_PID"
wait_long 10 '[ "$(pj .next_retry)" != null ]' || fail "enabled again by SIGHUP with S3 down: no restart planned: $BODY"
fault pass
wait_long 10 'state_is running' || fail "flaky not running 10 s after S3 came back: $BODY"
r=$(grep -c 'msg="restarting the failed plugin"' "$T/labd.log")
pass "S3 503 at start: 'cannot load state', restarted $r times (none while disabled by SIGHUP), running once S3 answered again (no enable)"
stop_labd
stop_proxy

# ---- 4. ClickHouse killed while the plugin runs ---------------------------------------------
CH_DIR="$LABD_SERVICES_DIR/clickhouse"
conf "query_ms = 300;"
start_labd
wait_for 'state_is running' || fail "flaky not running: $BODY"
sleep 1
[ "$(pj .last_error)" = null ] || fail "an error before ClickHouse stopped: $BODY"
kill -9 "$(cat "$CH_DIR/pid")"
wait_long 15 '[ "$(pj .last_error)" != null ]' || fail "no last_error while ClickHouse is down: $BODY"
err=$(pj .last_error)
case $err in "probe query failed; retried at the next tick: "*) ;; *) fail "last_error: $err" ;; esac
[ "$(pj .last_error_at)" != null ] || fail "no last_error_at: $BODY"
state_is running || fail "a plugin reporting errors is not running: $BODY"
server=$(command -v clickhouse-server || echo /usr/bin/clickhouse-server)
"$server" --config-file="$CH_DIR/config.xml" </dev/null >>"$CH_DIR/log/stdout.log" 2>&1 &
echo $! >"$CH_DIR/pid"
wait_long 60 '[ "$(curl -s --max-time 1 "$CLICKHOUSE_URL/ping")" = "Ok." ]' || fail "clickhouse did not restart"
wait_long 20 readyz_ok || fail "/readyz after ClickHouse came back: $CODE $BODY"
ok0=$(metric 'lab_clickhouse_queries_total{plugin="flaky",result="ok"}')
wait_long 10 '[ "$(metric "lab_clickhouse_queries_total{plugin=\"flaky\",result=\"ok\"}")" -gt "${ok0:-0}" ]' || fail "no query succeeded after ClickHouse came back"
state_is running || fail "not running: $BODY"
pass "ClickHouse killed: flaky kept running, last_error '$(printf '%s' "$err" | cut -c1-90)…' at $(pj .last_error_at); queries succeed after the restart"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exited $STOP_RC"
san_check
