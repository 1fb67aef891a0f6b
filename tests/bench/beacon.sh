#!/bin/sh
# Beacon backfill throughput (SPEC §10: >= 50 slots/s against local
# ClickHouse; host CPU <= 10 % of ClickHouse's own query time): `labd --once`
# over BEACON_BENCH_SLOTS generated slots (default 1000) with concurrency 16.
# Prints slots/s, labd CPU time per slot, ClickHouse query time per slot
# (system.query_log) and ClickHouse query time over wall time.
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" clickhouse -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
N=${BEACON_BENCH_SLOTS:-1000}
GENESIS=1606824023
FROM=9000000
TO=$((FROM + N - 1))
NOW=$(date -u -d "@$((GENESIS + (TO + 3) * 12 + 5))" +%Y-%m-%dT%H:%M:%SZ)
"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || exit 1
"$top_builddir/tests/fixtures/xatu-gen" --network mainnet --genesis $GENESIS --from-slot $FROM \
	--to-slot $TO --out "$T/gen" >/dev/null || exit 1
"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >/dev/null || exit 1
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
t0=$(q "SELECT toUnixTimestamp(now())")
/usr/bin/time -f "%e %U %S" -o "$T/time" "$LABD" -c "$T/labd.conf" --once --plugin beacon --now "$NOW" 2>"$T/labd.log" ||
	{ tail "$T/labd.log" >&2; exit 1; }
sleep 2
q "SYSTEM FLUSH LOGS" >/dev/null 2>&1
read -r wall usr sys <"$T/time"
stored=$(find "$T/data/beacon/slots/mainnet" -name '*.json' | wc -l)
# ClickHouse's own time for the plugin's queries.
q "SELECT sum(query_duration_ms), count() FROM system.query_log
	WHERE type = 2 AND event_time >= toDateTime($t0) AND query LIKE '%meta_network_name = %'
	AND query NOT LIKE '%system.query_log%' FORMAT TabSeparated" >"$T/ch"
read -r ch_ms nq <"$T/ch"
awk -v n=$N -v w="$wall" -v u="$usr" -v s="$sys" -v ch="$ch_ms" -v q="$nq" -v st="$stored" 'BEGIN {
	cpu = (u + s) * 1000
	printf "beacon_slots %d slots\nbeacon_documents %d documents\nbeacon_wall %.2f s\n", n, st, w
	printf "beacon_throughput %.1f slots/s\n", n / w
	printf "beacon_labd_cpu_per_slot %.3f ms\n", cpu / n
	printf "beacon_clickhouse_queries %d queries\n", q
	printf "beacon_clickhouse_time_per_slot %.2f ms\n", ch / n
	printf "beacon_labd_cpu_vs_clickhouse %.1f %%\n", ch ? 100 * cpu / ch : 0
	printf "beacon_labd_cpu_user_sys %.2f %.2f s\n", u, s
	# ClickHouse query time over wall time: above 100 % when queries overlap
	printf "beacon_clickhouse_time_vs_wall %.0f %%\n", w ? 100 * ch / (w * 1000) : 0
	# wall time labd spent off the CPU: waiting for ClickHouse (and storage I/O)
	printf "beacon_wall_waiting %.0f %%\n", w ? 100 * (w * 1000 - cpu) / (w * 1000) : 0
}' | tee "$T/fig"
tp=$(awk '/^beacon_throughput/ { print $2 }' "$T/fig")
if awk -v t="$tp" 'BEGIN { exit !(t >= 50) }'; then
	verdict beacon OK "backfill $tp slots/s with concurrency 16 (target >= 50)"
else
	verdict beacon MISSED "backfill $tp slots/s with concurrency 16 (target >= 50)"
fi
done_bench beacon
