#!/bin/sh
# Integration test of the timings plugin (issue 4) against a real ClickHouse
# 18.16 and a real NATS server:
#   0. configuration errors (duplicate window file, bad duration, unknown
#      network, non-negative range, unsafe file name) name file:line;
#   1. `labd --once --plugin timings --now T` on generated mainnet data, on
#      hand-made sepolia rows and on an empty holesky writes all 12 documents
#      (2 kinds x 3 networks x 2 windows), gzip with the right headers, and
#      publishes lab.timings.updated for each;
#   2. block_timings equals what awk computes from the raw FINAL rows
#      (bucketing, inclusive window edges, the < 6000 filter, min/max/avg,
#      ClickHouse's interpolated quantiles, counts);
#   3. size_cdf of mainnet equals what awk computes from the generator's
#      manifest alone (no SQL): canonical size + blobs, arrival = FINAL minimum,
#      MEV, solo stakers, NULL sizes, slots without events, half-to-even;
#   4. size_cdf/block_timings of sepolia equal literal documents worked out
#      by hand (edges, .5 buckets and means rounded to even, a slot MEV-listed
#      twice, blob bytes, an entity replaced under FINAL, an entity of another
#      network), and holesky's documents are empty;
#   5. state holds last_processed["NETWORK/WINDOW"] as ISO-8601 UTC;
#   6. serve mode: a failing size_cdf does not stop block_timings and is
#      retried at the next tick (not after `interval`); POST /plugins/timings/run
#      runs every job again.
# Takes about 15 s.
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse,nats -- "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"

CHECK="$top_builddir/tests/timings-check"
GEN="$top_builddir/tests/fixtures/xatu-gen"
SUB="$top_builddir/tests/nats-sub"
[ -x "$CHECK" ] || make -C "$top_builddir" tests/timings-check >/dev/null || fail "cannot build tests/timings-check"
[ -x "$GEN" ] || make -C "$top_builddir" tests/fixtures/xatu-gen >/dev/null || fail "cannot build xatu-gen"
[ -x "$SUB" ] || make -C "$top_builddir" tests/nats-sub >/dev/null 2>&1

GENESIS=1606824023
FROM=9000000
TO=9000199
# now = the start of slot 9000150: the "edge" window (-1200 s) starts exactly
# at the start of slot 9000050, so both edge slots are on the boundary.
NOW_UNIX=$((GENESIS + 9000150 * 12))
NOW=$(date -u -d "@$NOW_UNIX" +%Y-%m-%dT%H:%M:%SZ)
EDGE_STEP=300
EDGE_RANGE=1200
ALL_STEP=3600
ALL_RANGE=3600

q() { # q SQL > TSV
	curl -sS --fail --data-binary "$1" "$CLICKHOUSE_URL/?database=default" || fail "query: $1"
}

"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || fail "schema"
"$GEN" --network mainnet --genesis $GENESIS --from-slot $FROM --to-slot $TO --out "$T/gen" >/dev/null || fail "xatu-gen"
"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >/dev/null || fail "load"
M="$T/gen/manifest"

# Hand-made sepolia rows (times relative to now; see section 4 for what each is for).
N=$NOW_UNIX
ev() { # ev SLOT TIME CLIENT DIFF UPDATED
	echo "($5, $1, $2, $4, '$3', 'sepolia')"
}
q "INSERT INTO beacon_api_eth_v1_events_block (updated_date_time, slot, slot_start_date_time, propagation_slot_start_diff, meta_client_name, meta_network_name) VALUES
$(ev 101 $((N - 1200)) a 900 1000), $(ev 101 $((N - 1200)) a 1001 2000), $(ev 101 $((N - 1200)) b 1500 2000),
$(ev 102 $((N - 1201)) a 800 2000),
$(ev 103 $((N - 600)) a 1002 2000), $(ev 103 $((N - 600)) b 7000 2000),
$(ev 104 $((N - 300)) a 700 2000), $(ev 104 $((N - 300)) b 6000 2000),
$(ev 105 $((N - 120)) a 5 2000),
$(ev 107 $N a 3001 2000), $(ev 107 $N b 5999 2000),
$(ev 108 $((N + 1)) a 9 2000)" >/dev/null
cb() { # cb SLOT TIME SIZE PROPOSER
	echo "(2000, $1, $2, $3, $4, 'sepolia')"
}
q "INSERT INTO canonical_beacon_block (updated_date_time, slot, slot_start_date_time, block_total_bytes_compressed, proposer_index, meta_network_name) VALUES
$(cb 101 $((N - 1200)) 49152 11), $(cb 102 $((N - 1201)) 16384 12), $(cb 103 $((N - 600)) 81920 13),
$(cb 104 $((N - 300)) 16384 11), $(cb 105 $((N - 120)) NULL 11), $(cb 106 $((N - 60)) 100 11),
$(cb 107 $N 0 11), $(cb 108 $((N + 1)) 32768 11)" >/dev/null
q "INSERT INTO canonical_beacon_blob_sidecar (updated_date_time, slot, slot_start_date_time, blob_index, meta_network_name) VALUES
(2000, 104, $((N - 300)), 0, 'sepolia')" >/dev/null
q "INSERT INTO mev_relay_proposer_payload_delivered (updated_date_time, slot, slot_start_date_time, relay_name, meta_network_name) VALUES
(2000, 102, $((N - 1201)), 'relay-a', 'sepolia'), (2000, 102, $((N - 1201)), 'relay-b', 'sepolia'),
(1000, 104, $((N - 300)), 'relay-a', 'sepolia'), (2000, 104, $((N - 300)), 'relay-a', 'sepolia')" >/dev/null
q "INSERT INTO ethseer_validator_entity (updated_date_time, \`index\`, pubkey, entity, meta_network_name) VALUES
(1000, 11, 'pk11', 'lido', 'sepolia'), (2000, 11, 'pk11', 'solo_stakers', 'sepolia'),
(2000, 12, 'pk12', 'lido', 'sepolia'), (2000, 13, 'pk13', 'solo_stakers', 'holesky')" >/dev/null

stage_plugins
[ -f "$T/plugins/timings.so" ] || fail "timings.so was not built"
WINDOWS='{ file = "edge"; step = "5m"; label = "Edge"; range = "-20m"; },
			{ file = "all"; step = "1h"; label = "All"; range = "-1h"; }'
NETS='"mainnet", "sepolia", "holesky"'
conf() { # conf DATA_DIR BROKER INTERVAL [WINDOWS [NETWORKS]]
	cat <<CONF
log = { level = "info"; format = "logfmt"; };
admin = { listen = "127.0.0.1:0"; };
plugin_dir = "$T/plugins";
state = { flush_interval = "1s"; };
storage = { backend = "fs"; fs = { root = "$1"; }; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; };
broker = $2;
ethereum = { networks = (
	{ name = "mainnet"; genesis_time = $GENESIS; config_file = "$top_srcdir/etc/networks/mainnet.yaml"; },
	{ name = "sepolia"; genesis_time = 1655733600; config_file = "$top_srcdir/etc/networks/sepolia.yaml"; },
	{ name = "holesky"; genesis_time = 1695902400; config_file = "$top_srcdir/etc/networks/holesky.yaml"; } ); };
plugins = {
	timings = {
		enabled = true;
		interval = "$3";
		networks = [ ${5:-$NETS} ];
		time_windows = (
			${4:-$WINDOWS}
		);
	};
};
CONF
}
BROKER='{ backend = "local"; }'
[ -x "$SUB" ] && BROKER="{ backend = \"nats\"; nats = { url = \"$NATS_URL\"; }; subject_prefix = \"lab\"; }"
conf "$T/data" "$BROKER" 1h >"$T/labd.conf"

# ---- 0. configuration errors name file:line ----------------------------------
# Each variant changes one thing of the valid configuration; the error must
# name the file and a line (the host's for types, the plugin's for the rest).
bad() { # bad WHAT WINDOWS [NETWORKS] [INTERVAL]
	conf "$T/data" "$BROKER" "${4:-1h}" "$2" "${3:-}" >"$T/bad.conf"
	if "$LABD" -t -c "$T/bad.conf" >"$T/t.log" 2>&1; then fail "labd -t accepted $1"; fi
	grep -q "bad.conf:[0-9][0-9]*: .*$1" "$T/t.log" || { cat "$T/t.log" >&2; fail "no file:line error for $1"; }
}
bad "duplicate window file" '{ file = "a"; step = "1h"; label = "A"; range = "-1h"; }, { file = "a"; step = "1h"; label = "B"; range = "-2h"; }'
bad "duration" '{ file = "a"; step = "1x"; label = "A"; range = "-1h"; }'
bad "must be at most -1s" '{ file = "a"; step = "1h"; label = "A"; range = "1h"; }'
bad "must be one key segment" '{ file = "../a"; step = "1h"; label = "A"; range = "-1h"; }'
bad "must be at least 1s" '{ file = "a"; step = "0s"; label = "A"; range = "-1h"; }'
bad "required" '{ file = "a"; label = "A"; range = "-1h"; }'
bad "unknown network" "$WINDOWS" '"mainnet", "nonet"'
bad "duration" "$WINDOWS" "" "soon"
"$LABD" -t -c "$T/labd.conf" >"$T/t.log" 2>&1 || { cat "$T/t.log" >&2; fail "labd -t rejects the test config"; }
"$LABD" --describe timings -c "$T/labd.conf" >"$T/describe.md" 2>&1 || fail "--describe timings"
for k in networks time_windows interval path_prefix; do grep -q "$k" "$T/describe.md" || fail "--describe lacks $k"; done
pass "configuration errors (duplicate file, bad duration, positive range, unsafe file, zero step, missing step, unknown network, bad interval) name file:line"

# ---- 1. one pass ---------------------------------------------------------------
if [ -x "$SUB" ]; then
	"$SUB" sub "$NATS_URL" lab.timings.updated 12 30 >"$T/events" 2>&1 &
	SUB_PID=$!
	wait_for 'grep -q ready "$T/events"' || fail "nats-sub did not subscribe"
fi
t0=$(date +%s%N)
"$LABD" -c "$T/labd.conf" -D 'admin.listen=""' --once --plugin timings --now "$NOW" 2>"$T/labd.log" || fail "labd --once failed"
t1=$(date +%s%N)
DOCS=$(cd "$T/data" && find beacon_chain_timings -type f -name '*.json' | sort)
[ "$(printf '%s\n' "$DOCS" | wc -l)" = 12 ] || { echo "$DOCS" >&2; fail "expected 12 documents"; }
for kind in block_timings size_cdf; do
	for net in mainnet sepolia holesky; do
		for w in edge all; do
			k="beacon_chain_timings/$kind/$net/$w.json"
			f="$T/data/$k"
			[ -f "$f" ] || fail "missing $k"
			gunzip -c <"$f" >"$T/$kind.$net.$w.json" 2>/dev/null || fail "$k is not gzip"
			meta=$(meta_file "$T/data" "$k")
			grep -q '"Content-Type":"application/json"' "$meta" &&
				grep -q '"Content-Encoding":"gzip"' "$meta" &&
				grep -q '"Cache-Control":"max-age=3600"' "$meta" || fail "headers of $k: $(cat "$meta")"
		done
	done
done
pass "--once wrote all 12 documents, gzip, Content-Type/Encoding/Cache-Control ($(((t1 - t0) / 1000000)) ms)"
if [ -x "$SUB" ]; then
	wait "$SUB_PID" || { cat "$T/events" >&2; fail "fewer than 12 lab.timings.updated events"; }
	for kind in block_timings size_cdf; do
		for net in mainnet sepolia holesky; do
			for w in edge all; do
				grep -qF "lab.timings.updated {\"network\":\"$net\",\"window\":\"$w\",\"kind\":\"$kind\",\"key\":\"beacon_chain_timings/$kind/$net/$w.json\"}" "$T/events" ||
					{ cat "$T/events" >&2; fail "no event for $kind $net $w"; }
			done
		done
	done
	pass "one lab.timings.updated event per stored document (over NATS)"
else
	echo "skip: events over NATS (no tests/nats-sub)"
fi

# ---- 2. block_timings against awk over the raw FINAL rows ----------------------
# ClickHouse's quantile() keeps every value up to 8192 per bucket and
# interpolates linearly between the sorted neighbours; awk does the same.
expect_bt() { # expect_bt NETWORK STEP RANGE
	q "SELECT toUInt32(slot_start_date_time), propagation_slot_start_diff FROM beacon_api_eth_v1_events_block FINAL WHERE meta_network_name = '$1' FORMAT TabSeparated" |
		awk -v S=$((NOW_UNIX - $3)) -v E=$NOW_UNIX -v step="$2" '
		$1 >= S && $1 <= E && $2 < 6000 { b = $1 - $1 % step; n[b]++; v[b, n[b]] = $2; s[b] += $2 }
		function q(b, lv,   i, l, r) { i = lv * (n[b] - 1); l = int(i); r = l + 1;
			if (r >= n[b]) return a[l]; return a[l] * (r - i) + a[r] * (i - l) }
		END { for (b in n) {
			for (i = 1; i <= n[b]; i++) a[i - 1] = v[b, i];
			m = n[b]; for (i = 1; i < m; i++) { x = a[i]; j = i - 1; while (j >= 0 && a[j] > x) { a[j + 1] = a[j]; j-- } a[j + 1] = x }
			printf "%d %d %d %.10f %.6f %.6f %.6f %d\n", b, a[0], a[m - 1], s[b] / m, q(b, 0.05), q(b, 0.5), q(b, 0.95), m } }' | sort -n
}
got_bt() { # got_bt FILE
	"$CHECK" "$1" | awk '$3 != "empty" { v[$1, $2] = $4; if ($2 + 1 > n) n = $2 + 1 }
		END { for (i = 0; i < n; i++) printf "%d %d %d %.10f %.6f %.6f %.6f %d\n", v["timestamps", i], v["mins", i], v["maxs", i], v["avgs", i], v["p05s", i], v["p50s", i], v["p95s", i], v["blocks", i] }'
}
for net in mainnet sepolia holesky; do
	expect_bt $net $EDGE_STEP $EDGE_RANGE >"$T/bt.exp.$net.edge"
	expect_bt $net $ALL_STEP $ALL_RANGE >"$T/bt.exp.$net.all"
	for w in edge all; do
		got_bt "$T/block_timings.$net.$w.json" >"$T/bt.got.$net.$w"
		cmp -s "$T/bt.exp.$net.$w" "$T/bt.got.$net.$w" || { diff "$T/bt.exp.$net.$w" "$T/bt.got.$net.$w" >&2; fail "block_timings $net $w differs from the raw rows"; }
	done
done
[ "$(wc -l <"$T/bt.exp.mainnet.edge")" -ge 4 ] || fail "too few mainnet edge buckets to mean anything"
# the edge slots 9000050 and 9000150 are inside the window (inclusive BETWEEN)
[ "$(head -n 1 "$T/bt.exp.mainnet.edge" | cut -d' ' -f1)" -le $((NOW_UNIX - EDGE_RANGE)) ] || fail "first edge bucket does not hold the start slot"
[ "$(tail -n 1 "$T/bt.exp.mainnet.edge" | cut -d' ' -f1)" = $((NOW_UNIX - NOW_UNIX % EDGE_STEP)) ] || fail "last edge bucket does not hold the end slot"
# sepolia by hand: edge keeps 101 (1001 after FINAL, 1500), 103 (1002; 7000 is late), 104 (700; 6000 is
# not < 6000), 105 (5), 107 (3001, 5999) = 7 values; all adds 102 (800) = 8.
[ "$(awk '{ s += $8 } END { print s }' "$T/bt.got.sepolia.edge")" = 7 ] || fail "sepolia edge block count"
[ "$(awk '{ s += $8 } END { print s }' "$T/bt.got.sepolia.all")" = 8 ] || fail "sepolia all block count"
[ "$(awk '{ m = (NR == 1 || $2 < m) ? $2 : m } END { print m }' "$T/bt.got.sepolia.edge")" = 5 ] || fail "sepolia min"
grep -q '"mins":\[[0-9]*\.0' "$T/block_timings.mainnet.edge.json" || fail "mins are not written as floats"
grep -q '"blocks":\[[0-9]*[],]' "$T/block_timings.mainnet.edge.json" || fail "blocks are not written as ints"
pass "block_timings = awk over raw FINAL rows for 3 networks x 2 windows ($(cat "$T"/bt.exp.* | wc -l) buckets; edges, < 6000, quantiles)"

# ---- 3. size_cdf of mainnet against awk over the manifest ----------------------
expect_cdf() { # expect_cdf RANGE < manifest: the whole document as text
	awk -v S=$((NOW_UNIX - $1)) -v E=$NOW_UNIX '
	function rhe(x,   f, d) { f = int(x); d = x - f; if (d > 0.5) return f + 1; if (d < 0.5) return f; return (f % 2 == 0) ? f : f + 1 }
	function add(set, b, a) { sum[set, b] += a; cnt[set, b]++; has[b] = 1 }
	$1 == "slot" { delete f; for (i = 3; i <= NF; i++) { k = $i; sub(/=.*/, "", k); v = $i; sub(/^[^=]*=/, "", v); f[k] = v }
		if (f["start"] < S || f["start"] > E || f["canonical"] != 1 || f["size_c"] == "" || f["size_c"] == "NULL" || f["arrival_min_final"] == "") next
		t = f["size_c"] + f["blobs"] * 131072; if (t < 1) t = 1
		b = rhe(t / 32768) * 32; if (b < 32) b = 32
		a = f["arrival_min_final"]; add("all", b, a)
		if (f["mev"] == 1) { add("mev", b, a); if (f["solo"] == 1) add("solo_mev", b, a) }
		else { add("non_mev", b, a); if (f["solo"] == 1) add("solo_non_mev", b, a) }
	}
	END { nb = 0; for (b in has) bs[++nb] = b + 0
		for (i = 2; i <= nb; i++) { x = bs[i]; j = i - 1; while (j >= 1 && bs[j] > x) { bs[j + 1] = bs[j]; j-- } bs[j + 1] = x }
		printf "{\"sizes_kb\":["; for (i = 1; i <= nb; i++) printf "%s%d", (i > 1 ? "," : ""), bs[i]
		printf "],\"arrival_times_ms\":{"; split("all mev non_mev solo_mev solo_non_mev", sets, " ")
		for (s = 1; s <= 5; s++) { printf "%s\"%s\":[", (s > 1 ? "," : ""), sets[s]; first = 1
			for (i = 1; i <= nb; i++) if ((sets[s], bs[i]) in cnt) { printf "%s%d.0", (first ? "" : ","), rhe(sum[sets[s], bs[i]] / cnt[sets[s], bs[i]]); first = 0 }
			printf "]" }
		printf "}}" }' "$M"
}
expect_cdf $EDGE_RANGE >"$T/cdf.exp.edge"
expect_cdf $ALL_RANGE >"$T/cdf.exp.all"
for w in edge all; do
	cmp -s "$T/cdf.exp.$w" "$T/size_cdf.mainnet.$w.json" || { echo "expected: $(cat "$T/cdf.exp.$w")" >&2; echo "got:      $(cat "$T/size_cdf.mainnet.$w.json")" >&2; fail "size_cdf mainnet $w differs from the manifest"; }
done
grep -q '"solo_mev":\[[0-9]' "$T/cdf.exp.all" && grep -q '"solo_non_mev":\[[0-9]' "$T/cdf.exp.all" || fail "the fixture has no solo staker slots"
pass "size_cdf mainnet = awk over the generator's manifest (2 windows, byte-identical documents)"

# ---- 4. sepolia by hand; holesky empty ------------------------------------------
# edge: 101 -> 49152 B = 1.5 -> 64 KiB, 1001 (FINAL), solo (entity replaced under FINAL), non-MEV
#       103 -> 81920 B = 2.5 -> 64 KiB, 1002, no entity (13 is solo only on holesky), non-MEV
#       104 -> 16384 + 1 blob = 147456 B = 4.5 -> 128 KiB, 700, solo, MEV (re-sent row)
#       105 NULL size, 106 no events: left out; 107 -> 0 B -> 1 B -> 32 KiB, 3001, solo, non-MEV
#       64 KiB "all" = (1001 + 1002) / 2 = 1001.5 -> 1002
# all:  adds 102 (one slot earlier) -> 16384 B = 0.5 -> 32 KiB, 800, lido, MEV by two relays:
#       32 KiB "all" = (3001 + 800) / 2 = 1900.5 -> 1900
cat >"$T/exp.sepolia.edge" <<'EOF'
{"sizes_kb":[32,64,128],"arrival_times_ms":{"all":[3001.0,1002.0,700.0],"mev":[700.0],"non_mev":[3001.0,1002.0],"solo_mev":[700.0],"solo_non_mev":[3001.0,1001.0]}}
EOF
cat >"$T/exp.sepolia.all" <<'EOF'
{"sizes_kb":[32,64,128],"arrival_times_ms":{"all":[1900.0,1002.0,700.0],"mev":[800.0,700.0],"non_mev":[3001.0,1002.0],"solo_mev":[700.0],"solo_non_mev":[3001.0,1001.0]}}
EOF
for w in edge all; do
	printf '%s' "$(cat "$T/exp.sepolia.$w")" | cmp -s - "$T/size_cdf.sepolia.$w.json" || { echo "got: $(cat "$T/size_cdf.sepolia.$w.json")" >&2; fail "size_cdf sepolia $w"; }
	printf '%s' '{"sizes_kb":[],"arrival_times_ms":{"all":[],"mev":[],"non_mev":[],"solo_mev":[],"solo_non_mev":[]}}' | cmp -s - "$T/size_cdf.holesky.$w.json" || fail "size_cdf holesky $w is not empty"
	printf '%s' '{"timestamps":[],"mins":[],"maxs":[],"avgs":[],"p05s":[],"p50s":[],"p95s":[],"blocks":[]}' | cmp -s - "$T/block_timings.holesky.$w.json" || fail "block_timings holesky $w is not empty"
done
pass "size_cdf sepolia = hand-worked documents (.5 -> even, edges, MEV twice, blobs, FINAL entity); holesky empty"

# ---- 4b. config.json module entry -------------------------------------------------
gunzip -c <"$T/data/config.json" >"$T/config.json" 2>/dev/null || cp "$T/data/config.json" "$T/config.json"
grep -qF '"beacon_chain_timings":{"enabled":true,"description":"Beacon chain block timing metrics","path_prefix":"beacon_chain_timings","networks":["mainnet","sepolia","holesky"],"time_windows":[{"file":"edge","step":"5m","label":"Edge","range":"-20m"},{"file":"all","step":"1h","label":"All","range":"-1h"}]}' "$T/config.json" ||
	{ cat "$T/config.json" >&2; fail "config.json lacks the timings module entry"; }
pass "config.json: modules.beacon_chain_timings with networks and time_windows as configured"

# ---- 5. state ----------------------------------------------------------------------
gunzip -c <"$T/data/state/modules/timings.json" >"$T/state.json" 2>/dev/null || cp "$T/data/state/modules/timings.json" "$T/state.json"
ISO=$(date -u -d "@$NOW_UNIX" +%Y-%m-%dT%H:%M:%S+00:00)
for kind in block_timings size_cdf; do
	for net in mainnet sepolia holesky; do
		for w in edge all; do
			tr -d '\\' <"$T/state.json" | grep -q "\"$net/$w\":\"$ISO\"" || { cat "$T/state.json" >&2; fail "state lacks $kind $net/$w = $ISO"; }
		done
	done
	grep -q "\"$kind\":{\"last_processed\":{" "$T/state.json" || fail "state lacks $kind.last_processed"
done
pass "state: block_timings/size_cdf.last_processed[NETWORK/WINDOW] = $ISO"

# ---- 6. serve mode: failure isolation, retry at the next tick, run now -------------
conf "$T/data2" '{ backend = "local"; }' 2s >"$T/labd.conf"
q "RENAME TABLE canonical_beacon_block TO canonical_beacon_block_off" >/dev/null
start_labd --now "$NOW"
stored() { grep -c "msg=\"timings document stored\" key=beacon_chain_timings/$1/" "$T/labd.log"; }
wait_for '[ "$(stored block_timings)" = 6 ]' || { q "RENAME TABLE canonical_beacon_block_off TO canonical_beacon_block" >/dev/null; fail "block_timings not stored while size_cdf fails"; }
wait_for 'grep -q "timings job failed.*kind=size_cdf" "$T/labd.log"' || fail "no size_cdf failure logged"
[ "$(stored size_cdf)" = 0 ] || fail "size_cdf stored without its table"
# what the running plugin reports is its last_error (issue 20: it stayed null)
http GET /plugins
case $BODY in *'"last_error":"timings job failed; retried at the next tick: '*'"last_error_at":"20'*) ;;
*) q "RENAME TABLE canonical_beacon_block_off TO canonical_beacon_block" >/dev/null; fail "last_error does not show the failed job: $BODY" ;; esac
q "RENAME TABLE canonical_beacon_block_off TO canonical_beacon_block" >/dev/null
# The clock is fixed, so `interval` never passes: only the retry can store these.
wait_for '[ "$(stored size_cdf)" = 6 ]' || fail "size_cdf not retried at the next tick"
sleep 2.5
[ "$(stored block_timings)" = 6 ] || fail "block_timings ran again before interval passed"
[ "$(stored size_cdf)" = 6 ] || fail "size_cdf ran again after success before interval passed"
pass "serve: a failing size_cdf does not stop block_timings, shows in last_error, and is retried at the next tick (2 s), not after interval"
http POST /plugins/timings/run
[ "$CODE" = 200 ] || [ "$CODE" = 202 ] || [ "$CODE" = 204 ] || fail "POST /plugins/timings/run: $CODE $BODY"
wait_for '[ "$(stored block_timings)" = 12 ] && [ "$(stored size_cdf)" = 12 ]' || fail "run now did not run every job"
for w in edge all; do
	gunzip -c <"$T/data2/beacon_chain_timings/size_cdf/sepolia/$w.json" | cmp -s - "$T/size_cdf.sepolia.$w.json" || fail "serve-mode document differs from --once"
done
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exited $STOP_RC"
pass "serve: POST /plugins/timings/run runs all 12 jobs; documents equal the --once ones"
