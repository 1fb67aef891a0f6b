#!/bin/sh
# SIGHUP and the settings outside `plugins` (issue 20, docs/reload.md):
#   - applied while running: log.level (debug lines appear), admin.token (the
#     old token gets 401, the new one 200; never logged), clickhouse.probe_interval
#     (from off to 1 s: /readyz starts naming ClickHouse), log.format;
#   - every other changed setting: one warning line each, compared with what
#     runs — a second SIGHUP of the same file warns again, a setting changed
#     back is not reported;
#   - lab_config_reloads_total{result="ok|error"};
#   - `labd -t` without the service's environment: an unset ${NAME} is a
#     warning naming FILE:LINE (exit 0), still an error for the service and
#     real errors still fail -t.
. "$top_srcdir/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is needed"
stage_plugins

conf() { # conf LEVEL TOKEN ROOT CONCURRENCY PROBE [FORMAT]
	cat >"$T/labd.conf" <<CONF
log = { level = "$1"; format = "${6:-logfmt}"; };
admin = { listen = "127.0.0.1:0"; token = "$2"; };
plugin_dir = "$T/plugins";
storage = { backend = "fs"; fs = { root = "$3"; }; };
clickhouse = { url = "http://127.0.0.1:1"; max_concurrency = $4; probe_interval = "$5"; };
plugins = { example = { interval = "1s"; }; };
CONF
}
hup() { # hup: SIGHUP, then wait for the reload's summary line (count $1)
	kill -HUP "$LABD_PID"
	wait_for "[ \$(grep -c 'configuration reload' \"\$T/labd.log\") -gt $nlines ]" || fail "no reload logged"
	sleep 0.3
	nlines=$(grep -c 'configuration reload' "$T/labd.log")
}
auth() { http POST /plugins/example/run -H "Authorization: Bearer $1"; echo "$CODE"; }
nlines=0

# ---- start: token from the environment, probe off, level info
conf info '${SIGHUP_TEST_TOKEN}' "$T/data" 8 0s
SIGHUP_TEST_TOKEN=one-secret-token
export SIGHUP_TEST_TOKEN
start_labd
unset SIGHUP_TEST_TOKEN
wait_for 'grep -q "msg=\"plugin running\"" "$T/labd.log"' || fail "example did not start"
[ "$(auth one-secret-token)" = 200 ] || fail "start token refused"
readyz_ok() { http GET /readyz; [ "$CODE" = 200 ]; }
wait_for readyz_ok || fail "/readyz before: $CODE $BODY"
[ "$(metric 'lab_config_reloads_total{result="ok"}')" = 0 ] && [ "$(metric 'lab_config_reloads_total{result="error"}')" = 0 ] ||
	fail "lab_config_reloads_total not 0 at start"
grep -q 'level=debug' "$T/labd.log" && fail "debug lines at level info"

# ---- 1. level, token, probe applied; root and concurrency need a restart
conf debug two-secret-token "$T/data2" 4 1s
hup
for s in log.level admin.token clickhouse.probe_interval; do
	[ "$(grep -c "msg=\"configuration reload: setting applied\" setting=$s" "$T/labd.log")" = 1 ] || fail "$s: not one 'applied' line"
done
grep -q 'msg="configuration reload: setting applied" setting=log.level from=info to=debug' "$T/labd.log" || fail "log.level line"
grep -q 'secret-token' "$T/labd.log" && fail "a token value was logged"
grep -q "msg=\"configuration reload: setting needs a restart of labd; the running value is kept\" setting=storage.fs.root running=$T/data file=$T/data2" "$T/labd.log" ||
	fail "storage.fs.root restart line"
grep -q 'setting=clickhouse.max_concurrency running=8 file=4' "$T/labd.log" || fail "max_concurrency restart line"
[ "$(grep -c 'setting needs a restart' "$T/labd.log")" = 2 ] || fail "restart lines: $(grep 'setting needs a restart' "$T/labd.log")"
[ "$(auth one-secret-token)" = 401 ] || fail "the old token still works"
[ "$(auth two-secret-token)" = 200 ] || fail "the new token is refused"
http POST /plugins/example/disable -H "Authorization: Bearer two-secret-token"
http POST /plugins/example/enable -H "Authorization: Bearer two-secret-token"
wait_for 'grep -q "level=debug" "$T/labd.log"' || fail "no debug line after log.level = debug"
wait_for 'http GET /readyz; [ "$CODE" = 503 ] && case $BODY in *clickhouse*) true ;; *) false ;; esac' ||
	fail "/readyz does not probe ClickHouse after probe_interval 0s -> 1s: $CODE $BODY"
[ -d "$T/data2" ] && fail "storage moved to the new root without a restart"
pass "SIGHUP applied log.level, admin.token, clickhouse.probe_interval; named storage.fs.root and clickhouse.max_concurrency as needing a restart"

# ---- 2. the same file again: compared with what runs, the two restart lines again, nothing applied
before=$(grep -c 'setting needs a restart' "$T/labd.log")
hup
[ "$(grep -c 'setting needs a restart' "$T/labd.log")" = $((before + 2)) ] || fail "second SIGHUP of the same file: restart lines not repeated"
[ "$(grep -c 'setting applied' "$T/labd.log")" = 3 ] || fail "second SIGHUP applied something again"
# ---- 3. root changed back: only max_concurrency differs from what runs
conf debug two-secret-token "$T/data" 4 1s
hup
[ "$(grep -c 'setting needs a restart' "$T/labd.log")" = $((before + 3)) ] || fail "after changing the root back: $(grep 'setting needs a restart' "$T/labd.log" | tail -2)"
grep 'setting needs a restart' "$T/labd.log" | tail -1 | grep -q 'setting=clickhouse.max_concurrency' || fail "the last restart line is not max_concurrency"
pass "a second SIGHUP warns again (compared with the running config); a setting changed back is not reported"

# ---- 4. a broken file: error counted, nothing changed
echo 'log = { level = "loud"; };' >>"$T/labd.conf"
kill -HUP "$LABD_PID"
wait_for 'grep -q "configuration reload rejected" "$T/labd.log"' || fail "broken file not rejected"
[ "$(metric 'lab_config_reloads_total{result="ok"}')" = 3 ] || fail "ok reloads: $(metric 'lab_config_reloads_total{result="ok"}')"
[ "$(metric 'lab_config_reloads_total{result="error"}')" = 1 ] || fail "error reloads: $(metric 'lab_config_reloads_total{result="error"}')"
pass "lab_config_reloads_total: ok 3, error 1"

# ---- 5. log.format applied
conf info two-secret-token "$T/data" 4 1s json
hup
http POST /plugins/example/run -H "Authorization: Bearer two-secret-token"
wait_for 'tail -n 1 "$T/labd.log" | grep -q "^{"' || fail "log.format json not applied: $(tail -n 2 "$T/labd.log")"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exited $STOP_RC"
# an AddressSanitizer/UBSan build (--enable-sanitizers) reports into the log
grep -q -E 'Sanitizer|runtime error:' "$T/labd.log" && fail "sanitizer report: $(grep -A5 -E 'Sanitizer|runtime error:' "$T/labd.log" | head -20)"
pass "log.format applied"

# ---- 6. labd -t without the service's environment
conf info '${SIGHUP_TEST_UNSET_TOKEN}' "$T/data" 8 0s
unset SIGHUP_TEST_UNSET_TOKEN
"$LABD" -t -c "$T/labd.conf" >"$T/t.out" 2>&1 || fail "labd -t failed on an unset variable: $(cat "$T/t.out")"
grep -q "labd.conf:2: setting 'admin.token': environment variable 'SIGHUP_TEST_UNSET_TOKEN' is not set here" "$T/t.out" ||
	fail "-t did not warn about the variable: $(cat "$T/t.out")"
grep -q 'configuration ok' "$T/t.out" || fail "-t verdict: $(cat "$T/t.out")"
"$LABD" -c "$T/labd.conf" >"$T/s.out" 2>&1 && fail "the service started without its environment"
grep -q "environment variable 'SIGHUP_TEST_UNSET_TOKEN' is not set" "$T/s.out" || fail "service error: $(cat "$T/s.out")"
sed -i 's/level = "info"/level = "loud"/' "$T/labd.conf"
"$LABD" -t -c "$T/labd.conf" >"$T/t.out" 2>&1 && fail "-t passed a bad log.level"
grep -q -E 'Sanitizer|runtime error:' "$T/t.out" "$T/s.out" && fail "sanitizer report in -t or the refused start"
pass "labd -t: unset \${NAME} is a warning with FILE:LINE (exit 0); the service still refuses it; real errors still fail -t"
