#!/bin/bash
# ABI check of the public SDK headers (SPEC §5.7).
#
# Builds the probe library sdk/abi/probe.c from the headers with fixed flags
# and debug info, dumps it with libabigail's abidw and compares the dump with
# the baseline sdk/abi/lab-plugin.abi using abidiff.  Any change abidiff
# reports fails, except the one compatible kind of change the SDK allows:
# members appended at the END of the growable structs (lab_host_api,
# lab_plugin, lab_option), together with a LAB_ABI_MINOR bump.  The policy and how to
# update the baseline deliberately: sdk/abi/README.md.
#
# Usage: abi-check.sh            check (what `make check` runs)
#        abi-check.sh --update   rewrite the baseline from the current headers
# Environment: top_srcdir (default: this file's ../..), CC (default cc),
#              LAB_ABI_INCLUDE (check this include dir instead of sdk/include).
set -eu
set -o pipefail

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
CC=${CC:-cc}
ABI_DIR=$top_srcdir/sdk/abi
BASE=$ABI_DIR/lab-plugin.abi
BASE_VERSION_FILE=$ABI_DIR/VERSION
INCLUDE=${LAB_ABI_INCLUDE:-$top_srcdir/sdk/include}
# Structs that may grow at their end (the host and plugins check `size`;
# lab_option arrays are read with the stride the descriptor's option_size
# gives).  Every other public struct is frozen: lab_field, lab_setting and
# lab_param are array elements, so even appending would change the stride.
GROWABLE="lab_host_api lab_plugin lab_option"
# Fixed flags: the dump must not depend on how the tree was configured.
PROBE_CFLAGS="-std=c11 -g -O0 -fPIC -shared -fvisibility=hidden"
ABIDW_FLAGS="--no-architecture --no-corpus-path --short-locs --no-comp-dir-path --type-id-style hash"

for tool in abidw abidiff; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: $tool not found (Debian package abigail-tools)"
		exit 77
	fi
done

T=$(mktemp -d /tmp/lab-abi-XXXXXX)
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# header_version INCDIR: prints MAJOR.MINOR of INCDIR/lab/plugin.h
header_version() {
	awk '$1 == "#define" && $2 == "LAB_ABI_MAJOR" { ma = $3 }
	     $1 == "#define" && $2 == "LAB_ABI_MINOR" { mi = $3 }
	     END { if (ma == "" || mi == "") exit 1; print ma "." mi }' "$1/lab/plugin.h"
}

# dump INCDIR OUT: probe library built from INCDIR, dumped as ABI XML to OUT
dump() {
	local so=$T/probe-$$-$RANDOM.so
	"$CC" $PROBE_CFLAGS -I"$1" "$top_srcdir/sdk/abi/probe.c" -o "$so" ||
		fail "cannot build the ABI probe from $1 (sdk/abi/probe.c must compile against the headers)"
	# shellcheck disable=SC2086
	abidw $ABIDW_FLAGS --out-file "$2" "$so" || fail "abidw failed on the probe library"
}

# nmembers XML STRUCT / size_bits XML STRUCT / member_names XML STRUCT FROM
nmembers() {
	awk -v s="$2" '
		index($0, "<class-decl name=\x27" s "\x27 size-in-bits=") { inside = 1; n = 0; next }
		inside && /<\/class-decl>/ { print n; exit }
		inside && /<data-member / { n++ }' "$1"
}
size_bits() {
	awk -v s="$2" 'index($0, "<class-decl name=\x27" s "\x27 size-in-bits=") {
		sub(/.* size-in-bits=\x27/, ""); sub(/\x27.*/, ""); print; exit }' "$1"
}
member_names() {
	awk -v s="$2" -v from="$3" '
		index($0, "<class-decl name=\x27" s "\x27 size-in-bits=") { inside = 1; n = 0; next }
		inside && /<\/class-decl>/ { exit }
		inside && /<data-member / { n++ }
		inside && n > from && /<var-decl name=/ { v = $0; sub(/.*<var-decl name=\x27/, "", v); sub(/\x27.*/, "", v); printf "%s ", v }' "$1"
}

# truncate_struct XML STRUCT KEEP SIZE: keeps the first KEEP data members of
# STRUCT and gives it SIZE bits, i.e. shows the struct as the baseline knew it.
truncate_struct() {
	awk -v s="$2" -v keep="$3" -v size="$4" '
		index($0, "<class-decl name=\x27" s "\x27 size-in-bits=") {
			inside = 1; n = 0; sub(/ size-in-bits=\x27[0-9]*\x27/, " size-in-bits=\x27" size "\x27")
			print; next }
		inside && /<\/class-decl>/ { inside = 0 }
		inside && /<data-member / { n++; if (n > keep) skip = 1 }
		skip { if (/<\/data-member>/) skip = 0; next }
		{ print }' "$1" >"$1.tmp"
	mv "$1.tmp" "$1"
}

# check INCDIR LOG: 0 when INCDIR's headers are compatible with the baseline;
# what abidiff (or the policy) says is written to LOG.
check() {
	local inc=$1 log=$2 cur=$T/current.abi ver maj min bmaj bmin grew=""
	: >"$log"
	ver=$(header_version "$inc") || fail "cannot read LAB_ABI_MAJOR/LAB_ABI_MINOR from $inc/lab/plugin.h"
	maj=${ver%.*} min=${ver#*.}
	bmaj=$(cut -d. -f1 "$BASE_VERSION_FILE") bmin=$(cut -d. -f2 "$BASE_VERSION_FILE")
	if [ "$maj" != "$bmaj" ]; then
		echo "LAB_ABI_MAJOR is $maj but the baseline is ABI $bmaj.$bmin: a new major needs a new baseline (sdk/abi/README.md)" >>"$log"
		return 1
	fi
	if [ "$min" -lt "$bmin" ]; then
		echo "LAB_ABI_MINOR went back from $bmin to $min" >>"$log"
		return 1
	fi
	dump "$inc" "$cur"
	for s in $GROWABLE; do
		local kb kc sb
		kb=$(nmembers "$BASE" "$s") kc=$(nmembers "$cur" "$s") sb=$(size_bits "$BASE" "$s")
		[ -n "$kb" ] && [ -n "$sb" ] || fail "struct $s is missing from the baseline $BASE"
		[ -n "$kc" ] || { echo "struct $s is no longer in the headers (or the probe)" >>"$log"; return 1; }
		if [ "$kc" -gt "$kb" ]; then
			grew="$grew $s: $(member_names "$cur" "$s" "$kb")"
			truncate_struct "$cur" "$s" "$kb" "$sb"
		fi
	done
	local rc=0
	abidiff --leaf-changes-only --no-added-syms "$BASE" "$cur" >>"$log" 2>&1 || rc=$?
	if [ $((rc & 3)) -ne 0 ]; then
		cat "$log" >&2
		fail "abidiff could not compare (exit $rc)"
	fi
	[ "$rc" -eq 0 ] || return 1
	if [ -n "$grew" ] && [ "$min" -le "$bmin" ]; then
		echo "members were appended (${grew# }) but LAB_ABI_MINOR is still $min: an addition must bump the minor" >>"$log"
		return 1
	fi
	[ -z "$grew" ] || echo "compatible additions since ABI $bmaj.$bmin:$grew" >>"$log"
	return 0
}

if [ "${1:-}" = "--update" ]; then
	ver=$(header_version "$INCLUDE") || fail "cannot read the ABI version from $INCLUDE/lab/plugin.h"
	dump "$INCLUDE" "$T/new.abi"
	cp "$T/new.abi" "$BASE"
	echo "$ver" >"$BASE_VERSION_FILE"
	echo "baseline for ABI $ver written to $BASE"
	exit 0
fi

[ -f "$BASE" ] && [ -f "$BASE_VERSION_FILE" ] || fail "no baseline in $ABI_DIR (see sdk/abi/README.md)"

# 1. The headers as they are.
if ! check "$INCLUDE" "$T/check.log"; then
	cat "$T/check.log" >&2
	fail "incompatible change of the public SDK headers against the ABI $(cat "$BASE_VERSION_FILE") baseline (above). If it is deliberate, read sdk/abi/README.md"
fi
cat "$T/check.log"
echo "ok - headers in $INCLUDE are compatible with the ABI $(cat "$BASE_VERSION_FILE") baseline"

# 2. The policy itself, on scratch variants of the header: what must pass
#    passes and what must fail fails (so the check cannot rot into a no-op).
[ -z "${LAB_ABI_INCLUDE:-}" ] || exit 0
bump_minor='$1 == "#define" && $2 == "LAB_ABI_MINOR" { $3 = $3 + 1 }'
# The baseline's minor: what an addition "without a bump" looks like, even
# when the headers are already a minor ahead of the baseline.
baseline_minor='$1 == "#define" && $2 == "LAB_ABI_MINOR" { $3 = '"$(cut -d. -f2 "$BASE_VERSION_FILE")"' }'
append_api='/^struct lab_host_api \{/ { inside = 1 }
	inside && /^\};/ { print "\tint (*abi_selftest)(lab_ctx *ctx);"; inside = 0 }'
swap_api='/^struct lab_host_api \{/ { inside = 1 }
	inside && /^\};/ { inside = 0 }
	inside && !done && /^\t[a-z].*\(\*[a-z_]+\)\(.*\);$/ {
		if (held == "") { held = $0; next }
		print; print held; done = 1; next }'
append_field='/^typedef struct lab_field \{/ { inside = 1 }
	inside && /^\} lab_field;/ { print "\tint abi_selftest;"; inside = 0 }'
swap_field='/^typedef struct lab_field \{/ { inside = 1 }
	inside && /^\} lab_field;/ { inside = 0 }
	inside && !done && /^\t[a-z].*;/ {
		if (held == "") { held = $0; next }
		print; print held; done = 1; next }'

variant() { # variant NAME AWK-PROGRAMS...: header variant in $T/NAME/lab/plugin.h
	local name=$1 src=$INCLUDE/lab/plugin.h out
	shift
	mkdir -p "$T/$name/lab"
	out=$T/$name/lab/plugin.h
	cp "$src" "$out"
	for prog in "$@"; do
		awk "$prog { print }" "$out" >"$out.tmp"
		mv "$out.tmp" "$out"
	done
	if cmp -s "$src" "$out"; then
		fail "policy self-test: could not make variant '$name' of lab/plugin.h (the header's layout changed? update tests/abi/abi-check.sh)"
	fi
}

expect() { # expect pass|fail NAME WHAT
	local want=$1 name=$2 what=$3 got=fail
	if check "$T/$name" "$T/$name.log"; then got=pass; fi
	if [ "$got" != "$want" ]; then
		cat "$T/$name.log" >&2
		fail "ABI policy self-test: the check should $want for $what, but it did $got"
	fi
	if [ "$want" = pass ]; then echo "ok - policy: accepted: $what"; else echo "ok - policy: refused: $what"; fi
}

variant append_bump "$append_api" "$bump_minor"
expect pass append_bump "a function appended to lab_host_api with a minor bump"
variant append_nobump "$append_api" "$baseline_minor"
expect fail append_nobump "a function appended to lab_host_api without a minor bump"
variant append_swap "$append_api" "$swap_api" "$bump_minor"
expect fail append_swap "an append plus two swapped lab_host_api members"
variant field_append "$append_field" "$bump_minor"
expect fail field_append "a member appended to lab_field (an array element)"
variant field_swap "$swap_field" "$bump_minor"
expect fail field_swap "two swapped lab_field members"
