#!/bin/sh
# Every SQL statement of the beacon, timings and contributors plugins on
# modern ClickHouse too (SPEC §11, docs/clickhouse.md "Portability"):
#   1. the Xatu test schema and xatu-gen data (mainnet for beacon/timings as in
#      their tests; sepolia with 42 clients, every hostile client name, and
#      holesky for contributors) are loaded into Debian's ClickHouse 18.16;
#   2. `labd --once --plugin P` runs each plugin against 18.16 through
#      tests/ch-capture-proxy.js, which records every request's final SQL
#      (bound values, the host's FORMAT clause) with the answer's row count
#      and a digest of its rows; each run must succeed;
#   3. tests/chdb-replay.js loads the same schema and generated files into
#      chdb (ClickHouse 26.x in-process, npm; tests/services/chdb.sh) and runs
#      each distinct captured statement there: any error, on either engine,
#      any row count or row set that differs from 18.16, or fewer statement
#      shapes than the plugin has (beacon 11, timings 2, contributors 4) fails.
# Skips (77) only when chdb is not installed (tests/services/install-deps.sh
# installs it).  Takes about 40 s, most of it beacon's --once and chdb's start.
if [ "${1:-}" != --inner ]; then
	: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
	why=$(sh "$top_srcdir/tests/services/chdb.sh" path 2>&1) || { echo "SKIP: $why"; exit 77; }
	exec "$top_srcdir/tests/services/with-services.sh" clickhouse -- "$0" --inner
fi
. "$top_srcdir/tests/integration/lib.sh"

CHDB=$(sh "$top_srcdir/tests/services/chdb.sh" path) || fail "chdb disappeared"
GEN="$top_builddir/tests/fixtures/xatu-gen"
[ -x "$GEN" ] || make -C "$top_builddir" tests/fixtures/xatu-gen >/dev/null || fail "cannot build xatu-gen"
PROXY_PID=""
trap '[ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null; cleanup' EXIT

q() { # q SQL > TSV
	curl -sS --fail --data-binary "$1" "$CLICKHOUSE_URL/?database=default" || fail "query: $1"
}

# ---- 1. schema and data on 18.16 --------------------------------------------------
GENESIS=1606824023 # mainnet, slots 9000000..9000199 (beacon.sh, timings.sh)
FROM=9000000
TO=9000199
CGENESIS=1700000000 # contributors.sh's networks, renamed sepolia/holesky
"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || fail "schema"
"$GEN" --network mainnet --genesis $GENESIS --from-slot $FROM --to-slot $TO --out "$T/gen1" >/dev/null || fail "xatu-gen mainnet"
"$GEN" --network sepolia --genesis $CGENESIS --from-slot 0 --to-slot 399 --clients 42 \
	--validators 256 --out "$T/gen2" >/dev/null || fail "xatu-gen sepolia"
"$GEN" --network holesky --genesis $((CGENESIS + 6)) --from-slot 200 --to-slot 399 --clients 12 \
	--validators 256 --seed 2 --out "$T/gen3" >/dev/null || fail "xatu-gen holesky"
for d in gen1 gen2 gen3; do
	"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/$d" >/dev/null || fail "load $d"
done
q "SELECT name FROM system.tables WHERE database = 'default' ORDER BY name FORMAT TabSeparated" >"$T/tables"
while read -r t; do
	printf '%s\t%s\n' "$t" "$(q "SELECT count() FROM $t FORMAT TabSeparated")"
done <"$T/tables" >"$T/counts"
[ "$(wc -l <"$T/counts")" -ge 13 ] || fail "expected the 13 Xatu tables, got: $(cat "$T/tables")"
pass "schema and 3 xatu-gen data sets loaded into ClickHouse $(q 'SELECT version() FORMAT TabSeparated')"

# ---- 2. every plugin's flow against 18.16, through the recording proxy ---------------
node "$top_srcdir/tests/ch-capture-proxy.js" "$CLICKHOUSE_URL" "$T/capture.jsonl" >"$T/proxy.out" 2>&1 &
PROXY_PID=$!
wait_for 'grep -q "^listening" "$T/proxy.out"' || { cat "$T/proxy.out" >&2; fail "capture proxy did not start"; }
PROXY_URL="http://127.0.0.1:$(sed -n 's/^listening //p' "$T/proxy.out")"

stage_plugins
for p in beacon timings contributors; do
	[ -f "$T/plugins/$p.so" ] || fail "$p.so was not built"
done
cat >"$T/labd.conf" <<CONF
log = { level = "info"; format = "logfmt"; };
admin = { listen = ""; };
plugin_dir = "$T/plugins";
state = { flush_interval = "1s"; };
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
clickhouse = { url = "$PROXY_URL"; database = "default"; max_concurrency = 8; };
broker = { backend = "local"; };
ethereum = { networks = (
	{ name = "mainnet"; genesis_time = $GENESIS; config_file = "$top_srcdir/etc/networks/mainnet.yaml";
	  validator_set = ( { range = "0-99"; entity = "cfg-entity"; } ); },
	{ name = "sepolia"; genesis_time = 1655733600; config_file = "$top_srcdir/etc/networks/sepolia.yaml"; },
	{ name = "holesky"; genesis_time = 1695902400; config_file = "$top_srcdir/etc/networks/holesky.yaml"; } ); };
plugins = {
	beacon = { enabled = true;
		networks = { mainnet = { head_lag_slots = 3;
			backfill = { to_slot = $FROM; concurrency = 16; }; }; }; };
	timings = { enabled = true; interval = "1h";
		networks = [ "mainnet", "sepolia", "holesky" ];
		time_windows = (
			{ file = "edge"; step = "5m"; label = "Edge"; range = "-20m"; },
			{ file = "all"; step = "1h"; label = "All"; range = "-1h"; } ); };
	contributors = { enabled = true;
		networks = [ "mainnet", "sepolia", "holesky" ];
		time_windows = (
			{ file = "last_1h"; step = "10m"; label = "Last 1h"; range = "-1h"; },
			{ file = "last_2h"; step = "1h"; label = "Last 2h"; range = "-2h"; } ); };
};
CONF
"$LABD" -t -c "$T/labd.conf" >"$T/t.log" 2>&1 || { cat "$T/t.log" >&2; fail "labd -t rejects the test config"; }

once() { # once PLUGIN NOW_UNIX: labd --once, its statements into $T/PLUGIN.jsonl
	n0=$(wc -l <"$T/capture.jsonl")
	now=$(date -u -d "@$2" +%Y-%m-%dT%H:%M:%SZ)
	"$LABD" -c "$T/labd.conf" --once --plugin "$1" --now "$now" 2>"$T/labd.log" ||
		fail "labd --once --plugin $1 --now $now failed on 18.16"
	tail -n +$((n0 + 1)) "$T/capture.jsonl" >"$T/$1.jsonl"
	[ -s "$T/$1.jsonl" ] || fail "$1 sent no statement"
	cp "$T/labd.log" "$T/labd.$1.log"
}
once beacon $((GENESIS + (TO + 3) * 12 + 5))      # head = TO, backfill down to FROM
once timings $((GENESIS + 9000150 * 12))          # as timings.sh
once contributors $((CGENESIS + 400 * 12))        # as contributors.sh
[ "$(find "$T/data" -type f -name '*.json' | wc -l)" -gt 200 ] || fail "the runs stored too few documents to mean anything"
pass "labd --once of beacon, timings, contributors succeed on 18.16 ($(wc -l <"$T/beacon.jsonl") + $(wc -l <"$T/timings.jsonl") + $(wc -l <"$T/contributors.jsonl") statements captured)"

# ---- 3. the same statements on modern ClickHouse (chdb) --------------------------------
t0=$(date +%s)
node "$top_srcdir/tests/chdb-replay.js" --chdb "$CHDB" --schema "$top_srcdir/tests/fixtures/xatu-schema.sql" \
	--db-dir "$T/chdb" --data "$T/gen1" --data "$T/gen2" --data "$T/gen3" --counts "$T/counts" \
	--capture beacon="$T/beacon.jsonl" --capture timings="$T/timings.jsonl" \
	--capture contributors="$T/contributors.jsonl" \
	--min-templates beacon=11 --min-templates timings=2 --min-templates contributors=4 >"$T/replay.out" 2>&1
rc=$?
sed 's/^/  /' "$T/replay.out"
[ $rc = 0 ] || fail "plugin SQL does not run the same on modern ClickHouse (chdb); see above"
pass "every plugin statement runs on chdb $(sh "$top_srcdir/tests/services/chdb.sh" version) with 18.16's row counts and rows ($(($(date +%s) - t0)) s)"
