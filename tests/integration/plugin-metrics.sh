#!/bin/sh
# Plugin metrics (SDK 1.2, lab/plugin.h "metrics") and the per-plugin log
# level (plugins.NAME.log_level): the example plugin's counter, gauge and
# histogram on /metrics under lab_example_; their values kept across a hot
# reload; gone when the plugin is disabled; its progress and last success in
# /plugins; its info lines filtered at log_level = "warn" while another
# plugin still logs at info; SIGHUP changes the level without a restart.
. "$(dirname "$0")/lib.sh"
stage_plugins
mkdir -p "$T/tmp"
chmod 700 "$T/tmp"
TMPDIR=$T/tmp
export TMPDIR
conf() { # conf EXAMPLE_EXTRA
	write_conf "example = { interval = \"1s\"; message = \"tock\"; $1 };
lifecycle = { tick_ms = 200; };"
}
conf ''
start_labd
ticks() { v=$(metric "lab_example_ticks_total{trigger=\"$1\"}"); echo "${v:-0}"; }
tocks() { grep -c 'plugin=example msg=tock ' "$T/labd.log"; }
field() { # field PLUGIN KEY -> value from /plugins (strings unquoted)
	http GET /plugins
	printf '%s\n' "$BODY" | sed 's/},{"name"/}\n{"name"/g' | grep "\"name\":\"$1\"" |
		sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}

# 1. exposed with the plugin's prefix, with HELP/TYPE, values counting
wait_for '[ "$(ticks timer)" -ge 2 ]' || fail "lab_example_ticks_total{trigger=timer} not counting: $(ticks timer)"
http GET /metrics
for l in '# TYPE lab_example_ticks_total counter' '# TYPE lab_example_count gauge' \
	'# TYPE lab_example_tick_interval_seconds histogram' \
	'# HELP lab_example_ticks_total Timer ticks and run requests.' \
	'lab_example_tick_interval_seconds_bucket{le="+Inf"} '; do
	printf '%s\n' "$BODY" | grep -qF "$l" || fail "missing on /metrics: $l"
done
count=$(metric lab_example_count)
last=$(sed -n 's/.*plugin=example msg=tock count=\([0-9]*\).*/\1/p' "$T/labd.log" | tail -n 1)
[ "$count" -ge "$last" ] || fail "lab_example_count $count < logged count $last"
http POST /plugins/example/run
[ "$CODE" = 200 ] || fail "run: $CODE $BODY"
[ "$(ticks run)" = 1 ] || fail "lab_example_ticks_total{trigger=run} = $(ticks run)"
pass "lab_example_ticks_total{trigger}, lab_example_count and the histogram are on /metrics (timer $(ticks timer), run 1)"

# 2. a hot reload keeps them: the new instance continues counting
before=$(ticks timer)
http POST /plugins/example/reload
[ "$CODE" = 200 ] || fail "reload: $CODE $BODY"
[ "$(field example generation)" = 2 ] || fail "generation 2 expected: $BODY"
after=$(ticks timer)
[ "$after" -ge "$before" ] || fail "reload reset the counter: $before -> $after"
[ "$(ticks run)" = 1 ] || fail "reload lost the run series: $(ticks run)"
wait_for '[ "$(ticks timer)" -gt "$after" ]' || fail "the reloaded instance does not count on"
pass "hot reload keeps the plugin's metrics ($before -> $(ticks timer), run series kept)"

# 3. last success: --once-style writes are the example's only puts, so the
# beacon test covers a running writer; here the field exists and is null.
http GET /plugins
printf '%s' "$BODY" | grep -q '"name":"example"[^]]*"last_success":null,"log_level":null,"progress":\[\]' ||
	fail "/plugins lacks last_success/log_level/progress: $BODY"
pass "/plugins has last_success, log_level and progress per plugin"

# 4. disabling the plugin drops its families
http POST /plugins/example/disable
[ "$CODE" = 200 ] || fail "disable: $CODE $BODY"
wait_for '[ "$(field example state)" = disabled ]' || fail "not disabled: $BODY"
http GET /metrics
printf '%s\n' "$BODY" | grep -q '^[^#]*lab_example_\|TYPE lab_example_' && fail "lab_example_* still on /metrics after disable"
printf '%s\n' "$BODY" | grep -q '^lab_timer_fires_total{plugin="lifecycle"}' || fail "host metrics gone too"
pass "disabling the plugin removes lab_example_* from /metrics"
http POST /plugins/example/enable
[ "$CODE" = 200 ] || fail "enable: $CODE $BODY"
wait_for '[ "$(ticks timer)" -ge 1 ]' || fail "metrics not back after enable"
[ "$(ticks run)" = 0 ] || fail "a fresh start must start from zero (run = $(ticks run))"
pass "enabled again: the metrics start from zero"

# 5. per-plugin log level: example at warn, lifecycle still at info
stop_labd
conf 'log_level = "warn";'
start_labd
wait_for '[ "$(ticks timer)" -ge 3 ]' || fail "example not ticking"
[ "$(tocks)" = 0 ] || fail "example's info lines written at log_level warn: $(tocks)"
grep -q 'plugin=lifecycle ' "$T/labd.log" || fail "lifecycle's lines missing (the host level must still apply to it)"
grep -q 'plugin=example msg="plugin running"' "$T/labd.log" || fail "the host's own lines about example must stay"
http GET /plugins
printf '%s' "$BODY" | grep -q '"name":"example"[^]]*"log_level":"warn"' || fail "/plugins log_level: $BODY"
pass "plugins.example.log_level = warn drops the plugin's info lines; other plugins and host lines unaffected"

# 6. SIGHUP applies a new level at once, without restarting the plugin
gen=$(field example generation)
conf 'log_level = "debug";'
kill -HUP "$LABD_PID"
wait_for 'grep -q "plugin=example msg=\"configuration reload: plugin log level applied\" log_level=debug" "$T/labd.log"' ||
	fail "SIGHUP did not apply the log level"
wait_for '[ "$(tocks)" -ge 1 ]' || fail "info lines not back after SIGHUP"
[ "$(field example generation)" = "$gen" ] || fail "SIGHUP restarted the plugin for a log level change"
grep -q 'plugin=example msg="configuration reload: restarting' "$T/labd.log" && fail "restart logged for a log level change"
pass "SIGHUP applies plugins.example.log_level without a restart (generation $gen)"

# 7. a bad level is a configuration error with file:line
conf 'log_level = "loud";'
"$LABD" -t -c "$T/labd.conf" >"$T/t.out" 2>&1 && fail "-t accepted log_level = loud"
grep -q "labd.conf:[0-9]*: setting 'plugins.example.log_level'" "$T/t.out" || fail "error without location: $(cat "$T/t.out")"
pass "log_level = \"loud\" is refused with file:line"
stop_labd
