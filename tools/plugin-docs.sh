#!/bin/bash
# The settings tables of docs/plugins/NAME.md are generated from the code:
# between the lines
#     <!-- settings:begin NAME ... -->
#     <!-- settings:end -->
# stands what `labd --describe NAME` prints about the section (its heading and
# description lines left out), for the plugin built in this tree.
#
# Usage: plugin-docs.sh            fail when a table differs (what `make check` runs)
#        plugin-docs.sh --update   rewrite the tables (what `make docs` runs)
# Environment: top_srcdir, top_builddir (default: this file's ..).
set -eu
set -o pipefail

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
LABD=$top_builddir/labd
mode=${1:---check}

T=$(mktemp -d /tmp/lab-plugin-docs-XXXXXX)
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

[ -x "$LABD" ] || fail "$LABD not built"
# The loader refuses plugins in directories others can write: stage them.
umask 022
mkdir -p "$T/plugins"
chmod 755 "$T" "$T/plugins"
printf 'plugin_dir = "%s/plugins";\nadmin = { listen = ""; };\n' "$T" >"$T/labd.conf"

n=0 drift=0
for doc in "$top_srcdir"/docs/plugins/*.md; do
	name=$(sed -n 's/^<!-- settings:begin \([a-z0-9_]*\).*-->$/\1/p' "$doc")
	[ -n "$name" ] || continue
	[ "$(grep -c '^<!-- settings:end -->$' "$doc")" = 1 ] || fail "$doc: no single '<!-- settings:end -->' line"
	so=$top_builddir/plugins/$name/.libs/$name.so
	[ -f "$so" ] || fail "plugin $name is not built ($so)"
	cp "$so" "$T/plugins/$name.so"
	chmod 644 "$T/plugins/$name.so"
	"$LABD" -c "$T/labd.conf" --describe "$name" >"$T/describe" 2>"$T/err" ||
		fail "labd --describe $name: $(cat "$T/err")"
	# Drop "# Plugin `NAME` VERSION", the blank line, the description, the blank line.
	tail -n +5 "$T/describe" >"$T/table"
	awk -v table="$T/table" '
		/^<!-- settings:begin / { print; while ((getline line < table) > 0) print line; skip = 1; next }
		/^<!-- settings:end -->$/ { skip = 0 }
		!skip { print }' "$doc" >"$T/new.md"
	n=$((n + 1))
	if cmp -s "$doc" "$T/new.md"; then
		continue
	fi
	if [ "$mode" = --check ]; then
		diff -u "$doc" "$T/new.md" >&2 || true
		echo "FAIL: $(basename "$doc"): the settings table differs from labd --describe $name (diff above: - doc, + code); run make docs" >&2
		drift=1
	else
		cp "$T/new.md" "$doc"
		echo "updated $doc"
	fi
done
[ "$n" -gt 0 ] || fail "no docs/plugins/*.md has a '<!-- settings:begin NAME -->' marker"
[ "$drift" = 0 ] || exit 1
echo "ok - the settings tables of $n plugin pages are what labd --describe prints"
