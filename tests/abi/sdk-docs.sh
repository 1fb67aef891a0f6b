#!/bin/bash
# The SDK documentation cannot drift from the code:
#  1. docs/plugin-guide.md: its ```c hello.c, ```make GNUmakefile and
#     ```conf hello.conf blocks, joined in order (a blank line between two
#     blocks), are exactly the files of docs/plugin-template/ (which are
#     installed, and built and run by out-of-tree.sh); every other block is
#     ```sh (commands, run in order by out-of-tree.sh) or ```text (output).
#  2. The template plugin builds against sdk/include with strict warnings and
#     exports nothing but lab_plugin_entry.
#  3. docs/sdk-reference.md: its ```c blocks compile against the header (so
#     every documented signature is the real one); every LAB_*/lab_* name of
#     the header and every member of its public structs appears on the page;
#     every lab_* name of the page and of the guide exists in the header.
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
CC=${CC:-cc}
HEADER=$top_srcdir/sdk/include/lab/plugin.h
GUIDE=$top_srcdir/docs/plugin-guide.md
REF=$top_srcdir/docs/sdk-reference.md
TEMPLATE=$top_srcdir/docs/plugin-template

T=$(mktemp -d /tmp/lab-sdkdocs-XXXXXX)
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
pass() { echo "ok - $*"; }

# info_strings FILE: the info string of every fenced block, one per line
info_strings() {
	awk '/^```/ { if (open) { open = 0; next } open = 1; s = substr($0, 4); sub(/[ \t]+$/, "", s); print s }
	     END { if (open) print "UNCLOSED" }' "$1"
}
# blocks FILE INFO: the blocks whose info string is INFO, a blank line between two
blocks() {
	awk -v want="$2" '
		/^```/ {
			if (open) { open = 0; next }
			open = 1; s = substr($0, 4); sub(/[ \t]+$/, "", s)
			take = (s == want)
			if (take && n++) print ""
			next
		}
		open && take { print }' "$1"
}

# ---- 1. the guide's fragments are the template ------------------------------
info_strings "$GUIDE" >"$T/guide.infos"
while IFS= read -r info; do
	case $info in
	"c hello.c" | "make GNUmakefile" | "conf hello.conf" | sh | text) ;;
	UNCLOSED) fail "plugin-guide.md: a fenced block is not closed" ;;
	*) fail "plugin-guide.md: block '\`\`\`$info' is not checked by any test (use c hello.c, make GNUmakefile, conf hello.conf, sh or text)" ;;
	esac
done <"$T/guide.infos"
for pair in "c hello.c" "make GNUmakefile" "conf hello.conf"; do
	file=${pair#* }
	blocks "$GUIDE" "$pair" >"$T/$file"
	[ -s "$T/$file" ] || fail "plugin-guide.md has no '\`\`\`$pair' block"
	if ! diff -u "$TEMPLATE/$file" "$T/$file" >"$T/diff"; then
		cat "$T/diff" >&2
		fail "the '\`\`\`$pair' blocks of docs/plugin-guide.md differ from docs/plugin-template/$file (diff above: - template, + guide)"
	fi
done
grep -q '^```sh$' "$GUIDE" || fail "plugin-guide.md has no commands"
pass "plugin-guide.md's fragments are exactly docs/plugin-template/{hello.c,GNUmakefile,hello.conf}"

# ---- 2. the template builds cleanly ------------------------------------------
STRICT="-std=c11 -Wall -Wextra -Wno-unused-parameter -Werror -pedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes"
$CC $STRICT -O2 -shared -fPIC -fvisibility=hidden -I"$top_srcdir/sdk/include" "$TEMPLATE/hello.c" \
	-o "$T/hello.so" || fail "docs/plugin-template/hello.c does not build with $STRICT"
if command -v nm >/dev/null 2>&1; then
	syms=$(nm -D --defined-only "$T/hello.so" | awk '$2 ~ /^[TDBR]$/ { print $3 }' | tr '\n' ' ')
	[ "$syms" = "lab_plugin_entry " ] || fail "hello.so must export only lab_plugin_entry, it exports: $syms"
fi
pass "the template plugin builds with $STRICT and exports only lab_plugin_entry"

# ---- 3. the reference matches the header --------------------------------------
info_strings "$REF" >"$T/ref.infos"
while IFS= read -r info; do
	case $info in
	c | text | "") ;;
	UNCLOSED) fail "sdk-reference.md: a fenced block is not closed" ;;
	*) fail "sdk-reference.md: block '\`\`\`$info' is not checked (use c for declarations, text for anything else)" ;;
	esac
done <"$T/ref.infos"
{
	echo '#include <lab/plugin.h>'
	echo '/* Declarations from docs/sdk-reference.md: redeclaring a function or a'
	echo '   typedef with a different type does not compile. */'
	blocks "$REF" c
} >"$T/ref.c"
$CC -std=c11 -Wall -Wextra -Werror -c -I"$top_srcdir/sdk/include" "$T/ref.c" -o "$T/ref.o" ||
	fail "a declaration in docs/sdk-reference.md does not match lab/plugin.h (compiler output above)"
pass "every declaration in sdk-reference.md matches the header"

missing=""
for name in $(grep -oE '\b(LAB|lab)_[A-Za-z0-9_]+' "$HEADER" | sort -u); do
	[ "$name" = LAB_PLUGIN_H ] && continue
	grep -qw -- "$name" "$REF" || missing="$missing $name"
done
[ -z "$missing" ] || fail "sdk-reference.md does not mention:$missing"
# Members of the public structs: lines of one tab inside a struct body.
members=$(awk '
	/^(typedef )?struct lab_[a-z_]+ \{/ { inside = 1; next }
	inside && /^\}/ { inside = 0; next }
	inside && /^\t[a-z]/ {
		line = $0; sub(/\/\*.*/, "", line)
		if (match(line, /\(\*[a-z_0-9]+\)/)) { print substr(line, RSTART + 2, RLENGTH - 3); next }
		if (match(line, /[a-z_0-9]+;/)) print substr(line, RSTART, RLENGTH - 1)
	}' "$HEADER" | sort -u)
[ -n "$members" ] || fail "could not read the members of the public structs from $HEADER"
for m in $members; do
	grep -q -- "\`$m\`" "$REF" || missing="$missing $m"
done
[ -z "$missing" ] || fail "sdk-reference.md does not mention the struct members:$missing"
pass "sdk-reference.md mentions every public name and struct member of the header"

hv() { awk -v k="$1" '$1 == "#define" && $2 == k { print $3 }' "$HEADER"; }
maj=$(hv LAB_ABI_MAJOR) min=$(hv LAB_ABI_MINOR)
head -n 1 "$REF" | grep -qF "(ABI $maj.$min)" || fail "sdk-reference.md's title must say (ABI $maj.$min)"
grep -qF "| \`LAB_ABI_MAJOR\` | \`$maj\`." "$REF" && grep -qF "| \`LAB_ABI_MINOR\` | \`$min\`." "$REF" ||
	fail "sdk-reference.md must give LAB_ABI_MAJOR $maj and LAB_ABI_MINOR $min"
pass "sdk-reference.md documents ABI $maj.$min"

for doc in "$REF" "$GUIDE"; do
	for name in $(grep -oE '\blab_[a-z0-9_]+' "$doc" | sort -u); do
		case $name in *_) continue ;; esac # a family: lab_cfg_*
		grep -qw -- "$name" "$HEADER" || missing="$missing $name"
	done
	[ -z "$missing" ] || fail "$(basename "$doc") names what lab/plugin.h does not have:$missing"
done
pass "every lab_* name in sdk-reference.md and plugin-guide.md exists in the header"
