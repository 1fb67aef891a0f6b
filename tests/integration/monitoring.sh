#!/bin/sh
# Monitoring files (issue 20, finding 9): etc/prometheus/labd-alerts.yml
# passes `promtool check rules` and its unit tests (`promtool test rules`:
# each alert fires on the series that should trigger it and not before);
# every metric that the alert rules and etc/grafana/labd-dashboard.json
# use is one a running labd exports (its `# TYPE` lines), so a renamed
# metric breaks this test, not a dashboard in production.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null 2>&1 || { echo "promtool not installed (Debian package prometheus): skipped"; exit 77; }
rules=$top_srcdir/etc/prometheus/labd-alerts.yml
dash=$top_srcdir/etc/grafana/labd-dashboard.json
promtool check rules "$rules" >"$T/check" 2>&1 || { cat "$T/check"; fail "promtool check rules"; }
(cd "$top_srcdir/etc/prometheus" && promtool test rules labd-alerts.test.yml) >"$T/test" 2>&1 ||
	{ cat "$T/test"; fail "promtool test rules"; }
pass "alert rules: $(grep -o '[0-9]* rules found' "$T/check"); promtool test rules: SUCCESS"

JG="$top_builddir/tests/json-get"
[ -x "$JG" ] || make -C "$top_builddir" tests/json-get >/dev/null || fail "cannot build tests/json-get"
"$JG" "$dash" /title >"$T/title" || fail "the dashboard is not valid JSON"
[ "$(cat "$T/title")" = labd ] || fail "dashboard title: $(cat "$T/title")"

stage_plugins
# beacon registers its lab_beacon_* families (SDK 1.2 plugin metrics) in
# init; ClickHouse need not answer for them to be exported.
write_conf 'example = { interval = "1h"; };
beacon = { };'
cat >>"$T/labd.conf" <<CONF
ethereum = { networks = ( { name = "mainnet"; genesis_time = 1606824023;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
CONF
start_labd
wait_for 'grep -q "plugin=beacon msg=\"plugin running\"" "$T/labd.log"' || fail "beacon did not start"
sleep 0.5
http GET /metrics
[ "$CODE" = 200 ] || fail "GET /metrics: $CODE"
printf '%s\n' "$BODY" | sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' | sort -u >"$T/exported"
stop_labd
# Metric names in the expressions (histogram series end in _bucket).
grep -oh '\b\(lab\|process\)_[a-z_]*' "$rules" "$dash" | sed 's/_bucket$//' | sort -u >"$T/used"
[ -s "$T/used" ] || fail "no metric names found in the rules and the dashboard"
missing=$(comm -23 "$T/used" "$T/exported")
[ -z "$missing" ] || fail "used but not exported by labd: $missing"
pass "the $(wc -l <"$T/used") metrics the rules and the dashboard use are all exported by labd"
