#!/bin/sh
# Crashes (issue 10, docs/reliability.md), real ClickHouse:
#   1. kill -9 of labd three times in the middle of a beacon backfill, a
#      restart after each: the state file parses after every kill, and the
#      final documents equal an undisturbed --once run's (same keys, same
#      contents but for processed_at and processing_time_ms, same missed
#      slots), no slot stored twice;
#   2. kill -9 in the middle of a timings run (answers slowed by
#      tests/faultproxy so the kill lands between documents), restart: the
#      12 documents equal the --once run's byte for byte, state parses;
#   3. a plugin that segfaults (tests/plugins/crash.c) in init, in start
#      and in a timer callback next to a running beacon backfill: the
#      daemon dies (systemd's Restart=on-failure restarts it: checked in
#      etc/labd.service); after a restart nothing durable is lost: the
#      beacon documents equal the undisturbed run's, the crash plugin's
#      counter in state has every document below it, intact.
# Takes about 45 s.
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse -- "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/faults-lib.sh"
T0=$(date +%s)

stage_plugins
[ -f "$T/plugins/crash.so" ] || fail "tests/plugins/crash.so was not built"
load_beacon_data
reference_run
pass "reference: undisturbed --once stored $NREF documents"

# state_ok ROOT PLUGIN: the state file is absent or one complete JSON object
state_ok() {
	f="$1/state/modules/$2.json"
	[ -f "$f" ] || return 0
	{ gzip -dc "$f" 2>/dev/null || cat "$f"; } | "$FLAT" >/dev/null
}
kill9() { kill -9 "$LABD_PID"; wait "$LABD_PID" 2>/dev/null; LABD_PID=""; }

# ---- 1. kill -9 mid-backfill ---------------------------------------------------------------
D="$T/d1"
BF_CONCURRENCY=1 beacon_conf "$D" "$CLICKHOUSE_URL" >"$T/labd.conf"
run=0
# kill once 25 more documents exist, PAUSE seconds later (a state flush in
# between, or none)
for pause in 1.1 0 0.6; do
	run=$((run + 1))
	at=$(($(ndocs "$D") + 25))
	start_labd --now "$NOW2"
	wait_long 30 "[ \"\$(ndocs \"$D\")\" -ge $at ]" || fail "run $run: backfill did not reach $at documents"
	sleep "$pause"
	kill9
	cp "$T/labd.log" "$T/kill.$run.log"
	grep -q 'msg="backfill finished"' "$T/labd.log" && fail "run $run: backfill finished before the kill (test too slow to inject)"
	state_ok "$D" beacon || fail "state file corrupt after kill -9 number $run"
	check_cursor "$D" "" "kill -9 number $run"
	echo "# kill -9 number $run at $(ndocs "$D") documents, persisted backfill.next=$CURSOR"
done
start_labd --now "$NOW2"
wait_long 60 'grep -q "msg=\"backfill finished\"" "$T/labd.log" && all_stored "$D"' || fail "backfill did not finish after the kills"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exited $STOP_RC"
cp "$T/labd.log" "$T/kill.final.log"
ntmp=$(find "$D" -name '*.tmp.*' | wc -l)
ALLOW_TMP=1 same_docs "$D" "kill -9 mid-backfill"
cat "$T"/kill.*.log | sed -n 's/.*msg="slot stored".* slot=\([0-9]*\).*/\1/p' | sort | uniq -d >"$T/dups"
[ ! -s "$T/dups" ] || fail "slots stored twice across the kills: $(head -5 "$T/dups" | tr '\n' ' ')"
pass "3 x kill -9 mid-backfill: state parsed and cursor held after each; final $NREF documents equal the undisturbed run's, none stored twice ($ntmp orphaned *.tmp.* files)"

# ---- 2. kill -9 mid-timings run --------------------------------------------------------------
TNOW=$(date -u -d "@$((GENESIS + 9000150 * 12))" +%Y-%m-%dT%H:%M:%SZ)
timings_conf() { # DATA_DIR CH_URL
	cat <<CONF
log = { level = "info"; format = "logfmt"; };
admin = { listen = "127.0.0.1:0"; };
plugin_dir = "$T/plugins";
state = { flush_interval = "1s"; };
storage = { backend = "fs"; fs = { root = "$1"; }; };
clickhouse = { url = "$2"; database = "default"; };
broker = { backend = "local"; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
plugins = { timings = { enabled = true; interval = "1h"; networks = [ "mainnet" ];
	time_windows = (
		{ file = "w10m"; step = "5m"; label = "10m"; range = "-10m"; },
		{ file = "w20m"; step = "5m"; label = "20m"; range = "-20m"; },
		{ file = "w30m"; step = "10m"; label = "30m"; range = "-30m"; },
		{ file = "w40m"; step = "10m"; label = "40m"; range = "-40m"; },
		{ file = "w1h"; step = "1h"; label = "1h"; range = "-1h"; },
		{ file = "w2h"; step = "1h"; label = "2h"; range = "-2h"; } ); }; };
CONF
}
timings_conf "$T/tref" "$CLICKHOUSE_URL" >"$T/tref.conf"
"$LABD" -c "$T/tref.conf" --once --plugin timings --now "$TNOW" -D admin.listen='""' 2>"$T/tref.log" ||
	{ tail -5 "$T/tref.log" >&2; fail "timings reference --once failed"; }
tkeys() { (cd "$1" && find beacon_chain_timings -type f | sort); }
[ "$(tkeys "$T/tref" | wc -l)" = 12 ] || fail "timings reference stored $(tkeys "$T/tref" | wc -l) documents, want 12"
start_proxy "${CLICKHOUSE_URL##*:}"
fault "delay 250"
timings_conf "$T/t" "http://127.0.0.1:$PROXY_PORT" >"$T/labd.conf"
start_labd --now "$TNOW"
wait_long 30 '[ "$(grep -c "msg=\"timings document stored\"" "$T/labd.log")" -ge 4 ]' || fail "timings stored nothing through the slow proxy"
sleep 1.1 # a state flush
kill9
n1=$(grep -c 'msg="timings document stored"' "$T/labd.log")
[ "$n1" -lt 12 ] || fail "the timings run finished before the kill (test too slow to inject)"
state_ok "$T/t" timings || fail "timings state corrupt after kill -9"
fault pass
start_labd --now "$TNOW"
# the jobs recorded in state are not due again (fixed clock, interval 1h): the restart runs the rest
kst=$({ gzip -dc "$T/t/state/modules/timings.json" 2>/dev/null || cat "$T/t/state/modules/timings.json" 2>/dev/null; } | "$FLAT" | grep -c 'last_processed')
wait_long 30 '[ "$(grep -c "msg=\"timings document stored\"" "$T/labd.log")" -ge $((12 - kst)) ]' ||
	fail "timings did not finish after the restart"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exited $STOP_RC"
stop_proxy
n2=$(grep -c 'msg="timings document stored"' "$T/labd.log")
tkeys "$T/tref" >"$T/tk.want"
tkeys "$T/t" >"$T/tk.got"
cmp -s "$T/tk.want" "$T/tk.got" || { diff "$T/tk.want" "$T/tk.got" >&2; fail "timings keys differ after kill -9"; }
while read -r k; do
	gzip -dc "$T/t/$k" >"$T/a.json" || fail "timings document $k truncated"
	gzip -dc "$T/tref/$k" | cmp -s - "$T/a.json" || fail "timings document $k differs from the --once run's"
done <"$T/tk.want"
state_ok "$T/t" timings || fail "timings state corrupt after the restart"
nlp=$({ gzip -dc "$T/t/state/modules/timings.json" 2>/dev/null || cat "$T/t/state/modules/timings.json"; } | "$FLAT" | grep -c 'last_processed')
[ "$nlp" = 12 ] || fail "timings state records $nlp jobs, want 12"
[ -z "$(find "$T/t" -name '*.tmp.*')" ] || echo "# timings: orphaned *.tmp.* after kill -9: $(find "$T/t" -name '*.tmp.*' | wc -l)"
pass "kill -9 mid-timings after $n1 of 12 documents ($kst recorded in state): the restart stored the other $n2; all 12 equal the --once run's byte for byte, state parses, 12 jobs recorded"

# ---- 3. a plugin that segfaults -------------------------------------------------------------
grep -q '^Restart=on-failure' "$top_srcdir/etc/labd.service" || fail "etc/labd.service lacks Restart=on-failure"
sum_tree() { (cd "$1" && find . -type f ! -name '*.tmp.*' | sort | xargs md5sum); }
sum_tree "$D" >"$T/before.sum"
for where in init start; do
	EXTRA_PLUGINS="crash = { enabled = true; crash_in = \"$where\"; };" beacon_conf "$D" "$CLICKHOUSE_URL" >"$T/labd.conf"
	"$LABD" -c "$T/labd.conf" --now "$NOW2" 2>"$T/crash.$where.log" &
	pid=$!
	wait "$pid"
	rc=$?
	[ "$rc" != 0 ] || fail "labd survived a segfault in $where?"
	grep -q "crash: segfault in $where" "$T/crash.$where.log" || fail "the crash plugin did not reach $where"
	sum_tree "$D" >"$T/after.sum"
	cmp -s "$T/before.sum" "$T/after.sum" || { diff "$T/before.sum" "$T/after.sum" | head >&2; fail "a segfault in $where changed stored documents or state"; }
	pass "segfault in $where: the daemon dies (exit $rc), every stored document and state file unchanged"
done
# labd -t runs init too (ExecStartPre=labd -t): it dies the same way
EXTRA_PLUGINS='crash = { enabled = true; crash_in = "init"; };' beacon_conf "$D" "$CLICKHOUSE_URL" >"$T/labd.conf"
"$LABD" -t -c "$T/labd.conf" >"$T/crash.t.log" 2>&1 && fail "labd -t passed with a plugin crashing in init"

# in a timer callback, next to a beacon backfill
D3="$T/d3"
EXTRA_PLUGINS="crash = { enabled = true; crash_in = \"callback\"; trigger_file = \"$T/crash.now\"; tick_ms = 50; };" \
	BF_CONCURRENCY=1 beacon_conf "$D3" "$CLICKHOUSE_URL" >"$T/labd.conf"
"$LABD" -c "$T/labd.conf" --now "$NOW2" 2>"$T/crash.cb.log" &
LABD_PID=$!
# crash once the backfill is well under way and a state flush has passed
wait_long 30 '[ "$(ndocs "$D3")" -ge 20 ]' || fail "backfill did not start next to the crash plugin"
sleep 1.1
touch "$T/crash.now"
wait "$LABD_PID"
rc=$?
LABD_PID=""
[ "$rc" != 0 ] || fail "labd survived a segfault in a callback?"
grep -q 'crash: segfault in callback' "$T/crash.cb.log" || fail "the crash plugin did not crash in its callback"
at_crash=$(ndocs "$D3")
grep -q 'msg="backfill finished"' "$T/crash.cb.log" && fail "the backfill finished before the crash (test too slow to inject)"
state_ok "$D3" beacon || fail "beacon state corrupt after the crash"
state_ok "$D3" crash || fail "crash plugin state corrupt after the crash"
cnext() { f="$D3/state/modules/crash.json"; { gzip -dc "$f" 2>/dev/null || cat "$f"; } | "$FLAT" | awk -F'\t' '$1 == "next" { print $2 }'; }
next1=$(cnext)
[ -n "$next1" ] || fail "the crash plugin recorded nothing before crashing (state flush every 1 s)"
# systemd would restart it; here: restart with the plugin fixed
EXTRA_PLUGINS='crash = { enabled = true; crash_in = "none"; tick_ms = 50; };' \
	BF_CONCURRENCY=2 beacon_conf "$D3" "$CLICKHOUSE_URL" >"$T/labd.conf"
start_labd --now "$NOW2"
# start_labd returns once the admin port is open, before plugins init
wait_long 10 'grep -q "crash: init" "$T/labd.log"' || fail "the restarted crash plugin did not start"
grep -q "crash: init next=$next1" "$T/labd.log" || fail "the restarted crash plugin did not resume from next=$next1: $(grep 'crash: init' "$T/labd.log")"
wait_long 60 'grep -q "msg=\"backfill finished\"" "$T/labd.log" && all_stored "$D3"' || fail "backfill did not finish after the crash"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exited $STOP_RC"
ALLOW_TMP=1 same_docs "$D3" "segfault in a callback"
next2=$(cnext)
i=0
while [ $i -lt "$next2" ]; do
	gzip -dc "$D3/crash/$i.json" 2>/dev/null | grep -q "^{\"n\":$i,\"pad\":\"0*\"}\$" || fail "crash plugin document $i (below next=$next2) missing or damaged"
	i=$((i + 1))
done
pass "segfault in a callback after $at_crash beacon documents (exit $rc): after a restart the beacon documents equal the undisturbed run's; the crash plugin resumed at next=$next1 and documents 0..$((next2 - 1)) are intact"
san_check
echo "# faults-kill.sh took $(($(date +%s) - T0)) s"
