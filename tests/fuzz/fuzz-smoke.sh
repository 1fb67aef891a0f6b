#!/bin/sh
# `make check` entry: every libFuzzer target of tests/fuzz/ for 5 s
# (FUZZ_SMOKE_SECONDS).  Skipped (77) without a clang that links libFuzzer.
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC_FUZZ:-clang}
command -v "$CC" >/dev/null 2>&1 || { echo "SKIP: no $CC"; exit 77; }
probe=$(mktemp -d) || exit 1
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
	echo "SKIP: $CC cannot link -fsanitize=fuzzer"
	exit 77
fi
# Under `make check`: a build directory of this build tree (make clean removes it).
if [ -n "${top_builddir:-}" ] && [ -z "${LABD_FUZZ_BUILD:-}" ]; then
	LABD_FUZZ_BUILD=$top_builddir/tests/fuzz-build
	export LABD_FUZZ_BUILD
fi
CC=$CC exec sh "$here/run.sh" --per-target "${FUZZ_SMOKE_SECONDS:-5}"
