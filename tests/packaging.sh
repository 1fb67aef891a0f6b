#!/bin/sh
# Packaging checks (issue 20, finding 9), each on a private copy of the
# source tree (its tracked and new files), so the tree itself is untouched:
#   1. debian/: dpkg-buildpackage builds the labd and labd-dev packages;
#      lintian reports no error;
#   2. (as root, when labd is not installed already) the packages install:
#      the labd user, the systemd unit naming /usr/bin/labd and
#      /etc/lab/labd.conf, labd.conf a conffile, `labd -t` on the shipped
#      configuration, man pages citing docs that are installed, an
#      out-of-tree plugin built with pkg-config against labd-dev; then they
#      are purged again (also on failure);
#   3. a tree configured in place (./configure in the source directory)
#      still runs the demo (tests/services/demo.sh, 20 slots).
# Slow (two full builds, ~5 min on 2 cores): not part of `make check`;
# tests/run-all.sh runs it once, `make check-packaging` alone.
# Exit 0 pass, 1 fail, 77 skipped (no dpkg-buildpackage/debhelper).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/labd-pkg-XXXXXX)
chmod 755 "$T"
installed=0
had_varlib=1
cleanup() {
	if [ $installed = 1 ]; then
		DEBIAN_FRONTEND=noninteractive dpkg --purge labd-dev labd >"$T/purge.log" 2>&1 ||
			{ echo "purge failed:"; cat "$T/purge.log"; }
		# purge keeps /var/lib/lab (the operator's data); this one was the test's.
		[ $had_varlib = 1 ] || rm -rf /var/lib/lab
	fi
	if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
for c in dpkg-buildpackage dh lintian; do
	command -v $c >/dev/null 2>&1 || { echo "$c not installed (install-deps.sh): skipped"; exit 77; }
done
jobs=$(nproc 2>/dev/null || echo 2)
version=$(sed -n '1s/^labd (\([^)]*\)).*/\1/p' "$top/debian/changelog")

copy_tree() { # copy_tree DIR: the tree's tracked and new (not ignored) files
	mkdir -p "$1"
	(cd "$top" && git ls-files -co --exclude-standard | grep -v '^out/' | tar -cf - -T -) |
		tar -xf - -C "$1"
}

# ---- 1. build and lintian ------------------------------------------------------------
copy_tree "$T/labd-$version"
(cd "$T/labd-$version" && DEB_BUILD_OPTIONS="nocheck parallel=$jobs" dpkg-buildpackage -us -uc) \
	>"$T/build.log" 2>&1 || { tail -n 40 "$T/build.log"; fail "dpkg-buildpackage"; }
arch=$(dpkg --print-architecture)
for p in labd labd-dev; do
	[ -f "$T/${p}_${version}_$arch.deb" ] || fail "no ${p}_${version}_$arch.deb"
done
pass "dpkg-buildpackage built labd and labd-dev $version"
lintian --tag-display-limit 0 "$T/labd_${version}_$arch.changes" >"$T/lintian.log" 2>&1
sed 's/^/    /' "$T/lintian.log"
grep -q '^E: ' "$T/lintian.log" && fail "lintian reports errors"
pass "lintian: no errors ($(grep -c '^W: ' "$T/lintian.log") warnings)"

# ---- 2. install ---------------------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
	echo "ok - install skipped (needs root)"
elif dpkg-query -W -f='${Status}' labd 2>/dev/null | grep -q installed; then
	echo "ok - install skipped (a labd package is installed on this machine already)"
else
	had_varlib=0
	[ ! -e /var/lib/lab ] || had_varlib=1
	installed=1
	DEBIAN_FRONTEND=noninteractive dpkg -i "$T/labd_${version}_$arch.deb" "$T/labd-dev_${version}_$arch.deb" \
		>"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "dpkg -i"; }
	/usr/bin/labd --version | grep -q "^labd $version " || fail "installed labd --version"
	getent passwd labd | grep -q ':/var/lib/lab:/usr/sbin/nologin$' || fail "no labd system user: $(getent passwd labd)"
	unit=/lib/systemd/system/labd.service
	grep -qx 'ExecStart=/usr/bin/labd -c /etc/lab/labd.conf' $unit || fail "unit ExecStart: $(grep ExecStart $unit)"
	grep -qx 'User=labd' $unit || fail "unit User"
	dpkg-query -W -f='${Conffiles}\n' labd | grep -q '^ /etc/lab/labd.conf ' || fail "/etc/lab/labd.conf is no conffile"
	[ "$(stat -c %U /var/lib/lab)" = labd ] || fail "/var/lib/lab not owned by labd"
	/usr/bin/labd -t -c /etc/lab/labd.conf >"$T/t.log" 2>&1 || { cat "$T/t.log"; fail "labd -t on the installed config"; }
	grep -q 'configuration ok, 3 plugins checked' "$T/t.log" || fail "labd -t: $(tail -n 1 "$T/t.log")"
	for m in /usr/share/man/man8/labd.8.gz /usr/share/man/man5/labd.conf.5.gz /usr/share/man/man1/labctl.1.gz; do
		[ -f "$m" ] || fail "no $m"
		for d in $(gzip -dc "$m" | grep -o '/usr/share/doc/labd/[a-z/-]*\.md'); do
			[ -f "$d" ] || [ -f "$d.gz" ] || fail "$m cites $d, which is not installed"
		done
	done
	gzip -dc /usr/share/man/man8/labd.8.gz | grep -q '/usr/share/doc/labd' || fail "labd(8) does not cite the docs"
	cc -shared -fPIC $(pkg-config --cflags lab-plugin) "$top/plugins/example/example.c" -o "$T/example.so" ||
		fail "out-of-tree plugin build against labd-dev"
	pass "installed: labd user, unit with /usr/bin and /etc paths, conffile, labd -t ok, man pages cite installed docs, SDK builds a plugin"
fi

# ---- 3. a tree configured in place still runs the demo -------------------------------------
copy_tree "$T/intree"
(cd "$T/intree" && autoreconf -fi >/dev/null 2>&1 && ./configure -q >"$T/configure.log" 2>&1) ||
	{ cat "$T/configure.log"; fail "in-tree configure"; }
(cd "$T/intree" && DEMO_SLOTS=20 sh tests/services/demo.sh) >"$T/demo.log" 2>&1 ||
	{ tail -n 20 "$T/demo.log"; fail "the demo in a tree configured in place"; }
grep -q '^total: [0-9]* documents' "$T/demo.log" || fail "demo output: $(tail -n 3 "$T/demo.log")"
pass "demo in a tree configured in place: $(grep '^total:' "$T/demo.log" | cut -d';' -f1)"
