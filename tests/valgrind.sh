#!/bin/sh
# tests/valgrind.sh BUILD_DIR: memcheck over a representative subset — every
# cmocka unit test, the plugin unit tests on lab-plugin-test, and the
# integration tests that drive the labd binary through its life cycle (CLI,
# --once, admin API, the public HTTP listener and the api plugin) with labd
# under valgrind.
# Prints one line per test and "N passed, N failed".  Needs a plain (not
# sanitizer) build that has run `make check` (the test programs exist).
set -u
b=$(cd "${1:?usage: valgrind.sh BUILD_DIR}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
passed=0 failed=0
log=$(mktemp /tmp/labd-vg-XXXXXX)
for t in "$b"/tests/unit/test_*; do
	case $t in *.o | *.log | *.trs) continue ;; esac
	[ -x "$t" ] || continue
	if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		"$t" >"$log" 2>&1; then
		echo "    PASS valgrind ${t#$b/}"; passed=$((passed + 1))
	else
		echo "    FAIL valgrind ${t#$b/}"; tail -n 30 "$log"; failed=$((failed + 1))
	fi
done
# The plugin unit tests on lab-plugin-test (libtool wrappers: libtool runs
# valgrind on the real program with the uninstalled library).
for t in sdk/plugin-test/selftest plugins/example/example-test docs/plugin-template/hello-test \
	plugins/timings/timings-test plugins/contributors/contributors-test plugins/beacon/beacon-test \
	plugins/api/api-test; do
	[ -x "$b/$t" ] || continue
	if "$b/libtool" --mode=execute valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite "$b/$t" >"$log" 2>&1; then
		echo "    PASS valgrind $t"; passed=$((passed + 1))
	else
		echo "    FAIL valgrind $t"; tail -n 30 "$log"; failed=$((failed + 1))
	fi
done
for t in cli once admin plugin-metrics http api; do
	if LABD_VALGRIND=1 top_builddir="$b" top_srcdir="$top" sh "$top/tests/integration/$t.sh" >"$log" 2>&1; then
		echo "    PASS valgrind tests/integration/$t.sh"; passed=$((passed + 1))
	else
		echo "    FAIL valgrind tests/integration/$t.sh"; tail -n 30 "$log"; failed=$((failed + 1))
	fi
done
rm -f "$log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
