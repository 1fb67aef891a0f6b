#!/bin/sh
# labd --once: exit codes, lifecycle order, state continuity, --now.
. "$(dirname "$0")/lib.sh"
stage_plugins
write_conf 'example = { interval = "1h"; };
lifecycle = { enabled = false; };
initfail = { enabled = false; };'

NOW=2025-01-02T03:04:05Z
NOW_S=1735787045
"$LABD" --once -c "$T/labd.conf" --now "$NOW" 2>"$T/labd.log" || fail "--once example failed"
[ -f "$T/data/example/last.json" ] || fail "document not stored"
doc=$(gzip -dc "$T/data/example/last.json") || fail "document is not gzip"
[ "$doc" = "{\"count\":1,\"at\":$NOW_S}" ] || fail "document: $doc"
state=$(gzip -dc "$T/data/state/modules/example.json") || fail "state not stored as gzip"
echo "$state" | grep -q '"counter": *1' || fail "state: $state"
grep -q 'msg=tick count=1 now='"$NOW_S" "$T/labd.log" || fail "tick log with --now"
pass "--once stores the document and state; --now fixes the clock"

"$LABD" --once -c "$T/labd.conf" 2>"$T/labd.log" || fail "second --once"
gzip -dc "$T/data/state/modules/example.json" | grep -q '"counter": *2' || fail "state did not continue"
pass "state continues across runs"

# --plugin runs a disabled plugin by name; order of callbacks.
"$LABD" --once --plugin lifecycle -c "$T/labd.conf" 2>"$T/labd.log" || fail "--once lifecycle"
order=$(sed -n 's/.*msg="lifecycle: \([a-z-]*\)".*/\1/p' "$T/labd.log" | tr '\n' ' ')
[ "$order" = "init once once-timer work-done stop destroy " ] || fail "lifecycle order: $order"
grep -q 'plugin=example' "$T/labd.log" && fail "--plugin lifecycle must not run example"
pass "--once --plugin NAME runs only NAME, in lifecycle order"

"$LABD" --once --plugin lifecycle -c "$T/labd.conf" -D plugins.lifecycle.once_status=-4 2>"$T/labd.log"
[ $? -eq 1 ] || fail "a failing plugin must make --once exit 1"
pass "--once exits 1 when a plugin reports failure"

"$LABD" --once --plugin initfail -c "$T/labd.conf" 2>"$T/labd.log"
[ $? -eq 1 ] || fail "init failure must make --once exit 1"
"$LABD" --once --plugin nosuchplugin -c "$T/labd.conf" 2>"$T/labd.log"
[ $? -eq 1 ] || fail "a missing plugin must make --once exit 1"
grep -q 'nosuchplugin.so' "$T/labd.log" || fail "missing plugin message should name the file"
pass "--once exits 1 on init failure and on a missing plugin"

# One bad plugin does not stop the others' work; the result is still 1.
"$LABD" --once --plugin example --plugin initfail -c "$T/labd.conf" 2>"$T/labd.log"
[ $? -eq 1 ] || fail "mixed run must exit 1"
gzip -dc "$T/data/state/modules/example.json" | grep -q '"counter": *3' || fail "example did not run beside a failing plugin"
pass "a failing plugin does not stop the others"
