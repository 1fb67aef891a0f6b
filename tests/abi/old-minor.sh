#!/bin/bash
# Minor-version compatibility on the real host (SPEC §5.3):
#  - a plugin built against the frozen v1.0 header (tests/abi/v1.0/lab/plugin.h)
#    passes `labd -t` and does its work under `labd --once` on the current host
#    (its output is printed below);
#  - the same source built against the frozen v1.1 header as a plugin that
#    NEEDS 1.1 (options with a range and binding, the key-segment service)
#    runs too, and its declared range is enforced by the host before init;
#  - a plugin that needs a minor one NEWER than the host's is refused at load,
#    by `labd -t` and by `labd --once`, with a message naming both versions;
#    built against that newer header but needing only minor 0, it is accepted
#    (the descriptor carries the minor the plugin needs, not the header's).
#  - a plugin built against each later frozen header tests/abi/v1.N and
#    needing minor N runs as well.
# A 1.0-only host refusing a plugin that needs 1.1: tests/unit/test_loader_v10host.
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
CC=${CC:-cc}
LABD=$top_builddir/labd
CFLAGS_PLUGIN="-std=c11 -Wall -Wextra -Wno-unused-parameter -Werror -shared -fPIC -fvisibility=hidden"

T=$(mktemp -d /tmp/lab-oldminor-XXXXXX)
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
fail() {
	echo "FAIL: $*" >&2
	if [ -f "$T/labd.log" ]; then echo "--- labd output (last 30 lines)" >&2; tail -n 30 "$T/labd.log" >&2; fi
	exit 1
}
pass() { echo "ok - $*"; }

[ -x "$LABD" ] || fail "$LABD not built"
version_of() { # MAJOR.MINOR of the lab/plugin.h below $1
	awk '$1 == "#define" && $2 == "LAB_ABI_MAJOR" { ma = $3 }
	     $1 == "#define" && $2 == "LAB_ABI_MINOR" { mi = $3 }
	     END { if (ma == "" || mi == "") exit 1; print ma "." mi }' "$1/lab/plugin.h"
}
frozen=$(version_of "$top_srcdir/tests/abi/v1.0") || fail "cannot read the frozen header's version"
frozen11=$(version_of "$top_srcdir/tests/abi/v1.1") || fail "cannot read the frozen 1.1 header's version"
current=$(version_of "$top_srcdir/sdk/include") || fail "cannot read the SDK header's version"
[ "$frozen" = 1.0 ] || fail "tests/abi/v1.0/lab/plugin.h must stay the ABI 1.0 header (it says $frozen)"
[ "$frozen11" = 1.1 ] || fail "tests/abi/v1.1/lab/plugin.h must stay the ABI 1.1 header (it says $frozen11)"
# Every later frozen header tests/abi/v1.N (N >= 2) must say 1.N; a plugin
# built against it and needing minor N runs below.
later=""
for d in "$top_srcdir"/tests/abi/v1.*; do
	n=${d##*/v1.}
	[ "$n" -ge 2 ] 2>/dev/null || continue
	v=$(version_of "$d") || fail "cannot read the frozen 1.$n header's version"
	[ "$v" = "1.$n" ] || fail "tests/abi/v1.$n/lab/plugin.h must stay the ABI 1.$n header (it says $v)"
	later="$later $n"
done
major=${current%.*} minor=${current#*.}
[ "$major" = 1 ] || fail "the SDK is now ABI $current: 1.x plugins are refused by design; freeze the new major's first header in tests/abi/ and update this test"
newer="$major.$((minor + 1))"

umask 022
mkdir -p "$T/plugins" "$T/newer/lab"
chmod 755 "$T" "$T/plugins"

# Built against the frozen 1.0 header only: sdk/include is not on the path.
$CC $CFLAGS_PLUGIN -I"$top_srcdir/tests/abi/v1.0" "$top_srcdir/tests/abi/oldminor.c" \
	-o "$T/plugins/oldminor.so" || fail "cannot build the plugin against the v1.0 header"
# A header from the future: the current one with the minor bumped.
awk -v m=$((minor + 1)) '$1 == "#define" && $2 == "LAB_ABI_MINOR" { $3 = m } { print }' \
	"$top_srcdir/sdk/include/lab/plugin.h" >"$T/newer/lab/plugin.h"
$CC $CFLAGS_PLUGIN -I"$T/newer" -DPLUGIN_NAME='"newerminor"' \
	-DLAB_PLUGIN_MIN_ABI_MINOR=$((minor + 1)) "$top_srcdir/tests/abi/oldminor.c" \
	-o "$T/plugins/newerminor.so" || fail "cannot build the plugin against the newer header"
$CC $CFLAGS_PLUGIN -I"$T/newer" -DPLUGIN_NAME='"newerbuilt"' "$top_srcdir/tests/abi/oldminor.c" \
	-o "$T/plugins/newerbuilt.so" || fail "cannot build the minor-0 plugin against the newer header"
# Needs 1.1, built against the frozen 1.1 header only.
$CC $CFLAGS_PLUGIN -I"$top_srcdir/tests/abi/v1.1" -DPLUGIN_NAME='"needs11"' \
	-DLAB_PLUGIN_MIN_ABI_MINOR=1 "$top_srcdir/tests/abi/oldminor.c" \
	-o "$T/plugins/needs11.so" || fail "cannot build the plugin against the v1.1 header"
# Needs 1.N, built against the frozen 1.N header only, for every later one.
later_conf=""
for n in $later; do
	$CC $CFLAGS_PLUGIN -I"$top_srcdir/tests/abi/v1.$n" -DPLUGIN_NAME="\"needs1$n\"" \
		-DLAB_PLUGIN_MIN_ABI_MINOR="$n" "$top_srcdir/tests/abi/oldminor.c" \
		-o "$T/plugins/needs1$n.so" || fail "cannot build the plugin against the v1.$n header"
	later_conf="$later_conf  needs1$n = { greeting = \"built against 1.$n\"; step = 2; };
"
done
chmod 644 "$T"/plugins/*.so

cat >"$T/labd.conf" <<CONF
plugin_dir = "$T/plugins";
admin = { listen = ""; };
storage = { fs = { root = "$T/data"; }; };
plugins = {
  oldminor = { greeting = "built against 1.0"; };
  needs11 = { greeting = "built against 1.1"; step = 2; };
  newerminor = { enabled = false; };
  newerbuilt = { enabled = false; };
$later_conf};
CONF

"$LABD" -t -c "$T/labd.conf" >"$T/labd.log" 2>&1 || fail "labd -t refused a plugin built against SDK 1.0 (host ABI $current)"
pass "labd -t (ABI $current) accepts a plugin built against the 1.0 header"

"$LABD" --once --plugin oldminor -c "$T/labd.conf" >"$T/labd.log" 2>&1 ||
	fail "labd --once --plugin oldminor failed on host ABI $current"
echo "--- labd --once --plugin oldminor (built against tests/abi/v1.0, host ABI $current):"
sed 's/^/    /' "$T/labd.log"
[ -f "$T/data/oldminor/done.json" ] || fail "the 1.0 plugin's document was not stored"
doc=$(gzip -dc "$T/data/oldminor/done.json") || fail "document is not gzip-encoded"
[ "$doc" = '{"greeting":"built against 1.0","runs":1}' ] || fail "document: $doc"
grep -q 'host_abi_minor='"$minor" "$T/labd.log" || fail "the plugin did not log the host's ABI minor"
gzip -dc "$T/data/state/modules/oldminor.json" | grep -q '"runs": *"*1' ||
	fail "the 1.0 plugin's state was not saved"
pass "labd --once runs the 1.0 plugin: config, timer, storage, state, broker, done"

"$LABD" --once --plugin needs11 -c "$T/labd.conf" >"$T/labd.log" 2>&1 ||
	fail "labd --once --plugin needs11 failed on host ABI $current"
echo "--- labd --once --plugin needs11 (built against tests/abi/v1.1, needs 1.1):"
sed 's/^/    /' "$T/labd.log"
[ "$(gzip -dc "$T/data/needs11/done.json")" = '{"greeting":"built against 1.1","runs":2}' ] ||
	fail "the 1.1 plugin's document: bound settings not applied"
grep -q 'key_segment=j%C3%BCrgen%2Fx' "$T/labd.log" || fail "the key-segment service did not answer"
if "$LABD" -t -c "$T/labd.conf" -D plugins.needs11.step=11 >"$T/labd.log" 2>&1; then
	fail "labd -t accepted step = 11 (declared range 1..10)"
fi
grep -q "plugin=needs11 .*-D:1: setting 'plugins.needs11.step': must be between 1 and 10" "$T/labd.log" ||
	fail "no range error in the one format: $(cat "$T/labd.log")"
grep -q 'needs11: loaded' "$T/labd.log" && fail "init ran despite the range violation"
pass "a plugin needing 1.1 runs: options bound, range checked before init, key segment service"

for n in $later; do
	"$LABD" --once --plugin "needs1$n" -c "$T/labd.conf" >"$T/labd.log" 2>&1 ||
		fail "labd --once --plugin needs1$n failed on host ABI $current"
	[ "$(gzip -dc "$T/data/needs1$n/done.json")" = '{"greeting":"built against 1.'"$n"'","runs":2}' ] ||
		fail "the 1.$n plugin's document is wrong"
	grep -q 'key_segment=j%C3%BCrgen%2Fx' "$T/labd.log" || fail "needs1$n: the key-segment service did not answer"
	pass "a plugin built against the frozen 1.$n header, needing 1.$n, runs on host ABI $current"
done

"$LABD" -t -c "$T/labd.conf" -D plugins.newerbuilt.enabled=true >"$T/labd.log" 2>&1 ||
	fail "labd -t refused a plugin built against ABI $newer that needs only minor 0"
grep -q 'newerbuilt: loaded.*built_abi_minor='"$((minor + 1))"' needs_abi_minor=0' "$T/labd.log" ||
	fail "newerbuilt did not report its build and needed minor"
pass "built against ABI $newer but needing only 1.0: accepted (the descriptor carries the needed minor)"

refused() { # refused WHAT: the log must name the plugin and both versions
	grep 'newerminor' "$T/labd.log" | grep -F "$newer" | grep -qF "$current" ||
		fail "$1: no clear refusal naming newerminor, ABI $newer and the host's $current"
}
if "$LABD" -t -c "$T/labd.conf" -D plugins.newerminor.enabled=true >"$T/labd.log" 2>&1; then
	fail "labd -t accepted a plugin that needs ABI $newer (host has $current)"
fi
refused "labd -t"
pass "labd -t refuses a plugin that needs ABI $newer: $(grep -F "$newer" "$T/labd.log" | head -n 1)"

if "$LABD" --once --plugin newerminor -c "$T/labd.conf" >"$T/labd.log" 2>&1; then
	fail "labd --once ran a plugin that needs ABI $newer (host has $current)"
fi
refused "labd --once"
pass "labd --once refuses it too"
