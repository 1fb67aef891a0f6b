#!/bin/sh
# Builds the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan) in
# their own build directory and runs each for a share of a time budget.
#
#   tests/fuzz/run.sh [SECONDS_TOTAL]         default 60, split evenly across targets
#   tests/fuzz/run.sh --per-target SECONDS    the same budget for every target
#   tests/fuzz/run.sh --only state,admin ...  a subset (names as in TARGETS below)
#   tests/fuzz/run.sh --build-only
#
# Environment: CC (default clang), LABD_FUZZ_BUILD (default
# ${TMPDIR:-/tmp}/labd-fuzz-build), LABD_FUZZ_ARGS (extra libFuzzer flags).
# New corpus entries go to $LABD_FUZZ_BUILD/corpus/NAME, crashes to
# $LABD_FUZZ_BUILD/artifacts/; the seed corpus in tests/fuzz/corpus/NAME is
# only read.  Exit status: 0 if every target ran its budget without a
# finding, 1 on any crash, leak, timeout or oracle failure, 2 on a usage or
# build error.  See docs/security.md.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
CC=${CC:-clang}
B=${LABD_FUZZ_BUILD:-${TMPDIR:-/tmp}/labd-fuzz-build}

total=60
per=""
only=""
build_only=0
while [ $# -gt 0 ]; do
	case $1 in
	--per-target) per=${2:?}; shift 2 ;;
	--only) only=${2:?}; shift 2 ;;
	--build-only) build_only=1; shift ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	[0-9]*) total=$1; shift ;;
	*) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

# name: sources (relative to host/, or common/NAME.c), pkg-config modules, max input length.
TARGETS="config state networks storage_key admin gzip"
[ -f "$top/host/ch_rows.c" ] && TARGETS="$TARGETS ch_rows"
[ -f "$top/host/ch_sql.c" ] && TARGETS="$TARGETS ch_sql"
TARGETS="$TARGETS plugin_elf broker_incoming api_paths http_path"
srcs() {
	case $1 in
	config) echo "config.c config_override.c config_validate.c cfgapi.c plugin_decls.c keyseg.c networks.c listen_addr.c log.c common/buf.c" ;;
	state) echo "state.c state_value.c storage.c storage_fs.c fs_beneath.c storage_s3.c http.c gzip.c metrics.c log.c common/buf.c" ;;
	networks) echo "networks.c log.c common/buf.c" ;;
	storage_key) echo "storage.c storage_fs.c fs_beneath.c storage_s3.c http.c gzip.c metrics.c log.c common/buf.c" ;;
	admin) echo "admin.c mhd_uv.c listen_addr.c metrics.c log.c common/buf.c" ;;
	http_path) echo "httpd_path.c" ;;
	gzip) echo "gzip.c" ;;
	ch_rows) echo "ch_rows.c common/buf.c" ;;
	ch_sql) echo "ch_sql.c common/buf.c" ;;
	plugin_elf) echo "plugin_elf.c" ;;
	broker_incoming) echo "broker.c metrics.c log.c common/buf.c" ;;
	api_paths) echo "plugins/api/paths.c plugins/api/topics.c plugins/api/message.c common/buf.c" ;;
	esac
}
pkgs() {
	case $1 in
	config) echo "libconfig yaml-0.1 libuv libcrypto" ;;
	state|storage_key) echo "json-c libuv zlib libdeflate libisal libcurl libcrypto" ;;
	networks) echo "yaml-0.1 libuv" ;;
	admin) echo "libmicrohttpd libuv" ;;
	gzip) echo "zlib libdeflate libisal libuv" ;;
	plugin_elf|broker_incoming|http_path) echo "libuv" ;;
	api_paths) echo "json-c" ;;
	*) echo "libuv json-c" ;;
	esac
}
maxlen() {
	case $1 in
	storage_key) echo 2100 ;;
	admin) echo 8192 ;;
	http_path) echo 2048 ;;
	gzip) echo 65536 ;;
	plugin_elf) echo 4096 ;;
	*) echo 16384 ;;
	esac
}

if [ -n "$only" ]; then
	sel=""
	for t in $(echo "$only" | tr ',' ' '); do
		case " $TARGETS " in
		*" $t "*) sel="$sel $t" ;;
		*) echo "run.sh: no target '$t' (have: $TARGETS)" >&2; exit 2 ;;
		esac
	done
	TARGETS=$sel
fi

command -v "$CC" >/dev/null 2>&1 || { echo "run.sh: $CC not found" >&2; exit 2; }
mkdir -p "$B/obj" "$B/corpus" "$B/artifacts" "$B/logs" "$B/include" || exit 2
# configure's host/build_config.h, as an empty stand-in: the fuzzed broker
# front is built without the nats backend.
[ -f "$B/include/build_config.h" ] || : >"$B/include/build_config.h"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
# No -Werror: the gcc build enforces warnings; a clang-only warning in a host
# file should not stop the fuzzing.
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $SAN -Wall -Wextra
	-Wno-unused-parameter -I$top/sdk/include -I$top/host -I$top/common -I$top/plugins/api -I$B/include
	-DLAB_SYSCONFDIR=\"/etc/lab\" -DLAB_PLUGINDIR=\"/usr/lib/lab/plugins\""
newest_hdr=$(ls -t "$top"/host/*.h "$top"/common/*.h "$top"/sdk/include/lab/*.h | head -n 1)

# out.o from src.c unless out.o is newer than src.c and every header.
compile() { # src out extra-flags
	if [ -f "$2" ] && [ "$2" -nt "$1" ] && [ "$2" -nt "$newest_hdr" ]; then
		return 0
	fi
	# shellcheck disable=SC2086
	$CC $CFLAGS $3 -c "$1" -o "$2"
}

build() { # target
	t=$1
	pc=$(pkg-config --cflags --libs $(pkgs "$t")) || return 1
	pcf=$(pkg-config --cflags $(pkgs "$t"))
	objs=""
	for s in $(srcs "$t"); do
		case $s in
		common/*|plugins/*) src=$top/$s ;;
		*) src=$top/host/$s ;;
		esac
		o="$B/obj/$(basename "${s%.c}").o"
		compile "$src" "$o" "-fsanitize=fuzzer-no-link $pcf" || return 1
		objs="$objs $o"
	done
	compile "$here/fuzz_$t.c" "$B/obj/fuzz_$t.o" "-fsanitize=fuzzer-no-link $pcf" || return 1
	# shellcheck disable=SC2086
	$CC $SAN -fsanitize=fuzzer "$B/obj/fuzz_$t.o" $objs $pc -lm -o "$B/fuzz_$t"
}

for t in $TARGETS; do
	if ! build "$t"; then
		echo "run.sh: building fuzz_$t failed" >&2
		exit 2
	fi
done
[ "$build_only" = 1 ] && { echo "built in $B:$(for t in $TARGETS; do printf ' fuzz_%s' "$t"; done)"; exit 0; }

n=$(echo $TARGETS | wc -w)
if [ -z "$per" ]; then
	per=$((total / n))
	[ "$per" -ge 1 ] || per=1
fi

LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
status=0
for t in $TARGETS; do
	mkdir -p "$B/corpus/$t"
	log="$B/logs/$t.log"
	dict=""
	[ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
	# TMPDIR: a crashed fuzz_config cannot remove its temp directory.
	mkdir -p "$B/tmp"
	# shellcheck disable=SC2086
	TMPDIR="$B/tmp" "$B/fuzz_$t" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 \
		-max_len="$(maxlen "$t")" -print_final_stats=1 \
		-artifact_prefix="$B/artifacts/$t-" $dict ${LABD_FUZZ_ARGS:-} \
		"$B/corpus/$t" "$here/corpus/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	eps="?"
	[ -n "$runs" ] && [ -n "$secs" ] && [ "$secs" -gt 0 ] && eps=$((runs / secs))
	if [ "$rc" -eq 0 ]; then
		echo "fuzz_$t: ok  ${per}s  runs=${runs:-?} exec/s=$eps cov=${cov:-?}"
	else
		status=1
		echo "fuzz_$t: FAILED (exit $rc) after runs=${runs:-?}; log $log"
		grep -E 'ERROR|SUMMARY|runtime error|reached the daemon|does not load|the rule says|Test unit written' "$log" | head -n 12
	fi
done
exit $status
