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
#      -D '...backfill={ to_slot = N; }', under labd -t; setting to_slot
#      alone is refused with a hint to the group form.
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
"$LABD" -t -c "$top_srcdir/etc/labd.conf" -D plugin_dir="$T/plugins" -D storage.fs.root="$T/d2" \
	-D plugins.beacon.networks.mainnet.backfill.to_slot=11649024 2>"$T/t.log" &&
	fail "to_slot beside the file's to_fork must be refused"
grep -q "takes exactly one of to_fork, to_slot, to_date (on the command line, replace the whole group" "$T/t.log" ||
	fail "no hint to the group form: $(cat "$T/t.log")"
pass "to_slot alone beside to_fork is refused with a hint to the group form"
