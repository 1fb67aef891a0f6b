#!/bin/sh
# `labd --once` with ClickHouse down, and -D replacing a one-of group
# (issue 20, finding 5).
#   1. beacon --once over 300 slots with nothing listening on ClickHouse's
#      port: exit 1 within 8 s (it took 16 s before: every batch retried
#      on its own), naming the reason;
#   2. the same with the default backfill target (deneb: millions of slots,
#      ~100 h before): exit 1 within 8 s;
#   3. the shipped etc/labd.conf (backfill = { to_fork = "deneb"; }) takes a
#      slot target from the command line as a whole group,
#      -D '...backfill={ to_slot = N; }', under labd -t, and as the scalar
#      -D ...backfill.to_slot=N (a -D member wins over the file's; the run's
#      target is N); two targets both from -D are refused with a hint.
# "ClickHouse down" is a real closed port on 127.0.0.1 (connection refused),
# not a fake.
. "$(dirname "$0")/lib.sh"
stage_plugins

# A loopback port nothing listens on (and nothing will: below the ephemeral range).
port=20123
while ss -tanH "sport = :$port" 2>/dev/null | grep -q .; do port=$((port + 1)); done

GENESIS=1606824023
HEAD=11649323
NOW=$(date -u -d "@$((GENESIS + (HEAD + 3) * 12 + 5))" +%Y-%m-%dT%H:%M:%SZ)
conf() { # conf BACKFILL-GROUP
	cat >"$T/labd.conf" <<CONF
log = { level = "info"; format = "logfmt"; };
admin = { listen = ""; };
plugin_dir = "$T/plugins";
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
clickhouse = { url = "http://127.0.0.1:$port"; database = "default"; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
plugins = { beacon = { networks = { mainnet = { $1 }; }; }; };
CONF
}

once_down() { # once_down WHAT: runs beacon --once, checks exit 1 within 8 s
	t0=$(date +%s%N)
	timeout 60 "$LABD" --once --plugin beacon -c "$T/labd.conf" --now "$NOW" 2>"$T/labd.log"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ $rc -eq 1 ] || fail "$1: exit status $rc (1 expected)"
	# Under valgrind (tests/valgrind.sh) everything is ~10x slower: only the
	# outcome is checked there.
	[ $ms -le 8000 ] || [ "${LABD_UNDER_VALGRIND:-0}" = 1 ] ||
		fail "$1: took $ms ms with ClickHouse down (at most 8000)"
	grep -q 'msg="ClickHouse unreachable; ending the one-shot run"' "$T/labd.log" ||
		fail "$1: the reason is not logged"
	grep -q 'msg="labd exiting" exit_code=1' "$T/labd.log" || fail "$1: no exit line"
	pass "$1: --once with ClickHouse down exits 1 in $ms ms"
}

conf "backfill = { to_slot = $((HEAD - 299)); };"
once_down "300 slots"
[ ! -e "$T/data/beacon" ] || fail "documents stored without ClickHouse"
conf ""
once_down "default target (deneb)"

# ---- -D replaces a one-of group -----------------------------------------------------
"$LABD" -t -c "$top_srcdir/etc/labd.conf" -D plugin_dir="$T/plugins" -D storage.fs.root="$T/d2" \
	-D 'plugins.beacon.networks.mainnet.backfill={ to_slot = 11649024; }' 2>"$T/t.log" ||
	{ cat "$T/t.log"; fail "-D backfill={ to_slot = N; } over the file's to_fork"; }
pass "-D 'plugins.beacon.networks.mainnet.backfill={ to_slot = N; }' replaces the file's to_fork"
# issue 20 finding 5: the scalar form, one member of the one-of group on the
# command line, replaces the file's to_fork as well.
"$LABD" -t -c "$top_srcdir/etc/labd.conf" -D plugin_dir="$T/plugins" -D storage.fs.root="$T/d2" \
	-D plugins.beacon.networks.mainnet.backfill.to_slot=11649024 2>"$T/t.log" ||
	{ cat "$T/t.log"; fail "-D ...backfill.to_slot=N over the file's to_fork"; }
"$LABD" --once --plugin beacon -c "$top_srcdir/etc/labd.conf" -D plugin_dir="$T/plugins" \
	-D storage.fs.root="$T/d3" -D clickhouse.url=\"http://127.0.0.1:1\" \
	-D plugins.beacon.networks.mainnet.backfill.to_slot=$((HEAD - 1)) --now "$NOW" 2>"$T/o.log"
grep -q "msg=once network=mainnet from=$HEAD to=$((HEAD - 1))" "$T/o.log" ||
	fail "-D ...to_slot did not become the target: $(grep 'msg=once' "$T/o.log")"
pass "-D plugins.beacon.networks.mainnet.backfill.to_slot=N replaces the file's to_fork (the run's target is N)"
"$LABD" -t -c "$top_srcdir/etc/labd.conf" -D plugin_dir="$T/plugins" -D storage.fs.root="$T/d2" \
	-D plugins.beacon.networks.mainnet.backfill.to_slot=11649024 \
	-D plugins.beacon.networks.mainnet.backfill.to_date=\"2024-03-13T13:55:35Z\" 2>"$T/t.log" &&
	fail "two targets on the command line must be refused"
grep -q "takes exactly one of to_fork, to_slot, to_date (on the command line, -D of one of them replaces the file's" "$T/t.log" ||
	fail "no hint: $(cat "$T/t.log")"
pass "two targets given with -D are refused with a hint"
