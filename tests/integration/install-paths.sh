#!/bin/sh
# `make install` (issue 20, finding 9), staged with DESTDIR: the systemd
# unit is installed and names the installed labd and labd.conf (the
# configured bindir and sysconfdir, not a hard-coded /usr/bin); the man
# pages cite documents that are installed; labctl knows the installed
# directory of its labctl-NAME programs; the plugins come without .la files.
. "$(dirname "$0")/lib.sh"
R=$T/root
make -C "$top_builddir" -s install DESTDIR="$R" >"$T/install.log" 2>&1 || { tail "$T/install.log"; fail "make install"; }
unit=$(find "$R" -name labd.service -path '*/systemd/system/*')
[ -n "$unit" ] || fail "no systemd unit installed"
bin=$(sed -n 's/^ExecStart=\([^ ]*\) -c \([^ ]*\)$/\1/p' "$unit")
conf=$(sed -n 's/^ExecStart=\([^ ]*\) -c \([^ ]*\)$/\2/p' "$unit")
[ -x "$R$bin" ] || fail "the unit's ExecStart names $bin, which is not the installed labd"
[ -f "$R$conf" ] || fail "the unit's config $conf is not installed"
grep -qx "ExecStartPre=$bin -t -c $conf" "$unit" || fail "ExecStartPre: $(grep ExecStartPre "$unit")"
pass "unit ${unit#$R} runs $bin -c $conf (both installed)"
n=0
for m in $(find "$R" -path '*/man/man*' -type f); do
	for d in $(grep -o '/[^ ]*/doc/labd/[a-z/-]*\.md' "$m"); do
		[ -f "$R$d" ] || fail "${m#$R} cites $d, which is not installed"
		n=$((n + 1))
	done
done
[ $n -ge 4 ] || fail "the man pages cite only $n documents"
pass "the man pages cite $n installed documents"
dir=$(sed -n 's/^libexecdir=${LAB_LIBEXECDIR:-\(.*\)}$/\1/p' "$(find "$R" -name labctl -path '*/bin/*')")
case $dir in /*/libexec/lab) ;; *) fail "labctl's libexec directory: '$dir'" ;; esac
[ -z "$(find "$R" -name '*.la')" ] || fail ".la files installed: $(find "$R" -name '*.la')"
pass "labctl looks for labctl-NAME in $dir; no .la files"
