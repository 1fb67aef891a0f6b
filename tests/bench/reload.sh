#!/bin/sh
# Hot reload latency (SPEC §10: <= 50 ms p99) of each plugin while the
# others run: labd serves beacon, timings and contributors on generated data
# near the real clock (local ClickHouse, fs storage) next to the example
# plugin (timer every 1 s) and the lifecycle probe (50 ms timer).  RELOAD_N
# (default 200) reloads of each of example, beacon, timings and
# contributors through POST /plugins/NAME/reload (docs/reload.md); the
# example alternates two builds installed by atomic rename, so every one of
# its reloads changes code.  Latency: request to new instance running —
# curl's request time when the answer says `"state":"running"`; when it says
# `"state":"reloading"` (the old instance was still draining queries) the
# daemon's own request-to-running time from its log (`msg="plugin reloaded"
# ms=`, whole milliseconds).  p50/p99 per plugin.  Then RSS and open fds first/last over RELOAD_CYCLES example
# reloads (default 1000) and leftover private copies.
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" clickhouse -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
N=${RELOAD_N:-200}
CYCLES=${RELOAD_CYCLES:-1000}
GENESIS=1606824023
CUR=$((($(date +%s) - GENESIS) / 12))
"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || exit 1
"$top_builddir/tests/fixtures/xatu-gen" --network mainnet --genesis $GENESIS --from-slot $((CUR - 200)) \
	--to-slot $((CUR + 20)) --out "$T/gen" >/dev/null || exit 1
"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >/dev/null || exit 1
rm -rf "$T/gen"
stage_plugins
P=$T/plugins
for p in beacon timings contributors example example-v2 lifecycle; do
	[ -f "$P/$p.so" ] || { echo "$p.so not built" >&2; exit 1; }
done
mkdir -p "$T/keep"
mv "$P/example-v2.so" "$T/keep/"
find "$P" -name '*.so' ! -name beacon.so ! -name timings.so ! -name contributors.so \
	! -name example.so ! -name lifecycle.so -exec rm -f {} +
cp "$P/example.so" "$T/keep/v1.so"
mkdir -p "$T/tmp" && chmod 700 "$T/tmp"
TMPDIR=$T/tmp
export TMPDIR
cat >"$T/labd.conf" <<CONF
log = { level = "info"; format = "logfmt"; };
admin = { listen = "127.0.0.1:0"; };
plugin_dir = "$P";
state = { flush_interval = "60s"; };
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
broker = { backend = "local"; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
plugins = {
	example = { interval = "1s"; };
	lifecycle = { tick_ms = 50; };
	beacon = { enabled = true; networks = { mainnet = { backfill = { to_slot = $((CUR - 200)); }; }; }; };
	timings = { enabled = true; interval = "10s"; networks = [ "mainnet" ];
		time_windows = ( { file = "last_1h"; step = "5m"; label = "Last 1h"; range = "-1h"; } ); };
	contributors = { enabled = true; interval = "10s"; networks = [ "mainnet" ];
		time_windows = ( { file = "last_1h"; step = "10m"; label = "Last 1h"; range = "-1h"; } ); };
};
CONF
start_labd
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$LABD_PID/status"; }
fds() { ls "/proc/$LABD_PID/fd" | wc -l; }
nlog() { grep -c "plugin=$1 msg=\"plugin reloaded\"" "$T/labd.log"; }
# reload_once NAME: one reload; appends the daemon's ms (and curl's for the
# example) to $T/lat.NAME (and $T/curl.NAME); fails on anything but 200.
reload_once() {
	before=$(nlog "$1")
	out=$(curl -s -o "$T/body" -w '%{http_code} %{time_total}' -X POST "http://127.0.0.1:$PORT/plugins/$1/reload")
	[ "${out%% *}" = 200 ] || { echo "reload of $1 answered: $out $(cat "$T/body")" >&2; exit 1; }
	rp=$1 # wait_for's eval sees its own $1
	wait_for '[ "$(nlog "$rp")" -gt "$before" ]' || { echo "no 'plugin reloaded' for $1" >&2; exit 1; }
	ms=$(grep "plugin=$1 msg=\"plugin reloaded\"" "$T/labd.log" | tail -n 1 | sed -n 's/.* ms=\([0-9]*\).*/\1/p')
	if grep -q '"state":"reloading"' "$T/body"; then
		echo "$1" >>"$T/draining"
		echo "$ms" >>"$T/lat.$1"
	else # answered once running: curl's time is finer than the log's whole ms
		awk -v t="${out#* }" 'BEGIN { printf "%.3f\n", t * 1000 }' >>"$T/lat.$1"
	fi
}
# Alternate the installed example build (atomic rename) so every reload changes code.
swap() {
	if [ $(($1 % 2)) = 0 ]; then src=$T/keep/example-v2.so; else src=$T/keep/v1.so; fi
	cp "$src" "$P/.x.tmp" && mv "$P/.x.tmp" "$P/example.so"
}
pct() { # pct FILE P -> the P-th percentile (nearest rank)
	sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { r = int(NR * p + 0.999999); if (r < 1) r = 1; print v[r] }'
}
sleep 2 # the plugins' first passes are under way
: >"$T/draining"
ok=1
summary=""
for p in example beacon timings contributors; do
	: >"$T/lat.$p"
	k=0 # not i: wait_for uses i
	while [ $k -lt "$N" ]; do
		[ $p = example ] && swap $k
		reload_once $p
		k=$((k + 1))
	done
	p50=$(pct "$T/lat.$p" 0.50)
	p99=$(pct "$T/lat.$p" 0.99)
	mx=$(pct "$T/lat.$p" 1)
	figure "reload_${p}_p50" "$p50" ms
	figure "reload_${p}_p99" "$p99" ms
	figure "reload_${p}_max" "$mx" ms
	figure "reload_${p}_draining_answers" "$(grep -c "^$p\$" "$T/draining")" reloads
	awk -v m="$p99" 'BEGIN { exit !(m <= 50) }' || ok=0
	summary="$summary $p p50 $p50 p99 $p99;"
done
kill -0 "$LABD_PID" || { echo "labd died" >&2; exit 1; }
http GET /plugins
running=$(printf '%s' "$BODY" | grep -o '"state":"running"' | wc -l)
figure reload_plugins_running_after "$running" plugins
[ "$running" = 5 ] || ok=0

rss0=$(rss)
fd0=$(fds)
i=0
while [ $i -lt "$CYCLES" ]; do
	curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/plugins/example/reload" | grep -q 200 ||
		{ echo "reload answered $(cat "$T/body")" >&2; exit 1; }
	i=$((i + 1))
done
sleep 0.2
rss1=$(rss)
fd1=$(fds)
copies=$(find "$T/tmp" -name '*.so' | wc -l)
figure reload_cycles "$CYCLES" reloads
figure reload_rss_first "$rss0" kB
figure reload_rss_last "$rss1" kB
figure reload_fds_first "$fd0" fds
figure reload_fds_last "$fd1" fds
figure reload_private_copies "$copies" files
stop_labd
[ "$STOP_RC" = 0 ] || { echo "labd exit status $STOP_RC" >&2; exit 1; }
left=$(ls -A "$T/tmp" | wc -l)
[ "$fd1" -le "$fd0" ] || ok=0
[ "$copies" = 5 ] || ok=0
[ "$left" = 0 ] || ok=0
[ $((rss1 - rss0)) -le 2048 ] || ok=0
if [ $ok = 1 ]; then
	verdict reload OK "$N reloads each while the others run:$summary (target p99 <= 50 ms); RSS $rss0 -> $rss1 kB, fds $fd0 -> $fd1 over $CYCLES reloads; no leftover copies"
else
	verdict reload MISSED "$N reloads each:$summary (target p99 <= 50 ms); $running plugins running after; RSS $rss0 -> $rss1 kB (limit +2048), fds $fd0 -> $fd1, copies $copies (expect 5), dir entries left $left"
fi
done_bench reload
