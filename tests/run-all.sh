#!/bin/sh
# Builds labd twice — plain, and with ASan+UBSan — runs `make check` in both,
# a valgrind pass over the plain build (tests/valgrind.sh), and ends with one
# line "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0 skipped=0
run_build() {
	dir=$1
	shift
	echo "=== $dir: configure $*"
	mkdir -p "$dir"
	rm -f "$dir/test-suite.log"
	if ! (cd "$dir" && "$top/configure" -q "$@" && make -s -j"$jobs" >/dev/null); then
		echo "=== $dir: build FAILED"
		failed=$((failed + 1))
		return
	fi
	(cd "$dir" && make -s -j"$jobs" check >/dev/null 2>&1)
	log="$dir/test-suite.log"
	if [ ! -f "$log" ]; then
		echo "=== $dir: no test-suite.log"
		failed=$((failed + 1))
		return
	fi
	p=$(sed -n 's/^# PASS: *//p' "$log")
	s=$(sed -n 's/^# SKIP: *//p' "$log")
	f=$(( $(sed -n 's/^# FAIL: *//p' "$log") + $(sed -n 's/^# ERROR: *//p' "$log") + $(sed -n 's/^# XPASS: *//p' "$log") ))
	echo "=== $dir: $p passed, $f failed, $s skipped"
	for t in $(find "$dir/tests" -name '*.trs' | sort); do
		r=$(sed -n 's/^:test-result: //p' "$t" | head -n 1)
		echo "    $r ${t#$dir/}"
	done
	if [ "$f" -gt 0 ]; then cat "$log"; fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

run_valgrind() {
	echo "=== valgrind (memcheck) over build/"
	out=$(sh "$top/tests/valgrind.sh" build 2>&1)
	echo "$out" | sed '$d'
	p=$(echo "$out" | sed -n '$s/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$out" | sed -n '$s/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	[ -n "$p" ] || { p=0; f=1; }
	passed=$((passed + p)) failed=$((failed + f))
}

# The Debian package build, lintian, install test and the in-tree demo
# (tests/packaging.sh, issue 20): once, not in every build's make check.
run_packaging() {
	echo "=== packaging (tests/packaging.sh)"
	sh "$top/tests/packaging.sh" >build/packaging.log 2>&1
	rc=$?
	sed 's/^/    /' build/packaging.log
	case $rc in
	0) passed=$((passed + 1)) ;;
	77) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
}

run_build build
[ -f build/test-suite.log ] && run_valgrind
run_packaging
run_build build-asan --enable-sanitizers

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
