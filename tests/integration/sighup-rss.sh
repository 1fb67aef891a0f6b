#!/bin/sh
# Configuration reloads do not leak (SPEC §7): 1,000 SIGHUPs leave RSS flat.
# A replaced config is freed once no plugin's section points into it; before
# configs were reference-counted every SIGHUP kept the old one until exit.
# Skipped under sanitizers and valgrind, which change memory use.
. "$(dirname "$0")/lib.sh"
if nm -D "$LABD" 2>/dev/null | grep -q __asan_init; then
	echo "SKIP: sanitizer build"; exit 77
fi
if [ -n "${LABD_UNDER_VALGRIND:-}" ]; then exit 77; fi
stage_plugins
# A sizeable section (about 16 KiB of text) so that a leaked config shows.
pad=$(awk 'BEGIN { for (i = 0; i < 256; i++) printf "%s", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" }')
write_conf "example = { interval = \"1s\"; message = \"$pad\"; };
lifecycle = { tick_ms = 1000; };"
start_labd
hups=0
hup() { # hup N: N more SIGHUPs, each one applied before the next is sent
	n=$1
	while [ "$n" -gt 0 ]; do
		kill -HUP "$LABD_PID"
		hups=$((hups + 1))
		i=0
		while [ "$(grep -c 'msg="configuration reloaded"' "$T/labd.log")" -lt "$hups" ]; do
			i=$((i + 1))
			[ $i -lt 500 ] || fail "SIGHUP $hups not applied"
			sleep 0.01
		done
		n=$((n - 1))
	done
}
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$LABD_PID/status"; }
hup 100
r100=$(rss)
hup 900
r1000=$(rss)
echo "VmRSS after 100 SIGHUPs: ${r100} KiB, after 1000: ${r1000} KiB"
[ "$r1000" -le $((r100 + 1024)) ] || fail "RSS grew by $((r1000 - r100)) KiB over 900 SIGHUPs"
http GET /plugins
echo "$BODY" | grep -q '"name":"example","version":"[^"]*","description":"[^"]*","abi":"[^"]*","state":"running"' ||
	fail "example not running after the reloads: $BODY"
pass "1000 SIGHUPs: RSS ${r100} -> ${r1000} KiB"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exited with $STOP_RC"
