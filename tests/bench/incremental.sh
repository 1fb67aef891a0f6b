#!/bin/sh
# Incremental windows (issue 18): ClickHouse query time (system.query_log)
# of timings' and contributors' scheduled runs on INCR_DAYS (default 90)
# days of mainnet-sized data generated in ClickHouse (7200 slots a day,
# INCR_EVENTS (default 20) block events per slot from as many clients, a
# canonical block per slot with 0-6 blobs, 90 % MEV, 100,000 validators):
#   first   `--once` at NOW with an empty cache (the first run after start:
#           whole windows, as every run did before the cache);
#   hourly  `--once` at NOW + 1 h (the next scheduled run: incremental);
#   full    `--once` at NOW + 1 h with full_interval = 0s (a full
#           recompute, the cost of every run before the cache).
# Default windows (timings 30/60/90 days; contributors 90d/3d, 30d/1d,
# 1d/1h, 6h/5m); contributors' figures count only countries and users (the
# processors with windows; summary and user_summaries read 1 h / 24 h).
# INCR_PLUGINS: the plugins measured (default "timings contributors";
# timings must be among them).
# INCR_BASE_PLUGINS=DIR: also runs the timings.so/contributors.so in DIR
# (e.g. a build without the cache) at NOW + 1 h ("today").
# Also: the cache's size in state per window, and the documents of the
# hourly and full runs compared.
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" clickhouse -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
DAYS=${INCR_DAYS:-90}
E=${INCR_EVENTS:-20}
GENESIS=1606824023
NS=$((DAYS * 7200 + 600))
BASE=8000000
NOW1=$((GENESIS + (BASE + NS - 600) * 12))
NOW2=$((NOW1 + 3600))
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
q() { curl -sS --fail --data-binary "$1" "$CLICKHOUSE_URL/?database=default" || { echo "query failed: $1" >&2; exit 1; }; }

"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || exit 1
g0=$(date +%s)
TS="toDateTime($GENESIS + s * 12)"
q "INSERT INTO beacon_api_eth_v1_events_block (updated_date_time, event_date_time, slot, slot_start_date_time, propagation_slot_start_diff, meta_client_name, meta_client_geo_country, meta_client_geo_city, meta_client_geo_continent_code, meta_network_name, meta_consensus_implementation)
SELECT $TS, $TS, s, $TS, toUInt32(300 + cityHash64(number) % 3500), concat('pub-', toString(i % 7), '/user', toString(i % 13), '/node', toString(i)),
 ['Germany', 'France', 'United States', 'Japan', 'Brazil', 'Canada'][i % 6 + 1], 'City', 'EU', 'mainnet', 'lighthouse'
FROM (SELECT number, toUInt32($BASE + intDiv(number, $E)) AS s, number % $E AS i FROM system.numbers LIMIT $((NS * E)))" >/dev/null
q "INSERT INTO canonical_beacon_block (updated_date_time, slot, slot_start_date_time, block_total_bytes_compressed, proposer_index, meta_network_name)
SELECT $TS, s, $TS, toUInt32(20000 + cityHash64(s) % 150000), toUInt32(cityHash64(s, 1) % 100000), 'mainnet'
FROM (SELECT toUInt32($BASE + number) AS s FROM system.numbers LIMIT $NS)" >/dev/null
q "INSERT INTO canonical_beacon_blob_sidecar (updated_date_time, slot, slot_start_date_time, blob_index, meta_network_name)
SELECT $TS, s, $TS, b, 'mainnet'
FROM (SELECT toUInt32($BASE + intDiv(number, 6)) AS s, number % 6 AS b FROM system.numbers LIMIT $((NS * 6)))
WHERE b < cityHash64(s, 2) % 7" >/dev/null
q "INSERT INTO mev_relay_proposer_payload_delivered (updated_date_time, slot, slot_start_date_time, relay_name, meta_network_name)
SELECT $TS, s, $TS, 'relay', 'mainnet'
FROM (SELECT toUInt32($BASE + number) AS s FROM system.numbers LIMIT $NS) WHERE cityHash64(s, 3) % 10 < 9" >/dev/null
q "INSERT INTO ethseer_validator_entity (updated_date_time, \`index\`, pubkey, entity, meta_network_name)
SELECT toDateTime(1700000000), toUInt32(number), toString(number), if(number % 20 = 0, 'solo_stakers', 'lido'), 'mainnet'
FROM system.numbers LIMIT 100000" >/dev/null
q "OPTIMIZE TABLE canonical_beacon_block FINAL" >/dev/null 2>&1
rows=$(q "SELECT count() FROM beacon_api_eth_v1_events_block")
figure incremental_data_days "$DAYS" days
figure incremental_data_block_events "$rows" rows
figure incremental_data_load_wall $(( $(date +%s) - g0 )) s

stage_plugins
find "$T/plugins" -name '*.so' ! -name timings.so ! -name contributors.so -exec rm -f {} +
cat >"$T/labd.conf" <<CONF
log = { level = "info"; format = "logfmt"; };
admin = { listen = "127.0.0.1:0"; };
plugin_dir = "$T/plugins";
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
broker = { backend = "local"; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
plugins = {
	timings = { enabled = true; networks = [ "mainnet" ]; };
	contributors = { enabled = true; networks = [ "mainnet" ]; };
};
CONF

# run NAME PLUGIN NOW DATA [ARGS...]: one --once run; prints the ClickHouse
# time of the plugin's windowed queries (ms) and their count
run() {
	name=$1 plugin=$2 now=$3 data=$4
	shift 4
	case $plugin in
	timings) like='%propagation_slot_start_diff%' ;;
	*) like='%GROUP BY net, t, k%' ;;
	esac
	q "SYSTEM FLUSH LOGS" >/dev/null 2>&1
	t0=$(q "SELECT toUnixTimestamp(now())")
	sleep 1
	/usr/bin/time -f "%e %M" -o "$T/time" "$LABD" -c "$T/labd.conf" --once --plugin "$plugin" \
		--now "$(iso "$now")" -D "storage.fs.root=\"$data\"" "$@" 2>"$T/$name.log" ||
		{ tail "$T/$name.log" >&2; exit 1; }
	sleep 1
	t1=$(q "SELECT toUnixTimestamp(now())")
	q "SYSTEM FLUSH LOGS" >/dev/null 2>&1
	read -r wall rss <"$T/time"
	q "SELECT sum(query_duration_ms), count() FROM system.query_log
		WHERE type = 2 AND event_time BETWEEN toDateTime($t0) AND toDateTime($t1)
		AND query LIKE '$like' AND query NOT LIKE '%system.query_log%' FORMAT TabSeparated" >"$T/ch"
	read -r ms n <"$T/ch"
	figure "incremental_${name}_clickhouse" "$ms" ms
	figure "incremental_${name}_queries" "$n" queries
	figure "incremental_${name}_wall" "$wall" s
	figure "incremental_${name}_peak_rss" "$rss" kB
	echo "$ms" >"$T/$name.ms"
}
docs() { # docs DIR PREFIX: the documents, uncompressed
	(cd "$1" && find "$2" -name '*.json' | sort | while read -r k; do printf '%s\t%s\n' "$k" "$(gunzip -c <"$k")"; done)
}

for p in ${INCR_PLUGINS:-timings contributors}; do
	rm -rf "$T/data"
	run "${p}_first" $p $NOW1 "$T/data"
	cp -a "$T/data" "$T/data.full"
	run "${p}_hourly" $p $NOW2 "$T/data"
	run "${p}_full" $p $NOW2 "$T/data.full" -D "plugins.$p.full_interval=0s"
	if [ -n "${INCR_BASE_PLUGINS:-}" ]; then
		mv "$T/plugins" "$T/plugins.new"
		mkdir -p "$T/plugins" && cp "$INCR_BASE_PLUGINS/$p.so" "$T/plugins/" && chmod 755 "$T/plugins" && chmod 644 "$T/plugins/$p.so"
		run "${p}_today" $p $NOW2 "$T/data.today"
		rm -rf "$T/plugins"
		mv "$T/plugins.new" "$T/plugins"
	fi
	case $p in timings) pre=beacon_chain_timings ;; *) pre=xatu_public_contributors/countries ;; esac
	if docs "$T/data" "$pre" | cmp -s - "$(docs "$T/data.full" "$pre" >"$T/full.docs"; echo "$T/full.docs")"; then
		figure "incremental_${p}_documents_equal" 1 bool
	else
		figure "incremental_${p}_documents_equal" 0 bool
	fi
	# the cache's size in state, per window
	st=$(gunzip -c <"$T/data/state/modules/$p.json" 2>/dev/null || cat "$T/data/state/modules/$p.json")
	printf '%s' "$st" | python3 -c '
import json, sys
for k, v in sorted(json.load(sys.stdin).items()):
    if k.startswith("cache/"):
        print("incremental_%s_%s_cache_bytes %d bytes" % (sys.argv[1], k[6:].replace("/", "_"), len(json.dumps(v, separators=(",", ":")))))
' "$p"
done
ti=$(cat "$T/timings_hourly.ms") tf=$(cat "$T/timings_full.ms") t1=$(cat "$T/timings_first.ms")
ci=$(cat "$T/contributors_hourly.ms" 2>/dev/null || echo 0) cf=$(cat "$T/contributors_full.ms" 2>/dev/null || echo 0)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }
figure incremental_timings_full_over_hourly "$(ratio "$tf" "$ti")" x
figure incremental_contributors_full_over_hourly "$(ratio "$cf" "$ci")" x
figure incremental_timings_first_over_full "$(ratio "$t1" "$tf")" x
r=$(ratio "$tf" "$ti")
if awk -v r="$r" 'BEGIN { exit !(r >= 20) }'; then
	verdict incremental OK "timings hourly run $ti ms of ClickHouse time vs $tf ms full (${r}x, target >= 20x); first run $t1 ms; contributors countries+users $ci ms vs $cf ms ($(ratio "$cf" "$ci")x)"
else
	verdict incremental MISSED "timings hourly run $ti ms of ClickHouse time vs $tf ms full (${r}x, target >= 20x); first run $t1 ms; contributors $ci ms vs $cf ms"
fi
done_bench incremental
