#!/bin/sh
# tests/bench/run.sh [NAME...]: runs the benchmarks (all of tests/bench/*.sh
# but this one and lib.sh, or the ones named) and collects their
# "name value unit" lines and verdicts into $BENCH_RESULTS (default
# tests/bench/results.txt in the build directory).  `make bench` calls it.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
out=${BENCH_RESULTS:-$top_builddir/tests/bench/results.txt}
mkdir -p "$(dirname "$out")"
if [ $# -eq 0 ]; then
	set --
	for f in "$top_srcdir"/tests/bench/*.sh; do
		case $(basename "$f") in run.sh | lib.sh) continue ;; esac
		set -- "$@" "$(basename "$f" .sh)"
	done
fi
{
	echo "# labd benchmarks $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, $(uname -r)"
} >"$out"
failed=0
for name in "$@"; do
	echo "=== $name"
	start=$(date +%s)
	sh "$top_srcdir/tests/bench/$name.sh" 2>"$out.$name.err" | tee -a "$out"
	if ! grep -q "^bench $name done" "$out"; then
		echo "bench $name FAILED (see $out.$name.err)" | tee -a "$out"
		tail -n 20 "$out.$name.err" >&2
		failed=$((failed + 1))
	fi
	echo "($name: $(( $(date +%s) - start )) s)"
done
echo "results in $out"
[ $failed -eq 0 ]
