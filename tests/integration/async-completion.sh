#!/bin/sh
# The completion promise (lab/plugin.h, "Completion"): no callback runs
# before the call that registered it returns.  tests/plugins/asynccheck.c
# calls every service that takes a callback (and some that must fail at
# once) under a flag, and ends its --once run with lab_done() under the flag
# too, so a stop/destroy inside lab_done() counts as well.
. "$(dirname "$0")/lib.sh"
stage_plugins
[ -f "$T/plugins/asynccheck.so" ] || fail "asynccheck.so not built (run make check)"
write_conf 'asynccheck = { };'
"$LABD" -c "$T/labd.conf" --once --plugin asynccheck 2>"$T/labd.log"
rc=$?
cat "$T/labd.log" | grep asynccheck
[ $rc = 0 ] || fail "labd --once exited with $rc"
grep -q 'EARLY\|was accepted\|early in all' "$T/labd.log" && fail "a callback ran inside the call that registered it"
grep -q 'asynccheck: 9 callbacks, 0 early' "$T/labd.log" || fail "not every callback arrived"
grep -q 'refused' "$T/labd.log" && fail "a service refused a valid call"
pass "timer, message, storage put/get/exists/delete, state flush, work, lab_done: every completion after its call returned"
