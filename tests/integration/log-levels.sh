#!/bin/sh
# Log levels (issue 20, finding 2): at log.level = "info" a run writes a few
# lines, not one per slot.
#   1. beacon --once over 100 generated slots (some without a block) and
#      200 slots Xatu has no data for: no per-slot line at info; the missed
#      slots are in the "once finished" summary; at debug every slot still
#      has its line;
#   2. contributors in service mode with the clock fixed (--now): the first
#      pass stores documents (info), the idle passes after it are debug;
#   3. every run ends with a "labd exiting" line carrying the exit code.
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse -- "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"

GEN="$top_builddir/tests/fixtures/xatu-gen"
[ -x "$GEN" ] || make -C "$top_builddir" tests/fixtures/xatu-gen >/dev/null || fail "cannot build xatu-gen"
GENESIS=1606824023
FROM=9000000
TO=9000099
EMPTY=200
NOW=$(date -u -d "@$((GENESIS + (TO + 3) * 12 + 5))" +%Y-%m-%dT%H:%M:%SZ)
"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || fail "schema"
"$GEN" --network mainnet --genesis $GENESIS --from-slot $FROM --to-slot $TO --out "$T/gen" >/dev/null || fail "xatu-gen"
"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >/dev/null || fail "load"
stage_plugins
conf() { # conf LEVEL
	cat >"$T/labd.conf" <<CONF
log = { level = "$1"; format = "logfmt"; };
admin = { listen = "127.0.0.1:0"; };
plugin_dir = "$T/plugins";
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; };
broker = { backend = "local"; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
plugins = {
	beacon = { networks = { mainnet = { backfill = { to_slot = $((FROM - EMPTY)); }; }; }; };
	contributors = { interval = "1s"; networks = [ "mainnet" ];
		time_windows = ( { file = "last_1h"; step = "10m"; label = "Last 1h"; range = "-1h"; } ); };
};
CONF
}

# ---- 1. beacon --once at info --------------------------------------------------------
conf info
"$LABD" --once --plugin beacon -c "$T/labd.conf" --now "$NOW" 2>"$T/labd.log" || fail "beacon --once"
stored=$(find "$T/data/beacon/slots" -name '*.json' | wc -l)
[ "$stored" -gt 50 ] || fail "only $stored slot documents stored"
missed=$(sed -n 's/.*msg="once finished".* missed=\([0-9]*\).*/\1/p' "$T/labd.log")
[ -n "$missed" ] && [ "$missed" -ge "$EMPTY" ] || fail "once finished line without the missed slots (missed=$missed)"
grep -q 'msg="slot missed"' "$T/labd.log" && fail "a per-slot 'slot missed' line at info"
grep -q 'msg="slot stored"' "$T/labd.log" && fail "a per-slot 'slot stored' line at info"
lines=$(wc -l <"$T/labd.log")
[ "$lines" -le 20 ] || fail "$lines lines at info for $((TO - FROM + 1 + EMPTY)) slots (at most 20 expected)"
tail -n 1 "$T/labd.log" | grep -q 'level=info msg="labd exiting" exit_code=0' ||
	fail "last line is not the exit line: $(tail -n 1 "$T/labd.log")"
pass "beacon --once over $((TO - FROM + 1 + EMPTY)) slots ($missed missed): $lines lines at info, ending with the exit line"

rm -rf "$T/data"
conf debug
"$LABD" --once --plugin beacon -c "$T/labd.conf" --now "$NOW" 2>"$T/labd.log" || fail "beacon --once at debug"
n_missed=$(grep -c 'level=debug .*msg="slot missed"' "$T/labd.log")
n_stored=$(grep -c 'level=debug .*msg="slot stored"' "$T/labd.log")
[ "$n_missed" -eq "$missed" ] || fail "debug: $n_missed 'slot missed' lines, $missed missed slots"
[ "$n_stored" -eq "$stored" ] || fail "debug: $n_stored 'slot stored' lines, $stored documents"
pass "at debug every slot still has its line ($n_stored stored, $n_missed missed)"

# ---- 2. contributors' idle passes ------------------------------------------------------
conf info
sed -i '/beacon = /d' "$T/labd.conf"
# service_run: labd until its first contributors pass has finished, then
# 4 s more (four idle passes at interval = 1s).
service_run() {
	start_labd --now "$NOW"
	i=0
	until grep -q 'msg="pass finished"' "$T/labd.log"; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "no first pass in 60 s"
		sleep 0.1
	done
	sleep 4
	stop_labd
}
service_run
[ "$STOP_RC" -eq 0 ] || fail "service exit status $STOP_RC"
passes=$(grep -c 'msg="pass finished"' "$T/labd.log")
[ "$passes" -eq 1 ] || fail "$passes 'pass finished' lines at info in 4 s (1 expected: the idle passes are debug)"
conf debug
sed -i '/beacon = /d' "$T/labd.conf"
service_run
passes=$(grep -c 'msg="pass finished"' "$T/labd.log")
[ "$passes" -ge 3 ] || fail "only $passes 'pass finished' lines at debug in 4 s (one a second expected)"
tail -n 1 "$T/labd.log" | grep -q 'msg="labd exiting" exit_code=0' ||
	fail "service: last line is not the exit line: $(tail -n 1 "$T/labd.log")"
pass "contributors: idle passes at debug ($passes passes at debug); the service ends with the exit line"
