#!/bin/sh
# Hot reload of the example plugin through POST /plugins/example/reload
# (docs/reload.md): latency request -> new instance running (the route
# answers 200 once it runs), p50/p99 over RELOAD_N reloads (default 200),
# alternating two builds while the timer runs (interval 1s) next to the
# lifecycle probe (50 ms timer); then RSS and open fds first/last over
# RELOAD_CYCLES cycles (default 1000) and leftover private copies.
# Target (issue 7): p99 <= 50 ms.  Runs without services (fs storage).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
N=${RELOAD_N:-200}
CYCLES=${RELOAD_CYCLES:-1000}
stage_plugins
mkdir -p "$T/tmp" && chmod 700 "$T/tmp"
TMPDIR=$T/tmp
export TMPDIR
write_conf 'example = { interval = "1s"; };
lifecycle = { tick_ms = 50; };'
start_labd
P=$T/plugins
cp "$P/example.so" "$T/v1.so"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$LABD_PID/status"; }
fds() { ls "/proc/$LABD_PID/fd" | wc -l; }
reload_once() { # prints curl's total time in ms; fails on non-200
	out=$(curl -s -o "$T/body" -w '%{http_code} %{time_total}' -X POST "http://127.0.0.1:$PORT/plugins/example/reload")
	[ "${out%% *}" = 200 ] || { echo "reload answered: $out $(cat "$T/body")" >&2; exit 1; }
	awk -v t="${out#* }" 'BEGIN { printf "%.3f\n", t * 1000 }'
}
# Alternate the installed build (atomic rename) so every reload changes code.
swap() {
	if [ $(($1 % 2)) = 0 ]; then src=$P/example-v2.so; else src=$T/v1.so; fi
	cp "$src" "$P/.x.tmp" && mv "$P/.x.tmp" "$P/example.so"
}
sleep 0.3
: >"$T/lat"
i=0
while [ $i -lt "$N" ]; do
	swap $i
	reload_once >>"$T/lat"
	i=$((i + 1))
done
sort -n "$T/lat" >"$T/lat.s"
p50=$(awk -v n="$N" 'NR == int(n * 0.50 + 0.5) { print }' "$T/lat.s")
p99=$(awk -v n="$N" 'NR == int(n * 0.99 + 0.5) { print }' "$T/lat.s")
figure reload_latency_p50 "$p50" ms
figure reload_latency_p99 "$p99" ms

rss0=$(rss)
fd0=$(fds)
i=0
while [ $i -lt "$CYCLES" ]; do
	reload_once >/dev/null
	i=$((i + 1))
done
rss1=$(rss)
fd1=$(fds)
copies=$(find "$T/tmp" -name '*.so' | wc -l)
figure reload_cycles "$CYCLES" reloads
figure reload_rss_first "$rss0" kB
figure reload_rss_last "$rss1" kB
figure reload_fds_first "$fd0" fds
figure reload_fds_last "$fd1" fds
figure reload_private_copies "$copies" files
gen=$(curl -s "http://127.0.0.1:$PORT/plugins" | sed 's/.*"name":"example"[^}]*"generation":\([0-9]*\).*/\1/')
figure reload_generation "$gen" generations
stop_labd
[ "$STOP_RC" = 0 ] || { echo "labd exit status $STOP_RC" >&2; exit 1; }
left=$(ls -A "$T/tmp" | wc -l)
ok=1
[ "$fd1" -le "$fd0" ] || ok=0
[ "$copies" = 2 ] || ok=0
[ "$left" = 0 ] || ok=0
[ $((rss1 - rss0)) -le 2048 ] || ok=0
awk -v m="$p99" 'BEGIN { exit !(m <= 50) }' || ok=0
if [ $ok = 1 ]; then
	verdict reload OK "p50 $p50 ms, p99 $p99 ms (target <= 50 ms); RSS $rss0 -> $rss1 kB, fds $fd0 -> $fd1 over $CYCLES reloads; no leftover copies"
else
	verdict reload MISSED "p50 $p50 ms, p99 $p99 ms (target <= 50 ms); RSS $rss0 -> $rss1 kB (limit +2048), fds $fd0 -> $fd1, copies $copies (expect 2), dir entries left $left"
fi
done_bench reload
