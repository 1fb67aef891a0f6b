#!/bin/sh
# Scaling: wall time, labd CPU and peak RSS of `labd --once` for the timings
# and contributors plugins as the generated data grows x1, x4, x16
# (SCALING_SLOTS slots at x1, default 400: 12,000 block events, 16 x that at
# x16).  One window covers all the data, so every row is read.  Each size is
# run twice and the faster run counts (the first warms ClickHouse's caches).
# Target: cost linear in rows (issue 9: no quadratic joins) — the wall-time
# ratio x16/x1 at most 24 (16 x 1.5), and peak RSS not growing with the data
# beyond 25 %.  Only the tables the two plugins read are loaded.
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" clickhouse -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
N=${SCALING_SLOTS:-400}
GENESIS=1606824023
FROM=9000000
TO=$((FROM + 16 * N - 1))
# now = just after the last slot; the window reaches back over all 16 N slots
NOW=$(date -u -d "@$((GENESIS + (TO + 1) * 12))" +%Y-%m-%dT%H:%M:%SZ)
HOURS=$(((16 * N * 12 + 3599) / 3600 + 1))
"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || exit 1
stage_plugins
cat >"$T/labd.conf" <<CONF
log = { level = "warn"; };
admin = { listen = ""; };
plugin_dir = "$T/plugins";
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
broker = { backend = "local"; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
plugins = {
	timings = { enabled = true; networks = [ "mainnet" ];
		time_windows = ( { file = "all"; step = "1h"; label = "All"; range = "-${HOURS}h"; } ); };
	contributors = { enabled = true; networks = [ "mainnet" ];
		time_windows = ( { file = "all"; step = "1h"; label = "All"; range = "-${HOURS}h"; } ); };
};
CONF
q() { curl -sS --data-binary "$1" "$CLICKHOUSE_URL/?database=default"; }
# add FROM TO: generate and load slots FROM..TO (the tables the plugins read)
add() {
	rm -rf "$T/gen"
	"$top_builddir/tests/fixtures/xatu-gen" --network mainnet --genesis $GENESIS --from-slot "$1" \
		--to-slot "$2" --out "$T/gen" >/dev/null || exit 1
	for f in "$T/gen"/*.tsv; do
		case $(basename "$f" .tsv) in
		beacon_api_eth_v1_events_block | canonical_beacon_block | canonical_beacon_blob_sidecar | \
			mev_relay_proposer_payload_delivered | ethseer_validator_entity) ;;
		*) rm -f "$f" ;;
		esac
	done
	"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >/dev/null || exit 1
	rm -rf "$T/gen"
}
# measure PLUGIN X: best of two --once runs; prints "wall cpu_ms peak_kB"
measure() {
	best=""
	for _ in 1 2; do
		rm -rf "$T/data"
		/usr/bin/time -f "%e %U %S %M" -o "$T/time" "$LABD" -c "$T/labd.conf" --once --plugin "$1" \
			--now "$NOW" 2>"$T/labd.log" || { tail "$T/labd.log" >&2; exit 1; }
		read -r w u s m <"$T/time"
		line=$(awk -v w="$w" -v u="$u" -v s="$s" -v m="$m" 'BEGIN { printf "%.2f %.0f %d", w, (u + s) * 1000, m }')
		if [ -z "$best" ] || awk -v a="$w" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then best=$line; fi
	done
	echo "$best"
}
: >"$T/res"
add $FROM $((FROM + N - 1))
for x in 1 4 16; do
	if [ $x = 4 ]; then add $((FROM + N)) $((FROM + 4 * N - 1)); fi
	if [ $x = 16 ]; then add $((FROM + 4 * N)) $TO; fi
	rows=$(q "SELECT count() FROM beacon_api_eth_v1_events_block")
	figure "scaling_x${x}_block_events" "$rows" rows
	for p in timings contributors; do
		set -- $(measure $p)
		[ $# = 3 ] || { echo "$p --once failed at x$x" >&2; exit 1; }
		figure "scaling_${p}_x${x}_wall" "$1" s
		figure "scaling_${p}_x${x}_labd_cpu" "$2" ms
		figure "scaling_${p}_x${x}_peak_rss" "$3" kB
		echo "$p $x $1 $2 $3" >>"$T/res"
	done
done
ok=1
msg=""
for p in timings contributors; do
	r=$(awk -v p=$p '$1 == p { w[$2] = $3; c[$2] = $4; m[$2] = $5 }
		END { printf "%.1f %.1f %.1f %.2f", w[16] / w[1], w[4] / w[1], c[16] / (c[1] ? c[1] : 1), m[16] / m[1] }' "$T/res")
	set -- $r
	figure "scaling_${p}_wall_ratio_x4" "$2" x
	figure "scaling_${p}_wall_ratio_x16" "$1" x
	figure "scaling_${p}_cpu_ratio_x16" "$3" x
	figure "scaling_${p}_rss_ratio_x16" "$4" x
	awk -v a="$1" -v m="$4" 'BEGIN { exit !(a <= 24 && m <= 1.25) }' || ok=0
	msg="$msg $p: x16 data -> ${1}x time, ${4}x peak RSS;"
done
if [ $ok = 1 ]; then
	verdict scaling OK "cost grows at most linearly:$msg (limits 24x time, 1.25x RSS)"
else
	verdict scaling MISSED "cost grows faster than linearly:$msg (limits 24x time, 1.25x RSS)"
fi
done_bench scaling
