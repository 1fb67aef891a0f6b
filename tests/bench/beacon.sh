#!/bin/sh
# Beacon backfill throughput (SPEC §10: >= 50 slots/s against local
# ClickHouse, i.e. >= 25x the original's designed ceiling of 2 slots/s; host
# CPU <= 10 % of ClickHouse's own query time): `labd --once` over
# BEACON_BENCH_SLOTS generated slots (default 2000) with backfill concurrency
# 1, 4 and 16 (slots per batch; two batches in flight), each into an empty
# fs store.  Per run: slots/s, labd CPU time per slot, ClickHouse query time
# per slot (system.query_log, the run's time window), labd CPU over
# ClickHouse time.
# Then the original design's pacing (`pacing = "original"`: one slot at a
# time, its queries one after another, 500 ms pause per slot) over the top
# BEACON_ORIGINAL_SLOTS slots of the same range (default 40: at < 2 slots/s
# the whole range would take 17 minutes), and the speed-up of concurrency 16
# over it, measured side by side in this run.
# Then relay bids (SPEC §9.5) on BEACON_MEV_SLOTS (default 160) mainnet-like
# slots (xatu-gen --mev-relays 8 --mev-buckets 180: ~3,600 bid rows and
# ~2,900 listed bids a slot) at concurrency 16, with `mev` on and off:
# slots/s, peak RSS (target <= 64 MiB), labd CPU over ClickHouse time
# (target <= 10 %), and the document size before and after gzip.
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" clickhouse -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
N=${BEACON_BENCH_SLOTS:-2000}
NO=${BEACON_ORIGINAL_SLOTS:-40}
CONCS=${BEACON_BENCH_CONCURRENCY:-1 4 16}
GENESIS=1606824023
FROM=9000000
TO=$((FROM + N - 1))
NOW=$(date -u -d "@$((GENESIS + (TO + 3) * 12 + 5))" +%Y-%m-%dT%H:%M:%SZ)
"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || exit 1
"$top_builddir/tests/fixtures/xatu-gen" --network mainnet --genesis $GENESIS --from-slot $FROM \
	--to-slot $TO --out "$T/gen" >/dev/null || exit 1
"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >/dev/null || exit 1
rm -rf "$T/gen"
stage_plugins
cat >"$T/labd.conf" <<CONF
log = { level = "warn"; };
admin = { listen = ""; };
plugin_dir = "$T/plugins";
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; max_concurrency = 8; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
plugins = { beacon = { enabled = true; networks = { mainnet = {
	backfill = { to_slot = $FROM; concurrency = 16; }; }; }; }; };
CONF
q() { curl -sS --data-binary "$1" "$CLICKHOUSE_URL/?database=default"; }
sleep 2 # let the load's own queries reach the query log

# run NAME SLOTS -D...: one --once pass into an empty store; prints NAME_* figures.
# Each run gets a new directory, and none is removed before the end: ext4
# creates files markedly slower right after thousands were deleted
# (recently_deleted() in its inode allocator), which is not labd's cost.
run() {
	name=$1 n=$2
	shift 2
	D="$T/data-$name"
	sleep 1
	t0=$(q "SELECT toUnixTimestamp(now())")
	/usr/bin/time -f "%e %U %S %M" -o "$T/time" "$LABD" -c "$T/labd.conf" --once --plugin beacon \
		--now "$NOW" -D "plugins.beacon.networks.mainnet.backfill.to_slot=$((TO - n + 1))" \
		-D "storage.fs.root=\"$D\"" "$@" \
		2>"$T/labd.log" || { tail "$T/labd.log" >&2; exit 1; }
	t1=$(q "SELECT toUnixTimestamp(now())")
	sleep 1
	q "SYSTEM FLUSH LOGS" >/dev/null 2>&1
	read -r wall usr sys maxrss <"$T/time"
	stored=$(find "$D/beacon/slots/mainnet" -name '*.json' | wc -l)
	raw=$(find "$D/beacon/slots/mainnet" -name '*.json' -exec gzip -dc {} + | wc -c)
	gz=$(find "$D/beacon/slots/mainnet" -name '*.json' -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }')
	# ClickHouse's own time for the plugin's queries in this run's window.
	# (and the CPU time of its threads: query time includes waiting for a
	# CPU when the machine is busy)
	q "SELECT sum(query_duration_ms), count(),
		intDiv(sum(ProfileEvents.Values[indexOf(ProfileEvents.Names, 'OSCPUVirtualTimeMicroseconds')]), 1000)
		FROM system.query_log
		WHERE type = 2 AND event_time BETWEEN toDateTime($t0) AND toDateTime($t1)
		AND query LIKE '%meta_network_name = %'
		AND query NOT LIKE '%system.query_log%' FORMAT TabSeparated" >"$T/ch"
	read -r ch_ms nq ch_cpu <"$T/ch"
	awk -v p="beacon_$name" -v n="$n" -v w="$wall" -v u="$usr" -v s="$sys" -v ch="$ch_ms" \
		-v q="$nq" -v st="$stored" -v m="$maxrss" -v raw="$raw" -v gz="$gz" -v chc="$ch_cpu" 'BEGIN {
		cpu = (u + s) * 1000
		printf "%s_slots %d slots\n%s_documents %d documents\n%s_wall %.2f s\n", p, n, p, st, p, w
		printf "%s_throughput %.1f slots/s\n", p, n / w
		printf "%s_labd_cpu_per_slot %.3f ms\n", p, cpu / n
		printf "%s_labd_cpu_user_sys %.2f+%.2f s\n", p, u, s
		printf "%s_clickhouse_queries %d queries\n", p, q
		printf "%s_clickhouse_time_per_slot %.2f ms\n", p, ch / n
		printf "%s_labd_cpu_vs_clickhouse %.1f %%\n", p, ch ? 100 * cpu / ch : 0
		printf "%s_clickhouse_cpu_per_slot %.2f ms\n", p, chc / n
		printf "%s_labd_cpu_vs_clickhouse_cpu %.1f %%\n", p, chc ? 100 * cpu / chc : 0
		printf "%s_labd_user_cpu_vs_clickhouse %.1f %%\n", p, ch ? 100 * u * 1000 / ch : 0
		# ClickHouse query time over wall time: above 100 % when queries overlap
		printf "%s_clickhouse_time_vs_wall %.0f %%\n", p, w ? 100 * ch / (w * 1000) : 0
		printf "%s_peak_rss %d kB\n", p, m
		printf "%s_document_bytes %.0f bytes\n", p, st ? raw / st : 0
		printf "%s_document_gzip_bytes %.0f bytes\n", p, st ? gz / st : 0
	}' | tee -a "$T/fig"
}
: >"$T/fig"
for c in $CONCS; do
	run "c$c" "$N" -D "plugins.beacon.networks.mainnet.backfill.concurrency=$c"
done
run original "$NO" -D 'plugins.beacon.pacing="original"'
# mainnet-like relay bids on a range of their own, with and without mev
NM=${BEACON_MEV_SLOTS:-160}
FROM=$((TO + 1000))
TO=$((FROM + NM - 1))
NOW=$(date -u -d "@$((GENESIS + (TO + 3) * 12 + 5))" +%Y-%m-%dT%H:%M:%SZ)
"$top_builddir/tests/fixtures/xatu-gen" --network mainnet --genesis $GENESIS --from-slot $FROM \
	--to-slot $TO --mev-relays 8 --mev-buckets 180 --out "$T/genm" >/dev/null || exit 1
"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/genm" >/dev/null || exit 1
figure beacon_mev_bid_rows_per_slot "$(($(wc -l <"$T/genm/mev_relay_bid_trace.tsv") / NM))" rows
rm -rf "$T/genm"
sleep 2
run mev "$NM" -D "plugins.beacon.networks.mainnet.backfill.concurrency=16"
run nomev "$NM" -D "plugins.beacon.networks.mainnet.backfill.concurrency=16" \
	-D "plugins.beacon.networks.mainnet.mev=false"
fig() { awk -v k="$1" '$1 == k { print $2 }' "$T/fig"; }
tp=$(fig beacon_c16_throughput)
ratio=$(fig beacon_c16_labd_cpu_vs_clickhouse)
orig=$(fig beacon_original_throughput)
[ -n "$tp" ] || tp=0
[ -n "$ratio" ] || ratio=100
speedup=$(awk -v a="$tp" -v b="$orig" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
vs_ceiling=$(awk -v a="$tp" 'BEGIN { printf "%.1f", a / 2 }')
figure beacon_speedup_vs_original "$speedup" x
figure beacon_speedup_vs_design_ceiling "$vs_ceiling" x
if awk -v t="$tp" 'BEGIN { exit !(t >= 50) }'; then
	verdict beacon OK "backfill $tp slots/s with concurrency 16 (target >= 50 = 25x the original's 2 slots/s ceiling)"
else
	verdict beacon MISSED "backfill $tp slots/s with concurrency 16 (target >= 50)"
fi
if awk -v r="$ratio" 'BEGIN { exit !(r <= 10) }'; then
	verdict beacon-cpu OK "labd CPU $ratio % of ClickHouse query time at concurrency 16 (target <= 10 %)"
else
	verdict beacon-cpu MISSED "labd CPU $ratio % of ClickHouse query time at concurrency 16 (target <= 10 %)"
fi
if awk -v s="$speedup" 'BEGIN { exit !(s >= 25) }'; then
	verdict beacon-original OK "${speedup}x the original pacing measured in this run ($orig slots/s over $NO slots; ${vs_ceiling}x its 2 slots/s design ceiling; target >= 25x)"
else
	verdict beacon-original MISSED "${speedup}x the original pacing measured in this run ($orig slots/s; target >= 25x)"
fi
mtp=$(fig beacon_mev_throughput) ntp=$(fig beacon_nomev_throughput)
mrss=$(fig beacon_mev_peak_rss) mratio=$(fig beacon_mev_labd_cpu_vs_clickhouse)
figure beacon_mev_throughput_vs_nomev "$(awk -v a="${mtp:-0}" -v b="${ntp:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')" x
figure beacon_mev_gzip_ratio "$(awk -v a="$(fig beacon_mev_document_bytes)" -v b="$(fig beacon_mev_document_gzip_bytes)" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')" x
if awk -v r="${mrss:-999999}" 'BEGIN { exit !(r <= 65536) }'; then
	verdict beacon-mev-rss OK "peak RSS $mrss kB during a mainnet-like backfill with mev at concurrency 16 (target <= 64 MiB)"
else
	verdict beacon-mev-rss MISSED "peak RSS $mrss kB during a mainnet-like backfill with mev (target <= 64 MiB)"
fi
if awk -v r="${mratio:-100}" 'BEGIN { exit !(r <= 10) }'; then
	verdict beacon-mev-cpu OK "labd CPU $mratio % of ClickHouse query time with mev ($mtp slots/s; $ntp without mev) (target <= 10 %)"
else
	verdict beacon-mev-cpu MISSED "labd CPU $mratio % of ClickHouse query time with mev ($mtp slots/s; $ntp without mev) (target <= 10 %)"
fi
done_bench beacon
