#!/bin/sh
# Log volume (issue 20, finding 2): labd as a service at log.level = "info"
# with the shipped plugin set (beacon, timings, contributors) for
# LOGVOL_SECONDS (default 600) on the real clock, following the head of
# generated mainnet data, while the beacon backfill walks LOGVOL_EMPTY
# (default 20000) slots that have no data at all below it (what a fresh
# deployment sees on a Xatu database that does not reach back to its
# target: every one of those slots is recorded as missed).
# Prints the lines written per minute, the bytes, and the five most frequent
# messages.  A healthy daemon should write a few lines per minute.
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" clickhouse -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
SECS=${LOGVOL_SECONDS:-600}
EMPTY=${LOGVOL_EMPTY:-20000}
GENESIS=1606824023
CUR=$((($(date +%s) - GENESIS) / 12))
# Data for the hour before now and for the slots the run will reach, so the
# head finds a block in every slot (as on a healthy Xatu).
FROM=$((CUR - 300))
TO=$((CUR + SECS / 12 + 10))
load_xatu $FROM $TO
stage_plugins
find "$T/plugins" -name '*.so' ! -name beacon.so ! -name timings.so ! -name contributors.so \
	-exec rm -f {} +
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
	beacon = { networks = { mainnet = { backfill = { to_slot = $((FROM - EMPTY)); }; }; }; };
	timings = { networks = [ "mainnet" ]; };
	contributors = { networks = [ "mainnet" ];
		time_windows = ( { file = "last_1h"; step = "10m"; label = "Last 1h"; range = "-1h"; } ); };
};
CONF
"$LABD" -t -c "$T/labd.conf" >"$T/t.log" 2>&1 || { cat "$T/t.log" >&2; exit 1; }
start_labd
sleep "$SECS"
stop_labd
lines=$(wc -l <"$T/labd.log")
bytes=$(wc -c <"$T/labd.log")
per_min=$(awk -v l="$lines" -v s="$SECS" 'BEGIN { printf "%.1f", l * 60 / s }')
# Without the first minute (start-up lines, the backfill's first burst).
late=$(awk -v t0="$(date -u -d "@$(( $(stat -c %Y "$T/t.log") + 60 ))" +%Y-%m-%dT%H:%M:%S)" \
	'{ ts = $1; sub(/^ts=/, "", ts); if (substr(ts, 1, 19) >= t0) n++ } END { print n + 0 }' "$T/labd.log")
late_per_min=$(awk -v l="$late" -v s="$SECS" 'BEGIN { printf "%.1f", (s > 60 ? l * 60 / (s - 60) : 0) }')
stored=$(find "$T/data/beacon" -name '*.json' ! -path '*/.lab-meta/*' 2>/dev/null | wc -l)
figure log_volume_seconds "$SECS" s
figure log_volume_lines "$lines" lines
figure log_volume_bytes "$bytes" bytes
figure log_volume_lines_per_minute "$per_min" lines/min
figure log_volume_lines_per_minute_after_first "$late_per_min" lines/min
figure log_volume_beacon_documents "$stored" documents
echo "most frequent messages (count, level, msg):"
sed -n 's/.* level=\([a-z]*\) .*msg="\([^"]*\)".*/\1 \2/p' "$T/labd.log" | sort | uniq -c |
	sort -rn | head -n 5 | sed 's/^/  /'
if awk -v m="$late_per_min" 'BEGIN { exit !(m <= 10) }'; then
	verdict log-volume OK "$late_per_min lines/min at info after the first minute (target <= 10), $lines lines in $SECS s"
else
	verdict log-volume MISSED "$late_per_min lines/min at info after the first minute (target <= 10), $lines lines in $SECS s"
fi
done_bench log-volume
