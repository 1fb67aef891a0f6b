#!/bin/sh
# SDK 1.3 helpers and the --once watchdog (issue 21, findings 3, 6, 7),
# through tests/plugins/kit.c on the real labd:
#   1. the JSON writer: kit/doc.json is exactly the expected text (escapes,
#      U+FFFD, \u0000, extreme integers, null for infinity, nesting); on the
#      second run a raw state value is embedded; misuse latches the
#      documented codes;
#   2. millisecond durations: "250ms" bound and read as 250, the seconds
#      getter refuses it (LAB_ERANGE), "2s" reads as 2000 ms; "250ms" on a
#      seconds-only setting and a value below the declared ms minimum are
#      configuration errors;
#   3. the cancel callback: a work item still running when the drain timeout
#      passes gets `cancel` (not `done`), before destroy;
#   4. the --once watchdog: a plugin that never calls lab_done ends the run
#      after once.timeout with exit 1 and a line naming it.
. "$(dirname "$0")/lib.sh"
stage_plugins
[ -f "$T/plugins/kit.so" ] || fail "tests/plugins/kit.so was not built"

conf() { # conf KIT-SETTINGS [HOST-TEXT]
	write_conf "kit = { $1 };"
	printf '%s\n' "${2:-}" >>"$T/labd.conf"
}

once() { # once ARGS... -> RC, log in $T/labd.log
	timeout 60 "$LABD" -c "$T/labd.conf" --once --plugin kit "$@" 2>"$T/labd.log"
	RC=$?
}

# ---- 1 + 2: JSON writer, durations
conf ""
once
[ $RC -eq 0 ] || fail "--once failed ($RC)"
grep -q 'msg="kit: durations" bind_rc=0 interval_bound=250 interval_ms=250 interval_seconds_rc=-14 plain_bound=2 plain_ms=2000' "$T/labd.log" ||
	fail "durations: $(grep 'kit: durations' "$T/labd.log")"
pass "durations: 250ms bound/read as 250 ms, seconds getter LAB_ERANGE, 2s = 2000 ms"
want='{"name":"q\"b\\s\n\u0001\ufffd end","nul":"a\u0000b","i":-9223372036854775808,"u":18446744073709551615,"f":-25.5,"inf":null,"list":[true,null,{},[]],"state":null}'
got=$(cat "$T/data/kit/doc.json" 2>/dev/null | gzip -dc 2>/dev/null || cat "$T/data/kit/doc.json")
[ "$got" = "$want" ] || fail "document: got $got"
printf '%s' "$got" | python3 -c 'import json,sys; json.load(sys.stdin)' || fail "document is not JSON"
pass "JSON writer: the document is exactly as expected"
grep -q 'msg="kit: misuse" value_for_key=-1 open=-16 bad_raw=-11 close_unopened=-1 key_in_array=-1 empty=-16' "$T/labd.log" ||
	fail "misuse codes: $(grep 'kit: misuse' "$T/labd.log")"
pass "JSON writer misuse latches LAB_EINVAL / LAB_ESTATE / LAB_EPARSE"
once
got=$(gzip -dc <"$T/data/kit/doc.json" 2>/dev/null || cat "$T/data/kit/doc.json")
case $got in *'"state":{"runs":[1,2]}}') ;; *) fail "raw state value not embedded: $got" ;; esac
pass "raw: a state value embedded as is"

conf 'plain = "250ms";'
"$LABD" -t -c "$T/labd.conf" >"$T/t.log" 2>&1 && fail "250ms accepted for a seconds-only duration"
grep -q "plugins.kit.plain.*bad duration: expected <int>(s|m|h|d)" "$T/t.log" || fail "no message: $(cat "$T/t.log")"
conf 'interval = "5ms";'
"$LABD" -t -c "$T/labd.conf" >"$T/t.log" 2>&1 && fail "5ms accepted below min 10 ms"
grep -q "plugins.kit.interval.*must be between 10ms and 60000ms" "$T/t.log" || fail "no range message: $(cat "$T/t.log")"
conf 'interval = "2s";'
"$LABD" -t -c "$T/labd.conf" >"$T/t.log" 2>&1 || fail "2s refused for an ms duration: $(cat "$T/t.log")"
pass "validator: ms only where declared, ms ranges, other units still accepted"

# ---- 3: cancel callback
conf 'work_ms = 3000;' 'reload = { drain_timeout = "1s"; };'
once
[ $RC -eq 0 ] || fail "--once with a slow work item failed ($RC)"
grep -q 'drain timeout: cancelling in-flight work' "$T/labd.log" || fail "the drain did not time out"
grep -q 'msg="kit: work cancelled, freed"' "$T/labd.log" || fail "cancel was not called"
grep -q 'kit: work done' "$T/labd.log" && fail "done was called after the drain timeout"
c=$(grep -n 'kit: work cancelled' "$T/labd.log" | cut -d: -f1)
d=$(grep -n 'kit: destroy' "$T/labd.log" | cut -d: -f1)
[ -n "$d" ] && [ "$c" -lt "$d" ] || fail "cancel did not come before destroy"
pass "work past the drain timeout: cancel called (not done), before destroy"
conf 'work_ms = 50;' 'reload = { drain_timeout = "5s"; };'
once
grep -q 'msg="kit: work done" status=0' "$T/labd.log" || fail "done not called for finished work"
grep -q 'kit: work cancelled' "$T/labd.log" && fail "cancel called for finished work"
pass "work finished in time: done, no cancel"

# ---- 4: --once watchdog
conf 'hang = true;' 'once = { timeout = "2s"; };'
t0=$(date +%s)
once
el=$(($(date +%s) - t0))
[ $RC -eq 1 ] || fail "watchdog: exit $RC (1 expected)"
[ $el -le 20 ] || fail "watchdog: took $el s"
grep -q 'msg="--once timed out: these plugins never called lab_done" plugins=kit once_timeout_s=2' "$T/labd.log" ||
	fail "watchdog: no line naming kit: $(tail -n 5 "$T/labd.log")"
grep -q 'kit: destroy' "$T/labd.log" || fail "watchdog: the plugin was not stopped and destroyed"
pass "watchdog: exit 1 after ${el}s naming kit"
conf 'hang = true;' 'once = { timeout = "0s"; };'
"$LABD" -t -c "$T/labd.conf" >"$T/t.log" 2>&1 && fail "once.timeout = 0s accepted"
pass "once.timeout must be positive"
