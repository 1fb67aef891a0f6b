#!/bin/sh
# chdb.sh install     installs chdb (modern ClickHouse in-process, from the npm
#                     registry) into the cache, e.g. in CI setup
# chdb.sh path        prints the node_modules directory that holds a working
#                     chdb; exit 1 (and says why) when there is none
# chdb.sh version     prints the ClickHouse version chdb runs
#
# chdb is the modern ClickHouse engine of tests/integration/modern-clickhouse.sh
# (SPEC §11): the npm package `chdb` with its optional dependency
# `@chdb/lib-linux-x64-gnu` (libchdb.so, about 540 MB unpacked, ClickHouse
# 26.x) and Node.js.  Installed once into a cache directory this script owns:
# $LABD_CHDB_HOME, default ${XDG_CACHE_HOME:-$HOME/.cache}/labd/chdb.
# Only x86-64 and arm64 Linux (glibc) have the library; npm skips an optional
# dependency that does not fit the machine, so `install` checks that chdb
# really answers a query.
set -u
# shellcheck disable=SC2034 # SVC_NAME is read by lib.sh
SVC_NAME=chdb
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

HOME_DIR=${LABD_CHDB_HOME:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/labd/chdb}
MODULES="$HOME_DIR/node_modules"
# chdb 3.x bundles ClickHouse 26.x; the major version is pinned so that a new
# major (and engine) comes in on purpose.
PKG=${LABD_CHDB_PACKAGE:-chdb@3}

# works: chdb loads and answers SELECT 1 (prints the reason when not).
works() {
	[ -f "$MODULES/chdb/package.json" ] || { echo "chdb is not installed in $MODULES (tests/services/chdb.sh install)"; return 1; }
	command -v node >/dev/null 2>&1 || { echo "node is not installed"; return 1; }
	_out=$(cd "$HOME_DIR" && node -e '
		const c = require(process.argv[1]);
		process.stdout.write(String(c.query("SELECT 1", "TSV")).trim());' "$MODULES/chdb" 2>&1)
	[ "$_out" = 1 ] || { echo "chdb does not load: $(printf '%s' "$_out" | tail -n 3)"; return 1; }
}

install_chdb() {
	works >/dev/null 2>&1 && return 0
	command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
		svc_die "node and npm are needed (Node 20 + npm)"
	mkdir -p "$HOME_DIR" || svc_die "cannot create $HOME_DIR"
	# Parallel runs may race here: mkdir is the lock.
	i=0
	while ! mkdir "$HOME_DIR/.lock" 2>/dev/null; do
		works >/dev/null 2>&1 && return 0
		i=$((i + 1))
		[ $i -lt 6000 ] || svc_die "timed out waiting for $HOME_DIR/.lock"
		sleep 0.1
	done
	if ! works >/dev/null 2>&1; then
		svc_log "installing $PKG into $HOME_DIR (about 540 MB)"
		[ -f "$HOME_DIR/package.json" ] || echo '{"name":"labd-chdb","private":true}' >"$HOME_DIR/package.json"
		if ! npm install --prefix "$HOME_DIR" --no-audit --no-fund --loglevel=error "$PKG" >"$HOME_DIR/install.log" 2>&1; then
			rmdir "$HOME_DIR/.lock"
			cat "$HOME_DIR/install.log" >&2
			svc_die "npm install $PKG failed"
		fi
	fi
	rmdir "$HOME_DIR/.lock"
	why=$(works) || svc_die "$why"
}

case ${1:-} in
install) install_chdb ;;
path)
	why=$(works) || { echo "$why" >&2; exit 1; }
	echo "$MODULES"
	;;
version)
	why=$(works) || { echo "$why" >&2; exit 1; }
	(cd "$HOME_DIR" && node -e 'process.stdout.write(String(require(process.argv[1]).query("SELECT version()", "TSV")))' "$MODULES/chdb")
	;;
*) echo "usage: $0 install|path|version" >&2; exit 2 ;;
esac
