#!/bin/sh
# Repair of a slot range (issue 20, finding 6) against a real ClickHouse
# 18.16 and nats-server:
#   1. local broker: `labctl reprocess beacon mainnet FROM TO` through the
#      admin API (token) queues the range; the beacon plugin stores every
#      slot with a block, records the others as missed, logs the outcome;
#   2. NATS broker: the rows of the missed slots arrive in ClickHouse later;
#      a reprocess of the range stores them and takes them off the missed
#      list in state, and rebuilds an existing (stale) document;
#   3. `labctl publish beacon.reprocess` (issue 21) reaches the plugin over
#      NATS in the single-slot form; the plugin's own bounds: a range that
#      does not fit reprocess_queue_slots, one in the future and a malformed
#      request are refused.
# The loops (head, trailing, backfill) are kept away from the data: the
# clock is fixed 600 slots after it and the backfill target is above it.
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse,nats -- "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
trap 'rc=$?; [ $rc = 0 ] || KEEP_TMP=1; cleanup' EXIT

FLAT="$top_builddir/tests/beacon-flat"
GEN="$top_builddir/tests/fixtures/xatu-gen"
LABCTL=$top_srcdir/tools/labctl
[ -x "$FLAT" ] || make -C "$top_builddir" tests/beacon-flat >/dev/null || fail "cannot build tests/beacon-flat"
[ -x "$GEN" ] || make -C "$top_builddir" tests/fixtures/xatu-gen >/dev/null || fail "cannot build xatu-gen"

GENESIS=1606824023
FROM=9000000
MID=9000031 # rows for FROM..MID at first, MID+1..TO later
TO=9000063
LAG=3
HEAD=$((TO + 600))
NOW_UNIX=$((GENESIS + (HEAD + LAG) * 12 + 5))
NOW=$(date -u -d "@$NOW_UNIX" +%Y-%m-%dT%H:%M:%SZ)
TOKEN=rp-$$-token
export LABCTL_TOKEN=$TOKEN

"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || fail "schema"
"$GEN" --network mainnet --genesis $GENESIS --from-slot $FROM --to-slot $MID --out "$T/gen1" >/dev/null || fail "xatu-gen"
"$GEN" --network mainnet --genesis $GENESIS --from-slot $((MID + 1)) --to-slot $TO --out "$T/gen2" >/dev/null || fail "xatu-gen"
"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen1" >/dev/null || fail "load"

block_slots() { # MANIFEST: the slots that get a document
	awk -F'\t' '$1 == "slot" { st = ""; ne = 0
		for (i = 3; i <= NF; i++) { if ($i == "status=block") st = "b"; if ($i == "no_events=1") ne = 1 }
		if (st == "b" && !ne) print $2 }' "$1" | sort
}

stage_plugins
conf() { # conf BROKER-LINE
	cat >"$T/labd.conf" <<CONF
log = { level = "info"; format = "logfmt"; };
admin = { listen = "127.0.0.1:0"; token = "$TOKEN"; };
plugin_dir = "$T/plugins";
state = { flush_interval = "1s"; };
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; max_concurrency = 8; };
$1
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
plugins = {
	beacon = { enabled = true;
		networks = { mainnet = { head_lag_slots = $LAG;
			backfill = { to_slot = $((TO + 400)); concurrency = 16; }; }; }; };
};
CONF
}
ctl() { sh "$LABCTL" -a "127.0.0.1:$PORT" "$@"; }
started() { wait_for 'grep -q "msg=\"beacon started\"" "$T/labd.log"' || fail "beacon did not start"; }
finished() { # finished FROM TO: waits up to 60 s for the range's last line
	i=0
	until grep -q "msg=\"reprocess finished\" network=mainnet from=$1 to=$2 " "$T/labd.log"; do
		i=$((i + 1)); [ $i -lt 600 ] || { tail -5 "$T/labd.log" >&2; fail "reprocess $1..$2 did not finish"; }
		sleep 0.1
	done
}
D="$T/data/beacon/slots/mainnet"
stored() { # the stored slots in FROM..TO
	ls "$D" 2>/dev/null | sed -n 's/^\([0-9]*\)\.json$/\1/p' | awk -v a=$FROM -v b=$TO '$1 >= a && $1 <= b' | sort
}
missed() { # the missed slots in FROM..TO, from the state file
	gzip -dc "$T/data/state/modules/beacon.json" 2>/dev/null | "$FLAT" |
		awk -F'\t' -v a=$FROM -v b=$TO '$1 == "slot_mainnet" && $2 == "missed" && $4 >= a && $4 <= b { print $4 }' | sort
}

# ---- 1. local broker: labctl reprocess --------------------------------------------------
conf 'broker = { backend = "local"; };'
start_labd --now "$NOW"
started
[ -z "$(stored)" ] || fail "the loops stored slots of the test range by themselves"
t0=$(date +%s%N)
out=$(ctl reprocess beacon mainnet $FROM $TO) || fail "labctl reprocess: $out"
[ "$out" = "beacon: reprocess of mainnet slots $FROM..$TO queued (64 slots); labd logs \"reprocess finished\" when done" ] ||
	fail "labctl reprocess output: $out"
finished $FROM $TO
ms=$((($(date +%s%N) - t0) / 1000000))
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exited $STOP_RC"
block_slots "$T/gen1/manifest" >"$T/want1"
[ -s "$T/want1" ] || fail "no block slots in the test data"
stored >"$T/got1"
cmp -s "$T/want1" "$T/got1" || { diff "$T/want1" "$T/got1" | head >&2; fail "stored slots differ from the data's block slots"; }
seq $((MID + 1)) $TO | sort >"$T/want-missed"
missed >"$T/got-missed"
grep -qx $TO "$T/got-missed" || fail "slots without rows were not recorded as missed: $(tr '\n' ' ' <"$T/got-missed")"
comm -13 "$T/got-missed" "$T/want-missed" | grep -q . && fail "slots without rows not missed: $(comm -13 "$T/got-missed" "$T/want-missed" | tr '\n' ' ')"
grep -q "msg=\"reprocess queued\" network=mainnet from=$FROM to=$TO slots=64 queued=64" "$T/labd.log" || fail "no queued line"
grep -q "msg=\"reprocess finished\" network=mainnet from=$FROM to=$TO stored=$(wc -l <"$T/want1") missed=$((64 - $(wc -l <"$T/want1"))) failed=0 queued=0" "$T/labd.log" ||
	fail "finished line: $(grep 'reprocess finished' "$T/labd.log")"
pass "local broker: labctl reprocess stored $(wc -l <"$T/want1") slots of $FROM..$TO, recorded the rest as missed, in $ms ms (request to the finished line)"

# ---- 2. NATS: the missed slots' rows arrive; reprocess stores them ------------------------
"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen2" >/dev/null || fail "load"
S=$((FROM + 20))
grep -qx $S "$T/want1" || S=$(sed -n 20p "$T/want1")
echo '{}' | gzip >"$D/$S.json" # a stale document: reprocess rebuilds it
conf "broker = { backend = \"nats\"; nats = { url = \"$NATS_URL\"; }; subject_prefix = \"lab\"; };"
start_labd --now "$NOW"
started
wait_for 'ctl ready >/dev/null 2>&1' || true # the NATS connection (ready may still wait for ClickHouse)
ctl --json reprocess beacon mainnet $S $TO >"$T/rp.json" || fail "labctl reprocess over NATS: $(cat "$T/rp.json")"
jq -e --argjson s $S --argjson t $TO '.state == "queued" and .request.from == $s and .request.to == $t and .subject == "beacon.reprocess"' \
	"$T/rp.json" >/dev/null || fail "--json answer: $(cat "$T/rp.json")"
finished $S $TO
stop_labd
{ cat "$T/want1"; block_slots "$T/gen2/manifest"; } | sort >"$T/want2"
stored >"$T/got2"
cmp -s "$T/want2" "$T/got2" || { diff "$T/want2" "$T/got2" | head >&2; fail "stored slots after the late rows differ"; }
missed >"$T/got-missed2"
for s in $(block_slots "$T/gen2/manifest"); do
	grep -qx "$s" "$T/got-missed2" && fail "slot $s stored but still in the missed list"
done
n=$(gzip -dc "$D/$S.json" | "$FLAT" | awk -F'\t' '$1 == "block"' | wc -l)
[ "$n" -gt 10 ] || fail "the stale document of slot $S was not rebuilt"
pass "NATS: reprocess stored the $(block_slots "$T/gen2/manifest" | wc -l) late slots recorded as missed (now off the list) and rebuilt a stale document"

# ---- 3. labctl publish over NATS; the plugin's bounds -------------------------------------
S2=$(sed -n 3p "$T/want1")
echo '{}' | gzip >"$D/$S2.json"
start_labd --now "$NOW" -D plugins.beacon.reprocess_queue_slots=10
started
ctl publish beacon.reprocess "{\"network\":\"mainnet\",\"slot\":$S2}" >/dev/null || fail "labctl publish"
finished $S2 $S2
ctl publish beacon.reprocess "{\"network\":\"mainnet\",\"from\":$FROM,\"to\":$((FROM + 10))}" >/dev/null || fail "publish 11 slots"
ctl publish beacon.reprocess "{\"network\":\"mainnet\",\"from\":$((HEAD + 100)),\"to\":$((HEAD + 101))}" >/dev/null || fail "publish future"
ctl publish beacon.reprocess "{\"network\":\"mainnet\",\"from\":$FROM}" >/dev/null || fail "publish malformed"
wait_for 'grep -q "ignoring malformed reprocess request" "$T/labd.log"' || fail "a malformed request was not refused"
grep -q "msg=\"reprocess request refused\" reason=\"queue full (reprocess_queue_slots)\" network=mainnet from=$FROM to=$((FROM + 10))" "$T/labd.log" ||
	fail "11 slots with reprocess_queue_slots = 10 not refused"
grep -q "msg=\"reprocess request refused\" reason=\"the range ends in the future\"" "$T/labd.log" || fail "a future range not refused"
stop_labd
n=$(gzip -dc "$D/$S2.json" | "$FLAT" | awk -F'\t' '$1 == "block"' | wc -l)
[ "$n" -gt 10 ] || fail "publish beacon.reprocess did not rebuild slot $S2"
pass "labctl publish beacon.reprocess (single-slot form) reached the plugin over NATS; over reprocess_queue_slots, future and malformed requests refused"
