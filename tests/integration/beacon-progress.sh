#!/bin/sh
# Beacon progress (issue 20, finding 1) on a real ClickHouse 18.16: during a
# backfill labd exports per network and loop the cursor, target, slots
# remaining, slots/s and ETA (lab_beacon_* gauges, SDK 1.2 plugin metrics),
# counts stored slots (lab_beacon_slots_stored_total), logs one "progress"
# line per progress_interval, reports the backfill through lab_progress
# (/plugins "progress", with last_success) and `labctl status` shows it as
# plain text (a bar with LABCTL_BAR=1).  When the backfill is done the
# gauges and the line say so.
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse -- "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }

GEN="$top_builddir/tests/fixtures/xatu-gen"
[ -x "$GEN" ] || make -C "$top_builddir" tests/fixtures/xatu-gen >/dev/null || fail "cannot build xatu-gen"
GENESIS=1606824023
HEAD=9000400
# Serve mode's first start: trailing takes the 300 slots below the head, the
# backfill everything below them down to the target; Xatu has blocks for the
# top of that range only (the rest are missed slots: as slow to query).
FROM=$((HEAD - 400))
TARGET=$((HEAD - 300 - 700))
NOW=$(date -u -d "@$((GENESIS + (HEAD + 3) * 12 + 5))" +%Y-%m-%dT%H:%M:%SZ)
"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || fail "schema"
"$GEN" --network mainnet --genesis $GENESIS --from-slot $FROM --to-slot $HEAD --out "$T/gen" >/dev/null || fail "xatu-gen"
"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >/dev/null || fail "load"
stage_plugins
cat >"$T/labd.conf" <<CONF
log = { level = "info"; format = "logfmt"; };
admin = { listen = "127.0.0.1:0"; };
plugin_dir = "$T/plugins";
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; };
broker = { backend = "local"; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
plugins = {
	beacon = { progress_interval = "1s";
		networks = { mainnet = { backfill = { to_slot = $TARGET; concurrency = 2; }; }; }; };
};
CONF
start_labd --now "$NOW"
g() { metric "lab_beacon_$1{network=\"mainnet\",loop=\"$2\"}"; }

# ---- during the backfill ---------------------------------------------------------------
wait_for '[ -n "$(g slots_remaining backfill)" ]' || fail "no lab_beacon_slots_remaining{loop=backfill}"
i=0
until grep -q 'plugin=beacon msg=progress network=mainnet .*backfill=running .*backfill_slots_per_second=[1-9]' "$T/labd.log"; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "no progress line with a backfill rate in 30 s"
	sleep 0.1
done
line=$(grep 'plugin=beacon msg=progress network=mainnet .*backfill=running .*backfill_slots_per_second=[1-9]' "$T/labd.log" | head -n 1)
echo "$line" | grep -q "backfill_target=$TARGET backfill_remaining=[1-9][0-9]* " || fail "progress line: $line"
echo "$line" | grep -q 'stored=[0-9]* missed=[0-9]* seconds=1 head=[0-9]* ' || fail "progress line counts: $line"
echo "$line" | grep -q 'backfill_eta_seconds=[0-9][0-9]* backfill_eta=[0-9]' || fail "progress line ETA: $line"
pass "progress line during the backfill: ${line#*msg=progress }"

cursor=$(g cursor_slot backfill) target=$(g target_slot backfill) rem=$(g slots_remaining backfill)
rate=$(g slots_per_second backfill) eta=$(g eta_seconds backfill)
[ "$target" = "$TARGET" ] || fail "target_slot{backfill} = $target, want $TARGET"
[ "$cursor" -ge "$TARGET" ] && [ "$cursor" -lt $((HEAD - 300)) ] || fail "cursor_slot{backfill} = $cursor"
[ "$rem" -ge 1 ] && [ "$rem" -le $((cursor - TARGET + 1)) ] || fail "slots_remaining{backfill} = $rem (cursor $cursor)"
awk -v r="$rate" -v e="$eta" 'BEGIN { exit !(r > 0 && e >= 0) }' || fail "slots_per_second $rate, eta_seconds $eta"
[ "$(g target_slot head)" = "$HEAD" ] || fail "target_slot{head} = $(g target_slot head), want $HEAD"
[ -n "$(g slots_remaining trailing)" ] || fail "no trailing gauges"
pass "gauges (backfill): cursor $cursor, target $target, remaining $rem, $rate slots/s, ETA $eta s; head and trailing exported"

http GET /plugins
echo "$BODY" | jq -e '.[] | select(.name == "beacon") | .progress[] |
	select(.what == "mainnet backfill" and .total > .done and .done > 0 and .percent > 0 and .per_second > 0)' >/dev/null ||
	fail "/plugins has no backfill progress: $BODY"
echo "$BODY" | jq -e '.[] | select(.name == "beacon") | .last_success | test("^20[0-9-]+T")' >/dev/null ||
	fail "/plugins: no last_success for beacon: $BODY"
pass "/plugins: beacon's backfill progress and last_success"

LABCTL=$top_srcdir/tools/labctl
out=$(sh "$LABCTL" -a "127.0.0.1:$PORT" status) || fail "labctl status"
printf '%s\n' "$out" >"$T/status.txt"
echo "$out" | grep -q '^PROGRESS$' || fail "labctl status: no PROGRESS section: $out"
echo "$out" | grep -Eq '^beacon  mainnet backfill  [0-9.]+% done \([0-9]+ of [0-9]+\), [0-9.]+/s, ETA [0-9]+[a-z]' ||
	fail "labctl status (plain text): $out"
echo "$out" | grep -q '^beacon  *running .* 20[0-9-]*T' || fail "labctl status: no last success in the table: $out"
bar=$(LABCTL_BAR=1 sh "$LABCTL" -a "127.0.0.1:$PORT" status) || fail "labctl status (bar)"
echo "$bar" | grep -Eq '^beacon  mainnet backfill  \[#*-*\] +[0-9.]+%  [0-9]+/[0-9]+  [0-9.]+/s  ETA ' ||
	fail "labctl status with a bar: $bar"
sh "$LABCTL" -a "127.0.0.1:$PORT" --json status | jq -e '.plugins[] | select(.name == "beacon") | .progress[0].total > 0' >/dev/null ||
	fail "labctl --json status lacks the raw progress"
if [ -n "${LABCTL_SCREENSHOT:-}" ]; then { echo "$out"; echo; echo "$bar"; } >"$LABCTL_SCREENSHOT"; fi
pass "labctl status shows the backfill (plain text; a bar with LABCTL_BAR=1; --json raw)"

# ---- when it is done -------------------------------------------------------------------
i=0
until grep -q 'plugin=beacon msg=progress network=mainnet .*backfill=finished' "$T/labd.log"; do
	i=$((i + 1))
	[ $i -lt 1200 ] || fail "backfill not finished in 120 s (remaining $(g slots_remaining backfill))"
	sleep 0.1
done
[ "$(g slots_remaining backfill)" = 0 ] || fail "slots_remaining{backfill} = $(g slots_remaining backfill) after the end"
[ "$(g eta_seconds backfill)" = 0 ] || fail "eta_seconds{backfill} = $(g eta_seconds backfill) after the end"
stored=$(find "$T/data/beacon/slots" -name '*.json' | wc -l)
# (a counter of writes: a slot document can be written more than once)
n=$(metric 'lab_beacon_slots_stored_total{network="mainnet"}')
[ "${n:-0}" -ge "$stored" ] || fail "lab_beacon_slots_stored_total = $n, $stored documents"
missed=$(metric 'lab_beacon_slots_missed_total{network="mainnet"}')
[ "${missed:-0}" -ge 500 ] || fail "lab_beacon_slots_missed_total = $missed (the empty range is missed)"
grep -q 'msg="slots processed"' "$T/labd.log" && fail "the old per-minute summary is still logged beside the progress line"
grep -q 'msg="slot missed"' "$T/labd.log" && fail "a per-slot line at info"
[ "$(g cursor_slot backfill)" = "$TARGET" ] || fail "cursor_slot{backfill} = $(g cursor_slot backfill) after the end"
pass "backfill finished: cursor at the target, remaining 0, ETA 0; $n writes of $stored documents and $missed missed slots counted"
stop_labd
