#!/bin/sh
# Hot plugin reload and config reload (SPEC §7, docs/reload.md): a new build
# of the example plugin installed by atomic rename while its timer runs,
# admin reloads, bad new files (garbage, wrong ABI, init/start failing) with
# the old version kept, in-place overwrite, another plugin not paused,
# private copies cleaned up, SIGHUP enable/disable/change and broken configs.
. "$(dirname "$0")/lib.sh"
stage_plugins
P=$T/plugins
for f in example-v2 example-initfail example-startfail badmajor; do
	[ -f "$P/$f.so" ] || fail "$f.so not built (run make check)"
done
cp "$P/example.so" "$T/example-v1.so"
mkdir -p "$T/tmp"
chmod 700 "$T/tmp"
TMPDIR=$T/tmp
export TMPDIR
conf() { # conf EXAMPLE_SECTION LIFECYCLE_SECTION
	write_conf "example = { $1 };
lifecycle = { $2 };"
}
conf 'interval = "1s"; message = "tock";' 'tick_ms = 50;'
# The copy directory of a labd that died by SIGKILL (its pid is gone).
sh -c 'exit 0' &
dead=$!
wait $dead
mkdir -p "$T/tmp/labd-plugins-$dead.AbCdEf" "$T/tmp/labd-plugins-$$.KeepMe"
touch "$T/tmp/labd-plugins-$dead.AbCdEf/example.1.2.so" "$T/tmp/labd-plugins-$$.KeepMe/x.so"
start_labd
[ ! -e "$T/tmp/labd-plugins-$dead.AbCdEf" ] || fail "stale copy directory of pid $dead not removed"
[ -e "$T/tmp/labd-plugins-$$.KeepMe/x.so" ] || fail "copy directory of a live process removed"
rm -rf "$T/tmp/labd-plugins-$$.KeepMe"
pass "stale private-copy directories of exited processes are removed at start"

field() { # field PLUGIN KEY -> value from /plugins (strings unquoted)
	http GET /plugins
	printf '%s\n' "$BODY" | sed 's/},{/}\n{/g' | grep "\"name\":\"$1\"" |
		sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}
count() { # the last count the example logged
	sed -n 's/.*plugin=example msg=tock count=\([0-9]*\).*/\1/p' "$T/labd.log" | tail -n 1
}
install() { # install FILE: atomic rename into place
	cp "$1" "$P/.example.so.tmp" && chmod 644 "$P/.example.so.tmp" && mv "$P/.example.so.tmp" "$P/example.so"
}
reloads() { v=$(metric "lab_plugin_reloads_total{plugin=\"example\",result=\"$1\"}"); echo "${v:-0}"; }

wait_for '[ "$(count)" -ge 2 ] 2>/dev/null' || fail "example timer does not count"
[ "$(field example generation)" = 1 ] || fail "generation 1 expected: $BODY"
ncopies=$(find "$T/tmp" -name '*.so' | wc -l)
[ "$ncopies" = 2 ] || fail "expected 2 private copies (example, lifecycle), found $ncopies"
pass "plugins load from private copies under \$TMPDIR"

# 1. a new build, installed by atomic rename: the watcher reloads it.
c0=$(count)
lf0=$(metric 'lab_timer_fires_total{plugin="lifecycle"}')
install "$P/example-v2.so"
wait_for '[ "$(field example version)" = 2.0.0 ]' || fail "v2 not loaded after rename: $BODY"
[ "$(field example generation)" = 2 ] || fail "generation 2 expected: $BODY"
[ "$(field example state)" = running ] || fail "v2 not running: $BODY"
grep -q 'plugin=example msg="plugin reloaded" trigger=file version=2.0.0 generation=2' "$T/labd.log" ||
	fail "reload not logged"
started=$(sed -n 's/.*plugin=example msg="example started".* count=\([0-9]*\).*/\1/p' "$T/labd.log" | tail -n 1)
[ "$started" -ge "$c0" ] || fail "the new instance restarted the counter ($started < $c0)"
wait_for '[ "$(count)" -gt "$started" ]' || fail "the counter does not continue after the reload"
[ "$(reloads ok)" = 1 ] || fail "lab_plugin_reloads_total{result=ok} = $(reloads ok)"
pass "atomic-rename install reloads: version 2.0.0, generation 2, counter continued ($c0 -> $(count))"

# 2. the admin route: 200 with the new generation.
http POST /plugins/example/reload
[ "$CODE" = 200 ] || fail "admin reload: $CODE $BODY"
echo "$BODY" | grep -q '"state":"running","version":"2.0.0","generation":3' || fail "admin reload body: $BODY"
http POST /plugins/nosuch/reload
[ "$CODE" = 404 ] || fail "reload of an unknown plugin: $CODE"
pass "POST /plugins/example/reload -> 200, generation 3"

# 3. bad new files: the old version keeps running, the error is reported.
bad_case() { # bad_case NAME EXPECTED_ERROR_TEXT
	f0=$(reloads failed)
	c1=$(count)
	http POST /plugins/example/reload
	[ "$CODE" = 500 ] || fail "$1: reload must answer 500: $CODE $BODY"
	echo "$BODY" | grep -q "$2" || fail "$1: reason missing in the answer: $BODY"
	[ "$(field example version)" = 2.0.0 ] || fail "$1: version changed: $BODY"
	[ "$(field example generation)" = 3 ] || fail "$1: generation changed: $BODY"
	[ "$(field example state)" = running ] || fail "$1: old version not running: $BODY"
	http GET /plugins
	echo "$BODY" | grep -q "\"last_error\":\"reload failed: [^\"]*$2" || fail "$1: last_error: $BODY"
	[ "$(reloads failed)" -gt "$f0" ] || fail "$1: failed reloads not counted"
	wait_for '[ "$(count)" -gt "$c1" ]' || fail "$1: the old version's timer stopped"
	kill -0 "$LABD_PID" || fail "$1: labd died"
	pass "bad file ($1): 500, old version 2.0.0 still running and counting, last_error set"
}
head -c 8192 /dev/urandom >"$P/example.so" # in-place overwrite
bad_case garbage 'not a loadable shared object'
install "$P/badmajor.so"
bad_case "wrong ABI" 'ABI 2\.[0-9]* is incompatible'
install "$P/example-initfail.so"
bad_case "init fails" 'init failed'
install "$P/example-startfail.so"
bad_case "start fails" 'start failed'
grep -q 'plugin=example msg="reload failed; the old version runs again"' "$T/labd.log" || fail "rollback not logged"

# 4. in-place overwrite with a good build: the watcher reloads it.
cat "$T/example-v1.so" >"$P/example.so"
wait_for '[ "$(field example version)" = 1.0.0 ]' || fail "in-place overwrite not reloaded: $BODY"
[ "$(field example generation)" = 4 ] || fail "generation 4 expected: $BODY"
http GET /plugins
echo "$BODY" | grep -q '"name":"example"[^}]*"last_error":null' || fail "last_error not cleared: $BODY"
pass "in-place overwrite reloads (version 1.0.0, generation 4, error cleared)"

lf1=$(metric 'lab_timer_fires_total{plugin="lifecycle"}')
[ "$(field lifecycle generation)" = 1 ] || fail "lifecycle was touched: $BODY"
[ "$lf1" -gt $((lf0 + 20)) ] || fail "lifecycle timer paused during reloads ($lf0 -> $lf1)"
pass "the other plugin kept running untouched ($lf0 -> $lf1 timer fires)"
ncopies=$(find "$T/tmp" -name '*.so' | wc -l)
[ "$ncopies" = 2 ] || fail "leftover private copies: $(find "$T/tmp" -name '*.so')"
pass "no leftover private copies after 8 reload attempts"

# 5. SIGHUP: disable example, change lifecycle's section.
conf 'enabled = false; interval = "1s"; message = "tock";' 'tick_ms = 60;'
kill -HUP "$LABD_PID"
wait_for '[ "$(field example state)" = disabled ]' || fail "SIGHUP did not stop example: $BODY"
wait_for '[ "$(field lifecycle generation)" = 2 ]' || fail "SIGHUP did not restart changed lifecycle: $BODY"
[ "$(field lifecycle state)" = running ] || fail "lifecycle not running after restart: $BODY"
grep -q 'msg="configuration reloaded" started=0 stopped=1 restarted=1 unchanged=0' "$T/labd.log" ||
	fail "config reload summary"
pass "SIGHUP: disabled plugin stopped, changed plugin restarted"

# 6. broken configs change nothing.
gen_l=$(field lifecycle generation)
echo 'plugins = { example = { enabled = true ' >"$T/labd.conf"
kill -HUP "$LABD_PID"
wait_for '[ "$(grep -c "configuration reload rejected" "$T/labd.log")" -ge 1 ]' || fail "broken config not rejected"
conf 'interval = "1s"; bogus_key = 1;' 'tick_ms = 60;'
kill -HUP "$LABD_PID"
wait_for '[ "$(grep -c "configuration reload rejected" "$T/labd.log")" -ge 2 ]' || fail "bad plugin section not rejected"
grep 'configuration reload rejected' "$T/labd.log" | tail -n 1 | grep -q 'bogus_key' || fail "rejection does not name the key"
[ "$(field example state)" = disabled ] || fail "broken config changed example: $BODY"
[ "$(field lifecycle generation)" = "$gen_l" ] || fail "broken config changed lifecycle: $BODY"
kill -0 "$LABD_PID" || fail "labd died on a broken config"
pass "SIGHUP with a broken file or a bad plugin section: rejected, nothing changed"

# 7. SIGHUP: enable example again, lifecycle unchanged.
conf 'interval = "1s"; message = "tock";' 'tick_ms = 60;'
kill -HUP "$LABD_PID"
wait_for '[ "$(field example state)" = running ]' || fail "SIGHUP did not start example: $BODY"
[ "$(field lifecycle generation)" = "$gen_l" ] || fail "unchanged lifecycle was restarted: $BODY"
c2=$(count)
wait_for '[ "$(count)" -gt "$c2" ]' || fail "example does not count after enable"
pass "SIGHUP: enabled plugin started, unchanged plugin untouched"

tools=$top_srcdir/tools/labctl
if command -v curl >/dev/null 2>&1; then
	out=$(sh "$tools" -a "127.0.0.1:$PORT" --json reload example) || fail "labctl reload: $out"
	echo "$out" | grep -q '"state":"running"' || fail "labctl reload output: $out"
	sh "$tools" -a "127.0.0.1:$PORT" --json list | grep -q '"name":"lifecycle"' || fail "labctl list"
	pass "labctl list / reload"
fi

stop_labd
[ "$STOP_RC" = 0 ] || fail "SIGTERM exit status $STOP_RC"
[ -z "$(ls -A "$T/tmp")" ] || fail "private copy directory left behind: $(ls -A "$T/tmp")"
pass "SIGTERM: exit 0, private copy directory removed"
