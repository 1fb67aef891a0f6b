#!/bin/bash
# Third-party plugin authoring against the INSTALLED SDK (SPEC §5.8, issue 8):
#  1. `make install prefix=TMP` installs labd, the SDK header, lab-plugin.pc
#     (with plugindir and examplesdir), the example's source and the template;
#  2. the installed example.c builds out of tree with nothing but
#     `cc -shared -fPIC $(pkg-config --cflags lab-plugin)`, and the installed
#     labd accepts it (-t) and runs it (--once --plugin example);
#  3. the `sh` blocks of docs/plugin-guide.md run, in order, in an empty
#     directory against that install (the guide's files come from the
#     installed template, which must equal docs/plugin-template/); its
#     `make test` runs the template's unit test on lab-plugin-test;
#  4. lab-plugin-test from the prefix only (issue 21): the installed
#     example's unit test and the first test of docs/plugin-testing.md,
#     built with `pkg-config --cflags --libs lab-plugin-test`, run;
#  5. C++: a C++17 plugin (tests/abi/cxx) builds with -Wall -Wextra
#     -Wpedantic -Werror (g++, and clang++ when present), labd loads and runs
#     it, and its C++ unit test on lab-plugin-test passes;
#  6. the template builds and tests with its CMakeLists.txt and meson.build
#     (each skipped when cmake / meson is missing);
#  7. labd-sample-data starts a ClickHouse with the installed fixtures and
#     the template counts real blocks with `labd --once` (skipped without
#     clickhouse-server).
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
# A make running this test must not leak its flags, jobserver or overrides
# into the makes below.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES DESTDIR
export CC=${CC:-cc}

T=$(mktemp -d /tmp/lab-oot-XXXXXX)
GUIDE_PGID=""
SAMPLE_DIR=""
cleanup() {
	# A guide command that failed may have left its background labd running.
	[ -z "$GUIDE_PGID" ] || kill -KILL -- "-$GUIDE_PGID" 2>/dev/null || true
	[ -z "$SAMPLE_DIR" ] || "$INST/bin/labd-sample-data" stop "$SAMPLE_DIR" >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
LOG=$T/out.log
fail() {
	echo "FAIL: $*" >&2
	if [ -s "$LOG" ]; then echo "--- output (last 40 lines)" >&2; tail -n 40 "$LOG" >&2; fi
	exit 1
}
pass() { echo "ok - $*"; }
command -v pkg-config >/dev/null 2>&1 || { echo "SKIP: pkg-config not found"; exit 77; }
[ -x "$top_builddir/labd" ] || fail "$top_builddir/labd not built"

umask 022
chmod 755 "$T"
INST=$T/inst

# ---- 1. install -------------------------------------------------------------
# Everything must land below the temporary prefix (it would not if the tree
# was configured with --libdir=/usr/lib64 and the like).
dirs=$(printf 'lab-print-dirs:\n\t@echo $(bindir) $(libdir) $(includedir) $(datadir) $(sysconfdir) $(mandir) $(pkgconfigdir) $(plugindir) $(exampledir)\n' |
	make -s -C "$top_builddir" -f Makefile -f - lab-print-dirs prefix="$INST") ||
	fail "cannot read the installation directories from $top_builddir/Makefile"
for d in $dirs; do
	case $d in
	"$INST"/*) ;;
	*) echo "SKIP: configured installation directory $d is outside the prefix: make install prefix=... cannot stage it"; exit 77 ;;
	esac
done
make -C "$top_builddir" install prefix="$INST" >"$LOG" 2>&1 || fail "make install prefix=$INST failed"
# A sanitized build (--enable-sanitizers) installs an ASan/UBSan
# liblab-plugin-test: the programs linking it need the runtimes too.
SAN=$(printf 'lab-print-san:\n\t@echo $(SAN_LDFLAGS)\n' | make -s -C "$top_builddir" -f Makefile -f - lab-print-san) ||
	fail "cannot read SAN_LDFLAGS from $top_builddir/Makefile"
LABD=$INST/bin/labd
[ -x "$LABD" ] || fail "labd not installed in $INST/bin"
[ -f "$INST/include/lab/plugin.h" ] || fail "SDK header not installed in $INST/include/lab"
pcs=$(find "$INST" -name lab-plugin.pc)
[ -n "$pcs" ] && [ "$(echo "$pcs" | wc -l)" -eq 1 ] || fail "expected one installed lab-plugin.pc, found: $pcs"
# The installed SDK only: no system or build-tree .pc files.
export PKG_CONFIG_LIBDIR PKG_CONFIG_PATH=
PKG_CONFIG_LIBDIR=$(dirname "$pcs")
unset PKG_CONFIG_SYSROOT_DIR

cflags=$(pkg-config --cflags lab-plugin) || fail "pkg-config does not find the installed lab-plugin.pc"
[ "$(echo $cflags)" = "-I$INST/include" ] || fail "pkg-config --cflags lab-plugin is '$cflags', want -I$INST/include"
plugindir=$(pkg-config --variable=plugindir lab-plugin)
[ "$plugindir" = "$INST/lib/lab/plugins" ] || fail "plugindir is '$plugindir', want $INST/lib/lab/plugins"
[ -f "$plugindir/example.so" ] || fail "the example plugin is not installed in plugindir $plugindir"
examplesdir=$(pkg-config --variable=examplesdir lab-plugin)
[ "$examplesdir" = "$INST/share/doc/lab/examples" ] || fail "examplesdir is '$examplesdir', want $INST/share/doc/lab/examples"
cmp -s "$examplesdir/example.c" "$top_srcdir/plugins/example/example.c" ||
	fail "the example's source is not installed as $examplesdir/example.c"
for f in GNUmakefile hello.c hello.conf hello-test.c CMakeLists.txt meson.build; do
	cmp -s "$examplesdir/plugin-template/$f" "$top_srcdir/docs/plugin-template/$f" ||
		fail "the plugin template's $f is not installed in $examplesdir/plugin-template"
done
hv() { awk -v k="$1" '$1 == "#define" && $2 == k { print $3 }' "$INST/include/lab/plugin.h"; }
[ -f "$INST/include/lab/plugin-test.h" ] || fail "lab/plugin-test.h not installed in $INST/include/lab"
[ -f "$(dirname "$pcs")/lab-plugin-test.pc" ] || fail "lab-plugin-test.pc not installed beside lab-plugin.pc"
cmp -s "$examplesdir/example-test.c" "$top_srcdir/plugins/example/example-test.c" ||
	fail "the example's unit test is not installed as $examplesdir/example-test.c"
[ "$(pkg-config --variable=abi_major lab-plugin)" = "$(hv LAB_ABI_MAJOR)" ] &&
	[ "$(pkg-config --variable=abi_minor lab-plugin)" = "$(hv LAB_ABI_MINOR)" ] ||
	fail "abi_major/abi_minor of lab-plugin.pc (sdk/lab-plugin.pc.in) disagree with lab/plugin.h"
pass "make install prefix=DIR: labd, lab/plugin.h, lab-plugin.pc (cflags, plugindir, examplesdir, ABI), example source and template"

# ---- 2. the example, out of tree --------------------------------------------
mkdir -m 755 "$T/src" "$T/plugins"
cp "$examplesdir/example.c" "$T/src/"
# shellcheck disable=SC2046 # the command exactly as authors type it
(cd "$T/src" && $CC -shared -fPIC $(pkg-config --cflags lab-plugin) example.c -o "$T/plugins/example.so") \
	>"$LOG" 2>&1 || fail "cc -shared -fPIC \$(pkg-config --cflags lab-plugin) example.c failed"
chmod 644 "$T/plugins/example.so"
cat >"$T/labd.conf" <<CONF
plugin_dir = "$T/plugins";
storage = { fs = { root = "$T/data"; }; };
admin = { listen = ""; };
plugins = {
  example = { interval = "1h"; };
};
CONF
"$LABD" -t -c "$T/labd.conf" >"$LOG" 2>&1 || fail "installed labd -t refused the out-of-tree example"
grep -q "path=$T/plugins/example.so" "$LOG" || fail "labd -t did not load $T/plugins/example.so"
"$LABD" --once --plugin example -c "$T/labd.conf" >"$LOG" 2>&1 || fail "installed labd --once --plugin example failed"
doc=$(gzip -dc "$T/data/example/last.json" 2>/dev/null) || fail "the example's document was not stored"
case $doc in '{"count":1,"at":'*) ;; *) fail "the example's document: $doc" ;; esac
pass "example.c built out of tree with pkg-config only; installed labd -t accepts it and --once runs it"

# ---- 3. the guide, as written ------------------------------------------------
mkdir -m 755 "$T/guide"
awk '/^```/ { if (open) { open = 0; next } open = 1; sh = ($0 == "```sh"); next }
     open && sh { print }' "$top_srcdir/docs/plugin-guide.md" >"$T/guide.sh"
[ -s "$T/guide.sh" ] || fail "no sh blocks in docs/plugin-guide.md"
# In a session of its own, so that cleanup can stop whatever it started.
SETSID=$(command -v setsid || true)
(cd "$T/guide" && PATH="$INST/bin:$PATH" LDFLAGS="$SAN" exec $SETSID bash -eux "$T/guide.sh") >"$LOG" 2>&1 &
[ -z "$SETSID" ] || GUIDE_PGID=$!
if ! wait $!; then
	fail "a command of docs/plugin-guide.md failed (set -x trace below)"
fi
H=$T/guide/hello
[ -f "$H/hello.so" ] || fail "the guide did not build hello.so"
[ -f "$H/stage$plugindir/hello.so" ] || fail "the guide's make install did not stage hello.so in plugindir"
pass "every command of docs/plugin-guide.md runs against the installed SDK"

# What the guide says about failures, checked for real.
if (cd "$H" && "$LABD" -t -c hello.conf -D plugins.hello.network=Main) >"$LOG" 2>&1; then
	fail "labd -t accepted network=Main"
fi
grep -q "setting 'network' must match" "$LOG" || fail "no clear message for a bad network"
if (cd "$H" && "$LABD" --once --plugin hello -c hello.conf -D plugins.hello.clickhouse=true \
	-D clickhouse.url=http://127.0.0.1:1) >"$LOG" 2>&1; then
	fail "labd --once succeeded although ClickHouse is unreachable"
fi
grep -q 'msg="block count query failed"' "$LOG" || fail "the query failure was not logged"
pass "hello refuses bad settings with their location, and --once exits 1 when the query fails"
[ -x "$H/hello-test" ] || fail "the guide's make test did not build hello-test"
pass "the guide's make test: the template's unit test on lab-plugin-test passes"

# ---- 4. lab-plugin-test from the prefix only ----------------------------------
[ -z "$(find "$INST" -name '*.la')" ] || fail ".la files installed: $(find "$INST" -name '*.la')"
mkdir -m 755 "$T/unit"
cp "$examplesdir/example.c" "$examplesdir/example-test.c" "$T/unit/"
# shellcheck disable=SC2046 # as documented in docs/plugin-testing.md
(cd "$T/unit" && $CC -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter example-test.c example.c \
	$(pkg-config --cflags --libs lab-plugin-test) $SAN -o example-test) >"$LOG" 2>&1 ||
	fail "the example's unit test does not build with pkg-config --cflags --libs lab-plugin-test"
# No LD_LIBRARY_PATH: the .pc's rpath finds the library in the prefix.
(cd "$T/unit" && env -u LD_LIBRARY_PATH ./example-test) >"$LOG" 2>&1 || fail "the example's unit test failed"
grep -q '^ok - example plugin unit tests' "$LOG" || fail "example-test printed no ok line"
pass "example-test.c + example.c build with pkg-config lab-plugin-test only, and pass"
# docs/plugin-testing.md's first test, as written, against the template's hello.c.
awk '/^```c$/ { open = 1; next } /^```$/ { if (open) exit } open' "$top_srcdir/docs/plugin-testing.md" \
	>"$T/unit/test_hello.c"
grep -q 'labt_new' "$T/unit/test_hello.c" || fail "no first test in docs/plugin-testing.md"
cp "$examplesdir/plugin-template/hello.c" "$T/unit/"
# shellcheck disable=SC2046
(cd "$T/unit" && $CC -std=c11 test_hello.c hello.c $(pkg-config --cflags --libs lab-plugin-test) $SAN \
	-o test_hello && ./test_hello) >"$LOG" 2>&1 || fail "docs/plugin-testing.md's first test does not build or pass"
pass "docs/plugin-testing.md's first test builds as documented and passes"

# ---- 5. C++ --------------------------------------------------------------------
CXXS=""
for c in "${CXX:-g++}" clang++; do
	command -v "$c" >/dev/null 2>&1 && case " $CXXS " in *" $c "*) ;; *) CXXS="$CXXS $c" ;; esac
done
if [ -z "$CXXS" ]; then
	echo "# no C++ compiler: C++ part skipped"
else
	mkdir -m 755 "$T/cxx" "$T/cxxplugins"
	cp "$top_srcdir/tests/abi/cxx/cxxdemo.cpp" "$top_srcdir/tests/abi/cxx/cxxdemo-test.cpp" "$T/cxx/"
	STRICTXX="-std=c++17 -Wall -Wextra -Wpedantic -Werror"
	for cxx in $CXXS; do
		# The header alone, and a whole plugin.
		printf '#include <lab/plugin.h>\n#include <lab/plugin-test.h>\n' >"$T/cxx/h.cpp"
		# shellcheck disable=SC2046,SC2086
		(cd "$T/cxx" && $cxx $STRICTXX -c $(pkg-config --cflags lab-plugin) h.cpp -o h.o &&
			$cxx $STRICTXX -shared -fPIC -fvisibility=hidden $(pkg-config --cflags lab-plugin) \
				cxxdemo.cpp -o "$T/cxxplugins/cxxdemo.so") >"$LOG" 2>&1 ||
			fail "$cxx $STRICTXX: the C++ plugin does not build"
		# A sanitized lab-plugin-test carries gcc's ASan runtime: clang's
		# cannot share a process with it, so there only g++ links the test.
		if [ -n "$SAN" ] && [ "$cxx" = clang++ ] && [ "${CXX:-g++}" != clang++ ]; then
			continue
		fi
		# shellcheck disable=SC2046,SC2086
		(cd "$T/cxx" && $cxx $STRICTXX cxxdemo-test.cpp cxxdemo.cpp \
			$(pkg-config --cflags --libs lab-plugin-test) $SAN -o cxxdemo-test) >"$LOG" 2>&1 ||
			fail "$cxx $STRICTXX: the C++ plugin's unit test does not build"
		(cd "$T/cxx" && ./cxxdemo-test) >"$LOG" 2>&1 || fail "the C++ plugin's unit test failed ($cxx)"
	done
	chmod 644 "$T/cxxplugins/cxxdemo.so"
	cat >"$T/cxx.conf" <<CONF
plugin_dir = "$T/cxxplugins";
storage = { fs = { root = "$T/cxxdata"; }; };
admin = { listen = ""; };
plugins = { cxxdemo = { mode = "skip"; }; };
CONF
	"$LABD" -t -c "$T/cxx.conf" >"$LOG" 2>&1 || fail "labd -t refused the C++ plugin"
	"$LABD" -t -c "$T/cxx.conf" -D plugins.cxxdemo.mode=other >"$LOG" 2>&1 &&
		fail "labd -t accepted a mode the C++ plugin does not allow"
	"$LABD" --once --plugin cxxdemo -c "$T/cxx.conf" >"$LOG" 2>&1 || fail "labd --once --plugin cxxdemo failed"
	grep -q 'msg="cxxdemo ready" network=mainnet interval_s=60' "$LOG" || fail "the C++ plugin's lab_logkv line is missing"
	pass "C++17 plugin:$CXXS $STRICTXX clean; labd -t checks its options, --once runs it; its unit test passes"
fi

# ---- 6. the template with CMake and Meson -------------------------------------
if command -v cmake >/dev/null 2>&1; then
	mkdir -m 755 "$T/cmake"
	cp "$examplesdir/plugin-template/"* "$T/cmake/"
	(cd "$T/cmake" && export LDFLAGS="$SAN" && cmake -S . -B build -DCMAKE_INSTALL_PREFIX="$T/cmake/none" &&
		cmake --build build && (cd build && ctest --output-on-failure) &&
		DESTDIR="$T/cmake/stage" cmake --install build) >"$LOG" 2>&1 ||
		fail "the template's CMakeLists.txt: build, ctest or install failed"
	[ -f "$T/cmake/stage$plugindir/hello.so" ] || fail "cmake --install did not put hello.so into $plugindir"
	grep -q 'hello-test.*Passed' "$LOG" || fail "ctest did not run hello-test"
	pass "the template builds, tests (ctest) and installs with CMake"
else
	echo "# cmake not found: CMake snippet skipped"
fi
if command -v meson >/dev/null 2>&1 && command -v ninja >/dev/null 2>&1; then
	mkdir -m 755 "$T/meson"
	cp "$examplesdir/plugin-template/"* "$T/meson/"
	(cd "$T/meson" && export LDFLAGS="$SAN" && meson setup build && meson compile -C build && meson test -C build &&
		DESTDIR="$T/meson/stage" meson install -C build) >"$LOG" 2>&1 ||
		fail "the template's meson.build: setup, compile, test or install failed"
	[ -f "$T/meson/stage$plugindir/hello.so" ] || fail "meson install did not put hello.so into $plugindir"
	grep -q 'hello-test *OK' "$LOG" || fail "meson test did not run hello-test"
	pass "the template builds, tests and installs with Meson"
else
	echo "# meson or ninja not found: Meson snippet skipped"
fi

# ---- 7. labd-sample-data --------------------------------------------------------
if ! command -v clickhouse-server >/dev/null 2>&1 && [ ! -x /usr/sbin/clickhouse-server ] &&
	! command -v clickhouse >/dev/null 2>&1; then
	echo "# clickhouse-server not found: labd-sample-data part skipped"
	exit 0
fi
SAMPLE_DIR=$T/sample
url=$(env -i PATH="$INST/bin:/usr/sbin:/usr/bin:/bin" HOME="$T" labd-sample-data start "$SAMPLE_DIR" \
	--slots 300 2>"$T/sample.log") || { cat "$T/sample.log" >&2; fail "labd-sample-data start failed"; }
case $url in http://127.0.0.1:*) ;; *) fail "labd-sample-data start printed '$url', not a URL" ;; esac
[ "$("$INST/bin/labd-sample-data" url "$SAMPLE_DIR")" = "$url" ] ||
	fail "labd-sample-data url disagrees with start"
want=$(curl -sS --data-binary "SELECT count() FROM beacon_api_eth_v1_events_block WHERE meta_network_name = 'mainnet' AND slot_start_date_time >= toDateTime(1735787045 - 3600)" "$url/") ||
	fail "cannot query the sample ClickHouse"
[ "$want" -gt 0 ] || fail "the sample data has no block events in the guide's hour"
rm -rf "$H/data"
(cd "$H" && "$LABD" --once --plugin hello -c hello.conf -D plugins.hello.clickhouse=true \
	-D clickhouse.url="$url" --now 2025-01-02T03:04:05Z) >"$LOG" 2>&1 || fail "hello --once against the sample data failed"
doc=$(gzip -dc "$H/data/hello/mainnet/latest.json")
[ "$doc" = "{\"network\":\"mainnet\",\"blocks\":$want,\"generated_at\":1735787045}" ] ||
	fail "hello's document over the sample data: $doc (ClickHouse counts $want)"
"$INST/bin/labd-sample-data" stop "$SAMPLE_DIR" >"$LOG" 2>&1 || fail "labd-sample-data stop failed"
SAMPLE_DIR=""
[ ! -e "$T/sample/env" ] || fail "labd-sample-data stop left $T/sample/env"
pass "labd-sample-data (installed fixtures): ClickHouse with 300 mainnet slots; hello --once counts $want blocks"
