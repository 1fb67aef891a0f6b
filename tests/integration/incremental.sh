#!/bin/sh
# Incremental windows (issue 18): the bucket cache of timings and
# contributors gives the documents of a full recompute, against a real
# ClickHouse 18.16 and NATS:
#   1. run 1 (`--once`, empty cache: whole windows) on generated mainnet
#      data; then an hour of new data, late rows inside the settle margin
#      (slots run 1 saw as unstable) and ReplacingMergeTree duplicates (in
#      cached and in fresh buckets); run 2 (`--once`, a new process: the
#      cache comes from state) asks ClickHouse only for the first and the
#      unstable buckets, run 3 is a full recompute at the same --now into a
#      copy of the store: byte-identical documents, no mismatch logged;
#   2. serve mode on run 1's store: the first pass (incremental) writes the
#      same documents; after a hot reload (POST /plugins/NAME/reload) a run
#      request reads the cache the old instance left and writes them again;
#      lab.NAME.run with {"full":true} forces a full recompute;
#   3. a row that arrives after its bucket settled is not in the next
#      incremental document, is found by the next full recompute (logged at
#      warn, counted in the cache's "mismatches") and is in its document;
#   4. another window step drops the cache (fingerprint): a full recompute.
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse,nats -- "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"

GEN="$top_builddir/tests/fixtures/xatu-gen"
SUB="$top_builddir/tests/nats-sub"
[ -x "$GEN" ] || make -C "$top_builddir" tests/fixtures/xatu-gen >/dev/null || fail "cannot build xatu-gen"
[ -x "$SUB" ] || make -C "$top_builddir" tests/nats-sub >/dev/null 2>&1 || fail "cannot build nats-sub"

GENESIS=1606824023
S0=9000000
HOUR=300 # slots
S1=$((S0 + 9 * HOUR)) # run 1 at the start of S1 (9 h of data before it)
S2=$((S1 + HOUR))     # run 2 an hour later
T1=$((GENESIS + S1 * 12))
T2=$((GENESIS + S2 * 12))
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

q() { # q SQL > TSV
	curl -sS --fail --data-binary "$1" "$CLICKHOUSE_URL/?database=default" || fail "query: $1"
}
gen() { # gen FROM TO [SEED]
	rm -rf "$T/gen"
	"$GEN" --network mainnet --genesis $GENESIS --from-slot "$1" --to-slot "$2" --seed "${3:-1}" \
		--out "$T/gen" >/dev/null || fail "xatu-gen"
	"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >/dev/null || fail "load"
}
"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || fail "schema"
gen $S0 $((S1 - 1))

stage_plugins
for p in timings contributors; do [ -f "$T/plugins/$p.so" ] || fail "$p.so was not built"; done
find "$T/plugins" -name '*.so' ! -name timings.so ! -name contributors.so -exec rm -f {} +
# timings: 1 h buckets over 8 h and 20 min buckets over 3 h (whose first
# bucket starts on a boundary); contributors: 1 h and 20 min buckets.
conf() { # conf DATA_DIR [STEP_OF_W1H]
	cat <<CONF
log = { level = "debug"; format = "logfmt"; };
admin = { listen = "127.0.0.1:0"; };
plugin_dir = "$T/plugins";
state = { flush_interval = "1s"; };
storage = { backend = "fs"; fs = { root = "$1"; }; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; };
broker = { backend = "nats"; nats = { url = "$NATS_URL"; }; subject_prefix = "lab"; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
plugins = {
	timings = { enabled = true; networks = [ "mainnet" ]; settle_margin = "30m";
		time_windows = ( { file = "w1h"; step = "${2:-1h}"; label = "8h"; range = "-8h"; },
			{ file = "w20m"; step = "20m"; label = "3h"; range = "-3h"; } ); };
	contributors = { enabled = true; networks = [ "mainnet" ]; settle_margin = "30m";
		time_windows = ( { file = "w1h"; step = "${2:-1h}"; label = "8h"; range = "-8h"; },
			{ file = "w20m"; step = "20m"; label = "3h"; range = "-3h"; } ); };
};
CONF
}
conf "$T/data" >"$T/labd.conf"
"$LABD" -t -c "$T/labd.conf" >"$T/t.log" 2>&1 || { cat "$T/t.log" >&2; fail "labd -t"; }

once() { # once DATA_DIR NOW LOG [ARGS...]
	d=$1 now=$2 log=$3
	shift 3
	conf "$d" >"$T/once.conf"
	"$LABD" -c "$T/once.conf" --once --now "$(iso "$now")" "$@" 2>"$log" ||
		{ tail -n 30 "$log" >&2; fail "labd --once ($log)"; }
}
# docs DATA_DIR OUT: every document, uncompressed, one "KEY<TAB>BODY" line each
docs() {
	(cd "$1" && find beacon_chain_timings xatu_public_contributors -name '*.json' ! -path '*/user-summaries/*' ! -name summary.json | sort |
		while read -r k; do printf '%s\t%s\n' "$k" "$(gunzip -c <"$k")"; done) >"$2"
}
state() { # state DATA_DIR PLUGIN: the plugin's state document
	gunzip -c <"$1/state/modules/$2.json" 2>/dev/null || cat "$1/state/modules/$2.json"
}

# ---- 1. run 1; new data; incremental run 2 = full run 3 ---------------------------
once "$T/data" $T1 "$T/run1.log"
grep -q 'msg="timings document stored".* incremental=0' "$T/run1.log" || fail "run 1 was not a whole-window run"
grep -q 'msg="timings document stored".* incremental=1' "$T/run1.log" && fail "run 1 used a cache it cannot have"
state "$T/data" timings | grep -q '"cache/block_timings/mainnet/w1h":{"v":1' || { state "$T/data" timings >&2; fail "no bucket cache in state"; }
cp -a "$T/data" "$T/data1"

gen $S1 $((S2 - 1))
# late rows inside the margin: events of slots run 1 saw in its unstable
# buckets (the last 30 min before T1), from a client run 1 did not see, with
# an arrival earlier than any (changes min, the quantiles and size_cdf)
L=$((S1 - 100))
q "INSERT INTO beacon_api_eth_v1_events_block (updated_date_time, slot, slot_start_date_time, propagation_slot_start_diff, meta_client_name, meta_network_name)
SELECT updated_date_time, slot, slot_start_date_time, 1 + slot % 7, 'late-client/zz/n1', meta_network_name
FROM beacon_api_eth_v1_events_block FINAL WHERE slot BETWEEN $L AND $((S1 - 1)) AND meta_network_name = 'mainnet' LIMIT 1 BY slot" >/dev/null
# duplicates (same sort key and version): in cached buckets and in fresh ones
for t in beacon_api_eth_v1_events_block canonical_beacon_block canonical_beacon_blob_sidecar mev_relay_proposer_payload_delivered; do
	q "INSERT INTO $t SELECT * FROM $t WHERE slot BETWEEN $((S0 + 2 * HOUR)) AND $((S1 + 20)) AND meta_network_name = 'mainnet'" >/dev/null
done
n=$(q "SELECT count() FROM beacon_api_eth_v1_events_block WHERE meta_client_name = 'late-client/zz/n1'")
[ "$n" -ge 90 ] || fail "only $n late rows"

cp -a "$T/data" "$T/full"
once "$T/data" $T2 "$T/run2.log"
[ "$(grep -c 'msg="timings document stored".* incremental=1' "$T/run2.log")" = 4 ] ||
	{ grep 'document stored' "$T/run2.log" >&2; fail "run 2: not 4 incremental timings jobs"; }
once "$T/full" $T2 "$T/run3.log" -D plugins.timings.full_interval=0s -D plugins.contributors.full_interval=0s
grep -q 'msg="timings document stored".* incremental=1' "$T/run3.log" && fail "run 3 (full_interval 0s) used the cache"
docs "$T/data" "$T/d.inc"
docs "$T/full" "$T/d.full"
[ "$(wc -l <"$T/d.full")" -ge 8 ] || { cat "$T/d.full" >&2; fail "too few documents"; }
cmp -s "$T/d.inc" "$T/d.full" || { diff "$T/d.inc" "$T/d.full" | cut -c1-300 >&2; fail "incremental documents differ from the full recompute"; }
grep -q "differs from cached" "$T/run3.log" && { grep "differs from cached" "$T/run3.log" >&2; fail "full run 3 found mismatches"; }
docs "$T/data1" "$T/d.run1"
cmp -s "$T/d.run1" "$T/d.inc" && fail "the new hour changed no document"
grep '^xatu_public_contributors/users/mainnet/w20m.json' "$T/d.inc" | grep -q '"name":"zz","nodes":1' ||
	fail "the late rows (inside the margin at run 1) are not in run 2's users document"
pass "incremental run 2 (new hour, late rows inside the margin, duplicates; cache read after a restart) = full recompute at the same --now, byte for byte"

# ---- 2. serve: first pass, hot reload, {"full":true} --------------------------------
wait_long() { wait_for "$1" 1200; } # up to 60 s
cnt() { grep -c "$1" "$T/labd.log"; }
cp -a "$T/data1" "$T/serve"
conf "$T/serve" >"$T/labd.conf"
start_labd --now "$(iso $T2)"
wait_long '[ "$(cnt "msg=\"timings document stored\".* incremental=1")" = 4 ] && [ "$(cnt "msg=\"window computed\".* incremental=1")" = 4 ] && [ "$(cnt "processor=user_summaries")" -ge 1 ]' ||
	fail "serve: the first pass did not run 8 incremental windows"
wait_long '[ "$(cnt "msg=\"pass finished\"")" -ge 2 ]' || fail "serve: passes did not finish"
docs "$T/serve" "$T/d.serve"
cmp -s "$T/d.serve" "$T/d.full" || { diff "$T/d.serve" "$T/d.full" | cut -c1-300 >&2; fail "serve: first pass differs from the full recompute"; }
for p in timings contributors; do
	http POST /plugins/$p/reload
	[ "$CODE" = 200 ] || [ "$CODE" = 202 ] || fail "POST /plugins/$p/reload: $CODE $BODY"
done
wait_long '[ "$(cnt "msg=\"plugin reloaded\"")" -ge 2 ] || [ "$(cnt "generation=2")" -ge 2 ]' || fail "serve: no hot reload"
find "$T/serve/beacon_chain_timings" "$T/serve/xatu_public_contributors" -name '*.json' -delete
for p in timings contributors; do
	wait_long 'http POST /plugins/'$p'/run; [ "$CODE" = 200 ] || [ "$CODE" = 202 ] || [ "$CODE" = 204 ]' || fail "POST /plugins/$p/run: $CODE $BODY"
done
wait_long '[ "$(cnt "msg=\"timings document stored\".* incremental=1")" = 8 ] && [ "$(cnt "msg=\"window computed\".* incremental=1")" = 8 ] && [ -f "$T/serve/xatu_public_contributors/users/mainnet/w20m.json" ]' ||
	fail "serve: the run after the hot reload did not use the cache the old instance left"
sleep 1
docs "$T/serve" "$T/d.serve"
cmp -s "$T/d.serve" "$T/d.full" || { diff "$T/d.serve" "$T/d.full" | cut -c1-300 >&2; fail "serve: after the hot reload the documents differ from the full recompute"; }
pass "serve: the first pass and a run after a hot reload (cache from the old instance) give the full recompute's documents"
# timings through the admin API (labctl publish, as docs/plugins/timings.md
# says), contributors from outside over NATS
out=$(sh "$top_srcdir/tools/labctl" -a "127.0.0.1:$PORT" publish timings.run '{"full":true}' 2>&1) ||
	fail "labctl publish timings.run: $out"
"$SUB" pub "$NATS_URL" "lab.contributors.run" '{"full":true}' || fail "publish lab.contributors.run"
wait_long '[ "$(cnt "full recompute requested")" = 2 ] && [ "$(cnt "msg=\"timings document stored\".* incremental=0")" -ge 4 ] && [ "$(cnt "msg=\"window computed\".* incremental=0")" -ge 4 ]' ||
	fail "lab.NAME.run {\"full\":true} did not recompute every window in full"
stop_labd
docs "$T/serve" "$T/d.serve"
cmp -s "$T/d.serve" "$T/d.full" || fail "serve: the requested full recompute differs"
grep -q "differs from cached" "$T/labd.log" && fail "serve: mismatches found"
pass "serve: lab.timings.run / lab.contributors.run with {\"full\":true} recompute every window in full"

# ---- 3. a row after its bucket settled: next full recompute -----------------------------
V=$((S0 + 5 * HOUR))
q "INSERT INTO beacon_api_eth_v1_events_block (updated_date_time, slot, slot_start_date_time, propagation_slot_start_diff, meta_client_name, meta_network_name)
SELECT updated_date_time, slot, slot_start_date_time, 2, 'very-late/yy/n1', meta_network_name
FROM beacon_api_eth_v1_events_block FINAL WHERE slot = $V AND meta_network_name = 'mainnet' LIMIT 1" >/dev/null
once "$T/data" $T2 "$T/run4.log"
docs "$T/data" "$T/d.4"
cmp -s "$T/d.4" "$T/d.inc" || fail "an incremental run saw a row in a settled bucket"
once "$T/data" $T2 "$T/run5.log" -D plugins.timings.full_interval=0s -D plugins.contributors.full_interval=0s
grep -q 'plugin=timings msg="full recompute differs from cached buckets; fresh result kept" key=cache/block_timings/mainnet/w1h buckets=1 ' "$T/run5.log" ||
	{ grep differs "$T/run5.log" >&2; fail "no block_timings mismatch logged"; }
grep -q 'plugin=contributors msg="full recompute differs from cached buckets; fresh result kept" key=cache/users/w1h buckets=1 ' "$T/run5.log" ||
	{ grep differs "$T/run5.log" >&2; fail "no users mismatch logged"; }
state "$T/data" timings | grep -q '"cache/block_timings/mainnet/w1h":{"v":1,[^}]*"mismatches":1,' || fail "mismatches not counted in state"
docs "$T/data" "$T/d.5"
grep '^xatu_public_contributors/users/mainnet/w1h.json' "$T/d.5" | grep -q '"name":"yy","nodes":1' || fail "the full recompute lacks the late row"
pass "a row after its bucket settled: not in the incremental document, found by the full recompute (logged, counted in state)"

# ---- 4. another step drops the cache ------------------------------------------------------
conf "$T/data" 2h >"$T/once.conf"
"$LABD" -c "$T/once.conf" --once --now "$(iso $T2)" 2>"$T/run6.log" || fail "run 6"
grep -q 'msg="bucket cache dropped; full recompute" key=cache/block_timings/mainnet/w1h reason=fingerprint' "$T/run6.log" ||
	fail "a new step did not drop the timings cache"
grep -q 'msg="bucket cache dropped; full recompute" key=cache/users/w1h reason=fingerprint' "$T/run6.log" ||
	fail "a new step did not drop the contributors cache"
pass "a changed window step drops the cache (full recompute)"
