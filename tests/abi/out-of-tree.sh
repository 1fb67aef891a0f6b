#!/bin/bash
# Third-party plugin authoring against the INSTALLED SDK (SPEC §5.8, issue 8):
#  1. `make install prefix=TMP` installs labd, the SDK header, lab-plugin.pc
#     (with plugindir and examplesdir), the example's source and the template;
#  2. the installed example.c builds out of tree with nothing but
#     `cc -shared -fPIC $(pkg-config --cflags lab-plugin)`, and the installed
#     labd accepts it (-t) and runs it (--once --plugin example);
#  3. the `sh` blocks of docs/plugin-guide.md run, in order, in an empty
#     directory against that install (the guide's files come from the
#     installed template, which must equal docs/plugin-template/).
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
# A make running this test must not leak its flags, jobserver or overrides
# into the makes below.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES DESTDIR
export CC=${CC:-cc}

T=$(mktemp -d /tmp/lab-oot-XXXXXX)
GUIDE_PGID=""
cleanup() {
	# A guide command that failed may have left its background labd running.
	[ -z "$GUIDE_PGID" ] || kill -KILL -- "-$GUIDE_PGID" 2>/dev/null || true
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
for f in GNUmakefile hello.c hello.conf; do
	cmp -s "$examplesdir/plugin-template/$f" "$top_srcdir/docs/plugin-template/$f" ||
		fail "the plugin template's $f is not installed in $examplesdir/plugin-template"
done
hv() { awk -v k="$1" '$1 == "#define" && $2 == k { print $3 }' "$INST/include/lab/plugin.h"; }
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
(cd "$T/guide" && PATH="$INST/bin:$PATH" exec $SETSID bash -eux "$T/guide.sh") >"$LOG" 2>&1 &
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
