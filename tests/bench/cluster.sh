#!/bin/sh
# Clustering throughput (issue 17, docs/cluster.md): serve-mode backfill of
# CLUSTER_BENCH_SLOTS generated slots (default 2000) by one daemon, then by
# three daemons (cluster.backend = "nats", each run with a fresh KV bucket
# prefix and an empty fs store), measured in this one run; target: three
# daemons >= 2.5 x one.
# ClickHouse is reached through tests/integration/relay.js --delay-ms 20,
# which holds every query 20 ms: on this 2-core machine, ClickHouse, the
# daemons and the test share the same cores, so without it the figure
# would measure ClickHouse's CPU, not the daemons' parallelism; the delay
# stands for a remote ClickHouse cluster (network round trips), where
# spreading the backfill over daemons is what pays.  Throughput = slots
# over the time from the first stored document to the last.
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" clickhouse,nats -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; cleanup' EXIT
N=${CLUSTER_BENCH_SLOTS:-2000}
DELAY=${CLUSTER_BENCH_DELAY_MS:-20}
GENESIS=1606824023
FROM=9000000
TO=$((FROM + N - 1))
LAG=3
NOW=$(date -u -d "@$((GENESIS + (TO + 301 + LAG) * 12 + 5))" +%Y-%m-%dT%H:%M:%SZ)
load_slots $FROM $TO
NDOCS=$(wc -l <"$T/want.slots")
start_relay "$CLICKHOUSE_URL" --delay-ms "$DELAY"
PIDS="$PIDS $RELAY_PID"
CH=$RELAY
stage_plugins
cat >"$T/labd.conf" <<CONF
log = { level = "warn"; };
admin = { listen = ""; };
plugin_dir = "$T/plugins";
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
clickhouse = { url = "$CH"; database = "default"; max_concurrency = 8; probe_interval = "0s"; };
broker = { backend = "nats"; nats = { url = "$NATS_URL"; }; };
cluster = { backend = "nats"; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
plugins = { beacon = { enabled = true; networks = { mainnet = { head_lag_slots = $LAG;
	backfill = { to_slot = $FROM; concurrency = 16; }; }; }; }; };
CONF
ndocs() { ls "$1/beacon/slots/mainnet" 2>/dev/null | grep -c '^[0-9]*\.json$'; }
# run K: K daemons into $T/dataK, KV prefix kK; prints the slots/s
run() {
	k=$1 root="$T/data$1" pids=""
	for i in $(seq 1 "$k"); do
		"$LABD" -c "$T/labd.conf" --now "$NOW" -D "storage.fs.root=\"$root\"" \
			-D "cluster.bucket_prefix=\"k$k\"" -D "cluster.node=\"n$i\"" 2>"$T/run$k.$i.log" &
		pids="$pids $!"
	done
	PIDS="$PIDS $pids"
	i=0
	while [ "$(ndocs "$root")" = 0 ]; do i=$((i + 1)); [ $i -lt 3000 ] || return 1; sleep 0.02; done
	t0=$(date +%s%N)
	while [ "$(ndocs "$root")" -lt "$NDOCS" ]; do i=$((i + 1)); [ $i -lt 30000 ] || return 1; sleep 0.02; done
	t1=$(date +%s%N)
	for p in $pids; do kill -TERM "$p"; done
	for p in $pids; do wait "$p"; done
	awk -v n="$N" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", n / (ns / 1e9) }'
}
one=$(run 1) || { echo "one daemon did not finish" >&2; exit 1; }
three=$(run 3) || { echo "three daemons did not finish" >&2; exit 1; }
ratio=$(awk -v a="$three" -v b="$one" 'BEGIN { printf "%.2f", a / b }')
figure cluster_backfill_1_daemon "$one" slots/s
figure cluster_backfill_3_daemons "$three" slots/s
figure cluster_backfill_ratio "$ratio" x
if awk -v r="$ratio" 'BEGIN { exit !(r >= 2.5) }'; then
	verdict cluster OK "3 daemons ${ratio}x one (target >= 2.5x; $N slots, ClickHouse behind a ${DELAY} ms relay)"
else
	verdict cluster MISSED "3 daemons ${ratio}x one (target >= 2.5x; $N slots, ClickHouse behind a ${DELAY} ms relay)"
fi
done_bench cluster
