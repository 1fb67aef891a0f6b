#!/bin/sh
# Start to ready: process start to the first 200 from /readyz, with local
# ClickHouse 18.16 (the Xatu schema loaded) and fs storage, the three data
# plugins (beacon, timings, contributors) and the example plugin enabled on
# mainnet (target <= 50 ms, SPEC §10).  STARTUP_RUNS runs (60); p50, p95
# (judged) and max.
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" clickhouse -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || exit 1
stage_plugins
n=0
for p in beacon timings contributors example; do
	[ -f "$T/plugins/$p.so" ] || { echo "$p.so not built" >&2; exit 1; }
	n=$((n + 1))
done
find "$T/plugins" -name '*.so' ! -name beacon.so ! -name timings.so ! -name contributors.so \
	! -name example.so -exec rm -f {} +
RUNS=${STARTUP_RUNS:-60}
GENESIS=1606824023
CUR=$((($(date +%s) - GENESIS) / 12))
port=$(free_port)
cat >"$T/labd.conf" <<CONF
log = { level = "warn"; format = "logfmt"; };
admin = { listen = "127.0.0.1:$port"; };
plugin_dir = "$T/plugins";
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
broker = { backend = "local"; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
plugins = {
	example = { interval = "1s"; };
	beacon = { enabled = true; networks = { mainnet = { backfill = { to_slot = $((CUR - 400)); }; }; }; };
	timings = { enabled = true; networks = [ "mainnet" ]; };
	contributors = { enabled = true; networks = [ "mainnet" ]; };
};
CONF
"$LABD" -t -c "$T/labd.conf" || { echo "config does not validate" >&2; exit 1; }
"$top_builddir/tests/bench/ready-time" "$RUNS" "$port" -- "$LABD" -c "$T/labd.conf" >"$T/fig" 2>"$T/runs" ||
	{ cat "$T/runs" >&2; exit 1; }
cat "$T/fig"
# p95 from the per-run lines: one slow run in 20 (another process — ClickHouse
# flushing its logs — taking a core of the two) must not decide the verdict.
p95=$(sed -n 's/^run [0-9]*: ready after \([0-9.]*\) ms$/\1/p' "$T/runs" | sort -n |
	awk '{ v[NR] = $1 } END { i = int(NR * 0.95 + 0.999); if (i < 1) i = 1; print v[i] }')
figure startup_ready_ms_p95 "$p95" ms
# What exec + dynamic linking alone cost (libcurl pulls in ~30 libraries whose
# constructors run before main): `labd --version`, 20 runs, p50.
i=0
while [ $i -lt 20 ]; do
	t0=$(date +%s%N)
	"$LABD" --version >/dev/null
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000)) >>"$T/ver"
	i=$((i + 1))
done
ver=$(sort -n "$T/ver" | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] / 1000 }')
figure startup_exec_version_p50 "$ver" ms
p50=$(awk '/_p50/ { print $2 }' "$T/fig")
max=$(awk '/_max/ { print $2 }' "$T/fig")
figure startup_plugins "$n" plugins
if awk -v m="$p95" 'BEGIN { exit !(m <= 50) }'; then
	verdict startup OK "start to ready p50 $p50 ms, p95 $p95 ms, max $max ms over $RUNS runs with beacon, timings, contributors, example (target p95 <= 50 ms; exec + linking alone p50 $ver ms)"
else
	verdict startup MISSED "start to ready p95 $p95 ms > 50 ms (p50 $p50 ms, max $max ms over $RUNS runs; exec + linking alone p50 $ver ms)"
fi
done_bench startup
