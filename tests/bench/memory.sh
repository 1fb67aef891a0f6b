#!/bin/sh
# Memory (SPEC §10): labd idle with the three data plugins (beacon, timings,
# contributors) and the example plugin enabled, after MEMORY_SECONDS (default
# 60) of service on generated data near the real clock (the beacon head,
# trailing hour and backfill store the generated slots; timings and
# contributors compute their windows over them): VmRSS, and Rss and
# Private_Dirty from /proc/PID/smaps_rollup (targets: RSS <= 16 MiB,
# Private_Dirty <= 4 MiB).
# Then the peak RSS (VmHWM, from /usr/bin/time) of `labd --once` runs:
# timings with its default 30/60/90-day windows, and a beacon backfill of
# N and 4N slots (MEMORY_SLOTS, default 250): the peak must not grow with
# the number of slots backfilled (target: 4N within 1 MiB of N).
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" clickhouse -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
SECS=${MEMORY_SECONDS:-60}
N=${MEMORY_SLOTS:-250}
GENESIS=1606824023
CUR=$((($(date +%s) - GENESIS) / 12))
TO=$((CUR - 1))
FROM=$((TO - 4 * N + 1))
load_xatu $FROM $TO
stage_plugins
for p in beacon timings contributors example; do
	[ -f "$T/plugins/$p.so" ] || { echo "$p.so not built" >&2; exit 1; }
done
find "$T/plugins" -name '*.so' ! -name beacon.so ! -name timings.so ! -name contributors.so \
	! -name example.so -exec rm -f {} +
conf() { # conf LOGLEVEL
	cat <<CONF
log = { level = "$1"; format = "logfmt"; };
admin = { listen = "127.0.0.1:0"; };
plugin_dir = "$T/plugins";
state = { flush_interval = "5s"; };
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
broker = { backend = "local"; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
plugins = {
	example = { interval = "1s"; };
	beacon = { enabled = true; networks = { mainnet = {
		backfill = { to_slot = $FROM; concurrency = 16; }; }; }; };
	timings = { enabled = true; networks = [ "mainnet" ]; };
	contributors = { enabled = true; networks = [ "mainnet" ];
		time_windows = ( { file = "last_1h"; step = "10m"; label = "Last 1h"; range = "-1h"; },
			{ file = "last_24h"; step = "1h"; label = "Last 24h"; range = "-24h"; } ); };
};
CONF
}
conf info >"$T/labd.conf"
"$LABD" -t -c "$T/labd.conf" >"$T/t.log" 2>&1 || { cat "$T/t.log" >&2; exit 1; }

# ---- idle after SECS of service -------------------------------------------------
start_labd
sleep "$SECS"
http GET /readyz
ready=$CODE
docs=$(find "$T/data" -name '*.json' ! -path '*/.lab-meta/*' ! -path '*/state/*' | wc -l)
beacon_docs=$(find "$T/data/beacon" -name '*.json' 2>/dev/null | wc -l)
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$LABD_PID/status")
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$LABD_PID/status")
srss=$(awk '/^Rss:/ { print $2 }' "/proc/$LABD_PID/smaps_rollup")
pd=$(awk '/^Private_Dirty:/ { print $2 }' "/proc/$LABD_PID/smaps_rollup")
pc=$(awk '/^Private_Clean:/ { print $2 }' "/proc/$LABD_PID/smaps_rollup")
sh_=$(awk '/^Shared_Clean:/ { s += $2 } /^Shared_Dirty:/ { s += $2 } END { print s }' "/proc/$LABD_PID/smaps_rollup")
http GET /plugins
running=$(printf '%s' "$BODY" | grep -o '"state":"running"' | wc -l)
stop_labd
figure memory_service_seconds "$SECS" s
figure memory_plugins_running "$running" plugins
figure memory_documents_stored "$docs" documents
figure memory_beacon_documents "$beacon_docs" documents
figure memory_readyz "$ready" status
figure memory_idle_rss "$rss" kB
figure memory_idle_rss_smaps "$srss" kB
figure memory_idle_private_dirty "$pd" kB
figure memory_idle_private_clean "$pc" kB
figure memory_idle_shared "$sh_" kB
figure memory_idle_vmhwm "$hwm" kB
if [ "$rss" -le $((16 * 1024)) ] && [ "$pd" -le $((4 * 1024)) ] && [ "$running" -ge 4 ]; then
	verdict memory-idle OK "RSS $rss kB (target <= 16384), Private_Dirty $pd kB (target <= 4096) after ${SECS} s with $running plugins, $docs documents stored"
else
	verdict memory-idle MISSED "RSS $rss kB (target <= 16384), Private_Dirty $pd kB (target <= 4096), $running plugins running"
fi

# ---- peaks of --once runs ----------------------------------------------------------
conf warn >"$T/labd.conf"
peak() { # peak NAME PLUGIN ARGS...: wall and VmHWM of one --once run into an empty store
	name=$1 plugin=$2
	shift 2
	rm -rf "$T/data"
	/usr/bin/time -f "%e %M" -o "$T/time" "$LABD" -c "$T/labd.conf" --once --plugin "$plugin" "$@" \
		2>"$T/once.log" || { tail "$T/once.log" >&2; exit 1; }
	read -r wall m <"$T/time"
	figure "memory_${name}_wall" "$wall" s
	figure "memory_${name}_peak_rss" "$m" kB
	echo "$m"
}
NOW_REAL=$(date -u +%Y-%m-%dT%H:%M:%SZ)
peak timings_90d timings --now "$NOW_REAL" >"$T/p.timings"
# head (current - 3) = TO
NOW=$(date -u -d "@$((GENESIS + (TO + 3) * 12 + 5))" +%Y-%m-%dT%H:%M:%SZ)
peak "beacon_${N}_slots" beacon --now "$NOW" -D "plugins.beacon.networks.mainnet.backfill.to_slot=$((TO - N + 1))" >"$T/p.1"
peak "beacon_$((4 * N))_slots" beacon --now "$NOW" -D "plugins.beacon.networks.mainnet.backfill.to_slot=$FROM" >"$T/p.4"
grep -v '^[0-9]*$' "$T/p.timings" "$T/p.1" "$T/p.4" | sed 's/^[^:]*://'
t=$(tail -n 1 "$T/p.timings")
a=$(tail -n 1 "$T/p.1")
b=$(tail -n 1 "$T/p.4")
figure memory_beacon_peak_growth_4x "$((b - a))" kB
if [ $((b - a)) -le 1024 ] && [ "$t" -le $((16 * 1024)) ]; then
	verdict memory-peak OK "timings 90-day run peak $t kB; beacon backfill peak $a kB for $N slots, $b kB for $((4 * N)) (growth $((b - a)) kB, limit 1024): does not grow with slots"
else
	verdict memory-peak MISSED "timings 90-day run peak $t kB (limit 16384); beacon backfill peak $a kB for $N slots, $b kB for $((4 * N)) (growth $((b - a)) kB, limit 1024)"
fi
done_bench memory
